//! Clerk's own backend SDK, for the differential suites: installed once
//! into the target directory from the pinned lock file, and run on a corpus
//! in one node process.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The pinned version (`tests/differential/package.json` and its lock file).
pub const CLERK_BACKEND_VERSION: &str = "3.25.0";

/// The scripts and manifests copied next to the installed package.
const FILES: [&str; 5] = [
    "package.json",
    "package-lock.json",
    "clerk_verdict.mjs",
    "clerk_browser.mjs",
    "clerk_webhooks.mjs",
];

/// Where `@clerk/backend` is installed (below `target_tmp`), or why it
/// cannot be: `node` and `npm` must run, and the npm registry answer.
pub fn clerk_backend(target_tmp: &Path) -> Result<PathBuf, String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed".into());
    }
    let dir = target_tmp.join("differential");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("differential");
    for file in FILES {
        std::fs::copy(source.join(file), dir.join(file)).map_err(|e| e.to_string())?;
    }
    let installed = dir.join("node_modules/@clerk/backend/package.json");
    let version_ok = std::fs::read_to_string(&installed)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .is_some_and(|pkg| pkg["version"] == CLERK_BACKEND_VERSION);
    if !version_ok {
        let install = Command::new("npm")
            // The lock file pins the whole tree, @clerk/shared included.
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .map_err(|e| format!("npm could not run: {e}"))?;
        if !install.status.success() {
            return Err(format!(
                "npm install @clerk/backend@{CLERK_BACKEND_VERSION} failed (no registry?): {}",
                String::from_utf8_lossy(&install.stderr)
            ));
        }
    }
    Ok(dir)
}

/// [`clerk_backend`], or `None` after saying why `suite` is skipped.
pub fn clerk_backend_or_skip(target_tmp: &Path, suite: &str) -> Option<PathBuf> {
    match clerk_backend(target_tmp) {
        Ok(dir) => Some(dir),
        Err(why) => {
            println!("NOTICE: the {suite} differential test is skipped: {why}");
            None
        }
    }
}

/// Runs `script` in `dir` with `input` on stdin; its JSON lines (those of
/// an object with an `id`). Panics if the script fails.
pub fn run_script(dir: &Path, script: &str, input: &Value) -> Vec<Value> {
    let mut child = Command::new("node")
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("the corpus is written");
    let output = child.wait_with_output().expect("node finishes");
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .filter(|line| line.starts_with("{\"id\""))
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

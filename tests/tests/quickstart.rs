//! The README's newcomer check, automated: run the quickstart example with no
//! Clerk settings, paste what it prints into a POSIX shell (the `export`
//! lines, then every `curl` command, as printed), and compare each answer
//! with the status and reason printed after it. Then the same binary with
//! Clerk settings: no tokens printed, no `/dev/token`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use clerk_guard_tests::{example_binary, KillOnDrop};

/// The quickstart on a free port, with `env` set and every Clerk setting
/// removed first; its stdout lines up to "listening on", and the port.
fn start(env: &[(&str, &str)]) -> (KillOnDrop, Vec<String>, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(example_binary("quickstart"));
    command
        .env("PORT", port.to_string())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped());
    for var in clerk_guard_examples::KEY_SOURCE_VARS {
        command.env_remove(var);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = KillOnDrop(command.spawn().unwrap());
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    for line in stdout.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("listening on");
        lines.push(line);
        if done {
            // Its request logs go on; read them so its writes never fail.
            std::thread::spawn(move || stdout.for_each(drop));
            return (child, lines, port);
        }
    }
    panic!("the quickstart did not print its address: {lines:?}");
}

/// `… # 403 missing-role` → (403, Some("missing-role")).
fn announced(line: &str) -> (u16, Option<String>) {
    let comment = line
        .rsplit_once("  # ")
        .expect("a status after the command")
        .1;
    let mut words = comment.split_whitespace();
    let status = words.next().unwrap().parse().unwrap();
    let reason = words
        .next()
        .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(str::to_owned);
    (status, reason)
}

#[test]
fn every_printed_command_answers_as_printed_in_a_shell() {
    let (_child, lines, port) = start(&[]);
    let printed = lines.join("\n");
    assert!(!printed.contains('\u{1b}'), "no colour in a pipe");
    assert!(
        lines[0].contains("RUST_LOG=debug"),
        "a RUST_LOG hint first: {}",
        lines[0]
    );
    let exports: Vec<&String> = lines.iter().filter(|l| l.starts_with("export ")).collect();
    let commands: Vec<&String> = lines.iter().filter(|l| l.starts_with("curl ")).collect();
    assert_eq!(
        exports.len(),
        11,
        "8 tokens, the webhook's headers and 2 bodies"
    );
    assert_eq!(
        commands.len(),
        25,
        "6 + 4 + 6 + 6 route commands, /dev/token, 2 webhooks"
    );
    // Each token is printed once.
    for export in &exports {
        let value = export
            .split_once('=')
            .unwrap()
            .1
            .split("  # ")
            .next()
            .unwrap();
        assert_eq!(printed.matches(value).count(), 1, "{export}");
    }

    // The shell script: the exports, then each command (the signed webhook
    // twice: the replay guard answers the second), and a token from
    // /dev/token used on /admin.
    let base = format!("http://127.0.0.1:{port}");
    let mut script = String::new();
    let mut expected = Vec::new();
    for export in &exports {
        script.push_str(export);
        script.push('\n');
    }
    let mut run = |line: &str, expect: (u16, Option<String>)| {
        script.push_str(&format!("echo '@@@ {}'\n{line}\necho\n", expected.len()));
        expected.push((line.to_owned(), expect));
    };
    for command in &commands {
        run(command, announced(command));
        if command.contains("$WEBHOOK_BODY") {
            run(command, (200, None));
        }
    }
    let dev = commands.iter().find(|c| c.contains("/dev/token")).unwrap();
    let url = dev.split('"').nth(1).unwrap();
    run(
        &format!("MY_TOKEN=$(curl -s \"{url}\"); curl -i -H \"Authorization: Bearer $MY_TOKEN\" {base}/admin"),
        (200, None),
    );
    let output = Command::new("sh").arg("-c").arg(&script).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let answers: Vec<&str> = text.split("@@@ ").skip(1).collect();
    assert_eq!(answers.len(), expected.len());
    for (answer, (line, (status, reason))) in answers.iter().zip(&expected) {
        let got: u16 = answer
            .lines()
            .find_map(|l| l.strip_prefix("HTTP/1.1 "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status for {line}: {answer}"));
        assert_eq!(got, *status, "{line}\n{answer}");
        if let Some(reason) = reason {
            assert!(
                answer.contains(&format!("\"reason\":\"{reason}\"")),
                "{line}\n{answer}"
            );
        }
    }
}

#[test]
fn with_clerk_settings_nothing_is_minted() {
    let (_child, lines, port) = start(&[
        ("CLERK_JWKS_URL", "http://127.0.0.1:9/.well-known/jwks.json"),
        ("CLERK_ISSUER", "http://127.0.0.1:9"),
    ]);
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("export ") || l.starts_with("curl ")),
        "{lines:?}"
    );
    let status = |path: &str| {
        let output = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(status("/public"), "200");
    assert_eq!(status("/dev/token?sub=user_x&roles=admin"), "404");
}

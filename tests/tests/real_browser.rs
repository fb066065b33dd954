//! A real browser (Debian's headless Chromium, driven through chromedriver)
//! against the quickstart: `/dashboard` sends it to the testing kit's
//! sign-in page, it comes back signed in, the session token expires, and a
//! reload finds it still signed in through Clerk's handshake. A screenshot
//! of the page after the reload is kept in
//! `target/tmp/browser/dashboard-after-handshake.png`.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and
//! `chromium-driver`; `.ci/run` installs them): the test fails without them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `target/<profile>/examples/quickstart`, built by `cargo test --workspace`.
fn quickstart_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile_dir.join("examples").join("quickstart");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo test --workspace`, which builds the examples",
        binary.display()
    );
    binary
}

/// The quickstart with its embedded issuer, browser sessions of `seconds`.
fn start_quickstart(port: u16, seconds: u64) -> KillOnDrop {
    let mut child = Command::new(quickstart_binary())
        .env("PORT", port.to_string())
        .env("QUICKSTART_SESSION_SECONDS", seconds.to_string())
        .env("RUST_LOG", "info,clerk_guard=debug")
        .env_remove("CLERK_JWT_KEY")
        .env_remove("CLERK_JWKS_URL")
        .env_remove("CLERK_PUBLISHABLE_KEY")
        .env_remove("CLERK_SECRET_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the quickstart starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("listening on") => break,
            Some(Ok(_)) => continue,
            _ => panic!("the quickstart stopped before listening"),
        }
    }
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    KillOnDrop(child)
}

fn require(binary: &str) -> PathBuf {
    let found = ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"]
        .iter()
        .map(|dir| Path::new(dir).join(binary))
        .find(|path| path.exists());
    found.unwrap_or_else(|| {
        panic!("{binary} is not installed: apt-get install -y chromium chromium-driver")
    })
}

fn start_chromedriver(port: u16) -> KillOnDrop {
    let driver = Command::new(require("chromedriver"))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    KillOnDrop(driver)
}

async fn text_of(client: &fantoccini::Client, id: &str) -> String {
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id} never showed: {e}"))
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_browser_signs_in_and_stays_signed_in_after_its_token_expires() {
    let chromium = require("chromium");
    let (app_port, driver_port) = (free_port(), free_port());
    let session_seconds = 2;
    let _quickstart = start_quickstart(app_port, session_seconds);
    let _driver = start_chromedriver(driver_port);
    let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chromium-{app_port}"));
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display()),
            ],
        }
    });
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = ClientBuilder::rustls()
        .unwrap()
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a Chromium session");
    let dashboard = format!("http://127.0.0.1:{app_port}/dashboard");

    // Signed out: sent to the sign-in page, with the dashboard to come back to.
    client.goto(&dashboard).await.unwrap();
    let link = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("sign-in-user_ada"))
        .await
        .expect("the sign-in page");
    let at = client.current_url().await.unwrap();
    assert!(at.path().ends_with("/sign-in"), "{at}");
    assert_eq!(
        at.query_pairs()
            .find(|(k, _)| k == "redirect_url")
            .unwrap()
            .1,
        dashboard
    );
    // Signed in: back on the dashboard.
    link.click().await.unwrap();
    assert_eq!(text_of(&client, "user").await, "user_ada");
    let first = client.current_url().await.unwrap();
    assert_eq!(first.as_str(), dashboard);

    // Past the token's life and the 5 s clock skew: a reload stays signed
    // in, through the handshake (the old token can no longer sign anyone in).
    tokio::time::sleep(Duration::from_secs(session_seconds + 6)).await;
    client.refresh().await.unwrap();
    assert_eq!(text_of(&client, "user").await, "user_ada");
    let session = text_of(&client, "session").await;
    assert!(!session.contains("expires in -"), "{session}");
    assert_eq!(client.current_url().await.unwrap().as_str(), dashboard);
    let screenshot = client.screenshot().await.unwrap();
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("dashboard-after-handshake.png"), &screenshot).unwrap();
    assert!(screenshot.starts_with(b"\x89PNG"));
    client.close().await.unwrap();
}

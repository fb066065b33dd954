//! The local Clerk of the soak run (`benches/soak.sh`): a JWKS server that
//! can rotate and fail on command, and files of pre-minted tokens.
//!
//! `cargo run --release --example soak_issuer -- DIR POOL_SIZE`
//!
//! Writes into DIR: `reused.txt` (one valid token), `fresh1.txt` (valid,
//! current key), `fresh2.txt` (valid, signed by the next key, which is
//! published only on rotation), `expired.txt`, `garbage.txt`, and `ready`
//! holding `JWKS_URL ISSUER CONTROL_URL`. Control (POST): `/rotate` publishes
//! the next key, `/fail` makes the JWKS answer 500, `/serve` heals it.

use std::error::Error;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use clerk_guard::testing::{mint_parallel as mint, JwksMode, TestIssuer, TestKey};

struct Soak {
    issuer: TestIssuer,
    next: Arc<TestKey>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: soak_issuer DIR POOL_SIZE")?);
    let pool: usize = args.next().unwrap_or_else(|| "5000".into()).parse()?;
    let issuer = TestIssuer::start().await?;
    let next = Arc::new(TestKey::generate("ins_soak_2"));
    let hour = 3600;
    let write =
        |name: &str, tokens: &[String]| std::fs::write(dir.join(name), tokens.join("\n") + "\n");
    write(
        "reused.txt",
        &[issuer
            .token()
            .subject("user_reused")
            .expires_in(hour)
            .sign()],
    )?;
    write(
        "fresh1.txt",
        &mint(pool, |i| {
            issuer
                .token()
                .subject(&format!("user_a{i}"))
                .expires_in(hour)
                .sign()
        }),
    )?;
    write(
        "fresh2.txt",
        &mint(pool, |i| {
            issuer
                .token()
                .signed_with(next.clone())
                .subject(&format!("user_b{i}"))
                .expires_in(hour)
                .sign()
        }),
    )?;
    write(
        "expired.txt",
        &mint(pool / 10 + 1, |i| {
            issuer
                .token()
                .subject(&format!("user_x{i}"))
                .expired()
                .sign()
        }),
    )?;
    let garbage: Vec<String> = (0..pool / 10 + 1)
        .map(|i| format!("eyJhbGciOiJSUzI1NiJ9.garbage{i}.x{}", i * 7919))
        .collect();
    write("garbage.txt", &garbage)?;

    let soak = Arc::new(Soak { issuer, next });
    let control = Router::new()
        .route(
            "/rotate",
            post(|State(s): State<Arc<Soak>>| async move {
                s.issuer.publish_raw_jwk(s.next.jwk());
                "rotated\n"
            }),
        )
        .route(
            "/fail",
            post(|State(s): State<Arc<Soak>>| async move {
                s.issuer.set_mode(JwksMode::Status(500));
                "failing\n"
            }),
        )
        .route(
            "/serve",
            post(|State(s): State<Arc<Soak>>| async move {
                s.issuer.set_mode(JwksMode::Serve);
                "serving\n"
            }),
        )
        .with_state(Arc::clone(&soak));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let control_url = format!("http://{}", listener.local_addr()?);
    std::fs::write(
        dir.join("ready"),
        format!(
            "{} {} {control_url}\n",
            soak.issuer.jwks_url(),
            soak.issuer.issuer()
        ),
    )?;
    axum::serve(listener, control).await?;
    Ok(())
}

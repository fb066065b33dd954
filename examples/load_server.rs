//! The server `benches/load.sh` drives with wrk: one unprotected route, one
//! `#[clerk_protected]` route and one role route, verifying against an
//! embedded local issuer. Writes tokens for the load generator and serves
//! until killed.
//!
//! `TOKEN_CACHE=0` turns the verified-token cache off (every request pays the
//! RSA check); `TOKENS_OUT=<file>` is where tokens are written (one per line,
//! the first is reused by the warm run).

use axum::routing::get;
use axum::{Extension, Router};
use clerk_guard::testing::TestIssuer;
use clerk_guard::{clerk_protected, ClerkAuth, ClerkVerifier};

async fn public() -> &'static str {
    "ok"
}

#[clerk_protected]
async fn protected(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

#[clerk_protected(roles = "admin")]
async fn admin(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await?;
    let cache = std::env::var("TOKEN_CACHE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(clerk_guard::DEFAULT_TOKEN_CACHE_BYTES);
    let verifier = ClerkVerifier::new(issuer.config().token_cache_bytes(cache).build()?)?;
    let count: usize = std::env::var("TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let tokens: Vec<String> = (0..count)
        .map(|i| {
            issuer
                .token()
                .subject(&format!("user_{i}"))
                .roles(["admin"])
                .expires_in(3600)
                .sign()
        })
        .collect();
    let out = std::env::var("TOKENS_OUT").unwrap_or_else(|_| "tokens.txt".into());
    std::fs::write(&out, tokens.join("\n") + "\n")?;
    let app = Router::new()
        .route("/public", get(public))
        .route("/protected", get(protected))
        .route("/admin", get(admin))
        .layer(Extension(verifier));
    let port = std::env::var("PORT").unwrap_or_else(|_| "3100".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

//! The servers `benches/compare.sh` drives with wrk, one port each, all on
//! one tokio runtime (its flavour and worker count set by the script), all
//! answering the same body `ok`, all verifying against one local issuer's
//! JWKS:
//!
//! | port | server |
//! |---|---|
//! | 3301 | plain axum, no auth |
//! | 3302 | the floor: axum + one aws-lc RS256 check with a key parsed once, nothing else |
//! | 3303 | clerk-guard, `#[clerk_protected]` with the global verifier set by `clerk_guard::init`, as the quickstart does (token cache at its default) |
//! | 3304 | jwt-authorizer 0.15 (axum 0.7) |
//! | 3305 | clerk-rs 0.5 (axum `ClerkLayer`, `MemoryCacheJwksProvider`) |
//! | 3306 | dioxus-clerk 0.8 (`server` feature: `ClerkAuthLayer` + `ClerkAuth`) |
//! | 3311 | plain axum again, on a runtime of its own (one worker thread) |
//! | 3312 | the floor again, on a runtime of its own (one worker thread) |
//! | 3313 | clerk-guard again (same handler, same global verifier), on a runtime of its own |
//!
//! `PORT_SHIFT=n` adds `n` to every port.
//!
//! Ports 3311-3313 are for the head-to-head runs (3312 against 3313 with
//! distinct tokens, 3311 against 3313 with one reused token): two are loaded
//! at the same time, their worker threads pinned to the same core, so the
//! scheduler gives each half of it and the ratio of their req/s is the ratio
//! of their cost per request, with any drift of the machine falling on both.
//!
//! Writes `warm.txt` (one token) and `cold.txt` (`$TOKENS` distinct tokens,
//! default 100 000) into `$OUT_DIR`, then `ready`. With `MEMORY_ONLY=1` it
//! serves clerk-guard alone (for the memory figure) and `$PAD` bytes of
//! padding claim make tokens longer.

use std::sync::Arc;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use clerk_guard::clerk_protected;
use clerk_guard::testing::TestIssuer;
use jwt_authorizer::{IntoLayer, JwtAuthorizer, JwtClaims, Validation};

#[clerk_protected]
async fn guarded() -> &'static str {
    "ok"
}

async fn plain() -> &'static str {
    "ok"
}

/// The floor: one RS256 check with a key parsed once. The same function is
/// in `clerk-guard/benches/overhead.rs`; this crate stays outside the
/// workspace, so the two keep their own copies (change both together).
async fn floor(
    axum::extract::State(key): axum::extract::State<Arc<ParsedPublicKey>>,
    headers: HeaderMap,
) -> Result<&'static str, StatusCode> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let (signed, signature) = token.rsplit_once('.').ok_or(StatusCode::UNAUTHORIZED)?;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    key.verify_sig(signed.as_bytes(), &signature)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    Ok("ok")
}

async fn jwt_authorizer_handler(_: JwtClaims<serde_json::Value>) -> &'static str {
    "ok"
}

async fn dioxus_handler(_: dioxus_clerk::server::ClerkAuth) -> &'static str {
    "ok"
}

/// Binds `port`, moved by `$PORT_SHIFT` (default 0) so that two builds can
/// serve side by side (say, before and after a change, head to head).
async fn listen(port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let shift: u16 = std::env::var("PORT_SHIFT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    tokio::net::TcpListener::bind(("127.0.0.1", port + shift)).await
}

/// Serves `app` on `port` from a thread of its own, on a multi-thread tokio
/// runtime with one worker (the main runtime's flavour under compare.sh).
fn own_runtime(port: u16, app: axum::Router) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async move {
            let listener = listen(port).await.expect("bind");
            axum::serve(listener, app).await.expect("serve");
        });
    });
}

fn mint(issuer: &TestIssuer, count: usize, pad: usize) -> Vec<String> {
    let padding = "x".repeat(pad);
    clerk_guard::testing::mint_parallel(count, |i| {
        let mut token = issuer
            .token()
            .subject(&format!("user_{i}"))
            .expires_in(3600);
        if !padding.is_empty() {
            token = token.claim("padding", padding.as_str());
        }
        token.sign()
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    let count: usize = std::env::var("TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let pad: usize = std::env::var("PAD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let memory_only = std::env::var("MEMORY_ONLY").is_ok_and(|v| v == "1");
    let issuer = TestIssuer::start().await?;

    let cache_bytes: usize = std::env::var("CACHE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(clerk_guard::DEFAULT_TOKEN_CACHE_BYTES);
    // The global verifier, as the quickstart sets it: no layer in front.
    clerk_guard::init(issuer.config().token_cache_bytes(cache_bytes).build()?)?;
    let guarded_app = axum::Router::new().route("/", axum::routing::get(guarded));
    let app = guarded_app.clone();
    let listener = listen(3303).await?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    if !memory_only {
        let der = issuer.signing_key().public_key_der();
        let key = Arc::new(ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &der)?);
        let floor_app = axum::Router::new()
            .route("/", axum::routing::get(floor))
            .with_state(key);
        // Head to head: the floor, plain axum and clerk-guard, each on a
        // runtime of its own of the same flavour (multi-thread, one worker).
        own_runtime(3312, floor_app.clone());
        own_runtime(3313, guarded_app);

        let app = axum::Router::new().route("/", axum::routing::get(plain));
        own_runtime(3311, app.clone());
        let listener = listen(3301).await?;
        tokio::spawn(async move { axum::serve(listener, app).await });

        let listener = listen(3302).await?;
        tokio::spawn(async move { axum::serve(listener, floor_app).await });

        let authorizer = JwtAuthorizer::<serde_json::Value>::from_jwks_url(&issuer.jwks_url())
            .validation(Validation::new().iss(&[issuer.issuer()]).leeway(5))
            .build()
            .await?;
        let app = axum07::Router::new()
            .route("/", axum07::routing::get(jwt_authorizer_handler))
            .layer(authorizer.into_layer());
        let listener = listen(3304).await?;
        tokio::spawn(async move { axum07::serve(listener, app).await });

        let clerk = clerk_rs::Clerk::new(
            clerk_rs::ClerkConfiguration::new("sk_test_bench")
                .with_base_path(format!("{}/v1", issuer.issuer())),
        );
        let app = axum::Router::new()
            .route("/", axum::routing::get(plain))
            .layer(clerk_rs::validators::axum::ClerkLayer::new(
                clerk_rs::validators::jwks::MemoryCacheJwksProvider::new(clerk),
                None,
                true,
            ));
        let listener = listen(3305).await?;
        tokio::spawn(async move { axum::serve(listener, app).await });

        let config = dioxus_clerk::server::ClerkAuthLayerConfig::new("sk_test_bench")
            .with_insecure_backend_api_base_url(format!("{}/v1", issuer.issuer()))
            .add_issuer(issuer.issuer());
        let app = axum::Router::new()
            .route("/", axum::routing::get(dioxus_handler))
            .layer(dioxus_clerk::server::ClerkAuthLayer::from_config(config)?);
        let listener = listen(3306).await?;
        tokio::spawn(async move { axum::serve(listener, app).await });
    }

    let warm = issuer.token().expires_in(3600).sign();
    std::fs::write(out.join("warm.txt"), format!("{warm}\n"))?;
    let cold = mint(&issuer, count, pad);
    std::fs::write(out.join("cold.txt"), cold.join("\n") + "\n")?;
    // The tokens live in the file only: the memory figure starts clean.
    drop(cold);
    std::fs::write(out.join("ready"), "ready\n")?;
    std::future::pending::<()>().await;
    Ok(())
}

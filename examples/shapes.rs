//! Every handler shape users write, in one process and one router, warm and
//! cold: each route against its counterpart without auth (warm, the same
//! body) or the floor (cold: axum plus one RS256 check, the same body).
//! Batches of 50 requests rotate over the routes, in process (futures polled
//! once: nothing waits); each round gives each route's ratio to its
//! reference, and the figure is the median over the rounds, with the spread.
//!
//! In process (`cargo run --release --example shapes`): both modes, one
//! process each (the global verifier is built once per process, with the
//! token cache on for warm and off for cold); the request's cost without
//! HTTP, so the ratios are the harshest.
//!
//! Over HTTP (`bash benches/shapes.sh`, which runs this with `SHAPES_SERVE=1`):
//! one server on a `current_thread` runtime, every route in one router, the
//! load from wrk; the script reads the server's CPU time per request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::{Json, Router};
use clerk_guard::testing::TestIssuer;
use clerk_guard::{clerk_protected, ClerkAuth, Principal};
use serde_json::{json, Value};
use tower_service::Service as _;

#[path = "../clerk-guard/benches/common/mod.rs"]
mod common;

use common::{floor, ready, rounds};

const ROUNDS: usize = 200;

/// The shapes measured, each against its reference.
const SHAPES: [&str; 7] = [
    "/sole",
    "/auth",
    "/role",
    "/org_role",
    "/permission",
    "/principal",
    "/me",
];

async fn plain() -> &'static str {
    "ok"
}

/// The `/me` body, without auth: the same JSON from constants.
async fn plain_me() -> Json<Value> {
    Json(json!({
        "sub": "user_0", "sid": "sess_test", "org_id": "org_acme", "org_role": "org:admin",
        "roles": ["admin"],
    }))
}

/// The floor, answering the `/me` body.
async fn floor_me(
    key: axum::extract::State<Arc<ParsedPublicKey>>,
    headers: axum::http::HeaderMap,
) -> Result<Json<Value>, axum::http::StatusCode> {
    floor(key, headers).await?;
    Ok(plain_me().await)
}

#[clerk_protected]
async fn sole() -> &'static str {
    "ok"
}

#[clerk_protected]
async fn with_auth(_: ClerkAuth) -> &'static str {
    "ok"
}

#[clerk_protected(roles = "admin")]
async fn role() -> &'static str {
    "ok"
}

#[clerk_protected(org_role = "admin")]
async fn org_role() -> &'static str {
    "ok"
}

#[clerk_protected(permissions = "org:billing:manage")]
async fn permission() -> &'static str {
    "ok"
}

#[clerk_protected(accepts = "any")]
async fn principal(caller: Principal) -> &'static str {
    let _ = caller.subject();
    "ok"
}

/// The quickstart's `/me`: reads the organization twice and the roles.
#[clerk_protected]
async fn me(auth: ClerkAuth) -> Json<Value> {
    Json(json!({
        "sub": auth.user_id(),
        "sid": auth.session_id(),
        "org_id": auth.org().map(|org| org.id()),
        "org_role": auth.org().and_then(|org| org.role()),
        "roles": auth.roles(),
    }))
}

/// The requests callgrind counts (`SHAPES_LOOP=/path`).
#[inline(never)]
fn measured(run: &mut dyn FnMut(usize), n: usize) {
    for i in 0..n {
        run(i);
    }
}

/// Every shape, and the references, in one router.
fn router(key: Arc<ParsedPublicKey>) -> Router {
    Router::new()
        .route("/plain", get(plain))
        .route("/plain_me", get(plain_me))
        .route("/floor", get(floor))
        .route("/floor_me", get(floor_me))
        .route("/sole", get(sole))
        .route("/auth", get(with_auth))
        .route("/role", get(role))
        .route("/org_role", get(org_role))
        .route("/permission", get(permission))
        .route("/principal", get(principal))
        .route("/me", get(me))
        .with_state(key)
}

/// A token as a real app's: roles, a v2 organization with permissions, fva.
fn token(issuer: &TestIssuer, i: usize) -> String {
    issuer
        .token()
        .subject(&format!("user_{i}"))
        .roles(["admin"])
        .org("org_acme", "acme", "admin")
        .permissions(["org:billing:manage", "org:reports:read"])
        .factor_ages(1, 1)
        .expires_in(3600)
        .sign()
}

/// The HTTP server `benches/shapes.sh` loads: `TOKEN_CACHE` bytes (0: off),
/// `TOKENS` tokens written to `TOKENS_OUT`, on `127.0.0.1:$PORT`.
fn serve() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let issuer = TestIssuer::start().await.unwrap();
        let config = issuer
            .config()
            .token_cache_bytes(env("TOKEN_CACHE", 16 << 20));
        let verifier = clerk_guard::init(config.build().unwrap()).unwrap();
        let count = env("TOKENS", 1);
        let tokens = clerk_guard::testing::mint_parallel(count, |i| token(&issuer, i));
        verifier.verify(&tokens[0]).await.unwrap();
        let out = std::env::var("TOKENS_OUT").unwrap_or_else(|_| "tokens.txt".into());
        std::fs::write(&out, tokens.join("\n") + "\n").unwrap();
        let key = Arc::new(
            ParsedPublicKey::new(
                &RSA_PKCS1_2048_8192_SHA256,
                issuer.signing_key().public_key_der(),
            )
            .unwrap(),
        );
        let port = env("PORT", 3400);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port as u16))
            .await
            .unwrap();
        println!("listening on http://{}", listener.local_addr().unwrap());
        axum::serve(listener, router(key)).await.unwrap();
    });
}

fn main() {
    if std::env::var("SHAPES_SERVE").is_ok() {
        return serve();
    }
    let mode = std::env::var("SHAPES_MODE").unwrap_or_default();
    if mode.is_empty() {
        // Both modes, each in a process of its own.
        let exe = std::env::current_exe().unwrap();
        for mode in ["warm", "cold"] {
            let status = std::process::Command::new(&exe)
                .env("SHAPES_MODE", mode)
                .status()
                .unwrap();
            assert!(status.success());
        }
        return;
    }
    let warm = mode == "warm";
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let issuer = runtime.block_on(TestIssuer::start()).unwrap();
    let cache = if warm { 16 << 20 } else { 0 };
    let verifier =
        clerk_guard::init(issuer.config().token_cache_bytes(cache).build().unwrap()).unwrap();
    // Tokens as a real app's: roles, a v2 organization with permissions, fva.
    let tokens: Vec<String> = (0..64).map(|i| token(&issuer, i)).collect();
    runtime.block_on(verifier.verify(&tokens[0])).unwrap();
    let key = Arc::new(
        ParsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            issuer.signing_key().public_key_der(),
        )
        .unwrap(),
    );
    let mut router = router(key);
    let paths: Vec<&str> = ["/plain", "/plain_me", "/floor", "/floor_me"]
        .into_iter()
        .chain(SHAPES)
        .collect();
    let mut call = |path: &str, i: usize| {
        let request = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {}", tokens[i % 64]))
            .body(Body::empty())
            .unwrap();
        assert_eq!(ready(router.call(request)).unwrap().status(), 200, "{path}");
    };
    // Warm-up: keys cached, and (warm) every token admitted to the cache.
    for _ in 0..3 {
        for &path in &paths {
            for i in 0..64 {
                call(path, i);
            }
        }
    }
    if let Ok(path) = std::env::var("SHAPES_LOOP") {
        // For callgrind: 200 requests of one route inside `measured`.
        measured(&mut |i| call(&path, i), 200);
        return;
    }
    let call = std::cell::RefCell::new(call);
    let mut runs: Vec<Box<dyn FnMut(usize)>> = paths
        .iter()
        .map(|path| {
            let call = &call;
            Box::new(move |i| (call.borrow_mut())(path, i)) as Box<dyn FnMut(usize)>
        })
        .collect();
    let mut refs: Vec<&mut dyn FnMut(usize)> = runs
        .iter_mut()
        .map(|r| &mut **r as &mut dyn FnMut(usize))
        .collect();
    let times = rounds(&mut refs, ROUNDS);
    let index = |path: &str| paths.iter().position(|p| *p == path).unwrap();
    let (reference, reference_me) = if warm {
        (index("/plain"), index("/plain_me"))
    } else {
        (index("/floor"), index("/floor_me"))
    };
    println!(
        "{mode}: ratio = {} cost / route cost per round; median [min, max] of {ROUNDS} rounds of {} requests",
        if warm { "plain axum's" } else { "the floor's" },
        common::BATCH
    );
    for path in SHAPES {
        let of = if path == "/me" {
            reference_me
        } else {
            reference
        };
        let mut ratios: Vec<f64> = times[of]
            .iter()
            .zip(&times[index(path)])
            .map(|(r, t)| r / t)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let median_ns = {
            let mut t = times[index(path)].clone();
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        };
        println!(
            "  {path:<11} {:.3} [{:.3}, {:.3}]  ({median_ns:.0} ns against {:.0} ns)",
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1],
            {
                let mut t = times[of].clone();
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            }
        );
    }
}

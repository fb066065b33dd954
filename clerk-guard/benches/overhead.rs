//! What clerk-guard adds to a cold request, measured interleaved so the
//! machine's drift cancels out: batches of 50 requests alternate between
//! the floor route (one RS256 check with a key parsed once) and a
//! `#[clerk_protected]` route (the global verifier, as the quickstart sets
//! it) with the token cache off, through axum routers
//! in process, 400 rounds; then the same for `ClerkVerifier::verify` against
//! the raw signature check. Prints the median per-request times and the
//! difference.
//!
//! `cargo bench -p clerk-guard --features testing --bench overhead`
//!
//! With `OVERHEAD_LOOP=n` it instead runs `n` floor requests inside
//! `measured_floor`, then the same `n` tokens through the guarded route
//! inside `measured_guarded`, and exits: what `benches/instructions.sh`
//! counts instructions of under callgrind (one process, so one key and the
//! same tokens for both), a figure the machine's load does not move.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use axum::body::Body;
use axum::http::Request;
use axum::Router;
use base64::Engine as _;
use clerk_guard::clerk_protected;
use clerk_guard::testing::TestIssuer;
use tower_service::Service as _;

mod common;

use common::{floor, interleaved, ready};

#[clerk_protected]
async fn guarded() -> &'static str {
    "ok"
}

/// The floor requests `benches/instructions.sh` counts.
#[inline(never)]
fn measured_floor(run: &mut dyn FnMut(usize), n: usize) {
    for i in 0..n {
        run(i);
    }
}

/// The guarded requests `benches/instructions.sh` counts.
#[inline(never)]
fn measured_guarded(run: &mut dyn FnMut(usize), n: usize) {
    for i in 0..n {
        run(i);
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let issuer = runtime.block_on(TestIssuer::start()).unwrap();
    // The global verifier, as the quickstart sets it (no layer in front).
    let cold = clerk_guard::init(issuer.config().token_cache_bytes(0).build().unwrap()).unwrap();
    let tokens = common::tokens(&issuer);
    runtime.block_on(cold.verify(&tokens[0])).unwrap();
    let key = Arc::new(
        ParsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            issuer.signing_key().public_key_der(),
        )
        .unwrap(),
    );
    let request = |i: usize| {
        Request::builder()
            .uri("/")
            .header("authorization", format!("Bearer {}", tokens[i % 64]))
            .body(Body::empty())
            .unwrap()
    };
    let mut floor_router = Router::new()
        .route("/", axum::routing::get(floor))
        .with_state(Arc::clone(&key));
    let mut guarded_router = Router::new().route("/", axum::routing::get(guarded));
    let mut floor_request =
        |i| assert_eq!(ready(floor_router.call(request(i))).unwrap().status(), 200);
    let mut guarded_request = |i| {
        assert_eq!(
            ready(guarded_router.call(request(i))).unwrap().status(),
            200
        )
    };
    if let Ok(n) = std::env::var("OVERHEAD_LOOP") {
        let n: usize = n.parse().expect("OVERHEAD_LOOP: a number of requests");
        // Keys cached and the header remembered before counting, as under load.
        for i in 0..64 {
            floor_request(i);
            guarded_request(i);
        }
        measured_floor(&mut floor_request, n);
        measured_guarded(&mut guarded_request, n);
        return;
    }
    let times = interleaved(&mut [
        &mut floor_request,
        &mut guarded_request,
        &mut |i| {
            let (signed, signature) = tokens[i % 64].rsplit_once('.').unwrap();
            let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(signature)
                .unwrap();
            key.verify_sig(signed.as_bytes(), &signature).unwrap();
        },
        &mut |i| {
            ready(cold.verify(&tokens[i % 64])).unwrap();
        },
    ]);
    let us = |ns: f64| ns / 1000.0;
    println!(
        "request: floor {:.2} µs, #[clerk_protected] cold {:.2} µs, clerk-guard adds {:.2} µs ({:.3}× the floor's rate)",
        us(times[0]),
        us(times[1]),
        us(times[1] - times[0]),
        times[0] / times[1]
    );
    println!(
        "verify:  raw RS256 check {:.2} µs, ClerkVerifier::verify cold {:.2} µs, clerk-guard adds {:.2} µs",
        us(times[2]),
        us(times[3]),
        us(times[3] - times[2])
    );
}

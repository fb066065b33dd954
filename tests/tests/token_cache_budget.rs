//! The token cache's byte budget holds for what a cached token really keeps
//! alive: its claim map, organization and roles included, for payloads of
//! many small values (where a map costs many times its JSON text).
//!
//! Alone in its binary: the allocator counts every thread of the process.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::alloc::System;

use clerk_guard::testing::{mint_parallel, TestIssuer};
use clerk_guard::{ClerkConfig, ClerkVerifier};
use serde_json::json;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const BUDGET: usize = 1024 * 1024;

#[tokio::test]
async fn the_byte_budget_bounds_what_cached_tokens_keep_alive() {
    let issuer = TestIssuer::start().await.unwrap();
    let config = ClerkConfig::builder()
        .pem_public_key(issuer.signing_key().public_key_pem())
        .token_cache_bytes(std::env::var("BUDGET_OVERRIDE").map_or(BUDGET, |v| v.parse().unwrap()))
        .build()
        .unwrap();
    let verifier = ClerkVerifier::new(config).unwrap();
    // Claims of tiny values: numbers, one-letter strings, small objects.
    let tokens = mint_parallel(600, |i| {
        issuer
            .token()
            .subject(&format!("user_{i}"))
            .org("org_1", "acme", "admin")
            .permissions(["org:a:read", "org:a:write", "org:b:read"])
            .roles(["admin", "editor"])
            .claim("numbers", vec![1; 300])
            .claim("letters", vec!["a"; 100])
            .claim("objects", vec![json!({"k": 1}); 40])
            .expires_in(3600)
            .sign()
    });
    // Warm up what every verification allocates once (header memo, key).
    let first = verifier.verify(&tokens[0]).await.unwrap();
    drop(first);
    let region = Region::new(GLOBAL);
    for token in &tokens {
        for _ in 0..2 {
            // The second verification enters the cache; a handler reads all.
            let auth = verifier.verify(token).await.unwrap();
            let permissions = auth.org().map(|org| org.permissions().len());
            let _ = (auth.claims().len(), permissions, auth.roles().len());
        }
    }
    let change = region.change();
    // (A reallocation counts its growth as allocated, its shrinking as freed.)
    let held = change.bytes_allocated as isize - change.bytes_deallocated as isize;
    // 600 such tokens would hold several megabytes; the cache keeps at most
    // its budget (plus its own index, far below a tenth of it).
    assert!(
        held <= (BUDGET + BUDGET / 10) as isize,
        "{held} bytes held for a budget of {BUDGET}"
    );
    // And it holds real entries: most of the budget is used.
    assert!(
        held >= (BUDGET / 4) as isize,
        "only {held} bytes held ({change:?})"
    );
}

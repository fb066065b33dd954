//! What one authenticated request costs: clerk-guard's cold path (a token
//! never seen before: parse, RSA verify, claims) and warm path (the same
//! session token again), against the raw RSA verify they build on and
//! against `jsonwebtoken::decode`, which the Rust peers (clerk-rs,
//! jwt-authorizer) verify with.
//!
//! `cargo bench -p clerk-guard --features testing --bench verify`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine as _;
use clerk_guard::testing::TestIssuer;
use clerk_guard::ClerkVerifier;
use criterion::{criterion_group, criterion_main, Criterion};

/// Polls a future that completes without waiting (keys already cached).
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("verification waited on I/O: keys were not cached"),
    }
}

fn verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let issuer = runtime.block_on(TestIssuer::start()).unwrap();
    let cold = ClerkVerifier::new(issuer.config().token_cache_bytes(0).build().unwrap()).unwrap();
    let warm = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let token = issuer
        .token()
        .roles(["admin"])
        .org("org_1", "acme", "admin")
        .permissions(["org:billing:manage", "org:reports:read"])
        .expires_in(3600)
        .sign();
    runtime.block_on(cold.verify(&token)).unwrap();
    runtime.block_on(warm.verify(&token)).unwrap();

    let mut group = c.benchmark_group("verify_rs256_2048");
    group.bench_function("clerk_guard_warm", |b| {
        b.iter(|| ready(warm.verify(black_box(&token))).unwrap())
    });
    group.bench_function("clerk_guard_cold", |b| {
        b.iter(|| ready(cold.verify(black_box(&token))).unwrap())
    });

    let jwk = issuer.signing_key().jwk();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.leeway = 5;
    validation.set_issuer(&[issuer.issuer()]);
    validation.validate_aud = false;
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &key, &validation).unwrap()
        })
    });

    let (signed, signature_b64) = token.rsplit_once('.').unwrap();
    // The signature check alone through jsonwebtoken, key built beforehand:
    // what the verify step would cost if it went through jsonwebtoken.
    group.bench_function("jsonwebtoken_crypto_verify", |b| {
        b.iter(|| {
            assert!(jsonwebtoken::crypto::verify(
                black_box(signature_b64),
                signed.as_bytes(),
                &key,
                jsonwebtoken::Algorithm::RS256
            )
            .unwrap())
        })
    });

    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature_b64)
        .unwrap();
    let parsed = ParsedPublicKey::new(
        &RSA_PKCS1_2048_8192_SHA256,
        issuer.signing_key().public_key_der(),
    )
    .unwrap();
    group.bench_function("raw_rsa_verify", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(signed.as_bytes()), &signature)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);

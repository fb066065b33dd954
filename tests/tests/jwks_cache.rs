//! The JWKS cache against a real JWKS server that counts its fetches.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use clerk_guard::testing::{JwksMode, TestIssuer, TestKey};
use clerk_guard::ClerkVerifier;
use clerk_guard_tests::{fetch, router, serve, TestApp};
use serde_json::json;

async fn concurrently(app: &TestApp, path: &str, tokens: Vec<String>) -> Vec<u16> {
    let calls = tokens.into_iter().map(|token| {
        let url = format!("{}{path}", app.base);
        tokio::spawn(async move { fetch(&url, Some(&token)).await.status })
    });
    let mut statuses = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        statuses.push(call.await.unwrap());
    }
    statuses
}

#[tokio::test]
async fn many_concurrent_cold_requests_cause_one_fetch() {
    let app = TestApp::start().await;
    app.issuer.set_delay(Duration::from_millis(300));
    let tokens = (0..64)
        .map(|i| app.issuer.token().subject(&format!("user_{i}")).sign())
        .collect();
    let statuses = concurrently(&app, "/me", tokens).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.issuer.fetch_count(), 1);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_at_most_one_fetch_per_cooldown() {
    // A cooldown long enough that a loaded CI machine finishes each flood within it.
    let app = TestApp::start_with(|c| c.unknown_kid_cooldown(Duration::from_millis(1500))).await;
    let attacker = Arc::new(TestKey::generate("attacker"));
    let flood = |n: usize| -> Vec<String> {
        (0..n)
            .map(|i| {
                app.issuer
                    .token()
                    .signed_with(attacker.clone())
                    .header("kid", format!("random-{i}"))
                    .sign()
            })
            .collect()
    };
    let first_flood = flood(100);
    let good = app.issuer.token().sign();
    assert_eq!(app.get("/me", Some(&good)).await.status, 200);
    assert_eq!(app.issuer.fetch_count(), 1);
    // Within the cooldown of the first fetch: no fetch at all.
    let statuses = concurrently(&app, "/me", first_flood).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(app.issuer.fetch_count(), 1);
    // After it: one fetch for the whole flood.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let statuses = concurrently(&app, "/me", flood(100)).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(app.issuer.fetch_count(), 2);
    let reply = app.get("/me", Some(&flood(1)[0])).await;
    assert_eq!(reply.reason(), "jwk-kid-mismatch");
    // Sustained over 3 s (two cooldowns): at most one fetch per cooldown.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(3000) {
        concurrently(&app, "/me", flood(10)).await;
    }
    assert!(
        app.issuer.fetch_count() <= 2 + 4,
        "{} fetches",
        app.issuer.fetch_count()
    );
    // The good token still works throughout.
    assert_eq!(app.get("/me", Some(&good)).await.status, 200);
}

#[tokio::test]
async fn rotation_is_picked_up_through_the_unknown_kid_refetch() {
    let app = TestApp::start_with(|c| c.unknown_kid_cooldown(Duration::from_millis(200))).await;
    let old = app.issuer.token().sign();
    assert_eq!(app.get("/me", Some(&old)).await.status, 200);
    app.issuer.rotate("ins_test_2");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let new = app.issuer.token().sign();
    assert_eq!(app.get("/me", Some(&new)).await.status, 200);
    assert_eq!(app.issuer.fetch_count(), 2);
    assert_eq!(
        app.get("/me", Some(&old)).await.status,
        200,
        "old key still published"
    );
}

#[tokio::test]
async fn a_retired_key_is_dropped_on_ttl_refresh_with_its_cached_tokens() {
    let app = TestApp::start_with(|c| c.jwks_ttl(Duration::from_millis(300))).await;
    let old = app.issuer.token().sign();
    assert_eq!(app.get("/me", Some(&old)).await.status, 200);
    assert_eq!(app.get("/me", Some(&old)).await.status, 200); // now a warm cache hit
    app.issuer.rotate("ins_test_2");
    app.issuer.retire("ins_test_1");
    tokio::time::sleep(Duration::from_millis(350)).await;
    // The next request starts the background refresh; once it lands, the
    // old token (a warm cache entry) is refused.
    let mut reply = app.get("/me", Some(&old)).await;
    for _ in 0..40 {
        if reply.status != 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        reply = app.get("/me", Some(&old)).await;
    }
    assert!(app.issuer.fetch_count() >= 2);
    assert_eq!((reply.status, reply.reason()), (401, "jwk-kid-mismatch"));
    let new = app.issuer.token().sign();
    assert_eq!(app.get("/me", Some(&new)).await.status, 200);
}

/// Each thread remembers the key it last found; a refresh before the TTL
/// (started by a new kid) that drops that key must take it from the memo at
/// once. One thread serves this test (tokio's current-thread runtime), so the
/// memo is the one the old key's tokens would meet.
#[tokio::test]
async fn a_key_dropped_by_an_early_refresh_is_refused_at_once() {
    let app = TestApp::start_with(|c| c.unknown_kid_cooldown(Duration::from_millis(50))).await;
    let old = app.issuer.token().sign();
    let old_unsent = app.issuer.token().subject("user_unsent").sign();
    // The first request fetches the keys; the second finds its key in the
    // cache, and this thread remembers it.
    assert_eq!(app.get("/me", Some(&old)).await.status, 200);
    let again = app.issuer.token().subject("user_again").sign();
    assert_eq!(app.get("/me", Some(&again)).await.status, 200);
    app.issuer.rotate("ins_test_2");
    app.issuer.retire("ins_test_1");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A token of the new key: its kid is unknown, so the key set is fetched
    // again, long before the TTL, and the old key is no longer in it.
    let new = app.issuer.token().sign();
    assert_eq!(app.get("/me", Some(&new)).await.status, 200);
    assert_eq!(app.issuer.fetch_count(), 2);
    let reply = app.get("/me", Some(&old_unsent)).await;
    assert_eq!((reply.status, reply.reason()), (401, "jwk-kid-mismatch"));
}

/// The per-thread key memo belongs to one verifier's key cache: two Clerk
/// instances whose keys share a kid (every test issuer's is `ins_test_1`)
/// must not lend each other their keys. Both caches have fetched once (the
/// same generation), and one thread runs every call, so the memo that A's
/// key left is the one B's lookup meets. With the memo's cache check
/// dropped, B verifies A's signature and refuses the token only for its
/// issuer.
#[tokio::test]
async fn a_key_remembered_for_one_instance_never_serves_another() {
    let a = TestIssuer::start().await.unwrap();
    let b = TestIssuer::start().await.unwrap();
    let verifier_a = ClerkVerifier::new(a.config().build().unwrap()).unwrap();
    let verifier_b = ClerkVerifier::new(b.config().build().unwrap()).unwrap();
    for subject in ["user_1", "user_2"] {
        verifier_b
            .verify(&b.token().subject(subject).sign())
            .await
            .unwrap();
    }
    for subject in ["user_1", "user_2"] {
        verifier_a
            .verify(&a.token().subject(subject).sign())
            .await
            .unwrap();
    }
    let refused = verifier_b
        .verify(&a.token().subject("user_3").sign())
        .await
        .unwrap_err();
    assert_eq!(refused.reason().code(), "token-invalid-signature");
    assert_eq!((a.fetch_count(), b.fetch_count()), (1, 1));
}

#[tokio::test]
async fn stale_keys_are_served_while_the_jwks_is_down() {
    let app = TestApp::start_with(|c| {
        c.jwks_ttl(Duration::from_millis(200))
            .unknown_kid_cooldown(Duration::from_millis(100))
    })
    .await;
    let token = app.issuer.token().sign();
    assert_eq!(app.get("/me", Some(&token)).await.status, 200);
    app.issuer.set_mode(JwksMode::Status(500));
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let fresh = app.issuer.token().subject("user_fresh").sign(); // not in the token cache
        assert_eq!(app.get("/me", Some(&fresh)).await.status, 200);
        assert_eq!(app.get("/me", Some(&token)).await.status, 200);
    }
    assert!(
        app.issuer.fetch_count() >= 3,
        "refreshes were attempted: {}",
        app.issuer.fetch_count()
    );
}

#[tokio::test]
async fn cold_start_with_the_jwks_hung_is_503_within_the_timeout_then_recovers() {
    let app = TestApp::start_with(|c| {
        c.request_timeout(Duration::from_millis(800))
            .unknown_kid_cooldown(Duration::from_millis(1500))
    })
    .await;
    app.issuer.set_mode(JwksMode::Hang);
    let token = app.issuer.token().sign();
    let started = Instant::now();
    let reply = app.get("/me", Some(&token)).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.reason(), "jwk-remote-failed-to-load");
    assert_eq!(reply.body["error"], "temporarily_unavailable");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // Optional routes answer 503 too, not a silent None; within the
    // cooldown, at once and without another fetch.
    let started = Instant::now();
    let reply = app.get("/maybe", Some(&token)).await;
    assert_eq!(reply.status, 503);
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(reply.retry_after.as_deref(), Some("1"));
    assert_eq!(app.issuer.fetch_count(), 1);
    app.issuer.set_mode(JwksMode::Serve);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        app.get("/me", Some(&token)).await.status,
        200,
        "the first request after the cooldown tries again"
    );
    assert_eq!(app.issuer.fetch_count(), 2);
}

#[tokio::test]
async fn cold_start_with_the_jwks_erroring_is_503_and_retried_after_the_cooldown() {
    let app = TestApp::start_with(|c| c.unknown_kid_cooldown(Duration::from_millis(2500))).await;
    app.issuer.set_mode(JwksMode::Status(502));
    let token = app.issuer.token().sign();
    let reply = app.get("/me", Some(&token)).await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        app.issuer.fetch_count(),
        1,
        "the first request fetches at once"
    );
    // Seconds left of the cooldown, rounded up: 3 just after the fetch.
    assert_eq!(reply.retry_after.as_deref(), Some("3"));
    let reply = app.get("/me", Some(&token)).await;
    assert_eq!(reply.status, 503);
    assert_eq!(app.issuer.fetch_count(), 1, "no fetch within the cooldown");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let reply = app.get("/me", Some(&token)).await;
    assert_eq!(reply.retry_after.as_deref(), Some("2"), "counts down");
    app.issuer.set_mode(JwksMode::Serve);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(app.get("/me", Some(&token)).await.status, 200);
    assert_eq!(app.issuer.fetch_count(), 2);
}

#[tokio::test]
async fn a_connect_failure_is_503() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    drop(listener);
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(issuer.config().jwks_url(url).build().unwrap()).unwrap();
    let base = serve(router(verifier)).await;
    let reply = fetch(&format!("{base}/me"), Some(&issuer.token().sign())).await;
    assert_eq!(
        (reply.status, reply.reason()),
        (503, "jwk-remote-failed-to-load")
    );
}

#[tokio::test]
async fn an_oversized_or_garbage_jwks_is_refused() {
    let cooldown = Duration::from_millis(200);
    let app =
        TestApp::start_with(|c| c.max_jwks_bytes(16 * 1024).unknown_kid_cooldown(cooldown)).await;
    let mut jwks = app.issuer.jwks();
    jwks["padding"] = json!("x".repeat(20 * 1024));
    app.issuer.set_mode(JwksMode::Body(jwks.to_string()));
    let token = app.issuer.token().sign();
    assert_eq!(app.get("/me", Some(&token)).await.status, 503);
    app.issuer
        .set_mode(JwksMode::Body("<html>not json</html>".into()));
    tokio::time::sleep(cooldown).await;
    assert_eq!(app.get("/me", Some(&token)).await.status, 503);
    app.issuer.set_mode(JwksMode::Serve);
    tokio::time::sleep(cooldown).await;
    assert_eq!(app.get("/me", Some(&token)).await.status, 200);
    assert_eq!(app.issuer.fetch_count(), 3);
}

#[tokio::test]
async fn weak_and_non_rsa_keys_are_skipped() {
    let app = TestApp::start().await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let weak = json!({"kty": "RSA", "kid": "weak", "n": b64.encode([0xc3u8; 128]), "e": "AQAB"});
    let ec = json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"});
    app.issuer.publish_raw_jwk(weak.clone());
    app.issuer.publish_raw_jwk(ec);
    let attacker = Arc::new(TestKey::generate("weak"));
    let on_weak = app.issuer.token().signed_with(attacker).sign();
    assert_eq!(
        app.get("/me", Some(&on_weak)).await.reason(),
        "jwk-kid-mismatch"
    );
    assert_eq!(
        app.get("/me", Some(&app.issuer.token().sign()))
            .await
            .status,
        200
    );

    // A key set with no usable key at all is 503.
    let only_weak = TestApp::start().await;
    only_weak
        .issuer
        .set_mode(JwksMode::Body(json!({"keys": [weak]}).to_string()));
    let reply = only_weak
        .get("/me", Some(&only_weak.issuer.token().sign()))
        .await;
    assert_eq!((reply.status, reply.reason()), (503, "jwk-remote-missing"));
}

#[tokio::test]
async fn the_backend_api_source_sends_the_secret_key() {
    let issuer = TestIssuer::start().await.unwrap();
    let config = clerk_guard::ClerkConfig::builder()
        .secret_key("sk_test_local")
        .api_url(issuer.issuer())
        .build()
        .unwrap();
    let base = serve(router(ClerkVerifier::new(config).unwrap())).await;
    let reply = fetch(&format!("{base}/me"), Some(&issuer.token().sign())).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        issuer.last_authorization().as_deref(),
        Some("Bearer sk_test_local")
    );
}

#[tokio::test]
async fn extra_jwks_headers_are_sent() {
    let app = TestApp::start_with(|c| c.jwks_header("authorization", "Proxy k")).await;
    assert_eq!(
        app.get("/me", Some(&app.issuer.token().sign()))
            .await
            .status,
        200
    );
    assert_eq!(app.issuer.last_authorization().as_deref(), Some("Proxy k"));
}

#[tokio::test]
async fn a_pem_key_verifies_without_any_network() {
    for bits in [2048, 3072, 4096] {
        let issuer = TestIssuer::start().await.unwrap();
        let key = Arc::new(TestKey::generate_with_size("any", bits));
        let config = clerk_guard::ClerkConfig::builder()
            .pem_public_key(key.public_key_pem())
            .issuer(issuer.issuer())
            .build()
            .unwrap();
        let base = serve(router(ClerkVerifier::new(config).unwrap())).await;
        let token = issuer.token().signed_with(key.clone()).sign();
        assert_eq!(
            fetch(&format!("{base}/me"), Some(&token)).await.status,
            200,
            "{bits}"
        );
        let other = issuer.token().sign();
        assert_eq!(
            fetch(&format!("{base}/me"), Some(&other)).await.reason(),
            "token-invalid-signature"
        );
        assert_eq!(issuer.fetch_count(), 0);
    }
}

#[tokio::test]
async fn a_pem_key_in_dashboard_form_and_with_escaped_newlines() {
    let key = TestKey::generate("k");
    let pem = key.public_key_pem();
    let bare: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let escaped = pem.replace('\n', "\\n");
    for form in [bare, escaped] {
        let config = clerk_guard::ClerkConfig::builder()
            .pem_public_key(form)
            .build();
        assert!(config.is_ok(), "{config:?}");
    }
}

#[tokio::test]
async fn warm_tokens_expire_on_time_and_bad_tokens_are_never_cached() {
    let app = TestApp::start_with(|c| c.clock_skew(Duration::ZERO)).await;
    let short = app.issuer.token().expires_in(2).sign();
    assert_eq!(app.get("/me", Some(&short)).await.status, 200);
    assert_eq!(app.get("/me", Some(&short)).await.status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(app.get("/me", Some(&short)).await.reason(), "token-expired");
    // Same payload, broken signature: refused even after the good one was cached.
    let good = app.issuer.token().sign();
    assert_eq!(app.get("/me", Some(&good)).await.status, 200);
    let mut bad = good.clone();
    bad.pop();
    bad.push(if good.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(app.get("/me", Some(&bad)).await.status, 401);
    assert_eq!(app.get("/me", Some(&bad)).await.status, 401);
}

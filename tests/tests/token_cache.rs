//! The verified-token cache: kept through a key refresh that keeps the key,
//! dropped with a key that leaves, bounded by its byte budget.
//!
//! A cache hit hands back the very `ClerkAuth` that was stored, so the
//! address of its token tells a hit from a fresh verification (every
//! `ClerkAuth` seen is kept alive, so an address is never reused). A token
//! enters the cache on its second verification (the first only marks it
//! seen), so every check below verifies once before it starts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::time::Duration;

use clerk_guard::testing::TestIssuer;
use clerk_guard::{ClerkAuth, ClerkVerifier};

fn same(a: &ClerkAuth, b: &ClerkAuth) -> bool {
    a.token().as_ptr() == b.token().as_ptr()
}

async fn refresh_happens(
    issuer: &TestIssuer,
    verifier: &ClerkVerifier,
    trigger: &str,
    fetches: usize,
) {
    for _ in 0..100 {
        let _ = verifier.verify(trigger).await;
        if issuer.fetch_count() >= fetches {
            // Let the refreshed key set land before the caller looks.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no refresh: {} fetches", issuer.fetch_count());
}

#[tokio::test]
async fn a_cached_token_survives_a_refresh_that_keeps_its_key_and_dies_with_its_key() {
    let issuer = TestIssuer::start().await.unwrap();
    let ttl = Duration::from_millis(300);
    let verifier = ClerkVerifier::new(
        issuer
            .config()
            .jwks_ttl(ttl)
            .unknown_kid_cooldown(Duration::from_millis(100))
            .build()
            .unwrap(),
    )
    .unwrap();
    let token = issuer.token().sign();
    let trigger = issuer.token().subject("user_trigger").sign();
    let seen = verifier.verify(&token).await.unwrap();
    let first = verifier.verify(&token).await.unwrap();
    assert!(
        !same(&seen, &first),
        "a token's first verification is not cached"
    );
    let again = verifier.verify(&token).await.unwrap();
    assert!(
        same(&first, &again),
        "from the second on, a reused token is a cache hit"
    );

    // A TTL refresh that serves the same key: the entry stays.
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    refresh_happens(&issuer, &verifier, &trigger, 2).await;
    let after_refresh = verifier.verify(&token).await.unwrap();
    assert!(
        same(&first, &after_refresh),
        "still cached after a refresh that kept the key"
    );

    // A refresh that drops the key: the entry goes, and the token is refused.
    issuer.rotate("ins_test_2");
    issuer.retire("ins_test_1");
    let trigger = issuer.token().subject("user_trigger_2").sign();
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    refresh_happens(&issuer, &verifier, &trigger, 3).await;
    let reason = verifier.verify(&token).await.unwrap_err().reason();
    assert_eq!(reason.code(), "jwk-kid-mismatch");
    let keep = (seen, first, again, after_refresh);
    drop(keep);
}

async fn hits(verifier: &ClerkVerifier, tokens: &[String]) -> usize {
    let mut marked = Vec::new();
    let mut seen = Vec::new();
    for token in tokens {
        // The first verification marks the token seen; the second caches it.
        marked.push(verifier.verify(token).await.unwrap());
        seen.push(verifier.verify(token).await.unwrap());
    }
    let mut hits = 0;
    let mut again = Vec::new();
    for (token, first) in tokens.iter().zip(&seen) {
        let second = verifier.verify(token).await.unwrap();
        hits += usize::from(same(first, &second));
        again.push(second);
    }
    drop(marked);
    hits
}

#[tokio::test]
async fn the_cache_holds_what_its_byte_budget_allows() {
    let issuer = TestIssuer::start().await.unwrap();
    let tokens: Vec<String> = (0..120)
        .map(|i| issuer.token().subject(&format!("user_{i}")).sign())
        .collect();
    let with_budget = |bytes| {
        ClerkVerifier::new(issuer.config().token_cache_bytes(bytes).build().unwrap()).unwrap()
    };
    // Each entry weighs a few kilobytes: 16 KiB holds a handful at most.
    let small = hits(&with_budget(16 * 1024), &tokens).await;
    assert!(small <= 8, "{small} hits within a 16 KiB budget");
    // The default budget holds them all.
    let large = hits(
        &with_budget(clerk_guard::DEFAULT_TOKEN_CACHE_BYTES),
        &tokens,
    )
    .await;
    assert_eq!(large, tokens.len());
    // 0 turns the cache off.
    assert_eq!(hits(&with_budget(0), &tokens[..10]).await, 0);
}

#[tokio::test]
async fn tokens_seen_once_are_not_cached() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let token = issuer.token().sign();
    let once = verifier.verify(&token).await.unwrap();
    let twice = verifier.verify(&token).await.unwrap();
    let thrice = verifier.verify(&token).await.unwrap();
    assert!(!same(&once, &twice));
    assert!(same(&twice, &thrice));
}

#[tokio::test]
async fn a_token_sharing_a_cached_tokens_tail_is_verified_on_its_own() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let token = issuer.token().sign();
    verifier.verify(&token).await.unwrap();
    let cached = verifier.verify(&token).await.unwrap();
    assert!(same(&cached, &verifier.verify(&token).await.unwrap()));
    // The cache hashes a token's tail: give another payload the cached
    // token's whole signature, so the two share it.
    let other = issuer.token().subject("user_other").sign();
    let (signed, _) = other.rsplit_once('.').unwrap();
    let (_, signature) = token.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{signature}");
    for _ in 0..3 {
        let refused = verifier.verify(&forged).await.unwrap_err();
        assert_eq!(refused.reason(), clerk_guard::Reason::TokenInvalidSignature);
    }
    assert!(same(&cached, &verifier.verify(&token).await.unwrap()));
}

/// The token's address, which tells a cache hit from a fresh verification.
#[clerk_guard::clerk_protected]
async fn address(auth: ClerkAuth) -> String {
    format!("{:p}", auth.token().as_ptr())
}

/// A cached token is looked up by the header's bytes before the header is
/// read byte by byte: only bytes equal to the verified token's are answered
/// from the cache, any other header is read and checked as before.
#[tokio::test]
async fn a_cached_token_answers_only_for_its_exact_bytes() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let base = clerk_guard_tests::serve(
        axum::Router::new()
            .route("/a", axum::routing::get(address))
            .layer(axum::Extension(verifier)),
    )
    .await;
    let client = reqwest::Client::new();
    let send = |value: String| {
        let request = client
            .get(format!("{base}/a"))
            .header("authorization", value);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let token = issuer.token().sign();
    // Seen, then cached.
    for _ in 0..2 {
        assert_eq!(send(format!("Bearer {token}")).await.0, 200);
    }
    let (status, hit) = send(format!("Bearer {token}")).await;
    assert_eq!(status, 200);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        assert_eq!(
            send(format!("{scheme} {token}")).await,
            (200, hit.clone()),
            "{scheme}"
        );
    }
    let mut flipped = token.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    for (what, header) in [
        ("two spaces", format!("Bearer  {token}")),
        ("a tab inside", format!("Bearer {token}\tx")),
        ("two tokens", format!("Bearer {token} {token}")),
        ("a byte more", format!("Bearer {token}x")),
        (
            "a byte less",
            format!("Bearer {}", &token[..token.len() - 1]),
        ),
        ("the last byte changed", format!("Bearer {flipped}")),
        ("another scheme", format!("Basic {token}")),
    ] {
        assert_eq!(send(header).await.0, 401, "{what}");
    }
    // And the cached token is still answered from the cache.
    assert_eq!(send(format!("Bearer {token}")).await, (200, hit));
}

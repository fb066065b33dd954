//! Machine requests: M2M tokens, OAuth access tokens and API keys, JWT and
//! opaque, on routes that accept them and routes that do not, against the
//! testing kit's real JWKS and Backend API over loopback HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::time::{Duration, Instant};

use clerk_guard::testing::{BackendApiMode, TestKey, TEST_SECRET_KEY};
use clerk_guard::{Accepts, ClerkVerifier, TokenKind};
use clerk_guard_tests::{fetch_with, Reply, TestApp};
use serde_json::json;

fn assert_status(reply: &Reply, status: u16, reason: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.reason(), reason, "{reply:?}");
}

#[tokio::test]
async fn a_jwt_m2m_token_passes_a_machine_route_without_the_backend_api() {
    let app = TestApp::start().await;
    let token = app
        .issuer
        .m2m_token()
        .subject("mch_worker")
        .scopes(["mch_api", "mch_db"])
        .claim("tenant", "t1")
        .sign();
    let reply = app.get("/machine", Some(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["kind"], "m2m_token");
    assert_eq!(reply.body["sub"], "mch_worker");
    assert_eq!(reply.body["format"], "jwt");
    assert!(reply.body["id"].as_str().unwrap().starts_with("mt_"));
    assert_eq!(reply.body["scopes"], json!(["mch_api", "mch_db"]));
    // Custom claims as Clerk reads them: not the registered ones.
    assert_eq!(reply.body["claims"]["tenant"], "t1");
    assert!(reply.body["claims"].get("sub").is_none());
    // Without `scopes`, an M2M JWT's scopes are its audiences (as Clerk reads them).
    let by_aud = app
        .issuer
        .m2m_token()
        .claim("aud", json!(["mch_other"]))
        .sign();
    let reply = app.get("/machine", Some(&by_aud)).await;
    assert_eq!(reply.body["scopes"], json!(["mch_other"]), "{reply:?}");
    assert_eq!(app.issuer.backend_api_calls(), 0);
}

#[tokio::test]
async fn jwt_oauth_tokens_are_checked_for_their_scopes() {
    let app = TestApp::start().await;
    let read = app.issuer.oauth_token().scopes(["read", "profile"]).sign();
    let reply = app.get("/oauth-read", Some(&read)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["kind"], "oauth_token");
    assert_eq!(reply.body["client_id"], "client_test");
    assert_eq!(reply.body["scopes"], json!(["read", "profile"]));
    // `application/at+jwt` and a space-separated `scope` work too.
    let long_typ = app
        .issuer
        .oauth_token()
        .header("typ", "application/at+jwt")
        .claim("scope", "write read")
        .sign();
    assert_eq!(app.get("/oauth-read", Some(&long_typ)).await.status, 200);
    // Missing the scope: 403.
    let profile_only = app.issuer.oauth_token().scopes(["profile"]).sign();
    let reply = app.get("/oauth-read", Some(&profile_only)).await;
    assert_status(&reply, 403, "missing-scope");
    assert_eq!(reply.body["error"], "insufficient_scope");
    // All of them: read alone does not pass read + write.
    assert_status(
        &app.get("/read-write", Some(&read)).await,
        403,
        "missing-scope",
    );
    let both = app.issuer.oauth_token().scopes(["write", "read"]).sign();
    assert_eq!(app.get("/read-write", Some(&both)).await.status, 200);
    let m2m_both = app.issuer.m2m_token().scopes(["read", "write"]).sign();
    assert_eq!(app.get("/read-write", Some(&m2m_both)).await.status, 200);
    assert_eq!(app.issuer.backend_api_calls(), 0);
}

#[tokio::test]
async fn opaque_tokens_of_each_kind_pass_the_routes_that_accept_them() {
    let app = TestApp::start().await;
    let m2m = app
        .issuer
        .opaque(TokenKind::M2m)
        .subject("mch_billing")
        .scopes(["mch_api"])
        .claims(json!({"region": "eu"}))
        .mint();
    let reply = app.get("/machine", Some(&m2m)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["format"], "opaque");
    assert_eq!(reply.body["sub"], "mch_billing");
    assert_eq!(reply.body["scopes"], json!(["mch_api"]));
    assert_eq!(reply.body["claims"], json!({"region": "eu"}));
    assert!(reply.body["id"].as_str().unwrap().starts_with("mt_"));

    let oauth = app
        .issuer
        .opaque(TokenKind::OAuth)
        .subject("user_7")
        .scopes(["read"])
        .mint();
    let reply = app.get("/oauth-read", Some(&oauth)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["kind"], "oauth_token");
    assert_eq!(reply.body["sub"], "user_7");
    assert_eq!(reply.body["client_id"], "client_test");
    let unscoped = app.issuer.opaque(TokenKind::OAuth).mint();
    assert_status(
        &app.get("/oauth-read", Some(&unscoped)).await,
        403,
        "missing-scope",
    );

    let key = app.issuer.opaque(TokenKind::ApiKey).subject("org_9").mint();
    let reply = app.get("/api-key", Some(&key)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["kind"], "api_key");
    assert_eq!(reply.body["sub"], "org_9");
    assert_eq!(reply.body["name"], "test key");
    assert!(reply.body["expires_at"].as_u64().is_some());
    let forever = app.issuer.opaque(TokenKind::ApiKey).never_expires().mint();
    let reply = app.get("/api-key", Some(&forever)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body["expires_at"].is_null());
}

#[tokio::test]
async fn every_kind_on_a_route_that_does_not_accept_it_is_a_type_mismatch() {
    let app = TestApp::start().await;
    let session = app.issuer.token().sign();
    let m2m_jwt = app.issuer.m2m_token().sign();
    let oauth_jwt = app.issuer.oauth_token().scopes(["read", "write"]).sign();
    let m2m = app.issuer.opaque(TokenKind::M2m).mint();
    let oauth = app.issuer.opaque(TokenKind::OAuth).scopes(["read"]).mint();
    let key = app.issuer.opaque(TokenKind::ApiKey).mint();
    let cases: [(&str, &[&String]); 6] = [
        ("/me", &[&m2m_jwt, &oauth_jwt, &m2m, &oauth, &key]),
        ("/admin", &[&m2m_jwt, &oauth_jwt, &m2m, &oauth, &key]),
        ("/machine", &[&session, &oauth_jwt, &oauth, &key]),
        ("/oauth-read", &[&session, &m2m_jwt, &m2m, &key]),
        ("/api-key", &[&session, &m2m_jwt, &oauth_jwt, &m2m, &oauth]),
        ("/layered/caller", &[&session, &oauth_jwt, &oauth]),
    ];
    for (path, tokens) in cases {
        for token in tokens {
            let reply = app.get(path, Some(token)).await;
            assert_status(&reply, 401, "token-type-mismatch");
            assert_eq!(
                reply.challenge.as_deref(),
                Some(r#"Bearer error="invalid_token", error_description="token-type-mismatch""#),
                "{path}"
            );
        }
    }
    // Nothing of another kind reaches the Backend API.
    assert_eq!(app.issuer.backend_api_calls(), 0);
    // A string that is no machine token on a machine-only route: a mismatch (as Clerk says).
    for junk in ["hello", "a.b", "mch_not_a_token"] {
        assert_status(
            &app.get("/machine", Some(junk)).await,
            401,
            "token-type-mismatch",
        );
    }
    // And the routes that accept them.
    for (path, token) in [
        ("/machine", &m2m_jwt),
        ("/machine", &m2m),
        ("/api-key", &key),
        ("/layered/caller", &m2m_jwt),
        ("/layered/caller", &key),
        ("/read-write", &oauth_jwt),
    ] {
        assert_eq!(app.get(path, Some(token)).await.status, 200, "{path}");
    }
}

#[tokio::test]
async fn a_route_accepting_every_kind_admits_each_and_reads_sessions_from_the_cookie() {
    let app = TestApp::start().await;
    let session = app.issuer.token().subject("user_5").sign();
    let tokens = [
        (app.issuer.token().subject("user_5").sign(), "session_token"),
        (app.issuer.m2m_token().sign(), "m2m_token"),
        (app.issuer.oauth_token().sign(), "oauth_token"),
        (app.issuer.opaque(TokenKind::M2m).mint(), "m2m_token"),
        (app.issuer.opaque(TokenKind::OAuth).mint(), "oauth_token"),
        (app.issuer.opaque(TokenKind::ApiKey).mint(), "api_key"),
    ];
    for (token, kind) in &tokens {
        let reply = app.get("/any", Some(token)).await;
        assert_eq!(reply.status, 200, "{kind}: {reply:?}");
        assert_eq!(reply.body["kind"], *kind);
        let reply = app.get("/maybe-any", Some(token)).await;
        assert_eq!(reply.body["kind"], *kind);
    }
    // A session in the cookie is read when no header is sent.
    let cookie = format!("__session={session}; __client_uat=1");
    let reply = app.get_with("/any", &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["sub"], "user_5");
    // Machine tokens are read from the Authorization header only.
    let machine = app.issuer.opaque(TokenKind::M2m).mint();
    let machine_jwt = app.issuer.m2m_token().sign();
    for token in [&machine, &machine_jwt] {
        let cookie = format!("__session={token}; __client_uat=1");
        assert_status(
            &app.get_with("/any", &[("cookie", &cookie)]).await,
            401,
            "token-type-mismatch",
        );
        assert_status(
            &app.get_with("/machine", &[("cookie", &cookie)]).await,
            401,
            "token-missing",
        );
    }
    assert_status(&app.get("/machine", None).await, 401, "token-missing");
    // Optional: nobody, or a bad token, is anonymous.
    assert!(app.get("/maybe-any", None).await.body["kind"].is_null());
    let expired = app.issuer.m2m_token().expired().sign();
    let reply = app.get("/maybe-any", Some(&expired)).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["kind"].is_null());
}

#[tokio::test]
async fn machine_jwts_follow_the_rules_clerk_applies_to_their_kind() {
    let app = TestApp::start_with(|c| c.authorized_parties(["https://app.example.com"])).await;
    let app = &app;
    let m2m = || app.issuer.m2m_token();
    let get = |token: String| async move { app.get("/machine", Some(&token)).await };
    // No azp: fine for a machine (Clerk checks azp only when present).
    assert_eq!(get(m2m().sign()).await.status, 200);
    assert_status(
        &get(m2m().azp("https://evil.example.com").sign()).await,
        401,
        "token-invalid-authorized-parties",
    );
    assert_eq!(
        get(m2m().azp("https://app.example.com").sign())
            .await
            .status,
        200
    );
    assert_status(&get(m2m().expired().sign()).await, 401, "token-expired");
    assert_status(
        &get(m2m().not_yet_valid().sign()).await,
        401,
        "token-not-active-yet",
    );
    assert_status(
        &get(m2m().issued_at_in(600).sign()).await,
        401,
        "token-iat-in-the-future",
    );
    assert_status(
        &get(m2m().without_claim("exp").sign()).await,
        401,
        "token-invalid",
    );
    assert_status(
        &get(m2m().claim("exp", "soon").sign()).await,
        401,
        "token-invalid",
    );
    // Header rules: Clerk's M2M category or none, typ JWT or none, RS* only, no crit.
    assert_eq!(get(m2m().without_header("cat").sign()).await.status, 200);
    assert_eq!(get(m2m().without_header("typ").sign()).await.status, 200);
    assert_status(
        &get(m2m().header("cat", "cl_B7d4PD111AAA").sign()).await,
        401,
        "token-invalid",
    );
    assert_status(
        &get(m2m().header("typ", "JOSE").sign()).await,
        401,
        "token-invalid",
    );
    assert_status(
        &get(m2m().header("alg", "none").sign()).await,
        401,
        "token-invalid-algorithm",
    );
    assert_status(
        &get(m2m().header("crit", json!(["exp"])).sign()).await,
        401,
        "token-invalid",
    );
    assert_status(
        &get(m2m().without_header("kid").sign()).await,
        401,
        "token-invalid",
    );
    // Signatures: a foreign key under the real kid, a tampered payload.
    let foreign = std::sync::Arc::new(TestKey::generate("ins_test_1"));
    assert_status(
        &get(m2m().signed_with(foreign).sign()).await,
        401,
        "token-invalid-signature",
    );
    let good = m2m().subject("mch_a").sign();
    let evil = m2m().subject("mch_b").sign();
    let parts: Vec<&str> = good.split('.').collect();
    let evil_payload = evil.split('.').nth(1).unwrap();
    let spliced = format!("{}.{}.{}", parts[0], evil_payload, parts[2]);
    assert_status(&get(spliced).await, 401, "token-invalid-signature");
    // An unknown kid.
    assert_status(
        &get(m2m().header("kid", "ins_unknown").sign()).await,
        401,
        "jwk-kid-mismatch",
    );
    // OAuth: typ must be at+jwt.
    let oauth_plain_typ = app
        .issuer
        .oauth_token()
        .header("typ", "JWT")
        .scopes(["read"])
        .sign();
    // With typ JWT and a user sub, it is a session token's shape: a mismatch here.
    assert_status(
        &app.get("/oauth-read", Some(&oauth_plain_typ)).await,
        401,
        "token-type-mismatch",
    );
    assert_eq!(app.issuer.backend_api_calls(), 0);
}

#[tokio::test]
async fn oauth_audiences_are_required_when_configured_as_clerk_requires_them() {
    let app = TestApp::start_with(|c| c.audience(["https://api.example.com"])).await;
    let app = &app;
    let oauth = || app.issuer.oauth_token().scopes(["read"]);
    let get = |token: String| async move { app.get("/oauth-read", Some(&token)).await };
    assert_eq!(
        get(oauth().claim("aud", "https://api.example.com").sign())
            .await
            .status,
        200
    );
    assert_eq!(
        get(oauth()
            .claim("aud", json!(["other", "https://api.example.com"]))
            .sign())
        .await
        .status,
        200
    );
    for aud in [
        json!(null),
        json!("other"),
        json!([""]),
        json!([]),
        json!(5),
    ] {
        let token = if aud.is_null() {
            oauth().sign()
        } else {
            oauth().claim("aud", aud.clone()).sign()
        };
        assert_status(&get(token).await, 401, "token-invalid-audience");
    }
    // Opaque OAuth tokens: the audience the Backend API reports.
    let opaque = |aud: Option<serde_json::Value>| {
        let builder = app.issuer.opaque(TokenKind::OAuth).scopes(["read"]);
        match aud {
            Some(aud) => builder.audience(aud).mint(),
            None => builder.mint(),
        }
    };
    assert_eq!(
        get(opaque(Some(json!(["https://api.example.com"]))))
            .await
            .status,
        200
    );
    assert_status(&get(opaque(None)).await, 401, "token-invalid-audience");
    assert_status(
        &get(opaque(Some(json!("other")))).await,
        401,
        "token-invalid-audience",
    );
    // M2M: checked only when the token names audiences (Clerk's assertAudienceClaim).
    assert_eq!(
        app.get("/machine", Some(&app.issuer.m2m_token().sign()))
            .await
            .status,
        200
    );
    let elsewhere = app.issuer.m2m_token().claim("aud", json!(["mch_x"])).sign();
    assert_status(
        &app.get("/machine", Some(&elsewhere)).await,
        401,
        "token-invalid-audience",
    );
}

#[tokio::test]
async fn valid_answers_are_cached_briefly_and_lookups_are_single_flight() {
    let app = TestApp::start().await;
    let token = app.issuer.opaque(TokenKind::M2m).mint();
    for _ in 0..5 {
        assert_eq!(app.get("/machine", Some(&token)).await.status, 200);
    }
    assert_eq!(app.issuer.backend_api_calls(), 1, "cached after one lookup");
    // Several routes and the layer share the one answer.
    assert_eq!(app.get("/any", Some(&token)).await.status, 200);
    assert_eq!(app.get("/layered/caller", Some(&token)).await.status, 200);
    assert_eq!(app.issuer.backend_api_calls(), 1);

    // 32 concurrent requests for a new token: one lookup.
    app.issuer.set_backend_api_delay(Duration::from_millis(300));
    let fresh = app.issuer.opaque(TokenKind::ApiKey).mint();
    let base = app.base.clone();
    let mut requests = Vec::new();
    for _ in 0..32 {
        let url = format!("{base}/api-key");
        let auth = format!("Bearer {fresh}");
        requests.push(tokio::spawn(async move {
            fetch_with(&url, &[("authorization", &auth)]).await.status
        }));
    }
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert_eq!(
        app.issuer.backend_api_calls(),
        2,
        "one lookup for 32 requests"
    );
}

#[tokio::test]
async fn revocation_is_seen_when_the_cache_time_lapses_and_at_once_with_no_cache() {
    let app = TestApp::start_with(|c| c.machine_cache_ttl(Duration::from_secs(1))).await;
    let token = app.issuer.opaque(TokenKind::ApiKey).mint();
    assert_eq!(app.get("/api-key", Some(&token)).await.status, 200);
    assert!(app.issuer.revoke(&token));
    // Within the cache time the earlier answer stands (the documented window).
    assert_eq!(app.get("/api-key", Some(&token)).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_status(
        &app.get("/api-key", Some(&token)).await,
        401,
        "token-invalid",
    );
    let calls = app.issuer.backend_api_calls();
    // The refusal is remembered, never the valid answer.
    assert_status(
        &app.get("/api-key", Some(&token)).await,
        401,
        "token-invalid",
    );
    assert_eq!(app.issuer.backend_api_calls(), calls);

    let uncached = TestApp::start_with(|c| c.machine_cache_ttl(Duration::ZERO)).await;
    let token = uncached.issuer.opaque(TokenKind::M2m).mint();
    assert_eq!(uncached.get("/machine", Some(&token)).await.status, 200);
    assert_eq!(uncached.get("/machine", Some(&token)).await.status, 200);
    assert_eq!(uncached.issuer.backend_api_calls(), 2);
    uncached.issuer.revoke(&token);
    assert_status(
        &uncached.get("/machine", Some(&token)).await,
        401,
        "token-invalid",
    );
}

#[tokio::test]
async fn a_cached_answer_never_outlives_the_token() {
    let app = TestApp::start_with(|c| c.machine_cache_ttl(Duration::from_secs(30))).await;
    let token = app.issuer.opaque(TokenKind::M2m).expires_in(2).mint();
    assert_eq!(app.get("/machine", Some(&token)).await.status, 200);
    assert_eq!(app.get("/machine", Some(&token)).await.status, 200);
    assert_eq!(app.issuer.backend_api_calls(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The Backend API answers 404 for an expired token, as for an unknown one.
    assert_status(
        &app.get("/machine", Some(&token)).await,
        401,
        "token-invalid",
    );
    assert_eq!(
        app.issuer.backend_api_calls(),
        2,
        "asked again after expiry"
    );
    let old = app.issuer.opaque(TokenKind::ApiKey).expires_in(-5).mint();
    assert_status(&app.get("/api-key", Some(&old)).await, 401, "token-invalid");
}

#[tokio::test]
async fn revoked_or_expired_resources_are_refused_and_never_cached_as_valid() {
    let app = TestApp::start().await;
    app.issuer
        .set_backend_api_mode(BackendApiMode::ReportRefusals);
    let expired = app.issuer.opaque(TokenKind::ApiKey).expires_in(-5).mint();
    assert_status(
        &app.get("/api-key", Some(&expired)).await,
        401,
        "token-expired",
    );
    let revoked = app.issuer.opaque(TokenKind::M2m).mint();
    app.issuer.revoke(&revoked);
    assert_status(
        &app.get("/machine", Some(&revoked)).await,
        401,
        "token-invalid",
    );
    let calls = app.issuer.backend_api_calls();
    // Both refusals are remembered for the not-found time: no new lookups.
    assert_status(
        &app.get("/api-key", Some(&expired)).await,
        401,
        "token-expired",
    );
    assert_status(
        &app.get("/machine", Some(&revoked)).await,
        401,
        "token-invalid",
    );
    assert_eq!(app.issuer.backend_api_calls(), calls);
}

#[tokio::test]
async fn garbage_never_reaches_the_backend_api() {
    let app = TestApp::start().await;
    let long = format!("mt_{}", "a".repeat(129));
    let junk = [
        "mt_short",
        "mt_has!punctuation000000",
        "mt_has-dash-000000000000",
        "oat_",
        "ak_ space inside",
        long.as_str(),
        "mt_",
        "ak_0000000000000_0000",
    ];
    for token in junk {
        let path = if token.starts_with("ak_") {
            "/api-key"
        } else if token.starts_with("oat_") {
            "/oauth-read"
        } else {
            "/machine"
        };
        let reply = app.get(path, Some(token)).await;
        assert!(reply.status == 401, "{token:?} on {path}: {reply:?}");
    }
    for token in ["mt_short", "mt_has!punctuation000000", long.as_str()] {
        assert_status(
            &app.get("/machine", Some(token)).await,
            401,
            "token-invalid",
        );
        assert_status(&app.get("/any", Some(token)).await, 401, "token-invalid");
    }
    // Not a machine prefix at all: a session token's check, no lookup.
    for token in ["xx_00000000000000000000", "hello", "a.b.c"] {
        assert_status(&app.get("/any", Some(token)).await, 401, "token-invalid");
    }
    assert_eq!(app.issuer.backend_api_calls(), 0);
}

#[tokio::test]
async fn not_found_is_remembered_per_token_for_a_while() {
    let app = TestApp::start_with(|c| c.machine_not_found_ttl(Duration::from_secs(1))).await;
    let unknown = "mt_000000000000000000000000000000unknown";
    for _ in 0..5 {
        assert_status(
            &app.get("/machine", Some(unknown)).await,
            401,
            "token-invalid",
        );
    }
    assert_eq!(app.issuer.backend_api_calls(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_status(
        &app.get("/machine", Some(unknown)).await,
        401,
        "token-invalid",
    );
    assert_eq!(app.issuer.backend_api_calls(), 2);
}

#[tokio::test]
async fn lookups_of_new_tokens_are_capped_per_second_with_retry_after() {
    let app = TestApp::start_with(|c| c.machine_lookups_per_second(5)).await;
    let mut refused = 0;
    let mut unavailable = 0;
    let started = Instant::now();
    for i in 0..40 {
        let token = format!("mt_{i:032}");
        let reply = app.get("/machine", Some(&token)).await;
        match reply.status {
            401 => refused += 1,
            503 => {
                unavailable += 1;
                assert_eq!(reply.reason(), "backend-api-unavailable");
                assert_eq!(reply.retry_after.as_deref(), Some("1"), "{reply:?}");
            }
            other => panic!("unexpected {other}: {reply:?}"),
        }
    }
    let seconds = started.elapsed().as_secs() as usize + 1;
    let calls = app.issuer.backend_api_calls();
    assert!(calls <= 5 * seconds, "{calls} calls in {seconds} s");
    assert_eq!(calls, refused, "every lookup answered not found");
    assert!(unavailable >= 40 - 5 * seconds, "{unavailable} capped");
    // Known answers are not capped: a cached token still passes.
    let token = app.issuer.opaque(TokenKind::M2m).mint();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.get("/machine", Some(&token)).await.status, 200);
    for i in 100..110 {
        app.get("/machine", Some(&format!("mt_{i:032}"))).await;
    }
    assert_eq!(app.get("/machine", Some(&token)).await.status, 200);
    // Nor are JWT-format machine tokens: they never need the Backend API.
    let jwt = app.issuer.m2m_token().sign();
    assert_eq!(app.get("/machine", Some(&jwt)).await.status, 200);
}

#[tokio::test]
async fn backend_api_down_is_503_and_recovers() {
    let app = TestApp::start_with(|c| c.request_timeout(Duration::from_secs(1))).await;
    let token = app.issuer.opaque(TokenKind::M2m).mint();
    for status in [500, 502, 503, 429] {
        app.issuer
            .set_backend_api_mode(BackendApiMode::Status(status));
        let fresh = app.issuer.opaque(TokenKind::OAuth).scopes(["read"]).mint();
        assert_status(
            &app.get("/oauth-read", Some(&fresh)).await,
            503,
            "backend-api-unavailable",
        );
    }
    app.issuer.set_backend_api_mode(BackendApiMode::Hang);
    let started = Instant::now();
    assert_status(
        &app.get("/machine", Some(&token)).await,
        503,
        "backend-api-unavailable",
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // A failure is not remembered: the next request asks again and passes.
    app.issuer.set_backend_api_mode(BackendApiMode::Serve);
    assert_eq!(app.get("/machine", Some(&token)).await.status, 200);
    // JWT machine tokens never depended on it.
    app.issuer.set_backend_api_mode(BackendApiMode::Status(500));
    let jwt = app.issuer.m2m_token().sign();
    assert_eq!(app.get("/machine", Some(&jwt)).await.status, 200);
}

#[tokio::test]
async fn an_unreachable_backend_api_is_503() {
    let app = TestApp::start_with(|c| c.api_url("http://127.0.0.1:9")).await;
    let token = app.issuer.opaque(TokenKind::M2m).mint();
    assert_status(
        &app.get("/machine", Some(&token)).await,
        503,
        "backend-api-unavailable",
    );
}

#[tokio::test]
async fn a_wrong_or_missing_secret_key_is_a_configuration_error() {
    let wrong = TestApp::start_with(|c| c.secret_key("sk_test_wrong")).await;
    let token = wrong.issuer.opaque(TokenKind::M2m).mint();
    assert_status(
        &wrong.get("/machine", Some(&token)).await,
        503,
        "configuration-invalid",
    );
    // No secret key: opaque tokens cannot be verified; JWTs still can.
    let issuer = clerk_guard::testing::TestIssuer::start().await.unwrap();
    let config = clerk_guard::ClerkConfig::builder()
        .jwks_url(issuer.jwks_url())
        .build()
        .unwrap();
    assert!(!config.verifies_opaque_tokens());
    let verifier = ClerkVerifier::new(config).unwrap();
    let opaque = issuer.opaque(TokenKind::M2m).mint();
    let rejection = verifier.verify_as(&opaque, Accepts::M2M).await.unwrap_err();
    assert_eq!(rejection.reason().code(), "configuration-invalid");
    let jwt = issuer.m2m_token().subject("mch_x").sign();
    let principal = verifier.verify_as(&jwt, Accepts::M2M).await.unwrap();
    assert_eq!(principal.subject(), "mch_x");
    assert_eq!(issuer.backend_api_calls(), 0);
    // The secret key goes to the Backend API as Bearer.
    assert!(TEST_SECRET_KEY.starts_with("sk_test_"));
}

#[tokio::test]
async fn the_verifier_api_classifies_as_clerk_does() {
    let issuer = clerk_guard::testing::TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let session = issuer.token().sign();
    let m2m = issuer.m2m_token().sign();
    // `sub` mch_ makes it M2M even with an OAuth typ (Clerk checks M2M first).
    let both = issuer
        .m2m_token()
        .header("typ", "at+jwt")
        .header("cat", "cl_B7d4PD333AAA")
        .sign();
    let any = Accepts::ANY;
    assert_eq!(
        verifier.verify_as(&session, any).await.unwrap().kind(),
        TokenKind::Session
    );
    assert_eq!(
        verifier.verify_as(&m2m, any).await.unwrap().kind(),
        TokenKind::M2m
    );
    // Its typ is then not JWT: refused by the M2M rules.
    assert_eq!(
        verifier
            .verify_as(&both, any)
            .await
            .unwrap_err()
            .reason()
            .code(),
        "token-invalid"
    );
    assert_eq!(
        verifier
            .verify_as(&session, Accepts::M2M.with(TokenKind::OAuth))
            .await
            .unwrap_err()
            .reason()
            .code(),
        "token-type-mismatch"
    );
}

#[tokio::test]
async fn a_header_parsed_before_is_judged_again_by_each_kinds_rules() {
    let app = TestApp::start().await;
    // The verifier keeps the last header it parsed; the same bytes must still
    // meet the rules of the kind each token is verified as.
    let m2m = app.issuer.m2m_token().sign();
    assert_eq!(app.get("/machine", Some(&m2m)).await.status, 200);
    // Same header (M2M category), but a user's `sub`: verified as a session.
    let same_header = app.issuer.m2m_token().subject("user_1").sign();
    assert_eq!(
        same_header.split('.').next(),
        m2m.split('.').next(),
        "the test needs identical header bytes"
    );
    assert_status(
        &app.get("/me", Some(&same_header)).await,
        401,
        "token-type-mismatch",
    );
    assert_status(
        &app.get("/any", Some(&same_header)).await,
        401,
        "token-type-mismatch",
    );
    // And a session header, then the same bytes on an OAuth-only route.
    let session = app.issuer.token().sign();
    assert_eq!(app.get("/me", Some(&session)).await.status, 200);
    let session_header_machine = app.issuer.token().subject("mch_x").sign();
    assert_status(
        &app.get("/oauth-read", Some(&session_header_machine)).await,
        401,
        "token-type-mismatch",
    );
    // Verified as M2M, a session category is refused by the M2M rules.
    assert_status(
        &app.get("/machine", Some(&session_header_machine)).await,
        401,
        "token-invalid",
    );
}

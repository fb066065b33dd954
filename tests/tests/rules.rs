//! Every verification rule of DESIGN.md, broken by a real token and sent over
//! real HTTP to a real app verifying against a real JWKS server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use clerk_guard::testing::{ClaimShape, TestAlg, TestKey};
use clerk_guard_tests::{Reply, TestApp};
use serde_json::json;

fn assert_401(reply: &Reply, reason: &str) {
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.reason(), reason, "{reply:?}");
    assert_eq!(reply.body["error"], "invalid_token", "{reply:?}");
    assert_eq!(
        reply.challenge.as_deref(),
        Some(format!("Bearer error=\"invalid_token\", error_description=\"{reason}\"").as_str())
    );
}

fn b64(value: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn a_valid_token_is_accepted_and_its_claims_reach_the_handler() {
    let app = TestApp::start().await;
    let token = app
        .issuer
        .token()
        .subject("user_42")
        .session_id("sess_9")
        .roles(["viewer"])
        .sign();
    let reply = app.get("/me", Some(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["sub"], "user_42");
    assert_eq!(reply.body["sid"], "sess_9");
    assert_eq!(reply.body["roles"], json!(["viewer"]));
    assert_eq!(app.get("/public", None).await.text, "public");
}

#[tokio::test]
async fn no_token_is_401_with_a_bare_bearer_challenge() {
    let app = TestApp::start().await;
    let reply = app.get("/me", None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.challenge.as_deref(), Some("Bearer"));
    assert_eq!(
        reply.body,
        json!({"error": "unauthorized", "reason": "token-missing"})
    );
    // An empty bearer counts as no token.
    let reply = app.get_with("/me", &[("authorization", "Bearer")]).await;
    assert_eq!(reply.reason(), "token-missing");
}

#[tokio::test]
async fn expired_tokens_are_refused_beyond_the_skew_and_accepted_within() {
    let app = TestApp::start().await;
    assert_401(
        &app.get("/me", Some(&app.issuer.token().expired().sign()))
            .await,
        "token-expired",
    );
    // 10 s ago is beyond the default 5 s skew.
    let beyond = app
        .issuer
        .token()
        .issued_at_in(-100)
        .not_before_in(-100)
        .expires_in(-10)
        .sign();
    assert_401(&app.get("/me", Some(&beyond)).await, "token-expired");
    // 2 s ago is within it.
    let within = app
        .issuer
        .token()
        .issued_at_in(-100)
        .not_before_in(-100)
        .expires_in(-2)
        .sign();
    assert_eq!(app.get("/me", Some(&within)).await.status, 200);
}

#[tokio::test]
async fn zero_skew_refuses_a_token_that_just_expired() {
    let app = TestApp::start_with(|c| c.clock_skew(Duration::ZERO)).await;
    let just = app
        .issuer
        .token()
        .issued_at_in(-100)
        .not_before_in(-100)
        .expires_in(-2)
        .sign();
    assert_401(&app.get("/me", Some(&just)).await, "token-expired");
}

#[tokio::test]
async fn a_token_that_expires_while_its_keys_are_fetched_is_expired() {
    // The clock is read once per verification, and again after a wait for
    // keys: a token valid when the request came is judged when its
    // signature holds.
    let app = TestApp::start_with(|c| c.clock_skew(Duration::ZERO)).await;
    app.issuer.set_delay(Duration::from_millis(2200));
    let token = app.issuer.token().expires_in(1).sign();
    assert_401(&app.get("/me", Some(&token)).await, "token-expired");
}

#[tokio::test]
async fn nbf_and_iat_in_the_future_are_refused_beyond_the_skew() {
    let app = TestApp::start().await;
    assert_401(
        &app.get("/me", Some(&app.issuer.token().not_yet_valid().sign()))
            .await,
        "token-not-active-yet",
    );
    let iat = app.issuer.token().issued_at_in(60).sign();
    assert_401(&app.get("/me", Some(&iat)).await, "token-iat-in-the-future");
    let nbf_within = app.issuer.token().not_before_in(3).issued_at_in(3).sign();
    assert_eq!(app.get("/me", Some(&nbf_within)).await.status, 200);
}

#[tokio::test]
async fn exp_missing_or_of_the_wrong_type_is_invalid() {
    let app = TestApp::start().await;
    let missing = app.issuer.token().without_claim("exp").sign();
    assert_401(&app.get("/me", Some(&missing)).await, "token-invalid");
    let text = app.issuer.token().claim("exp", "9999999999").sign();
    assert_401(&app.get("/me", Some(&text)).await, "token-invalid");
    let null = app
        .issuer
        .token()
        .claim("exp", serde_json::Value::Null)
        .sign();
    assert_401(&app.get("/me", Some(&null)).await, "token-invalid");
}

#[tokio::test]
async fn verifier_claims_of_the_wrong_type_are_invalid_not_absent() {
    let app = TestApp::start().await;
    for (claim, value) in [
        ("nbf", json!("0")),
        ("iat", json!([1])),
        ("iss", json!(7)),
        ("azp", json!(["x"])),
        ("sid", json!(1)),
        ("sts", json!(false)),
        ("v", json!("2")),
        ("sub", json!(123)),
    ] {
        let token = app.issuer.token().claim(claim, value).sign();
        assert_401(&app.get("/me", Some(&token)).await, "token-invalid");
    }
    let empty_sub = app.issuer.token().subject("").sign();
    assert_401(&app.get("/me", Some(&empty_sub)).await, "token-invalid");
}

#[tokio::test]
async fn alg_none_hs256_and_ps256_are_refused() {
    let app = TestApp::start().await;
    let none = app.issuer.token().alg(TestAlg::None).sign();
    assert_401(
        &app.get("/me", Some(&none)).await,
        "token-invalid-algorithm",
    );
    // Key confusion: HS256 keyed with the public key the JWKS publishes.
    let secret = app.issuer.signing_key().public_key_der();
    let hs = app.issuer.token().alg(TestAlg::Hs256(secret)).sign();
    assert_401(&app.get("/me", Some(&hs)).await, "token-invalid-algorithm");
    let pem_secret = app.issuer.signing_key().public_key_pem().into_bytes();
    let hs = app.issuer.token().alg(TestAlg::Hs256(pem_secret)).sign();
    assert_401(&app.get("/me", Some(&hs)).await, "token-invalid-algorithm");
    let ps = app.issuer.token().alg(TestAlg::Ps256).sign();
    assert_401(&app.get("/me", Some(&ps)).await, "token-invalid-algorithm");
    // The issuer's JWK states RS256: the same key under another RSA alg is refused.
    for alg in [TestAlg::Rs384, TestAlg::Rs512] {
        let other = app.issuer.token().alg(alg).sign();
        assert_401(
            &app.get("/me", Some(&other)).await,
            "token-invalid-algorithm",
        );
    }
    // A JWK that states no alg verifies RS256, RS384 and RS512.
    let app = TestApp::start().await;
    let any_alg = Arc::new(TestKey::generate("any-alg"));
    let mut jwk = any_alg.jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    app.issuer.publish_raw_jwk(jwk);
    for alg in [TestAlg::Rs256, TestAlg::Rs384, TestAlg::Rs512] {
        let ok = app
            .issuer
            .token()
            .signed_with(any_alg.clone())
            .alg(alg)
            .sign();
        assert_eq!(app.get("/me", Some(&ok)).await.status, 200);
    }
}

#[tokio::test]
async fn a_jwk_not_for_signatures_is_skipped() {
    let app = TestApp::start().await;
    let enc = Arc::new(TestKey::generate("enc-key"));
    let mut jwk = enc.jwk();
    jwk["use"] = json!("enc");
    app.issuer.publish_raw_jwk(jwk);
    let token = app.issuer.token().signed_with(enc).sign();
    assert_401(&app.get("/me", Some(&token)).await, "jwk-kid-mismatch");
    assert_eq!(
        app.get("/me", Some(&app.issuer.token().sign()))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_foreign_key_under_a_known_kid_fails_the_signature() {
    let app = TestApp::start().await;
    let foreign = Arc::new(TestKey::generate("attacker"));
    let kid = app.issuer.signing_key().kid().to_owned();
    let token = app
        .issuer
        .token()
        .signed_with(foreign)
        .header("kid", kid)
        .sign();
    assert_401(
        &app.get("/me", Some(&token)).await,
        "token-invalid-signature",
    );
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature() {
    let app = TestApp::start().await;
    let token = app.issuer.token().subject("user_a").sign();
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    payload["sub"] = json!("user_admin");
    payload["roles"] = json!(["admin"]);
    let tampered = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
    assert_401(
        &app.get("/admin", Some(&tampered)).await,
        "token-invalid-signature",
    );
}

#[tokio::test]
async fn header_rules_missing_kid_typ_cat_crit_and_embedded_keys() {
    let app = TestApp::start().await;
    let no_kid = app.issuer.token().without_header("kid").sign();
    assert_401(&app.get("/me", Some(&no_kid)).await, "token-invalid");
    // An OAuth access token's typ: another kind of token, as Clerk says.
    let at_jwt = app.issuer.token().header("typ", "at+jwt").sign();
    assert_401(&app.get("/me", Some(&at_jwt)).await, "token-type-mismatch");
    // Exactly `JWT`, as Clerk's verifier requires.
    for typ in ["jwt", "Jwt", "JWT "] {
        let other_case = app.issuer.token().header("typ", typ).sign();
        assert_401(&app.get("/me", Some(&other_case)).await, "token-invalid");
    }
    let no_typ = app.issuer.token().without_header("typ").sign();
    assert_eq!(app.get("/me", Some(&no_typ)).await.status, 200);
    // A JWT template's category is not a session token (Clerk: a type mismatch).
    let template = app.issuer.token().header("cat", "cl_B7d4PD222AAA").sign();
    assert_401(
        &app.get("/me", Some(&template)).await,
        "token-type-mismatch",
    );
    let ignore = app.issuer.token().header("cat", "cl_I7d4PD111III").sign();
    assert_eq!(app.get("/me", Some(&ignore)).await.status, 200);
    let crit = app.issuer.token().header("crit", json!(["exp"])).sign();
    assert_401(&app.get("/me", Some(&crit)).await, "token-invalid");
    // An embedded jwk naming the attacker's key is ignored: the signature is
    // checked against the JWKS key for the kid.
    let attacker = Arc::new(TestKey::generate("ins_test_1"));
    let embedded = app
        .issuer
        .token()
        .signed_with(attacker.clone())
        .header("jwk", attacker.jwk())
        .sign();
    assert_401(
        &app.get("/me", Some(&embedded)).await,
        "token-invalid-signature",
    );
}

#[tokio::test]
async fn malformed_tokens_are_invalid_never_500() {
    let app = TestApp::start().await;
    let header = b64(&json!({"alg": "RS256", "kid": "ins_test_1"}));
    for token in [
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        "%%%.%%%.%%%",
        &format!("{header}.!!!.abc"),
        &format!("{header}.{}.", b64(&json!("just a string"))),
        &format!("{}.e30.sig", b64(&json!(["array header"]))),
    ] {
        let reply = app
            .get_with("/me", &[("authorization", &format!("Bearer {token}"))])
            .await;
        assert_eq!(reply.status, 401, "{token}: {reply:?}");
        assert!(
            !reply.text.contains(token) || token.len() < 3,
            "token echoed: {}",
            reply.text
        );
    }
    // Two spaces after the scheme is not `Bearer <token>`.
    let token = app.issuer.token().sign();
    let reply = app
        .get_with("/me", &[("authorization", &format!("Bearer  {token}"))])
        .await;
    assert_401(&reply, "token-invalid");
}

#[tokio::test]
async fn the_body_never_echoes_the_token() {
    let app = TestApp::start().await;
    let token = app.issuer.token().expired().sign();
    let reply = app.get("/me", Some(&token)).await;
    assert!(!reply.text.contains(&token));
    assert!(!reply.text.contains(token.split('.').nth(1).unwrap()));
    assert_eq!(
        reply.body.as_object().unwrap().len(),
        2,
        "only error and reason: {}",
        reply.text
    );
}

#[tokio::test]
async fn machine_tokens_are_refused() {
    let app = TestApp::start().await;
    let machine = app.issuer.token().subject("mch_2abc").sign();
    assert_401(&app.get("/me", Some(&machine)).await, "token-type-mismatch");
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let app = TestApp::start().await;
    let token = app
        .issuer
        .token()
        .iss("https://evil.clerk.accounts.dev")
        .sign();
    assert_401(&app.get("/me", Some(&token)).await, "token-invalid-issuer");
    let missing = app.issuer.token().without_claim("iss").sign();
    assert_401(
        &app.get("/me", Some(&missing)).await,
        "token-invalid-issuer",
    );
}

#[tokio::test]
async fn azp_is_required_and_listed_when_parties_are_configured() {
    let app = TestApp::start_with(|c| c.authorized_parties(["https://app.example.com"])).await;
    let good = app.issuer.token().azp("https://app.example.com").sign();
    assert_eq!(app.get("/me", Some(&good)).await.status, 200);
    let wrong = app.issuer.token().azp("https://evil.example.com").sign();
    assert_401(
        &app.get("/me", Some(&wrong)).await,
        "token-invalid-authorized-parties",
    );
    let missing = app.issuer.token().without_claim("azp").sign();
    assert_401(
        &app.get("/me", Some(&missing)).await,
        "token-invalid-authorized-parties",
    );
}

#[tokio::test]
async fn azp_is_not_checked_without_parties() {
    let app = TestApp::start().await;
    let any = app.issuer.token().azp("https://anything.example").sign();
    assert_eq!(app.get("/me", Some(&any)).await.status, 200);
    let missing = app.issuer.token().without_claim("azp").sign();
    assert_eq!(app.get("/me", Some(&missing)).await.status, 200);
}

#[tokio::test]
async fn audience_is_checked_only_when_configured() {
    let app = TestApp::start_with(|c| c.audience(["api://orders"])).await;
    let good = app
        .issuer
        .token()
        .claim("aud", json!(["other", "api://orders"]))
        .sign();
    assert_eq!(app.get("/me", Some(&good)).await.status, 200);
    let wrong = app.issuer.token().claim("aud", "api://billing").sign();
    assert_401(
        &app.get("/me", Some(&wrong)).await,
        "token-invalid-audience",
    );
    let missing = app.issuer.token().sign();
    assert_401(
        &app.get("/me", Some(&missing)).await,
        "token-invalid-audience",
    );
    let plain = TestApp::start().await;
    let any = plain.issuer.token().claim("aud", "whatever").sign();
    assert_eq!(plain.get("/me", Some(&any)).await.status, 200);
}

#[tokio::test]
async fn pending_sessions_are_signed_out_unless_the_app_opts_in() {
    let app = TestApp::start().await;
    let pending = app.issuer.token().pending().sign();
    assert_401(&app.get("/me", Some(&pending)).await, "session-pending");
    assert_eq!(
        app.get("/maybe", Some(&pending)).await.body,
        json!({"sub": null})
    );
    let opted_in = TestApp::start_with(|c| c.accept_pending_sessions(true)).await;
    let pending = opted_in.issuer.token().pending().sign();
    assert_eq!(opted_in.get("/me", Some(&pending)).await.status, 200);
}

#[tokio::test]
async fn scheme_is_case_insensitive_and_header_wins_over_cookie() {
    let app = TestApp::start().await;
    let alice = app.issuer.token().subject("user_alice").sign();
    let bob = app.issuer.token().subject("user_bob").sign();
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let reply = app
            .get_with("/me", &[("authorization", &format!("{scheme} {alice}"))])
            .await;
        assert_eq!(reply.body["sub"], "user_alice", "{scheme}");
    }
    let cookie = format!("theme=dark; __session={bob}; __client_uat=1");
    let reply = app.get_with("/me", &[("cookie", &cookie)]).await;
    assert_eq!(reply.body["sub"], "user_bob");
    let reply = app
        .get_with(
            "/me",
            &[
                ("authorization", &format!("Bearer {alice}")),
                ("cookie", &cookie),
            ],
        )
        .await;
    assert_eq!(reply.body["sub"], "user_alice");
    // A bad header token is not rescued by a good cookie.
    let reply = app
        .get_with(
            "/me",
            &[("authorization", "Bearer not.a.token"), ("cookie", &cookie)],
        )
        .await;
    assert_eq!(reply.status, 401);
    // A non-Bearer scheme is not a token: the cookie is used.
    let reply = app
        .get_with(
            "/me",
            &[("authorization", "Basic dXNlcjpwYXNz"), ("cookie", &cookie)],
        )
        .await;
    assert_eq!(reply.body["sub"], "user_bob");
}

#[tokio::test]
async fn optional_auth_is_none_for_absent_invalid_and_expired_tokens() {
    let app = TestApp::start().await;
    assert_eq!(app.get("/maybe", None).await.body, json!({"sub": null}));
    assert_eq!(
        app.get("/maybe", Some("garbage")).await.body,
        json!({"sub": null})
    );
    let expired = app.issuer.token().expired().sign();
    assert_eq!(
        app.get("/maybe", Some(&expired)).await.body,
        json!({"sub": null})
    );
    let forged = app.issuer.token().alg(TestAlg::None).sign();
    assert_eq!(
        app.get("/maybe", Some(&forged)).await.body,
        json!({"sub": null})
    );
    let good = app.issuer.token().subject("user_x").sign();
    assert_eq!(
        app.get("/maybe", Some(&good)).await.body,
        json!({"sub": "user_x"})
    );
}

#[tokio::test]
async fn roles_any_of_exact_and_never_from_the_org_role() {
    let app = TestApp::start().await;
    let admin = app.issuer.token().roles(["admin"]).sign();
    assert_eq!(
        app.get("/admin", Some(&admin)).await.text,
        "admin user_test"
    );
    let editor = app.issuer.token().roles(["editor"]).sign();
    let reply = app.get("/admin", Some(&editor)).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.reason(), "missing-role");
    assert_eq!(
        reply.challenge.as_deref(),
        Some("Bearer error=\"insufficient_scope\", error_description=\"missing-role\"")
    );
    assert_eq!(app.get("/editors", Some(&editor)).await.status, 200);
    let upper = app.issuer.token().roles(["Admin"]).sign();
    assert_eq!(app.get("/admin", Some(&upper)).await.status, 403);
    // Creating your own organization makes you org:admin, never an app admin.
    let org_admin = app.issuer.token().org("org_1", "mine", "admin").sign();
    assert_eq!(app.get("/admin", Some(&org_admin)).await.status, 403);
    // Roles from role, metadata.role, metadata.roles too.
    for (claim, value) in [
        ("role", json!("admin")),
        ("metadata", json!({"role": "admin"})),
        ("metadata", json!({"roles": ["x", "admin"]})),
    ] {
        let token = app.issuer.token().claim(claim, value).sign();
        assert_eq!(app.get("/admin", Some(&token)).await.status, 200, "{claim}");
    }
    // Wrong type is absent: 403, not 401.
    let wrong = app.issuer.token().claim("roles", 7).sign();
    assert_eq!(app.get("/admin", Some(&wrong)).await.status, 403);
    // No token is still 401 on a role route.
    assert_eq!(app.get("/admin", None).await.status, 401);
}

#[tokio::test]
async fn configurable_role_claim_paths() {
    let app = TestApp::start_with(|c| c.role_claims(["public_metadata.app_roles"])).await;
    let custom = app
        .issuer
        .token()
        .claim("public_metadata", json!({"app_roles": ["admin"]}))
        .sign();
    assert_eq!(app.get("/admin", Some(&custom)).await.status, 200);
    let default_path = app.issuer.token().roles(["admin"]).sign();
    assert_eq!(app.get("/admin", Some(&default_path)).await.status, 403);
}

#[tokio::test]
async fn v1_org_claims_role_and_permissions() {
    let app = TestApp::start().await;
    let member = app
        .issuer
        .token()
        .shape(ClaimShape::V1)
        .org("org_1", "acme", "org:admin")
        .permissions(["org:billing:manage", "org:reports:read"])
        .sign();
    let me = app.get("/me", Some(&member)).await;
    assert_eq!(me.body["org_id"], "org_1");
    assert_eq!(me.body["org_role"], "org:admin");
    assert_eq!(me.body["v"], 1);
    assert_eq!(app.get("/org-admin", Some(&member)).await.status, 200);
    assert_eq!(app.get("/billing", Some(&member)).await.status, 200);
    assert_eq!(app.get("/billing-reports", Some(&member)).await.status, 200);
    let plain = app
        .issuer
        .token()
        .shape(ClaimShape::V1)
        .org("org_1", "acme", "member")
        .sign();
    let reply = app.get("/billing", Some(&plain)).await;
    assert_eq!((reply.status, reply.reason()), (403, "missing-permission"));
    let reply = app.get("/org-admin", Some(&plain)).await;
    assert_eq!((reply.status, reply.reason()), (403, "missing-org-role"));
    // Wrong-typed org_permissions is absent.
    let wrong_type = app
        .issuer
        .token()
        .shape(ClaimShape::V1)
        .claim("org_id", "org_1")
        .claim("org_permissions", "org:billing:manage")
        .sign();
    assert_eq!(app.get("/billing", Some(&wrong_type)).await.status, 403);
}

#[tokio::test]
async fn v2_org_claims_with_fpm_decoding() {
    let app = TestApp::start().await;
    let member = app
        .issuer
        .token()
        .org("org_2", "beta", "admin")
        .permissions(["org:billing:manage", "org:billing:read", "org:reports:read"])
        .sign();
    let me = app.get("/me", Some(&member)).await;
    assert_eq!(me.body["v"], 2);
    assert_eq!(me.body["org_role"], "org:admin");
    assert_eq!(
        me.body["permissions"],
        json!(["org:billing:manage", "org:billing:read", "org:reports:read"])
    );
    assert_eq!(app.get("/billing-reports", Some(&member)).await.status, 200);
    assert_eq!(app.get("/org-admin", Some(&member)).await.status, 200);

    // Hand-built v2 claims: user-scoped features take no part, masks select
    // `per` entries least significant bit first, bad masks grant nothing.
    let hand = app
        .issuer
        .token()
        .claim("fea", "u:profile,o:billing,o:reports")
        .claim(
            "o",
            json!({"id": "org_3", "rol": "member", "per": "read,manage", "fpm": "2,x"}),
        )
        .sign();
    let me = app.get("/me", Some(&hand)).await;
    assert_eq!(me.body["permissions"], json!(["org:billing:manage"]));
    assert_eq!(app.get("/billing", Some(&hand)).await.status, 200);
    assert_eq!(app.get("/billing-reports", Some(&hand)).await.status, 403);
    // v2 ignores org_* claims.
    let mixed = app
        .issuer
        .token()
        .claim("org_id", "org_v1")
        .claim("org_permissions", json!(["org:billing:manage"]))
        .sign();
    assert_eq!(app.get("/billing", Some(&mixed)).await.status, 403);
    assert_eq!(
        app.get("/me", Some(&mixed)).await.body["org_id"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn keys_combine_with_and() {
    let app = TestApp::start().await;
    let both = app
        .issuer
        .token()
        .roles(["admin"])
        .org("org_1", "acme", "member")
        .permissions(["org:billing:manage"])
        .sign();
    assert_eq!(app.get("/admin-billing", Some(&both)).await.status, 200);
    let role_only = app.issuer.token().roles(["admin"]).sign();
    assert_eq!(
        app.get("/admin-billing", Some(&role_only)).await.reason(),
        "missing-permission"
    );
    let perm_only = app
        .issuer
        .token()
        .org("org_1", "acme", "member")
        .permissions(["org:billing:manage"])
        .sign();
    assert_eq!(
        app.get("/admin-billing", Some(&perm_only)).await.reason(),
        "missing-role"
    );
}

#[tokio::test]
async fn every_single_character_change_is_a_401_never_a_200_or_500() {
    let app = TestApp::start().await;
    let token = app.issuer.token().roles(["admin"]).sign();
    assert_eq!(app.get("/admin", Some(&token)).await.status, 200);
    let alphabet = ['A', 'z', '0', '-', '_', '.', '='];
    let mut checked = 0;
    for (position, original) in token.char_indices().step_by(3) {
        let replacement = alphabet[position % alphabet.len()];
        let replacement = if replacement == original {
            'Q'
        } else {
            replacement
        };
        let mut mutated = token.clone();
        mutated.replace_range(position..position + 1, &replacement.to_string());
        let reply = app.get("/admin", Some(&mutated)).await;
        assert_eq!(reply.status, 401, "position {position}: {reply:?}");
        assert!(!reply.text.contains(&mutated));
        checked += 1;
    }
    assert!(checked > 200, "{checked}");
}

#[tokio::test]
async fn a_header_over_one_kibibyte_is_refused() {
    let app = TestApp::start().await;
    // Decoded on the stack: a header past 1 KiB is not a Clerk token.
    let big = app.issuer.token().header("x-pad", "x".repeat(1100)).sign();
    assert_401(&app.get("/me", Some(&big)).await, "token-invalid");
    let normal = app.issuer.token().header("x-pad", "x".repeat(200)).sign();
    assert_eq!(app.get("/me", Some(&normal)).await.status, 200);
}

/// An `exp` a minute away, for hand-written payloads.
fn a_minute_from_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60
}

#[tokio::test]
async fn a_claim_given_twice_is_invalid() {
    let app = TestApp::start().await;
    let exp = a_minute_from_now();
    let iss = app.issuer.issuer();
    let payload = |body: &str| format!(r#"{{{body},"exp":{exp},"iss":"{iss}"}}"#);
    let twice = app
        .issuer
        .token()
        .raw_payload(payload(r#""sub":"user_a","sub":"user_admin""#))
        .sign();
    assert_401(&app.get("/me", Some(&twice)).await, "token-invalid");
    let once = app
        .issuer
        .token()
        .raw_payload(payload(r#""sub":"user_a""#))
        .sign();
    assert_eq!(app.get("/me", Some(&once)).await.status, 200);
}

#[tokio::test]
async fn payloads_of_every_shape_are_read_alike_and_only_objects_pass() {
    let app = TestApp::start().await;
    let exp = a_minute_from_now();
    let iss = app.issuer.issuer();
    let signed = |payload: String| app.issuer.token().raw_payload(payload).sign();
    // The ordinary shape (read in one pass) and shapes left to serde_json:
    // escapes, a fractional exp, whitespace, nested template claims.
    for (payload, sub) in [
        (
            format!(
                r#"{{"sub":"user_1","exp":{exp},"iss":"{iss}","o":{{"id":"org_1","rol":"admin"}},"fva":[0,-1],"meta":{{"x":[true,null,1.5e2]}}}}"#
            ),
            "user_1",
        ),
        (
            format!(r#"{{"sub":"user_\u0032","exp":{exp},"iss":"{iss}"}}"#),
            "user_2",
        ),
        (
            format!(r#"{{"sub":"user_3","exp":{exp}.5,"iss":"{iss}"}}"#),
            "user_3",
        ),
        (
            format!("\n {{ \"sub\" : \"user_4\" ,\t\"exp\" : {exp} , \"iss\":\"{iss}\" }} "),
            "user_4",
        ),
    ] {
        let reply = app.get("/me", Some(&signed(payload.clone()))).await;
        assert_eq!(reply.status, 200, "{payload}: {reply:?}");
        assert_eq!(reply.body["sub"], sub, "{payload}");
    }
    // Signed, but not a JSON object: an array (which serde would read into
    // a struct field by field), a string, a number, trailing bytes.
    for payload in [
        format!(r#"["user_5",{exp},0,0,"{iss}"]"#),
        r#""user_6""#.to_owned(),
        "7".to_owned(),
        format!(r#"{{"sub":"user_8","exp":{exp},"iss":"{iss}"}} x"#),
        format!(r#"{{"sub":"user_9","exp":{exp},"iss":"{iss}","x":[1,]}}"#),
    ] {
        assert_401(
            &app.get("/me", Some(&signed(payload))).await,
            "token-invalid",
        );
    }
}

//! A custom `rejection_response` renders every refusal, whichever part of
//! the edge refuses: the guards, the extractors without a guard, optional
//! routes, machine routes, the layer, and the verifier's own methods.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use clerk_guard::testing::{JwksMode, TestIssuer};
use clerk_guard::{
    clerk_protected, Accepts, ClerkAuth, ClerkLayer, ClerkVerifier, Principal, TokenKind,
};
use clerk_guard_tests::{fetch, fetch_with, serve, Reply};

#[clerk_protected]
async fn me(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

#[clerk_protected(roles = "admin")]
async fn admin() -> &'static str {
    "admin"
}

#[clerk_protected(reverification = "strict")]
async fn step_up(_: ClerkAuth) -> &'static str {
    "fresh"
}

#[clerk_protected(accepts = "m2m", scopes = "write")]
async fn writer(_: Principal) -> &'static str {
    "written"
}

#[clerk_protected(optional)]
async fn feed(auth: Option<ClerkAuth>) -> &'static str {
    if auth.is_some() {
        "yours"
    } else {
        "public"
    }
}

async fn bare_auth(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

async fn bare_principal(caller: Principal) -> String {
    caller.subject().to_owned()
}

async fn bare_optional(auth: Option<ClerkAuth>) -> &'static str {
    if auth.is_some() {
        "yours"
    } else {
        "public"
    }
}

/// Every response of the app's renderer says so: status kept, a marker
/// header, and a body of its own.
fn config(issuer: &TestIssuer) -> clerk_guard::ClerkConfig {
    issuer
        .config()
        .rejection_response(|rejection| {
            (
                rejection.status(),
                [("x-rendered-by", "app")],
                format!("custom {}", rejection.reason()),
            )
                .into_response()
        })
        .build()
        .unwrap()
}

fn router(verifier: ClerkVerifier) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .route("/step-up", get(step_up))
        .route("/writer", get(writer))
        .route("/feed", get(feed))
        .route("/bare-auth", get(bare_auth))
        .route("/bare-principal", get(bare_principal))
        .route("/bare-optional", get(bare_optional))
        .nest(
            "/layered",
            Router::new()
                .route("/me", get(bare_auth))
                .layer(ClerkLayer::required().with_verifier(verifier.clone())),
        )
        .nest(
            "/machines",
            Router::new().route("/who", get(bare_principal)).layer(
                ClerkLayer::required()
                    .with_verifier(verifier.clone())
                    .accepts(Accepts::M2M.with(TokenKind::ApiKey)),
            ),
        )
        .layer(Extension(verifier))
}

#[track_caller]
fn rendered(reply: &Reply, status: u16, reason: &str) {
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (status, format!("custom {reason}").as_str()),
    );
}

#[tokio::test]
async fn every_refusal_is_rendered_by_the_application() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(config(&issuer)).unwrap();
    let base = serve(router(verifier.clone())).await;
    let get = |path: &str, token: Option<String>| {
        let url = format!("{base}{path}");
        async move { fetch(&url, token.as_deref()).await }
    };
    let user = issuer.token().sign();
    let expired = issuer.token().expired().sign();
    let m2m = issuer.m2m_token().sign();
    let api_key = issuer.opaque(TokenKind::ApiKey).mint();
    let not_a_key = format!("ak_{}", "x".repeat(40));

    // The guard, with and without a parameter after it.
    rendered(&get("/me", None).await, 401, "token-missing");
    rendered(
        &get("/me", Some("a.b.c".into())).await,
        401,
        "token-invalid",
    );
    rendered(
        &get("/me", Some(expired.clone())).await,
        401,
        "token-expired",
    );
    rendered(
        &get("/me", Some(m2m.clone())).await,
        401,
        "token-type-mismatch",
    );
    rendered(
        &get("/admin", Some(user.clone())).await,
        403,
        "missing-role",
    );
    rendered(&get("/admin", None).await, 401, "token-missing");
    rendered(
        &get("/step-up", Some(user.clone())).await,
        403,
        "reverification-error",
    );
    // A machine route.
    rendered(
        &get("/writer", Some(user.clone())).await,
        401,
        "token-type-mismatch",
    );
    rendered(
        &get("/writer", Some(m2m.clone())).await,
        403,
        "missing-scope",
    );
    rendered(
        &get("/writer", Some(not_a_key.clone())).await,
        401,
        "token-type-mismatch",
    );
    // The extractors without a guard.
    rendered(&get("/bare-auth", None).await, 401, "token-missing");
    rendered(
        &get("/bare-auth", Some(expired.clone())).await,
        401,
        "token-expired",
    );
    rendered(
        &get("/bare-principal", Some(expired.clone())).await,
        401,
        "token-expired",
    );
    // The layer, for sessions and for machines.
    rendered(&get("/layered/me", None).await, 401, "token-missing");
    rendered(
        &get("/layered/me", Some(m2m.clone())).await,
        401,
        "token-type-mismatch",
    );
    rendered(
        &get("/machines/who", Some(user.clone())).await,
        401,
        "token-type-mismatch",
    );
    rendered(
        &get("/machines/who", Some(not_a_key)).await,
        401,
        "token-invalid",
    );
    assert_eq!(get("/machines/who", Some(api_key)).await.status, 200);
    // A malformed Authorization header.
    let reply = fetch_with(&format!("{base}/me"), &[("authorization", "Bearer a b")]).await;
    rendered(&reply, 401, "token-invalid");
    // Optional routes answer anonymous requests themselves.
    assert_eq!(get("/feed", Some(expired.clone())).await.text, "public");
    assert_eq!(
        get("/bare-optional", Some(expired.clone())).await.text,
        "public"
    );

    // The verifier's own methods hand back a rendered refusal too.
    let refused = verifier.verify(&expired).await.unwrap_err();
    let response = refused.into_response();
    assert_eq!(response.headers()["x-rendered-by"], "app");
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {m2m}").parse().unwrap());
    let refused = verifier.authenticate(&headers).await.unwrap_err();
    assert_eq!(refused.into_response().headers()["x-rendered-by"], "app");
    let refused = verifier
        .authenticate_as(&headers, Accepts::API_KEY)
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), clerk_guard::Reason::TokenTypeMismatch);
    assert_eq!(refused.into_response().headers()["x-rendered-by"], "app");
}

#[tokio::test]
async fn unavailable_keys_are_rendered_by_the_application_on_every_path() {
    let issuer = TestIssuer::start().await.unwrap();
    issuer.set_mode(JwksMode::Status(503));
    let verifier = ClerkVerifier::new(config(&issuer)).unwrap();
    let base = serve(router(verifier)).await;
    let token = issuer.token().sign();
    for path in [
        "/me",
        "/admin",
        "/feed",
        "/bare-auth",
        "/bare-principal",
        "/bare-optional",
        "/layered/me",
    ] {
        let reply = fetch(&format!("{base}{path}"), Some(&token)).await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE.as_u16(),
            "{path}"
        );
        assert!(
            reply.text.starts_with("custom jwk-"),
            "{path}: {}",
            reply.text
        );
    }
    issuer.set_backend_api_mode(clerk_guard::testing::BackendApiMode::Status(500));
    let fresh_key = issuer.opaque(TokenKind::ApiKey).mint();
    let reply = fetch(&format!("{base}/machines/who"), Some(&fresh_key)).await;
    rendered(&reply, 503, "backend-api-unavailable");
}

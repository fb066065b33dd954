//! Router-wide protection with `ClerkLayer`, claims from the extensions, one
//! verification per request, custom rejections, per-router verifiers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use clerk_guard::testing::{JwksMode, TestIssuer};
use clerk_guard::{clerk_protected, ClerkAuth, ClerkLayer, ClerkVerifier, OptionalGuard};
use clerk_guard_tests::{fetch, serve};

async fn from_extensions(Extension(auth): Extension<ClerkAuth>) -> String {
    auth.user_id().to_owned()
}

async fn optional_from_extensions(auth: Option<Extension<ClerkAuth>>) -> String {
    auth.map(|Extension(a)| a.user_id().to_owned())
        .unwrap_or_else(|| "anonymous".into())
}

/// Two extractions of the same request share one verification: with the
/// token cache off, a second verification would allocate a second token.
#[clerk_protected]
async fn twice(a: ClerkAuth, b: ClerkAuth, Extension(c): Extension<ClerkAuth>) -> String {
    let same = a.token().as_ptr() == b.token().as_ptr() && b.token().as_ptr() == c.token().as_ptr();
    same.to_string()
}

#[clerk_protected(roles = "admin")]
async fn admin_behind_layer(auth: ClerkAuth) -> String {
    format!("admin {}", auth.user_id())
}

/// No parameters: the attribute's guard is the handler's only extractor,
/// and reads the layer's verdict.
#[clerk_protected(roles = "admin")]
async fn bare_admin_behind_layer() -> &'static str {
    "admin"
}

async fn setup(optional: bool) -> (TestIssuer, String) {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier =
        ClerkVerifier::new(issuer.config().token_cache_bytes(0).build().unwrap()).unwrap();
    let layer = if optional {
        ClerkLayer::optional()
    } else {
        ClerkLayer::required()
    };
    let app = Router::new()
        .route("/me", get(from_extensions))
        .route("/maybe", get(optional_from_extensions))
        .route("/twice", get(twice))
        .route("/admin", get(admin_behind_layer))
        .route("/bare-admin", get(bare_admin_behind_layer))
        .layer(layer.with_verifier(verifier));
    let base = serve(app).await;
    (issuer, base)
}

#[tokio::test]
async fn a_required_layer_protects_every_route() {
    let (issuer, base) = setup(false).await;
    let reply = fetch(&format!("{base}/me"), None).await;
    assert_eq!((reply.status, reply.reason()), (401, "token-missing"));
    let expired = issuer.token().expired().sign();
    assert_eq!(
        fetch(&format!("{base}/maybe"), Some(&expired))
            .await
            .reason(),
        "token-expired"
    );
    let token = issuer.token().subject("user_layer").sign();
    assert_eq!(
        fetch(&format!("{base}/me"), Some(&token)).await.text,
        "user_layer"
    );
    assert_eq!(
        fetch(&format!("{base}/twice"), Some(&token)).await.text,
        "true"
    );
    // The attribute behind a layer reuses its verification and adds the role check.
    assert_eq!(
        fetch(&format!("{base}/admin"), Some(&token)).await.status,
        403
    );
    let admin = issuer.token().roles(["admin"]).sign();
    assert_eq!(
        fetch(&format!("{base}/admin"), Some(&admin)).await.status,
        200
    );
    // The same behind the layer with a handler that takes nothing.
    assert_eq!(
        fetch(&format!("{base}/bare-admin"), Some(&token))
            .await
            .status,
        403
    );
    assert_eq!(
        fetch(&format!("{base}/bare-admin"), Some(&admin))
            .await
            .text,
        "admin"
    );
    let reply = fetch(&format!("{base}/bare-admin"), None).await;
    assert_eq!((reply.status, reply.reason()), (401, "token-missing"));
}

#[tokio::test]
async fn an_optional_layer_passes_anonymous_requests_on() {
    let (issuer, base) = setup(true).await;
    assert_eq!(
        fetch(&format!("{base}/maybe"), None).await.text,
        "anonymous"
    );
    let bad = issuer.token().expired().sign();
    assert_eq!(
        fetch(&format!("{base}/maybe"), Some(&bad)).await.text,
        "anonymous"
    );
    let token = issuer.token().subject("user_opt").sign();
    assert_eq!(
        fetch(&format!("{base}/maybe"), Some(&token)).await.text,
        "user_opt"
    );
    // Routes that require auth still refuse behind an optional layer.
    assert_eq!(fetch(&format!("{base}/twice"), None).await.status, 401);
    assert_eq!(
        fetch(&format!("{base}/admin"), Some(&bad)).await.status,
        401
    );
}

#[tokio::test]
async fn the_layer_answers_503_when_keys_cannot_be_had() {
    let (issuer, base) = setup(true).await;
    issuer.set_mode(JwksMode::Status(500));
    let token = issuer.token().sign();
    let reply = fetch(&format!("{base}/maybe"), Some(&token)).await;
    assert_eq!(
        (reply.status, reply.reason()),
        (503, "jwk-remote-failed-to-load")
    );
    // No token at all needs no keys.
    assert_eq!(
        fetch(&format!("{base}/maybe"), None).await.text,
        "anonymous"
    );
}

#[tokio::test]
async fn two_routers_with_two_verifiers_in_one_process() {
    let a = TestIssuer::start().await.unwrap();
    let b = TestIssuer::start().await.unwrap();
    let router_for = |issuer: &TestIssuer| {
        let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
        Router::new()
            .route("/me", get(from_extensions))
            .layer(ClerkLayer::required().with_verifier(verifier))
    };
    let base_a = serve(router_for(&a)).await;
    let base_b = serve(router_for(&b)).await;
    let token_a = a.token().subject("user_a").sign();
    assert_eq!(
        fetch(&format!("{base_a}/me"), Some(&token_a)).await.text,
        "user_a"
    );
    let reply = fetch(&format!("{base_b}/me"), Some(&token_a)).await;
    assert_eq!(reply.status, 401, "a token of issuer A is refused by B");
}

#[tokio::test]
async fn the_app_can_replace_the_rejection_response() {
    let issuer = TestIssuer::start().await.unwrap();
    let config = issuer
        .config()
        .rejection_response(|rejection| {
            let mut response = rejection.default_response();
            if rejection.status() == 401 {
                response = (
                    axum::http::StatusCode::UNAUTHORIZED,
                    format!("please sign in ({})", rejection.reason()),
                )
                    .into_response();
            }
            response
        })
        .build()
        .unwrap();
    let verifier = ClerkVerifier::new(config).unwrap();
    let app = Router::new()
        .route("/admin", get(admin_behind_layer))
        .route("/bare-admin", get(bare_admin_behind_layer))
        .route("/optional", get(|_: OptionalGuard| async { "ok" }))
        .layer(Extension(verifier));
    let base = serve(app).await;
    let reply = fetch(&format!("{base}/admin"), None).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (401, "please sign in (token-missing)")
    );
    let reply = fetch(&format!("{base}/admin"), Some(&issuer.token().sign())).await;
    assert_eq!((reply.status, reply.reason()), (403, "missing-role"));
    assert_eq!(fetch(&format!("{base}/optional"), None).await.text, "ok");
}

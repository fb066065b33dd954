//! The generated OpenAPI spec: Clerk's bearer scheme, each protected route's
//! requirement, the optional routes' anonymous alternative, and the
//! documented rejections, with the attribute above `#[utoipa::path]` (no
//! restating) and below it (one `security` line).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use axum::extract::Path;
use axum::routing::get;
use axum::{Extension, Router};
use clerk_guard::openapi::ClerkSecurity;
use clerk_guard::testing::TestIssuer;
use clerk_guard::{clerk_protected, ClerkAuth, ClerkVerifier};
use clerk_guard_tests::{fetch, serve};
use serde_json::{json, Value};
use utoipa::OpenApi;

/// Anyone.
#[utoipa::path(get, path = "/public", responses((status = 200, description = "public")))]
async fn public() -> &'static str {
    "public"
}

/// Any signed-in user.
#[clerk_protected]
#[utoipa::path(get, path = "/me", responses((status = 200, description = "the caller")))]
async fn me(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

/// Admins, with a path parameter read by the path macro next to the guard.
#[clerk_protected(roles = "admin")]
#[utoipa::path(
    get,
    path = "/items/{id}",
    params(("id" = u32, Path, description = "item id")),
    responses((status = 200, description = "an item")),
)]
async fn item(Path(id): Path<u32>, auth: ClerkAuth) -> String {
    format!("{id} {}", auth.user_id())
}

/// Signed in or not.
#[clerk_protected(optional)]
#[utoipa::path(get, path = "/feed", responses((status = 200, description = "a feed")))]
async fn feed(auth: Option<ClerkAuth>) -> String {
    auth.map_or("public feed".into(), |a| a.user_id().to_owned())
}

/// The other order: the path macro first, with its one `security` line.
#[utoipa::path(get, path = "/billing", security(("clerk" = [])), responses((status = 200, description = "billing")))]
#[clerk_protected(permissions = "org:billing:manage")]
async fn billing() -> &'static str {
    "billing"
}

#[derive(OpenApi)]
#[openapi(paths(public, me, item, feed, billing), modifiers(&ClerkSecurity))]
struct ApiDoc;

fn spec() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap()
}

#[test]
fn the_scheme_and_the_rejection_schema_are_registered() {
    let spec = spec();
    let scheme = &spec["components"]["securitySchemes"]["clerk"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    assert!(scheme["description"].as_str().unwrap().contains("Clerk"));
    let rejection = &spec["components"]["schemas"]["ClerkRejection"];
    assert_eq!(rejection["required"], json!(["error", "reason"]));
}

#[test]
fn protected_routes_carry_the_requirement_and_the_rejections() {
    let spec = spec();
    for path in ["/me", "/items/{id}", "/billing"] {
        let operation = &spec["paths"][path]["get"];
        assert_eq!(operation["security"], json!([{"clerk": []}]), "{path}");
        for status in ["401", "403", "503"] {
            let schema = &operation["responses"][status]["content"]["application/json"]["schema"];
            assert_eq!(
                schema["$ref"], "#/components/schemas/ClerkRejection",
                "{path} {status}"
            );
        }
        assert!(
            operation["responses"]["200"].is_object(),
            "{path}: the route's own response stays"
        );
    }
    // The guard did not disturb the path macro's reading of the extractors.
    let params = &spec["paths"]["/items/{id}"]["get"]["parameters"];
    assert_eq!(params.as_array().unwrap().len(), 1);
    assert_eq!(params[0]["name"], "id");
}

#[test]
fn optional_routes_allow_anonymous_requests() {
    let spec = spec();
    let operation = &spec["paths"]["/feed"]["get"];
    assert_eq!(operation["security"], json!([{}, {"clerk": []}]));
    assert!(operation["responses"]["503"].is_object());
    assert!(
        operation["responses"]["401"].is_null(),
        "optional routes never answer 401"
    );
    assert!(operation["responses"]["403"].is_null());
}

#[test]
fn public_routes_are_left_alone() {
    let spec = spec();
    let operation = &spec["paths"]["/public"]["get"];
    assert!(operation["security"].is_null());
    assert!(operation["responses"]["401"].is_null());
}

#[tokio::test]
async fn the_documented_handlers_still_protect_their_routes() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let app = Router::new()
        .route("/public", get(public))
        .route("/me", get(me))
        .route("/items/{id}", get(item))
        .route("/feed", get(feed))
        .route("/billing", get(billing))
        .layer(Extension(verifier));
    let base = serve(app).await;
    let admin = issuer.token().subject("user_admin").roles(["admin"]).sign();
    assert_eq!(fetch(&format!("{base}/me"), None).await.status, 401);
    assert_eq!(
        fetch(&format!("{base}/items/7"), Some(&admin)).await.text,
        "7 user_admin"
    );
    assert_eq!(
        fetch(&format!("{base}/items/7"), Some(&issuer.token().sign()))
            .await
            .status,
        403
    );
    assert_eq!(
        fetch(&format!("{base}/feed"), None).await.text,
        "public feed"
    );
    assert_eq!(
        fetch(&format!("{base}/billing"), Some(&admin)).await.status,
        403
    );
}

//! Handler shapes the attribute must keep working, driven over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{debug_handler, Extension, Json, Router};
use clerk_guard::__private::SoleGuard;
use clerk_guard::testing::TestIssuer;
use clerk_guard::{clerk_protected, ClerkAuth, ClerkVerifier, Guard, SignedIn};
use clerk_guard_tests::{fetch, fetch_with, serve};
use serde_json::{json, Value};

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

struct Api;

impl Api {
    /// Associated functions work: the requirement travels in the type, no
    /// item is needed beside the handler.
    #[clerk_protected(roles = "admin")]
    async fn admin(auth: ClerkAuth, State(state): State<AppState>) -> String {
        format!("{} {}", state.greeting, auth.user_id())
    }

    #[clerk_protected(optional)]
    pub(crate) async fn maybe(auth: Option<ClerkAuth>) -> String {
        auth.map(|a| a.user_id().to_owned()).unwrap_or_default()
    }
}

#[derive(Debug)]
struct AppError(&'static str);

impl IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        (StatusCode::IM_A_TEAPOT, self.0).into_response()
    }
}

fn parse(id: &str) -> Result<u32, AppError> {
    id.parse().map_err(|_| AppError("not a number"))
}

/// `?` and early `return` keep their meaning.
#[clerk_protected]
async fn result_handler(Path(id): Path<String>, auth: ClerkAuth) -> Result<String, AppError> {
    if id == "early" {
        return Ok("returned early".into());
    }
    let n = parse(&id)?;
    Ok(format!("{} {}", auth.user_id(), n * 2))
}

/// The query of `body_last`.
#[derive(Debug, serde::Deserialize)]
pub struct Search {
    pub q: String,
}

#[clerk_protected(permissions = "org:notes:write")]
pub async fn body_last(
    headers: HeaderMap,
    Query(search): Query<Search>,
    auth: ClerkAuth,
    Json(body): Json<Value>,
) -> Json<Value> {
    Json(json!({
        "user": auth.user_id(),
        "q": search.q,
        "agent": headers.get("user-agent").is_some(),
        "body": body,
    }))
}

#[clerk_protected(org_role = "org:admin")]
async fn generic<S>(State(state): State<S>) -> String
where
    S: Clone + Send + Sync + 'static + AsRef<str>,
{
    state.as_ref().to_owned()
}

#[derive(Clone)]
struct Named(String);
impl AsRef<str> for Named {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// `#[clerk_protected]` goes above `#[debug_handler]`: attributes expand
/// outermost first, so `debug_handler` then checks the guarded signature.
/// (Below it, `debug_handler` would check a signature that no longer exists.)
#[clerk_protected(roles = "admin")]
#[debug_handler]
async fn debug_inner(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

#[clerk_protected]
async fn no_params() -> impl IntoResponse {
    "nothing declared"
}

/// No parameters, with a requirement: the attribute puts `SoleGuard` first.
#[clerk_protected(roles = "admin")]
async fn no_params_admin() -> &'static str {
    "admin, nothing declared"
}

/// By hand, what the attribute puts in a handler without parameters, with
/// an extractor after it to see what it left in the request: nothing.
async fn sole_guard_leaves(
    _: SoleGuard<SignedIn>,
    recorded: Option<Extension<ClerkAuth>>,
) -> &'static str {
    if recorded.is_some() {
        "recorded"
    } else {
        "not recorded"
    }
}

/// The same with `Guard`, which leaves its verdict for the extractors after it.
async fn guard_leaves(_: Guard<SignedIn>, recorded: Option<Extension<ClerkAuth>>) -> &'static str {
    if recorded.is_some() {
        "recorded"
    } else {
        "not recorded"
    }
}

async fn start() -> (TestIssuer, String) {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let app = Router::new()
        .route("/admin", get(Api::admin))
        .route("/maybe", get(Api::maybe))
        .route("/result/{id}", get(result_handler))
        .route("/body", post(body_last))
        .route("/debug-inner", get(debug_inner))
        .route("/none", get(no_params))
        .route("/none-admin", get(no_params_admin))
        .route("/sole-leaves", get(sole_guard_leaves))
        .route("/guard-leaves", get(guard_leaves))
        .with_state(AppState { greeting: "hi" })
        .merge(
            Router::new()
                .route("/generic", get(generic::<Named>))
                .with_state(Named("generic".into())),
        )
        .layer(Extension(verifier));
    let base = serve(app).await;
    (issuer, base)
}

#[tokio::test]
async fn associated_functions_with_state() {
    let (issuer, base) = start().await;
    let admin = issuer.token().subject("user_1").roles(["admin"]).sign();
    assert_eq!(
        fetch(&format!("{base}/admin"), Some(&admin)).await.text,
        "hi user_1"
    );
    assert_eq!(
        fetch(&format!("{base}/admin"), Some(&issuer.token().sign()))
            .await
            .status,
        403
    );
    assert_eq!(
        fetch(&format!("{base}/maybe"), Some(&admin)).await.text,
        "user_1"
    );
    assert_eq!(fetch(&format!("{base}/maybe"), None).await.text, "");
}

#[tokio::test]
async fn question_mark_and_early_return_keep_their_meaning() {
    let (issuer, base) = start().await;
    let token = issuer.token().subject("user_2").sign();
    assert_eq!(
        fetch(&format!("{base}/result/21"), Some(&token)).await.text,
        "user_2 42"
    );
    assert_eq!(
        fetch(&format!("{base}/result/early"), Some(&token))
            .await
            .text,
        "returned early"
    );
    let reply = fetch(&format!("{base}/result/x"), Some(&token)).await;
    assert_eq!((reply.status, reply.text.as_str()), (418, "not a number"));
    // The guard runs before the handler: no token, no body.
    assert_eq!(fetch(&format!("{base}/result/x"), None).await.status, 401);
}

#[tokio::test]
async fn json_body_stays_last_and_is_not_read_when_refused() {
    let (issuer, base) = start().await;
    let token = issuer
        .token()
        .org("org_1", "a", "member")
        .permissions(["org:notes:write"])
        .sign();
    let client = reqwest::Client::new();
    let reply = client
        .post(format!("{base}/body?q=hello"))
        .bearer_auth(&token)
        .header("user-agent", "test")
        .json(&json!({"note": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(
        body,
        json!({"user": "user_test", "q": "hello", "agent": true, "body": {"note": 1}})
    );
    // Refused before the body is parsed: 403, not a JSON error.
    let reply = client
        .post(format!("{base}/body?q=x"))
        .bearer_auth(issuer.token().sign())
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 403);
}

#[tokio::test]
async fn generics_where_clauses_debug_handler_and_no_params() {
    let (issuer, base) = start().await;
    let org_admin = issuer.token().org("org_1", "a", "admin").sign();
    assert_eq!(
        fetch(&format!("{base}/generic"), Some(&org_admin))
            .await
            .text,
        "generic"
    );
    let admin = issuer.token().roles(["admin"]).sign();
    assert_eq!(
        fetch(&format!("{base}/debug-inner"), Some(&admin))
            .await
            .status,
        200
    );
    assert_eq!(
        fetch(&format!("{base}/debug-inner"), None).await.status,
        401
    );
    let reply = fetch_with(
        &format!("{base}/none"),
        &[("cookie", &format!("__session={admin}; __client_uat=1"))],
    )
    .await;
    assert_eq!(reply.text, "nothing declared");
    assert_eq!(fetch(&format!("{base}/none"), None).await.status, 401);
}

#[tokio::test]
async fn a_handler_without_parameters_is_guarded_alone() {
    let (issuer, base) = start().await;
    let admin = issuer.token().roles(["admin"]).sign();
    let member = issuer.token().sign();
    let reply = fetch(&format!("{base}/none-admin"), Some(&admin)).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (200, "admin, nothing declared")
    );
    assert_eq!(
        fetch(&format!("{base}/none-admin"), Some(&member))
            .await
            .status,
        403
    );
    let reply = fetch(&format!("{base}/none-admin"), None).await;
    assert_eq!((reply.status, reply.reason()), (401, "token-missing"));
    let expired = issuer.token().roles(["admin"]).expired().sign();
    let reply = fetch(&format!("{base}/none-admin"), Some(&expired)).await;
    assert_eq!((reply.status, reply.reason()), (401, "token-expired"));
    // The guard alone records nothing (no extractor follows it in the
    // attribute's expansion); `Guard` leaves its verdict for those after it.
    assert_eq!(
        fetch(&format!("{base}/sole-leaves"), Some(&member))
            .await
            .text,
        "not recorded"
    );
    assert_eq!(
        fetch(&format!("{base}/guard-leaves"), Some(&member))
            .await
            .text,
        "recorded"
    );
    assert_eq!(
        fetch(&format!("{base}/sole-leaves"), None).await.status,
        401
    );
}

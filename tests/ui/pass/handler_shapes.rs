//! Visibility, docs, attributes, generics, where-clauses, impl blocks,
//! debug_handler, extractors of every kind.
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{debug_handler, Json, Router};
use clerk_guard::{clerk_protected, ClerkAuth};

#[derive(Clone)]
struct Db;

/// Documented, public, with another attribute kept.
#[clerk_protected(roles = "admin")]
#[allow(clippy::unused_async)]
pub async fn documented(State(_db): State<Db>) -> impl IntoResponse {
    "ok"
}

#[clerk_protected]
pub(crate) async fn all_kinds(
    Path(_id): Path<u32>,
    Query(_q): Query<std::collections::HashMap<String, String>>,
    _headers: HeaderMap,
    auth: ClerkAuth,
    Json(body): Json<serde_json::Value>,
) -> Result<Json<serde_json::Value>, String> {
    if body.is_null() {
        return Err(auth.user_id().to_owned());
    }
    let n: u32 = "1".parse().map_err(|_| "bad".to_owned())?;
    Ok(Json(serde_json::json!({ "n": n })))
}

#[clerk_protected(org_role = "admin")]
async fn generic<S>(State(_s): State<S>) -> &'static str
where
    S: Clone + Send + Sync + 'static,
{
    "generic"
}

struct Handlers;

impl Handlers {
    #[clerk_protected(roles = ["a", "b"])]
    async fn associated(auth: ClerkAuth) -> String {
        auth.user_id().to_owned()
    }

    #[clerk_protected(optional)]
    pub async fn associated_optional(_auth: Option<ClerkAuth>) {}
}

#[clerk_protected(permissions = "org:x:y")]
#[debug_handler]
async fn checked(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

/// The session alone, however the parameter is spelled: the guard hands it over.
#[clerk_protected(permissions = "org:billing:manage", sign_in_redirect)]
async fn only_session(mut auth: clerk_guard::ClerkAuth) -> String {
    auth = auth.clone();
    auth.user_id().to_owned()
}

#[clerk_protected]
#[debug_handler]
async fn only_session_debugged(#[allow(unused_mut)] mut auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

#[clerk_protected(roles = "admin")]
async fn only_session_unused(_: ClerkAuth) {}

fn main() {
    let _: Router = Router::new()
        .route("/a", get(documented))
        .route("/b/{id}", post(all_kinds))
        .route("/c", get(generic::<Db>))
        .route("/d", get(Handlers::associated))
        .route("/e", get(Handlers::associated_optional))
        .route("/f", get(checked))
        .route("/g", get(only_session))
        .route("/h", get(only_session_debugged))
        .route("/i", get(only_session_unused))
        .with_state(Db);
}

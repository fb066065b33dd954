//! `accepts` and `scopes`: every kind, lists, Clerk's names, optional.
use axum::routing::get;
use axum::Router;
use clerk_guard::{clerk_protected, ClerkAuth, Principal};

#[clerk_protected(accepts = "m2m")]
async fn machine(caller: Principal) -> String {
    caller.subject().to_owned()
}

#[clerk_protected(accepts = ["session", "m2m", "oauth", "api_key"])]
async fn any_kind(caller: Principal) -> String {
    caller.kind().to_string()
}

#[clerk_protected(accepts = "any")]
async fn any_word() {}

#[clerk_protected(accepts = ["oauth_token", "m2m_token"], scopes = ["read", "write"])]
async fn scoped(caller: Principal) -> String {
    caller.scopes().join(" ")
}

#[clerk_protected(scopes = "read:reports", accepts = "oauth")]
async fn scope_first() {}

#[clerk_protected(accepts = "session", roles = "admin")]
async fn explicit_session(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

#[clerk_protected(optional, accepts = ["session", "api_key"])]
async fn optional_any(caller: Option<Principal>, auth: Option<ClerkAuth>) -> &'static str {
    if caller.is_some() || auth.is_some() { "in" } else { "out" }
}

/// The caller alone, spelled with its path: the guard hands it over.
#[clerk_protected(accepts = ["m2m", "api_key"], scopes = "read")]
async fn only_caller(mut caller: clerk_guard::Principal) -> String {
    caller = caller.clone();
    caller.subject().to_owned()
}

fn main() {
    let _: Router = Router::new()
        .route("/m", get(machine))
        .route("/a", get(any_kind))
        .route("/w", get(any_word))
        .route("/s", get(scoped))
        .route("/f", get(scope_first))
        .route("/e", get(explicit_session))
        .route("/o", get(optional_any))
        .route("/c", get(only_caller));
}

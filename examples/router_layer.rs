//! A router protected as a whole (fastapi-clerk-auth's router dependency):
//! handlers read the claims from the request extensions.
//! `cargo run --example router_layer`

use axum::routing::get;
use axum::{Extension, Router};
use clerk_guard::{ClerkAuth, ClerkLayer};
use clerk_guard_examples::run;

async fn dashboard(Extension(auth): Extension<ClerkAuth>) -> String {
    format!("dashboard of {}\n", auth.user_id())
}

async fn settings(Extension(auth): Extension<ClerkAuth>) -> String {
    format!("settings of {}\n", auth.user_id())
}

async fn health() -> &'static str {
    "ok\n"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let private = Router::new()
        .route("/dashboard", get(dashboard))
        .route("/settings", get(settings))
        .layer(ClerkLayer::required());
    let app = Router::new()
        .route("/health", get(health))
        .nest("/app", private);
    run(app, 3003, |issuer| {
        vec![("TOKEN", issuer.token().expires_in(3600).sign())]
    })
    .await
}

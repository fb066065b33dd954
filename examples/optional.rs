//! Optional authentication: anonymous users get a limited answer.
//! `cargo run --example optional`

use axum::routing::get;
use axum::{Json, Router};
use clerk_guard::{clerk_protected, ClerkAuth};
use clerk_guard_examples::run;
use serde_json::{json, Value};

/// Signed-in users see their own items; everyone else sees the public ones.
/// An invalid or expired token is treated as anonymous, never as a user.
#[clerk_protected(optional)]
async fn feed(auth: Option<ClerkAuth>) -> Json<Value> {
    match auth {
        Some(auth) => Json(json!({ "items": ["public", "private"], "for": auth.user_id() })),
        None => Json(json!({ "items": ["public"], "for": null })),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Router::new().route("/feed", get(feed));
    run(app, 3002, |issuer| {
        vec![("TOKEN", issuer.token().expires_in(3600).sign())]
    })
    .await
}

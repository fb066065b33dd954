//! Reading your own claims struct (Clerk "customize session token" claims).
//! `cargo run --example custom_claims`

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use clerk_guard::{clerk_protected, ClerkAuth};
use clerk_guard_examples::run;
use serde::Deserialize;

/// The claims you added in Clerk's dashboard, plus any standard ones you want.
#[derive(Debug, Deserialize)]
struct SessionClaims {
    sub: String,
    email: Option<String>,
    #[serde(default)]
    plan: Plan,
}

#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Plan {
    #[default]
    Free,
    Pro,
}

#[clerk_protected]
async fn account(auth: ClerkAuth) -> Result<Json<serde_json::Value>, (StatusCode, String)> {
    let claims: SessionClaims = auth.claims_as().map_err(|e| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("unexpected claims: {e}"),
        )
    })?;
    Ok(Json(
        serde_json::json!({ "user": claims.sub, "email": claims.email, "plan": claims.plan }),
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Router::new().route("/account", get(account));
    run(app, 3005, |issuer| {
        let token = issuer
            .token()
            .claim("email", "ada@example.com")
            .claim("plan", "pro")
            .expires_in(3600)
            .sign();
        vec![("TOKEN", token)]
    })
    .await
}

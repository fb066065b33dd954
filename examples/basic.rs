//! Basic protection: every handler needs a signed-in user.
//! `cargo run --example basic`, then `curl -H "Authorization: Bearer $TOKEN" localhost:3001/profile`.

use axum::routing::get;
use axum::Router;
use clerk_guard::{clerk_protected, ClerkAuth};
use clerk_guard_examples::run;

#[clerk_protected]
async fn profile(auth: ClerkAuth) -> String {
    format!(
        "user {} in session {:?}\n",
        auth.user_id(),
        auth.session_id()
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Router::new().route("/profile", get(profile));
    run(app, 3001, |issuer| {
        vec![("TOKEN", issuer.token().expires_in(3600).sign())]
    })
    .await
}

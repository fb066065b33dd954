//! Basic protection: every handler needs a signed-in user.
//! `cargo run --example basic`, then `curl -H "Authorization: Bearer $TOKEN" localhost:3001/profile`.

use axum::routing::get;
use axum::Router;
use clerk_guard::{clerk_protected, ClerkAuth};
use clerk_guard_examples::{configure, init_tracing, serve};

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
    init_tracing();
    // The local issuer (when no Clerk settings are set) serves until main returns.
    let issuer = configure().await?;
    if let Some(issuer) = &issuer {
        println!("TOKEN={}", issuer.token().expires_in(3600).sign());
    }
    serve(Router::new().route("/profile", get(profile)), 3001).await
}

//! The global verifier, created lazily from the environment on first use.
//! One test per binary: the environment is process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use axum::routing::get;
use axum::Router;
use clerk_guard::testing::TestIssuer;
use clerk_guard::{clerk_protected, ClerkAuth};
use clerk_guard_tests::{fetch, serve};

#[clerk_protected(roles = "admin")]
async fn admin(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

#[tokio::test]
async fn the_global_verifier_is_built_from_the_environment_on_first_use() {
    let issuer = TestIssuer::start().await.unwrap();
    for var in [
        "CLERK_JWT_KEY",
        "CLERK_PUBLISHABLE_KEY",
        "CLERK_SECRET_KEY",
        "CLERK_AUTHORIZED_PARTIES",
    ] {
        std::env::remove_var(var);
    }
    std::env::set_var("CLERK_JWKS_URL", issuer.jwks_url());
    std::env::set_var("CLERK_ISSUER", issuer.issuer());
    let base = serve(Router::new().route("/admin", get(admin))).await;
    let token = issuer.token().subject("user_env").roles(["admin"]).sign();
    assert_eq!(
        fetch(&format!("{base}/admin"), Some(&token)).await.text,
        "user_env"
    );
    let wrong_iss = issuer
        .token()
        .iss("https://other.example")
        .roles(["admin"])
        .sign();
    assert_eq!(
        fetch(&format!("{base}/admin"), Some(&wrong_iss))
            .await
            .reason(),
        "token-invalid-issuer"
    );
    // Created once: init afterwards is refused, not silently ignored.
    let late = clerk_guard::init(issuer.config().build().unwrap());
    assert!(matches!(
        late,
        Err(clerk_guard::ConfigError::AlreadyInitialised)
    ));
}

//! `clerk_guard::init` configures the global verifier explicitly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use axum::routing::get;
use axum::Router;
use clerk_guard::testing::TestIssuer;
use clerk_guard::{clerk_protected, ClerkAuth};
use clerk_guard_tests::{fetch, serve};

#[clerk_protected(org_role = "admin")]
async fn org_admin(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

#[tokio::test]
async fn init_sets_the_global_verifier_once() {
    let issuer = TestIssuer::start().await.unwrap();
    clerk_guard::init(
        issuer
            .config()
            .authorized_parties(["https://app.example"])
            .build()
            .unwrap(),
    )
    .unwrap();
    let again = clerk_guard::init(issuer.config().build().unwrap());
    assert!(matches!(
        again,
        Err(clerk_guard::ConfigError::AlreadyInitialised)
    ));
    let base = serve(Router::new().route("/org", get(org_admin))).await;
    let token = issuer
        .token()
        .azp("https://app.example")
        .org("org_1", "a", "admin")
        .sign();
    assert_eq!(
        fetch(&format!("{base}/org"), Some(&token)).await.status,
        200
    );
    let other_azp = issuer
        .token()
        .azp("https://evil.example")
        .org("org_1", "a", "admin")
        .sign();
    assert_eq!(
        fetch(&format!("{base}/org"), Some(&other_azp)).await.status,
        401
    );
}

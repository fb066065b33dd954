//! A missing configuration is a clear 503 and a logged error, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use axum::routing::get;
use axum::Router;
use clerk_guard::{clerk_protected, ClerkAuth};
use clerk_guard_tests::{fetch, serve};

#[clerk_protected]
async fn me(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

#[clerk_protected(optional)]
async fn maybe(auth: Option<ClerkAuth>) -> String {
    format!("{:?}", auth.map(|a| a.user_id().to_owned()))
}

#[tokio::test]
async fn no_configuration_answers_503_configuration_invalid() {
    for var in [
        "CLERK_JWT_KEY",
        "CLERK_JWKS_URL",
        "CLERK_PUBLISHABLE_KEY",
        "CLERK_SECRET_KEY",
    ] {
        std::env::remove_var(var);
    }
    let err = clerk_guard::global().unwrap_err();
    assert!(err.to_string().contains("CLERK_PUBLISHABLE_KEY"), "{err}");
    let base = serve(
        Router::new()
            .route("/me", get(me))
            .route("/maybe", get(maybe)),
    )
    .await;
    for path in ["/me", "/maybe"] {
        let reply = fetch(&format!("{base}{path}"), Some("a.b.c")).await;
        assert_eq!(
            (reply.status, reply.reason()),
            (503, "configuration-invalid"),
            "{path}"
        );
    }
}

async fn clerk_events(event: clerk_guard::webhooks::ClerkWebhook) -> String {
    event.kind().to_owned()
}

#[tokio::test]
async fn webhooks_without_a_signing_secret_answer_503_and_say_which_setting() {
    std::env::remove_var("CLERK_WEBHOOK_SIGNING_SECRET");
    let err = clerk_guard::webhooks::WebhookVerifier::from_env().unwrap_err();
    assert!(
        err.to_string().contains("CLERK_WEBHOOK_SIGNING_SECRET"),
        "{err}"
    );
    let base =
        serve(Router::new().route("/webhooks/clerk", axum::routing::post(clerk_events))).await;
    let delivery =
        clerk_guard::testing::WebhookBuilder::new(r#"{"type":"user.created","data":{}}"#).sign();
    let response = reqwest::Client::new()
        .post(format!("{base}/webhooks/clerk"))
        .headers(delivery.headers())
        .body(delivery.body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["reason"], "configuration-invalid");
}

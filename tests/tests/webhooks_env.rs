//! `ClerkWebhook` with no verifier in the router reads
//! `CLERK_WEBHOOK_SIGNING_SECRET`, as Clerk's `verifyWebhook` does. One
//! test per binary: the environment is process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use axum::routing::post;
use axum::Router;
use clerk_guard::testing::{webhook_event, TestIssuer};
use clerk_guard::webhooks::ClerkWebhook;
use clerk_guard_tests::serve;

async fn clerk_events(event: ClerkWebhook) -> String {
    format!("{} {}", event.kind(), event.data()["id"])
}

#[tokio::test]
async fn the_signing_secret_comes_from_the_environment() {
    let issuer = TestIssuer::start().await.unwrap();
    std::env::set_var("CLERK_WEBHOOK_SIGNING_SECRET", issuer.webhook_secret());
    let base = serve(Router::new().route("/webhooks/clerk", post(clerk_events))).await;
    let client = reqwest::Client::new();
    let delivery = issuer
        .webhook(webhook_event(
            "user.deleted",
            serde_json::json!({"id": "user_9", "deleted": true}),
        ))
        .sign();
    let send = |d: clerk_guard::testing::SignedWebhook| {
        client
            .post(format!("{base}/webhooks/clerk"))
            .headers(d.headers())
            .body(d.body)
            .send()
    };
    let ok = send(delivery.clone()).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), r#"user.deleted "user_9""#);
    let tampered = send(delivery.with_body(r#"{"type":"user.deleted","data":{"id":"user_1"}}"#))
        .await
        .unwrap();
    assert_eq!(tampered.status(), 400);
}

//! A refused webhook delivery is logged at debug, with its reason and
//! nothing of the delivery. Its own binary: a log capture is per thread,
//! and other tests' deliveries would race it for the same call sites.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use axum::routing::post;
use axum::{Extension, Router};
use clerk_guard::testing::{webhook_event, TestIssuer};
use clerk_guard::webhooks::ClerkWebhook;
use clerk_guard_tests::{serve, CapturedLogs};
use serde_json::json;

async fn untyped(event: ClerkWebhook) -> String {
    event.kind().to_owned()
}

#[tokio::test]
async fn a_refusal_is_logged_at_debug_without_the_delivery() {
    let (captured, _logging) = CapturedLogs::start(tracing::Level::DEBUG);
    let issuer = TestIssuer::start().await.unwrap();
    let base = serve(
        Router::new()
            .route("/untyped", post(untyped))
            .layer(Extension(issuer.webhook_verifier())),
    )
    .await;
    let tampered = issuer
        .webhook(webhook_event("user.created", json!({"id": "user_logged"})))
        .id("msg_logged")
        .sign()
        .with_body(r#"{"type":"user.created","data":{"id":"user_forged"}}"#);
    let refused = reqwest::Client::new()
        .post(format!("{base}/untyped"))
        .headers(tampered.headers())
        .body(tampered.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let logs = captured.text();
    let line = logs
        .lines()
        .find(|line| line.contains("webhook delivery refused"))
        .unwrap_or_else(|| panic!("no refusal logged: {logs}"));
    assert!(
        line.contains("DEBUG") && line.contains("webhook-invalid-signature"),
        "{line}"
    );
    for secret in ["user_forged", "msg_logged", &tampered.signature[3..]] {
        assert!(!logs.contains(secret), "the log holds {secret}: {logs}");
    }
}

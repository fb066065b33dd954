//! Clerk webhooks over real HTTP: every rule of Clerk's `verifyWebhook`
//! broken by a real delivery, typed events, the body limit, renderers,
//! and the replay guard.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Extension, Router};
use clerk_guard::testing::{
    webhook_event, SignedWebhook, TestIssuer, WebhookBuilder, TEST_WEBHOOK_SECRET,
};
use clerk_guard::webhooks::{
    ClerkEvent, ClerkWebhook, MembershipEvent, ReplayGuard, UserEvent, WebhookVerifier,
};
use clerk_guard::ClerkVerifier;
use clerk_guard_tests::serve;
use serde_json::{json, Value};

/// One answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    text: String,
    challenge: bool,
}

impl Answer {
    fn reason(&self) -> String {
        serde_json::from_str::<Value>(&self.text).unwrap_or_default()["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

async fn post_raw(url: &str, headers: &[(&str, &[u8])], body: impl Into<reqwest::Body>) -> Answer {
    let mut request = reqwest::Client::new().post(url);
    for (name, value) in headers {
        request = request.header(
            *name,
            reqwest::header::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    let response = request.body(body).send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        challenge: response.headers().contains_key("www-authenticate"),
        text: response.text().await.unwrap(),
    }
}

async fn deliver(url: &str, delivery: &SignedWebhook) -> Answer {
    post_raw(
        url,
        &[
            ("svix-id", delivery.id.as_bytes()),
            ("svix-timestamp", delivery.timestamp.as_bytes()),
            ("svix-signature", delivery.signature.as_bytes()),
            ("content-type", b"application/json"),
        ],
        delivery.body.clone(),
    )
    .await
}

fn user_created(id: &str) -> Value {
    webhook_event(
        "user.created",
        json!({
            "id": id,
            "object": "user",
            "first_name": "Ada",
            "last_name": null,
            "primary_email_address_id": "idn_1",
            "email_addresses": [{"id": "idn_1", "object": "email_address", "email_address": "ada@example.com",
                                 "verification": {"status": "verified", "strategy": "email_code"}, "linked_to": []}],
            "public_metadata": {"plan": "pro"},
            "created_at": 1_700_000_000_000_i64,
            "updated_at": 1_700_000_000_000_i64,
        }),
    )
}

/// A delivery that breaks one rule, and the reason it gets.
struct Case {
    name: &'static str,
    headers: [Option<String>; 3],
    body: String,
    reason: &'static str,
}

/// What the handlers saw, for the assertions.
#[derive(Clone, Default)]
struct Seen(Arc<std::sync::Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn untyped(Extension(seen): Extension<Seen>, event: ClerkWebhook) -> StatusCode {
    seen.push(format!(
        "{} {} {}",
        event.kind(),
        event.id(),
        event.data()["id"]
    ));
    StatusCode::NO_CONTENT
}

async fn users(
    Extension(seen): Extension<Seen>,
    ClerkWebhook(event): ClerkWebhook<UserEvent>,
) -> StatusCode {
    seen.push(match event {
        UserEvent::Created(user) => format!(
            "created {} {:?} {}",
            user.id,
            user.primary_email(),
            user.public_metadata["plan"]
        ),
        UserEvent::Deleted(gone) => format!("deleted {:?}", gone.id),
        UserEvent::Other(other) => format!("other {}", other.kind()),
        other => format!("{other:?}"),
    });
    StatusCode::NO_CONTENT
}

async fn everything(
    Extension(seen): Extension<Seen>,
    ClerkWebhook(event): ClerkWebhook<ClerkEvent>,
) -> StatusCode {
    seen.push(match event {
        ClerkEvent::User(UserEvent::Updated(user)) => format!("user updated {}", user.id),
        ClerkEvent::Membership(MembershipEvent::Created(m)) => {
            format!(
                "joined {} {} {}",
                m.public_user_data.user_id, m.organization.id, m.role
            )
        }
        ClerkEvent::Other(other) => format!("other {}", other.kind()),
        other => format!("{other:?}"),
    });
    StatusCode::OK
}

async fn app(verifier: WebhookVerifier) -> (String, Seen) {
    let seen = Seen::default();
    let router = Router::new()
        .route("/untyped", post(untyped))
        .route("/users", post(users))
        .route("/all", post(everything))
        .layer(Extension(seen.clone()))
        .layer(Extension(verifier));
    (serve(router).await, seen)
}

#[tokio::test]
async fn a_signed_delivery_reaches_the_handler_typed_or_not() {
    let issuer = TestIssuer::start().await.unwrap();
    let (base, seen) = app(issuer.webhook_verifier()).await;

    let delivery = issuer
        .webhook(user_created("user_1"))
        .id("msg_typed")
        .sign();
    assert_eq!(
        deliver(&format!("{base}/users"), &delivery).await.status,
        204
    );
    assert_eq!(
        seen.take(),
        [r#"created user_1 Some("ada@example.com") "pro""#]
    );

    let delivery = issuer
        .webhook(user_created("user_2"))
        .id("msg_untyped")
        .sign();
    assert_eq!(
        deliver(&format!("{base}/untyped"), &delivery).await.status,
        204
    );
    assert_eq!(seen.take(), [r#"user.created msg_untyped "user_2""#]);

    // Another family, and a type Clerk adds later: the Other arms, not a 400.
    let session = issuer
        .webhook(webhook_event("session.created", json!({"id": "sess_1"})))
        .sign();
    assert_eq!(
        deliver(&format!("{base}/users"), &session).await.status,
        204
    );
    let later = issuer
        .webhook(webhook_event("agent.created", json!({"id": "agt_1"})))
        .sign();
    assert_eq!(deliver(&format!("{base}/all"), &later).await.status, 200);
    let membership = issuer
        .webhook(webhook_event(
            "organizationMembership.created",
            json!({"id": "orgmem_1", "role": "org:admin", "permissions": ["org:sys_memberships:manage"],
                   "organization": {"id": "org_1", "name": "Acme", "slug": "acme"},
                   "public_user_data": {"user_id": "user_1", "identifier": "ada@example.com"}}),
        ))
        .sign();
    assert_eq!(
        deliver(&format!("{base}/all"), &membership).await.status,
        200
    );
    let updated = issuer
        .webhook(webhook_event("user.updated", json!({"id": "user_1"})))
        .sign();
    assert_eq!(deliver(&format!("{base}/all"), &updated).await.status, 200);
    assert_eq!(
        seen.take(),
        [
            "other session.created",
            "other agent.created",
            "joined user_1 org_1 org:admin",
            "user updated user_1",
        ]
    );
}

#[tokio::test]
async fn every_rule_broken_is_a_400_with_its_reason_and_nothing_echoed() {
    let issuer = TestIssuer::start().await.unwrap();
    let (base, seen) = app(issuer.webhook_verifier()).await;
    let url = format!("{base}/untyped");
    let good = issuer
        .webhook(user_created("user_secret_body"))
        .id("msg_secret_id")
        .sign();
    let case = |name: &'static str, d: &SignedWebhook, reason: &'static str| Case {
        name,
        headers: [
            Some(d.id.clone()),
            Some(d.timestamp.clone()),
            Some(d.signature.clone()),
        ],
        body: d.body.clone(),
        reason,
    };
    let mut cases = Vec::new();
    for (i, name) in ["no id", "no timestamp", "no signature"]
        .into_iter()
        .enumerate()
    {
        let mut missing = case(name, &good, "webhook-missing-headers");
        missing.headers[i] = None;
        cases.push(missing);
    }
    let mut blank = case("blank id", &good, "webhook-missing-headers");
    blank.headers[0] = Some("  ".into());
    cases.push(blank);
    let mut tampered = case("tampered body", &good, "webhook-invalid-signature");
    tampered.body = good.body.replace("Ada", "Eve");
    cases.push(tampered);
    let mut other_id = case("other id", &good, "webhook-invalid-signature");
    other_id.headers[0] = Some("msg_other".into());
    cases.push(other_id);
    let mut not_a_number = case("non-numeric timestamp", &good, "webhook-invalid-signature");
    not_a_number.headers[1] = Some("soon".into());
    cases.push(not_a_number);
    let mut v2 = case("v2 only", &good, "webhook-invalid-signature");
    v2.headers[2] = Some(format!("v2,{}", &good.signature[3..]));
    cases.push(v2);
    let old = issuer
        .webhook(user_created("user_old"))
        .signed_ago(301)
        .sign();
    cases.push(case("301 s old", &old, "webhook-timestamp-out-of-range"));
    let ahead = issuer
        .webhook(user_created("user_ahead"))
        .signed_ago(-302)
        .sign();
    cases.push(case(
        "302 s ahead",
        &ahead,
        "webhook-timestamp-out-of-range",
    ));
    let foreign = issuer
        .webhook(user_created("user_foreign"))
        .secret("whsec_b3RoZXIgZW5kcG9pbnQ=")
        .sign();
    cases.push(case("other secret", &foreign, "webhook-invalid-signature"));
    for (name, raw) in [
        ("not json", "user.created"),
        ("an array", "[]"),
        ("no data", r#"{"type":"user.created"}"#),
        ("empty", ""),
    ] {
        cases.push(case(
            name,
            &WebhookBuilder::new(raw).sign(),
            "webhook-invalid-payload",
        ));
    }

    for Case {
        name,
        headers,
        body,
        reason,
    } in &cases
    {
        let sent: Vec<(&str, &[u8])> = ["svix-id", "svix-timestamp", "svix-signature"]
            .into_iter()
            .zip(headers)
            .filter_map(|(name, value)| Some((name, value.as_deref()?.as_bytes())))
            .collect();
        let answer = post_raw(&url, &sent, body.clone()).await;
        assert_eq!(
            (answer.status, answer.reason().as_str()),
            (400, *reason),
            "{name}: {answer:?}"
        );
        assert!(
            !answer.challenge,
            "{name}: no bearer challenge for a webhook"
        );
        for secret in [
            "msg_secret_id",
            "user_secret_body",
            "Eve",
            &good.signature[3..],
        ] {
            assert!(
                !answer.text.contains(secret),
                "{name} echoed {secret}: {}",
                answer.text
            );
        }
    }
    // A typed handler refuses data that does not fit its type.
    let wrong = issuer
        .webhook(webhook_event("user.created", json!({"id": 5})))
        .sign();
    let answer = deliver(&format!("{base}/users"), &wrong).await;
    assert_eq!(
        (answer.status, answer.reason().as_str()),
        (400, "webhook-invalid-payload")
    );
    assert!(
        seen.take().is_empty(),
        "no refused delivery reached a handler"
    );
}

#[tokio::test]
async fn what_clerk_accepts_is_accepted() {
    let issuer = TestIssuer::start().await.unwrap();
    let (base, seen) = app(issuer.webhook_verifier()).await;
    let url = format!("{base}/untyped");
    let d = issuer.webhook(user_created("user_1")).sign();
    let wrong = WebhookBuilder::new("{}").sign().signature;
    let padded = |s: &str| format!("  {s} ");
    let variants: Vec<(&str, String, String, String)> = vec![
        (
            "padded headers",
            padded(&d.id),
            padded(&d.timestamp),
            padded(&d.signature),
        ),
        (
            "one of several v1",
            d.id.clone(),
            d.timestamp.clone(),
            format!("v1,AAAA {wrong} v2,{} {}", &d.signature[3..], d.signature),
        ),
    ];
    for (name, id, ts, sig) in variants {
        let answer = post_raw(
            &url,
            &[
                ("svix-id", id.as_bytes()),
                ("svix-timestamp", ts.as_bytes()),
                ("svix-signature", sig.as_bytes()),
            ],
            d.body.clone(),
        )
        .await;
        assert_eq!(answer.status, 204, "{name}: {answer:?}");
    }
    for ago in [299, -299] {
        let edge = issuer
            .webhook(user_created("user_edge"))
            .signed_ago(ago)
            .sign();
        assert_eq!(deliver(&url, &edge).await.status, 204, "{ago} s");
    }
    assert_eq!(seen.take().len(), 4);
}

#[tokio::test]
async fn the_body_is_bounded() {
    let issuer = TestIssuer::start().await.unwrap();
    let small = WebhookVerifier::builder()
        .signing_secret(TEST_WEBHOOK_SECRET)
        .max_body_bytes(1024)
        .build()
        .unwrap();
    let (base, seen) = app(small).await;
    let url = format!("{base}/untyped");
    let big = issuer
        .webhook(webhook_event(
            "user.created",
            json!({"id": "user_1", "pad": "x".repeat(2000)}),
        ))
        .sign();
    let answer = deliver(&url, &big).await;
    assert_eq!(
        (answer.status, answer.reason().as_str()),
        (413, "webhook-body-too-large")
    );
    // Streamed, with no Content-Length: counted as it comes.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .body
        .as_bytes()
        .chunks(100)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let answer = post_raw(
        &url,
        &[
            ("svix-id", big.id.as_bytes()),
            ("svix-timestamp", big.timestamp.as_bytes()),
            ("svix-signature", big.signature.as_bytes()),
        ],
        stream,
    )
    .await;
    assert_eq!(
        (answer.status, answer.reason().as_str()),
        (413, "webhook-body-too-large")
    );
    // The default limit (1 MiB) takes Clerk's events.
    let (base, _) = app(issuer.webhook_verifier()).await;
    assert_eq!(deliver(&format!("{base}/untyped"), &big).await.status, 204);
    assert!(seen.take().is_empty());
    assert!(WebhookVerifier::builder()
        .signing_secret(TEST_WEBHOOK_SECRET)
        .max_body_bytes(0)
        .build()
        .is_err());
}

#[tokio::test]
async fn a_renderer_renders_refused_deliveries() {
    let issuer = TestIssuer::start().await.unwrap();
    let own = WebhookVerifier::builder()
        .signing_secret(TEST_WEBHOOK_SECRET)
        .rejection_response(|r| {
            (r.status(), format!("webhook says {}", r.reason())).into_response()
        })
        .build()
        .unwrap();
    let (base, _) = app(own).await;
    let tampered = issuer
        .webhook(user_created("user_1"))
        .sign()
        .with_body("{}");
    let answer = deliver(&format!("{base}/untyped"), &tampered).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (400, "webhook says webhook-invalid-signature")
    );

    // Without one of its own, the router's Clerk verifier's renderer.
    let clerk = ClerkVerifier::new(
        issuer
            .config()
            .rejection_response(|r| {
                (r.status(), format!("app says {}", r.reason())).into_response()
            })
            .build()
            .unwrap(),
    )
    .unwrap();
    let router = Router::new()
        .route("/untyped", post(untyped))
        .layer(Extension(Seen::default()))
        .layer(Extension(issuer.webhook_verifier()))
        .layer(Extension(clerk));
    let base = serve(router).await;
    let answer = deliver(&format!("{base}/untyped"), &tampered).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (400, "app says webhook-invalid-signature")
    );
}

static CALLS: AtomicUsize = AtomicUsize::new(0);

async fn counted(event: ClerkWebhook) -> StatusCode {
    CALLS.fetch_add(1, Ordering::SeqCst);
    match event.data()["fail"].as_bool() {
        Some(true) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::NO_CONTENT,
    }
}

async fn slow(
    Extension(gate): Extension<Arc<tokio::sync::Notify>>,
    event: ClerkWebhook,
) -> StatusCode {
    let _ = event;
    gate.notified().await;
    StatusCode::NO_CONTENT
}

#[tokio::test]
async fn the_replay_guard_runs_each_delivery_once_and_retries_failures() {
    let issuer = TestIssuer::start().await.unwrap();
    let gate = Arc::new(tokio::sync::Notify::new());
    let guard = ReplayGuard::new();
    let router = Router::new()
        .route("/counted", post(counted))
        .route("/slow", post(slow))
        .layer(guard.clone())
        .layer(Extension(gate.clone()))
        .layer(Extension(issuer.webhook_verifier()));
    let base = serve(router).await;
    let url = format!("{base}/counted");

    let once = issuer.webhook(user_created("user_1")).id("msg_once").sign();
    assert_eq!(deliver(&url, &once).await.status, 204);
    let again = deliver(&url, &once).await;
    assert_eq!((again.status, again.text.as_str()), (200, ""));
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        1,
        "the replay did not reach the handler"
    );
    // A forged replay (the id, no valid signature) is refused, not answered 200.
    let forged = once.clone().with_body("{}");
    assert_eq!(deliver(&url, &forged).await.status, 400);

    // A failed delivery is forgotten: Clerk's retry (same id, new signature) runs again.
    let failing = webhook_event("user.created", json!({"id": "user_2", "fail": true}));
    let first = issuer.webhook(failing.clone()).id("msg_retry").sign();
    assert_eq!(deliver(&url, &first).await.status, 500);
    let retry = issuer
        .webhook(failing)
        .id("msg_retry")
        .signed_ago(-1)
        .sign();
    assert_eq!(deliver(&url, &retry).await.status, 500);
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);

    // The same id while its handler still runs: 409, retried later by Clerk.
    let slow_url = format!("{base}/slow");
    let pending = issuer.webhook(user_created("user_3")).id("msg_slow").sign();
    let first = tokio::spawn({
        let (url, pending) = (slow_url.clone(), pending.clone());
        async move { deliver(&url, &pending).await }
    });
    while guard.len() < 2 {
        tokio::task::yield_now().await;
    }
    let second = deliver(&slow_url, &pending).await;
    assert_eq!(
        (second.status, second.reason().as_str()),
        (409, "webhook-delivery-in-progress")
    );
    gate.notify_one();
    assert_eq!(first.await.unwrap().status, 204);
    assert_eq!(deliver(&slow_url, &pending).await.status, 200);
    assert!(guard.len() <= 3);
}

#[tokio::test]
async fn the_standard_webhooks_known_answer() {
    // From the Standard Webhooks test suites (every library's `sign` test).
    let signed = WebhookBuilder::new(r#"{"test": 2432232314}"#)
        .id("msg_p5jXN8AQM9LWM0D4loKWxJek")
        .signed_at(1_614_265_330)
        .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .sign();
    assert_eq!(
        signed.signature,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
    // Delivered today the timestamp is years old: refused for that.
    let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let refused = verifier
        .verify(&signed.headers(), signed.body.as_bytes())
        .unwrap_err();
    assert_eq!(refused.reason().code(), "webhook-timestamp-out-of-range");
}

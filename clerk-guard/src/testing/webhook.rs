//! Webhook deliveries signed as Clerk signs them, for testing handlers.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::hmac;
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};

use super::TestIssuer;
use crate::webhooks::WebhookVerifier;

/// The signing secret of the local issuer's webhook endpoint.
///
/// ```
/// assert!(clerk_guard::testing::TEST_WEBHOOK_SECRET.starts_with("whsec_"));
/// ```
pub const TEST_WEBHOOK_SECRET: &str = "whsec_Y2xlcmstZ3VhcmQgbG9jYWwgd2ViaG9vayBzZWNyZXQ=";

impl TestIssuer {
    /// The webhook signing secret deliveries are signed with
    /// ([`TEST_WEBHOOK_SECRET`]).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// std::env::set_var("CLERK_WEBHOOK_SIGNING_SECRET", issuer.webhook_secret());
    /// # }
    /// ```
    pub fn webhook_secret(&self) -> &'static str {
        TEST_WEBHOOK_SECRET
    }

    /// A verifier for this issuer's deliveries, to add to a router with
    /// `.layer(Extension(verifier))`.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let app: axum::Router = axum::Router::new().layer(axum::Extension(issuer.webhook_verifier()));
    /// # }
    /// ```
    pub fn webhook_verifier(&self) -> WebhookVerifier {
        match WebhookVerifier::new(TEST_WEBHOOK_SECRET) {
            Ok(verifier) => verifier,
            Err(e) => unreachable!("the test secret is valid: {e}"),
        }
    }

    /// A delivery of `event` (the whole body: see [`webhook_event`]), signed
    /// now with this issuer's secret by [`WebhookBuilder::sign`].
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// use clerk_guard::testing::webhook_event;
    ///
    /// let delivery = issuer
    ///     .webhook(webhook_event("user.created", serde_json::json!({"id": "user_1"})))
    ///     .sign();
    /// let request = reqwest::Client::new()
    ///     .post("http://127.0.0.1:3000/webhooks/clerk")
    ///     .headers(delivery.headers())
    ///     .body(delivery.body.clone());
    /// # }
    /// ```
    pub fn webhook(&self, event: impl Serialize) -> WebhookBuilder {
        let body = serde_json::to_string(&event).unwrap_or_default();
        WebhookBuilder::new(body)
    }
}

/// An event's body as Clerk sends it: `type`, `object`, `data`,
/// `event_attributes`, `timestamp` (ms) and `instance_id`.
///
/// ```
/// let event = clerk_guard::testing::webhook_event("user.deleted", serde_json::json!({"id": "user_1", "deleted": true}));
/// assert_eq!(event["type"], "user.deleted");
/// assert_eq!(event["object"], "event");
/// ```
pub fn webhook_event(kind: &str, data: Value) -> Value {
    json!({
        "data": data,
        "event_attributes": {
            "http_request": { "client_ip": "127.0.0.1", "user_agent": "clerk-guard-testing" }
        },
        "instance_id": "ins_test_1",
        "object": "event",
        "timestamp": (crate::util::now_seconds() * 1000.0) as i64,
        "type": kind,
    })
}

/// A delivery to sign: its id, timestamp and secret can be changed to
/// test how a handler's route refuses them.
///
/// ```
/// # use clerk_guard::testing::WebhookBuilder;
/// let delivery = WebhookBuilder::new(r#"{"type":"user.created","data":{}}"#)
///     .id("msg_fixed")
///     .signed_ago(400) // too old: refused
///     .sign();
/// assert_eq!(delivery.id, "msg_fixed");
/// ```
#[derive(Debug, Clone)]
pub struct WebhookBuilder {
    body: String,
    id: String,
    signed_at: i64,
    secret: String,
}

impl WebhookBuilder {
    /// A delivery of `body` (verbatim), with a fresh id, signed now with
    /// [`TEST_WEBHOOK_SECRET`].
    ///
    /// ```
    /// let delivery = clerk_guard::testing::WebhookBuilder::new("{}").sign();
    /// assert!(delivery.id.starts_with("msg_"));
    /// ```
    pub fn new(body: impl Into<String>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let now = crate::util::now_seconds();
        Self {
            body: body.into(),
            id: format!("msg_test_{}_{n}", (now * 1e6) as u64 % 1_000_000_000),
            signed_at: now.floor() as i64,
            secret: TEST_WEBHOOK_SECRET.to_owned(),
        }
    }

    /// The message id (`svix-id`).
    ///
    /// ```
    /// # let b = clerk_guard::testing::WebhookBuilder::new("{}");
    /// let delivery = b.id("msg_2").sign();
    /// ```
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// When it was signed (`svix-timestamp`, Unix seconds).
    ///
    /// ```
    /// # let b = clerk_guard::testing::WebhookBuilder::new("{}");
    /// let delivery = b.signed_at(1_700_000_000).sign();
    /// assert_eq!(delivery.timestamp, "1700000000");
    /// ```
    pub fn signed_at(mut self, unix_seconds: i64) -> Self {
        self.signed_at = unix_seconds;
        self
    }

    /// Signed `seconds` ago (negative: ahead).
    ///
    /// ```
    /// # let b = clerk_guard::testing::WebhookBuilder::new("{}");
    /// let stale = b.signed_ago(301).sign();
    /// ```
    pub fn signed_ago(mut self, seconds: i64) -> Self {
        self.signed_at = crate::util::now_seconds().floor() as i64 - seconds;
        self
    }

    /// Signs with another secret (`whsec_…`): a delivery for another endpoint.
    ///
    /// ```
    /// # let b = clerk_guard::testing::WebhookBuilder::new("{}");
    /// let foreign = b.secret("whsec_b3RoZXIgZW5kcG9pbnQ=").sign();
    /// ```
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = secret.into();
        self
    }

    /// The signed delivery: HMAC-SHA256 over `{id}.{timestamp}.{body}`
    /// with the secret's base64 bytes, as `v1,<base64>`.
    ///
    /// A secret that is not base64 after `whsec_` signs with its bytes as
    /// they are (a delivery no verifier of a real secret accepts).
    ///
    /// ```
    /// let delivery = clerk_guard::testing::WebhookBuilder::new("{}").sign();
    /// assert!(delivery.signature.starts_with("v1,"));
    /// ```
    pub fn sign(self) -> SignedWebhook {
        let encoded = self.secret.strip_prefix("whsec_").unwrap_or(&self.secret);
        let key = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_else(|_| encoded.as_bytes().to_vec());
        let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
        let signed = format!("{}.{}.{}", self.id, self.signed_at, self.body);
        let tag = hmac::sign(&key, signed.as_bytes());
        SignedWebhook {
            signature: format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
            ),
            timestamp: self.signed_at.to_string(),
            id: self.id,
            body: self.body,
        }
    }
}

/// A signed delivery: the three headers' values and the body.
///
/// ```
/// let delivery = clerk_guard::testing::WebhookBuilder::new("{}").sign();
/// let headers = delivery.headers();
/// assert_eq!(headers["svix-id"], delivery.id.as_str());
/// ```
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    /// `svix-id`.
    pub id: String,
    /// `svix-timestamp`.
    pub timestamp: String,
    /// `svix-signature`.
    pub signature: String,
    /// The body, as signed.
    pub body: String,
}

impl SignedWebhook {
    /// The `svix-*` headers and `content-type: application/json`; a value
    /// that cannot be a header (an id with a line break) is left out.
    ///
    /// ```
    /// let headers = clerk_guard::testing::WebhookBuilder::new("{}").sign().headers();
    /// assert_eq!(headers["content-type"], "application/json");
    /// ```
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("svix-id", &self.id),
            ("svix-timestamp", &self.timestamp),
            ("svix-signature", &self.signature),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers
    }

    /// The same headers with another body: a tampered delivery.
    ///
    /// ```
    /// let d = clerk_guard::testing::WebhookBuilder::new("{}").sign();
    /// let tampered = d.with_body(r#"{"type":"user.deleted"}"#);
    /// ```
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// A `curl` command delivering it to `url`, for a terminal.
    ///
    /// ```
    /// let d = clerk_guard::testing::WebhookBuilder::new("{}").sign();
    /// assert!(d.curl("http://127.0.0.1:3000/webhooks/clerk").starts_with("curl "));
    /// ```
    pub fn curl(&self, url: &str) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        format!(
            "curl -i -X POST {} -H 'content-type: application/json' -H {} -H {} -H {} --data-raw {}",
            quote(url),
            quote(&format!("svix-id: {}", self.id)),
            quote(&format!("svix-timestamp: {}", self.timestamp)),
            quote(&format!("svix-signature: {}", self.signature)),
            quote(&self.body),
        )
    }
}

//! [`WebhookVerifier`]: a delivery checked exactly as Clerk's
//! `verifyWebhook` (Standard Webhooks, `svix-*` headers) checks it.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::{constant_time, hmac};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine;
use once_cell::sync::OnceCell;

use super::event::WebhookEvent;
use crate::config::ConfigError;
use crate::rejection::{AuthRejection, Reason, RejectionRenderer};

/// The environment variable of the signing secret, as Clerk names it.
pub(crate) const SECRET_VARIABLE: &str = "CLERK_WEBHOOK_SIGNING_SECRET";

/// How far a delivery's `svix-timestamp` may be from this machine's clock,
/// either way: Standard Webhooks' (and so Clerk's) 5 minutes.
///
/// ```
/// assert_eq!(clerk_guard::webhooks::WEBHOOK_TOLERANCE_SECS, 300);
/// ```
pub const WEBHOOK_TOLERANCE_SECS: i64 = 5 * 60;

/// The default limit on a delivery's body: 1 MiB. Clerk's largest events
/// (a user with many addresses and memberships) are a few tens of KiB.
///
/// ```
/// assert_eq!(clerk_guard::webhooks::DEFAULT_MAX_BODY_BYTES, 1024 * 1024);
/// ```
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The largest body limit accepted (64 MiB): more is a mistake.
const MAX_BODY_LIMIT: usize = 64 * 1024 * 1024;

const ID_HEADER: &str = "svix-id";
const TIMESTAMP_HEADER: &str = "svix-timestamp";
const SIGNATURE_HEADER: &str = "svix-signature";

/// Checks Clerk's webhook deliveries with the endpoint's signing secret.
///
/// [`ClerkWebhook`](super::ClerkWebhook) finds one in the request's
/// extensions (`.layer(Extension(verifier))`), else builds one from
/// `CLERK_WEBHOOK_SIGNING_SECRET` on first use.
///
/// ```
/// use clerk_guard::webhooks::WebhookVerifier;
///
/// // The secret from the endpoint's page in Clerk's dashboard.
/// let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let missing = WebhookVerifier::new("").unwrap_err();
/// assert!(missing.to_string().contains("CLERK_WEBHOOK_SIGNING_SECRET"));
/// # Ok::<(), clerk_guard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct WebhookVerifier(Arc<Inner>);

struct Inner {
    key: hmac::Key,
    max_body_bytes: usize,
    renderer: Option<RejectionRenderer>,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("signing_secret", &"<redacted>")
            .field("max_body_bytes", &self.0.max_body_bytes)
            .field("custom_renderer", &self.0.renderer.is_some())
            .finish()
    }
}

/// Builds a [`WebhookVerifier`].
///
/// ```
/// let verifier = clerk_guard::webhooks::WebhookVerifier::builder()
///     .signing_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
///     .max_body_bytes(256 * 1024)
///     .build()?;
/// # Ok::<(), clerk_guard::ConfigError>(())
/// ```
#[derive(Default)]
pub struct WebhookVerifierBuilder {
    secret: Option<String>,
    max_body_bytes: Option<usize>,
    renderer: Option<RejectionRenderer>,
}

impl fmt::Debug for WebhookVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifierBuilder")
            .field(
                "signing_secret",
                &self.secret.as_ref().map(|_| "<redacted>"),
            )
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl WebhookVerifierBuilder {
    /// The endpoint's signing secret (`whsec_…`, from Clerk's dashboard).
    ///
    /// ```
    /// # let b = clerk_guard::webhooks::WebhookVerifier::builder();
    /// let b = b.signing_secret(std::env::var("MY_WEBHOOK_SECRET").unwrap_or_default());
    /// ```
    pub fn signing_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// The largest body read (over it: `413`). Default
    /// [`DEFAULT_MAX_BODY_BYTES`]; 0 or more than 64 MiB is a [`ConfigError`].
    ///
    /// ```
    /// # let b = clerk_guard::webhooks::WebhookVerifier::builder().signing_secret("whsec_dGVzdA==");
    /// let verifier = b.max_body_bytes(4 * 1024 * 1024).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = Some(bytes);
        self
    }

    /// Replaces the response of every refused delivery (400/409/413/503).
    /// Without it, the renderer of the router's or the global
    /// [`ClerkVerifier`](crate::ClerkVerifier) applies, if it has one.
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// # let b = clerk_guard::webhooks::WebhookVerifier::builder().signing_secret("whsec_dGVzdA==");
    /// let verifier = b
    ///     .rejection_response(|r| (r.status(), r.reason().code()).into_response())
    ///     .build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn rejection_response(
        mut self,
        render: impl Fn(&AuthRejection) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.renderer = Some(Arc::new(render));
        self
    }

    /// The verifier, or the setting at fault.
    ///
    /// ```
    /// let err = clerk_guard::webhooks::WebhookVerifier::builder().build().unwrap_err();
    /// assert!(err.to_string().contains("CLERK_WEBHOOK_SIGNING_SECRET"));
    /// ```
    pub fn build(self) -> Result<WebhookVerifier, ConfigError> {
        let secret = self.secret.as_deref().unwrap_or_default();
        let key = signing_key(secret)?;
        let max_body_bytes = self.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if max_body_bytes == 0 || max_body_bytes > MAX_BODY_LIMIT {
            return Err(ConfigError::invalid(
                "webhook max_body_bytes",
                format!("{max_body_bytes} is outside 1 byte to 64 MiB"),
            ));
        }
        Ok(WebhookVerifier(Arc::new(Inner {
            key,
            max_body_bytes,
            renderer: self.renderer,
        })))
    }
}

/// The HMAC key of a secret: `whsec_` stripped, the rest standard base64
/// (padded or not), at least one byte, as Standard Webhooks reads it.
fn signing_key(secret: &str) -> Result<hmac::Key, ConfigError> {
    let fail = |problem: &str| ConfigError::invalid(SECRET_VARIABLE, problem);
    if secret.is_empty() {
        return Err(fail(
            "not set: copy the signing secret from the webhook endpoint's page in Clerk's dashboard",
        ));
    }
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = lenient
        .decode(encoded)
        .map_err(|_| fail("not a signing secret (whsec_ followed by base64)"))?;
    if bytes.is_empty() {
        return Err(fail("empty after whsec_"));
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

static FROM_ENV: OnceCell<Result<WebhookVerifier, ConfigError>> = OnceCell::new();

impl WebhookVerifier {
    /// A verifier for `secret` (`whsec_…`) with the default settings.
    ///
    /// ```
    /// let err = clerk_guard::webhooks::WebhookVerifier::new("whsec_not base64!").unwrap_err();
    /// assert!(matches!(err, clerk_guard::ConfigError::Invalid { setting: "CLERK_WEBHOOK_SIGNING_SECRET", .. }));
    /// ```
    pub fn new(secret: impl Into<String>) -> Result<Self, ConfigError> {
        Self::builder().signing_secret(secret).build()
    }

    /// A builder, for the body limit and the rejection renderer.
    ///
    /// ```
    /// let b = clerk_guard::webhooks::WebhookVerifier::builder();
    /// ```
    pub fn builder() -> WebhookVerifierBuilder {
        WebhookVerifierBuilder::default()
    }

    /// A verifier for `CLERK_WEBHOOK_SIGNING_SECRET`: a [`ConfigError`]
    /// naming it when it is unset or malformed.
    ///
    /// ```no_run
    /// let verifier = clerk_guard::webhooks::WebhookVerifier::from_env()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(std::env::var(SECRET_VARIABLE).unwrap_or_default())
    }

    /// The process-wide verifier from the environment, built once; its error
    /// is logged once and each delivery then answers 503.
    pub(crate) fn process_wide() -> Result<&'static WebhookVerifier, &'static ConfigError> {
        FROM_ENV
            .get_or_init(|| {
                let verifier = Self::from_env();
                if let Err(e) = &verifier {
                    tracing::error!(error = %e, "clerk-guard: webhooks cannot be verified");
                }
                verifier
            })
            .as_ref()
    }

    pub(crate) fn max_body_bytes(&self) -> usize {
        self.0.max_body_bytes
    }

    pub(crate) fn renderer(&self) -> Option<&RejectionRenderer> {
        self.0.renderer.as_ref()
    }

    /// Checks a delivery (its headers and its exact body) and returns its
    /// event, for frameworks other than axum; [`ClerkWebhook`](super::ClerkWebhook)
    /// does this for a handler.
    ///
    /// ```
    /// # let verifier = clerk_guard::webhooks::WebhookVerifier::new("whsec_dGVzdA==").unwrap();
    /// let refused = verifier.verify(&axum::http::HeaderMap::new(), b"{}").unwrap_err();
    /// assert_eq!(refused.reason().code(), "webhook-missing-headers");
    /// ```
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<WebhookEvent, AuthRejection> {
        let delivery = Delivery::read(headers)?;
        self.verify_at(&delivery, body, crate::util::now_seconds().floor() as i64)
    }

    /// Checks `delivery` against `now` (Unix seconds), in Standard
    /// Webhooks' order: timestamp, signature, then the body's JSON.
    pub(crate) fn verify_at(
        &self,
        delivery: &Delivery,
        body: &[u8],
        now: i64,
    ) -> Result<WebhookEvent, AuthRejection> {
        let signed_at = js_parse_int(&delivery.timestamp).ok_or_else(|| {
            AuthRejection::with_detail(
                Reason::WebhookInvalidSignature,
                "svix-timestamp is not a number",
            )
        })?;
        if i128::from(now) - signed_at > i128::from(WEBHOOK_TOLERANCE_SECS) {
            return Err(AuthRejection::with_detail(
                Reason::WebhookTimestampOutOfRange,
                "svix-timestamp is more than 5 minutes old",
            ));
        }
        if signed_at > i128::from(now) + i128::from(WEBHOOK_TOLERANCE_SECS) {
            return Err(AuthRejection::with_detail(
                Reason::WebhookTimestampOutOfRange,
                "svix-timestamp is more than 5 minutes ahead",
            ));
        }
        // In range, so it fits: within 5 minutes of an i64 clock.
        let signed_at = signed_at as i64;
        let text = body_text(body);
        let expected = self.signature(&delivery.id, signed_at, &text);
        if !delivery.signatures().any(|candidate| {
            constant_time::verify_slices_are_equal(candidate.as_bytes(), expected.as_bytes())
                .is_ok()
        }) {
            return Err(AuthRejection::with_detail(
                Reason::WebhookInvalidSignature,
                "no v1 signature in svix-signature matches",
            ));
        }
        WebhookEvent::from_body(delivery.id.clone(), signed_at, &text).map_err(|_| {
            AuthRejection::with_detail(
                Reason::WebhookInvalidPayload,
                "the signed body is not the JSON of an event (an object with type and data)",
            )
        })
    }

    /// `v1`'s signature: base64 of HMAC-SHA256 over `{id}.{timestamp}.{body}`.
    pub(crate) fn signature(&self, id: &str, signed_at: i64, body: &str) -> String {
        let mut context = hmac::Context::with_key(&self.0.key);
        context.update(id.as_bytes());
        context.update(format!(".{signed_at}.").as_bytes());
        context.update(body.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(context.sign().as_ref())
    }
}

/// The three headers of a delivery, read as the Fetch API reads them
/// (repeated headers joined with `", "`, bytes as Latin-1) and trimmed as
/// JavaScript's `trim()` does, so the signed string is the same one.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) id: String,
    timestamp: String,
    signature: String,
}

impl Delivery {
    /// The headers, or `webhook-missing-headers` naming those missing or blank.
    pub(crate) fn read(headers: &HeaderMap) -> Result<Self, AuthRejection> {
        let id = header(headers, ID_HEADER);
        let timestamp = header(headers, TIMESTAMP_HEADER);
        let signature = header(headers, SIGNATURE_HEADER);
        let detail = match (id.is_empty(), timestamp.is_empty(), signature.is_empty()) {
            (false, false, false) => {
                return Ok(Self {
                    id,
                    timestamp,
                    signature,
                })
            }
            (true, _, _) => "svix-id is missing or blank",
            (_, true, _) => "svix-timestamp is missing or blank",
            _ => "svix-signature is missing or blank",
        };
        Err(AuthRejection::with_detail(
            Reason::WebhookMissingHeaders,
            detail,
        ))
    }

    /// The `v1` signatures of the space-separated `version,signature` list.
    fn signatures(&self) -> impl Iterator<Item = &str> {
        self.signature.split(' ').filter_map(|entry| {
            let mut parts = entry.split(',');
            (parts.next() == Some("v1")).then(|| parts.next().unwrap_or_default())
        })
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    let mut joined = String::new();
    for (i, value) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            joined.push_str(", ");
        }
        let bytes = value.as_bytes();
        let trimmed = trim_bytes(bytes, |b| matches!(b, b'\t' | b'\n' | b'\r' | b' '));
        joined.extend(trimmed.iter().map(|&b| char::from(b)));
    }
    joined
        .trim_matches(|c| matches!(c, '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}'))
        .to_owned()
}

fn trim_bytes(bytes: &[u8], strip: impl Fn(u8) -> bool) -> &[u8] {
    let start = bytes.iter().position(|&b| !strip(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !strip(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The body as `Request.text()` reads it: UTF-8, a leading byte-order mark
/// dropped, invalid sequences replaced (what Clerk's verifier signs).
fn body_text(body: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body))
}

/// JavaScript's `parseInt(s, 10)` on a trimmed string: an optional sign and
/// the leading digits, `None` without digits (`NaN`). Saturates far beyond
/// any clock, where only the comparison with now matters.
fn js_parse_int(s: &str) -> Option<i128> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit);
    let mut value: i128 = 0;
    let mut any = false;
    for digit in digits {
        any = true;
        value = value
            .saturating_mul(10)
            .saturating_add(i128::from(digit - b'0'))
            .min(1 << 100);
    }
    any.then_some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_standard_webhooks_known_answer_verifies() {
        let verifier = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "svix-id",
            HeaderValue::from_static("msg_p5jXN8AQM9LWM0D4loKWxJek"),
        );
        headers.insert("svix-timestamp", HeaderValue::from_static("1614265330"));
        headers.insert(
            "svix-signature",
            HeaderValue::from_static("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
        );
        let delivery = Delivery::read(&headers).unwrap();
        let body = br#"{"test": 2432232314}"#;
        // The signature is right; the body is not an event.
        let refused = verifier
            .verify_at(&delivery, body, 1_614_265_330)
            .unwrap_err();
        assert_eq!(refused.reason(), Reason::WebhookInvalidPayload);
        let refused = verifier
            .verify_at(&delivery, b"{\"test\": 1}", 1_614_265_330)
            .unwrap_err();
        assert_eq!(refused.reason(), Reason::WebhookInvalidSignature);
        assert_eq!(
            verifier.signature(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#
            ),
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn timestamps_read_as_parse_int() {
        for (input, expected) in [
            ("1700000000", Some(1_700_000_000)),
            ("+1700000000", Some(1_700_000_000)),
            ("-5", Some(-5)),
            ("0001700000000", Some(1_700_000_000)),
            ("1700000000.9", Some(1_700_000_000)),
            ("1e3", Some(1)),
            ("12abc", Some(12)),
            ("abc", None),
            ("-", None),
            ("", None),
            ("0x10", Some(0)),
        ] {
            assert_eq!(js_parse_int(input), expected, "{input}");
        }
        assert!(js_parse_int(&"9".repeat(80)).is_some_and(|v| v > 1 << 90));
    }

    #[test]
    fn headers_read_as_the_fetch_api_reads_them() {
        let mut headers = HeaderMap::new();
        headers.append("svix-signature", HeaderValue::from_static("v1,a "));
        headers.append("svix-signature", HeaderValue::from_static(" v1,b"));
        headers.insert(
            "svix-id",
            HeaderValue::from_bytes(b"\xa0msg_\xe9 ").unwrap(),
        );
        assert_eq!(header(&headers, "svix-signature"), "v1,a, v1,b");
        assert_eq!(header(&headers, "svix-id"), "msg_\u{e9}");
    }

    #[test]
    fn bodies_read_as_request_text() {
        assert_eq!(body_text(b"\xEF\xBB\xBF{}"), "{}");
        assert_eq!(body_text(b"{\xff}"), "{\u{fffd}}");
        assert_eq!(body_text(b"\xF0\x9F\x98"), "\u{fffd}");
    }

    #[test]
    fn secrets_decode_with_or_without_prefix_and_padding() {
        for secret in ["whsec_dGVzdA==", "dGVzdA==", "whsec_dGVzdA"] {
            assert!(signing_key(secret).is_ok(), "{secret}");
        }
        for secret in ["", "whsec_", "whsec_@@@@", "whsec_dGVzdA==\n"] {
            assert!(signing_key(secret).is_err(), "{secret:?}");
        }
    }
}

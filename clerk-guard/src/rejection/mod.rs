//! Why a request was refused, and the response that says so: RFC 6750 for
//! APIs, a redirect for a browser's pages.

mod reason;

pub use reason::Reason;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Renders a rejection as the application wants it; see
/// [`ClerkConfigBuilder::rejection_response`](crate::ClerkConfigBuilder::rejection_response).
///
/// ```
/// use axum::response::IntoResponse;
/// let render: clerk_guard::RejectionRenderer =
///     std::sync::Arc::new(|r: &clerk_guard::AuthRejection| (r.status(), r.reason().code()).into_response());
/// ```
pub type RejectionRenderer = Arc<dyn Fn(&AuthRejection) -> Response + Send + Sync>;

/// The protocol a refusal answers: plain HTTP (RFC 6750), or gRPC (a
/// request whose `content-type` is `application/grpc…`), where a refusal is
/// an HTTP 200 carrying `grpc-status` and `grpc-message`.
///
/// ```
/// use clerk_guard::{AuthRejection, Protocol, Reason};
/// assert_eq!(AuthRejection::new(Reason::TokenExpired).protocol(), Protocol::Http);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// HTTP: 401/403/503 with `WWW-Authenticate` and a JSON body.
    #[default]
    Http,
    /// gRPC: HTTP 200, `grpc-status` 16/7/14 and the reason as `grpc-message`.
    Grpc,
}

impl Protocol {
    /// The protocol of a request with these headers.
    ///
    /// ```
    /// use axum::http::{header, HeaderMap, HeaderValue};
    /// use clerk_guard::Protocol;
    /// let mut headers = HeaderMap::new();
    /// headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc+proto"));
    /// assert_eq!(Protocol::of(&headers), Protocol::Grpc);
    /// ```
    pub fn of(headers: &axum::http::HeaderMap) -> Self {
        let grpc = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"));
        if grpc {
            Protocol::Grpc
        } else {
            Protocol::Http
        }
    }
}

/// A refused request: the [`Reason`], a short operator-facing detail (logged,
/// never sent), and how to render it.
///
/// As a response it is `401`/`403`/`503` with `WWW-Authenticate` per RFC 6750
/// (and `Retry-After` on 503) and a JSON body `{"error": …, "reason": …}`.
/// Neither the token nor internal error text ever appears in the response.
///
/// ```
/// use axum::response::IntoResponse;
/// use clerk_guard::{AuthRejection, Reason};
///
/// let response = AuthRejection::new(Reason::TokenExpired).into_response();
/// assert_eq!(response.status(), 401);
/// assert_eq!(
///     response.headers()["www-authenticate"],
///     r#"Bearer error="invalid_token", error_description="token-expired""#
/// );
/// ```
#[derive(Clone)]
pub struct AuthRejection {
    reason: Reason,
    detail: &'static str,
    retry_after: Option<Duration>,
    /// What a failed reverification asked for: a preset name or
    /// `{"level": …, "afterMinutes": …}`, as Clerk's body carries it.
    reverification: Option<serde_json::Value>,
    renderer: Option<RejectionRenderer>,
    /// HTTP or gRPC: how the default response is written.
    protocol: Protocol,
    /// What a browser's page gets instead of (or besides) the RFC 6750
    /// answer; boxed, as most refusals have none.
    page: Option<Box<PageAnswer>>,
}

/// A browser's page request, answered as Clerk's middleware answers it.
#[derive(Debug, Clone, Default)]
pub(crate) struct PageAnswer {
    /// A 307 to here instead of the refusal: the Frontend API's handshake,
    /// the sign-in page, or the page again once its cookies are set.
    pub(crate) location: Option<HeaderValue>,
    /// `Set-Cookie` values sent with the answer, whichever it is.
    pub(crate) cookies: Vec<HeaderValue>,
    /// The request was a page request (a navigation of a browser).
    pub(crate) page_request: bool,
}

/// `Retry-After` of a 503 whose cause gives no better figure.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

impl AuthRejection {
    /// A rejection for `reason` with the default response.
    ///
    /// ```
    /// let rejection = clerk_guard::AuthRejection::new(clerk_guard::Reason::MissingRole);
    /// assert_eq!(rejection.status(), 403);
    /// ```
    #[cold]
    pub fn new(reason: Reason) -> Self {
        Self {
            reason,
            detail: "",
            retry_after: None,
            reverification: None,
            renderer: None,
            protocol: Protocol::Http,
            page: None,
        }
    }

    /// A 403 asking the user to verify again, with what the route requires
    /// (Clerk's preset name, or `{"level": …, "afterMinutes": …}`).
    ///
    /// ```
    /// use clerk_guard::{AuthRejection, Reason};
    /// let rejection = AuthRejection::reverification(serde_json::json!("strict"));
    /// assert_eq!(rejection.reason(), Reason::ReverificationRequired);
    /// assert_eq!(rejection.status(), 403);
    /// ```
    pub fn reverification(required: serde_json::Value) -> Self {
        let mut rejection = Self::new(Reason::ReverificationRequired);
        rejection.reverification = Some(required);
        rejection
    }

    /// What a reverification rejection requires (for custom renderers).
    ///
    /// ```
    /// # use clerk_guard::AuthRejection;
    /// let r = AuthRejection::reverification(serde_json::json!("lax"));
    /// assert_eq!(r.reverification_required(), Some(&serde_json::json!("lax")));
    /// ```
    pub fn reverification_required(&self) -> Option<&serde_json::Value> {
        self.reverification.as_ref()
    }

    /// A `token-invalid` refusal saying which rule broke.
    #[cold]
    pub(crate) fn invalid(detail: &'static str) -> Self {
        Self::with_detail(Reason::TokenInvalid, detail)
    }

    #[cold]
    pub(crate) fn with_detail(reason: Reason, detail: &'static str) -> Self {
        Self {
            reason,
            detail,
            retry_after: None,
            reverification: None,
            renderer: None,
            protocol: Protocol::Http,
            page: None,
        }
    }

    /// This refusal, answered in `protocol`.
    pub(crate) fn in_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The protocol the refusal answers (a custom renderer can write a
    /// gRPC answer for [`Protocol::Grpc`], or call
    /// [`default_response`](Self::default_response), which does).
    ///
    /// ```
    /// # use clerk_guard::{AuthRejection, Protocol, Reason};
    /// assert_eq!(AuthRejection::new(Reason::MissingRole).protocol(), Protocol::Http);
    /// ```
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The gRPC status code of this refusal: 16 `UNAUTHENTICATED` for a
    /// missing, invalid or expired token, 7 `PERMISSION_DENIED` for a
    /// requirement not met, 14 `UNAVAILABLE` when keys, configuration or
    /// the Backend API are unavailable (3 `INVALID_ARGUMENT` for a webhook).
    ///
    /// ```
    /// # use clerk_guard::{AuthRejection, Reason};
    /// assert_eq!(AuthRejection::new(Reason::TokenExpired).grpc_status(), 16);
    /// assert_eq!(AuthRejection::new(Reason::MissingRole).grpc_status(), 7);
    /// assert_eq!(AuthRejection::new(Reason::JwkRemoteFailedToLoad).grpc_status(), 14);
    /// ```
    pub fn grpc_status(&self) -> u16 {
        match self.reason.status().as_u16() {
            401 => 16,
            403 => 7,
            503 => 14,
            _ => 3,
        }
    }

    /// This refusal, answered to a page as `page` says.
    pub(crate) fn for_page(mut self, page: PageAnswer) -> Self {
        self.page = Some(Box::new(page));
        self
    }

    /// The page answer, to add to.
    pub(crate) fn page_mut(&mut self) -> &mut PageAnswer {
        self.page.get_or_insert_with(Default::default)
    }

    /// Where a browser is sent instead of this refusal (`307`): Clerk's
    /// handshake, the sign-in page, or the page again with fresh cookies.
    ///
    /// ```
    /// let rejection = clerk_guard::AuthRejection::new(clerk_guard::Reason::TokenExpired);
    /// assert_eq!(rejection.redirect_location(), None);
    /// ```
    pub fn redirect_location(&self) -> Option<&str> {
        self.page
            .as_ref()
            .and_then(|page| page.location.as_ref())
            .and_then(|location| location.to_str().ok())
    }

    /// The cookies this answer sets.
    pub(crate) fn page_cookies(&self) -> &[HeaderValue] {
        self.page
            .as_ref()
            .map_or(&[], |page| page.cookies.as_slice())
    }

    /// Whether the refused request was a browser's page request (a `GET`
    /// navigation): a custom renderer can answer it with an HTML page, a
    /// 403 say, rather than JSON.
    ///
    /// ```
    /// let rejection = clerk_guard::AuthRejection::new(clerk_guard::Reason::MissingRole);
    /// assert!(!rejection.is_page_request());
    /// ```
    pub fn is_page_request(&self) -> bool {
        self.page.as_ref().is_some_and(|page| page.page_request)
    }

    /// When the client may try again (503 only): the time left before the
    /// verifier will try to fetch keys again.
    pub(crate) fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// For a 503: how long the client should wait before retrying, as sent in
    /// `Retry-After` (whole seconds, rounded up, at least 1). `None` for 401/403.
    ///
    /// ```
    /// # use clerk_guard::{AuthRejection, Reason};
    /// assert_eq!(AuthRejection::new(Reason::JwkRemoteFailedToLoad).retry_after_secs(), Some(5));
    /// assert_eq!(AuthRejection::new(Reason::TokenExpired).retry_after_secs(), None);
    /// ```
    pub fn retry_after_secs(&self) -> Option<u64> {
        if !self.reason.is_unavailable() {
            return None;
        }
        let after = self.retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        Some(secs.max(1))
    }

    pub(crate) fn rendered_by(mut self, renderer: Option<&RejectionRenderer>) -> Self {
        self.renderer = renderer.cloned();
        self
    }

    /// Why the request was refused.
    ///
    /// ```
    /// # use clerk_guard::{AuthRejection, Reason};
    /// assert_eq!(AuthRejection::new(Reason::TokenMissing).reason(), Reason::TokenMissing);
    /// ```
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// A short description for operators (for logs; not sent to clients).
    ///
    /// ```
    /// # use clerk_guard::{AuthRejection, Reason};
    /// assert_eq!(AuthRejection::new(Reason::TokenExpired).detail(), "token-expired");
    /// ```
    pub fn detail(&self) -> &'static str {
        if self.detail.is_empty() {
            self.reason.code()
        } else {
            self.detail
        }
    }

    /// The status of the default response (307 for a page sent elsewhere).
    ///
    /// ```
    /// # use clerk_guard::{AuthRejection, Reason};
    /// assert_eq!(AuthRejection::new(Reason::MissingRole).status(), 403);
    /// ```
    pub fn status(&self) -> StatusCode {
        if self.redirect_location().is_some() {
            StatusCode::TEMPORARY_REDIRECT
        } else {
            self.reason.status()
        }
    }

    /// The default response, ignoring any application renderer. Useful inside
    /// a custom renderer that only adds to it.
    ///
    /// ```
    /// # use clerk_guard::{AuthRejection, Reason};
    /// let response = AuthRejection::new(Reason::JwkRemoteFailedToLoad).default_response();
    /// assert_eq!(response.status(), 503);
    /// assert!(response.headers().contains_key("retry-after"));
    /// ```
    pub fn default_response(&self) -> Response {
        if self.protocol == Protocol::Grpc {
            return self.grpc_response();
        }
        let reason = self.reason;
        let body = match (reason, &self.reverification) {
            // Clerk's own body: `useReverification()` reads exactly this.
            (Reason::ReverificationRequired, Some(required)) => Json(serde_json::json!({
                "clerk_error": {
                    "type": "forbidden",
                    "reason": "reverification-error",
                    "metadata": { "reverification": required },
                }
            })),
            _ => Json(serde_json::json!({
                "error": reason.error(),
                "reason": reason.code(),
            })),
        };
        let mut response = (reason.status(), body).into_response();
        let headers = response.headers_mut();
        let challenge = match reason {
            // A webhook is signed, not bearer-authenticated: no challenge.
            _ if reason.is_webhook() => String::new(),
            Reason::TokenMissing | Reason::ClientUatWithoutSessionToken => "Bearer".to_owned(),
            _ if reason.is_unavailable() => "Bearer".to_owned(),
            _ => format!(
                "Bearer error=\"{}\", error_description=\"{}\"",
                reason.error(),
                reason.code()
            ),
        };
        if let (false, Ok(value)) = (challenge.is_empty(), HeaderValue::from_str(&challenge)) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(secs) = self.retry_after_secs() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl AuthRejection {
    /// gRPC's answer: HTTP 200, no body, the status in `grpc-status` and
    /// the reason code in `grpc-message` (percent-encoded as gRPC requires),
    /// `retry-after` kept as metadata on 14.
    fn grpc_response(&self) -> Response {
        let mut response = StatusCode::OK.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", HeaderValue::from(self.grpc_status()));
        if let Ok(message) = HeaderValue::try_from(grpc_percent_encode(self.reason.code())) {
            headers.insert("grpc-message", message);
        }
        if let Some(secs) = self.retry_after_secs() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// gRPC's `grpc-message` encoding: bytes outside printable ASCII, and `%`,
/// as `%XX`.
pub(crate) fn grpc_percent_encode(message: &str) -> String {
    let mut encoded = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRejection")
            .field("reason", &self.reason)
            .field("detail", &self.detail())
            .field("retry_after", &self.retry_after)
            .field("custom_renderer", &self.renderer.is_some())
            .field("redirect", &self.redirect_location())
            .field("protocol", &self.protocol)
            .finish()
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.reason.code(), self.detail())
    }
}

impl std::error::Error for AuthRejection {}

impl From<Reason> for AuthRejection {
    fn from(reason: Reason) -> Self {
        AuthRejection::new(reason)
    }
}

/// A refusal as a tonic `Status` (feature `tonic`), for a check inside a
/// tonic method: the code of [`AuthRejection::grpc_status`], the reason code
/// as the message.
///
/// ```
/// # #[cfg(feature = "tonic")] {
/// use clerk_guard::{AuthRejection, Reason};
/// let status = tonic::Status::from(AuthRejection::new(Reason::MissingRole));
/// assert_eq!(status.code(), tonic::Code::PermissionDenied);
/// assert_eq!(status.message(), "missing-role");
/// # }
/// ```
#[cfg(feature = "tonic")]
impl From<AuthRejection> for tonic::Status {
    fn from(rejection: AuthRejection) -> Self {
        let code = tonic::Code::from_i32(i32::from(rejection.grpc_status()));
        let mut status = tonic::Status::new(code, rejection.reason().code());
        if let Some(secs) = rejection.retry_after_secs() {
            if let Ok(value) = secs.to_string().parse() {
                status.metadata_mut().insert("retry-after", value);
            }
        }
        status
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        // Logged where the verdict is reached, not a second time here.
        let mut response = match (&self.page, &self.renderer) {
            // A redirect is Clerk's protocol, not a refusal to render.
            (Some(page), _) if page.location.is_some() => redirect(page),
            (_, Some(render)) => render(&self),
            (_, None) => self.default_response(),
        };
        if let Some(page) = &self.page {
            for cookie in &page.cookies {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie.clone());
            }
        }
        response
    }
}

/// A 307 to the page answer's location, never cached (a cached redirect
/// would loop a browser through the handshake).
fn redirect(page: &PageAnswer) -> Response {
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    let headers = response.headers_mut();
    if let Some(location) = &page.location {
        headers.insert(header::LOCATION, location.clone());
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_messages_are_percent_encoded() {
        assert_eq!(grpc_percent_encode("token-expired"), "token-expired");
        assert_eq!(grpc_percent_encode("50% é\n"), "50%25 %C3%A9%0A");
    }

    #[test]
    fn a_grpc_refusal_is_a_200_with_the_status_and_no_body() {
        let refused = AuthRejection::new(Reason::JwkRemoteFailedToLoad)
            .retry_after(Duration::from_millis(1500))
            .in_protocol(Protocol::Grpc);
        let response = refused.default_response();
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["grpc-status"], "14");
        assert_eq!(headers["grpc-message"], "jwk-remote-failed-to-load");
        assert_eq!(headers["retry-after"], "2");
        assert_eq!(headers["content-type"], "application/grpc");
        assert!(!headers.contains_key("www-authenticate"));
    }
}

//! Why a request was refused, and the RFC 6750 response that says so.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The reason a request was not authenticated or not authorized.
///
/// Codes follow Clerk's backend SDKs (`token-expired`, `jwk-kid-mismatch`, …)
/// so logs line up with Clerk's documentation; the few cases Clerk has no code
/// for get a code in the same style.
///
/// ```
/// use clerk_guard::Reason;
/// use axum::http::StatusCode;
///
/// assert_eq!(Reason::TokenExpired.code(), "token-expired");
/// assert_eq!(Reason::TokenExpired.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(Reason::MissingRole.status(), StatusCode::FORBIDDEN);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// No token in the `Authorization` header nor in the `__session` cookie.
    TokenMissing,
    /// The token is malformed, or a header or claim breaks a rule.
    TokenInvalid,
    /// The `alg` header is not RS256, RS384 or RS512.
    TokenInvalidAlgorithm,
    /// The signature does not match the key named by `kid`.
    TokenInvalidSignature,
    /// `exp` is in the past (beyond the clock skew).
    TokenExpired,
    /// `nbf` is in the future (beyond the clock skew).
    TokenNotActiveYet,
    /// `iat` is in the future (beyond the clock skew).
    TokenIatInTheFuture,
    /// `iss` is not the configured issuer.
    TokenInvalidIssuer,
    /// `aud` does not contain a configured audience.
    TokenInvalidAudience,
    /// `azp` is missing or not one of the configured authorized parties.
    TokenInvalidAuthorizedParties,
    /// The token is of a kind the route does not accept: a machine token (M2M,
    /// OAuth, API key) on a session route, or a session token on a
    /// machine-only route.
    TokenTypeMismatch,
    /// The session is pending (`sts == "pending"`) and the app does not accept pending sessions.
    SessionPending,
    /// No key in the key set has the token's `kid`.
    JwkKidMismatch,
    /// The user holds none of the required application roles.
    MissingRole,
    /// The active organization role is not the required one.
    MissingOrgRole,
    /// The user lacks one of the required organization permissions.
    MissingPermission,
    /// The session lacks one of the required billing features (`fea`).
    MissingFeature,
    /// The session is on none of the accepted billing plans (`pla`).
    MissingPlan,
    /// The user must verify again (step-up): the factor verification age
    /// (`fva`) is too old for the route. Answered with Clerk's own body, so
    /// Clerk's frontend `useReverification()` prompts and retries.
    ReverificationRequired,
    /// The machine token lacks one of the scopes the route requires.
    MissingScope,
    /// The JWKS could not be fetched and no keys are cached.
    JwkRemoteFailedToLoad,
    /// An opaque machine token could not be checked: the Backend API could
    /// not be reached or answered with an error, or the per-second cap on
    /// lookups of new tokens was reached (with `Retry-After`).
    BackendApiUnavailable,
    /// The JWKS was fetched but holds no usable key (RSA, 2048 bits or more).
    JwkRemoteMissing,
    /// The verifier's configuration is missing or malformed (see the logs).
    ConfigurationInvalid,
}

impl Reason {
    /// Clerk's code for this reason, as sent in the `reason` field of the body.
    ///
    /// ```
    /// assert_eq!(clerk_guard::Reason::JwkKidMismatch.code(), "jwk-kid-mismatch");
    /// ```
    pub const fn code(self) -> &'static str {
        match self {
            Reason::TokenMissing => "token-missing",
            Reason::TokenInvalid => "token-invalid",
            Reason::TokenInvalidAlgorithm => "token-invalid-algorithm",
            Reason::TokenInvalidSignature => "token-invalid-signature",
            Reason::TokenExpired => "token-expired",
            Reason::TokenNotActiveYet => "token-not-active-yet",
            Reason::TokenIatInTheFuture => "token-iat-in-the-future",
            Reason::TokenInvalidIssuer => "token-invalid-issuer",
            Reason::TokenInvalidAudience => "token-invalid-audience",
            Reason::TokenInvalidAuthorizedParties => "token-invalid-authorized-parties",
            Reason::TokenTypeMismatch => "token-type-mismatch",
            Reason::SessionPending => "session-pending",
            Reason::JwkKidMismatch => "jwk-kid-mismatch",
            Reason::MissingRole => "missing-role",
            Reason::MissingOrgRole => "missing-org-role",
            Reason::MissingPermission => "missing-permission",
            Reason::MissingFeature => "missing-feature",
            Reason::MissingPlan => "missing-plan",
            Reason::ReverificationRequired => "reverification-error",
            Reason::MissingScope => "missing-scope",
            Reason::BackendApiUnavailable => "backend-api-unavailable",
            Reason::JwkRemoteFailedToLoad => "jwk-remote-failed-to-load",
            Reason::JwkRemoteMissing => "jwk-remote-missing",
            Reason::ConfigurationInvalid => "configuration-invalid",
        }
    }

    /// The HTTP status this reason is answered with: 401, 403 or 503.
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// assert_eq!(clerk_guard::Reason::JwkRemoteFailedToLoad.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// ```
    pub const fn status(self) -> StatusCode {
        match self {
            Reason::MissingRole
            | Reason::MissingOrgRole
            | Reason::MissingPermission
            | Reason::MissingFeature
            | Reason::MissingPlan
            | Reason::ReverificationRequired
            | Reason::MissingScope => StatusCode::FORBIDDEN,
            Reason::JwkRemoteFailedToLoad
            | Reason::JwkRemoteMissing
            | Reason::BackendApiUnavailable
            | Reason::ConfigurationInvalid => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The RFC 6750 `error` value: `invalid_token`, `insufficient_scope`,
    /// `temporarily_unavailable`, or `unauthorized` when no token was sent.
    ///
    /// ```
    /// assert_eq!(clerk_guard::Reason::MissingPermission.error(), "insufficient_scope");
    /// ```
    pub const fn error(self) -> &'static str {
        // Derived from the status, so the two never disagree.
        match (self, self.status()) {
            (Reason::TokenMissing, _) => "unauthorized",
            (_, StatusCode::FORBIDDEN) => "insufficient_scope",
            (_, StatusCode::SERVICE_UNAVAILABLE) => "temporarily_unavailable",
            _ => "invalid_token",
        }
    }

    /// Whether authentication could not be attempted at all (503: no keys,
    /// no configuration). Never treated as signed out.
    pub(crate) fn is_unavailable(self) -> bool {
        self.status().as_u16() == 503
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Renders a rejection as the application wants it; see
/// [`ClerkConfigBuilder::rejection_response`](crate::ClerkConfigBuilder::rejection_response).
///
/// ```
/// use axum::response::IntoResponse;
/// let render: clerk_guard::RejectionRenderer =
///     std::sync::Arc::new(|r: &clerk_guard::AuthRejection| (r.status(), r.reason().code()).into_response());
/// ```
pub type RejectionRenderer = Arc<dyn Fn(&AuthRejection) -> Response + Send + Sync>;

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
        }
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

    /// The status of the default response.
    ///
    /// ```
    /// # use clerk_guard::{AuthRejection, Reason};
    /// assert_eq!(AuthRejection::new(Reason::MissingRole).status(), 403);
    /// ```
    pub fn status(&self) -> StatusCode {
        self.reason.status()
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
            Reason::TokenMissing => "Bearer".to_owned(),
            _ if reason.is_unavailable() => "Bearer".to_owned(),
            _ => format!(
                "Bearer error=\"{}\", error_description=\"{}\"",
                reason.error(),
                reason.code()
            ),
        };
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(secs) = self.retry_after_secs() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRejection")
            .field("reason", &self.reason)
            .field("detail", &self.detail())
            .field("retry_after", &self.retry_after)
            .field("custom_renderer", &self.renderer.is_some())
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

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        // Logged where the verdict is reached, not a second time here.
        match &self.renderer {
            Some(render) => render(&self),
            None => self.default_response(),
        }
    }
}

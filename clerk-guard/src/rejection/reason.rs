//! [`Reason`]: why a request was refused, with Clerk's codes.

use std::fmt;

use axum::http::StatusCode;

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
    /// A `__session` cookie without `__client_uat` (or with `__client_uat=0`,
    /// what Clerk's frontend writes at sign-out): signed out.
    SessionTokenWithoutClientUat,
    /// `__client_uat` says signed in but no `__session` cookie came.
    ClientUatWithoutSessionToken,
    /// The session cookie was issued before the client last changed
    /// (`iat < __client_uat`): another account, or signed out since.
    SessionTokenIatBeforeClientUat,
    /// A development instance's request without its dev-browser token.
    DevBrowserMissing,
    /// A development instance's request carrying a dev-browser token in its
    /// URL, to be synced by a handshake.
    DevBrowserSync,
    /// A webhook delivery without its `svix-id`, `svix-timestamp` or
    /// `svix-signature` header (or with one blank).
    WebhookMissingHeaders,
    /// A webhook delivery whose signature matches none computed with the
    /// signing secret, or whose `svix-timestamp` is not a number.
    WebhookInvalidSignature,
    /// A webhook delivery signed more than 5 minutes ago, or more than 5
    /// minutes ahead of this machine's clock.
    WebhookTimestampOutOfRange,
    /// A signed webhook body that is not the JSON of an event (or not of the
    /// shape the handler asked for).
    WebhookInvalidPayload,
    /// A webhook body over the configured size limit (`413`).
    WebhookBodyTooLarge,
    /// A delivery whose message id is being handled by another request right
    /// now (`409`; the replay guard): Clerk retries it later.
    WebhookDeliveryInProgress,
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
            Reason::SessionTokenWithoutClientUat => "session-token-but-no-client-uat",
            Reason::ClientUatWithoutSessionToken => "client-uat-but-no-session-token",
            Reason::SessionTokenIatBeforeClientUat => "session-token-iat-before-client-uat",
            Reason::DevBrowserMissing => "dev-browser-missing",
            Reason::DevBrowserSync => "dev-browser-sync",
            Reason::WebhookMissingHeaders => "webhook-missing-headers",
            Reason::WebhookInvalidSignature => "webhook-invalid-signature",
            Reason::WebhookTimestampOutOfRange => "webhook-timestamp-out-of-range",
            Reason::WebhookInvalidPayload => "webhook-invalid-payload",
            Reason::WebhookBodyTooLarge => "webhook-body-too-large",
            Reason::WebhookDeliveryInProgress => "webhook-delivery-in-progress",
        }
    }

    /// The HTTP status this reason is answered with: 401, 403 or 503 for
    /// tokens; 400, 409 or 413 for webhook deliveries.
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// assert_eq!(clerk_guard::Reason::JwkRemoteFailedToLoad.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// assert_eq!(clerk_guard::Reason::WebhookInvalidSignature.status(), StatusCode::BAD_REQUEST);
    /// ```
    pub const fn status(self) -> StatusCode {
        match self {
            Reason::WebhookMissingHeaders
            | Reason::WebhookInvalidSignature
            | Reason::WebhookTimestampOutOfRange
            | Reason::WebhookInvalidPayload => StatusCode::BAD_REQUEST,
            Reason::WebhookBodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::WebhookDeliveryInProgress => StatusCode::CONFLICT,
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
    /// `temporarily_unavailable`, or `unauthorized` when no token was sent;
    /// `invalid_request` for a webhook delivery.
    ///
    /// ```
    /// assert_eq!(clerk_guard::Reason::MissingPermission.error(), "insufficient_scope");
    /// ```
    pub const fn error(self) -> &'static str {
        // Derived from the status, so the two never disagree.
        match (self, self.status()) {
            (Reason::TokenMissing | Reason::ClientUatWithoutSessionToken, _) => "unauthorized",
            (_, s) if s.as_u16() < 500 && s.as_u16() != 401 && s.as_u16() != 403 => {
                "invalid_request"
            }
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

    /// Whether this is a webhook delivery's reason (no bearer challenge).
    pub(crate) const fn is_webhook(self) -> bool {
        matches!(
            self,
            Reason::WebhookMissingHeaders
                | Reason::WebhookInvalidSignature
                | Reason::WebhookTimestampOutOfRange
                | Reason::WebhookInvalidPayload
                | Reason::WebhookBodyTooLarge
                | Reason::WebhookDeliveryInProgress
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

//! The testing kit's Backend API: the three endpoints that verify opaque
//! machine tokens, with tokens it mints, revokes and counts lookups of.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::token::now;
use crate::token::TokenKind;
use crate::util::lock;

/// What the local Backend API answers to token lookups.
///
/// ```no_run
/// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
/// issuer.set_backend_api_mode(clerk_guard::testing::BackendApiMode::Status(503));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendApiMode {
    /// Answer from the minted tokens (the default): a valid token's
    /// resource; 404 for an unknown, revoked or expired one.
    Serve,
    /// Like `Serve`, but a revoked or expired token's resource is returned
    /// with `revoked: true` / `expired: true` (a verifier must refuse it).
    ReportRefusals,
    /// Answer every lookup with this status and no token.
    Status(u16),
    /// Never answer (the client's timeout fires).
    Hang,
}

/// One minted opaque token, as the Backend API keeps it.
#[derive(Debug, Clone)]
struct Record {
    kind: TokenKind,
    id: String,
    subject: String,
    scopes: Vec<String>,
    claims: Option<Map<String, Value>>,
    expires_at: Option<i64>,
    revoked: bool,
    client_id: Option<String>,
    name: Option<String>,
    aud: Option<Value>,
}

pub(super) struct BackendState {
    secret_key: String,
    tokens: Mutex<HashMap<String, Record>>,
    calls: AtomicUsize,
    mode: Mutex<BackendApiMode>,
    delay: Mutex<Duration>,
    next_id: AtomicUsize,
}

impl BackendState {
    pub(super) fn new(secret_key: &str) -> Self {
        Self {
            secret_key: secret_key.to_owned(),
            tokens: Mutex::new(HashMap::new()),
            calls: AtomicUsize::new(0),
            mode: Mutex::new(BackendApiMode::Serve),
            delay: Mutex::new(Duration::ZERO),
            next_id: AtomicUsize::new(1),
        }
    }

    pub(super) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(super) fn set_mode(&self, mode: BackendApiMode) {
        *lock(&self.mode) = mode;
    }

    pub(super) fn set_delay(&self, delay: Duration) {
        *lock(&self.delay) = delay;
    }

    /// Marks `token` revoked; whether it was known.
    pub(super) fn revoke(&self, token: &str) -> bool {
        match lock(&self.tokens).get_mut(token) {
            Some(record) => {
                record.revoked = true;
                true
            }
            None => false,
        }
    }
}

/// The Backend API routes, mounted beside the JWKS.
pub(super) fn routes(state: Arc<BackendState>) -> Router {
    Router::new()
        .route("/m2m_tokens/verify", post(verify_m2m))
        .route(
            "/oauth_applications/access_tokens/verify",
            post(verify_oauth),
        )
        .route("/api_keys/verify", post(verify_api_key))
        .with_state(state)
}

async fn verify_m2m(
    State(state): State<Arc<BackendState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    answer(&state, &headers, TokenKind::M2m, body.get("token")).await
}

async fn verify_oauth(
    State(state): State<Arc<BackendState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    answer(&state, &headers, TokenKind::OAuth, body.get("access_token")).await
}

async fn verify_api_key(
    State(state): State<Arc<BackendState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    answer(&state, &headers, TokenKind::ApiKey, body.get("secret")).await
}

fn clerk_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "errors": [{ "code": code, "message": message }] })),
    )
        .into_response()
}

/// Clerk's answer: the token resource, 404 for an unknown token (or one of
/// another kind, or a revoked or expired one), 401 for a wrong secret key.
async fn answer(
    state: &BackendState,
    headers: &HeaderMap,
    kind: TokenKind,
    token: Option<&Value>,
) -> Response {
    state.calls.fetch_add(1, Ordering::SeqCst);
    let delay = *lock(&state.delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mode = *lock(&state.mode);
    match mode {
        BackendApiMode::Serve | BackendApiMode::ReportRefusals => {}
        BackendApiMode::Status(code) => {
            return StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response()
        }
        BackendApiMode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
    }
    let expected = format!("Bearer {}", state.secret_key);
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&expected)
    {
        return clerk_error(
            StatusCode::UNAUTHORIZED,
            "authentication_invalid",
            "invalid secret key",
        );
    }
    let record = token
        .and_then(Value::as_str)
        .and_then(|token| lock(&state.tokens).get(token).cloned())
        .filter(|record| record.kind == kind);
    let Some(record) = record else {
        return clerk_error(StatusCode::NOT_FOUND, "resource_not_found", "not found");
    };
    let now = now();
    let expired = record.expires_at.is_some_and(|exp| exp <= now);
    if (expired || record.revoked) && mode == BackendApiMode::Serve {
        return clerk_error(StatusCode::NOT_FOUND, "resource_not_found", "not found");
    }
    let mut body = json!({
        "object": match kind {
            TokenKind::M2m => "machine_to_machine_token",
            TokenKind::OAuth => "clerk_idp_oauth_access_token",
            _ => "api_key",
        },
        "id": record.id,
        "subject": record.subject,
        "scopes": record.scopes,
        "claims": record.claims,
        "revoked": record.revoked,
        "revocation_reason": record.revoked.then_some("revoked in a test"),
        "expired": expired,
        "expiration": record.expires_at.map(|exp| exp * 1000),
        "created_at": now * 1000,
        "updated_at": now * 1000,
    });
    if let Some(fields) = body.as_object_mut() {
        if let Some(client_id) = record.client_id {
            fields.insert("client_id".into(), client_id.into());
        }
        if let Some(name) = record.name {
            fields.insert("name".into(), name.into());
        }
        if let Some(aud) = record.aud {
            fields.insert("aud".into(), aud);
        }
    }
    Json(body).into_response()
}

/// Mints an opaque machine token the local Backend API knows.
///
/// ```no_run
/// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
/// use clerk_guard::TokenKind;
/// let token = issuer.opaque(TokenKind::ApiKey).subject("user_1").scopes(["read"]).mint();
/// assert!(token.starts_with("ak_"));
/// # }
/// ```
#[must_use]
pub struct OpaqueTokenBuilder {
    state: Arc<BackendState>,
    record: Record,
}

impl std::fmt::Debug for OpaqueTokenBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueTokenBuilder")
            .field("kind", &self.record.kind)
            .finish_non_exhaustive()
    }
}

/// 32 random base62 characters after `prefix`, as Clerk's tokens look.
pub(super) fn random_token(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 32];
    // Rejection-free: a small bias is fine for test tokens.
    aws_lc_rs::rand::fill(&mut bytes).unwrap_or_default();
    let body: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{prefix}{body}")
}

impl OpaqueTokenBuilder {
    pub(super) fn new(state: Arc<BackendState>, kind: TokenKind) -> Self {
        let n = state.next_id.fetch_add(1, Ordering::SeqCst);
        let (id_prefix, subject) = match kind {
            TokenKind::M2m => ("mt_", "mch_test".to_owned()),
            TokenKind::OAuth => ("oat_", "user_test".to_owned()),
            _ => ("ak_", "user_test".to_owned()),
        };
        Self {
            state,
            record: Record {
                kind,
                id: format!("{id_prefix}id{n}"),
                subject,
                scopes: Vec::new(),
                claims: None,
                expires_at: Some(now() + 3600),
                revoked: false,
                client_id: (kind == TokenKind::OAuth).then(|| "client_test".to_owned()),
                name: (kind == TokenKind::ApiKey).then(|| "test key".to_owned()),
                aud: None,
            },
        }
    }

    /// Who the token speaks for (default `mch_test` for M2M, `user_test` otherwise).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.opaque(clerk_guard::TokenKind::M2m).subject("mch_billing").mint();
    /// # }
    /// ```
    pub fn subject(mut self, subject: &str) -> Self {
        self.record.subject = subject.to_owned();
        self
    }

    /// The token's scopes.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.opaque(clerk_guard::TokenKind::OAuth).scopes(["read", "write"]).mint();
    /// # }
    /// ```
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.record.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Custom claims the Backend API returns with the token.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.opaque(clerk_guard::TokenKind::M2m).claims(serde_json::json!({"tenant": "t1"})).mint();
    /// # }
    /// ```
    pub fn claims(mut self, claims: Value) -> Self {
        self.record.claims = claims.as_object().cloned();
        self
    }

    /// Expires `seconds` from now (negative: already expired); default one hour.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.opaque(clerk_guard::TokenKind::ApiKey).expires_in(2).mint();
    /// # }
    /// ```
    pub fn expires_in(mut self, seconds: i64) -> Self {
        self.record.expires_at = Some(now() + seconds);
        self
    }

    /// Never expires (`expiration: null`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.opaque(clerk_guard::TokenKind::ApiKey).never_expires().mint();
    /// # }
    /// ```
    pub fn never_expires(mut self) -> Self {
        self.record.expires_at = None;
        self
    }

    /// An OAuth token's `aud`.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.opaque(clerk_guard::TokenKind::OAuth).audience(serde_json::json!(["my-api"])).mint();
    /// # }
    /// ```
    pub fn audience(mut self, aud: Value) -> Self {
        self.record.aud = Some(aud);
        self
    }

    /// Registers the token with the local Backend API and returns it.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token: String = issuer.opaque(clerk_guard::TokenKind::M2m).mint();
    /// # }
    /// ```
    pub fn mint(self) -> String {
        let prefix = match self.record.kind {
            TokenKind::M2m => "mt_",
            TokenKind::OAuth => "oat_",
            _ => "ak_",
        };
        let token = random_token(prefix);
        lock(&self.state.tokens).insert(token.clone(), self.record);
        token
    }
}

//! [`TestIssuer`]: a local Clerk instance serving its JWKS and Backend API
//! on loopback, able to fail, hang, rotate and mint on demand.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::backend_api::{self, BackendApiMode, BackendState, OpaqueTokenBuilder};
use super::frontend_api::{self, FrontendState};
use super::key::TestKey;
use super::token::TokenBuilder;
use super::TEST_SECRET_KEY;
use crate::config::{cookie_suffix, ClerkConfig, ClerkConfigBuilder};
use crate::token::TokenKind;
use crate::util::lock;

/// What the test JWKS endpoint answers.
///
/// ```no_run
/// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
/// issuer.set_mode(clerk_guard::testing::JwksMode::Status(503));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksMode {
    /// The current key set (the default).
    Serve,
    /// This status with an empty body (the JWKS is down).
    Status(u16),
    /// Never answers (a hung upstream; the verifier's timeout must fire).
    Hang,
    /// This body verbatim, with status 200.
    Body(String),
    /// A `307` redirect to this URL (another origin must not be followed).
    Redirect(String),
}

struct IssuerState {
    keys: Mutex<Vec<Arc<TestKey>>>,
    raw_jwks: Mutex<Vec<Value>>,
    signing: Arc<Mutex<Arc<TestKey>>>,
    mode: Mutex<JwksMode>,
    delay: Mutex<Duration>,
    fetches: AtomicUsize,
    last_authorization: Mutex<Option<String>>,
}

impl IssuerState {
    fn jwks(&self) -> Value {
        let mut keys: Vec<Value> = lock(&self.keys).iter().map(|k| k.jwk()).collect();
        keys.extend(lock(&self.raw_jwks).iter().cloned());
        json!({ "keys": keys })
    }
}

/// A local Clerk instance: a key, a JWKS endpoint on `127.0.0.1`, a token minter.
///
/// The server stops when the issuer is dropped.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let issuer = clerk_guard::testing::TestIssuer::start().await?;
/// println!("JWKS at {}", issuer.jwks_url());
/// # Ok(()) }
/// ```
pub struct TestIssuer {
    state: Arc<IssuerState>,
    backend: Arc<BackendState>,
    frontend: Arc<FrontendState>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestIssuer {
    /// Generates a key (`kid` `ins_test_1`) and serves its JWKS on a free
    /// loopback port, at `/.well-known/jwks.json` and `/v1/jwks`.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let issuer = clerk_guard::testing::TestIssuer::start().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0").await
    }

    /// Like [`start`](Self::start), on a chosen address (e.g. `127.0.0.1:4000`).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let issuer = clerk_guard::testing::TestIssuer::start_on("127.0.0.1:4000").await?;
    /// # Ok(()) }
    /// ```
    pub async fn start_on(addr: &str) -> std::io::Result<Self> {
        let key = Arc::new(TestKey::generate("ins_test_1"));
        let state = Arc::new(IssuerState {
            keys: Mutex::new(vec![Arc::clone(&key)]),
            raw_jwks: Mutex::new(Vec::new()),
            signing: Arc::new(Mutex::new(key)),
            mode: Mutex::new(JwksMode::Serve),
            delay: Mutex::new(Duration::ZERO),
            fetches: AtomicUsize::new(0),
            last_authorization: Mutex::new(None),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::clone(&state);
        let backend = Arc::new(BackendState::new(TEST_SECRET_KEY));
        let issuer = format!("http://{addr}");
        let frontend = Arc::new(FrontendState::new(
            issuer,
            TEST_SECRET_KEY,
            Arc::clone(&state.signing),
            [
                cookie_suffix(&publishable_key("pk_live_", addr)),
                cookie_suffix(&publishable_key("pk_test_", addr)),
            ],
        ));
        let app = Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .route("/v1/jwks", get(serve_jwks))
            .with_state(shared)
            .merge(backend_api::routes(Arc::clone(&backend)))
            .merge(frontend_api::routes(Arc::clone(&frontend)));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "test JWKS server stopped");
            }
        });
        Ok(Self {
            state,
            backend,
            frontend,
            addr,
            server,
        })
    }

    /// The issuer URL tokens carry in `iss` (`http://127.0.0.1:<port>`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// assert!(issuer.issuer().starts_with("http://127.0.0.1:"));
    /// # }
    /// ```
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The JWKS endpoint.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// assert!(issuer.jwks_url().ends_with("/.well-known/jwks.json"));
    /// # }
    /// ```
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.issuer())
    }

    /// A configuration builder pointing at this issuer (JWKS URL, issuer,
    /// and its Backend API with [`TEST_SECRET_KEY`] for opaque machine
    /// tokens); add options, then `build()`.
    ///
    /// ```no_run
    /// # async fn demo(issuer: clerk_guard::testing::TestIssuer) {
    /// let config = issuer.config().clock_skew(std::time::Duration::ZERO).build().unwrap();
    /// # }
    /// ```
    pub fn config(&self) -> ClerkConfigBuilder {
        ClerkConfig::builder()
            .jwks_url(self.jwks_url())
            .issuer(self.issuer())
            .secret_key(TEST_SECRET_KEY)
            .api_url(self.api_url())
    }

    /// The publishable key of this instance as a production instance
    /// (`pk_live_`): it names the issuer's host as the Frontend API.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// assert!(issuer.publishable_key().starts_with("pk_live_"));
    /// # }
    /// ```
    pub fn publishable_key(&self) -> String {
        publishable_key("pk_live_", self.addr)
    }

    /// The publishable key of this instance as a development instance
    /// (`pk_test_`: dev-browser tokens, a redirect after each handshake).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// assert!(issuer.development_publishable_key().starts_with("pk_test_"));
    /// # }
    /// ```
    pub fn development_publishable_key(&self) -> String {
        publishable_key("pk_test_", self.addr)
    }

    /// [`config`](Self::config) for browsers' pages too: the publishable key
    /// (production), this issuer as the Frontend API (Clerk's `proxyUrl`,
    /// so the handshake comes here over plain HTTP), and its sign-in page.
    ///
    /// ```no_run
    /// # async fn demo(issuer: clerk_guard::testing::TestIssuer) {
    /// let config = issuer.browser_config().build().unwrap();
    /// # }
    /// ```
    pub fn browser_config(&self) -> ClerkConfigBuilder {
        self.config()
            .publishable_key(self.publishable_key())
            .proxy_url(self.issuer())
            .sign_in_url(self.sign_in_url())
    }

    /// The hosted sign-in page: it lists test users; following one signs it
    /// in (`__session`, `__client_uat`, their suffixed twins, a dev-browser
    /// token; `__refresh` too with `refresh=1` in the link's query) and
    /// sends the browser to `redirect_url`.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// assert!(issuer.sign_in_url().ends_with("/sign-in"));
    /// # }
    /// ```
    pub fn sign_in_url(&self) -> String {
        format!("{}/sign-in", self.issuer())
    }

    /// The `Cookie` header of a browser that just signed in as `user` on
    /// the hosted sign-in page (with `roles`, and a `__refresh` cookie), for
    /// tests without a browser.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let cookie = issuer.browser_signed_in("user_1", ["admin"]);
    /// assert!(cookie.contains("__client_uat="));
    /// # }
    /// ```
    pub fn browser_signed_in<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        user: &str,
        roles: I,
    ) -> String {
        let (_, cookies) =
            self.frontend
                .sign_in(user, roles.into_iter().map(Into::into).collect(), true);
        cookies
            .iter()
            .map(|c| c.split(';').next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// How long the session tokens of signed-in browsers live (default 60 s,
    /// as Clerk's): short ones let a test see a handshake within seconds.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// issuer.set_session_lifetime(std::time::Duration::from_secs(2));
    /// # }
    /// ```
    pub fn set_session_lifetime(&self, lifetime: Duration) {
        self.frontend.set_lifetime(lifetime);
    }

    /// How many handshakes the Frontend API served.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// assert_eq!(issuer.handshake_count(), 0);
    /// # }
    /// ```
    pub fn handshake_count(&self) -> usize {
        self.frontend.handshakes()
    }

    /// How many session refreshes the Backend API served.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// assert_eq!(issuer.refresh_count(), 0);
    /// # }
    /// ```
    pub fn refresh_count(&self) -> usize {
        self.frontend.refreshes()
    }

    /// The local Backend API's base URL (`http://127.0.0.1:<port>`), which
    /// serves `/v1/jwks` and the machine-token lookups.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// assert!(issuer.api_url().starts_with("http://127.0.0.1:"));
    /// # }
    /// ```
    pub fn api_url(&self) -> String {
        self.issuer()
    }

    /// Mints an opaque machine token (`mt_…`, `oat_…` or `ak_…`) the local
    /// Backend API knows. `TokenKind::Session` mints an API key.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.opaque(clerk_guard::TokenKind::M2m).subject("mch_worker").mint();
    /// # }
    /// ```
    pub fn opaque(&self, kind: TokenKind) -> OpaqueTokenBuilder {
        OpaqueTokenBuilder::new(Arc::clone(&self.backend), kind)
    }

    /// Revokes an opaque token: the Backend API answers 404 for it from now
    /// on (`revoked: true` in [`BackendApiMode::ReportRefusals`]).
    /// Returns whether the token was known.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.opaque(clerk_guard::TokenKind::ApiKey).mint();
    /// assert!(issuer.revoke(&token));
    /// # }
    /// ```
    pub fn revoke(&self, token: &str) -> bool {
        self.backend.revoke(token)
    }

    /// How many machine-token lookups the Backend API received.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// assert_eq!(issuer.backend_api_calls(), 0);
    /// # }
    /// ```
    pub fn backend_api_calls(&self) -> usize {
        self.backend.calls()
    }

    /// Changes what the Backend API's lookups answer from now on.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// issuer.set_backend_api_mode(clerk_guard::testing::BackendApiMode::Hang);
    /// # }
    /// ```
    pub fn set_backend_api_mode(&self, mode: BackendApiMode) {
        self.backend.set_mode(mode);
    }

    /// Delays every Backend API lookup answer.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// issuer.set_backend_api_delay(std::time::Duration::from_millis(300));
    /// # }
    /// ```
    pub fn set_backend_api_delay(&self, delay: Duration) {
        self.backend.set_delay(delay);
    }

    /// A JWT-format M2M token builder: header `cat` `cl_B7d4PD333AAA`, `sub`
    /// `mch_test`, `jti` `mt_…`, valid for a minute, signed by the current key.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.m2m_token().subject("mch_worker").scopes(["mch_api"]).sign();
    /// # }
    /// ```
    pub fn m2m_token(&self) -> TokenBuilder {
        self.token()
            .machine(TokenKind::M2m)
            .header("cat", "cl_B7d4PD333AAA")
            .subject("mch_test")
    }

    /// A JWT-format OAuth access token builder: header `typ` `at+jwt`, `sub`
    /// `user_test`, `client_id`, `jti` `oat_…`, valid for a minute.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.oauth_token().scopes(["read", "write"]).sign();
    /// # }
    /// ```
    pub fn oauth_token(&self) -> TokenBuilder {
        self.token()
            .machine(TokenKind::OAuth)
            .header("typ", "at+jwt")
            .without_header("cat")
            .claim("client_id", "client_test")
    }

    /// How many times the JWKS endpoint was requested.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// assert_eq!(issuer.fetch_count(), 0); // nothing verified yet
    /// # }
    /// ```
    pub fn fetch_count(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// The `Authorization` header of the last JWKS request (the Backend API
    /// source sends the secret key as Bearer).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let sent = issuer.last_authorization(); // Some("Bearer sk_test_…") for the Backend API source
    /// # }
    /// ```
    pub fn last_authorization(&self) -> Option<String> {
        lock(&self.state.last_authorization).clone()
    }

    /// Changes what the JWKS endpoint answers from now on.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// issuer.set_mode(clerk_guard::testing::JwksMode::Hang);
    /// # }
    /// ```
    pub fn set_mode(&self, mode: JwksMode) {
        *lock(&self.state.mode) = mode;
    }

    /// Delays every JWKS answer (to make concurrent cold requests overlap).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// issuer.set_delay(std::time::Duration::from_millis(300));
    /// # }
    /// ```
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.state.delay) = delay;
    }

    /// The key that signs new tokens.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let pem = issuer.signing_key().public_key_pem(); // for CLERK_JWT_KEY
    /// # }
    /// ```
    pub fn signing_key(&self) -> Arc<TestKey> {
        Arc::clone(&lock(&self.state.signing))
    }

    /// Rotates: a new key `kid` signs from now on and is published beside the
    /// old ones.
    ///
    /// ```no_run
    /// # fn demo(issuer: clerk_guard::testing::TestIssuer) {
    /// issuer.rotate("ins_test_2");
    /// issuer.retire("ins_test_1");
    /// # }
    /// ```
    pub fn rotate(&self, kid: impl Into<String>) -> Arc<TestKey> {
        let key = Arc::new(TestKey::generate(kid));
        lock(&self.state.keys).push(Arc::clone(&key));
        *lock(&self.state.signing) = Arc::clone(&key);
        key
    }

    /// Stops publishing the key `kid`.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// issuer.retire("ins_test_1");
    /// # }
    /// ```
    pub fn retire(&self, kid: &str) {
        lock(&self.state.keys).retain(|k| k.kid != kid);
    }

    /// Publishes an extra JWK as-is, beside the issuer's keys (a weak or
    /// non-RSA key, say).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// issuer.publish_raw_jwk(serde_json::json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}));
    /// # }
    /// ```
    pub fn publish_raw_jwk(&self, jwk: Value) {
        lock(&self.state.raw_jwks).push(jwk);
    }

    /// The JWKS document currently published in [`JwksMode::Serve`].
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// assert_eq!(issuer.jwks()["keys"].as_array().map(Vec::len), Some(1));
    /// # }
    /// ```
    pub fn jwks(&self) -> Value {
        self.state.jwks()
    }

    /// A token builder with Clerk-like defaults: `sub` `user_test`, `sid`
    /// `sess_test`, `iss` this issuer, `azp` `http://localhost:3000`, `iat`
    /// and `nbf` now, `exp` in 60 s, v2 shape, signed RS256 by the current key.
    ///
    /// ```no_run
    /// # fn demo(issuer: clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token()
    ///     .subject("user_2")
    ///     .org("org_1", "acme", "admin")
    ///     .permissions(["org:billing:manage"])
    ///     .sign();
    /// # }
    /// ```
    pub fn token(&self) -> TokenBuilder {
        TokenBuilder::new(self.issuer(), self.signing_key())
    }
}

async fn serve_jwks(
    axum::extract::State(state): axum::extract::State<Arc<IssuerState>>,
    headers: axum::http::HeaderMap,
) -> Response {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    *lock(&state.last_authorization) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let delay = *lock(&state.delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mode = lock(&state.mode).clone();
    match mode {
        JwksMode::Serve => axum::Json(state.jwks()).into_response(),
        JwksMode::Status(code) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        JwksMode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        JwksMode::Body(body) => ([("content-type", "application/json")], body).into_response(),
        JwksMode::Redirect(to) => (
            StatusCode::TEMPORARY_REDIRECT,
            [(axum::http::header::LOCATION, to)],
        )
            .into_response(),
    }
}

/// `prefix` + base64(`<host:port>$`): a publishable key naming this
/// issuer's host as the Frontend API.
fn publishable_key(prefix: &str, addr: SocketAddr) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{addr}$"));
    format!("{prefix}{encoded}")
}

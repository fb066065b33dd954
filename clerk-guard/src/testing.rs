//! A local Clerk issuer for tests and demos (feature `testing`).
//!
//! [`TestIssuer`] generates an RSA key, serves its JWKS over loopback HTTP
//! (counting fetches, and able to fail, hang or rotate on demand), and mints
//! session tokens in Clerk's v1 or v2 claim shape.
//!
//! ```no_run
//! use clerk_guard::testing::TestIssuer;
//! use clerk_guard::{ClerkLayer, ClerkVerifier};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = TestIssuer::start().await?;
//! let verifier = ClerkVerifier::new(issuer.config().build()?)?;
//! let token = issuer.token().subject("user_1").roles(["admin"]).sign();
//! let auth = verifier.verify(&token).await?;
//! assert!(auth.has_role("admin"));
//! assert_eq!(issuer.fetch_count(), 1);
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, KeyPair as _};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::config::ClerkConfigBuilder;
use crate::{ClerkConfig, TokenKind};

mod backend_api;

use backend_api::BackendState;
pub use backend_api::{BackendApiMode, OpaqueTokenBuilder};

/// The secret key the local Backend API expects (and [`TestIssuer::config`] sends).
///
/// ```
/// assert!(clerk_guard::testing::TEST_SECRET_KEY.starts_with("sk_test_"));
/// ```
pub const TEST_SECRET_KEY: &str = "sk_test_clerk_guard_local_instance";

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// An RSA key pair that signs test tokens.
///
/// ```no_run
/// let foreign = clerk_guard::testing::TestKey::generate("attacker");
/// assert_eq!(foreign.kid(), "attacker");
/// ```
pub struct TestKey {
    kid: String,
    pair: KeyPair,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// A fresh 2048-bit key named `kid`.
    ///
    /// ```no_run
    /// let key = clerk_guard::testing::TestKey::generate("ins_test_1");
    /// ```
    pub fn generate(kid: impl Into<String>) -> Self {
        Self::generate_with_size(kid, 2048)
    }

    /// A fresh key of 2048, 3072 or 4096 bits (others give 2048).
    ///
    /// ```no_run
    /// let key = clerk_guard::testing::TestKey::generate_with_size("big", 4096);
    /// ```
    pub fn generate_with_size(kid: impl Into<String>, bits: usize) -> Self {
        let size = match bits {
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            _ => KeySize::Rsa2048,
        };
        #[allow(clippy::expect_used)] // test kit: key generation cannot fail on a working system
        let pair = KeyPair::generate(size).expect("RSA key generation");
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        Self {
            kid: kid.into(),
            pair,
            n,
            e,
        }
    }

    /// The key id carried in the JWKS and in tokens' `kid`.
    ///
    /// ```no_run
    /// assert_eq!(clerk_guard::testing::TestKey::generate("k1").kid(), "k1");
    /// ```
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty` RSA, `use` sig, `alg` RS256).
    ///
    /// ```no_run
    /// let jwk = clerk_guard::testing::TestKey::generate("k").jwk();
    /// assert_eq!(jwk["kty"], "RSA");
    /// ```
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": B64URL.encode(&self.n), "e": B64URL.encode(&self.e),
        })
    }

    /// The public key as an SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the
    /// format of `CLERK_JWT_KEY`.
    ///
    /// ```no_run
    /// let pem = clerk_guard::testing::TestKey::generate("k").public_key_pem();
    /// assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    /// ```
    pub fn public_key_pem(&self) -> String {
        let components = PublicKeyComponents {
            n: self.n.as_slice(),
            e: self.e.as_slice(),
        };
        #[allow(clippy::expect_used)] // the components come from a generated key
        let der = components.as_der().expect("SPKI encoding");
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// The DER bytes of the public key (PKCS#1), e.g. to forge an HS256 token
    /// that uses the public key as its HMAC secret.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// use clerk_guard::testing::TestAlg;
    /// let secret = issuer.signing_key().public_key_der();
    /// let forged = issuer.token().alg(TestAlg::Hs256(secret)).sign(); // must be refused
    /// # }
    /// ```
    pub fn public_key_der(&self) -> Vec<u8> {
        // aws-lc-rs's public key bytes are the PKCS#1 RSAPublicKey DER.
        self.pair.public_key().as_ref().to_vec()
    }

    fn sign(&self, alg: &TestAlg, message: &[u8]) -> Vec<u8> {
        let padding: &'static dyn signature::RsaEncoding = match alg {
            TestAlg::Rs256 => &signature::RSA_PKCS1_SHA256,
            TestAlg::Rs384 => &signature::RSA_PKCS1_SHA384,
            TestAlg::Rs512 => &signature::RSA_PKCS1_SHA512,
            TestAlg::Ps256 => &signature::RSA_PSS_SHA256,
            TestAlg::Hs256(secret) => {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
                return aws_lc_rs::hmac::sign(&key, message).as_ref().to_vec();
            }
            TestAlg::None => return Vec::new(),
        };
        let mut sig = vec![0; self.pair.public_modulus_len()];
        #[allow(clippy::expect_used)] // signing with a valid key and buffer cannot fail
        self.pair
            .sign(padding, &SystemRandom::new(), message, &mut sig)
            .expect("RSA signing");
        sig
    }
}

/// How a test token is signed; anything but RS256/384/512 must be refused.
///
/// ```no_run
/// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
/// let forged = issuer.token().alg(clerk_guard::testing::TestAlg::None).sign();
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Clerk's algorithm).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256 (`PS256`).
    Ps256,
    /// HMAC-SHA256 with the given secret (`HS256`), the key-confusion attack.
    Hs256(Vec<u8>),
    /// `alg: none` with an empty signature.
    None,
}

impl TestAlg {
    fn name(&self) -> &'static str {
        match self {
            TestAlg::Rs256 => "RS256",
            TestAlg::Rs384 => "RS384",
            TestAlg::Rs512 => "RS512",
            TestAlg::Ps256 => "PS256",
            TestAlg::Hs256(_) => "HS256",
            TestAlg::None => "none",
        }
    }
}

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

/// The claim shape of a minted token.
///
/// ```no_run
/// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
/// let v1 = issuer.token().shape(clerk_guard::testing::ClaimShape::V1).org("org_1", "acme", "admin").sign();
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimShape {
    /// `org_id`, `org_slug`, `org_role`, `org_permissions`.
    V1,
    /// `v: 2`, `o: {id, slg, rol, per, fpm}`, `fea` (Clerk's current shape).
    V2,
}

struct IssuerState {
    keys: Mutex<Vec<Arc<TestKey>>>,
    raw_jwks: Mutex<Vec<Value>>,
    signing: Mutex<Arc<TestKey>>,
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

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
            signing: Mutex::new(key),
            mode: Mutex::new(JwksMode::Serve),
            delay: Mutex::new(Duration::ZERO),
            fetches: AtomicUsize::new(0),
            last_authorization: Mutex::new(None),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::clone(&state);
        let backend = Arc::new(BackendState::new(TEST_SECRET_KEY));
        let app = Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .route("/v1/jwks", get(serve_jwks))
            .with_state(shared)
            .merge(backend_api::routes(Arc::clone(&backend)));
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "test JWKS server stopped");
            }
        });
        Ok(Self {
            state,
            backend,
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
        let mut builder = self.token().machine(TokenKind::M2m);
        builder
            .header
            .insert("cat".into(), "cl_B7d4PD333AAA".into());
        builder.subject("mch_test")
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
        let mut builder = self.token().machine(TokenKind::OAuth);
        builder.header.insert("typ".into(), "at+jwt".into());
        builder.header.remove("cat");
        builder
            .claims
            .insert("client_id".into(), "client_test".into());
        builder
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

/// Parses a JWKS document exactly as the verifier's key cache does and
/// returns the `kid`s of the keys it would use (sorted), or why it would use
/// none: for property tests and fuzzing of the key-set parser.
///
/// ```
/// use clerk_guard::testing::{usable_jwks_kids, TestKey};
///
/// let strong = TestKey::generate("k1").jwk();
/// let ec = serde_json::json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"});
/// let body = serde_json::json!({"keys": [strong, ec]}).to_string();
/// assert_eq!(usable_jwks_kids(body.as_bytes()).unwrap(), ["k1"]);
/// assert!(usable_jwks_kids(b"not json").is_err());
/// ```
pub fn usable_jwks_kids(body: &[u8]) -> Result<Vec<String>, crate::Reason> {
    crate::keys::KeySet::from_jwks(body).map(|set| set.kids())
}

/// Reads the registered claims of a token payload (the decoded JSON) with
/// the verifier's one-pass reader and with serde_json, and panics if the
/// one-pass reader accepted a payload serde_json refuses or read a different
/// value; returns whether the one-pass reader took it (it leaves anything
/// unusual to serde_json). For property tests and fuzzing of that reader.
///
/// ```
/// use clerk_guard::testing::check_claims_reader;
///
/// assert!(check_claims_reader(r#"{"sub":"user_1","exp":1700000000,"o":{"id":"org_1"}}"#));
/// // An escape, a fraction, a repeated claim: left to serde_json.
/// assert!(!check_claims_reader(r#"{"sub":"user_\u0031","exp":1}"#));
/// assert!(!check_claims_reader(r#"{"sub":"user_1","exp":1.5}"#));
/// assert!(!check_claims_reader(r#"{"sub":"a","sub":"b","exp":1}"#));
/// ```
pub fn check_claims_reader(payload: &str) -> bool {
    crate::claims::check_fast_reader(payload)
}

/// Mints `count` tokens with `make(i)` on every core (RSA signing is the
/// slow part of a large pool), in order: for load, soak and memory runs.
///
/// ```no_run
/// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
/// let tokens = clerk_guard::testing::mint_parallel(10_000, |i| {
///     issuer.token().subject(&format!("user_{i}")).expires_in(3600).sign()
/// });
/// assert_eq!(tokens.len(), 10_000);
/// # }
/// ```
pub fn mint_parallel(count: usize, make: impl Fn(usize) -> String + Sync) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let make = &make;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..count)
                        .step_by(threads)
                        .map(|i| (i, make(i)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, String)> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, token)| token).collect()
    })
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Builds and signs one session token; see [`TestIssuer::token`].
///
/// ```no_run
/// # fn demo(issuer: clerk_guard::testing::TestIssuer) {
/// use clerk_guard::testing::ClaimShape;
/// let expired = issuer.token().expired().sign();
/// let v1_member = issuer.token().shape(ClaimShape::V1).org("org_1", "acme", "member").sign();
/// let forged = issuer.token().header("alg", "none").sign();
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TokenBuilder {
    key: Arc<TestKey>,
    alg: TestAlg,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    shape: ClaimShape,
    org: Option<(String, String, String)>,
    permissions: Vec<String>,
    features: Vec<String>,
    raw_payload: Option<String>,
    /// Set for machine JWTs: no session claims, no `v`.
    machine: Option<TokenKind>,
}

impl TokenBuilder {
    fn new(issuer: String, key: Arc<TestKey>) -> Self {
        let now = now();
        let header = object([
            ("alg", "RS256".into()),
            ("kid", key.kid.clone().into()),
            ("typ", "JWT".into()),
            ("cat", "cl_B7d4PD111AAA".into()),
        ]);
        let claims = object([
            ("sub", "user_test".into()),
            ("sid", "sess_test".into()),
            ("iss", issuer.into()),
            ("azp", "http://localhost:3000".into()),
            ("iat", now.into()),
            ("nbf", now.into()),
            ("exp", (now + 60).into()),
            ("sts", "active".into()),
        ]);
        Self {
            key,
            alg: TestAlg::Rs256,
            header,
            claims,
            shape: ClaimShape::V2,
            org: None,
            permissions: Vec::new(),
            features: Vec::new(),
            raw_payload: None,
            machine: None,
        }
    }

    /// A machine JWT of `kind`: the session claims (`sid`, `azp`, `sts`) are
    /// dropped, a `jti` is set, and no claims version is written.
    fn machine(mut self, kind: TokenKind) -> Self {
        for claim in ["sid", "azp", "sts"] {
            self.claims.remove(claim);
        }
        let prefix = if kind == TokenKind::OAuth {
            "oat_"
        } else {
            "mt_"
        };
        self.claims
            .insert("jti".into(), backend_api::random_token(prefix).into());
        self.shape = ClaimShape::V1;
        self.machine = Some(kind);
        self
    }

    /// A machine token's scopes: `scopes` (space-separated) on an M2M JWT,
    /// `scp` (an array) on an OAuth JWT, `scopes` otherwise.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.oauth_token().scopes(["read"]).sign();
    /// # }
    /// ```
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        if self.machine == Some(TokenKind::OAuth) {
            self.claims.insert("scp".into(), scopes.into());
        } else {
            self.claims.insert("scopes".into(), scopes.join(" ").into());
        }
        self
    }

    /// The user id (`sub`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().subject("user_1").sign();
    /// # }
    /// ```
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }
    /// The session id (`sid`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().session_id("sess_1").sign();
    /// # }
    /// ```
    pub fn session_id(self, sid: &str) -> Self {
        self.claim("sid", sid)
    }
    /// The authorized party (`azp`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().azp("https://app.example.com").sign();
    /// # }
    /// ```
    pub fn azp(self, azp: &str) -> Self {
        self.claim("azp", azp)
    }
    /// The issuer (`iss`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().iss("https://other.example").sign();
    /// # }
    /// ```
    pub fn iss(self, iss: &str) -> Self {
        self.claim("iss", iss)
    }
    /// Application roles, as the custom claim `roles` (an array).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().roles(["admin", "editor"]).sign();
    /// # }
    /// ```
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(self, roles: I) -> Self {
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        self.claim("roles", roles)
    }
    /// The session status `pending` (`sts`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().pending().sign();
    /// # }
    /// ```
    pub fn pending(self) -> Self {
        self.claim("sts", "pending")
    }
    /// The active organization: id, slug, role (`admin` or `org:admin`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().org("org_1", "acme", "admin").sign();
    /// # }
    /// ```
    pub fn org(mut self, id: &str, slug: &str, role: &str) -> Self {
        self.org = Some((id.into(), slug.into(), role.into()));
        self
    }
    /// Organization permissions, `org:<feature>:<permission>` each; encoded
    /// as `org_permissions` (v1) or `fea` + `o.per` + `o.fpm` (v2).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().org("org_1", "acme", "member").permissions(["org:billing:manage"]).sign();
    /// # }
    /// ```
    pub fn permissions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, perms: I) -> Self {
        self.permissions = perms.into_iter().map(Into::into).collect();
        self
    }
    /// Billing features (`fea`), each `scope:id` with scope `u` (user), `o`
    /// (organization) or both (`uo`). A v2 token's organization permissions
    /// add their own org features first, so their masks keep their positions.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().features(["u:reports", "o:analytics"]).sign();
    /// # }
    /// ```
    pub fn features<I: IntoIterator<Item = S>, S: Into<String>>(mut self, features: I) -> Self {
        self.features = features.into_iter().map(Into::into).collect();
        self
    }
    /// Billing plans (`pla`), each `scope:id` like `u:pro` or `o:team`.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().plans(["u:pro"]).sign();
    /// # }
    /// ```
    pub fn plans<I: IntoIterator<Item = S>, S: Into<String>>(self, plans: I) -> Self {
        let plans: Vec<String> = plans.into_iter().map(Into::into).collect();
        self.claim("pla", plans.join(","))
    }
    /// Factor verification ages (`fva`): minutes since the first and the
    /// second factor were verified, -1 for a factor the user does not have.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let just_verified = issuer.token().factor_ages(0, 0).sign();
    /// let no_second_factor = issuer.token().factor_ages(3, -1).sign();
    /// # }
    /// ```
    pub fn factor_ages(self, first: i64, second: i64) -> Self {
        self.claim("fva", json!([first, second]))
    }
    /// v1 or v2 claim shape (default v2).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().shape(clerk_guard::testing::ClaimShape::V1).sign();
    /// # }
    /// ```
    pub fn shape(mut self, shape: ClaimShape) -> Self {
        self.shape = shape;
        self
    }
    /// `exp` this many seconds from now (negative: in the past).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().expires_in(3600).sign();
    /// # }
    /// ```
    pub fn expires_in(self, seconds: i64) -> Self {
        self.claim("exp", now() + seconds)
    }
    /// `nbf` this many seconds from now.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().not_before_in(30).sign();
    /// # }
    /// ```
    pub fn not_before_in(self, seconds: i64) -> Self {
        self.claim("nbf", now() + seconds)
    }
    /// `iat` this many seconds from now.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().issued_at_in(60).sign();
    /// # }
    /// ```
    pub fn issued_at_in(self, seconds: i64) -> Self {
        self.claim("iat", now() + seconds)
    }
    /// Expired two minutes ago (issued five minutes ago).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().expired().sign();
    /// # }
    /// ```
    pub fn expired(self) -> Self {
        self.issued_at_in(-300).not_before_in(-300).expires_in(-120)
    }
    /// Valid only from two minutes from now.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().not_yet_valid().sign();
    /// # }
    /// ```
    pub fn not_yet_valid(self) -> Self {
        self.not_before_in(120)
    }
    /// Any claim, replacing the default (any JSON value, of any type).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().claim("email", "ada@example.com").sign();
    /// # }
    /// ```
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }
    /// Removes a claim (including a default one).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().without_claim("exp").sign();
    /// # }
    /// ```
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }
    /// Any header field, replacing the default (`alg` here only changes the
    /// label; use [`alg`](Self::alg) to change how it is signed).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().header("typ", "at+jwt").sign();
    /// # }
    /// ```
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }
    /// Removes a header field (`kid`, `typ`, …).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().without_header("kid").sign();
    /// # }
    /// ```
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }
    /// Signs this exact payload text instead of the builder's claims (for
    /// payloads no JSON map can hold, like a claim given twice).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().raw_payload(r#"{"sub":"user_a","sub":"user_b","exp":9999999999}"#).sign();
    /// # }
    /// ```
    pub fn raw_payload(mut self, json: impl Into<String>) -> Self {
        self.raw_payload = Some(json.into());
        self
    }
    /// Signs with `alg` and labels the header with it.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().alg(clerk_guard::testing::TestAlg::Ps256).sign();
    /// # }
    /// ```
    pub fn alg(mut self, alg: TestAlg) -> Self {
        self.header.insert("alg".into(), alg.name().into());
        self.alg = alg;
        self
    }
    /// Signs with another key (its `kid` is used unless a `kid` header is set
    /// afterwards).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().signed_with(std::sync::Arc::new(clerk_guard::testing::TestKey::generate("attacker"))).sign();
    /// # }
    /// ```
    pub fn signed_with(mut self, key: Arc<TestKey>) -> Self {
        self.header.insert("kid".into(), key.kid.clone().into());
        self.key = key;
        self
    }

    fn org_claims(&self, claims: &mut Map<String, Value>) {
        let Some((id, slug, role)) = &self.org else {
            return;
        };
        match self.shape {
            ClaimShape::V1 => {
                let role = if role.starts_with("org:") {
                    role.clone()
                } else {
                    format!("org:{role}")
                };
                claims.insert("org_id".into(), id.clone().into());
                claims.insert("org_slug".into(), slug.clone().into());
                claims.insert("org_role".into(), role.into());
                claims.insert("org_permissions".into(), self.permissions.clone().into());
            }
            ClaimShape::V2 => {
                let mut features: Vec<&str> = Vec::new();
                let mut perms: Vec<&str> = Vec::new();
                let mut masks: Vec<u64> = Vec::new();
                for p in &self.permissions {
                    let mut parts = p.splitn(3, ':');
                    let (Some(_), Some(feature), Some(perm)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    let fi = features
                        .iter()
                        .position(|f| *f == feature)
                        .unwrap_or_else(|| {
                            features.push(feature);
                            masks.push(0);
                            features.len() - 1
                        });
                    let pi = perms.iter().position(|q| *q == perm).unwrap_or_else(|| {
                        perms.push(perm);
                        perms.len() - 1
                    });
                    masks[fi] |= 1 << pi;
                }
                let mut fea: Vec<String> = features.iter().map(|f| format!("o:{f}")).collect();
                fea.extend(
                    self.features
                        .iter()
                        .filter(|f| !fea.contains(f))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                let fpm: Vec<String> = masks.iter().map(u64::to_string).collect();
                claims.insert("fea".into(), fea.join(",").into());
                claims.insert(
                    "o".into(),
                    json!({
                        "id": id, "slg": slug, "rol": role.strip_prefix("org:").unwrap_or(role),
                        "per": perms.join(","), "fpm": fpm.join(","),
                    }),
                );
            }
        }
    }

    /// The signed token, `header.payload.signature`.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().sign();
    /// # }
    /// ```
    pub fn sign(&self) -> String {
        let mut claims = self.claims.clone();
        if self.shape == ClaimShape::V2 {
            claims.entry("v").or_insert(2.into());
        }
        if !self.features.is_empty() {
            claims.insert("fea".into(), self.features.join(",").into());
        }
        self.org_claims(&mut claims);
        let header = B64URL.encode(Value::Object(self.header.clone()).to_string());
        let payload = match &self.raw_payload {
            Some(raw) => B64URL.encode(raw),
            None => B64URL.encode(Value::Object(claims).to_string()),
        };
        let message = format!("{header}.{payload}");
        let signature = B64URL.encode(self.key.sign(&self.alg, message.as_bytes()));
        format!("{message}.{signature}")
    }
}

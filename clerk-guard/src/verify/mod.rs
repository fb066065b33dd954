//! Turning a token into a verified identity, by Clerk's rules: the
//! [`ClerkVerifier`] and the process-wide one.
//!
//! Every check here answers an unrendered [`AuthRejection`]; a refusal gets
//! the application's renderer only where it leaves the crate (the public
//! methods below, and the extractors and layer through [`ClerkVerifier::render`]).

mod backend_api;
mod class;
mod global;
mod machine_jwt;
mod rules;
mod session;
mod signature;
mod token_cache;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;

#[cfg(any(test, feature = "testing"))]
pub(crate) use class::check as check_classification;
pub(crate) use class::class_of;
pub(crate) use global::initialised;
pub(crate) use global::own_verifiers_exist;
pub use global::{global, init};

use self::backend_api::OpaqueVerifier;
use self::token_cache::TokenCache;
use crate::auth::{ClerkAuth, Principal, VerifierId};
use crate::config::{ClerkConfig, ConfigError};
use crate::http::BackendApi;
use crate::keys::KeyStore;
use crate::rejection::{AuthRejection, Reason};
use crate::token::{header_token, Accepts, Class, TokenKind};
use crate::util::Throttle;

/// Verifies Clerk session tokens: key lookup, signature, claims.
///
/// Cheap to clone (one `Arc`). Most apps never build one: the global verifier
/// is created from the environment on first use. Build one to give a router
/// its own configuration:
///
/// ```no_run
/// use axum::{routing::get, Extension, Router};
/// use clerk_guard::{ClerkConfig, ClerkVerifier};
///
/// # async fn handler() {}
/// let verifier = ClerkVerifier::new(
///     ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build()?,
/// )?;
/// // Every extractor and #[clerk_protected] handler below uses this verifier.
/// let app: Router = Router::new().route("/", get(handler)).layer(Extension(verifier));
/// # Ok::<(), clerk_guard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ClerkVerifier(Arc<VerifierInner>);

struct VerifierInner {
    /// Unique in the process: which verifier produced a request's outcome.
    id: VerifierId,
    config: ClerkConfig,
    keys: KeyStore,
    tokens: Option<TokenCache>,
    /// Clerk's Backend API, when a secret key is configured.
    backend: Option<Arc<BackendApi>>,
    /// Opaque machine tokens, when a secret key is configured.
    opaque: Option<Arc<OpaqueVerifier>>,
}

impl fmt::Debug for ClerkVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkVerifier")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

impl ClerkVerifier {
    /// A verifier for `config`. No network traffic happens here: keys are
    /// fetched on the first request.
    ///
    /// ```
    /// use clerk_guard::{ClerkConfig, ClerkVerifier};
    /// let config = ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json").build()?;
    /// let verifier = ClerkVerifier::new(config)?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn new(config: ClerkConfig) -> Result<Self, ConfigError> {
        let verifier = Self::build(config)?;
        global::note_own_verifier();
        Ok(verifier)
    }

    /// [`Self::new`] for the global verifier, which extractors find without
    /// searching a request's extensions.
    fn build(config: ClerkConfig) -> Result<Self, ConfigError> {
        let keys = config.key_store()?;
        let tokens =
            (config.token_cache_bytes() > 0).then(|| TokenCache::new(config.token_cache_bytes()));
        let secret_key_problem = |problem| ConfigError::invalid("CLERK_SECRET_KEY", problem);
        let (backend, opaque) = match config.backend_api() {
            None => (None, None),
            Some(api) => {
                let backend = Arc::new(
                    BackendApi::new(&api.base, &api.secret_key, &api.fetch)
                        .map_err(secret_key_problem)?,
                );
                let opaque =
                    OpaqueVerifier::new(Arc::clone(&backend), api, &config.claim_rules().audience)
                        .map_err(secret_key_problem)?;
                (Some(backend), Some(Arc::new(opaque)))
            }
        };
        Ok(Self(Arc::new(VerifierInner {
            id: VerifierId::fresh(),
            config,
            keys,
            tokens,
            backend,
            opaque,
        })))
    }

    /// The configuration this verifier applies.
    ///
    /// ```
    /// # let verifier = clerk_guard::ClerkVerifier::new(clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/j").build().unwrap()).unwrap();
    /// assert_eq!(verifier.config().clock_skew().as_secs(), 5);
    /// ```
    pub fn config(&self) -> &ClerkConfig {
        &self.0.config
    }

    /// Whether the publishable key is known, so page requests get Clerk's
    /// handshake.
    pub(crate) fn serves_pages(&self) -> bool {
        self.0.config.pages().frontend.is_some()
    }

    /// Clerk's Backend API, when a secret key is configured.
    pub(crate) fn backend_api(&self) -> Option<&BackendApi> {
        self.0.backend.as_deref()
    }

    /// Which verifier this is: clones share it, other verifiers differ.
    pub(crate) fn id(&self) -> VerifierId {
        self.0.id
    }

    /// `result`'s refusal, rendered the way this verifier's configuration
    /// asks: the one place a refusal gets the application's renderer.
    pub(crate) fn render<T>(&self, result: Result<T, AuthRejection>) -> Result<T, AuthRejection> {
        result.map_err(|rejection| rejection.rendered_by(self.0.config.renderer()))
    }

    /// Finds the token of a request (the `Authorization: Bearer` header, then
    /// the session cookies as Clerk reads them: `__session` with
    /// `__client_uat`, suffixed when the publishable key says so) and
    /// verifies it. The handshake of page requests needs the method and URL
    /// too: the extractors and [`ClerkLayer`](crate::ClerkLayer) do it.
    ///
    /// ```no_run
    /// # async fn f(verifier: clerk_guard::ClerkVerifier, headers: axum::http::HeaderMap) {
    /// match verifier.authenticate(&headers).await {
    ///     Ok(auth) => println!("signed in as {}", auth.user_id()),
    ///     Err(rejection) => println!("refused: {}", rejection.reason()),
    /// }
    /// # }
    /// ```
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<ClerkAuth, AuthRejection> {
        self.render(self.request_session(headers).await)
    }

    /// Verifies one session token by every rule of Clerk's SDKs.
    ///
    /// ```no_run
    /// # async fn f(verifier: clerk_guard::ClerkVerifier, token: &str) {
    /// let auth = verifier.verify(token).await;
    /// # }
    /// ```
    pub async fn verify(&self, token: &str) -> Result<ClerkAuth, AuthRejection> {
        self.render(self.session(token).await)
    }

    /// Finds and verifies the request's token as any kind `accepts` allows,
    /// as `@clerk/backend`'s `authenticateRequest` with `acceptsToken` does.
    ///
    /// Machine tokens are read from the `Authorization` header only; without
    /// one, a route that accepts sessions reads the `__session` cookie. A
    /// token of a kind the route does not accept is 401 `token-type-mismatch`.
    ///
    /// ```no_run
    /// use clerk_guard::{Accepts, Principal, TokenKind};
    /// # async fn f(verifier: clerk_guard::ClerkVerifier, headers: axum::http::HeaderMap) {
    /// let accepts = Accepts::M2M.with(TokenKind::ApiKey);
    /// if let Ok(principal) = verifier.authenticate_as(&headers, accepts).await {
    ///     println!("{} called as {}", principal.subject(), principal.kind());
    /// }
    /// # }
    /// ```
    pub async fn authenticate_as(
        &self,
        headers: &HeaderMap,
        accepts: Accepts,
    ) -> Result<Principal, AuthRejection> {
        self.render(self.request_principal(headers, accepts).await)
    }

    /// Verifies one token as any kind `accepts` allows.
    ///
    /// ```no_run
    /// # async fn f(verifier: clerk_guard::ClerkVerifier, token: &str) {
    /// let principal = verifier.verify_as(token, clerk_guard::Accepts::ANY).await;
    /// # }
    /// ```
    pub async fn verify_as(
        &self,
        token: &str,
        accepts: Accepts,
    ) -> Result<Principal, AuthRejection> {
        self.render(self.principal(token, accepts).await)
    }

    /// [`Self::authenticate_as`], unrendered: what the extractors and the
    /// layer ask when a verification must wait.
    pub(crate) async fn request_principal(
        &self,
        headers: &HeaderMap,
        accepts: Accepts,
    ) -> Result<Principal, AuthRejection> {
        if accepts == Accepts::SESSION {
            return self.request_session(headers).await.map(Principal::Session);
        }
        match header_token(headers) {
            Some(Ok(token)) => self.principal(token, accepts).await,
            Some(Err(rejection)) => Err(rejection),
            None if accepts.contains(TokenKind::Session) => {
                self.request_session(headers).await.map(Principal::Session)
            }
            None => Err(AuthRejection::with_detail(
                Reason::TokenMissing,
                "machine tokens are read from the Authorization header only",
            )),
        }
    }

    /// [`Self::verify_as`], unrendered.
    async fn principal(&self, token: &str, accepts: Accepts) -> Result<Principal, AuthRejection> {
        let class = class_of(token);
        if !accepts.contains(class.kind()) {
            return Err(AuthRejection::with_detail(
                Reason::TokenTypeMismatch,
                "the route does not accept this kind of token",
            ));
        }
        let machine = match class {
            Class::Session => return self.session(token).await.map(Principal::Session),
            Class::Jwt(kind) => self.machine_jwt(token, kind).await,
            Class::Opaque {
                well_formed: false, ..
            } => Err(AuthRejection::invalid(
                "not the length and alphabet of a Clerk machine token",
            )),
            Class::Opaque { kind, .. } => match &self.0.opaque {
                Some(opaque) => opaque.verify(token, kind).await,
                None => {
                    static SAID: Throttle = Throttle::new(Duration::from_secs(10));
                    if let Some(suppressed) = SAID.allow() {
                        tracing::error!(
                            suppressed,
                            "an opaque machine token arrived on a route that accepts it, but no \
                             secret key (CLERK_SECRET_KEY) is configured to verify it"
                        );
                    }
                    Err(AuthRejection::with_detail(
                        Reason::ConfigurationInvalid,
                        "opaque machine tokens need a secret key",
                    ))
                }
            },
        };
        machine.map(Principal::from_machine)
    }
}

//! How a verifier finds its keys and which rules it applies: the validated
//! [`ClerkConfig`], and the settings each part of the verifier reads from it.

mod build;
mod builder;
mod env;
mod url;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};

pub use builder::ClerkConfigBuilder;
#[cfg(feature = "testing")]
pub(crate) use url::cookie_suffix;

use crate::http::{self, FetchSettings};
use crate::keys::{JwksCache, JwksSettings, KeyStore, VerificationKey};
use crate::rejection::RejectionRenderer;

/// A configuration mistake, naming the setting to fix.
///
/// ```
/// use clerk_guard::{ClerkConfig, ConfigError};
///
/// let err = ClerkConfig::builder().publishable_key("pk_test_nonsense").build().unwrap_err();
/// assert!(matches!(err, ConfigError::Invalid { setting: "CLERK_PUBLISHABLE_KEY", .. }));
/// assert!(err.to_string().contains("CLERK_PUBLISHABLE_KEY"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No key source was configured.
    #[error(
        "no Clerk key source configured: set one of CLERK_JWT_KEY, CLERK_JWKS_URL, \
         CLERK_PUBLISHABLE_KEY or CLERK_SECRET_KEY"
    )]
    MissingKeySource,
    /// A setting has a value that cannot work.
    #[error("{setting} is invalid: {problem}")]
    Invalid {
        /// The environment variable (or the builder method's setting) at fault.
        setting: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// [`init`](crate::init) was called after the global verifier was created.
    #[error("the global Clerk verifier is already initialised")]
    AlreadyInitialised,
}

impl ConfigError {
    pub(crate) fn invalid(setting: &'static str, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            setting,
            problem: problem.into(),
        }
    }
}

/// Default Clerk Backend API base URL.
///
/// ```
/// assert_eq!(clerk_guard::DEFAULT_API_URL, "https://api.clerk.com");
/// ```
pub const DEFAULT_API_URL: &str = "https://api.clerk.com";

/// The verified-token cache's default byte budget: 16 MiB.
///
/// ```
/// assert_eq!(clerk_guard::DEFAULT_TOKEN_CACHE_BYTES, 16 * 1024 * 1024);
/// ```
pub const DEFAULT_TOKEN_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// How long past their TTL the last good keys serve while refreshes fail:
/// one hour. Clerk's JavaScript SDK serves none (it fails once its 5-minute
/// cache expires and the fetch fails), dioxus-clerk a day past a one-hour
/// TTL. An hour rides out a JWKS or network outage of the usual length,
/// while a key removed from the JWKS cannot outlive a blocked fetch by more.
pub(crate) const DEFAULT_JWKS_MAX_STALENESS: Duration = Duration::from_secs(3600);

/// Where the verifier gets its public keys.
#[derive(Clone)]
enum KeySource {
    /// A JWKS endpoint (a Frontend API's `/.well-known/jwks.json`, or any URL).
    Jwks { url: reqwest::Url },
    /// Clerk's Backend API `/v1/jwks`, authorised with the secret key.
    BackendApi {
        url: reqwest::Url,
        secret_key: String,
    },
    /// One PEM public key: no network at all.
    Pem(Arc<VerificationKey>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Jwks { url } => f.debug_struct("Jwks").field("url", &url.as_str()).finish(),
            KeySource::BackendApi { url, .. } => f
                .debug_struct("BackendApi")
                .field("url", &url.as_str())
                .field("secret_key", &"<redacted>")
                .finish(),
            KeySource::Pem(key) => f.debug_tuple("Pem").field(&key.bits()).finish(),
        }
    }
}

/// The claim rules every token is held to: the session rules, and the
/// machine-JWT rules that share them.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Vec<String>,
    pub(crate) authorized_parties: Vec<String>,
    pub(crate) clock_skew: Duration,
    pub(crate) accept_pending_sessions: bool,
}

/// How a JWKS is kept: refreshed after `ttl`, served up to `max_staleness`
/// past it while refreshes fail, at most one fetch per `cooldown` while keys
/// are missing or fetches fail, and extra headers.
#[derive(Debug, Clone)]
struct JwksPolicy {
    ttl: Duration,
    max_staleness: Duration,
    cooldown: Duration,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// How opaque machine tokens are looked up and remembered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MachineSettings {
    pub(crate) cache_ttl: Duration,
    pub(crate) not_found_ttl: Duration,
    pub(crate) lookups_per_second: u32,
    pub(crate) cache_entries: usize,
}

/// Clerk's Backend API, for what only it can answer (opaque machine
/// tokens): where, with which key, within which limits.
#[derive(Clone)]
pub(crate) struct BackendApiSettings {
    /// The base URL, e.g. `https://api.clerk.com` (no trailing slash).
    pub(crate) base: reqwest::Url,
    pub(crate) secret_key: String,
    pub(crate) fetch: FetchSettings,
    pub(crate) machine: MachineSettings,
}

/// The instance's Frontend API, as its publishable key names it.
#[derive(Debug, Clone)]
pub(crate) struct FrontendApi {
    pub(crate) publishable_key: String,
    /// The host the key encodes (`clerk.example.com`): the issuer's host.
    pub(crate) host: String,
    /// Where browsers reach it: `https://<host>`, or the proxy URL (no
    /// trailing slash).
    pub(crate) url: String,
    /// A `pk_test_` key: a development instance (dev-browser token, URL
    /// handshake).
    pub(crate) development: bool,
    /// What Clerk appends to its cookie names for this instance.
    pub(crate) cookie_suffix: String,
}

impl FrontendApi {
    /// The Account Portal's sign-in page (`buildAccountsBaseUrl`: `clerk.`
    /// or `clerk.accounts.` becomes `accounts.`).
    fn account_portal_sign_in(&self) -> String {
        let host = &self.host;
        let accounts = if let Some(rest) = host.strip_prefix("clerk.accounts.") {
            format!("accounts.{rest}")
        } else if let Some(at) = host.find("clerk.accounts.") {
            format!(
                "{}accounts.{}",
                &host[..at],
                &host[at + "clerk.accounts.".len()..]
            )
        } else if let Some(at) = host.find("clerk.") {
            format!("{}accounts.{}", &host[..at], &host[at + "clerk.".len()..])
        } else {
            host.clone()
        };
        format!("https://{accounts}/sign-in")
    }
}

/// What page requests (a browser's navigations) get: the handshake through
/// the Frontend API, and where `sign_in_redirect` routes send them.
#[derive(Debug, Clone, Default)]
pub(crate) struct PageSettings {
    pub(crate) frontend: Option<FrontendApi>,
    /// Absolute, or a path on the app's origin.
    pub(crate) sign_in_url: Option<String>,
}

/// A complete, validated verifier configuration. Build it with
/// [`ClerkConfig::builder`] or read it with [`ClerkConfig::from_env`].
///
/// ```
/// use std::time::Duration;
/// use clerk_guard::ClerkConfig;
///
/// let config = ClerkConfig::builder()
///     .jwks_url("https://clerk.example.com/.well-known/jwks.json")
///     .issuer("https://clerk.example.com")
///     .authorized_parties(["https://app.example.com"])
///     .clock_skew(Duration::from_secs(0))
///     .build()?;
/// assert_eq!(config.issuer(), Some("https://clerk.example.com"));
/// # Ok::<(), clerk_guard::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ClerkConfig {
    key_source: KeySource,
    rules: ClaimRules,
    role_claims: Arc<[Vec<String>]>,
    jwks: JwksPolicy,
    fetch: FetchSettings,
    token_cache_bytes: usize,
    rejection: Option<RejectionRenderer>,
    backend_api: Option<BackendApiSettings>,
    pages: PageSettings,
}

impl fmt::Debug for ClerkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules = &self.rules;
        f.debug_struct("ClerkConfig")
            .field("key_source", &self.key_source)
            .field("issuer", &rules.issuer)
            .field("audience", &rules.audience)
            .field("authorized_parties", &rules.authorized_parties)
            .field("clock_skew", &rules.clock_skew)
            .field("accept_pending_sessions", &rules.accept_pending_sessions)
            .field("role_claims", &self.role_claims)
            .field("jwks_ttl", &self.jwks.ttl)
            .field("jwks_max_staleness", &self.jwks.max_staleness)
            .field("unknown_kid_cooldown", &self.jwks.cooldown)
            .field("connect_timeout", &self.fetch.connect_timeout)
            .field("request_timeout", &self.fetch.request_timeout)
            .field("max_jwks_bytes", &self.fetch.max_bytes)
            .field("jwks_headers", &self.jwks.headers.len())
            .field("token_cache_bytes", &self.token_cache_bytes)
            .field("custom_rejection", &self.rejection.is_some())
            .field(
                "backend_api",
                &self.backend_api.as_ref().map(|api| api.base.as_str()),
            )
            .field("machine", &self.backend_api.as_ref().map(|api| api.machine))
            .finish()
    }
}

impl ClerkConfig {
    /// A builder with every option at its default.
    ///
    /// ```
    /// let builder = clerk_guard::ClerkConfig::builder();
    /// assert!(builder.build().is_err()); // a key source is required
    /// ```
    pub fn builder() -> ClerkConfigBuilder {
        ClerkConfigBuilder::default()
    }

    /// The issuer every token must carry, if one is known.
    ///
    /// ```
    /// # let config = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build().unwrap();
    /// assert_eq!(config.issuer(), None);
    /// ```
    pub fn issuer(&self) -> Option<&str> {
        self.rules.issuer.as_deref()
    }

    /// The `azp` allow-list (empty: `azp` not checked).
    ///
    /// ```
    /// # let config = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build().unwrap();
    /// assert!(config.authorized_parties().is_empty());
    /// ```
    pub fn authorized_parties(&self) -> &[String] {
        &self.rules.authorized_parties
    }

    /// The accepted audiences (empty: `aud` not checked).
    ///
    /// ```
    /// # let config = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build().unwrap();
    /// assert!(config.audience().is_empty());
    /// ```
    pub fn audience(&self) -> &[String] {
        &self.rules.audience
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat`.
    ///
    /// ```
    /// # let config = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build().unwrap();
    /// assert_eq!(config.clock_skew(), std::time::Duration::from_secs(5));
    /// ```
    pub fn clock_skew(&self) -> Duration {
        self.rules.clock_skew
    }

    /// The JWKS URL fetched, if the keys come from the network.
    ///
    /// ```
    /// # let config = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build().unwrap();
    /// assert_eq!(config.jwks_url(), Some("https://clerk.example.com/.well-known/jwks.json"));
    /// ```
    pub fn jwks_url(&self) -> Option<&str> {
        match &self.key_source {
            KeySource::Jwks { url } | KeySource::BackendApi { url, .. } => Some(url.as_str()),
            KeySource::Pem(_) => None,
        }
    }

    /// Whether a secret key is configured, so opaque machine tokens (`mt_`,
    /// `oat_`, `ak_`) can be verified through the Backend API.
    ///
    /// ```
    /// # let config = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build().unwrap();
    /// assert!(!config.verifies_opaque_tokens());
    /// ```
    pub fn verifies_opaque_tokens(&self) -> bool {
        self.backend_api.is_some()
    }

    /// The publishable key, if one is configured.
    ///
    /// ```
    /// # let config = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build().unwrap();
    /// assert_eq!(config.publishable_key(), None);
    /// ```
    pub fn publishable_key(&self) -> Option<&str> {
        self.pages
            .frontend
            .as_ref()
            .map(|f| f.publishable_key.as_str())
    }

    /// What page requests get: the handshake and the sign-in page.
    pub(crate) fn pages(&self) -> &PageSettings {
        &self.pages
    }

    /// The rules tokens are held to.
    pub(crate) fn claim_rules(&self) -> &ClaimRules {
        &self.rules
    }

    /// The claim paths application roles are read from.
    pub(crate) fn role_claims(&self) -> &Arc<[Vec<String>]> {
        &self.role_claims
    }

    /// The verified-token cache's byte budget (0: no cache).
    pub(crate) fn token_cache_bytes(&self) -> usize {
        self.token_cache_bytes
    }

    /// The application's rejection renderer, if it set one.
    pub(crate) fn renderer(&self) -> Option<&RejectionRenderer> {
        self.rejection.as_ref()
    }

    /// The Backend API, when a secret key is configured.
    pub(crate) fn backend_api(&self) -> Option<&BackendApiSettings> {
        self.backend_api.as_ref()
    }

    /// The key store this configuration asks for: the PEM key, or a JWKS
    /// cache fetching as configured (the secret key and custom headers go
    /// only to the JWKS URL's origin). Nothing is fetched yet.
    pub(crate) fn key_store(&self) -> Result<KeyStore, ConfigError> {
        let (url, secret_key) = match &self.key_source {
            KeySource::Pem(key) => return Ok(KeyStore::Static(Arc::clone(key))),
            KeySource::Jwks { url } => (url, None),
            KeySource::BackendApi { url, secret_key } => (url, Some(secret_key)),
        };
        let mut headers = HeaderMap::new();
        if let Some(secret_key) = secret_key {
            let bearer = http::secret_header(secret_key)
                .map_err(|problem| ConfigError::invalid("CLERK_SECRET_KEY", problem))?;
            headers.insert(header::AUTHORIZATION, bearer);
        }
        for (name, value) in &self.jwks.headers {
            headers.insert(name.clone(), value.clone());
        }
        let settings = JwksSettings {
            url: url.clone(),
            headers,
            fetch: self.fetch,
            ttl: self.jwks.ttl,
            cooldown: self.jwks.cooldown,
            max_staleness: self.jwks.max_staleness,
        };
        let cache = JwksCache::new(&settings)
            .map_err(|problem| ConfigError::invalid("CLERK_JWKS_URL", problem))?;
        Ok(KeyStore::Jwks(Arc::new(cache)))
    }
}

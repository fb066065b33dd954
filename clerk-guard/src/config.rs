//! How a verifier finds its keys and which rules it applies.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use base64::Engine as _;

use crate::keys::{JwksSettings, VerificationKey};
use crate::rejection::{AuthRejection, RejectionRenderer};

/// Where the verifier gets its public keys.
#[derive(Clone)]
pub(crate) enum KeySource {
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
    fn invalid(setting: &'static str, problem: impl Into<String>) -> Self {
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

/// The claims read for application roles by default, in order: `roles`
/// (string or array), `role`, `metadata.role`, `metadata.roles`.
///
/// ```
/// assert_eq!(clerk_guard::DEFAULT_ROLE_CLAIMS[0], "roles");
/// ```
pub const DEFAULT_ROLE_CLAIMS: [&str; 4] = ["roles", "role", "metadata.role", "metadata.roles"];

/// The verified-token cache's default byte budget: 16 MiB.
///
/// ```
/// assert_eq!(clerk_guard::DEFAULT_TOKEN_CACHE_BYTES, 16 * 1024 * 1024);
/// ```
pub const DEFAULT_TOKEN_CACHE_BYTES: usize = 16 * 1024 * 1024;

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
    pub(crate) key_source: KeySource,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Vec<String>,
    pub(crate) authorized_parties: Vec<String>,
    pub(crate) clock_skew: Duration,
    pub(crate) accept_pending_sessions: bool,
    pub(crate) role_claims: Arc<[Vec<String>]>,
    pub(crate) jwks_ttl: Duration,
    pub(crate) unknown_kid_cooldown: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_jwks_bytes: usize,
    pub(crate) jwks_headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) token_cache_bytes: usize,
    pub(crate) rejection: Option<RejectionRenderer>,
    pub(crate) backend_api: Option<BackendApi>,
    pub(crate) machine: MachineSettings,
}

/// Clerk's Backend API, for what only it can answer (opaque machine tokens).
#[derive(Clone)]
pub(crate) struct BackendApi {
    /// The base URL, e.g. `https://api.clerk.com` (no trailing slash).
    pub(crate) base: reqwest::Url,
    pub(crate) secret_key: String,
}

/// How opaque machine tokens are looked up and remembered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MachineSettings {
    pub(crate) cache_ttl: Duration,
    pub(crate) not_found_ttl: Duration,
    pub(crate) lookups_per_second: u32,
    pub(crate) cache_entries: usize,
}

impl fmt::Debug for ClerkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkConfig")
            .field("key_source", &self.key_source)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("authorized_parties", &self.authorized_parties)
            .field("clock_skew", &self.clock_skew)
            .field("accept_pending_sessions", &self.accept_pending_sessions)
            .field("role_claims", &self.role_claims)
            .field("jwks_ttl", &self.jwks_ttl)
            .field("unknown_kid_cooldown", &self.unknown_kid_cooldown)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_jwks_bytes", &self.max_jwks_bytes)
            .field("jwks_headers", &self.jwks_headers.len())
            .field("token_cache_bytes", &self.token_cache_bytes)
            .field("custom_rejection", &self.rejection.is_some())
            .field(
                "backend_api",
                &self.backend_api.as_ref().map(|api| api.base.as_str()),
            )
            .field("machine", &self.machine)
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

    /// Reads the configuration from the process environment.
    ///
    /// Key source, first match wins: `CLERK_JWT_KEY` (PEM public key,
    /// networkless), `CLERK_JWKS_URL`, `CLERK_PUBLISHABLE_KEY` (JWKS and
    /// issuer derived from the Frontend API host), `CLERK_SECRET_KEY` (Backend
    /// API `/v1/jwks`, base `CLERK_API_URL`). `CLERK_SECRET_KEY` is also read
    /// beside another key source: it authorises the Backend API lookups of
    /// opaque machine tokens. Then `CLERK_ISSUER` (exact issuer) and
    /// `CLERK_AUTHORIZED_PARTIES` (comma-separated). Empty values count as unset.
    ///
    /// ```no_run
    /// let config = clerk_guard::ClerkConfig::from_env()?;
    /// clerk_guard::init(config)?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn from_env() -> Result<ClerkConfig, ConfigError> {
        Self::builder_from_vars(|name| std::env::var(name).ok())?.build()
    }

    /// A builder preloaded from variables looked up by `lookup` (the
    /// environment, a file, a test's map), so options can still be added.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use clerk_guard::ClerkConfig;
    ///
    /// let vars = HashMap::from([
    ///     ("CLERK_JWKS_URL", "https://clerk.example.com/.well-known/jwks.json"),
    ///     ("CLERK_AUTHORIZED_PARTIES", "https://a.example.com, https://b.example.com"),
    /// ]);
    /// let config = ClerkConfig::builder_from_vars(|k| vars.get(k).map(|v| v.to_string()))?
    ///     .build()?;
    /// assert_eq!(config.authorized_parties().len(), 2);
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn builder_from_vars(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ClerkConfigBuilder, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut builder = ClerkConfig::builder();
        if let Some(pem) = var("CLERK_JWT_KEY") {
            builder = builder.pem_public_key(pem);
        } else if let Some(url) = var("CLERK_JWKS_URL") {
            builder = builder.jwks_url(url);
        } else if let Some(pk) = var("CLERK_PUBLISHABLE_KEY") {
            builder = builder.publishable_key(pk);
        }
        // Also the Backend API's key when another key source is set: opaque
        // machine tokens are verified there.
        if let Some(sk) = var("CLERK_SECRET_KEY") {
            builder = builder.secret_key(sk);
        }
        if let Some(api) = var("CLERK_API_URL") {
            builder = builder.api_url(api);
        }
        if let Some(issuer) = var("CLERK_ISSUER") {
            builder = builder.issuer(issuer);
        }
        if let Some(parties) = var("CLERK_AUTHORIZED_PARTIES") {
            let parties: Vec<&str> = parties.split(',').map(str::trim).collect();
            // A blank entry (`a,,b`, a trailing comma) is a typo, not "no party".
            check_parties("CLERK_AUTHORIZED_PARTIES", &parties)?;
            builder = builder.authorized_parties(parties);
        }
        Ok(builder)
    }

    /// The issuer every token must carry, if one is known.
    ///
    /// ```
    /// # let config = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build().unwrap();
    /// assert_eq!(config.issuer(), None);
    /// ```
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The `azp` allow-list (empty: `azp` not checked).
    ///
    /// ```
    /// # let config = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build().unwrap();
    /// assert!(config.authorized_parties().is_empty());
    /// ```
    pub fn authorized_parties(&self) -> &[String] {
        &self.authorized_parties
    }

    /// The accepted audiences (empty: `aud` not checked).
    ///
    /// ```
    /// # let config = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build().unwrap();
    /// assert!(config.audience().is_empty());
    /// ```
    pub fn audience(&self) -> &[String] {
        &self.audience
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat`.
    ///
    /// ```
    /// # let config = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json").build().unwrap();
    /// assert_eq!(config.clock_skew(), std::time::Duration::from_secs(5));
    /// ```
    pub fn clock_skew(&self) -> Duration {
        self.clock_skew
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

    /// The client settings of a fetch from `url`: the same timeouts and size
    /// cap for the JWKS and the Backend API.
    pub(crate) fn fetch_settings(
        &self,
        url: reqwest::Url,
        headers: axum::http::HeaderMap,
    ) -> JwksSettings {
        JwksSettings {
            url,
            headers,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            max_bytes: self.max_jwks_bytes,
            ttl: self.jwks_ttl,
            cooldown: self.unknown_kid_cooldown,
        }
    }

    /// How the JWKS cache fetches, when keys come from the network: the
    /// secret key (Backend API) and custom headers go only to this URL's origin.
    pub(crate) fn jwks_settings(&self) -> Result<Option<JwksSettings>, ConfigError> {
        let (url, secret_key) = match &self.key_source {
            KeySource::Pem(_) => return Ok(None),
            KeySource::Jwks { url } => (url, None),
            KeySource::BackendApi { url, secret_key } => (url, Some(secret_key)),
        };
        let mut headers = axum::http::HeaderMap::new();
        if let Some(secret_key) = secret_key {
            let bearer = HeaderValue::try_from(format!("Bearer {secret_key}")).map_err(|_| {
                ConfigError::invalid("CLERK_SECRET_KEY", "not a valid header value")
            })?;
            headers.insert(axum::http::header::AUTHORIZATION, bearer);
        }
        for (name, value) in &self.jwks_headers {
            headers.insert(name.clone(), value.clone());
        }
        Ok(Some(self.fetch_settings(url.clone(), headers)))
    }
}

/// Refuses an allow-list entry that is blank or padded: it could never match
/// an `azp`, and a blank list entry must not read as "no check".
fn check_parties(setting: &'static str, parties: &[impl AsRef<str>]) -> Result<(), ConfigError> {
    for party in parties {
        let party = party.as_ref();
        if party.trim().is_empty() {
            return Err(ConfigError::invalid(
                setting,
                "an authorized party is blank (check for a stray comma)",
            ));
        }
        if party.trim() != party {
            return Err(ConfigError::invalid(
                setting,
                format!("authorized party `{party}` has surrounding whitespace"),
            ));
        }
    }
    Ok(())
}

/// Refuses a zero duration: it would disable a timeout or turn the cooldown
/// into a fetch per request.
fn check_nonzero(setting: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(setting, "must be above zero"));
    }
    Ok(())
}

/// Builds a [`ClerkConfig`]; every option states its default.
///
/// ```
/// use std::time::Duration;
/// use clerk_guard::ClerkConfig;
///
/// let config = ClerkConfig::builder()
///     .secret_key("sk_test_abc")
///     .jwks_ttl(Duration::from_secs(600))
///     .role_claims(["roles", "metadata.role"])
///     .build()?;
/// assert_eq!(config.jwks_url(), Some("https://api.clerk.com/v1/jwks"));
/// # Ok::<(), clerk_guard::ConfigError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct ClerkConfigBuilder {
    source: Option<SourceSetting>,
    api_url: Option<String>,
    issuer: Option<String>,
    audience: Vec<String>,
    authorized_parties: Vec<String>,
    clock_skew: Duration,
    accept_pending_sessions: bool,
    role_claims: Vec<String>,
    jwks_ttl: Duration,
    unknown_kid_cooldown: Duration,
    connect_timeout: Duration,
    request_timeout: Duration,
    max_jwks_bytes: usize,
    jwks_headers: Vec<(String, String)>,
    token_cache_bytes: usize,
    rejection: Option<RejectionRenderer>,
    secret_key: Option<String>,
    machine: MachineSettings,
}

#[derive(Clone)]
enum SourceSetting {
    JwksUrl(String),
    PublishableKey(String),
    Pem(String),
}

impl Default for ClerkConfigBuilder {
    fn default() -> Self {
        Self {
            source: None,
            api_url: None,
            issuer: None,
            audience: Vec::new(),
            authorized_parties: Vec::new(),
            clock_skew: Duration::from_secs(5),
            accept_pending_sessions: false,
            role_claims: DEFAULT_ROLE_CLAIMS.iter().map(|s| s.to_string()).collect(),
            jwks_ttl: Duration::from_secs(300),
            unknown_kid_cooldown: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            max_jwks_bytes: 1024 * 1024,
            jwks_headers: Vec::new(),
            token_cache_bytes: DEFAULT_TOKEN_CACHE_BYTES,
            rejection: None,
            secret_key: None,
            machine: MachineSettings {
                cache_ttl: Duration::from_secs(10),
                not_found_ttl: Duration::from_secs(10),
                lookups_per_second: 50,
                cache_entries: 10_000,
            },
        }
    }
}

impl fmt::Debug for ClerkConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkConfigBuilder").finish_non_exhaustive()
    }
}

impl ClerkConfigBuilder {
    /// Keys from a JWKS endpoint, e.g. `https://<frontend-api>/.well-known/jwks.json`
    /// (`CLERK_JWKS_URL`). Replaces any other key source.
    ///
    /// ```
    /// let b = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json");
    /// # b.build().unwrap();
    /// ```
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.source = Some(SourceSetting::JwksUrl(url.into()));
        self
    }

    /// Keys and issuer derived from a publishable key
    /// (`CLERK_PUBLISHABLE_KEY`): `pk_test_`/`pk_live_` + base64(host + `$`)
    /// gives JWKS `https://<host>/.well-known/jwks.json` and issuer
    /// `https://<host>` (unless [`issuer`](Self::issuer) is set).
    ///
    /// ```
    /// // "clerk.example.com$" in base64
    /// let config = clerk_guard::ClerkConfig::builder()
    ///     .publishable_key("pk_live_Y2xlcmsuZXhhbXBsZS5jb20k")
    ///     .build()?;
    /// assert_eq!(config.issuer(), Some("https://clerk.example.com"));
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn publishable_key(mut self, key: impl Into<String>) -> Self {
        self.source = Some(SourceSetting::PublishableKey(key.into()));
        self
    }

    /// The instance's secret key (`CLERK_SECRET_KEY`), sent as Bearer to the
    /// Backend API. It verifies opaque machine tokens (`mt_`, `oat_`, `ak_`),
    /// and, when no other key source is set, keys come from the Backend API's
    /// `/v1/jwks` with it.
    ///
    /// ```
    /// let config = clerk_guard::ClerkConfig::builder().secret_key("sk_test_123").build()?;
    /// assert_eq!(config.jwks_url(), Some("https://api.clerk.com/v1/jwks"));
    /// assert!(config.verifies_opaque_tokens());
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn secret_key(mut self, key: impl Into<String>) -> Self {
        self.secret_key = Some(key.into());
        self
    }

    /// The Backend API base for [`secret_key`](Self::secret_key)
    /// (`CLERK_API_URL`). Default `https://api.clerk.com`.
    ///
    /// ```
    /// let config = clerk_guard::ClerkConfig::builder()
    ///     .secret_key("sk_test_123")
    ///     .api_url("http://127.0.0.1:9000/")
    ///     .build()?;
    /// assert_eq!(config.jwks_url(), Some("http://127.0.0.1:9000/v1/jwks"));
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// One PEM RSA public key (`CLERK_JWT_KEY`): verification without any
    /// network. Accepts `-----BEGIN PUBLIC KEY-----` (SPKI), `-----BEGIN RSA
    /// PUBLIC KEY-----` (PKCS#1), or the bare base64 body as Clerk's dashboard
    /// shows it; literal `\n` escapes are accepted. The key must be RSA of at
    /// least 2048 bits. The token's `kid` must be present but is not matched,
    /// as in Clerk's SDKs.
    ///
    /// ```
    /// let err = clerk_guard::ClerkConfig::builder().pem_public_key("not a key").build();
    /// assert!(err.is_err());
    /// ```
    pub fn pem_public_key(mut self, pem: impl Into<String>) -> Self {
        self.source = Some(SourceSetting::Pem(pem.into()));
        self
    }

    /// The exact issuer (`iss`) to require (`CLERK_ISSUER`). Default: derived
    /// from the publishable key when that is the key source, otherwise not
    /// checked.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.issuer("https://x.example").build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Accepted audiences: when non-empty, `aud` (string or array) must
    /// contain one of them. Default: empty, `aud` not checked.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.audience(["my-api"]).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn audience<I: IntoIterator<Item = S>, S: Into<String>>(mut self, audience: I) -> Self {
        self.audience = audience.into_iter().map(Into::into).collect();
        self
    }

    /// The `azp` allow-list (`CLERK_AUTHORIZED_PARTIES`): when non-empty,
    /// `azp` must be present and listed. Default: empty, `azp` not checked.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.authorized_parties(["https://app.example.com"]).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn authorized_parties<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        parties: I,
    ) -> Self {
        self.authorized_parties = parties.into_iter().map(Into::into).collect();
        self
    }

    /// Clock skew allowed on `exp`, `nbf`, `iat`. Default 5 s; zero allowed.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.clock_skew(std::time::Duration::ZERO).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Accept sessions whose status is `pending` (`sts == "pending"`) as
    /// signed in. Default `false`: pending counts as signed out.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.accept_pending_sessions(true).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn accept_pending_sessions(mut self, accept: bool) -> Self {
        self.accept_pending_sessions = accept;
        self
    }

    /// Dotted claim paths read for application roles, each a string or an
    /// array of strings. Default [`DEFAULT_ROLE_CLAIMS`].
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.role_claims(["public_metadata.roles"]).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn role_claims<I: IntoIterator<Item = S>, S: Into<String>>(mut self, paths: I) -> Self {
        self.role_claims = paths.into_iter().map(Into::into).collect();
        self
    }

    /// How long fetched keys are used before a background refresh. Default 300 s.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.jwks_ttl(std::time::Duration::from_secs(600)).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn jwks_ttl(mut self, ttl: Duration) -> Self {
        self.jwks_ttl = ttl;
        self
    }

    /// After any fetch attempt, how long an unknown `kid` waits before it may
    /// trigger another fetch. Default 5 s.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.unknown_kid_cooldown(std::time::Duration::from_secs(10)).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.unknown_kid_cooldown = cooldown;
        self
    }

    /// TCP connect timeout of a JWKS fetch. Default 2 s.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.connect_timeout(std::time::Duration::from_secs(1)).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Total timeout of a JWKS fetch, body included. Default 5 s.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.request_timeout(std::time::Duration::from_secs(3)).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Largest JWKS response accepted, in bytes. Default 1 MiB.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.max_jwks_bytes(64 * 1024).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn max_jwks_bytes(mut self, bytes: usize) -> Self {
        self.max_jwks_bytes = bytes;
        self
    }

    /// An extra header sent with every JWKS request (a proxy's key, say).
    /// Default: none.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.jwks_header("x-proxy-key", "abc").build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn jwks_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.jwks_headers.push((name.into(), value.into()));
        self
    }

    /// The byte budget of the verified-token cache, which lets a reused
    /// session token skip the RSA check. Each entry is weighed by what it
    /// keeps alive (token, payload, the claims parsed from it); the least
    /// useful entries are evicted past the budget. Default 16 MiB
    /// ([`DEFAULT_TOKEN_CACHE_BYTES`]); 0 turns the cache off.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.token_cache_bytes(64 * 1024 * 1024).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn token_cache_bytes(mut self, bytes: usize) -> Self {
        self.token_cache_bytes = bytes;
        self
    }

    /// Replaces the response of every rejection (401/403/503). Default: the
    /// RFC 6750 response of [`AuthRejection::default_response`].
    ///
    /// ```
    /// use axum::response::IntoResponse;
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b
    ///     .rejection_response(|rejection| {
    ///         (rejection.status(), format!("denied: {}", rejection.reason())).into_response()
    ///     })
    ///     .build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn rejection_response(
        mut self,
        render: impl Fn(&AuthRejection) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.rejection = Some(Arc::new(render));
        self
    }

    /// How long a Backend API answer that an opaque machine token is valid
    /// is reused, capped by the token's own expiry; revoked and expired
    /// answers are never kept. Default 10 s; zero asks the Backend API on
    /// every request (a revocation is then seen at once).
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().secret_key("sk_test_x");
    /// let config = b.machine_cache_ttl(std::time::Duration::from_secs(30)).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn machine_cache_ttl(mut self, ttl: Duration) -> Self {
        self.machine.cache_ttl = ttl;
        self
    }

    /// How long a Backend API refusal of an opaque token (not found,
    /// revoked, expired) is remembered, so a client retrying a bad token
    /// costs one call. Default 10 s; zero turns it off.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().secret_key("sk_test_x");
    /// let config = b.machine_not_found_ttl(std::time::Duration::from_secs(60)).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn machine_not_found_ttl(mut self, ttl: Duration) -> Self {
        self.machine.not_found_ttl = ttl;
        self
    }

    /// The most Backend API lookups started per second for opaque tokens
    /// not in either cache. Past it, requests are answered 503 with
    /// `Retry-After`, so a flood of made-up tokens never becomes a flood of
    /// Backend API calls. Default 50; must be above zero.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().secret_key("sk_test_x");
    /// let config = b.machine_lookups_per_second(200).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn machine_lookups_per_second(mut self, lookups: u32) -> Self {
        self.machine.lookups_per_second = lookups;
        self
    }

    /// How many opaque-token answers (valid and refused, each) are kept.
    /// Default 10,000; zero keeps none.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().secret_key("sk_test_x");
    /// let config = b.machine_cache_entries(1_000).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn machine_cache_entries(mut self, entries: usize) -> Self {
        self.machine.cache_entries = entries;
        self
    }

    /// Validates every setting and returns the configuration.
    ///
    /// ```
    /// let err = clerk_guard::ClerkConfig::builder().jwks_url("not a url").build().unwrap_err();
    /// assert!(err.to_string().starts_with("CLERK_JWKS_URL is invalid"));
    /// ```
    pub fn build(self) -> Result<ClerkConfig, ConfigError> {
        let mut issuer = self.issuer.clone();
        let backend_api = match &self.secret_key {
            None => None,
            Some(secret_key) => {
                if !(secret_key.starts_with("sk_test_") || secret_key.starts_with("sk_live_")) {
                    return Err(ConfigError::invalid(
                        "CLERK_SECRET_KEY",
                        "expected a key starting with sk_test_ or sk_live_",
                    ));
                }
                let base = self.api_url.as_deref().unwrap_or(DEFAULT_API_URL);
                Some(BackendApi {
                    base: parse_url("CLERK_API_URL", base.trim_end_matches('/'))?,
                    secret_key: secret_key.clone(),
                })
            }
        };
        let key_source = match self.source.clone() {
            None => match &backend_api {
                None => return Err(ConfigError::MissingKeySource),
                Some(api) => KeySource::BackendApi {
                    url: parse_url(
                        "CLERK_API_URL",
                        &format!("{}/v1/jwks", api.base.as_str().trim_end_matches('/')),
                    )?,
                    secret_key: api.secret_key.clone(),
                },
            },
            Some(SourceSetting::JwksUrl(url)) => KeySource::Jwks {
                url: parse_url("CLERK_JWKS_URL", &url)?,
            },
            Some(SourceSetting::PublishableKey(pk)) => {
                let host = frontend_api_host(&pk)?;
                issuer.get_or_insert_with(|| format!("https://{host}"));
                KeySource::Jwks {
                    url: parse_url(
                        "CLERK_PUBLISHABLE_KEY",
                        &format!("https://{host}/.well-known/jwks.json"),
                    )?,
                }
            }
            Some(SourceSetting::Pem(pem)) => KeySource::Pem(Arc::new(
                VerificationKey::from_pem(&pem)
                    .map_err(|problem| ConfigError::invalid("CLERK_JWT_KEY", problem))?,
            )),
        };
        if let Some(iss) = &issuer {
            if iss.trim().is_empty() {
                return Err(ConfigError::invalid("CLERK_ISSUER", "empty issuer"));
            }
        }
        let role_claims = self
            .role_claims
            .iter()
            .map(|path| {
                let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
                if parts.iter().any(String::is_empty) {
                    Err(ConfigError::invalid(
                        "role_claims",
                        format!("`{path}` is not a dotted claim path"),
                    ))
                } else {
                    Ok(parts)
                }
            })
            .collect::<Result<_, _>>()?;
        let jwks_headers = self
            .jwks_headers
            .iter()
            .map(|(name, value)| {
                let name = HeaderName::try_from(name.as_str()).map_err(|_| {
                    ConfigError::invalid("jwks_header", format!("bad name `{name}`"))
                })?;
                let value = HeaderValue::try_from(value.as_str()).map_err(|_| {
                    ConfigError::invalid("jwks_header", format!("bad value for `{name}`"))
                })?;
                Ok((name, value))
            })
            .collect::<Result<_, ConfigError>>()?;
        if self.max_jwks_bytes == 0 {
            return Err(ConfigError::invalid("max_jwks_bytes", "must be above zero"));
        }
        check_nonzero("jwks_ttl", self.jwks_ttl)?;
        check_nonzero("unknown_kid_cooldown", self.unknown_kid_cooldown)?;
        check_nonzero("connect_timeout", self.connect_timeout)?;
        check_nonzero("request_timeout", self.request_timeout)?;
        check_parties("authorized_parties", &self.authorized_parties)?;
        if self.machine.lookups_per_second == 0 {
            return Err(ConfigError::invalid(
                "machine_lookups_per_second",
                "must be above zero",
            ));
        }
        Ok(ClerkConfig {
            key_source,
            issuer,
            audience: self.audience,
            authorized_parties: self.authorized_parties,
            clock_skew: self.clock_skew,
            accept_pending_sessions: self.accept_pending_sessions,
            role_claims,
            jwks_ttl: self.jwks_ttl,
            unknown_kid_cooldown: self.unknown_kid_cooldown,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            max_jwks_bytes: self.max_jwks_bytes,
            jwks_headers,
            token_cache_bytes: self.token_cache_bytes,
            rejection: self.rejection,
            backend_api,
            machine: self.machine,
        })
    }
}

/// An `https` URL, or `http` on loopback only (keys fetched in clear text
/// could be swapped on the way), without credentials.
fn parse_url(setting: &'static str, url: &str) -> Result<reqwest::Url, ConfigError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| ConfigError::invalid(setting, e.to_string()))?;
    let Some(host) = parsed.host() else {
        return Err(ConfigError::invalid(
            setting,
            "expected an https URL with a host",
        ));
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ConfigError::invalid(
            setting,
            "the URL carries credentials; send them with jwks_header instead",
        ));
    }
    let loopback = match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(ConfigError::invalid(
            setting,
            "http:// is allowed only on loopback (127.0.0.0/8, ::1, localhost): use https://",
        )),
        _ => Err(ConfigError::invalid(
            setting,
            "expected an https URL with a host",
        )),
    }
}

/// Decodes `pk_test_`/`pk_live_` + base64(`<frontend api host>$`) to the host.
fn frontend_api_host(key: &str) -> Result<String, ConfigError> {
    const SETTING: &str = "CLERK_PUBLISHABLE_KEY";
    let encoded = key
        .strip_prefix("pk_test_")
        .or_else(|| key.strip_prefix("pk_live_"))
        .ok_or_else(|| ConfigError::invalid(SETTING, "expected pk_test_ or pk_live_ prefix"))?;
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| ConfigError::invalid(SETTING, "the part after the prefix is not base64"))?;
    let text = String::from_utf8(decoded)
        .map_err(|_| ConfigError::invalid(SETTING, "the decoded key is not text"))?;
    let host = text
        .strip_suffix('$')
        .ok_or_else(|| ConfigError::invalid(SETTING, "the decoded key does not end with `$`"))?;
    let valid = !host.is_empty()
        && host.contains('.')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if !valid {
        return Err(ConfigError::invalid(
            SETTING,
            "the decoded key is not a Frontend API host name",
        ));
    }
    Ok(host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<ClerkConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ClerkConfig::builder_from_vars(|k| map.get(k).cloned())?.build()
    }

    #[test]
    fn publishable_key_gives_jwks_url_and_issuer() {
        let pk = format!(
            "pk_test_{}",
            base64::engine::general_purpose::STANDARD.encode("fond-cat-12.clerk.accounts.dev$")
        );
        let config = from(&[("CLERK_PUBLISHABLE_KEY", &pk)]).unwrap();
        assert_eq!(
            config.jwks_url(),
            Some("https://fond-cat-12.clerk.accounts.dev/.well-known/jwks.json")
        );
        assert_eq!(
            config.issuer(),
            Some("https://fond-cat-12.clerk.accounts.dev")
        );
    }

    #[test]
    fn malformed_publishable_keys_name_the_variable() {
        let no_dollar = format!(
            "pk_live_{}",
            base64::engine::general_purpose::STANDARD.encode("clerk.example.com")
        );
        for bad in ["sk_test_abc", "pk_test_!!!", "pk_test_", no_dollar.as_str()] {
            let err = from(&[("CLERK_PUBLISHABLE_KEY", bad)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        setting: "CLERK_PUBLISHABLE_KEY",
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn precedence_is_jwt_key_then_jwks_url_then_publishable_then_secret() {
        let config = from(&[
            ("CLERK_JWKS_URL", "https://a.example/jwks"),
            ("CLERK_SECRET_KEY", "sk_test_x"),
        ])
        .unwrap();
        assert_eq!(config.jwks_url(), Some("https://a.example/jwks"));
        let config = from(&[
            ("CLERK_SECRET_KEY", "sk_test_x"),
            ("CLERK_API_URL", "http://127.0.0.1:1"),
        ])
        .unwrap();
        assert_eq!(config.jwks_url(), Some("http://127.0.0.1:1/v1/jwks"));
        assert!(config.issuer().is_none());
        let err = from(&[
            ("CLERK_JWT_KEY", "garbage"),
            ("CLERK_JWKS_URL", "https://a.example/j"),
        ])
        .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Invalid {
                setting: "CLERK_JWT_KEY",
                ..
            }
        ));
    }

    #[test]
    fn nothing_set_is_a_clear_error() {
        let err = from(&[("CLERK_ISSUER", "https://x")]).unwrap_err();
        assert_eq!(err, ConfigError::MissingKeySource);
        assert!(err.to_string().contains("CLERK_JWKS_URL"));
        let err = from(&[("CLERK_JWKS_URL", "   ")]).unwrap_err();
        assert_eq!(err, ConfigError::MissingKeySource);
    }

    #[test]
    fn bad_secret_key_and_urls_are_errors() {
        assert!(from(&[("CLERK_SECRET_KEY", "pk_test_x")]).is_err());
        assert!(from(&[("CLERK_JWKS_URL", "ftp://x.example/jwks")]).is_err());
        assert!(from(&[("CLERK_JWKS_URL", "/relative")]).is_err());
    }
}

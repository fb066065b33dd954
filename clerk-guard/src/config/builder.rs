//! [`ClerkConfigBuilder`]: every option, with its default.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;

use super::{MachineSettings, DEFAULT_JWKS_MAX_STALENESS, DEFAULT_TOKEN_CACHE_BYTES};
use crate::auth::DEFAULT_ROLE_CLAIMS;
use crate::rejection::{AuthRejection, RejectionRenderer};

/// Builds a [`ClerkConfig`](super::ClerkConfig); every option states its default.
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
    pub(super) source: Option<SourceSetting>,
    pub(super) publishable_key: Option<String>,
    pub(super) proxy_url: Option<String>,
    pub(super) sign_in_url: Option<String>,
    pub(super) api_url: Option<String>,
    pub(super) issuer: Option<String>,
    pub(super) audience: Vec<String>,
    pub(super) authorized_parties: Vec<String>,
    pub(super) clock_skew: Duration,
    pub(super) accept_pending_sessions: bool,
    pub(super) role_claims: Vec<String>,
    pub(super) jwks_ttl: Duration,
    pub(super) jwks_max_staleness: Duration,
    pub(super) unknown_kid_cooldown: Duration,
    pub(super) connect_timeout: Duration,
    pub(super) request_timeout: Duration,
    pub(super) max_jwks_bytes: usize,
    pub(super) jwks_headers: Vec<(String, String)>,
    pub(super) token_cache_bytes: usize,
    pub(super) rejection: Option<RejectionRenderer>,
    pub(super) secret_key: Option<String>,
    pub(super) machine: MachineSettings,
}

#[derive(Clone)]
pub(super) enum SourceSetting {
    JwksUrl(String),
    Pem(String),
}

impl Default for ClerkConfigBuilder {
    fn default() -> Self {
        Self {
            source: None,
            publishable_key: None,
            proxy_url: None,
            sign_in_url: None,
            api_url: None,
            issuer: None,
            audience: Vec::new(),
            authorized_parties: Vec::new(),
            clock_skew: Duration::from_secs(5),
            accept_pending_sessions: false,
            role_claims: DEFAULT_ROLE_CLAIMS.iter().map(|s| s.to_string()).collect(),
            jwks_ttl: Duration::from_secs(300),
            jwks_max_staleness: DEFAULT_JWKS_MAX_STALENESS,
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
    /// (`CLERK_JWKS_URL`). The key source before a publishable key (which
    /// then names the Frontend API and cookies only); replaces a PEM key.
    ///
    /// ```
    /// let b = clerk_guard::ClerkConfig::builder().jwks_url("https://clerk.example.com/.well-known/jwks.json");
    /// # b.build().unwrap();
    /// ```
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.source = Some(SourceSetting::JwksUrl(url.into()));
        self
    }

    /// The instance's publishable key (`CLERK_PUBLISHABLE_KEY`):
    /// `pk_test_`/`pk_live_` + base64(Frontend API host + `$`). It names the
    /// Frontend API (for the handshake of page requests and the default
    /// sign-in page), the instance's kind (`pk_test_`: development) and the
    /// suffix of its cookies (`__session_<suffix>`). When no JWKS URL or PEM
    /// key is set, it is also the key source: JWKS
    /// `https://<host>/.well-known/jwks.json` and issuer `https://<host>`
    /// (unless [`issuer`](Self::issuer) is set).
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
        self.publishable_key = Some(key.into());
        self
    }

    /// Where the Frontend API is reached, when not at the host the
    /// publishable key names (Clerk's `proxyUrl`, `CLERK_PROXY_URL`): the
    /// handshake redirects browsers there. Default: `https://<frontend api>`.
    ///
    /// ```
    /// let config = clerk_guard::ClerkConfig::builder()
    ///     .publishable_key("pk_live_Y2xlcmsuZXhhbXBsZS5jb20k")
    ///     .proxy_url("https://app.example.com/__clerk")
    ///     .build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn proxy_url(mut self, url: impl Into<String>) -> Self {
        self.proxy_url = Some(url.into());
        self
    }

    /// Where routes with `sign_in_redirect` send a browser that is not
    /// signed in (`CLERK_SIGN_IN_URL`): an absolute URL, or a path on the
    /// app's own origin (`/sign-in`). Default: the Account Portal's sign-in
    /// page of the instance the publishable key names.
    ///
    /// ```
    /// let config = clerk_guard::ClerkConfig::builder()
    ///     .publishable_key("pk_live_Y2xlcmsuZXhhbXBsZS5jb20k")
    ///     .sign_in_url("/sign-in")
    ///     .build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn sign_in_url(mut self, url: impl Into<String>) -> Self {
        self.sign_in_url = Some(url.into());
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

    /// How long past [`jwks_ttl`](Self::jwks_ttl) the last good keys keep
    /// serving while every refresh fails. Past it, requests get 503 until a
    /// fetch succeeds, and tokens those keys signed are no longer answered
    /// from the token cache: a key removed from the JWKS must not live on
    /// because the fetch is blocked. Default 1 hour; zero fails closed right
    /// after the TTL, as Clerk's JavaScript SDK does.
    ///
    /// ```
    /// # let b = clerk_guard::ClerkConfig::builder().jwks_url("https://x.example/.well-known/jwks.json");
    /// let config = b.jwks_max_staleness(std::time::Duration::from_secs(900)).build()?;
    /// # Ok::<(), clerk_guard::ConfigError>(())
    /// ```
    pub fn jwks_max_staleness(mut self, staleness: Duration) -> Self {
        self.jwks_max_staleness = staleness;
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
}

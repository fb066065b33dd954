//! Turning a request's token into a [`ClerkAuth`], by Clerk's rules.

use std::cell::RefCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap};
use once_cell::sync::OnceCell;
use serde::Deserialize;

use crate::claims::ClerkAuth;
use crate::config::{ClerkConfig, ConfigError, KeySource};
use crate::keys::{JwksCache, RsaAlgorithm, VerificationKey};
use crate::machine::{self, Accepts, Class, OpaqueVerifier, Principal, TokenKind};
use crate::rejection::{AuthRejection, Reason};

/// Clerk's session token category, and the category that asks verifiers to
/// ignore it.
const SESSION_CATEGORIES: [&str; 2] = ["cl_B7d4PD111AAA", "cl_I7d4PD111III"];

/// Clerk's M2M token category.
const M2M_CATEGORY: &str = "cl_B7d4PD333AAA";

/// The `typ`s of an OAuth access token (RFC 9068).
pub(crate) const OAUTH_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];

/// Which JWT a token is verified as: each has its own header rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwtKind {
    Session,
    M2m,
    OAuth,
}

impl JwtKind {
    /// `typ` and `cat` rules, as `@clerk/backend` applies them to this kind.
    fn check_type(self, typ: Option<&str>, cat: Option<&str>) -> Result<(), AuthRejection> {
        match self {
            JwtKind::Session => {
                if typ.is_some_and(|typ| OAUTH_TYPES.contains(&typ)) {
                    return Err(AuthRejection::with_detail(
                        Reason::TokenTypeMismatch,
                        "typ is an OAuth access token's, not a session token's",
                    ));
                }
                // Exactly `JWT`, as Clerk's verifier requires (`jwt` is refused there too).
                if typ.is_some_and(|typ| typ != "JWT") {
                    return Err(invalid("typ is not JWT"));
                }
                if cat.is_some_and(|cat| !SESSION_CATEGORIES.contains(&cat)) {
                    return Err(AuthRejection::with_detail(
                        Reason::TokenTypeMismatch,
                        "cat is not a session token category",
                    ));
                }
            }
            JwtKind::M2m => {
                if typ.is_some_and(|typ| typ != "JWT") {
                    return Err(invalid("typ is not JWT"));
                }
                if cat.is_some_and(|cat| cat != M2M_CATEGORY) {
                    return Err(invalid("cat is not the M2M token category"));
                }
            }
            JwtKind::OAuth => {
                if !typ.is_some_and(|typ| OAUTH_TYPES.contains(&typ)) {
                    return Err(invalid("typ is not at+jwt or application/at+jwt"));
                }
            }
        }
        Ok(())
    }
}

/// Where a verifier's keys come from.
#[derive(Debug)]
enum Keys {
    Static(Arc<VerificationKey>),
    Jwks(Arc<JwksCache>),
}

impl Keys {
    /// The key for `kid` without I/O, if the cache already holds it (`now`:
    /// [`now_seconds`]).
    fn cached(&self, kid: &str, now: f64) -> Option<Arc<VerificationKey>> {
        match self {
            Keys::Static(key) => Some(Arc::clone(key)),
            Keys::Jwks(cache) => cache.cached(kid, now),
        }
    }

    async fn key(&self, kid: &str) -> Result<Arc<VerificationKey>, AuthRejection> {
        match self {
            Keys::Static(key) => Ok(Arc::clone(key)),
            Keys::Jwks(cache) => cache.key(kid).await,
        }
    }
}

/// A verified token remembered with the key that verified it.
#[derive(Clone)]
struct CachedToken {
    auth: ClerkAuth,
    key: Arc<VerificationKey>,
    /// What the entry keeps alive, in bytes (its weight in the budget).
    bytes: u64,
}

/// What a synchronous signature check concluded.
enum Signed {
    /// The signature holds: the decoded payload and the key.
    Verified(Vec<u8>, Arc<VerificationKey>),
    /// The cache has no key for this `kid` yet.
    NeedsKey(String),
}

/// Weighs an entry by the bytes it holds.
#[derive(Clone)]
struct TokenWeight;

impl quick_cache::Weighter<TokenKey, CachedToken> for TokenWeight {
    fn weight(&self, _: &TokenKey, entry: &CachedToken) -> u64 {
        entry.bytes
    }
}

/// A cached token, by the whole token: the `ClerkAuth` it maps to, which
/// holds the token. It hashes only its last 16 characters (96 bits of RSA
/// signature, which nobody chooses without the key) rather than all of a
/// token of half a kilobyte or more; equality is the whole token, so a
/// shared tail only ever costs a comparison.
#[derive(Clone)]
struct TokenKey(ClerkAuth);

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.token() == other.0.token()
    }
}

impl Eq for TokenKey {}

/// A token looked up in the cache, hashed as [`TokenKey`] hashes.
struct TokenRef<'a>(&'a str);

/// The part of a token its cache key hashes.
fn hashed_tail(token: &str) -> &[u8] {
    let bytes = token.as_bytes();
    &bytes[bytes.len().saturating_sub(16)..]
}

impl std::hash::Hash for TokenRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hashed_tail(self.0).hash(state);
    }
}

impl std::hash::Hash for TokenKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        TokenRef(self.0.token()).hash(state);
    }
}

impl quick_cache::Equivalent<TokenKey> for TokenRef<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        self.0 == key.0.token()
    }
}

/// Verified tokens, bounded in bytes.
type TokenCache = quick_cache::sync::Cache<TokenKey, CachedToken, TokenWeight>;

/// Tokens verified once, by fingerprint: a token enters the cache on its
/// second verification, so a stream of one-off tokens (or a flood of
/// distinct valid ones) costs the cache nothing, while a session token, which
/// its client reuses until it expires, is cached from its second request on.
struct Doorkeeper {
    slots: Box<[AtomicU64]>,
}

impl Doorkeeper {
    const SLOTS: usize = 4096;

    fn new() -> Self {
        Self {
            slots: (0..Self::SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Whether `token` was seen before (and remember it). The fingerprint is
    /// the token's last eight characters: base64 of RSA signature bytes,
    /// which no one can choose without the key. A collision only admits a
    /// verified token early or late.
    fn admit(&self, token: &str) -> bool {
        let bytes = token.as_bytes();
        let mut tail = [0u8; 8];
        let take = bytes.len().min(8);
        tail[..take].copy_from_slice(&bytes[bytes.len() - take..]);
        let fingerprint = u64::from_le_bytes(tail) | 1;
        let slot = &self.slots[(fingerprint >> 8) as usize % Self::SLOTS];
        // A plain load and store, not a swap: a locked instruction would
        // drain the store buffer on every cold request, and two threads
        // racing on one slot only admit a token one sighting early or late.
        let seen = slot.load(Ordering::Relaxed) == fingerprint;
        if !seen {
            slot.store(fingerprint, Ordering::Relaxed);
        }
        seen
    }
}

/// A cache whose budget is `bytes`, sized for entries of about a kilobyte.
fn token_cache(bytes: usize) -> TokenCache {
    TokenCache::with_weighter((bytes / 1024).max(16), bytes as u64, TokenWeight)
}

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
    keys: Keys,
    tokens: Option<TokenCache>,
    doorkeeper: Doorkeeper,
    /// Opaque machine tokens, when a secret key is configured.
    opaque: Option<Arc<OpaqueVerifier>>,
}

/// Identifies one verifier (and its clones) for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VerifierId(u64);

impl VerifierId {
    /// No verifier has it (ids start at 1): for values built in unit tests.
    #[cfg(test)]
    pub(crate) const UNUSED: VerifierId = VerifierId(0);
}

static NEXT_VERIFIER_ID: AtomicU64 = AtomicU64::new(1);

impl fmt::Debug for ClerkVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkVerifier")
            .field("config", &self.0.config)
            .finish_non_exhaustive()
    }
}

/// A token header that passed the rules every kind shares (base64url of at
/// most 1 KiB, a JSON object, `alg` RS256/384/512, a `kid`), with what the
/// kind-specific rules read.
struct HeaderMemo {
    /// The header as it appears in the token.
    b64: Box<str>,
    alg: RsaAlgorithm,
    kid: Box<str>,
    typ: Option<Box<str>>,
    cat: Option<Box<str>>,
    crit: bool,
}

thread_local! {
    /// The last token header this thread parsed.
    static LAST_HEADER: RefCell<Option<Rc<HeaderMemo>>> = const { RefCell::new(None) };
}

impl HeaderMemo {
    /// The header `header_b64`, parsed. One instance's tokens share their
    /// header, so each thread keeps the last one it parsed and does not
    /// decode and parse the same bytes again. A parsed header depends on its
    /// bytes alone, so the memo serves every verifier; being the thread's
    /// own, reading it takes no atomic operation.
    fn get(header_b64: &str) -> Result<Rc<Self>, AuthRejection> {
        LAST_HEADER.with(|last| {
            let mut last = last.borrow_mut();
            if let Some(memo) = last.as_ref().filter(|m| *m.b64 == *header_b64) {
                return Ok(Rc::clone(memo));
            }
            let fresh = Rc::new(Self::parse(header_b64)?);
            *last = Some(Rc::clone(&fresh));
            Ok(fresh)
        })
    }

    fn parse(header_b64: &str) -> Result<Self, AuthRejection> {
        // Small and short-lived: decoded on the stack.
        let mut header_buf = [MaybeUninit::uninit(); 1024];
        let header = decode_on_stack(header_b64, &mut header_buf)
            .ok_or_else(|| invalid("header is not base64url (or over 1 KiB)"))?;
        let header: JoseHeader<'_> =
            serde_json::from_slice(header).map_err(|_| invalid("header is not a JSON object"))?;
        let alg = header
            .alg
            .as_deref()
            .and_then(RsaAlgorithm::from_header)
            .ok_or_else(|| {
                AuthRejection::with_detail(
                    Reason::TokenInvalidAlgorithm,
                    "alg is not RS256, RS384 or RS512",
                )
            })?;
        let kid = header
            .kid
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| invalid("kid is missing"))?;
        Ok(HeaderMemo {
            b64: header_b64.into(),
            alg,
            kid: kid.into(),
            typ: header.typ.map(|t| t.into()),
            cat: header.cat.map(|c| c.into()),
            crit: header.crit.is_some(),
        })
    }
}

#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    kid: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    typ: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    cat: Option<std::borrow::Cow<'a, str>>,
    crit: Option<serde::de::IgnoredAny>,
}

/// Strict base64url without padding (canonical trailing bits), as JWTs use.
const B64URL: base64_simd::Base64 = base64_simd::URL_SAFE_NO_PAD;

/// Decodes `b64` into `buf`, or `None` if it is not base64url or does not
/// fit. The buffer is left uninitialised (no 1 KiB memset per request): the
/// decoder writes the bytes it hands back.
fn decode_on_stack<'a>(b64: &str, buf: &'a mut [MaybeUninit<u8>]) -> Option<&'a [u8]> {
    let len = B64URL.decoded_length(b64.as_bytes()).ok()?;
    if len > buf.len() {
        return None;
    }
    let out = base64_simd::Out::from_uninit_slice(buf);
    B64URL.decode(b64.as_bytes(), out).ok().map(|bytes| &*bytes)
}

/// A JWT's three segments: one forward scan finds the two dots and makes
/// sure there is no third (one search routine, so little code to fetch).
fn segments(token: &str) -> Result<(&str, &str, &str), AuthRejection> {
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    match (dots.next(), dots.next(), dots.next()) {
        // The dots are ASCII, so every slice below is on a char boundary.
        (Some(first), Some(last), None) => {
            Ok((&token[..first], &token[first + 1..last], &token[last + 1..]))
        }
        _ => Err(invalid("not three dot-separated segments")),
    }
}

/// An opaque machine token sent where a session token is expected.
fn not_opaque(token: &str) -> Result<(), AuthRejection> {
    if crate::machine::has_machine_prefix(token) {
        return Err(AuthRejection::with_detail(
            Reason::TokenTypeMismatch,
            "an opaque machine token (mt_, oat_, ak_), not a session token",
        ));
    }
    Ok(())
}

#[cold]
pub(crate) fn invalid(detail: &'static str) -> AuthRejection {
    AuthRejection::with_detail(Reason::TokenInvalid, detail)
}

pub(crate) fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
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
        OWN_VERIFIERS.store(true, Ordering::Relaxed);
        Ok(verifier)
    }

    /// [`Self::new`] for the global verifier, which extractors find without
    /// searching a request's extensions.
    fn build(config: ClerkConfig) -> Result<Self, ConfigError> {
        let keys = match (&config.key_source, config.jwks_settings()?) {
            (KeySource::Pem(key), _) => Keys::Static(Arc::clone(key)),
            (_, Some(settings)) => {
                Keys::Jwks(Arc::new(JwksCache::new(&settings).map_err(|problem| {
                    ConfigError::Invalid {
                        setting: "CLERK_JWKS_URL",
                        problem,
                    }
                })?))
            }
            (_, None) => return Err(ConfigError::MissingKeySource),
        };
        let tokens = (config.token_cache_bytes > 0).then(|| token_cache(config.token_cache_bytes));
        let opaque = match &config.backend_api {
            None => None,
            Some(api) => Some(Arc::new(OpaqueVerifier::new(&config, api).map_err(
                |problem| ConfigError::Invalid {
                    setting: "CLERK_SECRET_KEY",
                    problem,
                },
            )?)),
        };
        Ok(Self(Arc::new(VerifierInner {
            id: VerifierId(NEXT_VERIFIER_ID.fetch_add(1, Ordering::Relaxed)),
            config,
            keys,
            tokens,
            doorkeeper: Doorkeeper::new(),
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

    /// Which verifier this is: clones share it, other verifiers differ.
    pub(crate) fn id(&self) -> VerifierId {
        self.0.id
    }

    /// Finds the token of a request (the `Authorization: Bearer` header, then
    /// the `__session` cookie) and verifies it.
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
        let token = token_from_headers(headers).map_err(|r| self.rejection(r))?;
        self.verify(token).await
    }

    /// Verifies one session token by every rule of Clerk's SDKs.
    ///
    /// ```no_run
    /// # async fn f(verifier: clerk_guard::ClerkVerifier, token: &str) {
    /// let auth = verifier.verify(token).await;
    /// # }
    /// ```
    pub async fn verify(&self, token: &str) -> Result<ClerkAuth, AuthRejection> {
        // One clock read serves the key cache's TTL and the token's times.
        let now = now_seconds();
        let result = match self.cached(token, now) {
            Some(auth) => Ok(auth),
            None => self.verify_uncached(token, now).await,
        };
        self.settle_session(result)
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
        if accepts == Accepts::SESSION {
            return self.authenticate(headers).await.map(Principal::Session);
        }
        let in_header = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| bearer_token(value.as_bytes()));
        match in_header {
            Some(Ok(token)) => self.verify_as(token, accepts).await,
            Some(Err(rejection)) => Err(self.rejection(rejection)),
            None if accepts.contains(TokenKind::Session) => {
                self.authenticate(headers).await.map(Principal::Session)
            }
            None => Err(self.rejection(AuthRejection::with_detail(
                Reason::TokenMissing,
                "machine tokens are read from the Authorization header only",
            ))),
        }
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
        let class = machine::classify(token);
        let kind = match class {
            Class::Session => TokenKind::Session,
            Class::Jwt(kind) | Class::Opaque { kind, .. } => kind,
        };
        if !accepts.contains(kind) {
            return Err(self.rejection(AuthRejection::with_detail(
                Reason::TokenTypeMismatch,
                "the route does not accept this kind of token",
            )));
        }
        let result = match class {
            Class::Session => return self.verify(token).await.map(Principal::Session),
            Class::Jwt(kind) => self.verify_machine_jwt(token, kind).await,
            Class::Opaque {
                well_formed: false, ..
            } => Err(invalid(
                "not the length and alphabet of a Clerk machine token",
            )),
            Class::Opaque { kind, .. } => match &self.0.opaque {
                Some(opaque) => opaque.verify(token, kind).await,
                None => {
                    tracing::error!(
                        "an opaque machine token arrived on a route that accepts it, but no \
                         secret key (CLERK_SECRET_KEY) is configured to verify it"
                    );
                    Err(AuthRejection::with_detail(
                        Reason::ConfigurationInvalid,
                        "opaque machine tokens need a secret key",
                    ))
                }
            },
        };
        result
            .map(Principal::from_machine)
            .map_err(|r| self.rejection(r))
    }

    async fn verify_machine_jwt(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<machine::MachineAuth, AuthRejection> {
        let jwt = if kind == TokenKind::OAuth {
            JwtKind::OAuth
        } else {
            JwtKind::M2m
        };
        let (payload, _) = self.signed_payload(token, jwt, &mut now_seconds()).await?;
        machine::machine_from_jwt(kind, &payload, &self.0.config)
    }

    /// `rejection`, rendered the way this verifier's configuration asks.
    pub(crate) fn rejection(&self, rejection: AuthRejection) -> AuthRejection {
        rejection.rendered_by(self.0.config.rejection.as_ref())
    }

    /// A remembered verification, if its key is still current and its time
    /// claims still hold. Anything else falls through to a full verification.
    fn cached(&self, token: &str, now: f64) -> Option<ClerkAuth> {
        let tokens = self.0.tokens.as_ref()?;
        let entry = tokens.get(&TokenRef(token))?;
        // The same key under the same kid, even if a refresh rebuilt it.
        let key_current = self
            .0
            .keys
            .cached(entry.key.kid().unwrap_or_default(), now)
            .is_some_and(|key| Arc::ptr_eq(&key, &entry.key) || key.same_key(&entry.key));
        if !key_current || self.check_times(&entry.auth, now).is_err() {
            tokens.remove(&TokenRef(token));
            return None;
        }
        Some(entry.auth)
    }

    /// Header rules for `kind`, the signature against the key named by
    /// `kid`: the decoded payload and the key that verified it.
    ///
    /// The work is synchronous ([`Self::check_signature`]); only a key the
    /// cache does not hold yet is awaited. Header and signature are decoded
    /// into stack buffers that never live across that await, so the future
    /// stays small (it is moved and boxed with every request).
    ///
    /// `now` is [`now_seconds`] as the caller read it; it is read again
    /// after a wait for keys, so the token's times are checked against the
    /// clock as it is once the signature holds.
    pub(crate) async fn signed_payload(
        &self,
        token: &str,
        kind: JwtKind,
        now: &mut f64,
    ) -> Result<(Vec<u8>, Arc<VerificationKey>), AuthRejection> {
        let kid = match self.check_signature(token, kind, None, *now)? {
            Signed::Verified(payload, key) => return Ok((payload, key)),
            Signed::NeedsKey(kid) => kid,
        };
        let key = self.0.keys.key(&kid).await?;
        *now = now_seconds();
        match self.check_signature(token, kind, Some(key), *now)? {
            Signed::Verified(payload, key) => Ok((payload, key)),
            Signed::NeedsKey(_) => Err(AuthRejection::new(Reason::JwkKidMismatch)),
        }
    }

    /// [`Self::signed_payload`] without I/O: with `key`, or the key the
    /// cache holds for the token's `kid`; else which `kid` to fetch.
    fn check_signature(
        &self,
        token: &str,
        kind: JwtKind,
        key: Option<Arc<VerificationKey>>,
        now: f64,
    ) -> Result<Signed, AuthRejection> {
        let (header_b64, payload_b64, signature_b64) = segments(token)?;
        let header = HeaderMemo::get(header_b64)?;
        let kid = header.kid.as_ref();
        let alg = header.alg;
        kind.check_type(header.typ.as_deref(), header.cat.as_deref())?;
        if header.crit {
            return Err(invalid("crit header extensions are not supported"));
        }
        // 1024 bytes: an 8192-bit RSA signature, the largest aws-lc verifies.
        let mut signature_buf = [MaybeUninit::uninit(); 1024];
        let signature = decode_on_stack(signature_b64, &mut signature_buf)
            .ok_or_else(|| invalid("signature is not base64url (or too long)"))?;
        let Some(key) = key.or_else(|| self.0.keys.cached(kid, now)) else {
            return Ok(Signed::NeedsKey(kid.to_owned()));
        };
        let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        key.verify(alg, signed, signature)
            .map_err(AuthRejection::new)?;
        // Room for the token after the payload: a session's `ClerkAuth`
        // keeps both in this one allocation.
        let mut payload = Vec::with_capacity(payload_b64.len() / 4 * 3 + 2 + token.len());
        B64URL
            .decode_append(payload_b64, &mut payload)
            .map_err(|_| invalid("payload is not base64url"))?;
        Ok(Signed::Verified(payload, key))
    }

    async fn verify_uncached(&self, token: &str, mut now: f64) -> Result<ClerkAuth, AuthRejection> {
        not_opaque(token)?;
        let (payload, key) = self
            .signed_payload(token, JwtKind::Session, &mut now)
            .await?;
        self.session_from_payload(token, payload, key, now)
    }

    /// [`Self::verify_uncached`] when the key is cached: `None` when it must
    /// be fetched (then the async path does the whole verification).
    fn verify_uncached_ready(
        &self,
        token: &str,
        now: f64,
    ) -> Option<Result<ClerkAuth, AuthRejection>> {
        if let Err(rejection) = not_opaque(token) {
            return Some(Err(rejection));
        }
        match self.check_signature(token, JwtKind::Session, None, now) {
            Ok(Signed::Verified(payload, key)) => {
                Some(self.session_from_payload(token, payload, key, now))
            }
            Ok(Signed::NeedsKey(_)) => None,
            Err(rejection) => Some(Err(rejection)),
        }
    }

    /// [`Self::authenticate`] without awaiting, for the extractors: the
    /// verdict when the key is cached (nearly every request), `None` when it
    /// must be fetched. No async machinery is built or moved for a request
    /// that never waits.
    pub(crate) fn authenticate_ready(
        &self,
        headers: &HeaderMap,
    ) -> Option<Result<ClerkAuth, AuthRejection>> {
        let token = match token_from_headers(headers) {
            Ok(token) => token,
            Err(rejection) => return Some(Err(self.rejection(rejection))),
        };
        let now = now_seconds();
        let result = match self.cached(token, now) {
            Some(auth) => Ok(auth),
            None => self.verify_uncached_ready(token, now)?,
        };
        Some(self.settle_session(result))
    }

    /// A session whose signature holds: its claims read and checked, and
    /// remembered (from its second verification on).
    fn session_from_payload(
        &self,
        token: &str,
        payload: Vec<u8>,
        key: Arc<VerificationKey>,
        now: f64,
    ) -> Result<ClerkAuth, AuthRejection> {
        // The one copy of the token: the ClerkAuth's, which is the cache key.
        let auth = ClerkAuth::from_payload(self.id(), payload, token, &self.0.config.role_claims)?;
        self.check_times(&auth, now)?;
        self.check_parties(&auth)?;
        if let Some(tokens) = self
            .0
            .tokens
            .as_ref()
            .filter(|_| self.0.doorkeeper.admit(token))
        {
            let bytes = (auth.retained_bytes() + std::mem::size_of::<CachedToken>()) as u64;
            tokens.insert(
                TokenKey(auth.clone()),
                CachedToken {
                    auth: auth.clone(),
                    key,
                    bytes,
                },
            );
        }
        Ok(auth)
    }

    fn check_times(&self, auth: &ClerkAuth, now: f64) -> Result<(), AuthRejection> {
        let skew = self.0.config.clock_skew.as_secs_f64();
        let (exp, nbf, iat) = auth.times();
        if exp <= now - skew {
            return Err(AuthRejection::new(Reason::TokenExpired));
        }
        if nbf.is_some_and(|nbf| nbf > now + skew) {
            return Err(AuthRejection::new(Reason::TokenNotActiveYet));
        }
        if iat.is_some_and(|iat| iat > now + skew) {
            return Err(AuthRejection::new(Reason::TokenIatInTheFuture));
        }
        Ok(())
    }

    fn check_parties(&self, auth: &ClerkAuth) -> Result<(), AuthRejection> {
        let config = &self.0.config;
        if let Some(expected) = &config.issuer {
            if auth.issuer() != Some(expected.as_str()) {
                return Err(AuthRejection::new(Reason::TokenInvalidIssuer));
            }
        }
        if !config.authorized_parties.is_empty() {
            let listed = auth
                .authorized_party()
                .is_some_and(|azp| config.authorized_parties.iter().any(|p| p == azp));
            if !listed {
                return Err(AuthRejection::new(Reason::TokenInvalidAuthorizedParties));
            }
        }
        if !config.audience.is_empty() {
            let accepted = |aud: &str| config.audience.iter().any(|a| a == aud);
            let ok = match auth.claim("aud") {
                Some(serde_json::Value::String(aud)) => accepted(aud),
                Some(serde_json::Value::Array(auds)) => auds
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .any(accepted),
                _ => false,
            };
            if !ok {
                return Err(AuthRejection::new(Reason::TokenInvalidAudience));
            }
        }
        Ok(())
    }

    /// The last step of [`Self::verify`] and [`Self::authenticate_ready`]:
    /// the session rules, and a refusal rendered as configured.
    fn settle_session(
        &self,
        result: Result<ClerkAuth, AuthRejection>,
    ) -> Result<ClerkAuth, AuthRejection> {
        result
            .and_then(|auth| self.check_session(auth))
            .map_err(|r| self.rejection(r))
    }

    /// Session rules checked on every use, cached or not.
    fn check_session(&self, auth: ClerkAuth) -> Result<ClerkAuth, AuthRejection> {
        if auth.session_status() == Some("pending") && !self.0.config.accept_pending_sessions {
            return Err(AuthRejection::new(Reason::SessionPending));
        }
        Ok(auth)
    }
}

/// The token of a request: `Authorization: Bearer <token>` (scheme matched
/// case-insensitively; only the first `Authorization` header is read), else
/// the `__session` cookie. An empty bearer counts as no token.
pub(crate) fn token_from_headers(headers: &HeaderMap) -> Result<&str, AuthRejection> {
    // Not visible ASCII, or another scheme: not ours, so the cookie is tried.
    // Bytes, not chars: this runs over every token on every request.
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        if let Some(found) = bearer_token(value.as_bytes()) {
            return found;
        }
    }
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((name, token)) = pair.trim().split_once('=') {
                if name == "__session" && !token.is_empty() {
                    return Ok(token);
                }
            }
        }
    }
    Err(AuthRejection::new(Reason::TokenMissing))
}

/// `Bearer <token>` from the header's bytes: `None` when the
/// header is not ours (another scheme, not visible ASCII, or an empty
/// bearer), an error when it is a bearer header of the wrong shape.
pub(crate) fn bearer_token(bytes: &[u8]) -> Option<Result<&str, AuthRejection>> {
    let scheme = bytes.get(..7)?;
    if !scheme[..6].eq_ignore_ascii_case(b"bearer") || scheme[6] != b' ' {
        return None;
    }
    let rest = &bytes[7..];
    if rest.is_empty() {
        return None;
    }
    // Visible ASCII throughout, in a pass with no early exit (it vectorises);
    // only a header that fails it is looked at byte by byte.
    let visible = rest
        .iter()
        .fold(true, |all, b| all & (b.wrapping_sub(b'!') < 94));
    if !visible {
        let mut spaced = false;
        for byte in rest {
            match byte {
                b'!'..=b'~' => {}
                b' ' | b'\t' => spaced = true,
                _ => return None,
            }
        }
        if spaced {
            return Some(Err(invalid("Authorization header is not `Bearer <token>`")));
        }
    }
    // Visible ASCII is UTF-8.
    std::str::from_utf8(rest).ok().map(Ok)
}

static GLOBAL: OnceCell<Result<ClerkVerifier, ConfigError>> = OnceCell::new();

/// Set once a verifier other than the global one is built
/// ([`ClerkVerifier::new`]). Until then no request's extensions can hold a
/// verifier other than the global one, and extractors do not search them.
/// Relaxed is enough: a verifier reaches a router, and the router the server,
/// through synchronisation that also publishes this store.
static OWN_VERIFIERS: AtomicBool = AtomicBool::new(false);

/// Whether any verifier other than the global one exists in the process.
pub(crate) fn own_verifiers_exist() -> bool {
    OWN_VERIFIERS.load(Ordering::Relaxed)
}

/// Creates the process-wide verifier from `config`. Call it once at startup,
/// before serving; without it the verifier is built from the environment
/// ([`ClerkConfig::from_env`]) on first use.
///
/// ```no_run
/// let config = clerk_guard::ClerkConfig::builder()
///     .publishable_key(std::env::var("CLERK_PUBLISHABLE_KEY").unwrap_or_default())
///     .build()?;
/// clerk_guard::init(config)?;
/// # Ok::<(), clerk_guard::ConfigError>(())
/// ```
pub fn init(config: ClerkConfig) -> Result<ClerkVerifier, ConfigError> {
    let verifier = ClerkVerifier::build(config)?;
    let mut created = false;
    GLOBAL.get_or_init(|| {
        created = true;
        Ok(verifier.clone())
    });
    if created {
        Ok(verifier)
    } else {
        Err(ConfigError::AlreadyInitialised)
    }
}

/// The process-wide verifier, created from the environment on first use.
/// A configuration error is returned (and logged once) rather than panicking;
/// requests then answer 503 `configuration-invalid`.
///
/// ```no_run
/// match clerk_guard::global() {
///     Ok(verifier) => println!("{:?}", verifier.config().issuer()),
///     Err(e) => eprintln!("Clerk is not configured: {e}"),
/// }
/// ```
pub fn global() -> Result<&'static ClerkVerifier, &'static ConfigError> {
    GLOBAL
        .get_or_init(|| {
            let verifier = ClerkConfig::from_env().and_then(ClerkVerifier::build);
            if let Err(e) = &verifier {
                tracing::error!(error = %e, "clerk-guard: the global verifier could not be configured");
            }
            verifier
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    /// Three segments exactly, split where `str::split` splits them.
    #[test]
    fn segments_are_three_dot_separated_parts() {
        for token in [
            "",
            ".",
            "..",
            "...",
            "a",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            ".b.c",
            "a..c",
            "a.b.",
            "..c",
            "héé.ü.ß",
            "a.b.c.",
            "aaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.cccc",
        ] {
            let parts: Vec<&str> = token.split('.').collect();
            let expected = (parts.len() == 3).then(|| (parts[0], parts[1], parts[2]));
            assert_eq!(segments(token).ok(), expected, "{token:?}");
        }
    }

    #[test]
    fn token_sources_and_precedence() {
        let reason = |h: &[(&str, &str)]| {
            token_from_headers(&headers(h))
                .map(str::to_owned)
                .map_err(|r| r.reason())
        };
        assert_eq!(
            reason(&[("authorization", "Bearer abc")]),
            Ok("abc".to_owned())
        );
        assert_eq!(
            reason(&[("authorization", "bEaReR abc")]),
            Ok("abc".to_owned())
        );
        assert_eq!(
            reason(&[("authorization", "Bearer")]),
            Err(Reason::TokenMissing)
        );
        assert_eq!(
            reason(&[("authorization", "Bearer ")]),
            Err(Reason::TokenMissing)
        );
        assert_eq!(
            reason(&[("authorization", "Bearer  abc")]),
            Err(Reason::TokenInvalid)
        );
        assert_eq!(
            reason(&[("authorization", "Basic abc")]),
            Err(Reason::TokenMissing)
        );
        assert_eq!(
            reason(&[("authorization", "Bearer h"), ("cookie", "__session=c")]),
            Ok("h".to_owned())
        );
        assert_eq!(
            reason(&[("authorization", "Basic x"), ("cookie", "a=b; __session=c")]),
            Ok("c".to_owned())
        );
        assert_eq!(
            reason(&[("cookie", "__session=")]),
            Err(Reason::TokenMissing)
        );
        assert_eq!(
            reason(&[("cookie", "__session_x=1")]),
            Err(Reason::TokenMissing)
        );
    }
}

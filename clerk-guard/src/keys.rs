//! Public keys: parsing (JWK, PEM), the key set, and the JWKS cache.
//!
//! Keys are parsed into aws-lc-rs `ParsedPublicKey`s once, when a key set is
//! loaded, so a request pays for the RSA check and nothing else.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::{
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384,
    RSA_PKCS1_2048_8192_SHA512,
};
use axum::http::HeaderMap;
use base64::Engine as _;
use futures_util::future::{BoxFuture, FutureExt as _, Shared};
use serde::Deserialize;

use crate::rejection::{AuthRejection, Reason};
use crate::verify::now_seconds;

/// The smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// The RSA signature algorithms a Clerk session token may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RsaAlgorithm {
    Rs256,
    Rs384,
    Rs512,
}

impl RsaAlgorithm {
    pub(crate) fn from_header(alg: &str) -> Option<Self> {
        match alg {
            "RS256" => Some(Self::Rs256),
            "RS384" => Some(Self::Rs384),
            "RS512" => Some(Self::Rs512),
            _ => None,
        }
    }
}

/// One RSA public key, parsed once for each algorithm it may verify.
pub(crate) struct VerificationKey {
    bits: usize,
    /// The algorithm the JWK states, if any: tokens of another `alg` are refused.
    alg: Option<RsaAlgorithm>,
    /// The `kid` the key set publishes it under (`None` for a PEM key).
    kid: Option<Arc<str>>,
    /// Modulus and exponent, big-endian without leading zeros: what makes two
    /// keys of different key sets the same key.
    n: Box<[u8]>,
    e: Box<[u8]>,
    rs256: ParsedPublicKey,
    rs384: ParsedPublicKey,
    rs512: ParsedPublicKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("bits", &self.bits)
            .finish()
    }
}

impl VerificationKey {
    /// From big-endian modulus and exponent (a JWK's `n` and `e`).
    pub(crate) fn from_components(n: &[u8], e: &[u8]) -> Result<Self, String> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_length(n);
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "RSA key of {bits} bits, at least {MIN_RSA_BITS} required"
            ));
        }
        if e.is_empty() || e.len() > 8 {
            return Err("RSA exponent out of range".into());
        }
        // aws-lc-rs encodes the SubjectPublicKeyInfo and checks the key.
        let der = PublicKeyComponents { n, e }
            .as_der()
            .map_err(|_| "RSA key could not be encoded".to_string())?;
        let parse = |alg| {
            ParsedPublicKey::new(alg, der.as_ref()).map_err(|e| format!("RSA key rejected: {e}"))
        };
        Ok(Self {
            bits,
            alg: None,
            kid: None,
            n: n.into(),
            e: e.into(),
            rs256: parse(&RSA_PKCS1_2048_8192_SHA256)?,
            rs384: parse(&RSA_PKCS1_2048_8192_SHA384)?,
            rs512: parse(&RSA_PKCS1_2048_8192_SHA512)?,
        })
    }

    /// From a PEM (`PUBLIC KEY` SPKI or `RSA PUBLIC KEY` PKCS#1, read by
    /// pem-rfc7468) or the bare base64 body Clerk's dashboard shows; literal
    /// `\n` escapes are accepted. The DER is read by aws-lc-rs.
    pub(crate) fn from_pem(text: &str) -> Result<Self, String> {
        let text = text.replace("\\n", "\n");
        let text = text.trim();
        let der = if text.starts_with("-----BEGIN") {
            let (label, der) = pem_rfc7468::decode_vec(text.as_bytes())
                .map_err(|e| format!("not a PEM document: {e}"))?;
            if !matches!(label, "PUBLIC KEY" | "RSA PUBLIC KEY") {
                return Err(format!("a PEM `{label}`, not a public key"));
            }
            der
        } else {
            let body: String = text.split_whitespace().collect();
            if body.is_empty() {
                return Err("no PEM body".into());
            }
            base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|_| "the PEM body is not base64".to_string())?
        };
        let key = aws_lc_rs::rsa::PublicKey::from_der(&der)
            .map_err(|_| "not an RSA public key (SPKI or PKCS#1 DER expected)".to_string())?;
        Self::from_components(
            key.modulus().big_endian_without_leading_zero(),
            key.exponent().big_endian_without_leading_zero(),
        )
    }

    /// The `kid` the key set publishes this key under (`None` for a PEM key).
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The modulus size in bits.
    pub(crate) fn bits(&self) -> usize {
        self.bits
    }

    /// Whether `other` is the same RSA key (same modulus and exponent), e.g.
    /// the same JWK read again by a later refresh.
    pub(crate) fn same_key(&self, other: &VerificationKey) -> bool {
        self.n == other.n && self.e == other.e
    }

    /// Checks `signature` over `message` with `alg`. A key whose JWK states
    /// an `alg` verifies only tokens of that `alg`, as Clerk's Go SDK and
    /// WebCrypto (under its JS SDK) do.
    pub(crate) fn verify(
        &self,
        alg: RsaAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Reason> {
        if self.alg.is_some_and(|stated| stated != alg) {
            return Err(Reason::TokenInvalidAlgorithm);
        }
        let key = match alg {
            RsaAlgorithm::Rs256 => &self.rs256,
            RsaAlgorithm::Rs384 => &self.rs384,
            RsaAlgorithm::Rs512 => &self.rs512,
        };
        key.verify_sig(message, signature)
            .map_err(|_| Reason::TokenInvalidSignature)
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn bit_length(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(first) => (be.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

/// The keys of one JWKS document, by `kid`. Never empty.
#[derive(Debug)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Arc<VerificationKey>>,
}

impl KeySet {
    fn get(&self, kid: &str) -> Option<&Arc<VerificationKey>> {
        self.by_kid.get(kid)
    }

    /// How many usable keys the set holds.
    pub(crate) fn len(&self) -> usize {
        self.by_kid.len()
    }

    /// The kids of the usable keys, sorted.
    #[cfg(feature = "testing")]
    pub(crate) fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.by_kid.keys().cloned().collect();
        kids.sort();
        kids
    }

    /// Parses a JWKS document, skipping keys that are not usable RSA signing keys.
    pub(crate) fn from_jwks(body: &[u8]) -> Result<Self, Reason> {
        #[derive(Deserialize)]
        struct Jwks {
            keys: Vec<serde_json::Value>,
        }
        #[derive(Deserialize)]
        struct RsaJwk {
            kty: String,
            kid: Option<String>,
            #[serde(rename = "use")]
            use_: Option<String>,
            alg: Option<String>,
            n: Option<String>,
            e: Option<String>,
        }
        let jwks: Jwks = serde_json::from_slice(body).map_err(|e| {
            tracing::warn!(error = %e, "JWKS response is not a JSON key set");
            Reason::JwkRemoteFailedToLoad
        })?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut by_kid = HashMap::new();
        for value in jwks.keys {
            let Ok(jwk) = serde_json::from_value::<RsaJwk>(value) else {
                tracing::debug!("JWKS entry skipped: not a JWK");
                continue;
            };
            // A stated `alg` must be one we verify; it then binds the key to it.
            let alg = jwk.alg.as_deref().map(RsaAlgorithm::from_header);
            let usable = jwk.kty == "RSA"
                && jwk.use_.as_deref().is_none_or(|u| u == "sig")
                && alg.is_none_or(|a| a.is_some());
            let (Some(kid), Some(n), Some(e), true) = (jwk.kid, jwk.n, jwk.e, usable) else {
                tracing::debug!(kty = %jwk.kty, "JWKS entry skipped: not an RSA signing key with a kid");
                continue;
            };
            let parsed = match (
                b64.decode(n.trim_end_matches('=')),
                b64.decode(e.trim_end_matches('=')),
            ) {
                (Ok(n), Ok(e)) => VerificationKey::from_components(&n, &e).map(|mut key| {
                    key.alg = alg.flatten();
                    key.kid = Some(kid.as_str().into());
                    key
                }),
                _ => Err("n or e is not base64url".to_string()),
            };
            match parsed {
                Ok(key) => {
                    by_kid.insert(kid, Arc::new(key));
                }
                Err(problem) => tracing::warn!(%kid, %problem, "JWKS key skipped"),
            }
        }
        if by_kid.is_empty() {
            tracing::warn!("JWKS holds no usable key (RSA, 2048 bits or more)");
            return Err(Reason::JwkRemoteMissing);
        }
        Ok(Self { by_kid })
    }
}

/// What the last fetch attempts left behind: the last good keys (kept through
/// failures) and when things happened.
#[derive(Debug, Default)]
struct CacheState {
    keys: Option<Arc<KeySet>>,
    /// When the keys were fetched, in seconds since the Unix epoch: the
    /// clock a verification reads anyway for the token's times, so the TTL
    /// check costs no second clock read.
    fetched_at: Option<f64>,
    /// When the last fetch started: the cooldown runs from here, so a fetch
    /// that never finishes (cancelled, runtime gone) still counts.
    last_attempt: Option<Instant>,
    last_error: Option<Reason>,
}

/// How a [`JwksCache`] fetches: where, with what, within which limits.
#[derive(Debug, Clone)]
pub(crate) struct JwksSettings {
    /// The JWKS endpoint.
    pub(crate) url: reqwest::Url,
    /// Headers sent with every fetch (the Backend API's Bearer, custom ones).
    pub(crate) headers: HeaderMap,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) max_bytes: usize,
    /// Keys older than this are refreshed in the background.
    pub(crate) ttl: Duration,
    /// At most one fetch per cooldown while keys are missing or fetches fail.
    pub(crate) cooldown: Duration,
}

/// Fetches a JWKS with timeouts and a size cap.
#[derive(Debug)]
struct JwksFetcher {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    max_bytes: usize,
}

/// Scheme, host and port: redirects may not leave them, so custom headers
/// and the secret key never reach another host.
fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The HTTP client every fetch uses (JWKS and Backend API alike): the
/// settings' timeouts, redirects only within `settings.url`'s origin.
pub(crate) fn http_client(settings: &JwksSettings) -> Result<reqwest::Client, String> {
    let origin = settings.url.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > 3 {
            attempt.error("too many redirects")
        } else if same_origin(attempt.url(), &origin) {
            attempt.follow()
        } else {
            attempt.error("redirect to another origin refused")
        }
    });
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.request_timeout)
        .redirect(redirects)
        .user_agent(concat!("clerk-guard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// A response body of at most `max_bytes`; `None` (logged) past the cap or
/// when the body cannot be read.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: usize,
    url: &reqwest::Url,
) -> Option<Vec<u8>> {
    let too_big = || {
        tracing::warn!(%url, cap = max_bytes, "response exceeds the size cap");
    };
    if response
        .content_length()
        .is_some_and(|len| len > max_bytes as u64)
    {
        too_big();
        return None;
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max_bytes {
                    too_big();
                    return None;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Some(body),
            Err(e) => {
                tracing::warn!(%url, error = %e, "response body could not be read");
                return None;
            }
        }
    }
}

impl JwksFetcher {
    fn new(settings: &JwksSettings) -> Result<Self, String> {
        Ok(Self {
            client: http_client(settings)?,
            url: settings.url.clone(),
            headers: settings.headers.clone(),
            max_bytes: settings.max_bytes,
        })
    }

    async fn fetch(&self) -> Result<KeySet, Reason> {
        let started = Instant::now();
        let response = self
            .client
            .get(self.url.clone())
            .headers(self.headers.clone())
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(url = %self.url, error = %e, "JWKS fetch failed");
                Reason::JwkRemoteFailedToLoad
            })?;
        let status = response.status();
        if !status.is_success() {
            tracing::warn!(url = %self.url, %status, "JWKS fetch answered with an error status");
            return Err(Reason::JwkRemoteFailedToLoad);
        }
        let body = read_capped(response, self.max_bytes, &self.url)
            .await
            .ok_or(Reason::JwkRemoteFailedToLoad)?;
        let keys = KeySet::from_jwks(&body)?;
        tracing::info!(
            url = %self.url,
            keys = keys.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "JWKS fetched"
        );
        Ok(keys)
    }
}

/// A fetch every interested request awaits: it runs in its own task, so a
/// request that goes away does not cancel it for the others.
type SharedFetch = Shared<BoxFuture<'static, Arc<CacheState>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The key this thread last found in a [`JwksCache`] (see
    /// [`JwksCache::cached`]).
    static LAST_KEY: RefCell<Option<KeyMemo>> = const { RefCell::new(None) };
}

/// A key found for `kid` in the state `generation` of cache `cache`, whose
/// keys were fetched at `fetched_at` (wall-clock seconds) without error.
struct KeyMemo {
    cache: u64,
    generation: u64,
    fetched_at: f64,
    kid: Box<str>,
    key: Arc<VerificationKey>,
}

/// A JWKS kept in memory: lock-free reads, one fetch at a time shared by
/// every waiter, TTL refresh in the background, stale keys served while the
/// endpoint fails, and at most one fetch per cooldown while it fails.
#[derive(Debug)]
pub(crate) struct JwksCache {
    /// Unique in the process: which cache a thread's key memo belongs to.
    id: u64,
    fetcher: JwksFetcher,
    state: ArcSwap<CacheState>,
    /// Bumped after every new `state`: a thread's key memo holds while it
    /// has not moved.
    generation: AtomicU64,
    in_flight: Mutex<Option<(u64, SharedFetch)>>,
    unknown: Mutex<UnknownKids>,
    fetch_ids: AtomicU64,
    ttl: Duration,
    cooldown: Duration,
}

/// Unknown kids seen while cooling down. A kid that comes back is not
/// noise: it is most likely a rotated key whose tokens every client now
/// sends (a flood of random kids never repeats). One such kid may start one
/// extra fetch per cooldown, so fetches stay bounded (two per cooldown at
/// most) while a rotation is picked up after its second request.
#[derive(Debug, Default)]
struct UnknownKids {
    seen: HashMap<Box<str>, u8>,
    last_extra: Option<Instant>,
}

impl UnknownKids {
    /// Kids remembered at once: enough for a rotation, small for a flood.
    const CAPACITY: usize = 256;

    /// Records `kid`; whether it has come back and may fetch now.
    fn repeated(&mut self, kid: &str, cooldown: Duration) -> bool {
        if self.last_extra.is_some_and(|at| at.elapsed() < cooldown) {
            return false;
        }
        let full = self.seen.len() >= Self::CAPACITY;
        let count = match self.seen.get_mut(kid) {
            Some(count) => {
                *count = count.saturating_add(1);
                *count
            }
            None if !full => {
                self.seen.insert(kid.into(), 1);
                1
            }
            None => return false,
        };
        if count < 2 {
            return false;
        }
        self.last_extra = Some(Instant::now());
        self.seen.clear();
        true
    }
}

/// What a caller should do about keys it does not have.
enum Fetch {
    /// A fetch is running (or was just started): await it.
    Wait(SharedFetch),
    /// A fetch was attempted within the cooldown: answer from this state.
    CoolingDown(Arc<CacheState>),
}

/// Ends a fetch's bookkeeping however the fetch ends: finished, cancelled
/// with its task, or dropped with its runtime.
struct FetchGuard {
    cache: Arc<JwksCache>,
    id: u64,
    finished: bool,
}

impl Drop for FetchGuard {
    fn drop(&mut self) {
        if !self.finished {
            // Cancelled mid-way: the attempt (already recorded) stands as a failure.
            let current = self.cache.state.load_full();
            self.cache.publish(Arc::new(CacheState {
                keys: current.keys.clone(),
                fetched_at: current.fetched_at,
                last_attempt: current.last_attempt,
                last_error: Some(Reason::JwkRemoteFailedToLoad),
            }));
            tracing::warn!("JWKS fetch cancelled before it finished");
        }
        let mut slot = lock(&self.cache.in_flight);
        if slot.as_ref().is_some_and(|(id, _)| *id == self.id) {
            *slot = None;
        }
    }
}

impl JwksCache {
    /// A cache fetching as `settings` say; nothing is fetched until a key is asked for.
    pub(crate) fn new(settings: &JwksSettings) -> Result<Self, String> {
        Ok(Self {
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            fetcher: JwksFetcher::new(settings)?,
            state: ArcSwap::from_pointee(CacheState::default()),
            generation: AtomicU64::new(0),
            in_flight: Mutex::new(None),
            unknown: Mutex::new(UnknownKids::default()),
            fetch_ids: AtomicU64::new(0),
            ttl: settings.ttl,
            cooldown: settings.cooldown,
        })
    }

    /// Time left before another fetch may start, if one started within the cooldown.
    fn cooldown_left(&self, state: &CacheState) -> Option<Duration> {
        let elapsed = state.last_attempt?.elapsed();
        self.cooldown.checked_sub(elapsed).filter(|d| !d.is_zero())
    }

    /// Makes `state` the cache's state, and so every thread's key memo stale.
    fn publish(&self, state: Arc<CacheState>) {
        self.state.store(state);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// The key for `kid` if the cache holds it now, without waiting; starts a
    /// background refresh when the keys are older than the TTL. `now` is
    /// [`now_seconds`], read once by the caller.
    ///
    /// One instance's tokens name one kid, so each thread remembers the key
    /// it last found: while the state has not changed and its keys are
    /// within their TTL, that key is the answer, without loading the state
    /// or searching its map.
    pub(crate) fn cached(self: &Arc<Self>, kid: &str, now: f64) -> Option<Arc<VerificationKey>> {
        // Read before the state: a state published after this read leaves
        // the memo made below stale at once, never a stale memo current.
        let generation = self.generation.load(Ordering::Acquire);
        let ttl = self.ttl.as_secs_f64();
        let remembered = LAST_KEY.with(|memo| {
            memo.borrow()
                .as_ref()
                .filter(|m| {
                    m.cache == self.id
                        && m.generation == generation
                        && (m.fetched_at..m.fetched_at + ttl).contains(&now)
                        && *m.kid == *kid
                })
                .map(|m| Arc::clone(&m.key))
        });
        if remembered.is_some() {
            return remembered;
        }
        let state = self.state.load();
        let keys = state.keys.as_ref()?;
        // Due a TTL after the last good fetch (or at once if the clock went
        // back past it); after a failed refresh, at most one retry per
        // cooldown while the old keys keep serving.
        let fresh = state
            .fetched_at
            .filter(|at| (*at..*at + ttl).contains(&now));
        let due = state.fetched_at.is_some()
            && fresh.is_none()
            && (state.last_error.is_none() || self.cooldown_left(&state).is_none());
        if due {
            self.refresh_in_background();
        }
        let key = keys.get(kid).cloned();
        if let (Some(key), Some(fetched_at), None) = (&key, fresh, state.last_error) {
            LAST_KEY.with(|memo| {
                *memo.borrow_mut() = Some(KeyMemo {
                    cache: self.id,
                    generation,
                    fetched_at,
                    kid: kid.into(),
                    key: Arc::clone(key),
                });
            });
        }
        key
    }

    /// The key for `kid`, fetching the key set when the cache is cold or the
    /// `kid` is unknown, at most once per cooldown.
    pub(crate) async fn key(
        self: &Arc<Self>,
        kid: &str,
    ) -> Result<Arc<VerificationKey>, AuthRejection> {
        if let Some(key) = self.cached(kid, now_seconds()) {
            return Ok(key);
        }
        let state = match self.fetch_or_wait(kid) {
            Fetch::Wait(fetch) => fetch.await,
            Fetch::CoolingDown(state) => state,
        };
        if let Some(keys) = &state.keys {
            return keys
                .get(kid)
                .cloned()
                .ok_or_else(|| AuthRejection::new(Reason::JwkKidMismatch));
        }
        // No usable key at all: 503, and say when the next fetch may happen.
        let retry_after = self.cooldown_left(&state).unwrap_or(self.cooldown);
        Err(
            AuthRejection::new(state.last_error.unwrap_or(Reason::JwkRemoteFailedToLoad))
                .retry_after(retry_after),
        )
    }

    /// Joins the running fetch, or starts one unless the cooldown forbids it
    /// (a kid that keeps coming back while keys are good may start one extra
    /// fetch per cooldown: see [`UnknownKids`]).
    fn fetch_or_wait(self: &Arc<Self>, kid: &str) -> Fetch {
        let mut slot = lock(&self.in_flight);
        if let Some((_, fetch)) = slot.as_ref() {
            return Fetch::Wait(fetch.clone());
        }
        let state = self.state.load_full();
        if self.cooldown_left(&state).is_some() {
            let healthy = state.keys.is_some() && state.last_error.is_none();
            if !(healthy && lock(&self.unknown).repeated(kid, self.cooldown)) {
                return Fetch::CoolingDown(state);
            }
            tracing::info!(%kid, "an unknown kid came back within the cooldown: fetching the JWKS once more");
        }
        Fetch::Wait(self.start_fetch(&mut slot, &state))
    }

    /// Starts a TTL refresh unless a fetch is running or cooling down. Never waits.
    fn refresh_in_background(self: &Arc<Self>) {
        // Busy lock: another request is starting or ending a fetch right now.
        let Ok(mut slot) = self.in_flight.try_lock() else {
            return;
        };
        if slot.is_some() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let state = self.state.load_full();
        if state.last_error.is_none() || self.cooldown_left(&state).is_none() {
            tracing::debug!("JWKS older than its TTL: refreshing in the background");
            // The fetch runs in its own task; nobody needs to await it here.
            let _running = self.start_fetch(&mut slot, &state);
        }
    }

    /// Records the attempt, then runs the fetch in its own task (inline when
    /// there is no tokio runtime).
    fn start_fetch(
        self: &Arc<Self>,
        slot: &mut Option<(u64, SharedFetch)>,
        current: &CacheState,
    ) -> SharedFetch {
        let id = self.fetch_ids.fetch_add(1, Ordering::Relaxed);
        self.publish(Arc::new(CacheState {
            keys: current.keys.clone(),
            fetched_at: current.fetched_at,
            last_attempt: Some(Instant::now()),
            last_error: current.last_error,
        }));
        let mut guard = FetchGuard {
            cache: Arc::clone(self),
            id,
            finished: false,
        };
        let run = async move {
            let state = guard.cache.fetch_and_store().await;
            guard.finished = true;
            drop(guard);
            state
        };
        let fetch: BoxFuture<'static, Arc<CacheState>> = match tokio::runtime::Handle::try_current()
        {
            Ok(runtime) => {
                let task = runtime.spawn(run);
                let cache = Arc::clone(self);
                async move {
                    // A task lost with its runtime leaves the guard's verdict.
                    task.await.unwrap_or_else(|_| cache.state.load_full())
                }
                .boxed()
            }
            Err(_) => run.boxed(),
        };
        let fetch = fetch.shared();
        *slot = Some((id, fetch.clone()));
        fetch
    }

    async fn fetch_and_store(&self) -> Arc<CacheState> {
        let outcome = self.fetcher.fetch().await;
        let current = self.state.load_full();
        let next = match outcome {
            Ok(keys) => CacheState {
                keys: Some(Arc::new(keys)),
                fetched_at: Some(now_seconds()),
                last_attempt: current.last_attempt,
                last_error: None,
            },
            Err(reason) => {
                if current.keys.is_some() {
                    tracing::warn!(
                        reason = reason.code(),
                        "JWKS refresh failed: serving the last good keys"
                    );
                }
                CacheState {
                    keys: current.keys.clone(),
                    fetched_at: current.fetched_at,
                    last_attempt: current.last_attempt,
                    last_error: Some(reason),
                }
            }
        };
        let next = Arc::new(next);
        self.publish(Arc::clone(&next));
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn pem_in_every_accepted_form() {
        use aws_lc_rs::signature::KeyPair as _;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs1 = pair.public_key().as_ref().to_vec();
        let spki = pair.public_key().as_der().unwrap().as_ref().to_vec();
        for text in [
            pem("RSA PUBLIC KEY", &pkcs1),
            pem("PUBLIC KEY", &spki),
            pem("PUBLIC KEY", &spki).replace('\n', "\\n"),
            base64::engine::general_purpose::STANDARD.encode(&spki),
        ] {
            let key = VerificationKey::from_pem(&text).unwrap();
            assert_eq!(key.bits(), 2048);
        }
        assert!(VerificationKey::from_pem(&pem("PRIVATE KEY", &spki)).is_err());
        assert!(VerificationKey::from_pem(&pem("PUBLIC KEY", b"not der")).is_err());
    }

    #[test]
    fn bit_length_and_leading_zeros() {
        assert_eq!(bit_length(&[0x80u8; 256]), 2048);
        assert_eq!(bit_length(&[0x01, 0]), 9);
        assert_eq!(strip_leading_zeros(&[0, 0, 1, 0]), &[1, 0]);
    }

    #[test]
    fn weak_and_malformed_keys_are_refused() {
        assert!(VerificationKey::from_components(&[0xff; 128], &[1, 0, 1]).is_err());
        assert!(VerificationKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
        )
        .is_err());
        assert!(KeySet::from_jwks(br#"{"keys":[{"kty":"EC","kid":"a"}]}"#).is_err());
        assert!(KeySet::from_jwks(b"[]").is_err());
    }
}

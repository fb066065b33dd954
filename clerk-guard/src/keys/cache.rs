//! The JWKS cache: lock-free reads, one fetch at a time shared by every
//! waiter, TTL refresh in the background, the last good keys served while
//! the endpoint fails, and at most one fetch per cooldown while it fails.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::http::HeaderMap;
use futures_util::future::{BoxFuture, FutureExt as _, Shared};

use super::key::VerificationKey;
use super::set::KeySet;
use crate::http::{self, FetchSettings};
use crate::rejection::{AuthRejection, Reason};
use crate::util::{lock, now_seconds};

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

/// How a [`JwksCache`] fetches: where, with what, within which limits. (No
/// `Debug`: its headers may hold the secret key.)
#[derive(Clone)]
pub(crate) struct JwksSettings {
    /// The JWKS endpoint.
    pub(crate) url: reqwest::Url,
    /// Headers sent with every fetch (the Backend API's Bearer, custom ones).
    pub(crate) headers: HeaderMap,
    pub(crate) fetch: FetchSettings,
    /// Keys older than this are refreshed in the background.
    pub(crate) ttl: Duration,
    /// At most one fetch per cooldown while keys are missing or fetches fail.
    pub(crate) cooldown: Duration,
    /// How long past the TTL the last good keys still serve while refreshes
    /// fail; after it, neither they nor the tokens they signed are trusted.
    pub(crate) max_staleness: Duration,
}

/// Fetches a JWKS with timeouts and a size cap.
struct JwksFetcher {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    max_bytes: usize,
}

impl fmt::Debug for JwksFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header names only: values may be the secret key or a proxy's.
        f.debug_struct("JwksFetcher")
            .field("url", &self.url.as_str())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl JwksFetcher {
    fn new(settings: &JwksSettings) -> Result<Self, String> {
        Ok(Self {
            client: http::client(&settings.fetch, &settings.url)?,
            url: settings.url.clone(),
            headers: settings.headers.clone(),
            max_bytes: settings.fetch.max_bytes,
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
        let body = http::read_capped(response, self.max_bytes, &self.url)
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
    max_staleness: Duration,
}

/// Unknown kids seen while cooling down. A kid that comes back is not
/// noise: it is most likely a rotated key whose tokens every client now
/// sends (a flood of random kids never repeats). One such kid may start one
/// extra fetch per cooldown, so fetches stay bounded (two per cooldown at
/// most) while a rotation is picked up after its second request.
///
/// Kids are remembered by a keyed hash in a fixed table, the last one seen
/// in each slot: a flood overwrites slots but never fills the table, so a
/// kid that comes back is noticed however many random ones arrived before
/// it, and nobody can aim at a slot without the process's hash key.
#[derive(Debug)]
struct UnknownKids {
    hasher: std::collections::hash_map::RandomState,
    slots: Box<[u64]>,
    last_extra: Option<Instant>,
}

impl Default for UnknownKids {
    fn default() -> Self {
        Self {
            hasher: Default::default(),
            slots: vec![0; Self::SLOTS].into_boxed_slice(),
            last_extra: None,
        }
    }
}

impl UnknownKids {
    /// Kids remembered at once.
    const SLOTS: usize = 256;

    /// Records `kid`; whether it has come back and may fetch now.
    fn repeated(&mut self, kid: &str, cooldown: Duration) -> bool {
        if self.last_extra.is_some_and(|at| at.elapsed() < cooldown) {
            return false;
        }
        // Never 0, the empty slot's value.
        let hash = std::hash::BuildHasher::hash_one(&self.hasher, kid) | 1;
        let slot = &mut self.slots[(hash >> 32) as usize % Self::SLOTS];
        if *slot != hash {
            *slot = hash;
            return false;
        }
        self.last_extra = Some(Instant::now());
        self.slots.fill(0);
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

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("fetcher", &self.fetcher)
            .field("state", &self.state.load())
            .field("ttl", &self.ttl)
            .field("cooldown", &self.cooldown)
            .field("max_staleness", &self.max_staleness)
            .finish_non_exhaustive()
    }
}

/// A fetch to spawn on its runtime, once the in-flight lock is released.
struct FetchTask(Option<(tokio::runtime::Handle, BoxFuture<'static, ()>)>);

impl FetchTask {
    fn spawn(self) {
        if let Some((runtime, run)) = self.0 {
            drop(runtime.spawn(run));
        }
    }
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
            max_staleness: settings.max_staleness,
        })
    }

    /// Time left before another fetch may start, if one started within the cooldown.
    fn cooldown_left(&self, state: &CacheState) -> Option<Duration> {
        let elapsed = state.last_attempt?.elapsed();
        self.cooldown.checked_sub(elapsed).filter(|d| !d.is_zero())
    }

    /// The keys of `state` that may still be used at `now`: none once they are
    /// older than the TTL plus the maximum staleness (refreshes have failed
    /// that long, and a key removed from the JWKS meanwhile must not live on).
    fn usable<'a>(&self, state: &'a CacheState, now: f64) -> Option<&'a Arc<KeySet>> {
        let keys = state.keys.as_ref()?;
        let fetched_at = state.fetched_at?;
        let limit = fetched_at + self.ttl.as_secs_f64() + self.max_staleness.as_secs_f64();
        (now < limit).then_some(keys)
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
        state.keys.as_ref()?;
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
        let key = self.usable(&state, now)?.get(kid).cloned();
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
        if let Some(keys) = self.usable(&state, now_seconds()) {
            return keys
                .get(kid)
                .cloned()
                .ok_or_else(|| AuthRejection::new(Reason::JwkKidMismatch));
        }
        // No usable key at all (none fetched, or the last ones too old): 503,
        // and say when the next fetch may happen.
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
        let (fetch, task) = {
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
                tracing::info!(kid = ?kid, "an unknown kid came back within the cooldown: fetching the JWKS once more");
            }
            self.start_fetch(&mut slot, &state)
        };
        // Spawned with the lock released: a runtime that is shutting down
        // drops the task at once, and its guard takes the lock to clean up.
        task.spawn();
        Fetch::Wait(fetch)
    }

    /// Starts a TTL refresh unless a fetch is running or cooling down. Never waits.
    fn refresh_in_background(self: &Arc<Self>) {
        let task = {
            // Busy lock: another request is starting or ending a fetch right now.
            let Ok(mut slot) = self.in_flight.try_lock() else {
                return;
            };
            if slot.is_some() || tokio::runtime::Handle::try_current().is_err() {
                return;
            }
            let state = self.state.load_full();
            if state.last_error.is_some() && self.cooldown_left(&state).is_some() {
                return;
            }
            tracing::debug!("JWKS older than its TTL: refreshing in the background");
            // Nobody awaits it here: the fetch runs in its own task.
            self.start_fetch(&mut slot, &state).1
        };
        task.spawn();
    }

    /// Records the attempt and puts the shared fetch in `slot`; the caller
    /// starts the returned task once it has released the lock. Without a
    /// tokio runtime the fetch runs inline, in whoever awaits it.
    fn start_fetch(
        self: &Arc<Self>,
        slot: &mut Option<(u64, SharedFetch)>,
        current: &CacheState,
    ) -> (SharedFetch, FetchTask) {
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
        let (fetch, task): (BoxFuture<'static, Arc<CacheState>>, FetchTask) =
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    let (done, outcome) = tokio::sync::oneshot::channel();
                    let cache = Arc::clone(self);
                    let task = FetchTask(Some((
                        runtime,
                        async move {
                            let _ = done.send(run.await);
                        }
                        .boxed(),
                    )));
                    // A task lost with its runtime leaves the guard's verdict.
                    let fetch =
                        async move { outcome.await.unwrap_or_else(|_| cache.state.load_full()) };
                    (fetch.boxed(), task)
                }
                Err(_) => (run.boxed(), FetchTask(None)),
            };
        let fetch = fetch.shared();
        *slot = Some((id, fetch.clone()));
        (fetch, task)
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

    #[test]
    fn a_kid_that_comes_back_is_noticed_after_any_flood() {
        let mut kids = UnknownKids::default();
        let cooldown = Duration::from_secs(60);
        assert!(!kids.repeated("rotated", cooldown));
        for i in 0..10_000 {
            assert!(!kids.repeated(&format!("random-{i}"), cooldown));
        }
        // The flood may have taken the rotated kid's slot: it comes back again.
        assert!(kids.repeated("rotated", cooldown) || kids.repeated("rotated", cooldown));
        // One extra fetch per cooldown, whatever comes back next.
        assert!(!kids.repeated("again", cooldown));
        assert!(!kids.repeated("again", cooldown));
    }

    #[test]
    fn debug_output_never_holds_the_secret_key() {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::AUTHORIZATION,
            http::secret_header("sk_test_s3cr3t").unwrap(),
        );
        let settings = JwksSettings {
            url: reqwest::Url::parse("https://api.example.com/v1/jwks").unwrap(),
            headers: headers.clone(),
            fetch: FetchSettings {
                connect_timeout: Duration::from_secs(1),
                request_timeout: Duration::from_secs(1),
                max_bytes: 1024,
            },
            ttl: Duration::from_secs(1),
            cooldown: Duration::from_secs(1),
            max_staleness: Duration::from_secs(1),
        };
        let cache = JwksCache::new(&settings).unwrap();
        for text in [
            format!("{cache:?}"),
            format!("{cache:#?}"),
            format!("{headers:?}"),
        ] {
            assert!(!text.contains("s3cr3t"), "{text}");
        }
    }
}

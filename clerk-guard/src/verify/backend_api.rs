//! Opaque machine tokens (`mt_…`, `oat_…`, `ak_…`), verified by Clerk's
//! Backend API with the secret key, behind a short positive cache, a cache
//! of refusals, one lookup per token at a time, and a per-second cap on
//! lookups of tokens never seen before.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::machine_jwt::{check_oauth_audience, strings};
use crate::auth::{MachineAuth, MachineInner, TokenFormat};
use crate::config::{BackendApiSettings, MachineSettings};
use crate::http::{BackendApi, CallError};
use crate::rejection::{AuthRejection, Reason};
use crate::token::TokenKind;
use crate::util::{lock, now_seconds, Throttle};

/// A Backend API answer about one opaque token, shared by every request
/// waiting on the same lookup.
type Lookup = Result<MachineAuth, AuthRejection>;
type SharedLookup = Shared<BoxFuture<'static, Lookup>>;

/// Verifies opaque machine tokens through the Backend API.
pub(super) struct OpaqueVerifier {
    api: Arc<BackendApi>,
    settings: MachineSettings,
    audience: Vec<String>,
    /// Valid answers: reused while fresh, and remembered longer as tokens
    /// known to be good, whose re-checks have a budget of their own.
    valid: Option<quick_cache::sync::Cache<Arc<str>, Valid>>,
    /// Refusals ("not found", revoked, expired), each until its deadline.
    not_found: Option<quick_cache::sync::Cache<Arc<str>, (AuthRejection, Instant)>>,
    in_flight: Mutex<HashMap<Arc<str>, SharedLookup>>,
    /// Lookups of tokens never seen valid: what made-up tokens can spend.
    new_tokens: Budget,
    /// Re-checks of tokens that were valid recently: never spent by made-up
    /// tokens, so a flood of them cannot lock real clients out.
    rechecks: Budget,
    /// Refusals past a budget, logged at a bounded rate.
    refusal_log: Throttle,
}

/// How long a token the Backend API called valid counts as known good: its
/// re-checks draw from their own budget within this time.
const KNOWN_GOOD: Duration = Duration::from_secs(3600);

/// A valid answer: reused until `fresh_until`; a token known good until
/// `known_until`.
#[derive(Clone)]
struct Valid {
    machine: MachineAuth,
    fresh_until: Instant,
    known_until: Instant,
}

/// Lookups allowed per one-second window.
struct Budget {
    per_second: u32,
    window: Mutex<(Instant, u32)>,
}

impl Budget {
    fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window: Mutex::new((Instant::now(), 0)),
        }
    }

    /// One more lookup, or how long until the next window opens.
    fn take(&self) -> Result<(), Duration> {
        let mut window = lock(&self.window);
        if window.0.elapsed() >= Duration::from_secs(1) {
            *window = (Instant::now(), 0);
        }
        if window.1 >= self.per_second {
            let left = Duration::from_secs(1).saturating_sub(window.0.elapsed());
            return Err(left.max(Duration::from_millis(1)));
        }
        window.1 += 1;
        Ok(())
    }
}

impl fmt::Debug for OpaqueVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaqueVerifier")
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

/// Clears a token's in-flight slot however its lookup ends.
struct LookupGuard {
    verifier: Arc<OpaqueVerifier>,
    token: Arc<str>,
}

impl Drop for LookupGuard {
    fn drop(&mut self) {
        lock(&self.verifier.in_flight).remove(&self.token);
    }
}

/// The fields Clerk's Backend API answers for M2M tokens, OAuth access
/// tokens and API keys (`M2MToken`, `IdPOAuthAccessToken`, `APIKey`).
#[derive(Deserialize)]
struct BapiToken {
    id: String,
    subject: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    claims: Option<Map<String, Value>>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    expired: bool,
    /// Milliseconds since the epoch.
    #[serde(default)]
    expiration: Option<f64>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    aud: Option<Value>,
}

impl OpaqueVerifier {
    pub(super) fn new(
        backend: Arc<BackendApi>,
        api: &BackendApiSettings,
        audience: &[String],
    ) -> Result<Self, String> {
        let entries = api.machine.cache_entries;
        let cache = |ttl: Duration| (entries > 0 && !ttl.is_zero()).then_some(entries);
        let per_second = api.machine.lookups_per_second;
        Ok(Self {
            api: backend,
            settings: api.machine,
            audience: audience.to_vec(),
            // Kept whatever the reuse time: a zero TTL still knows good tokens.
            valid: (entries > 0).then(|| quick_cache::sync::Cache::new(entries)),
            not_found: cache(api.machine.not_found_ttl).map(quick_cache::sync::Cache::new),
            in_flight: Mutex::new(HashMap::new()),
            new_tokens: Budget::new(per_second),
            rechecks: Budget::new(per_second),
            refusal_log: Throttle::new(Duration::from_secs(10)),
        })
    }

    /// Verifies a well-formed opaque token of `kind`.
    pub(super) async fn verify(self: &Arc<Self>, token: &str, kind: TokenKind) -> Lookup {
        let now = Instant::now();
        let mut known_good = false;
        if let Some(valid) = &self.valid {
            if let Some(entry) = valid.get(token) {
                let live = !entry.machine.expired(now_seconds());
                if live && now < entry.fresh_until {
                    return Ok(entry.machine);
                }
                known_good = live && now < entry.known_until;
                if !known_good {
                    valid.remove(token);
                }
            }
        }
        if let Some(not_found) = &self.not_found {
            if let Some((refused, until)) = not_found.get(token) {
                if now < until {
                    return Err(refused);
                }
                not_found.remove(token);
            }
        }
        let (lookup, task) = {
            let mut in_flight = lock(&self.in_flight);
            match in_flight.get(token) {
                Some(lookup) => (lookup.clone(), None),
                None => {
                    self.take_budget(known_good)?;
                    let key: Arc<str> = token.into();
                    let (lookup, task) = self.start_lookup(Arc::clone(&key), kind);
                    in_flight.insert(key, lookup.clone());
                    (lookup, task)
                }
            }
        };
        // Spawned with the lock released: a runtime that is shutting down
        // drops the task at once, and its guard takes the lock to clean up.
        if let Some((runtime, run)) = task {
            drop(runtime.spawn(run));
        }
        lookup.await
    }

    /// The lookup of `token`, shared by every request that waits on it, and
    /// the task to spawn for it (none without a tokio runtime: then it runs
    /// in whoever awaits it).
    fn start_lookup(
        self: &Arc<Self>,
        token: Arc<str>,
        kind: TokenKind,
    ) -> (
        SharedLookup,
        Option<(tokio::runtime::Handle, BoxFuture<'static, ()>)>,
    ) {
        let guard = LookupGuard {
            verifier: Arc::clone(self),
            token: Arc::clone(&token),
        };
        let this = Arc::clone(self);
        let run = async move {
            let _guard = guard;
            this.look_up(&token, kind).await
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let (done, outcome) = tokio::sync::oneshot::channel();
                let lookup: SharedLookup = async move {
                    outcome.await.unwrap_or_else(|_| {
                        Err(AuthRejection::with_detail(
                            Reason::BackendApiUnavailable,
                            "the Backend API lookup was cancelled",
                        ))
                    })
                }
                .boxed()
                .shared();
                let task = async move {
                    let _ = done.send(run.await);
                }
                .boxed();
                (lookup, Some((runtime, task)))
            }
            Err(_) => (run.boxed().shared(), None),
        }
    }

    /// One more lookup from the budget it belongs to (re-checks of a token
    /// known good have their own), or 503 with `Retry-After` when this
    /// second's share is spent.
    fn take_budget(&self, known_good: bool) -> Result<(), AuthRejection> {
        let budget = if known_good {
            &self.rechecks
        } else {
            &self.new_tokens
        };
        budget.take().map_err(|left| {
            if let Some(suppressed) = self.refusal_log.allow() {
                tracing::warn!(
                    known_good,
                    cap = self.settings.lookups_per_second,
                    suppressed,
                    "Backend API lookups of opaque tokens past the per-second cap: answering 503"
                );
            }
            AuthRejection::with_detail(
                Reason::BackendApiUnavailable,
                "the per-second cap on Backend API lookups is reached",
            )
            .retry_after(left)
        })
    }

    /// Remembers a refusal of `token` for the "not found" time, and forgets
    /// it as a good token.
    fn remember_refusal(&self, token: &Arc<str>, refused: &AuthRejection) {
        if let Some(valid) = &self.valid {
            valid.remove(&**token);
        }
        if let Some(not_found) = &self.not_found {
            not_found.insert(
                Arc::clone(token),
                (
                    refused.clone(),
                    Instant::now() + self.settings.not_found_ttl,
                ),
            );
        }
    }

    /// Asks the Backend API about `token`, and remembers the answer. The
    /// paths carry no API version: `@clerk/backend` calls these three
    /// endpoints with `skipApiVersionInUrl`.
    async fn look_up(&self, token: &Arc<str>, kind: TokenKind) -> Lookup {
        let (path, body) = match kind {
            TokenKind::M2m => (
                "/m2m_tokens/verify",
                serde_json::json!({ "token": &**token }),
            ),
            TokenKind::OAuth => (
                "/oauth_applications/access_tokens/verify",
                serde_json::json!({ "access_token": &**token }),
            ),
            _ => (
                "/api_keys/verify",
                serde_json::json!({ "secret": &**token }),
            ),
        };
        let unavailable = |detail: &'static str| {
            AuthRejection::with_detail(Reason::BackendApiUnavailable, detail)
        };
        let body = match self.api.call(Method::POST, path, &[], Some(&body)).await {
            Ok(body) => body,
            Err(CallError::Unreachable) => {
                return Err(unavailable("the Backend API could not be reached"));
            }
            // Clerk answers 404 for unknown (and, for some kinds, revoked) tokens.
            Err(CallError::Status(status, _)) if matches!(status.as_u16(), 400 | 404 | 422) => {
                let refused = not_found_rejection(kind);
                self.remember_refusal(token, &refused);
                return Err(refused);
            }
            Err(CallError::Status(status, _)) if matches!(status.as_u16(), 401 | 403) => {
                tracing::error!(%status, path, "the Backend API refused the secret key (CLERK_SECRET_KEY)");
                return Err(AuthRejection::with_detail(
                    Reason::ConfigurationInvalid,
                    "the Backend API refused the secret key",
                ));
            }
            Err(CallError::Status(status, _)) => {
                tracing::warn!(%status, path, "Backend API lookup answered with an error status");
                return Err(unavailable("the Backend API answered with an error"));
            }
        };
        let answer: BapiToken = serde_json::from_slice(&body).map_err(|e| {
            tracing::warn!(path, error = %e, "Backend API answer is not a token object");
            unavailable("the Backend API answer is not a token object")
        })?;
        let expires_at = answer.expiration.map(|ms| (ms / 1000.0).max(0.0) as u64);
        let now = now_seconds();
        // A refusal is remembered like "not found": a token never comes back
        // from revocation or expiry. A valid answer is never kept for it.
        let refused = if answer.revoked {
            Some(AuthRejection::with_detail(
                Reason::TokenInvalid,
                "the token is revoked",
            ))
        } else if answer.expired || expires_at.is_some_and(|exp| (exp as f64) <= now) {
            Some(AuthRejection::new(Reason::TokenExpired))
        } else {
            None
        };
        if let Some(refused) = refused {
            self.remember_refusal(token, &refused);
            return Err(refused);
        }
        if kind == TokenKind::OAuth {
            check_oauth_audience(answer.aud.as_ref(), &self.audience)?;
        }
        if answer.subject.is_empty() {
            return Err(unavailable("the Backend API answer has no subject"));
        }
        let machine = MachineAuth::new(MachineInner {
            kind,
            format: TokenFormat::Opaque,
            id: answer.id,
            subject: answer.subject,
            scopes: answer.scopes.unwrap_or_default(),
            claims: answer.claims,
            expires_at,
            client_id: answer.client_id,
            name: answer.name,
            audience: strings(answer.aud.as_ref(), false).unwrap_or_default(),
        });
        if let Some(valid) = &self.valid {
            // Never past the token's own expiry.
            let until_expiry = |limit: Duration| match expires_at {
                Some(exp) => limit.min(Duration::from_secs_f64((exp as f64 - now).max(0.0))),
                None => limit,
            };
            let at = Instant::now();
            valid.insert(
                Arc::clone(token),
                Valid {
                    machine: machine.clone(),
                    fresh_until: at + until_expiry(self.settings.cache_ttl),
                    known_until: at + until_expiry(KNOWN_GOOD),
                },
            );
        }
        Ok(machine)
    }
}

fn not_found_rejection(kind: TokenKind) -> AuthRejection {
    AuthRejection::with_detail(
        Reason::TokenInvalid,
        match kind {
            TokenKind::M2m => "machine token not found",
            TokenKind::OAuth => "OAuth token not found",
            _ => "API key not found",
        },
    )
}

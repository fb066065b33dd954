//! Opaque machine tokens (`mt_…`, `oat_…`, `ak_…`), verified by Clerk's
//! Backend API with the secret key, behind a short positive cache, a cache
//! of refusals, one lookup per token at a time, and a per-second cap on
//! lookups of tokens never seen before.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::machine_jwt::{check_oauth_audience, strings};
use crate::auth::{MachineAuth, MachineInner, TokenFormat};
use crate::config::{BackendApiSettings, MachineSettings};
use crate::http;
use crate::rejection::{AuthRejection, Reason};
use crate::token::TokenKind;
use crate::util::{lock, now_seconds};

/// A Backend API answer about one opaque token, shared by every request
/// waiting on the same lookup.
type Lookup = Result<MachineAuth, AuthRejection>;
type SharedLookup = Shared<BoxFuture<'static, Lookup>>;

/// Verifies opaque machine tokens through the Backend API.
pub(super) struct OpaqueVerifier {
    client: reqwest::Client,
    base: String,
    headers: HeaderMap,
    max_bytes: usize,
    settings: MachineSettings,
    audience: Vec<String>,
    /// Valid answers, each until its deadline.
    valid: Option<quick_cache::sync::Cache<Arc<str>, (MachineAuth, Instant)>>,
    /// Refusals ("not found", revoked, expired), each until its deadline.
    not_found: Option<quick_cache::sync::Cache<Arc<str>, (AuthRejection, Instant)>>,
    in_flight: Mutex<HashMap<Arc<str>, SharedLookup>>,
    /// Lookups started in the current one-second window.
    window: Mutex<(Instant, u32)>,
}

impl fmt::Debug for OpaqueVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaqueVerifier")
            .field("base", &self.base)
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
    pub(super) fn new(api: &BackendApiSettings, audience: &[String]) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, http::secret_header(&api.secret_key)?);
        let entries = api.machine.cache_entries;
        let cache = |ttl: Duration| (entries > 0 && !ttl.is_zero()).then_some(entries);
        Ok(Self {
            client: http::client(&api.fetch, &api.base)?,
            base: api.base.as_str().trim_end_matches('/').to_owned(),
            headers,
            max_bytes: api.fetch.max_bytes,
            settings: api.machine,
            audience: audience.to_vec(),
            valid: cache(api.machine.cache_ttl).map(quick_cache::sync::Cache::new),
            not_found: cache(api.machine.not_found_ttl).map(quick_cache::sync::Cache::new),
            in_flight: Mutex::new(HashMap::new()),
            window: Mutex::new((Instant::now(), 0)),
        })
    }

    /// Verifies a well-formed opaque token of `kind`.
    pub(super) async fn verify(self: &Arc<Self>, token: &str, kind: TokenKind) -> Lookup {
        let now = Instant::now();
        if let Some(valid) = &self.valid {
            if let Some((machine, until)) = valid.get(token) {
                if now < until && !machine.expired(now_seconds()) {
                    return Ok(machine);
                }
                valid.remove(token);
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
        let lookup = {
            let mut in_flight = lock(&self.in_flight);
            match in_flight.get(token) {
                Some(lookup) => lookup.clone(),
                None => {
                    self.take_lookup_slot()?;
                    let key: Arc<str> = token.into();
                    let token = Arc::clone(&key);
                    let guard = LookupGuard {
                        verifier: Arc::clone(self),
                        token: Arc::clone(&key),
                    };
                    let this = Arc::clone(self);
                    let task = tokio::spawn(async move {
                        let _guard = guard;
                        this.look_up(&token, kind).await
                    });
                    let lookup: SharedLookup = async move {
                        task.await.unwrap_or_else(|_| {
                            Err(AuthRejection::with_detail(
                                Reason::BackendApiUnavailable,
                                "the Backend API lookup was cancelled",
                            ))
                        })
                    }
                    .boxed()
                    .shared();
                    in_flight.insert(key, lookup.clone());
                    lookup
                }
            }
        };
        lookup.await
    }

    /// One more lookup of a token not seen before, or 503 with `Retry-After`
    /// when this second's cap is reached.
    fn take_lookup_slot(&self) -> Result<(), AuthRejection> {
        let mut window = lock(&self.window);
        let elapsed = window.0.elapsed();
        if elapsed >= Duration::from_secs(1) {
            *window = (Instant::now(), 0);
        }
        if window.1 >= self.settings.lookups_per_second {
            let left = Duration::from_secs(1).saturating_sub(window.0.elapsed());
            return Err(AuthRejection::with_detail(
                Reason::BackendApiUnavailable,
                "the per-second cap on Backend API lookups of new tokens is reached",
            )
            .retry_after(left.max(Duration::from_millis(1))));
        }
        window.1 += 1;
        Ok(())
    }

    /// Remembers a refusal of `token` for the "not found" time.
    fn remember_refusal(&self, token: &Arc<str>, refused: &AuthRejection) {
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
        let url = format!("{}{path}", self.base);
        let unavailable = |detail: &'static str| {
            AuthRejection::with_detail(Reason::BackendApiUnavailable, detail)
        };
        let response = self
            .client
            .post(&url)
            .headers(self.headers.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(%url, error = %e, "Backend API lookup failed");
                unavailable("the Backend API could not be reached")
            })?;
        let status = response.status();
        let parsed_url = response.url().clone();
        match status.as_u16() {
            200..=299 => {}
            // Clerk answers 404 for unknown (and, for some kinds, revoked) tokens.
            400 | 404 | 422 => {
                let refused = not_found_rejection(kind);
                self.remember_refusal(token, &refused);
                return Err(refused);
            }
            401 | 403 => {
                tracing::error!(%url, %status, "the Backend API refused the secret key (CLERK_SECRET_KEY)");
                return Err(AuthRejection::with_detail(
                    Reason::ConfigurationInvalid,
                    "the Backend API refused the secret key",
                ));
            }
            _ => {
                tracing::warn!(%url, %status, "Backend API lookup answered with an error status");
                return Err(unavailable("the Backend API answered with an error"));
            }
        }
        let body = http::read_capped(response, self.max_bytes, &parsed_url)
            .await
            .ok_or_else(|| unavailable("the Backend API answer was over the size cap"))?;
        let answer: BapiToken = serde_json::from_slice(&body).map_err(|e| {
            tracing::warn!(%url, error = %e, "Backend API answer is not a token object");
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
            let mut keep = self.settings.cache_ttl;
            if let Some(exp) = expires_at {
                keep = keep.min(Duration::from_secs_f64((exp as f64 - now).max(0.0)));
            }
            valid.insert(Arc::clone(token), (machine.clone(), Instant::now() + keep));
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

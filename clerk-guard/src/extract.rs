//! axum extractors: `ClerkAuth`, `Option<ClerkAuth>`, `Principal`,
//! `Option<Principal>`, `Guard<R, A>`, `OptionalGuard<A>`.
//!
//! Every extractor shares one verification per request: the outcome is stored
//! in the request extensions, so a guard plus `auth: ClerkAuth` (or a layer
//! plus either) verifies once.

use std::borrow::Cow;
use std::marker::PhantomData;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use crate::claims::ClerkAuth;
use crate::machine::{Accepts, Principal, TokenKind};
use crate::rejection::{AuthRejection, Reason};
use crate::require::{AcceptList, Requirement, SessionTokens};
use crate::verify::{global, token_from_headers, ClerkVerifier, VerifierId};

/// What verification concluded for this request.
#[derive(Debug, Clone)]
pub(crate) enum AuthOutcome {
    SignedIn(Principal),
    SignedOut(AuthRejection),
}

/// Every outcome of this request, each with the verifier that produced it
/// and the kinds of token it accepted (kept in the request extensions). An
/// outcome answers only for its own verifier: an extractor or layer with
/// another verifier verifies again, so one Clerk instance's token never
/// passes for another's. A signed-in outcome also answers any question that
/// accepts its principal's kind; a signed-out one only the same question.
///
/// A signed-in session is recorded by the request's `ClerkAuth` extension
/// alone (it knows its verifier), so the usual request stores one entry;
/// this list holds the other outcomes, and a `ClerkAuth` a later verdict
/// displaced. The first is held inline: only a second one allocates.
#[derive(Debug, Clone)]
struct AuthOutcomes {
    first: Recorded,
    more: Vec<Recorded>,
}

type Recorded = (VerifierId, Accepts, AuthOutcome);

impl AuthOutcomes {
    fn iter(&self) -> impl Iterator<Item = &Recorded> {
        std::iter::once(&self.first).chain(&self.more)
    }

    fn answer(&self, id: VerifierId, accepts: Accepts) -> Option<&AuthOutcome> {
        self.iter()
            .find(|(by, asked, outcome)| {
                *by == id
                    && (*asked == accepts
                        || matches!(outcome, AuthOutcome::SignedIn(p) if accepts.contains(p.kind())))
            })
            .map(|(_, _, outcome)| outcome)
    }

    /// Adds `recorded` to the request's outcomes.
    fn record(parts: &mut Parts, recorded: Recorded) {
        match parts.extensions.get_mut::<AuthOutcomes>() {
            Some(outcomes) => outcomes.more.push(recorded),
            None => {
                parts.extensions.insert(AuthOutcomes {
                    first: recorded,
                    more: Vec::new(),
                });
            }
        }
    }

    /// Records the session a `ClerkAuth` extension stood for before it was
    /// replaced or removed, so its verifier's questions are still answered.
    fn keep_displaced(parts: &mut Parts, displaced: Option<ClerkAuth>, id: VerifierId) {
        if let Some(auth) = displaced.filter(|auth| auth.verified_by() != id) {
            let by = auth.verified_by();
            let outcome = AuthOutcome::SignedIn(Principal::Session(auth));
            Self::record(parts, (by, Accepts::SESSION, outcome));
        }
    }
}

/// The session the request's `ClerkAuth` extension holds, if `id` verified
/// it, it is this request's token, and the question accepts sessions. A
/// `ClerkAuth` some other code put there (another request's, or one verified
/// from elsewhere) is never taken for this request's verdict.
fn session_answer(parts: &Parts, id: VerifierId, accepts: Accepts) -> Option<AuthOutcome> {
    if !accepts.contains(TokenKind::Session) {
        return None;
    }
    let auth = parts.extensions.get::<ClerkAuth>()?;
    let ours = auth.verified_by() == id && is_request_token(&parts.headers, auth.token());
    ours.then(|| AuthOutcome::SignedIn(Principal::Session(auth.clone())))
}

/// Whether `token` is the request's token (as [`token_from_headers`] finds
/// it). The usual case, `Authorization: Bearer <token>`, is one comparison.
fn is_request_token(headers: &HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .map(|value| value.as_bytes())
        .filter(|value| value.len() > 7 && value[..7].eq_ignore_ascii_case(b"bearer "));
    if bearer.is_some_and(|value| &value[7..] == token.as_bytes()) {
        return true;
    }
    token_from_headers(headers).is_ok_and(|found| found == token)
}

/// Left by a [`ClerkLayer`](crate::ClerkLayer) that had no verifier of its
/// own and none in scope, so used the global one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerUsedGlobal(pub(crate) VerifierId);

/// The router's own verifier (an `Extension<ClerkVerifier>` or a
/// [`ClerkLayer`](crate::ClerkLayer)'s), else the global one (borrowed: no
/// reference count is touched on the quickstart's path).
pub(crate) fn verifier_for(parts: &Parts) -> Result<Cow<'static, ClerkVerifier>, AuthRejection> {
    if let Some(verifier) = parts.extensions.get::<ClerkVerifier>() {
        warn_if_misordered(parts, verifier);
        return Ok(Cow::Owned(verifier.clone()));
    }
    global().map(Cow::Borrowed).map_err(|_| {
        AuthRejection::with_detail(
            Reason::ConfigurationInvalid,
            "no verifier in scope (ClerkLayer::with_verifier, or Extension(verifier) added after \
             the layer) and the global verifier could not be configured from the environment",
        )
    })
}

/// `.layer(Extension(v)).layer(ClerkLayer::required())` puts the layer
/// outside `v`: it used the global verifier. Extractors still verify with
/// `v`; say once, loudly, that the layer did not.
fn warn_if_misordered(parts: &Parts, verifier: &ClerkVerifier) {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let misordered = parts
        .extensions
        .get::<LayerUsedGlobal>()
        .is_some_and(|used| used.0 != verifier.id());
    if misordered && !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::error!(
            "a ClerkLayer without a verifier sits outside an Extension(ClerkVerifier): the layer \
             verified with the global verifier, extractors behind it verify again with the \
             router's. Give the layer its verifier (ClerkLayer::with_verifier) or add \
             .layer(Extension(verifier)) after the ClerkLayer"
        );
    }
}

/// Verifies the request with `verifier` once and records the outcome. `Err`
/// only when keys or configuration are unavailable (503): never "signed out".
///
/// The usual request (an outcome already recorded, or a session token whose
/// key is cached) is answered by plain function calls; only a verification
/// that must wait (a key to fetch, a machine token) builds a future, boxed,
/// so every extractor's and handler's future stays small. A handler's boxed
/// future past about 1 KiB leaves the allocator's per-thread cache, and is
/// copied whole when boxed.
pub(crate) async fn outcome_with(
    parts: &mut Parts,
    verifier: &ClerkVerifier,
    accepts: Accepts,
) -> Result<AuthOutcome, AuthRejection> {
    match outcome_ready(parts, verifier, accepts) {
        Some(result) => result,
        None => Box::pin(outcome_waiting(parts, verifier, accepts)).await,
    }
}

/// [`outcome_with`] the verifier in scope.
pub(crate) async fn outcome(
    parts: &mut Parts,
    accepts: Accepts,
) -> Result<AuthOutcome, AuthRejection> {
    let verifier = verifier_for(parts)?;
    outcome_with(parts, &verifier, accepts).await
}

/// [`outcome_with`] without awaiting: the recorded outcome, or a session
/// verified now with a cached key; `None` when verification must wait.
fn outcome_ready(
    parts: &mut Parts,
    verifier: &ClerkVerifier,
    accepts: Accepts,
) -> Option<Result<AuthOutcome, AuthRejection>> {
    let id = verifier.id();
    if let Some(outcome) = session_answer(parts, id, accepts) {
        return Some(Ok(outcome));
    }
    let recorded = parts
        .extensions
        .get::<AuthOutcomes>()
        .and_then(|outcomes| outcomes.answer(id, accepts))
        .cloned();
    let (outcome, fresh) = match recorded {
        Some(outcome) => (outcome, false),
        None if accepts == Accepts::SESSION => {
            let result = verifier.authenticate_ready(&parts.headers)?;
            match judged(result.map(Principal::Session)) {
                Ok(outcome) => (outcome, true),
                Err(unavailable) => return Some(Err(unavailable)),
            }
        }
        None => return None,
    };
    Some(Ok(keep(parts, id, accepts, outcome, fresh)))
}

/// [`outcome_with`] for a verification that waits: no outcome is recorded
/// for `verifier` and `accepts` (see [`outcome_ready`]).
async fn outcome_waiting(
    parts: &mut Parts,
    verifier: &ClerkVerifier,
    accepts: Accepts,
) -> Result<AuthOutcome, AuthRejection> {
    let outcome = judged(verifier.authenticate_as(&parts.headers, accepts).await)?;
    Ok(keep(parts, verifier.id(), accepts, outcome, true))
}

/// Puts `outcome` where later extractors find it (`fresh`: not taken from
/// the records).
fn keep(
    parts: &mut Parts,
    id: VerifierId,
    accepts: Accepts,
    outcome: AuthOutcome,
    fresh: bool,
) -> AuthOutcome {
    // `Extension<ClerkAuth>` always holds the innermost verifier's verdict
    // (and `Extension<Principal>` too, where machine tokens are accepted),
    // a recorded one included. A signed-in session is recorded by that
    // extension; any other outcome, and a session it displaces, in
    // `AuthOutcomes`.
    let displaced = match &outcome {
        AuthOutcome::SignedIn(Principal::Session(auth)) => parts.extensions.insert(auth.clone()),
        _ => parts.extensions.remove::<ClerkAuth>(),
    };
    AuthOutcomes::keep_displaced(parts, displaced, id);
    match &outcome {
        AuthOutcome::SignedIn(principal) if accepts != Accepts::SESSION => {
            parts.extensions.insert(principal.clone());
        }
        AuthOutcome::SignedIn(_) => {}
        AuthOutcome::SignedOut(_) => {
            parts.extensions.remove::<Principal>();
        }
    }
    if fresh && !matches!(outcome, AuthOutcome::SignedIn(Principal::Session(_))) {
        AuthOutcomes::record(parts, (id, accepts, outcome.clone()));
    }
    outcome
}

/// A verification's result as an outcome: `Err` only when keys or
/// configuration are unavailable (503), never "signed out".
fn judged(result: Result<Principal, AuthRejection>) -> Result<AuthOutcome, AuthRejection> {
    match result {
        Ok(principal) => Ok(AuthOutcome::SignedIn(principal)),
        Err(rejection) if rejection.reason().is_unavailable() => {
            tracing::warn!(
                reason = rejection.reason().code(),
                detail = rejection.detail(),
                "authentication unavailable"
            );
            Err(rejection)
        }
        Err(rejection) => {
            tracing::debug!(
                reason = rejection.reason().code(),
                detail = rejection.detail(),
                "request not authenticated"
            );
            Ok(AuthOutcome::SignedOut(rejection))
        }
    }
}

/// The principal a guard or layer with the verifier in scope admitted, else
/// a session verified now.
async fn principal_outcome(parts: &mut Parts) -> Result<AuthOutcome, AuthRejection> {
    let verifier = verifier_for(parts)?;
    if let Some(outcome) = session_answer(parts, verifier.id(), Accepts::SESSION) {
        return Ok(outcome);
    }
    if let Some(outcomes) = parts.extensions.get::<AuthOutcomes>() {
        let admitted = outcomes.iter().find(|(by, _, outcome)| {
            *by == verifier.id() && matches!(outcome, AuthOutcome::SignedIn(_))
        });
        if let Some((_, _, outcome)) = admitted {
            return Ok(outcome.clone());
        }
    }
    outcome_with(parts, &verifier, Accepts::SESSION).await
}

/// Who called: the principal the route's guard (or a layer) admitted, by the
/// kinds it accepts; without one, a session token as [`ClerkAuth`] reads it.
///
/// ```
/// use clerk_guard::{clerk_protected, Principal};
///
/// #[clerk_protected(accepts = "m2m")]
/// async fn machine(caller: Principal) -> String {
///     caller.subject().to_owned() // mch_…
/// }
/// ```
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match principal_outcome(parts).await? {
            AuthOutcome::SignedIn(principal) => Ok(principal),
            AuthOutcome::SignedOut(rejection) => Err(rejection),
        }
    }
}

/// `Option<Principal>`: `None` when nobody was admitted; 503 when keys or
/// the Backend API are unavailable.
///
/// ```
/// use clerk_guard::{clerk_protected, Principal};
///
/// #[clerk_protected(optional, accepts = ["session", "api_key"])]
/// async fn feed(caller: Option<Principal>) -> String {
///     caller.map_or("anonymous".into(), |p| p.subject().to_owned())
/// }
/// ```
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        match principal_outcome(parts).await? {
            AuthOutcome::SignedIn(principal) => Ok(Some(principal)),
            AuthOutcome::SignedOut(_) => Ok(None),
        }
    }
}

/// Requires a valid session token; rejects with 401 (or 503 when keys cannot
/// be obtained).
///
/// ```
/// use clerk_guard::ClerkAuth;
///
/// async fn me(auth: ClerkAuth) -> String {
///     format!("hello {}", auth.user_id())
/// }
/// ```
impl<S: Send + Sync> FromRequestParts<S> for ClerkAuth {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match outcome(parts, Accepts::SESSION).await? {
            AuthOutcome::SignedIn(Principal::Session(auth)) => Ok(auth),
            AuthOutcome::SignedIn(_) => Err(AuthRejection::new(Reason::TokenTypeMismatch)),
            AuthOutcome::SignedOut(rejection) => Err(rejection),
        }
    }
}

/// `Option<ClerkAuth>`: `None` for no token and for an invalid, expired or
/// pending one (reason logged at debug); 503 when keys cannot be obtained.
///
/// ```
/// use clerk_guard::ClerkAuth;
///
/// async fn feed(auth: Option<ClerkAuth>) -> String {
///     match auth {
///         Some(auth) => format!("your feed, {}", auth.user_id()),
///         None => "the public feed".to_owned(),
///     }
/// }
/// ```
impl<S: Send + Sync> OptionalFromRequestParts<S> for ClerkAuth {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        match outcome(parts, Accepts::SESSION).await? {
            AuthOutcome::SignedIn(Principal::Session(auth)) => Ok(Some(auth)),
            AuthOutcome::SignedIn(_) | AuthOutcome::SignedOut(_) => Ok(None),
        }
    }
}

/// An extractor that admits the request only when a token of a kind `A`
/// accepts (by default session tokens only) arrives and meets `R`; what
/// `#[clerk_protected(...)]` puts first in a handler.
///
/// Rejects with 401 (no or bad token, or a kind the route does not accept),
/// 403 (`R` not met) or 503.
///
/// ```
/// use clerk_guard::{ClerkAuth, Guard, SignedIn};
///
/// // What `#[clerk_protected] async fn me(auth: ClerkAuth)` becomes:
/// async fn me(_guard: Guard<SignedIn>, auth: ClerkAuth) -> String {
///     auth.user_id().to_owned()
/// }
/// ```
pub struct Guard<R, A = SessionTokens>(PhantomData<fn() -> (R, A)>);

impl<R, A> std::fmt::Debug for Guard<R, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Guard")
    }
}

impl<S: Send + Sync, R: Requirement, A: AcceptList> FromRequestParts<S> for Guard<R, A> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verdict = if A::ACCEPTS == Accepts::SESSION {
            let auth = <ClerkAuth as FromRequestParts<S>>::from_request_parts(parts, state).await?;
            R::verdict(&auth).inspect_err(|rejection| {
                tracing::debug!(
                    reason = rejection.reason().code(),
                    user = auth.user_id(),
                    "requirement not met"
                );
            })
        } else {
            let principal = match outcome(parts, A::ACCEPTS).await? {
                AuthOutcome::SignedIn(principal) => principal,
                AuthOutcome::SignedOut(rejection) => return Err(rejection),
            };
            R::verdict_for(&principal).inspect_err(|rejection| {
                tracing::debug!(
                    reason = rejection.reason().code(),
                    subject = principal.subject(),
                    kind = principal.kind().clerk_name(),
                    "requirement not met"
                );
            })
        };
        verdict.map_err(|rejection| match verifier_for(parts) {
            Ok(verifier) => verifier.rejection(rejection),
            Err(_) => rejection,
        })?;
        Ok(Guard(PhantomData))
    }
}

/// An extractor that verifies a token if one is sent and never rejects except
/// with 503 (keys or the Backend API unavailable); what
/// `#[clerk_protected(optional)]` puts first. `A` is the kinds of token it
/// accepts (by default session tokens only).
///
/// ```
/// use clerk_guard::{ClerkAuth, OptionalGuard};
///
/// async fn feed(_guard: OptionalGuard, auth: Option<ClerkAuth>) -> &'static str {
///     if auth.is_some() { "yours" } else { "public" }
/// }
/// ```
pub struct OptionalGuard<A = SessionTokens>(PhantomData<fn() -> A>);

impl<A> std::fmt::Debug for OptionalGuard<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OptionalGuard")
    }
}

impl<S: Send + Sync, A: AcceptList> FromRequestParts<S> for OptionalGuard<A> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        outcome(parts, A::ACCEPTS).await?;
        Ok(OptionalGuard(PhantomData))
    }
}

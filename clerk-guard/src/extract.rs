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
///
/// Until the process has built a verifier of its own
/// ([`ClerkVerifier::new`]), no request can carry one (the global verifier,
/// or a clone of it, is the same verifier), so the extensions are not
/// searched.
pub(crate) fn verifier_for(parts: &Parts) -> Result<Cow<'static, ClerkVerifier>, AuthRejection> {
    if crate::verify::own_verifiers_exist() {
        if let Some(verifier) = parts.extensions.get::<ClerkVerifier>() {
            warn_if_misordered(parts, verifier);
            return Ok(Cow::Owned(verifier.clone()));
        }
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

/// Where an extractor stands among a request's extractors and layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Anywhere: it answers from the outcomes recorded before it, and
    /// records its own for the extractors after it.
    Among,
    /// A handler's only extractor ([`SoleGuard`]): nothing after it reads a
    /// record, so it leaves none, and only a [`ClerkLayer`](crate::ClerkLayer)
    /// can have recorded one before it.
    Alone,
}

impl Place {
    /// Whether outcomes recorded earlier in the request may answer. Alone, a
    /// guard looks only if a `ClerkLayer` serves somewhere in the process
    /// (no extractor runs before it); without one there is nothing to find.
    fn reads_records(self) -> bool {
        self == Place::Among || crate::layer::layers_in_use()
    }
}

/// Verifies the request with `verifier` once and, unless the extractor is
/// [`Place::Alone`], records the outcome for the extractors after this one.
/// `Err` only when keys or configuration are unavailable (503): never
/// "signed out".
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
    place: Place,
) -> Result<AuthOutcome, AuthRejection> {
    // `if let`, not `match`: the outcome in hand is not kept in the future
    // across the await (a `match` scrutinee would be).
    if let Some(result) = outcome_ready(parts, verifier, accepts, place) {
        return result;
    }
    Box::pin(outcome_waiting(parts, verifier, accepts, place)).await
}

/// [`outcome_with`] the verifier in scope.
pub(crate) async fn outcome(
    parts: &mut Parts,
    accepts: Accepts,
    place: Place,
) -> Result<AuthOutcome, AuthRejection> {
    let verifier = verifier_for(parts)?;
    outcome_with(parts, &verifier, accepts, place).await
}

/// [`outcome_with`] without awaiting: the recorded outcome, or a session
/// verified now with a cached key; `None` when verification must wait.
fn outcome_ready(
    parts: &mut Parts,
    verifier: &ClerkVerifier,
    accepts: Accepts,
    place: Place,
) -> Option<Result<AuthOutcome, AuthRejection>> {
    let id = verifier.id();
    let recorded = if place.reads_records() {
        if let Some(outcome) = session_answer(parts, id, accepts) {
            return Some(Ok(outcome));
        }
        parts
            .extensions
            .get::<AuthOutcomes>()
            .and_then(|outcomes| outcomes.answer(id, accepts))
            .cloned()
    } else {
        None
    };
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
    if place == Place::Alone {
        return Some(Ok(outcome));
    }
    Some(Ok(keep(parts, id, accepts, outcome, fresh)))
}

/// [`outcome_with`] for a verification that waits: no outcome is recorded
/// for `verifier` and `accepts` (see [`outcome_ready`]).
async fn outcome_waiting(
    parts: &mut Parts,
    verifier: &ClerkVerifier,
    accepts: Accepts,
    place: Place,
) -> Result<AuthOutcome, AuthRejection> {
    let outcome = judged(verifier.authenticate_as(&parts.headers, accepts).await)?;
    if place == Place::Alone {
        return Ok(outcome);
    }
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
    outcome_with(parts, &verifier, Accepts::SESSION, Place::Among).await
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
        match outcome(parts, Accepts::SESSION, Place::Among).await? {
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
        match outcome(parts, Accepts::SESSION, Place::Among).await? {
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

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        admit::<R, A>(parts, Place::Among).await?;
        Ok(Guard(PhantomData))
    }
}

/// [`Guard`] for a handler that takes nothing else: what
/// `#[clerk_protected(...)]` puts in a handler without arguments. It admits
/// and rejects exactly as `Guard<R, A>` does, but records no verdict in the
/// request's extensions, since no extractor comes after it to read one (and
/// nothing outside a handler sees the request it consumes). A verdict a
/// [`ClerkLayer`](crate::ClerkLayer) recorded before it is still used.
///
/// ```
/// use clerk_guard::{__private::SoleGuard, SignedIn};
///
/// // What `#[clerk_protected] async fn ping() -> &'static str` becomes:
/// async fn ping(_guard: SoleGuard<SignedIn>) -> &'static str {
///     "pong"
/// }
/// ```
pub struct SoleGuard<R, A = SessionTokens>(PhantomData<fn() -> (R, A)>);

impl<R, A> std::fmt::Debug for SoleGuard<R, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SoleGuard")
    }
}

impl<S: Send + Sync, R: Requirement, A: AcceptList> FromRequestParts<S> for SoleGuard<R, A> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        admit::<R, A>(parts, Place::Alone).await?;
        Ok(SoleGuard(PhantomData))
    }
}

/// A guard's verdict: a token of a kind `A` accepts that meets `R` (`place`:
/// whether the outcome is left for the extractors after the guard).
///
/// Plain calls when the outcome is at hand (see [`outcome_ready`]); only a
/// verification that waits builds the boxed future of [`outcome_waiting`],
/// so the guard's own future (inside every handler's) stays a few words.
async fn admit<R: Requirement, A: AcceptList>(
    parts: &mut Parts,
    place: Place,
) -> Result<(), AuthRejection> {
    if let Some(verdict) = admit_ready::<R, A>(parts, place) {
        return verdict;
    }
    Box::pin(admit_waiting::<R, A>(parts, place)).await
}

/// [`admit`] without awaiting: `None` when the verification must wait.
fn admit_ready<R: Requirement, A: AcceptList>(
    parts: &mut Parts,
    place: Place,
) -> Option<Result<(), AuthRejection>> {
    let verifier = match verifier_for(parts) {
        Ok(verifier) => verifier,
        Err(unavailable) => return Some(Err(unavailable)),
    };
    let outcome = outcome_ready(parts, &verifier, A::ACCEPTS, place)?;
    Some(outcome.and_then(|outcome| verdict::<R, A>(&verifier, outcome)))
}

/// [`admit`] when the verification waits.
async fn admit_waiting<R: Requirement, A: AcceptList>(
    parts: &mut Parts,
    place: Place,
) -> Result<(), AuthRejection> {
    let verifier = verifier_for(parts)?;
    let outcome = outcome_waiting(parts, &verifier, A::ACCEPTS, place).await?;
    verdict::<R, A>(&verifier, outcome)
}

/// Whether `outcome` is a principal of a kind `A` accepts that meets `R`;
/// a requirement's refusal is rendered as `verifier` is configured to.
fn verdict<R: Requirement, A: AcceptList>(
    verifier: &ClerkVerifier,
    outcome: AuthOutcome,
) -> Result<(), AuthRejection> {
    let principal = match outcome {
        AuthOutcome::SignedIn(principal) => principal,
        AuthOutcome::SignedOut(rejection) => return Err(rejection),
    };
    let verdict = match &principal {
        Principal::Session(auth) if A::ACCEPTS == Accepts::SESSION => {
            R::verdict(auth).inspect_err(|rejection| {
                tracing::debug!(
                    reason = rejection.reason().code(),
                    user = auth.user_id(),
                    "requirement not met"
                );
            })
        }
        // Never recorded for a session-only question; refused all the same.
        _ if A::ACCEPTS == Accepts::SESSION => {
            return Err(AuthRejection::new(Reason::TokenTypeMismatch))
        }
        _ => R::verdict_for(&principal).inspect_err(|rejection| {
            tracing::debug!(
                reason = rejection.reason().code(),
                subject = principal.subject(),
                kind = principal.kind().clerk_name(),
                "requirement not met"
            );
        }),
    };
    verdict.map_err(|rejection| verifier.rejection(rejection))
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
        outcome(parts, A::ACCEPTS, Place::Among).await?;
        Ok(OptionalGuard(PhantomData))
    }
}

//! One verification per request and verifier: the outcome memo in the
//! request's extensions, and the verifier a request is judged by.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::request::Parts;

use axum::http::HeaderValue;

use crate::auth::{ClerkAuth, Principal, VerifierId};
use crate::browser::{self, PageOutcome, PageRequest};
use crate::rejection::{AuthRejection, PageAnswer, Protocol, Reason};
use crate::token::{header_token, is_request_token, Accepts, Class, TokenKind};
use crate::verify::{class_of, global, own_verifiers_exist, ClerkVerifier};

/// Set once a `ClerkLayer` wraps a service: from then on a handler's only
/// extractor looks for the outcome a layer recorded (see [`Place`]).
/// Relaxed is enough: the router is handed to the server after it is built.
static LAYERS_IN_USE: AtomicBool = AtomicBool::new(false);

/// Whether any `ClerkLayer` wraps a service in this process.
fn layers_in_use() -> bool {
    LAYERS_IN_USE.load(Ordering::Relaxed)
}

/// Records that a `ClerkLayer` wraps a service.
pub(super) fn note_layer_in_use() {
    LAYERS_IN_USE.store(true, Ordering::Relaxed);
}

/// What verification concluded for this request.
#[derive(Debug, Clone)]
pub(super) enum AuthOutcome {
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
pub(super) struct AuthOutcomes {
    first: Recorded,
    more: Vec<Recorded>,
}

pub(super) type Recorded = (VerifierId, Accepts, AuthOutcome);

impl AuthOutcomes {
    pub(super) fn iter(&self) -> impl Iterator<Item = &Recorded> {
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
pub(super) fn session_answer(
    parts: &Parts,
    id: VerifierId,
    accepts: Accepts,
) -> Option<AuthOutcome> {
    if !accepts.contains(TokenKind::Session) {
        return None;
    }
    let auth = parts.extensions.get::<ClerkAuth>()?;
    let ours = auth.verified_by() == id && is_request_token(&parts.headers, auth.token());
    ours.then(|| AuthOutcome::SignedIn(Principal::Session(auth.clone())))
}

/// Left by an optional route's guard: the kinds of token the route accepts,
/// so `Option<Principal>` after it hands over only a caller of those kinds
/// (not one a router-wide layer admitted under its own, wider list).
#[derive(Debug, Clone, Copy)]
pub(super) struct RouteAccepts(pub(super) VerifierId, pub(super) Accepts);

/// Left by a [`ClerkLayer`](crate::ClerkLayer) that had no verifier of its
/// own and none in scope, so used the global one.
#[derive(Debug, Clone, Copy)]
pub(super) struct LayerUsedGlobal(pub(super) VerifierId);

/// The router's own verifier (an `Extension<ClerkVerifier>` or a
/// [`ClerkLayer`](crate::ClerkLayer)'s), else the global one (borrowed: no
/// reference count is touched on the quickstart's path).
///
/// Until the process has built a verifier of its own
/// ([`ClerkVerifier::new`]), no request can carry one (the global verifier,
/// or a clone of it, is the same verifier), so the extensions are not
/// searched.
pub(super) fn verifier_for(parts: &Parts) -> Result<Cow<'static, ClerkVerifier>, AuthRejection> {
    if own_verifiers_exist() {
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
pub(super) enum Place {
    /// Anywhere: it answers from the outcomes recorded before it, and
    /// records its own for the extractors after it.
    Among,
    /// A handler's only extractor ([`SoleGuard`](super::SoleGuard)): nothing after it reads a
    /// record, so it leaves none, and only a [`ClerkLayer`](crate::ClerkLayer)
    /// can have recorded one before it.
    Alone,
}

impl Place {
    /// Whether outcomes recorded earlier in the request may answer. Alone, a
    /// guard looks only if a `ClerkLayer` serves somewhere in the process
    /// (no extractor runs before it); without one there is nothing to find.
    fn reads_records(self) -> bool {
        self == Place::Among || layers_in_use()
    }
}

/// Verifies the request with `verifier` once and, unless the extractor is
/// [`Place::Alone`], records the outcome for the extractors after this one.
/// `Err` only when keys or configuration are unavailable (503): never
/// "signed out". Refusals are unrendered: the caller renders them on its
/// way out ([`ClerkVerifier::render`]).
///
/// The usual request (an outcome already recorded, or a session token whose
/// key is cached) is answered by plain function calls; only a verification
/// that must wait (a key to fetch, a machine token) builds a future, boxed,
/// so every extractor's and handler's future stays small. A handler's boxed
/// future past about 1 KiB leaves the allocator's per-thread cache, and is
/// copied whole when boxed.
pub(super) async fn outcome_with(
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

/// The request's session verdict without waiting, when the question is
/// one for a session token; `None` when it is not (a machine token's) or
/// the verification must wait.
fn session_now(
    parts: &Parts,
    verifier: &ClerkVerifier,
    accepts: Accepts,
) -> Option<Result<ClerkAuth, AuthRejection>> {
    if accepts == Accepts::SESSION {
        return verifier.session_ready(&parts.headers);
    }
    if !accepts.contains(TokenKind::Session) {
        return None;
    }
    // Among other kinds: a session token the verifier remembers is known by
    // the header's bytes; else one Clerk's classification calls a session is
    // verified as on a session-only route (the machine kinds' lookups are
    // the only ones that may wait).
    if let Some(held) = verifier.held_session(&parts.headers) {
        return Some(held);
    }
    match header_token(&parts.headers) {
        Some(Ok(token)) if class_of(token) == Class::Session => {
            verifier.bearer_session_ready(token)
        }
        _ => None,
    }
}

/// [`outcome_with`] without awaiting: the recorded outcome, or a session
/// verified now with a cached key; `None` when verification must wait.
pub(super) fn outcome_ready(
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
        None => {
            let result = session_now(parts, verifier, accepts)?;
            match judged(result.map(Principal::Session)) {
                Ok(outcome) => (outcome, true),
                Err(unavailable) => return Some(Err(unavailable)),
            }
        }
    };
    if place == Place::Alone {
        return Some(Ok(outcome));
    }
    Some(Ok(keep(parts, id, accepts, outcome, fresh)))
}

/// [`outcome_with`] for a verification that waits: no outcome is recorded
/// for `verifier` and `accepts` (see [`outcome_ready`]). A page whose
/// session was settled with new cookies (a resolved handshake, a refresh)
/// is sent to itself again with them: an extractor cannot set cookies on
/// the handler's response (a [`ClerkLayer`](crate::ClerkLayer) does).
pub(super) async fn outcome_waiting(
    parts: &mut Parts,
    verifier: &ClerkVerifier,
    accepts: Accepts,
    place: Place,
) -> Result<AuthOutcome, AuthRejection> {
    let (outcome, effects) = outcome_settled(parts, verifier, accepts, place).await?;
    match effects {
        None => Ok(outcome),
        Some(answer) => Err(again_with_cookies(&PageRequest::of(parts), answer)),
    }
}

/// [`outcome_waiting`], and the cookies a settled page session must set
/// (with, in development, where to send the browser).
pub(super) async fn outcome_settled(
    parts: &mut Parts,
    verifier: &ClerkVerifier,
    accepts: Accepts,
    place: Place,
) -> Result<(AuthOutcome, Option<PageAnswer>), AuthRejection> {
    let pages =
        verifier.config().pages().frontend.as_ref().filter(|_| {
            accepts.contains(TokenKind::Session) && header_token(&parts.headers).is_none()
        });
    let (result, effects) = match pages {
        Some(frontend) => {
            let request = PageRequest::of(parts);
            match browser::authenticate(verifier, frontend, &request).await {
                Ok(PageOutcome::SignedIn(auth, answer)) => {
                    let settled = !answer.cookies.is_empty() || answer.location.is_some();
                    (Ok(Principal::Session(auth)), settled.then_some(answer))
                }
                Ok(PageOutcome::SignedOut(refused)) | Err(refused) => (Err(refused), None),
            }
        }
        None => (
            verifier.request_principal(&parts.headers, accepts).await,
            None,
        ),
    };
    let outcome = judged(result)?;
    if place == Place::Alone {
        return Ok((outcome, effects));
    }
    Ok((keep(parts, verifier.id(), accepts, outcome, true), effects))
}

/// The page again (without the handshake's parameters), with the cookies
/// that settled its session.
fn again_with_cookies(request: &PageRequest<'_>, mut answer: PageAnswer) -> AuthRejection {
    if answer.location.is_none() {
        answer.location = request.url().and_then(|url| {
            let clean = browser::without_handshake_params(&url);
            HeaderValue::try_from(clean.as_str()).ok()
        });
    }
    answer.page_request = request.is_page();
    AuthRejection::with_detail(
        Reason::TokenExpired,
        "the session was settled anew: the page again, with its cookies",
    )
    .for_page(answer)
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

/// `result`'s refusal as it leaves the edge: rendered as `verifier` says,
/// marked as a page's when it is one, and, for a route that sends browsers
/// to sign in (`sign_in`), a page signed out sent to the sign-in page.
pub(super) fn answer<T>(
    verifier: &ClerkVerifier,
    parts: &Parts,
    result: Result<T, AuthRejection>,
    sign_in: bool,
) -> Result<T, AuthRejection> {
    verifier.render(result).map_err(|mut refused| {
        refused = refused.in_protocol(Protocol::of(&parts.headers));
        let request = PageRequest::of(parts);
        if request.is_page() {
            refused.page_mut().page_request = true;
            if sign_in {
                refused = browser::sign_in_redirect(refused, &request, verifier.config().pages());
            }
        }
        refused
    })
}

//! The guards `#[clerk_protected]` puts first in a handler: [`Guard`],
//! [`SoleGuard`] and [`OptionalGuard`].

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::outcome::{
    answer, outcome_ready, outcome_waiting, outcome_with, verifier_for, AuthOutcome, Place,
    RouteAccepts,
};
use crate::auth::{ClerkAuth, Principal};
use crate::rejection::{AuthRejection, Reason};
use crate::require::{AcceptList, Requirement, SessionTokens};
use crate::token::Accepts;

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

/// [`SoleGuard`] that also hands over the identity: what
/// `#[clerk_protected]` makes of a handler whose only parameter is a
/// `ClerkAuth` (`A` accepts session tokens only) or a `Principal`; `T` is
/// the parameter's type as the handler spells it, which must be one of
/// those. The identity goes straight to the handler; nothing is recorded in
/// the request for extractors after it (there are none).
///
/// ```
/// use clerk_guard::{__private::SoleAuth, ClerkAuth, SessionTokens, SignedIn};
///
/// // What `#[clerk_protected] async fn me(auth: ClerkAuth) -> String` becomes:
/// async fn me(SoleAuth(auth, ..): SoleAuth<SignedIn, SessionTokens, ClerkAuth>) -> String {
///     auth.user_id().to_owned()
/// }
/// ```
pub struct SoleAuth<R, A = SessionTokens, T = ClerkAuth>(pub T, pub PhantomData<fn() -> (R, A)>);

impl<R, A, T: std::fmt::Debug> std::fmt::Debug for SoleAuth<R, A, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SoleAuth").field(&self.0).finish()
    }
}

impl<S: Send + Sync, R: Requirement, A: AcceptList> FromRequestParts<S>
    for SoleAuth<R, A, ClerkAuth>
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match admit::<R, A>(parts, Place::Alone).await? {
            Principal::Session(auth) => Ok(SoleAuth(auth, PhantomData)),
            // A session-only accept list admits sessions alone (`verdict`).
            _ => Err(AuthRejection::new(Reason::TokenTypeMismatch)),
        }
    }
}

impl<S: Send + Sync, R: Requirement, A: AcceptList> FromRequestParts<S>
    for SoleAuth<R, A, Principal>
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let principal = admit::<R, A>(parts, Place::Alone).await?;
        Ok(SoleAuth(principal, PhantomData))
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
) -> Result<Principal, AuthRejection> {
    if let Some(verdict) = admit_ready::<R, A>(parts, place) {
        return verdict;
    }
    Box::pin(admit_waiting::<R, A>(parts, place)).await
}

/// [`admit`] without awaiting: `None` when the verification must wait.
fn admit_ready<R: Requirement, A: AcceptList>(
    parts: &mut Parts,
    place: Place,
) -> Option<Result<Principal, AuthRejection>> {
    let verifier = match verifier_for(parts) {
        Ok(verifier) => verifier,
        Err(unavailable) => return Some(Err(unavailable)),
    };
    let outcome = outcome_ready(parts, &verifier, A::ACCEPTS, place)?;
    let verdict = outcome.and_then(verdict::<R, A>);
    Some(answer(&verifier, parts, verdict, A::SIGN_IN_REDIRECT))
}

/// [`admit`] when the verification waits.
async fn admit_waiting<R: Requirement, A: AcceptList>(
    parts: &mut Parts,
    place: Place,
) -> Result<Principal, AuthRejection> {
    let verifier = verifier_for(parts)?;
    let outcome = outcome_waiting(parts, &verifier, A::ACCEPTS, place).await;
    let verdict = outcome.and_then(verdict::<R, A>);
    answer(&verifier, parts, verdict, A::SIGN_IN_REDIRECT)
}

/// The principal of `outcome`, when it is of a kind `A` accepts and meets `R`.
fn verdict<R: Requirement, A: AcceptList>(
    outcome: AuthOutcome,
) -> Result<Principal, AuthRejection> {
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
        _ if A::ACCEPTS == Accepts::SESSION => Err(AuthRejection::new(Reason::TokenTypeMismatch)),
        _ => R::verdict_for(&principal).inspect_err(|rejection| {
            tracing::debug!(
                reason = rejection.reason().code(),
                subject = principal.subject(),
                kind = principal.kind().clerk_name(),
                "requirement not met"
            );
        }),
    };
    verdict.map(|()| principal)
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
        let verifier = verifier_for(parts)?;
        let outcome = outcome_with(parts, &verifier, A::ACCEPTS, Place::Among).await;
        // Anonymous is fine here, but a page goes through Clerk's handshake.
        let outcome = outcome.and_then(|outcome| match outcome {
            AuthOutcome::SignedOut(refused) if refused.redirect_location().is_some() => {
                Err(refused)
            }
            outcome => Ok(outcome),
        });
        answer(&verifier, parts, outcome, false)?;
        parts
            .extensions
            .insert(RouteAccepts(verifier.id(), A::ACCEPTS));
        Ok(OptionalGuard(PhantomData))
    }
}

//! The identities as extractors: `ClerkAuth`, `Option<ClerkAuth>`,
//! `Principal`, `Option<Principal>`.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;

use super::outcome::{
    answer, outcome_with, session_answer, verifier_for, AuthOutcome, AuthOutcomes, Place,
    RouteAccepts,
};
use crate::auth::{ClerkAuth, Principal};
use crate::rejection::{AuthRejection, Reason};
use crate::token::Accepts;
use crate::verify::ClerkVerifier;

/// The principal a guard or layer with the verifier in scope admitted, else
/// a session verified now.
async fn principal_outcome(
    parts: &mut Parts,
    verifier: &ClerkVerifier,
) -> Result<AuthOutcome, AuthRejection> {
    let route = parts
        .extensions
        .get::<RouteAccepts>()
        .filter(|RouteAccepts(by, _)| *by == verifier.id())
        .map(|RouteAccepts(_, accepts)| *accepts);
    if let Some(accepts) = route {
        return outcome_with(parts, verifier, accepts, Place::Among).await;
    }
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
    outcome_with(parts, verifier, Accepts::SESSION, Place::Among).await
}

/// The session verdict of the verifier in scope, `pick`ed into what the
/// extractor hands over; a refusal rendered as that verifier says.
async fn judge<T>(
    parts: &mut Parts,
    principal: bool,
    pick: impl FnOnce(AuthOutcome) -> Result<T, AuthRejection>,
) -> Result<T, AuthRejection> {
    let verifier = verifier_for(parts)?;
    let outcome = if principal {
        principal_outcome(parts, &verifier).await
    } else {
        outcome_with(parts, &verifier, Accepts::SESSION, Place::Among).await
    };
    answer(&verifier, parts, outcome.and_then(pick), false)
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
        judge(parts, true, |outcome| match outcome {
            AuthOutcome::SignedIn(principal) => Ok(principal),
            AuthOutcome::SignedOut(rejection) => Err(rejection),
        })
        .await
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
        judge(parts, true, |outcome| match outcome {
            AuthOutcome::SignedIn(principal) => Ok(Some(principal)),
            AuthOutcome::SignedOut(refused) => anonymous(refused),
        })
        .await
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
        judge(parts, false, |outcome| match outcome {
            AuthOutcome::SignedIn(Principal::Session(auth)) => Ok(auth),
            AuthOutcome::SignedIn(_) => Err(AuthRejection::new(Reason::TokenTypeMismatch)),
            AuthOutcome::SignedOut(rejection) => Err(rejection),
        })
        .await
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
        judge(parts, false, |outcome| match outcome {
            AuthOutcome::SignedIn(Principal::Session(auth)) => Ok(Some(auth)),
            AuthOutcome::SignedIn(_) => Ok(None),
            AuthOutcome::SignedOut(refused) => anonymous(refused),
        })
        .await
    }
}

/// An optional extractor's answer to a signed-out request: `None`, unless a
/// page goes through Clerk's handshake first.
fn anonymous<T>(refused: AuthRejection) -> Result<Option<T>, AuthRejection> {
    if refused.redirect_location().is_some() {
        Err(refused)
    } else {
        Ok(None)
    }
}

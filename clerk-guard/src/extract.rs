//! axum extractors: `ClerkAuth`, `Option<ClerkAuth>`, `Guard<R>`, `OptionalGuard`.
//!
//! Every extractor shares one verification per request: the outcome is stored
//! in the request extensions, so a guard plus `auth: ClerkAuth` (or a layer
//! plus either) verifies once.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;

use crate::claims::ClerkAuth;
use crate::rejection::{AuthRejection, Reason};
use crate::require::Requirement;
use crate::verify::{global, ClerkVerifier};

/// What verification concluded for this request (kept in its extensions).
#[derive(Debug, Clone)]
pub(crate) enum AuthOutcome {
    SignedIn(ClerkAuth),
    SignedOut(AuthRejection),
}

/// The router's own verifier (an `Extension<ClerkVerifier>` or a
/// [`ClerkLayer`](crate::ClerkLayer)), else the global one.
fn verifier_for(parts: &Parts) -> Result<ClerkVerifier, AuthRejection> {
    if let Some(verifier) = parts.extensions.get::<ClerkVerifier>() {
        return Ok(verifier.clone());
    }
    global().cloned().map_err(|_| {
        AuthRejection::with_detail(
            Reason::ConfigurationInvalid,
            "the global verifier could not be configured from the environment",
        )
    })
}

/// Verifies the request once and records the outcome. `Err` only when keys
/// or configuration are unavailable (503): that is never "signed out".
pub(crate) async fn outcome(parts: &mut Parts) -> Result<AuthOutcome, AuthRejection> {
    if let Some(outcome) = parts.extensions.get::<AuthOutcome>() {
        return Ok(outcome.clone());
    }
    let verifier = verifier_for(parts)?;
    let outcome = match verifier.authenticate(&parts.headers).await {
        Ok(auth) => AuthOutcome::SignedIn(auth),
        Err(rejection) if rejection.reason().is_unavailable() => {
            tracing::warn!(
                reason = rejection.reason().code(),
                detail = rejection.detail(),
                "authentication unavailable"
            );
            return Err(rejection);
        }
        Err(rejection) => {
            tracing::debug!(
                reason = rejection.reason().code(),
                detail = rejection.detail(),
                "request not authenticated"
            );
            AuthOutcome::SignedOut(rejection)
        }
    };
    if let AuthOutcome::SignedIn(auth) = &outcome {
        parts.extensions.insert(auth.clone());
    }
    parts.extensions.insert(outcome.clone());
    Ok(outcome)
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
        match outcome(parts).await? {
            AuthOutcome::SignedIn(auth) => Ok(auth),
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
        match outcome(parts).await? {
            AuthOutcome::SignedIn(auth) => Ok(Some(auth)),
            AuthOutcome::SignedOut(_) => Ok(None),
        }
    }
}

/// An extractor that admits the request only when the user is signed in and
/// meets `R`; what `#[clerk_protected(...)]` puts first in a handler.
///
/// Rejects with 401 (no or bad token), 403 (`R` not met) or 503.
///
/// ```
/// use clerk_guard::{ClerkAuth, Guard, SignedIn};
///
/// // What `#[clerk_protected] async fn me(auth: ClerkAuth)` becomes:
/// async fn me(_guard: Guard<SignedIn>, auth: ClerkAuth) -> String {
///     auth.user_id().to_owned()
/// }
/// ```
pub struct Guard<R>(PhantomData<fn() -> R>);

impl<R> std::fmt::Debug for Guard<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Guard")
    }
}

impl<S: Send + Sync, R: Requirement> FromRequestParts<S> for Guard<R> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = <ClerkAuth as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        R::check(&auth).map_err(|reason| {
            tracing::debug!(
                reason = reason.code(),
                user = auth.user_id(),
                "requirement not met"
            );
            let rejection = AuthRejection::new(reason);
            match verifier_for(parts) {
                Ok(verifier) => verifier.rejection(rejection),
                Err(_) => rejection,
            }
        })?;
        Ok(Guard(PhantomData))
    }
}

/// An extractor that verifies a token if one is sent and never rejects except
/// with 503 (keys unavailable); what `#[clerk_protected(optional)]` puts first.
///
/// ```
/// use clerk_guard::{ClerkAuth, OptionalGuard};
///
/// async fn feed(_guard: OptionalGuard, auth: Option<ClerkAuth>) -> &'static str {
///     if auth.is_some() { "yours" } else { "public" }
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct OptionalGuard;

impl<S: Send + Sync> FromRequestParts<S> for OptionalGuard {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        outcome(parts).await?;
        Ok(OptionalGuard)
    }
}

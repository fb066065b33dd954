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
use crate::verify::{global, ClerkVerifier, VerifierId};

/// What verification concluded for this request.
#[derive(Debug, Clone)]
pub(crate) enum AuthOutcome {
    SignedIn(ClerkAuth),
    SignedOut(AuthRejection),
}

/// Every outcome of this request, each with the verifier that produced it
/// (kept in the request extensions). An outcome answers only for its own
/// verifier: an extractor or layer with another verifier verifies again, so
/// one Clerk instance's token never passes for another's.
#[derive(Debug, Clone)]
struct AuthOutcomes(Vec<(VerifierId, AuthOutcome)>);

/// Left by a [`ClerkLayer`](crate::ClerkLayer) that had no verifier of its
/// own and none in scope, so used the global one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerUsedGlobal(pub(crate) VerifierId);

/// The router's own verifier (an `Extension<ClerkVerifier>` or a
/// [`ClerkLayer`](crate::ClerkLayer)'s), else the global one.
pub(crate) fn verifier_for(parts: &Parts) -> Result<ClerkVerifier, AuthRejection> {
    if let Some(verifier) = parts.extensions.get::<ClerkVerifier>() {
        warn_if_misordered(parts, verifier);
        return Ok(verifier.clone());
    }
    global().cloned().map_err(|_| {
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
pub(crate) async fn outcome_with(
    parts: &mut Parts,
    verifier: &ClerkVerifier,
) -> Result<AuthOutcome, AuthRejection> {
    let id = verifier.id();
    if let Some(outcomes) = parts.extensions.get::<AuthOutcomes>() {
        if let Some((_, outcome)) = outcomes.0.iter().find(|(by, _)| *by == id) {
            return Ok(outcome.clone());
        }
    }
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
    // `Extension<ClerkAuth>` always holds the innermost verifier's verdict.
    match &outcome {
        AuthOutcome::SignedIn(auth) => {
            parts.extensions.insert(auth.clone());
        }
        AuthOutcome::SignedOut(_) => {
            parts.extensions.remove::<ClerkAuth>();
        }
    }
    match parts.extensions.get_mut::<AuthOutcomes>() {
        Some(outcomes) => outcomes.0.push((id, outcome.clone())),
        None => {
            parts
                .extensions
                .insert(AuthOutcomes(vec![(id, outcome.clone())]));
        }
    }
    Ok(outcome)
}

/// [`outcome_with`] the verifier in scope.
pub(crate) async fn outcome(parts: &mut Parts) -> Result<AuthOutcome, AuthRejection> {
    let verifier = verifier_for(parts)?;
    outcome_with(parts, &verifier).await
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
        R::verdict(&auth).map_err(|rejection| {
            tracing::debug!(
                reason = rejection.reason().code(),
                user = auth.user_id(),
                "requirement not met"
            );
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

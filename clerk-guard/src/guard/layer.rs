//! A tower layer that authenticates every request of a router.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::outcome::{
    note_layer_in_use, outcome_with, verifier_for, AuthOutcome, LayerUsedGlobal, Place,
};
use crate::token::Accepts;
use crate::verify::ClerkVerifier;

/// Protects a whole router: verifies each request once, stores the
/// [`ClerkAuth`](crate::ClerkAuth) in the request extensions, and rejects
/// (required mode) or passes the request on unauthenticated (optional mode).
///
/// Handlers behind it read the claims with `auth: ClerkAuth`,
/// `Option<ClerkAuth>` or `Extension<ClerkAuth>`; `#[clerk_protected]`
/// handlers behind it reuse its verification. With
/// [`with_verifier`](Self::with_verifier) the layer also carries its own
/// verifier, which every extractor behind it uses instead of the global one.
///
/// Which verifier a layer uses: its own ([`with_verifier`](Self::with_verifier)),
/// else one placed *outside* it (`.layer(ClerkLayer::required()).layer(Extension(v))`),
/// else the global one. An `Extension(v)` added *before* the layer sits inside
/// it and is not seen by it; extractors behind it still verify with `v`, and
/// the misplacement is logged as an error. Each verifier verifies a request at
/// most once, and a layer never trusts another verifier's outcome.
///
/// ```no_run
/// use axum::{routing::get, Extension, Router};
/// use clerk_guard::{ClerkAuth, ClerkLayer};
///
/// async fn me(Extension(auth): Extension<ClerkAuth>) -> String {
///     auth.user_id().to_owned()
/// }
///
/// let app: Router = Router::new()
///     .route("/me", get(me))
///     .layer(ClerkLayer::required());
/// ```
#[derive(Debug, Clone)]
pub struct ClerkLayer {
    verifier: Option<ClerkVerifier>,
    optional: bool,
    accepts: Accepts,
}

impl ClerkLayer {
    /// Every request must carry a valid token (401/503 otherwise).
    ///
    /// ```
    /// let layer = clerk_guard::ClerkLayer::required();
    /// ```
    pub fn required() -> Self {
        Self {
            verifier: None,
            optional: false,
            accepts: Accepts::SESSION,
        }
    }

    /// Requests without a valid token pass through unauthenticated; a valid
    /// token's claims are stored. Only 503 (keys unavailable) is answered here.
    ///
    /// ```
    /// let layer = clerk_guard::ClerkLayer::optional();
    /// ```
    pub fn optional() -> Self {
        Self {
            verifier: None,
            optional: true,
            accepts: Accepts::SESSION,
        }
    }

    /// Uses `verifier` for this router instead of the global verifier.
    ///
    /// ```no_run
    /// # let verifier: clerk_guard::ClerkVerifier = todo!();
    /// let layer = clerk_guard::ClerkLayer::required().with_verifier(verifier);
    /// ```
    pub fn with_verifier(mut self, verifier: ClerkVerifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// The kinds of token the layer accepts (Clerk's `acceptsToken`).
    /// Default: session tokens only. Handlers behind it read the caller with
    /// the [`Principal`](crate::Principal) extractor (or `Extension<Principal>`).
    ///
    /// ```no_run
    /// use axum::{routing::post, Router};
    /// use clerk_guard::{Accepts, ClerkLayer, Principal, TokenKind};
    ///
    /// async fn ingest(caller: Principal) -> String {
    ///     caller.subject().to_owned()
    /// }
    ///
    /// let app: Router = Router::new()
    ///     .route("/ingest", post(ingest))
    ///     .layer(ClerkLayer::required().accepts(Accepts::M2M.with(TokenKind::ApiKey)));
    /// ```
    pub fn accepts(mut self, accepts: Accepts) -> Self {
        self.accepts = accepts;
        self
    }
}

impl<S> Layer<S> for ClerkLayer {
    type Service = ClerkService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        note_layer_in_use();
        ClerkService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`ClerkLayer`].
///
/// ```no_run
/// use axum::{routing::get, Router};
/// let app: Router = Router::new().route("/", get(|| async { "hi" })).layer(clerk_guard::ClerkLayer::required());
/// ```
#[derive(Debug, Clone)]
pub struct ClerkService<S> {
    inner: S,
    layer: ClerkLayer,
}

impl<S> Service<Request> for ClerkService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone that was driven to readiness serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let verifier = match layer.verifier {
                Some(verifier) => {
                    // Extractors behind the layer use its verifier too.
                    parts.extensions.insert(verifier.clone());
                    verifier
                }
                None => match verifier_for(&parts) {
                    Ok(verifier) => {
                        if parts.extensions.get::<ClerkVerifier>().is_none() {
                            parts.extensions.insert(LayerUsedGlobal(verifier.id()));
                        }
                        verifier.into_owned()
                    }
                    Err(unavailable) => {
                        tracing::error!(
                            detail = unavailable.detail(),
                            "ClerkLayer has no verifier"
                        );
                        return Ok(unavailable.into_response());
                    }
                },
            };
            let outcome = outcome_with(&mut parts, &verifier, layer.accepts, Place::Among).await;
            let admitted = outcome.and_then(|outcome| match outcome {
                AuthOutcome::SignedOut(rejection) if !layer.optional => Err(rejection),
                _ => Ok(()),
            });
            if let Err(refused) = verifier.render(admitted) {
                return Ok(refused.into_response());
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

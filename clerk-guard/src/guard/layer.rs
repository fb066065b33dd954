//! A tower layer that authenticates every request of a router.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc;

use axum::http::{Request, Response};
use axum::response::IntoResponse;
use tower_layer::Layer;
use tower_service::Service;

use super::body::{convert, RefusalBody};
use super::outcome::{
    answer, note_layer_in_use, outcome_ready, outcome_settled, verifier_for, AuthOutcome,
    LayerUsedGlobal, Place,
};
use crate::auth::Principal;
use crate::rejection::{AuthRejection, Protocol};
use crate::require::Requirement;
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
///
/// It serves any tower service over `http::Request<B>` whose response body
/// is a [`RefusalBody`] (axum's, tonic's with the `tonic` feature, hyper's
/// usual ones): a request that passes reaches the service as it came. A
/// gRPC request (`content-type: application/grpc…`) is refused the gRPC way
/// (HTTP 200, `grpc-status` 16, 7 or 14, the reason as `grpc-message`).
#[derive(Debug, Clone)]
pub struct ClerkLayer {
    verifier: Option<ClerkVerifier>,
    optional: bool,
    accepts: Accepts,
    sign_in_redirect: bool,
    /// `None` without requirements: no reference count per request.
    requirements: Option<Arc<[PathRequirement]>>,
}

/// A requirement on the requests whose path is `path` (every request when
/// `None`; a prefix when it ends with `/`).
#[derive(Debug, Clone)]
struct PathRequirement {
    path: Option<String>,
    verdict: fn(&Principal) -> Result<(), AuthRejection>,
}

impl PathRequirement {
    fn applies_to(&self, path: &str) -> bool {
        match &self.path {
            None => true,
            Some(prefix) if prefix.ends_with('/') => path.starts_with(prefix.as_str()),
            Some(exact) => path == exact,
        }
    }
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
            sign_in_redirect: false,
            requirements: None,
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
            sign_in_redirect: false,
            requirements: None,
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

    /// A browser's page refused as signed out is sent to the sign-in page
    /// (`ClerkConfigBuilder::sign_in_url`, else the Account Portal) with
    /// `redirect_url` the page, as Clerk's `auth.protect()` does; API
    /// requests still get 401.
    ///
    /// ```
    /// let layer = clerk_guard::ClerkLayer::required().sign_in_redirect();
    /// ```
    pub fn sign_in_redirect(mut self) -> Self {
        self.sign_in_redirect = true;
        self
    }

    /// Every request must meet `R` (403 otherwise, or gRPC's 7
    /// `PERMISSION_DENIED`), as `Guard<R>` does for one handler: a whole
    /// router or gRPC service declares its roles, permissions, scopes,
    /// features, plans or reverification once. On an optional layer a
    /// request it applies to must be signed in.
    ///
    /// ```
    /// use clerk_guard::{ClerkAuth, ClerkLayer, Reason, Requirement};
    ///
    /// struct Admin;
    /// impl Requirement for Admin {
    ///     fn check(auth: &ClerkAuth) -> Result<(), Reason> {
    ///         auth.has_role("admin").then_some(()).ok_or(Reason::MissingRole)
    ///     }
    /// }
    /// let layer = ClerkLayer::required().require::<Admin>();
    /// ```
    pub fn require<R: Requirement>(self) -> Self {
        self.with_requirement(None, R::verdict_for)
    }

    /// Requests to `path` must meet `R`: a gRPC method
    /// (`/package.Service/Method`), or every method of a service with a
    /// path ending in `/` (`/package.Service/`); for HTTP, an exact path.
    ///
    /// ```
    /// # use clerk_guard::{ClerkAuth, ClerkLayer, Reason, Requirement};
    /// # struct Admin;
    /// # impl Requirement for Admin {
    /// #     fn check(auth: &ClerkAuth) -> Result<(), Reason> { Err(Reason::MissingRole) }
    /// # }
    /// let layer = ClerkLayer::required().require_for::<Admin>("/clerkguard.demo.v1.Demo/Admin");
    /// ```
    pub fn require_for<R: Requirement>(self, path: impl Into<String>) -> Self {
        self.with_requirement(Some(path.into()), R::verdict_for)
    }

    fn with_requirement(
        mut self,
        path: Option<String>,
        verdict: fn(&Principal) -> Result<(), AuthRejection>,
    ) -> Self {
        let mut requirements = self.requirements.as_deref().unwrap_or_default().to_vec();
        requirements.push(PathRequirement { path, verdict });
        self.requirements = Some(requirements.into());
        self
    }

    /// The verdict of every requirement that applies to `path`.
    fn requirements_met(&self, path: &str, principal: &Principal) -> Result<(), AuthRejection> {
        self.requirements
            .iter()
            .flat_map(|requirements| requirements.iter())
            .filter(|requirement| requirement.applies_to(path))
            .try_for_each(|requirement| (requirement.verdict)(principal))
    }

    fn requires_sign_in(&self, path: &str) -> bool {
        !self.optional
            || self
                .requirements
                .iter()
                .flat_map(|requirements| requirements.iter())
                .any(|r| r.applies_to(path))
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

impl<S, B, R> Service<Request<B>> for ClerkService<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: RefusalBody + Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was driven to readiness serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let mut layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let verifier = match layer.verifier.take() {
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
                        let refused = unavailable.in_protocol(Protocol::of(&parts.headers));
                        return Ok(convert(refused.into_response()).await);
                    }
                },
            };
            let settled = match outcome_ready(&mut parts, &verifier, layer.accepts, Place::Among) {
                Some(ready) => ready.map(|outcome| (outcome, None)),
                None => {
                    Box::pin(outcome_settled(
                        &mut parts,
                        &verifier,
                        layer.accepts,
                        Place::Among,
                    ))
                    .await
                }
            };
            // Cookies the answer sets, whatever it is (Clerk's directives).
            let mut cookies = Vec::new();
            let path = parts.uri.path();
            let admitted = settled.and_then(|(outcome, effects)| match outcome {
                // A handshake, optional or not: the page goes through it.
                AuthOutcome::SignedOut(rejection)
                    if layer.requires_sign_in(path) || rejection.redirect_location().is_some() =>
                {
                    Err(rejection)
                }
                AuthOutcome::SignedOut(rejection) => {
                    cookies = rejection.page_cookies().to_vec();
                    Ok(None)
                }
                AuthOutcome::SignedIn(principal) => {
                    layer.requirements_met(path, &principal).map(|()| effects)
                }
            });
            let effects = match answer(&verifier, &parts, admitted, layer.sign_in_redirect) {
                Ok(effects) => effects,
                Err(refused) => return Ok(convert(refused.into_response()).await),
            };
            if let Some(effects) = effects {
                // In development Clerk sends the browser to the clean URL.
                if effects.location.is_some() {
                    let to_page = AuthRejection::with_detail(
                        crate::rejection::Reason::TokenExpired,
                        "the session was settled anew: the page again, with its cookies",
                    )
                    .for_page(effects);
                    return Ok(convert(to_page.into_response()).await);
                }
                // The service behind sees the request as the browser will
                // send it next: with the new session cookies first.
                with_cookies_first(&mut parts.headers, &effects.cookies);
                cookies.extend(effects.cookies);
            }
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            for cookie in cookies {
                response
                    .headers_mut()
                    .append(axum::http::header::SET_COOKIE, cookie);
            }
            Ok(response)
        })
    }
}

/// Puts the `name=value` of each `Set-Cookie` in `set` in front of the
/// request's cookies (the first of a name wins when they are read).
fn with_cookies_first(headers: &mut axum::http::HeaderMap, set: &[axum::http::HeaderValue]) {
    let mut pairs: Vec<String> = set
        .iter()
        .filter_map(|cookie| cookie.to_str().ok())
        .filter_map(|cookie| cookie.split(';').next())
        .map(str::to_owned)
        .collect();
    for value in headers.get_all(axum::http::header::COOKIE) {
        if let Ok(value) = value.to_str() {
            pairs.push(value.to_owned());
        }
    }
    if let Ok(value) = axum::http::HeaderValue::try_from(pairs.join("; ")) {
        headers.insert(axum::http::header::COOKIE, value);
    }
}

//! Clerk's handshake: the redirect that sends a browser through the Frontend
//! API for fresh cookies, the counter that stops a loop of them, and the
//! resolution of a browser that comes back (a nonce, or a handshake token).

use axum::http::{HeaderValue, Method};
use serde::Deserialize;

use super::page::{without_params, PageRequest};
use crate::auth::ClerkAuth;
use crate::config::FrontendApi;
use crate::http::CallError;
use crate::rejection::{AuthRejection, PageAnswer, Reason};
use crate::token::cookie_names as names;
use crate::verify::ClerkVerifier;

/// The Backend API version the handshake asks for (`SUPPORTED_BAPI_VERSION`
/// of the `@clerk/backend` clerk-guard is tested against).
const SUPPORTED_BAPI_VERSION: &str = "2026-05-12";

/// Handshakes in a row after which the browser is signed out instead.
const REDIRECT_LOOP_LIMIT: u32 = 3;

/// What a handshake redirect needs to say.
pub(super) struct Handshake<'a> {
    pub(super) reason: &'a str,
    pub(super) suffixed_cookies: bool,
    /// The session token the request carried (`__session` in the URL).
    pub(super) session: Option<&'a str>,
    /// The development instance's dev-browser token.
    pub(super) dev_browser: Option<&'a str>,
    /// Handshakes already made in a row (`__clerk_redirect_count`).
    pub(super) redirect_count: u32,
}

/// `refused`, or, for a page, the handshake that may settle it
/// (`handleMaybeHandshakeStatus`): a 307 to the Frontend API's
/// `/v1/client/handshake`, never cached, counting the redirects in a row.
pub(super) fn handshake_or(
    refused: AuthRejection,
    request: &PageRequest<'_>,
    frontend: &FrontendApi,
    handshake: &Handshake<'_>,
) -> AuthRejection {
    if !request.is_page() {
        return refused;
    }
    let Some(location) = location(request, frontend, handshake) else {
        return refused;
    };
    if handshake.redirect_count == REDIRECT_LOOP_LIMIT {
        tracing::warn!(
            reason = handshake.reason,
            "Clerk: refreshing the session token resulted in a redirect loop; the \
             publishable and secret keys likely belong to different instances"
        );
        return refused;
    }
    let counter = format!(
        "{}={}; SameSite=Lax; HttpOnly; Max-Age=2",
        names::REDIRECT_COUNT,
        handshake.redirect_count + 1
    );
    refused.for_page(PageAnswer {
        location: Some(location),
        cookies: HeaderValue::try_from(counter).into_iter().collect(),
        page_request: true,
    })
}

/// `buildRedirectToHandshake`: Clerk's parameters, in Clerk's order.
fn location(
    request: &PageRequest<'_>,
    frontend: &FrontendApi,
    handshake: &Handshake<'_>,
) -> Option<HeaderValue> {
    let page = without_params(&request.url()?, &[names::DEV_BROWSER, "__dev_session"]);
    let base = url::Url::parse(&format!("{}/", frontend.url.trim_end_matches('/'))).ok()?;
    let mut url = base.join("v1/client/handshake").ok()?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("redirect_url", page.as_str())
            .append_pair("__clerk_api_version", SUPPORTED_BAPI_VERSION)
            .append_pair(
                "suffixed_cookies",
                if handshake.suffixed_cookies {
                    "true"
                } else {
                    "false"
                },
            )
            .append_pair("__clerk_hs_reason", handshake.reason)
            .append_pair("format", "nonce");
        if let Some(session) = handshake.session {
            query.append_pair(names::SESSION, session);
        }
        if let Some(dev_browser) = handshake.dev_browser.filter(|_| frontend.development) {
            query.append_pair(names::DEV_BROWSER, dev_browser);
        }
    }
    HeaderValue::try_from(url.as_str()).ok()
}

/// What resolving a handshake concluded.
pub(super) enum Resolved {
    /// Signed in with the new session, the directives to set as cookies.
    SignedIn(ClerkAuth, PageAnswer),
    /// Signed out (no session among the directives), with them.
    SignedOut(AuthRejection),
    /// Not resolved: go on as if the browser had not come back from one.
    Unsettled,
}

#[derive(Deserialize)]
struct HandshakePayload {
    #[serde(default)]
    directives: Vec<String>,
}

/// `resolveHandshake`: the cookie directives (from the Backend API by
/// nonce, or from a verified handshake token) become `Set-Cookie`s, and the
/// `__session` among them is verified. In development the browser is sent
/// back to the page without the handshake's parameters, as Clerk does.
pub(super) async fn resolve(
    verifier: &ClerkVerifier,
    frontend: &FrontendApi,
    request: &PageRequest<'_>,
    nonce: Option<&str>,
    token: Option<&str>,
) -> Result<Resolved, AuthRejection> {
    let directives = match (nonce, token) {
        (Some(nonce), _) => payload_by_nonce(verifier, nonce).await,
        (None, Some(token)) => match verifier.handshake_directives(token).await {
            Ok(directives) => directives,
            // A handshake token of another instance (on a shared domain) is
            // left for a new handshake in production; in development it is a
            // mistake (switched keys), and the browser is signed out.
            Err(refused) if frontend.development => {
                tracing::error!(
                    reason = refused.reason().code(),
                    "Clerk: the handshake token does not verify"
                );
                return Ok(Resolved::SignedOut(refused));
            }
            Err(refused) => {
                tracing::error!(
                    reason = refused.reason().code(),
                    "Clerk: unable to resolve the handshake"
                );
                return Ok(Resolved::Unsettled);
            }
        },
        (None, None) => return Ok(Resolved::Unsettled),
    };
    let mut answer = PageAnswer {
        page_request: request.is_page(),
        ..PageAnswer::default()
    };
    let mut session = String::new();
    for directive in &directives {
        if let Ok(value) = HeaderValue::try_from(directive.as_str()) {
            answer.cookies.push(value);
        }
        let pair = directive.split(';').next().unwrap_or_default();
        let mut parts = pair.split('=');
        if parts.next().unwrap_or_default().starts_with(names::SESSION) {
            session = parts.next().unwrap_or_default().to_owned();
        }
    }
    if frontend.development {
        if let Some(url) = request.url() {
            let clean = super::without_handshake_params(&url);
            answer.location = HeaderValue::try_from(clean.as_str()).ok();
        }
    }
    if session.is_empty() {
        let refused = AuthRejection::with_detail(
            Reason::TokenMissing,
            "the handshake brought no session token",
        );
        return Ok(Resolved::SignedOut(refused.for_page(answer)));
    }
    match verifier.session(&session).await {
        Ok(auth) => Ok(Resolved::SignedIn(auth, answer)),
        Err(unavailable) if unavailable.reason().is_unavailable() => Err(unavailable),
        Err(refused) => {
            tracing::error!(
                reason = refused.reason().code(),
                "Clerk: the session token of the handshake does not verify"
            );
            Ok(Resolved::Unsettled)
        }
    }
}

/// The directives the Backend API holds for `nonce` (none when it cannot
/// say: logged, as Clerk does).
async fn payload_by_nonce(verifier: &ClerkVerifier, nonce: &str) -> Vec<String> {
    let Some(api) = verifier.backend_api() else {
        tracing::error!("a handshake nonce came back, but no secret key (CLERK_SECRET_KEY) is configured to fetch its payload");
        return Vec::new();
    };
    let answer = api
        .call(
            Method::GET,
            "/v1/clients/handshake_payload",
            &[("nonce", nonce)],
            None,
        )
        .await;
    match answer.map(|body| serde_json::from_slice::<HandshakePayload>(&body)) {
        Ok(Ok(payload)) => payload.directives,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "Clerk: the handshake payload is not what the Backend API sends");
            Vec::new()
        }
        Err(CallError::Status(status, _)) => {
            tracing::error!(%status, "Clerk: the Backend API refused the handshake payload");
            Vec::new()
        }
        Err(CallError::Unreachable) => Vec::new(),
    }
}

//! Browsers' pages, as Clerk's middleware serves them: the session read from
//! its cookies, the handshake that refreshes an expired one through the
//! Frontend API, its resolution when the browser comes back, a refresh
//! with the `__refresh` cookie, and the sign-in redirect. The reference is
//! `authenticateRequest` of `@clerk/backend` (`tokens/request.ts`,
//! `handshake.ts`, `authenticateContext.ts`).

mod handshake;
mod page;
mod refresh;

use axum::http::HeaderValue;

pub(crate) use page::PageRequest;

use self::handshake::{handshake_or, resolve, Handshake, Resolved};
use crate::auth::ClerkAuth;
use crate::config::{FrontendApi, PageSettings};
use crate::rejection::{AuthRejection, PageAnswer, Reason};
use crate::token::{cookie_names as names, CookieScope, CookieStep, Cookies, SessionCookies};
use crate::util::now_seconds;
use crate::verify::ClerkVerifier;

/// What a browser's session came to.
#[derive(Debug)]
pub(crate) enum PageOutcome {
    /// Signed in; the cookies to set (a resolved handshake, a refresh) and,
    /// in development after a handshake, where to send the browser.
    SignedIn(ClerkAuth, PageAnswer),
    /// Signed out: the refusal, with its page answer (a handshake redirect,
    /// cookies to set).
    SignedOut(AuthRejection),
}

/// The session of a request without a bearer token, by its cookies, for an
/// instance whose publishable key is known (`frontend`): every step of
/// `authenticateRequestWithTokenInCookie` but the satellite-domain and
/// organization-sync ones. `Err` only when keys or the Backend API are
/// unavailable (503).
pub(crate) async fn authenticate(
    verifier: &ClerkVerifier,
    frontend: &FrontendApi,
    request: &PageRequest<'_>,
) -> Result<PageOutcome, AuthRejection> {
    let now = now_seconds();
    let jar = Cookies::parse(request.headers);
    let scope = CookieScope {
        suffix: &frontend.cookie_suffix,
        frontend_host: &frontend.host,
        development: frontend.development,
    };
    let cookies = SessionCookies::read(&jar, Some(scope), now);
    let nonce = request.query(names::HANDSHAKE_NONCE);
    let token = request.query(names::HANDSHAKE);
    let nonce = nonce.as_deref().or(cookies.handshake_nonce);
    let token = token.as_deref().or(cookies.handshake_token);
    if nonce.is_some() || token.is_some() {
        match resolve(verifier, frontend, request, nonce, token).await? {
            Resolved::SignedIn(auth, answer) => return Ok(PageOutcome::SignedIn(auth, answer)),
            Resolved::SignedOut(refused) => return Ok(PageOutcome::SignedOut(refused)),
            Resolved::Unsettled => {}
        }
    }
    let dev_browser_in_url = request.query(names::DEV_BROWSER);
    let settle = |refused: AuthRejection, reason: &str| {
        let handshake = Handshake {
            reason,
            suffixed_cookies: cookies.suffixed,
            session: cookies.session,
            dev_browser: dev_browser_in_url.as_deref().or(cookies.dev_browser),
            redirect_count: cookies.redirect_count,
        };
        PageOutcome::SignedOut(handshake_or(refused, request, frontend, &handshake))
    };
    let session = match cookies.step(frontend.development, dev_browser_in_url.is_some()) {
        CookieStep::SignedOut => {
            return Ok(PageOutcome::SignedOut(AuthRejection::new(
                Reason::TokenMissing,
            )))
        }
        CookieStep::Handshake(cause) => {
            let reason = cause.reason();
            return Ok(settle(AuthRejection::new(reason), reason.code()));
        }
        CookieStep::Verify(session) => session,
    };
    let refused = match verifier.session(session).await {
        Ok(auth) => return Ok(PageOutcome::SignedIn(auth, PageAnswer::default())),
        Err(unavailable) if unavailable.reason().is_unavailable() => return Err(unavailable),
        Err(refused) => refused,
    };
    // `handleSessionTokenError`: an expired session is refreshed when it
    // can be, else handed to a handshake, as are early ones.
    let refresh_error = match (refused.reason(), cookies.refresh) {
        (Reason::TokenExpired, Some(refresh_token)) if request.is_get() => {
            match refresh::refresh(verifier, request, session, refresh_token, cookies.suffixed)
                .await
            {
                Ok((auth, set)) => {
                    let answer = PageAnswer {
                        cookies: set,
                        page_request: request.is_page(),
                        location: None,
                    };
                    return Ok(PageOutcome::SignedIn(auth, answer));
                }
                Err(why) => Some(why),
            }
        }
        _ if !request.is_get() => Some("non-eligible-non-get".to_owned()),
        (_, None) => Some("non-eligible-no-refresh-cookie".to_owned()),
        _ => None,
    };
    let reason = match refused.reason() {
        Reason::TokenExpired => format!(
            "session-token-expired-refresh-{}",
            refresh_error.as_deref().unwrap_or("null")
        ),
        Reason::TokenNotActiveYet => "session-token-nbf".to_owned(),
        Reason::TokenIatInTheFuture => "session-token-iat-in-the-future".to_owned(),
        _ => return Ok(PageOutcome::SignedOut(refused)),
    };
    Ok(settle(refused, &reason))
}

/// `url` without the parameters a handshake brings back.
pub(crate) fn without_handshake_params(url: &url::Url) -> url::Url {
    page::without_params(
        url,
        &[
            names::HANDSHAKE,
            "__clerk_help",
            names::DEV_BROWSER,
            names::HANDSHAKE_NONCE,
        ],
    )
}

/// For a route that sends browsers to sign in: a page refused as signed out
/// (401) goes to the sign-in URL with `redirect_url` the page, as Clerk's
/// `redirectToSignIn()` builds it. Anything else is left as it is.
pub(crate) fn sign_in_redirect(
    mut refused: AuthRejection,
    request: &PageRequest<'_>,
    pages: &PageSettings,
) -> AuthRejection {
    if refused.redirect_location().is_some()
        || refused.reason().status().as_u16() != 401
        || !request.is_page()
    {
        return refused;
    }
    let (Some(sign_in), Some(page)) = (&pages.sign_in_url, request.url()) else {
        return refused;
    };
    let Ok(mut target) = page.join(sign_in) else {
        return refused;
    };
    target
        .query_pairs_mut()
        .append_pair("redirect_url", page.as_str());
    let cross_origin = (target.host_str(), target.port_or_known_default())
        != (page.host_str(), page.port_or_known_default());
    if let Some(frontend) = pages
        .frontend
        .as_ref()
        .filter(|f| f.development && cross_origin)
    {
        let jar = Cookies::parse(request.headers);
        let scope = CookieScope {
            suffix: &frontend.cookie_suffix,
            frontend_host: &frontend.host,
            development: true,
        };
        let cookies = SessionCookies::read(&jar, Some(scope), now_seconds());
        if let Some(dev_browser) = cookies.dev_browser {
            target
                .query_pairs_mut()
                .append_pair(names::DEV_BROWSER, dev_browser);
        }
    }
    if let Ok(location) = HeaderValue::try_from(target.as_str()) {
        let page = refused.page_mut();
        page.location = Some(location);
        page.page_request = true;
    }
    refused
}

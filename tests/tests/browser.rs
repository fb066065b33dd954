//! Browsers' pages against real routers and the testing kit's Frontend and
//! Backend API: the cookie rules on every path, suffixed cookies, the
//! handshake and its resolution, the refresh, sign-in redirects.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use clerk_guard::testing::TestIssuer;
use clerk_guard::{clerk_protected, ClerkAuth, ClerkConfigBuilder, ClerkLayer, ClerkVerifier};
use clerk_guard_tests::serve;

/// An answer, redirects not followed.
#[derive(Debug)]
struct Answer {
    status: u16,
    location: Option<String>,
    cookies: Vec<String>,
    text: String,
}

impl Answer {
    fn reason(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.text)
            .ok()
            .and_then(|v| v["reason"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The query parameters of the redirect.
    fn location_params(&self) -> Vec<(String, String)> {
        let location = url::Url::parse(self.location.as_deref().unwrap()).unwrap();
        location.query_pairs().into_owned().collect()
    }

    fn param(&self, name: &str) -> Option<String> {
        self.location_params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

const PAGE: [(&str, &str); 2] = [
    ("accept", "text/html,application/xhtml+xml"),
    ("sec-fetch-dest", "document"),
];
const API: [(&str, &str); 1] = [("accept", "application/json")];

async fn get_page(url: &str, cookie: &str, kind: &[(&str, &str)]) -> Answer {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.get(url);
    for (name, value) in kind {
        request = request.header(*name, *value);
    }
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let text = response.text().await.unwrap();
    Answer {
        status,
        location,
        cookies,
        text,
    }
}

#[clerk_protected]
async fn me(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

#[clerk_protected(sign_in_redirect)]
async fn dashboard(auth: ClerkAuth) -> String {
    format!("<h1>{}</h1>", auth.user_id())
}

#[clerk_protected(optional)]
async fn feed(auth: Option<ClerkAuth>) -> String {
    auth.map_or("public".into(), |a| a.user_id().to_owned())
}

async fn layered(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

/// A router whose routes take every path: the attribute, an optional route,
/// a sign-in redirect, and a layer.
fn app(verifier: ClerkVerifier) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/dashboard", get(dashboard))
        .route("/feed", get(feed))
        .nest(
            "/layered",
            Router::new()
                .route("/me", get(layered))
                .layer(ClerkLayer::required().with_verifier(verifier.clone())),
        )
        .layer(Extension(verifier))
}

async fn start(configure: impl FnOnce(&TestIssuer) -> ClerkConfigBuilder) -> (TestIssuer, String) {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(configure(&issuer).build().unwrap()).unwrap();
    let base = serve(app(verifier)).await;
    (issuer, base)
}

#[tokio::test]
async fn client_uat_decides_whether_a_session_cookie_counts_on_every_path() {
    // No publishable key: the plain cookies, Clerk's rules, no handshake.
    let (issuer, base) = start(|i| i.config()).await;
    let token = issuer.token().sign();
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cases = [
        (format!("__session={token}; __client_uat={iat}"), 200, ""),
        (format!("__session={token}; __client_uat=1"), 200, ""),
        (
            format!("__session={token}"),
            401,
            "session-token-but-no-client-uat",
        ),
        (
            format!("__session={token}; __client_uat=0"),
            401,
            "session-token-but-no-client-uat",
        ),
        (
            format!("__session={token}; __client_uat={}", iat + 100),
            401,
            "session-token-iat-before-client-uat",
        ),
        (
            format!("__client_uat={iat}"),
            401,
            "client-uat-but-no-session-token",
        ),
        (String::new(), 401, "token-missing"),
    ];
    for (cookie, status, reason) in &cases {
        for path in ["/me", "/layered/me", "/dashboard"] {
            let answer = get_page(&format!("{base}{path}"), cookie, &API).await;
            assert_eq!(answer.status, *status, "{path} {cookie}: {answer:?}");
            if *status == 401 {
                assert_eq!(answer.reason(), *reason, "{path} {cookie}");
            }
        }
        let answer = get_page(&format!("{base}/feed"), cookie, &API).await;
        let expected = if *status == 200 {
            "user_test"
        } else {
            "public"
        };
        assert_eq!(answer.text, expected, "{cookie}");
    }
    // The verifier's own method applies them too.
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("cookie", format!("__session={token}").parse().unwrap());
    let refused = verifier.authenticate(&headers).await.unwrap_err();
    assert_eq!(refused.reason().code(), "session-token-but-no-client-uat");
}

#[tokio::test]
async fn suffixed_cookies_are_chosen_as_clerk_chooses_them() {
    let (issuer, base) = start(|i| i.browser_config()).await;
    let other = TestIssuer::start().await.unwrap();
    let ours = issuer.token().subject("user_ours").sign();
    let theirs = other.token().subject("user_theirs").sign();
    let suffix = cookie_suffix(&issuer.publishable_key());
    // Another app's plain cookies on the same host (localhost): ours are
    // the suffixed ones.
    let cookie = format!(
        "__session={theirs}; __client_uat=1; __session_{suffix}={ours}; __client_uat_{suffix}=1"
    );
    let answer = get_page(&format!("{base}/me"), &cookie, &API).await;
    assert_eq!((answer.status, answer.text.as_str()), (200, "user_ours"));
    // Only plain cookies, of this instance: read.
    let cookie = format!("__session={ours}; __client_uat=1");
    assert_eq!(
        get_page(&format!("{base}/me"), &cookie, &API).await.status,
        200
    );
    // Suffixed says signed out (client_uat 0): signed out, whatever the plain session says.
    let cookie = format!("__session_{suffix}={ours}; __client_uat_{suffix}=0");
    let answer = get_page(&format!("{base}/me"), &cookie, &API).await;
    assert_eq!(answer.status, 401, "{answer:?}");
}

/// The cookie suffix of a publishable key, computed as `getCookieSuffix`
/// does: the first 8 characters of the URL-safe base64 of its SHA-1.
fn cookie_suffix(publishable_key: &str) -> String {
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        publishable_key.as_bytes(),
    );
    base64::engine::general_purpose::URL_SAFE.encode(digest.as_ref())[..8].to_owned()
}

#[tokio::test]
async fn an_expired_page_session_goes_through_the_handshake_and_an_api_call_does_not() {
    let (issuer, base) = start(|i| i.browser_config()).await;
    let expired = issuer.token().expired().sign();
    let cookie = format!("__session={expired}; __client_uat=1");
    // An API call: signed out.
    let answer = get_page(&format!("{base}/me"), &cookie, &API).await;
    assert_eq!(
        (answer.status, answer.reason().as_str()),
        (401, "token-expired")
    );
    assert!(answer.location.is_none());
    // A page: a 307 to the Frontend API's handshake, with Clerk's parameters.
    let answer = get_page(&format!("{base}/me?tab=1"), &cookie, &PAGE).await;
    assert_eq!(answer.status, 307, "{answer:?}");
    let location = answer.location.clone().unwrap();
    assert!(
        location.starts_with(&format!("{}/v1/client/handshake?", issuer.issuer())),
        "{location}"
    );
    assert_eq!(
        answer.param("redirect_url").unwrap(),
        format!("{base}/me?tab=1")
    );
    assert_eq!(answer.param("__clerk_api_version").unwrap(), "2026-05-12");
    assert_eq!(answer.param("suffixed_cookies").unwrap(), "false");
    assert_eq!(
        answer.param("__clerk_hs_reason").unwrap(),
        "session-token-expired-refresh-non-eligible-no-refresh-cookie"
    );
    assert_eq!(answer.param("format").unwrap(), "nonce");
    assert_eq!(answer.param("__session").unwrap(), expired);
    assert!(answer
        .cookies
        .iter()
        .any(|c| c.starts_with("__clerk_redirect_count=1;")));
    // The optional route and the layer hand over too.
    for path in ["/feed", "/layered/me"] {
        let answer = get_page(&format!("{base}{path}"), &cookie, &PAGE).await;
        assert_eq!(answer.status, 307, "{path}: {answer:?}");
    }
    // Three handshakes in a row: signed out instead.
    let looping = format!("{cookie}; __clerk_redirect_count=3");
    let answer = get_page(&format!("{base}/me"), &looping, &PAGE).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    // A form post is never redirected.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let posted = client
        .post(format!("{base}/me"))
        .header("cookie", &cookie)
        .header("sec-fetch-dest", "document")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 405, "the route takes GET only");
}

#[tokio::test]
async fn a_browser_coming_back_from_the_handshake_is_signed_in_with_fresh_cookies() {
    let (issuer, base) = start(|i| i.browser_config()).await;
    issuer.set_session_lifetime(Duration::from_secs(60));
    // The browser signed in on the hosted page, then its session expired.
    let signed_in = issuer.browser_signed_in("user_back", ["admin"]);
    let expired = issuer.token().subject("user_back").expired().sign();
    let stale: String = signed_in
        .split("; ")
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.starts_with("__session") => format!("{name}={expired}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    // The page: to the handshake (the refresh cookie is tried first and is
    // refused for this made-up expired token's session).
    let answer = get_page(&format!("{base}/me"), &stale, &PAGE).await;
    assert_eq!(answer.status, 307, "{answer:?}");
    let handshake = answer.location.unwrap();
    // The Frontend API answers with a nonce on the way back.
    let client_cookie = signed_in
        .split("; ")
        .find(|p| p.starts_with("__client="))
        .unwrap();
    let back = get_page(&handshake, client_cookie, &PAGE).await;
    assert_eq!(back.status, 303, "{back:?}");
    let back_to = back.location.unwrap();
    assert!(back_to.contains("__clerk_handshake_nonce="), "{back_to}");
    // The attribute: the page again, clean, with the new cookies.
    let resolved = get_page(&back_to, &stale, &PAGE).await;
    assert_eq!(resolved.status, 307, "{resolved:?}");
    assert_eq!(
        resolved.location.as_deref(),
        Some(format!("{base}/me").as_str())
    );
    assert!(resolved
        .cookies
        .iter()
        .any(|c| c.starts_with("__session=ey")));
    // Those cookies sign the browser in.
    let fresh: Vec<String> = resolved
        .cookies
        .iter()
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect();
    let answer = get_page(&format!("{base}/me"), &fresh.join("; "), &PAGE).await;
    assert_eq!((answer.status, answer.text.as_str()), (200, "user_back"));
    // The layer signs it in at once, setting the cookies on the response.
    let nonce = url::Url::parse(&back_to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "__clerk_handshake_nonce")
        .unwrap()
        .1
        .into_owned();
    let layered = format!("{base}/layered/me?__clerk_handshake_nonce={nonce}");
    let answer = get_page(&layered, &stale, &PAGE).await;
    assert_eq!((answer.status, answer.text.as_str()), (200, "user_back"));
    assert!(answer.cookies.iter().any(|c| c.starts_with("__session=ey")));
}

#[tokio::test]
async fn an_expired_session_is_refreshed_with_the_refresh_cookie() {
    let (issuer, base) = start(|i| i.browser_config().clock_skew(Duration::ZERO)).await;
    // Long enough that a busy machine still answers the first request, and
    // the refreshed token, inside it.
    issuer.set_session_lifetime(Duration::from_secs(3));
    let signed_in = issuer.browser_signed_in("user_refresh", Vec::<String>::new());
    assert_eq!(
        get_page(&format!("{base}/layered/me"), &signed_in, &API)
            .await
            .status,
        200
    );
    // Past the session's life (no clock skew allowed here).
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let answer = get_page(&format!("{base}/layered/me"), &signed_in, &API).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (200, "user_refresh"),
        "{answer:?}"
    );
    assert!(answer.cookies.iter().any(|c| c.starts_with("__session")));
    assert_eq!(issuer.refresh_count(), 1);
    assert_eq!(issuer.handshake_count(), 0);
}

#[tokio::test]
async fn a_signed_out_page_goes_to_sign_in_and_an_api_call_gets_401() {
    let (issuer, base) = start(|i| i.browser_config()).await;
    let answer = get_page(&format!("{base}/dashboard?x=1"), "", &PAGE).await;
    assert_eq!(answer.status, 307, "{answer:?}");
    let location = answer.location.clone().unwrap();
    assert!(location.starts_with(&issuer.sign_in_url()), "{location}");
    assert_eq!(
        answer.param("redirect_url").unwrap(),
        format!("{base}/dashboard?x=1")
    );
    let answer = get_page(&format!("{base}/dashboard"), "", &API).await;
    assert_eq!(
        (answer.status, answer.reason().as_str()),
        (401, "token-missing")
    );
    // A route without the setting answers a page 401.
    assert_eq!(get_page(&format!("{base}/me"), "", &PAGE).await.status, 401);
    // Signed in on the hosted page: the dashboard.
    let cookie = issuer.browser_signed_in("user_page", Vec::<String>::new());
    let answer = get_page(&format!("{base}/dashboard"), &cookie, &PAGE).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (200, "<h1>user_page</h1>")
    );
}

#[tokio::test]
async fn a_development_instance_needs_its_dev_browser_token() {
    let (issuer, base) = start(|i| {
        i.browser_config()
            .publishable_key(i.development_publishable_key())
    })
    .await;
    let token = issuer.token().sign();
    let cookie = format!("__session={token}; __client_uat=1");
    let answer = get_page(&format!("{base}/me"), &cookie, &API).await;
    assert_eq!(
        (answer.status, answer.reason().as_str()),
        (401, "dev-browser-missing")
    );
    let answer = get_page(&format!("{base}/me"), &cookie, &PAGE).await;
    assert_eq!(answer.status, 307);
    assert_eq!(
        answer.param("__clerk_hs_reason").unwrap(),
        "dev-browser-missing"
    );
    let with_dev_browser = format!("{cookie}; __clerk_db_jwt=dvb_1");
    assert_eq!(
        get_page(&format!("{base}/me"), &with_dev_browser, &API)
            .await
            .status,
        200
    );
}

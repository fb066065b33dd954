//! Browsers' requests sent to clerk-guard and to Clerk's own
//! `authenticateRequest` (`@clerk/backend`, pinned), for a production and a
//! development publishable key: cookie combinations (plain, suffixed, other
//! instances'), `__client_uat` values, page and API requests with fresh,
//! expired and early tokens, refresh attempts, handshake returns by nonce
//! and by token, redirect-loop counts. Every case must come to the same
//! state (signed in / signed out / handshake / redirect), the same
//! `Location` (its parameters in any order) and the same cookies set.
//!
//! clerk-guard answers through an optional `ClerkLayer` (the path that sets
//! cookies on the response, as Clerk's middleware does). Needs `node`, `npm`
//! and the npm registry, as the token differential suite does.
//! By hand: `cargo test -p clerk-guard-tests --test differential_browser -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::collections::BTreeMap;
use std::path::Path;

use axum::routing::any;
use axum::{Extension, Router};
use clerk_guard::testing::{TestIssuer, TEST_SECRET_KEY};
use clerk_guard::{ClerkAuth, ClerkLayer, ClerkVerifier};
use clerk_guard_tests::serve;
use serde_json::json;

/// One request to judge.
#[derive(Debug, Clone)]
struct Case {
    id: String,
    /// `prod` or `dev`: which publishable key.
    instance: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
}

/// What a request came to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    /// `signed-in:<user>`, `signed-out`, `handshake`, or `redirect`.
    state: String,
    /// Scheme, host and path of the `Location`, and its parameters sorted.
    location: Option<(String, Vec<(String, String)>)>,
    cookies: Vec<String>,
}

fn location(value: Option<&str>) -> Option<(String, Vec<(String, String)>)> {
    let url = url::Url::parse(value?).ok()?;
    let mut params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    params.sort();
    let mut base = url.clone();
    base.set_query(None);
    Some((base.to_string(), params))
}

async fn state_page(auth: Option<Extension<ClerkAuth>>) -> String {
    match auth {
        Some(Extension(auth)) => format!("signed-in:{}", auth.user_id()),
        None => "signed-out".into(),
    }
}

const PAGE: [(&str, &str); 2] = [
    ("accept", "text/html,application/xhtml+xml"),
    ("sec-fetch-dest", "document"),
];
const API: [(&str, &str); 1] = [("accept", "application/json")];

struct Corpus {
    cases: Vec<Case>,
}

impl Corpus {
    fn add(
        &mut self,
        id: &str,
        method: &'static str,
        path: &str,
        kind: &[(&str, &str)],
        cookie: &str,
        dev_cookie: bool,
    ) {
        for instance in ["prod", "dev"] {
            let mut headers: Vec<(String, String)> = kind
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let mut cookie = cookie.to_owned();
            if instance == "dev" && dev_cookie {
                cookie = [cookie.as_str(), "__clerk_db_jwt=dvb_test"]
                    .iter()
                    .filter(|c| !c.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("; ");
            }
            if !cookie.is_empty() {
                headers.push(("cookie".into(), cookie));
            }
            self.cases.push(Case {
                id: format!("{instance}-{id}"),
                instance,
                method,
                path: path.to_owned(),
                headers,
            });
        }
    }

    /// A page and an API request with the same cookies.
    fn both(&mut self, id: &str, cookie: &str) {
        self.add(&format!("{id}-page"), "GET", "/p?x=1", &PAGE, cookie, true);
        self.add(&format!("{id}-api"), "GET", "/a", &API, cookie, true);
    }
}

fn suffix(publishable_key: &str) -> String {
    use base64::Engine as _;
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        publishable_key.as_bytes(),
    );
    base64::engine::general_purpose::URL_SAFE.encode(digest.as_ref())[..8].to_owned()
}

/// A nonce (or handshake token) the kit's Frontend API hands out for a
/// client signed in as `user` (`None`: signed out), with the query
/// parameter that carries it back.
async fn handshake_return(
    issuer: &TestIssuer,
    user: Option<&str>,
    format: &str,
) -> (String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.get(format!(
        "{}/v1/client/handshake?redirect_url=http%3A%2F%2Fapp.test%2F&format={format}",
        issuer.issuer()
    ));
    if let Some(user) = user {
        let cookies = issuer.browser_signed_in(user, Vec::<String>::new());
        let client_cookie = cookies
            .split("; ")
            .find(|c| c.starts_with("__client="))
            .unwrap()
            .to_owned();
        request = request.header("cookie", client_cookie);
    }
    let response = request.send().await.unwrap();
    let back = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    back.query_pairs()
        .find(|(k, _)| k.starts_with("__clerk_handshake"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .unwrap()
}

// Several threads: the kit's servers answer Clerk's calls while this test
// waits on node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_come_to_the_same_state_as_with_clerks_own_middleware() {
    let Some(dir) = clerk_guard_tests::differential::clerk_backend_or_skip(
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        "browser",
    ) else {
        return;
    };
    let issuer = TestIssuer::start().await.unwrap();
    let other = TestIssuer::start().await.unwrap();
    let keys = [
        ("prod", issuer.publishable_key()),
        ("dev", issuer.development_publishable_key()),
    ];
    let mut bases = BTreeMap::new();
    for (instance, key) in &keys {
        let config = issuer
            .browser_config()
            .publishable_key(key)
            .build()
            .unwrap();
        let verifier = ClerkVerifier::new(config).unwrap();
        let app = Router::new()
            .route("/p", any(state_page))
            .route("/a", any(state_page))
            .layer(ClerkLayer::optional().with_verifier(verifier));
        bases.insert(*instance, serve(app).await);
    }

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fresh = issuer.token().subject("user_fresh").sign();
    let expired = issuer.token().subject("user_old").expired().sign();
    let early = issuer.token().subject("user_early").not_yet_valid().sign();
    let theirs = other.token().subject("user_theirs").sign();
    let machine = issuer.m2m_token().sign();
    let mut corpus = Corpus { cases: Vec::new() };
    // Before every token's `iat` (the expired one was issued 5 minutes ago).
    let uat = now - 3600;
    corpus.both("no-cookies", "");
    corpus.both("fresh", &format!("__session={fresh}; __client_uat={uat}"));
    corpus.both("session-only", &format!("__session={fresh}"));
    corpus.both("uat-only", &format!("__client_uat={uat}"));
    corpus.both("uat-zero", &format!("__session={fresh}; __client_uat=0"));
    corpus.both(
        "uat-garbage",
        &format!("__session={fresh}; __client_uat=abc"),
    );
    corpus.both(
        "iat-before-uat",
        &format!("__session={fresh}; __client_uat={}", now + 100),
    );
    corpus.both(
        "expired",
        &format!("__session={expired}; __client_uat={uat}"),
    );
    corpus.both("early", &format!("__session={early}; __client_uat={uat}"));
    corpus.both(
        "machine",
        &format!("__session={machine}; __client_uat={uat}"),
    );
    corpus.both(
        "garbage",
        &format!("__session=not.a.jwt; __client_uat={uat}"),
    );
    for count in 1..=4 {
        corpus.add(
            &format!("expired-loop-{count}"),
            "GET",
            "/p",
            &PAGE,
            &format!("__session={expired}; __client_uat={uat}; __clerk_redirect_count={count}"),
            true,
        );
    }
    corpus.add(
        "expired-refresh",
        "GET",
        "/p",
        &PAGE,
        &format!(
            "__session={expired}; __client_uat={uat}; __refresh_{}=rt_madeup",
            suffix(&keys[0].1)
        ),
        true,
    );
    corpus.add(
        "expired-post",
        "POST",
        "/p",
        &PAGE,
        &format!("__session={expired}; __client_uat={uat}"),
        true,
    );
    corpus.add(
        "expired-accept-html",
        "GET",
        "/p",
        &[("accept", "text/html")],
        &format!("__session={expired}; __client_uat={uat}"),
        true,
    );
    corpus.add(
        "expired-iframe",
        "GET",
        "/p",
        &[("sec-fetch-dest", "iframe")],
        &format!("__session={expired}; __client_uat={uat}"),
        true,
    );
    corpus.add(
        "expired-fetch",
        "GET",
        "/p",
        &[("sec-fetch-dest", "empty"), ("accept", "text/html")],
        &format!("__session={expired}; __client_uat={uat}"),
        true,
    );
    // Suffixed cookies, for each instance's own suffix.
    for (instance, key) in &keys {
        let s = suffix(key);
        let mut add = |id: &str, cookie: String| {
            for (kind, headers) in [("page", &PAGE[..]), ("api", &API[..])] {
                let mut headers: Vec<(String, String)> = headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let cookie = if *instance == "dev" {
                    format!("{cookie}; __clerk_db_jwt_{s}=dvb_test")
                } else {
                    cookie.clone()
                };
                headers.push(("cookie".into(), cookie));
                corpus.cases.push(Case {
                    id: format!("{instance}-{id}-{kind}"),
                    instance,
                    method: "GET",
                    path: "/p".into(),
                    headers,
                });
            }
        };
        add(
            "suffixed-only",
            format!("__session_{s}={fresh}; __client_uat_{s}={uat}"),
        );
        add(
            "other-app-plain",
            format!("__session={theirs}; __client_uat={uat}; __session_{s}={fresh}; __client_uat_{s}={uat}"),
        );
        add(
            "suffixed-signed-out",
            format!("__session={fresh}; __client_uat={uat}; __session_{s}={expired}; __client_uat_{s}=0"),
        );
        add(
            "suffixed-expired-plain-fresh",
            format!("__session={fresh}; __client_uat={uat}; __session_{s}={expired}; __client_uat_{s}={uat}"),
        );
        add(
            "suffixed-without-uat",
            format!("__session={fresh}; __client_uat={uat}; __session_{s}={expired}"),
        );
    }
    // Handshake returns.
    for (id, user, format) in [
        ("nonce-signed-in", Some("user_back"), "nonce"),
        ("nonce-signed-out", None, "nonce"),
        ("token-signed-in", Some("user_back"), "token"),
    ] {
        let (param, value) = handshake_return(&issuer, user, format).await;
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(&param, &value)
            .finish();
        corpus.add(
            &format!("{id}-page"),
            "GET",
            &format!("/p?a=1&{query}"),
            &PAGE,
            &format!("__session={expired}; __client_uat={uat}"),
            true,
        );
        corpus.add(
            &format!("{id}-api"),
            "GET",
            &format!("/a?{query}"),
            &API,
            "",
            true,
        );
    }
    corpus.add(
        "nonce-unknown",
        "GET",
        "/p?__clerk_handshake_nonce=unknown",
        &PAGE,
        "",
        true,
    );
    // Development only in effect: the dev-browser token.
    corpus.add(
        "dev-browser-missing",
        "GET",
        "/p",
        &PAGE,
        &format!("__session={fresh}; __client_uat={uat}"),
        false,
    );
    corpus.add(
        "dev-browser-in-url",
        "GET",
        "/p?__clerk_db_jwt=dvb_url&x=1",
        &PAGE,
        &format!("__session={fresh}; __client_uat={uat}"),
        true,
    );
    let cases = corpus.cases;

    // Clerk's states.
    let input = json!({
        "apiUrl": issuer.api_url(),
        "secretKey": TEST_SECRET_KEY,
        "cases": cases.iter().map(|c| json!({
            "id": c.id,
            "url": format!("{}{}", bases[c.instance], c.path),
            "method": c.method,
            "headers": c.headers.iter().cloned().collect::<BTreeMap<_, _>>(),
            "publishableKey": if c.instance == "prod" { &keys[0].1 } else { &keys[1].1 },
            "proxyUrl": issuer.issuer(),
        })).collect::<Vec<_>>(),
    });
    let clerk: BTreeMap<String, (State, String)> =
        clerk_guard_tests::differential::run_script(&dir, "clerk_browser.mjs", &input)
            .into_iter()
            .map(|v| {
                let location = location(v["location"].as_str());
                let state = match v["status"].as_str().unwrap() {
                    "handshake" => "handshake".to_owned(),
                    _ if location.is_some() => "redirect".to_owned(),
                    "signed-in" => format!("signed-in:{}", v["subject"].as_str().unwrap_or("")),
                    "signed-out" => "signed-out".to_owned(),
                    other => format!("other:{other}"),
                };
                let mut cookies: Vec<String> = v["setCookie"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_owned())
                    .collect();
                cookies.sort();
                let reason = format!("{} {}", v["status"], v["reason"]);
                (
                    v["id"].as_str().unwrap().to_owned(),
                    (
                        State {
                            state,
                            location,
                            cookies,
                        },
                        reason,
                    ),
                )
            })
            .collect();

    // clerk-guard's.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let handshake_base = format!("{}/v1/client/handshake", issuer.issuer());
    let mut differences = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for case in &cases {
        let url = format!("{}{}", bases[case.instance], case.path);
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut request = client.request(method, &url);
        for (name, value) in &case.headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let location = location(
            response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok()),
        );
        let mut cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        cookies.sort();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        let state = match (&location, status) {
            (Some((base, _)), 307) if *base == handshake_base => "handshake".to_owned(),
            (Some(_), _) => "redirect".to_owned(),
            (None, 200) => body,
            (None, other) => format!("status:{other}"),
        };
        let ours = State {
            state,
            location,
            cookies,
        };
        let kind = ours.state.split(':').next().unwrap_or_default().to_owned();
        *tally.entry(kind).or_default() += 1;
        let (theirs, reason) = &clerk[&case.id];
        if ours != *theirs {
            differences.push(format!(
                "{}:\n  clerk-guard {ours:?}\n  Clerk       {theirs:?} ({reason})",
                case.id
            ));
        }
    }
    println!("{} browser cases compared: {tally:?}", cases.len());
    assert!(
        differences.is_empty(),
        "{} of {} cases differ:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}

//! The review's findings (issue 7), each broken on purpose with a real token
//! against real routers and a counting JWKS server on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Extension, Router};
use clerk_guard::testing::{JwksMode, TestIssuer, TestKey};
use clerk_guard::{
    clerk_protected, ClerkAuth, ClerkConfig, ClerkLayer, ClerkVerifier, ConfigError,
};
use clerk_guard_tests::{fetch, fetch_with, serve, TestApp};
use serde_json::json;

/// A verifier for `issuer` with the token cache off, so a second
/// verification would show as a second, distinct `ClerkAuth`.
fn uncached(issuer: &TestIssuer) -> ClerkVerifier {
    ClerkVerifier::new(issuer.config().token_cache_bytes(0).build().unwrap()).unwrap()
}

/// The user, and whether the extractor and the extension hold the very same
/// verification (one per verifier per request).
#[clerk_protected]
async fn who(auth: ClerkAuth, Extension(ext): Extension<ClerkAuth>) -> String {
    let once = auth.token().as_ptr() == ext.token().as_ptr();
    format!("{} once={once}", auth.user_id())
}

async fn who_from_extension(Extension(auth): Extension<ClerkAuth>) -> String {
    auth.user_id().to_owned()
}

async fn optional_who(auth: Option<ClerkAuth>) -> String {
    auth.map_or("anonymous".into(), |a| a.user_id().to_owned())
}

// 1. A verification outcome belongs to the verifier that produced it.

#[tokio::test]
async fn a_layer_of_instance_b_inside_an_app_layer_of_instance_a() {
    let a = TestIssuer::start().await.unwrap();
    let b = TestIssuer::start().await.unwrap();
    let b_routes = Router::new()
        .route("/who", get(who))
        .route("/ext", get(who_from_extension))
        .layer(ClerkLayer::required().with_verifier(uncached(&b)));
    let app = Router::new()
        .route("/public", get(optional_who))
        .nest("/b", b_routes)
        .layer(ClerkLayer::optional().with_verifier(uncached(&a)));
    let base = serve(app).await;
    let token_a = a.token().subject("user_a").sign();
    let token_b = b.token().subject("user_b").sign();
    // A's token is good for A's layer, and nothing for B's routes.
    assert_eq!(
        fetch(&format!("{base}/public"), Some(&token_a)).await.text,
        "user_a"
    );
    for path in ["/b/who", "/b/ext"] {
        let reply = fetch(&format!("{base}{path}"), Some(&token_a)).await;
        assert_eq!(
            (reply.status, reply.reason()),
            (401, "token-invalid-signature"),
            "{path}"
        );
    }
    // B's token passes B, verified once by B.
    let reply = fetch(&format!("{base}/b/who"), Some(&token_b)).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (200, "user_b once=true")
    );
    assert_eq!(
        fetch(&format!("{base}/b/ext"), Some(&token_b)).await.text,
        "user_b"
    );
    // ... and is anonymous to A.
    assert_eq!(
        fetch(&format!("{base}/public"), Some(&token_b)).await.text,
        "anonymous"
    );
}

/// The first verification of the request, taken right after the outermost
/// layer (held, so its memory cannot be reused by a second one).
#[derive(Clone)]
struct FirstVerification(ClerkAuth);

#[tokio::test]
async fn a_session_displaced_by_another_verifier_still_answers_its_own() {
    // A (optional) signs the request in; B (optional) then finds A's token
    // invalid, which clears `Extension<ClerkAuth>`; A (required) asks again
    // and must get its first verdict, not verify a second time.
    let a = TestIssuer::start().await.unwrap();
    let b = TestIssuer::start().await.unwrap();
    async fn first(
        ext: Option<Extension<ClerkAuth>>,
        mut request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        if let Some(Extension(auth)) = ext {
            request.extensions_mut().insert(FirstVerification(auth));
        }
        next.run(request).await
    }
    async fn again(
        Extension(auth): Extension<ClerkAuth>,
        Extension(first): Extension<FirstVerification>,
    ) -> String {
        let once = auth.token().as_ptr() == first.0.token().as_ptr();
        format!("{} once={once}", auth.user_id())
    }
    let verifier_a = uncached(&a);
    let app = Router::new()
        .route("/again", get(again))
        .layer(ClerkLayer::required().with_verifier(verifier_a.clone()))
        .layer(ClerkLayer::optional().with_verifier(uncached(&b)))
        .layer(axum::middleware::from_fn(first))
        .layer(ClerkLayer::optional().with_verifier(verifier_a));
    let base = serve(app).await;
    let token_a = a.token().subject("user_a").sign();
    let reply = fetch(&format!("{base}/again"), Some(&token_a)).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (200, "user_a once=true")
    );
}

#[tokio::test]
async fn a_clerk_auth_other_code_put_in_the_request_is_not_its_verdict() {
    // A middleware puts another user's verified session (same verifier) in
    // the extensions; the guard must still verify the request's own token.
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = uncached(&issuer);
    let stranger = verifier
        .verify(&issuer.token().subject("user_stranger").sign())
        .await
        .unwrap();
    let app = Router::new()
        .route("/who", get(who))
        .layer(axum::middleware::from_fn(
            move |mut request: axum::extract::Request, next: axum::middleware::Next| {
                request.extensions_mut().insert(stranger.clone());
                next.run(request)
            },
        ))
        .layer(Extension(verifier));
    let base = serve(app).await;
    let token = issuer.token().subject("user_own").sign();
    let reply = fetch(&format!("{base}/who"), Some(&token)).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (200, "user_own once=true")
    );
    // The same from the `__session` cookie, and a bearer of another scheme
    // is not taken for the cookie's token.
    let cookie = format!("__session={token}; __client_uat=1");
    for headers in [
        vec![("cookie", cookie.as_str())],
        vec![
            ("cookie", cookie.as_str()),
            ("authorization", "Basic dXNlcjpwYXNz"),
        ],
    ] {
        let reply = fetch_with(&format!("{base}/who"), &headers).await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (200, "user_own once=true"),
            "{headers:?}"
        );
    }
}

#[tokio::test]
async fn protected_handlers_under_an_extension_of_instance_b_inside_an_app_layer_of_a() {
    let a = TestIssuer::start().await.unwrap();
    let b = TestIssuer::start().await.unwrap();
    let b_routes = Router::new()
        .route("/who", get(who))
        .layer(Extension(uncached(&b)));
    let app = Router::new()
        .nest("/b", b_routes)
        .layer(ClerkLayer::optional().with_verifier(uncached(&a)));
    let base = serve(app).await;
    let token_a = a.token().subject("user_a").sign();
    let reply = fetch(&format!("{base}/b/who"), Some(&token_a)).await;
    assert_eq!(
        (reply.status, reply.reason()),
        (401, "token-invalid-signature")
    );
    let token_b = b.token().subject("user_b").sign();
    let reply = fetch(&format!("{base}/b/who"), Some(&token_b)).await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (200, "user_b once=true")
    );
}

#[tokio::test]
async fn an_app_layer_of_a_required_over_routes_of_b_needs_both() {
    // Outer A required, inner B required: each verifier judges its own layer.
    let a = TestIssuer::start().await.unwrap();
    let b = TestIssuer::start().await.unwrap();
    let app = Router::new()
        .route("/who", get(who))
        .layer(ClerkLayer::required().with_verifier(uncached(&b)))
        .layer(ClerkLayer::required().with_verifier(uncached(&a)));
    let base = serve(app).await;
    for token in [a.token().sign(), b.token().sign()] {
        assert_eq!(
            fetch(&format!("{base}/who"), Some(&token)).await.status,
            401
        );
    }
}

#[tokio::test]
async fn layer_order_extension_outside_the_layer_verifies_with_it() {
    let v = TestIssuer::start().await.unwrap();
    let other = TestIssuer::start().await.unwrap();
    // `.layer(ClerkLayer::required()).layer(Extension(v))`: the extension is
    // outside (added after), so the layer sees `v`.
    let app = Router::new()
        .route("/who", get(who))
        .route("/ext", get(who_from_extension))
        .layer(ClerkLayer::required())
        .layer(Extension(uncached(&v)));
    let base = serve(app).await;
    let reply = fetch(
        &format!("{base}/who"),
        Some(&v.token().subject("user_v").sign()),
    )
    .await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (200, "user_v once=true")
    );
    let reply = fetch(&format!("{base}/ext"), Some(&other.token().sign())).await;
    assert_eq!(
        (reply.status, reply.reason()),
        (401, "token-invalid-signature")
    );
}

#[tokio::test]
async fn layer_order_extension_inside_the_layer_is_refused_with_a_clear_error() {
    // `.layer(Extension(v)).layer(ClerkLayer::required())`: the layer runs
    // first and cannot see `v`. With no global verifier configured (this test
    // binary has no CLERK_* variables), it answers 503 configuration-invalid
    // instead of guessing: never a 200 for anyone's token.
    assert!(std::env::var("CLERK_JWKS_URL").is_err());
    let v = TestIssuer::start().await.unwrap();
    let app = Router::new()
        .route("/who", get(who))
        .route("/ext", get(who_from_extension))
        .layer(Extension(uncached(&v)))
        .layer(ClerkLayer::required());
    let base = serve(app).await;
    for path in ["/who", "/ext"] {
        let reply = fetch(&format!("{base}{path}"), Some(&v.token().sign())).await;
        assert_eq!(
            (reply.status, reply.reason()),
            (503, "configuration-invalid"),
            "{path}"
        );
    }
}

// 2. JWKS fetching is bounded while it fails, keys or no keys.

async fn flood_random_kids(app: &TestApp, for_how_long: Duration) -> Vec<u16> {
    let attacker = Arc::new(TestKey::generate("attacker"));
    let started = Instant::now();
    let mut statuses = Vec::new();
    let mut i = 0;
    while started.elapsed() < for_how_long {
        let calls: Vec<_> = (0..8)
            .map(|_| {
                i += 1;
                let token = app
                    .issuer
                    .token()
                    .signed_with(attacker.clone())
                    .header("kid", format!("random-{i}"))
                    .sign();
                let url = format!("{}/me", app.base);
                tokio::spawn(async move { fetch(&url, Some(&token)).await.status })
            })
            .collect();
        for call in calls {
            statuses.push(call.await.unwrap());
        }
    }
    statuses
}

#[tokio::test]
async fn a_failing_jwks_is_fetched_at_most_once_per_cooldown_without_keys() {
    let cooldown = Duration::from_secs(2);
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/jwks", listener.local_addr().unwrap())
    };
    let weak = json!({"keys": [{"kty": "RSA", "kid": "weak", "n": "w8PDw8PD", "e": "AQAB"}]});
    let modes = [
        Some(JwksMode::Status(500)),
        Some(JwksMode::Body("garbage".into())),
        Some(JwksMode::Body(weak.to_string())),
        None, // connection refused
    ];
    let runs = modes.into_iter().map(|mode| {
        let refused = refused.clone();
        async move {
            let app = TestApp::start_with(|c| {
                let c = c.unknown_kid_cooldown(cooldown);
                if mode.is_none() {
                    c.jwks_url(refused)
                } else {
                    c
                }
            })
            .await;
            if let Some(mode) = &mode {
                app.issuer.set_mode(mode.clone());
            }
            let statuses = flood_random_kids(&app, Duration::from_secs(3)).await;
            (mode, app.issuer.fetch_count(), statuses)
        }
    });
    let mut handles = Vec::new();
    for run in runs {
        handles.push(tokio::spawn(run));
    }
    for handle in handles {
        let (mode, fetches, statuses) = handle.await.unwrap();
        assert!(statuses.iter().all(|s| *s == 503), "{mode:?}: {statuses:?}");
        assert!(
            statuses.len() > 20,
            "{mode:?}: only {} requests",
            statuses.len()
        );
        // Counting server: 2 fetches in 3 s (at 0 and 2 s); refused: none reach it.
        if mode.is_some() {
            assert!((1..=3).contains(&fetches), "{mode:?}: {fetches} fetches");
        }
    }
}

#[tokio::test]
async fn a_failing_refresh_with_keys_in_hand_is_bounded_too() {
    let app = TestApp::start_with(|c| {
        c.jwks_ttl(Duration::from_millis(100))
            .unknown_kid_cooldown(Duration::from_secs(2))
    })
    .await;
    let good = app.issuer.token().sign();
    assert_eq!(app.get("/me", Some(&good)).await.status, 200);
    app.issuer.set_mode(JwksMode::Status(500));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let statuses = flood_random_kids(&app, Duration::from_secs(3)).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    // 1 good fetch, then at most one attempt per 2 s cooldown over 3 s.
    assert!(
        app.issuer.fetch_count() <= 1 + 3,
        "{} fetches",
        app.issuer.fetch_count()
    );
    assert_eq!(
        app.get("/me", Some(&good)).await.status,
        200,
        "stale keys still serve"
    );
}

// 3. Cancel-safe refresh.

#[tokio::test]
async fn a_dropped_request_keeps_the_cooldown_and_its_fetch_goes_on() {
    let app = TestApp::start_with(|c| {
        c.request_timeout(Duration::from_millis(1000))
            .unknown_kid_cooldown(Duration::from_secs(3))
    })
    .await;
    app.issuer.set_mode(JwksMode::Hang);
    let token = app.issuer.token().sign();
    // The client gives up mid-fetch: the server drops the request's future.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let gone = impatient
        .get(format!("{}/me", app.base))
        .bearer_auth(&token)
        .send()
        .await;
    assert!(gone.is_err(), "the client timed out");
    assert_eq!(app.issuer.fetch_count(), 1);
    // The next request joins the fetch still running (no second fetch) ...
    let reply = app.get("/me", Some(&token)).await;
    assert_eq!(
        (reply.status, reply.reason()),
        (503, "jwk-remote-failed-to-load")
    );
    // ... and within the cooldown nothing fetches again.
    let started = Instant::now();
    let reply = app.get("/me", Some(&token)).await;
    assert_eq!(reply.status, 503);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "answered at once"
    );
    assert_eq!(app.issuer.fetch_count(), 1);
}

#[test]
fn a_ttl_refresh_lost_with_its_runtime_does_not_block_later_refreshes() {
    // The issuer's server lives on its own runtime for the whole test.
    let server = tokio::runtime::Runtime::new().unwrap();
    let issuer = server.block_on(TestIssuer::start()).unwrap();
    let verifier = ClerkVerifier::new(
        issuer
            .config()
            .jwks_ttl(Duration::from_millis(300))
            .unknown_kid_cooldown(Duration::from_millis(200))
            .build()
            .unwrap(),
    )
    .unwrap();
    let token = issuer.token().sign();
    let verify_on_fresh_runtime = |linger: Duration| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let outcome = runtime.block_on(async {
            let outcome = verifier.verify(&token).await.map(|_| ());
            tokio::time::sleep(linger).await;
            outcome
        });
        // Dropping the runtime cancels whatever it still runs.
        drop(runtime);
        outcome
    };
    verify_on_fresh_runtime(Duration::ZERO).unwrap();
    assert_eq!(issuer.fetch_count(), 1);
    // Past the TTL, a request starts a background refresh that hangs; its
    // runtime goes away with the refresh in progress.
    issuer.set_delay(Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(350));
    verify_on_fresh_runtime(Duration::from_millis(200)).unwrap();
    assert_eq!(issuer.fetch_count(), 2, "the refresh had started");
    // Later requests still refresh: nothing stayed marked "in progress".
    issuer.set_delay(Duration::ZERO);
    std::thread::sleep(Duration::from_millis(300));
    let mut fetches = issuer.fetch_count();
    for _ in 0..20 {
        verify_on_fresh_runtime(Duration::from_millis(50)).unwrap();
        fetches = issuer.fetch_count();
        if fetches >= 3 {
            break;
        }
    }
    assert!(
        fetches >= 3,
        "the TTL refresh happened again: {fetches} fetches"
    );
    drop(issuer);
    drop(server);
}

// 4. No fail-open setting.

#[tokio::test]
async fn settings_that_would_fail_open_are_configuration_errors() {
    let issuer = TestIssuer::start().await.unwrap();
    let setting = |result: Result<ClerkConfig, ConfigError>| match result {
        Err(ConfigError::Invalid { setting, .. }) => setting,
        other => panic!("expected a configuration error, got {other:?}"),
    };
    let zero = Duration::ZERO;
    assert_eq!(setting(issuer.config().jwks_ttl(zero).build()), "jwks_ttl");
    assert_eq!(
        setting(issuer.config().unknown_kid_cooldown(zero).build()),
        "unknown_kid_cooldown"
    );
    assert_eq!(
        setting(issuer.config().connect_timeout(zero).build()),
        "connect_timeout"
    );
    assert_eq!(
        setting(issuer.config().request_timeout(zero).build()),
        "request_timeout"
    );
    assert_eq!(
        setting(issuer.config().max_jwks_bytes(0).build()),
        "max_jwks_bytes"
    );
    for parties in [
        vec!["https://a.example", ""],
        vec!["  "],
        vec![" https://a.example"],
    ] {
        assert_eq!(
            setting(issuer.config().authorized_parties(parties).build()),
            "authorized_parties"
        );
    }
    for env in [
        "https://a.example,",
        "https://a.example,,https://b.example",
        ",",
    ] {
        let vars = |name: &str| {
            let value = match name {
                "CLERK_JWKS_URL" => "https://clerk.example.com/.well-known/jwks.json",
                "CLERK_AUTHORIZED_PARTIES" => env,
                _ => return None,
            };
            Some(value.to_owned())
        };
        let result = ClerkConfig::builder_from_vars(vars).and_then(|b| b.build());
        assert_eq!(setting(result), "CLERK_AUTHORIZED_PARTIES", "{env:?}");
    }
    for url in [
        "http://clerk.example.com/.well-known/jwks.json",
        "http://10.0.0.1/jwks",
        "https://user:pass@clerk.example.com/jwks",
        "https://user@clerk.example.com/jwks",
    ] {
        assert_eq!(
            setting(issuer.config().jwks_url(url).build()),
            "CLERK_JWKS_URL",
            "{url}"
        );
    }
    assert_eq!(
        setting(
            ClerkConfig::builder()
                .secret_key("sk_test_x")
                .api_url("http://api.example.com")
                .build()
        ),
        "CLERK_API_URL"
    );
    for url in [
        "http://localhost:1/jwks",
        "http://127.0.0.1:1/jwks",
        "http://127.8.9.10/jwks",
        "http://[::1]:1/jwks",
        "https://clerk.example.com/jwks",
    ] {
        assert!(issuer.config().jwks_url(url).build().is_ok(), "{url}");
    }
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let app = TestApp::start_with(|c| c.jwks_header("x-proxy-key", "secret-for-clerk-only")).await;
    let elsewhere = TestIssuer::start().await.unwrap();
    // `localhost` and `127.0.0.1` are different origins, as are other ports.
    app.issuer
        .set_mode(JwksMode::Redirect(elsewhere.jwks_url()));
    let token = app.issuer.token().sign();
    let reply = app.get("/me", Some(&token)).await;
    assert_eq!(
        (reply.status, reply.reason()),
        (503, "jwk-remote-failed-to-load")
    );
    assert_eq!(
        elsewhere.fetch_count(),
        0,
        "nothing was sent to the other host"
    );
}

#[tokio::test]
async fn a_redirect_within_the_origin_is_followed() {
    let issuer = TestIssuer::start().await.unwrap();
    let jwks = issuer.jwks();
    let moved = Router::new()
        .route(
            "/old",
            get(|| async { axum::response::Redirect::temporary("/new") }),
        )
        .route("/new", get(move || async move { axum::Json(jwks) }));
    let jwks_base = serve(moved).await;
    let verifier = ClerkVerifier::new(
        issuer
            .config()
            .jwks_url(format!("{jwks_base}/old"))
            .build()
            .unwrap(),
    )
    .unwrap();
    let app = Router::new()
        .route("/who", get(who))
        .layer(Extension(verifier));
    let base = serve(app).await;
    let reply = fetch(
        &format!("{base}/who"),
        Some(&issuer.token().subject("user_r").sign()),
    )
    .await;
    assert_eq!(
        (reply.status, reply.text.as_str()),
        (200, "user_r once=true")
    );
}

// 6. Clerk's decoders, exactly (over HTTP; the decoder's unit tests cover more).

#[tokio::test]
async fn v2_lists_keep_their_positions_and_org_roles_are_normalised_once() {
    let app = TestApp::start().await;
    let v2 = |per: &str, fpm: &str, rol: &str| {
        app.issuer
            .token()
            .claim("fea", "o:billing,o:reports")
            .claim(
                "o",
                json!({"id": "org_1", "slg": "acme", "rol": rol, "per": per, "fpm": fpm}),
            )
            .sign()
    };
    // `manage` is bit 2 of `read,,manage`: mask 4 grants it, mask 2 grants nothing.
    assert_eq!(
        app.get("/billing", Some(&v2("read,,manage", "4", "member")))
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/billing", Some(&v2("read,,manage", "2", "member")))
            .await
            .status,
        403
    );
    // An empty first mask does not shift `reports`' mask onto `billing`.
    let reports_only = v2("manage,read", ",2", "member");
    assert_eq!(app.get("/billing", Some(&reports_only)).await.status, 403);
    // v2 `rol` is prefixed once: `org:admin` there is held as `org:org:admin`.
    assert_eq!(
        app.get("/org-admin", Some(&v2("", "", "admin")))
            .await
            .status,
        200
    );
    assert_eq!(
        app.get("/org-admin", Some(&v2("", "", "org:admin")))
            .await
            .status,
        403
    );
    let v1 = app
        .issuer
        .token()
        .claim("v", 1)
        .claim("org_id", "org_1")
        .claim("org_role", "org:org:admin")
        .sign();
    assert_eq!(app.get("/org-admin", Some(&v1)).await.status, 403);
}

// 7. Header parsing as documented.

#[tokio::test]
async fn an_authorization_header_that_is_not_ours_falls_back_to_the_cookie() {
    let app = TestApp::start().await;
    let token = app.issuer.token().subject("user_cookie").sign();
    let cookie = format!("__session={token}; __client_uat=1");
    let not_ascii = axum::http::HeaderValue::from_bytes(b"Bearer caf\xe9").unwrap();
    let reply = reqwest::Client::new()
        .get(format!("{}/me", app.base))
        .header("authorization", not_ascii)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    for other in ["Basic dXNlcjpwYXNz", "Token abc", "Bearerabc"] {
        let reply = fetch_with(
            &format!("{}/me", app.base),
            &[("authorization", other), ("cookie", &cookie)],
        )
        .await;
        assert_eq!(
            (reply.status, reply.body["sub"].as_str()),
            (200, Some("user_cookie")),
            "{other}"
        );
    }
}

// 8. Attribute edges: long values are matched exactly through the packed encoding.

const LONG_ROLE: &str = "rôle-très-long-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ-end";

#[clerk_protected(
    roles = "rôle-très-long-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ-end"
)]
async fn long_role() -> &'static str {
    "long"
}

#[tokio::test]
async fn a_long_role_matches_exactly() {
    assert!(LONG_ROLE.len() > 256);
    let issuer = TestIssuer::start().await.unwrap();
    let app = Router::new()
        .route("/long", get(long_role))
        .layer(Extension(uncached(&issuer)));
    let base = serve(app).await;
    let exact = issuer.token().roles([LONG_ROLE]).sign();
    assert_eq!(
        fetch(&format!("{base}/long"), Some(&exact)).await.status,
        200
    );
    let shorter = &LONG_ROLE[..LONG_ROLE.len() - 1];
    let longer = format!("{LONG_ROLE}x");
    let one_off = LONG_ROLE.replace("end", "enD");
    let first_chunk = &LONG_ROLE[..64];
    for near in [shorter, &longer, &one_off, first_chunk, ""] {
        let token = issuer.token().roles([near]).sign();
        assert_eq!(
            fetch(&format!("{base}/long"), Some(&token)).await.status,
            403,
            "{near}"
        );
    }
}

// A rotation picked up within the cooldown of an
// unknown-kid flood.

#[tokio::test]
async fn a_rotated_key_is_picked_up_on_its_second_request_during_a_kid_flood() {
    let app = TestApp::start_with(|c| c.unknown_kid_cooldown(Duration::from_secs(30))).await;
    assert_eq!(
        app.get("/me", Some(&app.issuer.token().sign()))
            .await
            .status,
        200
    );
    assert_eq!(app.issuer.fetch_count(), 1);
    // A flood of random kids within the cooldown: no fetch.
    let statuses = flood_random_kids(&app, Duration::from_millis(300)).await;
    assert!(statuses.iter().all(|s| *s == 401));
    assert_eq!(app.issuer.fetch_count(), 1);
    // The key rotates; its kid comes back on the next request, and that one fetches.
    app.issuer.rotate("ins_rotated");
    let token = app.issuer.token().subject("user_rotated").sign();
    let first = app.get("/me", Some(&token)).await;
    assert_eq!((first.status, first.reason()), (401, "jwk-kid-mismatch"));
    assert_eq!(app.get("/me", Some(&token)).await.status, 200);
    assert_eq!(app.issuer.fetch_count(), 2);
    // Still bounded: one extra fetch per cooldown, whatever comes back next.
    for i in 0..20 {
        let again = app
            .issuer
            .token()
            .header("kid", format!("again-{}", i % 2))
            .sign();
        app.get("/me", Some(&again)).await;
    }
    assert_eq!(app.issuer.fetch_count(), 2);
}

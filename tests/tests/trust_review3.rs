//! The third review's findings, each broken on purpose against real routers,
//! the testing kit's JWKS and its Backend API on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Extension, Json, Router};
use clerk_guard::testing::{JwksMode, TestIssuer, TEST_SECRET_KEY};
use clerk_guard::{
    clerk_protected, Accepts, ClerkAuth, ClerkConfig, ClerkLayer, ClerkVerifier, ConfigError,
    Principal, TokenKind,
};
use clerk_guard_tests::{fetch, serve, CapturedLogs, TestApp};
use serde_json::{json, Value};

// 1. Made-up opaque tokens never starve clients whose tokens were valid.

#[tokio::test]
async fn a_flood_of_made_up_api_keys_never_locks_out_real_clients() {
    const CAP: u32 = 5;
    // Three real keys re-checked once a second: within their own budget.
    let ttl = Duration::from_secs(1);
    let app = Arc::new(
        TestApp::start_with(|c| {
            c.machine_lookups_per_second(CAP)
                .machine_cache_ttl(ttl)
                .machine_not_found_ttl(ttl)
        })
        .await,
    );
    let real: Vec<String> = (0..3)
        .map(|_| app.issuer.opaque(TokenKind::ApiKey).mint())
        .collect();
    for token in &real {
        assert_eq!(app.get("/api-key", Some(token)).await.status, 200);
    }
    let calls_before = app.issuer.backend_api_calls();
    let started = Instant::now();
    let lasting = Duration::from_secs(4); // several cache lifetimes
    let sent = Arc::new(AtomicUsize::new(0));
    let flood: Vec<_> = (0..4)
        .map(|worker| {
            let (app, sent) = (Arc::clone(&app), Arc::clone(&sent));
            tokio::spawn(async move {
                let mut i = 0;
                while started.elapsed() < lasting {
                    i += 1;
                    let made_up = format!("ak_made{worker}up{i:024}");
                    let status = app.get("/api-key", Some(&made_up)).await.status;
                    assert!(matches!(status, 401 | 503), "made-up key: {status}");
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut real_requests = 0;
    while started.elapsed() < lasting {
        for token in &real {
            let reply = app.get("/api-key", Some(token)).await;
            assert_eq!(
                reply.status,
                200,
                "a real key after {:?}: {reply:?}",
                started.elapsed()
            );
            real_requests += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for worker in flood {
        worker.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64().ceil() as usize;
    let sent = sent.load(Ordering::Relaxed);
    assert!(
        sent >= 3 * CAP as usize * seconds,
        "the flood reached only {sent} requests in {seconds} s"
    );
    assert!(real_requests >= 3 * 3, "{real_requests} real requests");
    // Made-up keys reach the Backend API at most CAP times a second; a real
    // key is re-checked at most once per cache lifetime.
    let calls = app.issuer.backend_api_calls() - calls_before;
    let lifetimes = (lasting.as_millis() / ttl.as_millis()) as usize + 2;
    let bound = CAP as usize * (seconds + 1) + real.len() * lifetimes;
    assert!(calls <= bound, "{calls} Backend API calls, bound {bound}");
}

// 2. One reading of the payload: admitted only as a claim map.

async fn claims_seen(auth: ClerkAuth) -> Json<Value> {
    Json(json!({
        "claims": auth.claims().len(),
        "impersonated": auth.actor().is_some(),
        "banned": auth.claim("banned"),
    }))
}

#[tokio::test]
async fn a_payload_the_claim_map_cannot_read_is_refused_not_admitted_empty() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let base = serve(
        Router::new()
            .route("/claims", get(claims_seen))
            .layer(Extension(verifier)),
    )
    .await;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let payload = |extra: &str| {
        format!(
            r#"{{"sub":"user_1","exp":{exp},"iss":"{}","act":{{"sub":"user_admin"}},"banned":true{extra}}}"#,
            issuer.issuer()
        )
    };
    let deep = format!(r#","x":{}1{}"#, "[".repeat(130), "]".repeat(130));
    for (what, extra) in [
        ("a number beyond f64", r#","big":1e400"#.to_owned()),
        (
            "an integer of 400 digits",
            format!(r#","big":{}"#, "9".repeat(400)),
        ),
        ("nesting past 128", deep),
        ("a lone surrogate", r#","name":"\ud800""#.to_owned()),
        ("a registered claim twice", r#","sub":"user_2""#.to_owned()),
    ] {
        let token = issuer.token().raw_payload(payload(&extra)).sign();
        let reply = fetch(&format!("{base}/claims"), Some(&token)).await;
        assert_eq!(
            (reply.status, reply.reason()),
            (401, "token-invalid"),
            "{what}: {reply:?}"
        );
    }
    // The same payloads read as a map, and what the handler sees is what was checked.
    for extra in [
        r#","big":1e300"#,
        r#","name":"\ud83d\ude00""#,
        &format!(r#","x":{}1{}"#, "[".repeat(100), "]".repeat(100)),
    ] {
        let token = issuer.token().raw_payload(payload(extra)).sign();
        let reply = fetch(&format!("{base}/claims"), Some(&token)).await;
        assert_eq!(reply.status, 200, "{extra}: {reply:?}");
        assert_eq!(reply.body["impersonated"], true, "{extra}");
        assert_eq!(reply.body["banned"], true, "{extra}");
        assert_eq!(reply.body["claims"], 6, "{extra}");
    }
}

// 3. Keys removed from the JWKS expire while refreshes fail.

#[tokio::test]
async fn stale_keys_and_the_tokens_they_signed_expire_past_the_maximum_staleness() {
    let (ttl, staleness) = (Duration::from_secs(1), Duration::from_secs(2));
    let app = TestApp::start_with(|c| {
        c.jwks_ttl(ttl)
            .jwks_max_staleness(staleness)
            .unknown_kid_cooldown(Duration::from_millis(200))
    })
    .await;
    let cached = app.issuer.token().subject("user_cached").sign();
    let fetched = Instant::now();
    // Twice: the second verification puts it in the token cache.
    assert_eq!(app.get("/me", Some(&cached)).await.status, 200);
    assert_eq!(app.get("/me", Some(&cached)).await.status, 200);
    app.issuer.set_mode(JwksMode::Status(503));
    // Past the TTL, before the limit: the last good keys still serve.
    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    let fresh = app.issuer.token().subject("user_fresh").sign();
    let reply = app.get("/me", Some(&fresh)).await;
    if fetched.elapsed() < ttl + staleness {
        assert_eq!(reply.status, 200, "within the staleness: {reply:?}");
    }
    // Past it: neither a new token nor the cached one.
    let limit = ttl + staleness + Duration::from_millis(200);
    tokio::time::sleep(limit.saturating_sub(fetched.elapsed())).await;
    for token in [&fresh, &cached] {
        let reply = app.get("/me", Some(token)).await;
        assert_eq!(reply.status, 503, "{reply:?}");
        assert!(reply.retry_after.is_some());
    }
    // A successful fetch brings them back.
    app.issuer.set_mode(JwksMode::Serve);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.get("/me", Some(&cached)).await.status, 200);
}

// 4. Header fields of the wrong JSON type are refused, not read as absent.

#[tokio::test]
async fn header_fields_of_the_wrong_type_are_refused() {
    let app = TestApp::start().await;
    for (field, value) in [
        ("typ", Value::Null),
        ("cat", Value::Null),
        ("typ", json!(1)),
        ("cat", json!(["cl_B7d4PD111AAA"])),
        ("kid", Value::Null),
        ("alg", Value::Null),
    ] {
        let token = app.issuer.token().header(field, value.clone()).sign();
        let reply = app.get("/me", Some(&token)).await;
        assert_eq!(reply.status, 401, "{field}: {value}: {reply:?}");
    }
}

// 5. `Option<Principal>` on an optional route holds only a kind it accepts.

#[clerk_protected(optional)]
async fn sessions_only(caller: Option<Principal>) -> String {
    caller.map_or("anonymous".into(), |p| p.kind().clerk_name().to_owned())
}

#[tokio::test]
async fn an_optional_route_hands_over_only_kinds_it_accepts() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let app = Router::new().route("/feed", get(sessions_only)).layer(
        ClerkLayer::optional()
            .with_verifier(verifier)
            .accepts(Accepts::ANY),
    );
    let base = serve(app).await;
    let api_key = issuer.opaque(TokenKind::ApiKey).mint();
    let m2m = issuer.m2m_token().sign();
    let session = issuer.token().sign();
    let get = |token: String| {
        let url = format!("{base}/feed");
        async move { fetch(&url, Some(&token)).await.text }
    };
    assert_eq!(get(api_key).await, "anonymous");
    assert_eq!(get(m2m).await, "anonymous");
    assert_eq!(get(session).await, "session_token");
}

// 6. Secrets never appear in `Debug` output.

#[test]
fn no_debug_output_holds_the_secret_key() {
    let secret = "sk_test_s3cr3tv4lue";
    let configs = [
        ClerkConfig::builder().secret_key(secret),
        ClerkConfig::builder()
            .jwks_url("https://x.example/jwks")
            .secret_key(secret)
            .jwks_header("x-proxy-key", "pr0xy-s3cr3t"),
    ];
    for builder in configs {
        assert!(!format!("{builder:?}").contains("s3cr3t"));
        let config = builder.build().unwrap();
        let verifier = ClerkVerifier::new(config.clone()).unwrap();
        for text in [
            format!("{config:?}"),
            format!("{verifier:?}"),
            format!("{config:#?}"),
        ] {
            assert!(!text.contains("s3cr3t"), "{text}");
        }
    }
    assert!(TEST_SECRET_KEY.starts_with("sk_test_"));
}

// 7. Smaller ones.

#[test]
fn durations_past_a_year_are_configuration_errors() {
    let base = || ClerkConfig::builder().secret_key("sk_test_x");
    let too_long = Duration::MAX;
    let builders = [
        ("machine_cache_ttl", base().machine_cache_ttl(too_long)),
        (
            "machine_not_found_ttl",
            base().machine_not_found_ttl(too_long),
        ),
        ("jwks_ttl", base().jwks_ttl(too_long)),
        ("jwks_max_staleness", base().jwks_max_staleness(too_long)),
        (
            "unknown_kid_cooldown",
            base().unknown_kid_cooldown(too_long),
        ),
        ("connect_timeout", base().connect_timeout(too_long)),
        ("request_timeout", base().request_timeout(too_long)),
        ("clock_skew", base().clock_skew(too_long)),
    ];
    for (name, builder) in builders {
        match builder.build() {
            Err(ConfigError::Invalid { setting, .. }) => assert_eq!(setting, name),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(base()
        .machine_cache_ttl(Duration::from_secs(365 * 24 * 3600))
        .build()
        .is_ok());
}

/// A verification that must fetch keys, started on a runtime that is
/// shutting down: the fetch task is dropped at once, and its cleanup must
/// not wait for a lock the starter still holds.
#[test]
fn a_fetch_started_on_a_runtime_shutting_down_does_not_deadlock() {
    let serving = tokio::runtime::Runtime::new().unwrap();
    let issuer = serving.block_on(TestIssuer::start()).unwrap();
    let token = issuer.token().sign();
    let opaque = issuer.opaque(TokenKind::ApiKey).mint();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let dying = tokio::runtime::Runtime::new().unwrap();
        let handle = dying.handle().clone();
        dying.shutdown_background();
        let _entered = handle.enter();
        let session = futures_executor::block_on(verifier.verify(&token));
        let machine = futures_executor::block_on(verifier.verify_as(&opaque, Accepts::API_KEY));
        let _ = done.send((
            session.err().map(|r| r.reason()),
            machine.err().map(|r| r.reason()),
        ));
    });
    let (session, machine) = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("the verification deadlocked");
    assert_eq!(session, Some(clerk_guard::Reason::JwkRemoteFailedToLoad));
    assert_eq!(machine, Some(clerk_guard::Reason::BackendApiUnavailable));
    drop(issuer);
    drop(serving);
}

#[tokio::test]
async fn an_attacker_chosen_kid_is_logged_escaped() {
    let (captured, _logging) = CapturedLogs::start(tracing::Level::INFO);
    let app = TestApp::start_with(|c| c.unknown_kid_cooldown(Duration::from_secs(30))).await;
    assert_eq!(
        app.get("/me", Some(&app.issuer.token().sign()))
            .await
            .status,
        200
    );
    // A kid that comes back within the cooldown is logged (and fetches once).
    let forged = app
        .issuer
        .token()
        .header("kid", "k\nFORGED level=ERROR message=\"owned\"")
        .sign();
    for _ in 0..2 {
        assert_eq!(app.get("/me", Some(&forged)).await.status, 401);
    }
    let logs = captured.text();
    assert!(logs.contains("an unknown kid came back"), "{logs}");
    assert!(logs.contains(r"k\nFORGED"), "{logs}");
    assert!(
        !logs.lines().any(|line| line.starts_with("FORGED")),
        "{logs}"
    );
}

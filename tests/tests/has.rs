//! Clerk's whole `has()` in the attribute: billing features and plans by
//! scope, and step-up reverification with Clerk's presets, edges and body.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use axum::routing::get;
use axum::{Extension, Router};
use clerk_guard::testing::{ClaimShape, TestIssuer};
use clerk_guard::{clerk_protected, ClerkAuth, ClerkVerifier, Guard, ReverifyStrict};
use clerk_guard_tests::{fetch, serve, Reply};
use serde_json::json;

#[clerk_protected(feature = "reports")]
async fn reports() -> &'static str {
    "reports"
}
#[clerk_protected(feature = "org:reports")]
async fn org_reports() -> &'static str {
    "org reports"
}
#[clerk_protected(feature = "user:reports")]
async fn user_reports() -> &'static str {
    "user reports"
}
#[clerk_protected(feature = ["reports", "u:export"])]
async fn two_features() -> &'static str {
    "both"
}
#[clerk_protected(plan = "pro")]
async fn pro() -> &'static str {
    "pro"
}
#[clerk_protected(plan = ["pro", "team"])]
async fn paid() -> &'static str {
    "paid"
}
#[clerk_protected(plan = "o:team")]
async fn org_team() -> &'static str {
    "org team"
}
#[clerk_protected(reverification = "strict_mfa")]
async fn strict_mfa() -> &'static str {
    "ok"
}
#[clerk_protected(reverification = "strict")]
async fn strict() -> &'static str {
    "ok"
}
#[clerk_protected(reverification = "moderate")]
async fn moderate() -> &'static str {
    "ok"
}
#[clerk_protected(reverification = "lax")]
async fn lax() -> &'static str {
    "ok"
}
#[clerk_protected(reverification(level = "first_factor", after_minutes = 30))]
async fn custom() -> &'static str {
    "ok"
}
#[clerk_protected(
    roles = "admin",
    feature = "reports",
    plan = "pro",
    reverification = "strict"
)]
async fn everything(auth: ClerkAuth) -> String {
    format!(
        "{} {} {}",
        auth.has_feature("reports"),
        auth.has_plan("pro"),
        auth.reverified_within(clerk_guard::ReverificationLevel::SecondFactor, 10)
    )
}
async fn by_hand(_: Guard<ReverifyStrict>) -> &'static str {
    "by hand"
}

struct App {
    issuer: TestIssuer,
    base: String,
}

impl App {
    async fn start() -> Self {
        let issuer = TestIssuer::start().await.unwrap();
        let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
        let router = Router::new()
            .route("/reports", get(reports))
            .route("/org-reports", get(org_reports))
            .route("/user-reports", get(user_reports))
            .route("/two-features", get(two_features))
            .route("/pro", get(pro))
            .route("/paid", get(paid))
            .route("/org-team", get(org_team))
            .route("/strict_mfa", get(strict_mfa))
            .route("/strict", get(strict))
            .route("/moderate", get(moderate))
            .route("/lax", get(lax))
            .route("/custom", get(custom))
            .route("/everything", get(everything))
            .route("/by-hand", get(by_hand))
            .layer(Extension(verifier));
        let base = serve(router).await;
        Self { issuer, base }
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        fetch(&format!("{}{path}", self.base), Some(token)).await
    }

    async fn status(&self, path: &str, token: &str) -> u16 {
        self.get(path, token).await.status
    }
}

#[tokio::test]
async fn features_are_looked_up_by_scope() {
    let app = App::start().await;
    let cases = [
        ("u:reports", [200, 403, 200]),
        ("o:reports", [200, 200, 403]),
        ("uo:reports", [200, 200, 200]),
        ("ou:reports", [200, 200, 200]),
        ("u:other,o:more", [403, 403, 403]),
    ];
    for (fea, [any, org, user]) in cases {
        let token = app.issuer.token().features(fea.split(',')).sign();
        assert_eq!(app.status("/reports", &token).await, any, "{fea} /reports");
        assert_eq!(
            app.status("/org-reports", &token).await,
            org,
            "{fea} /org-reports"
        );
        assert_eq!(
            app.status("/user-reports", &token).await,
            user,
            "{fea} /user-reports"
        );
    }
    // A list of features: all of them.
    let one = app.issuer.token().features(["u:reports"]).sign();
    assert_eq!(app.status("/two-features", &one).await, 403);
    let both = app
        .issuer
        .token()
        .features(["o:reports", "u:export"])
        .sign();
    assert_eq!(app.status("/two-features", &both).await, 200);
    let org_export = app
        .issuer
        .token()
        .features(["o:reports", "o:export"])
        .sign();
    assert_eq!(
        app.status("/two-features", &org_export).await,
        403,
        "u:export is user-scoped"
    );
    // Org features from v2 permissions count too, and keep their masks.
    let member = app
        .issuer
        .token()
        .org("org_1", "acme", "member")
        .permissions(["org:reports:read"])
        .features(["u:export"])
        .sign();
    assert_eq!(app.status("/org-reports", &member).await, 200);
    assert_eq!(app.status("/two-features", &member).await, 200);
    let reply = app.get("/reports", &app.issuer.token().sign()).await;
    assert_eq!((reply.status, reply.reason()), (403, "missing-feature"));
}

#[tokio::test]
async fn plans_any_of_them_by_scope() {
    let app = App::start().await;
    let team = app.issuer.token().plans(["u:team"]).sign();
    assert_eq!(app.status("/paid", &team).await, 200);
    assert_eq!(app.status("/pro", &team).await, 403);
    assert_eq!(
        app.status("/org-team", &team).await,
        403,
        "user plan, org scope asked"
    );
    let org_team = app.issuer.token().plans(["o:team"]).sign();
    assert_eq!(app.status("/org-team", &org_team).await, 200);
    let pro = app.issuer.token().plans(["u:pro"]).sign();
    let reply = app.get("/org-team", &pro).await;
    assert_eq!((reply.status, reply.reason()), (403, "missing-plan"));
    assert_eq!(app.status("/pro", &pro).await, 200);
}

#[tokio::test]
async fn absent_or_malformed_billing_claims_count_as_absent() {
    let app = App::start().await;
    let v1 = app.issuer.token().shape(ClaimShape::V1).sign();
    let malformed = app
        .issuer
        .token()
        .claim("fea", "u:reports,reports")
        .claim("pla", json!(["u:pro"]))
        .sign();
    let empty = app.issuer.token().claim("fea", "").claim("pla", "").sign();
    for token in [&v1, &malformed, &empty] {
        for path in ["/reports", "/user-reports", "/pro", "/paid"] {
            assert_eq!(app.status(path, token).await, 403, "{path}");
        }
    }
}

const PRESETS: [(&str, &str, i64); 4] = [
    ("strict_mfa", "multi_factor", 10),
    ("strict", "second_factor", 10),
    ("moderate", "second_factor", 60),
    ("lax", "second_factor", 1440),
];

#[tokio::test]
async fn every_preset_at_the_edge_of_its_age() {
    let app = App::start().await;
    let ages = |first, second| app.issuer.token().factor_ages(first, second).sign();
    for (preset, level, limit) in PRESETS {
        let path = format!("/{preset}");
        let ok = |what: &str, code: u16| (what.to_owned(), code);
        let mut cases = vec![
            (
                ok("both fresh (limit - 1)", 200),
                ages(limit - 1, limit - 1),
            ),
            (ok("second at the limit", 403), ages(0, limit)),
            // No second factor: judged on the first.
            (
                ok("first at limit - 1, no second", 200),
                ages(limit - 1, -1),
            ),
            (ok("first at the limit, no second", 403), ages(limit, -1)),
            (ok("no factor at all", 403), ages(-1, -1)),
        ];
        if level == "multi_factor" {
            cases.push((ok("first at the limit", 403), ages(limit, 0)));
            cases.push((ok("no first factor", 403), ages(-1, 0)));
        } else {
            cases.push((
                ok("first old, second fresh", 200),
                ages(limit * 3, limit - 1),
            ));
            cases.push((
                ok("no first factor, second fresh", 200),
                ages(-1, limit - 1),
            ));
        }
        for ((what, expected), token) in cases {
            assert_eq!(
                app.status(&path, &token).await,
                expected,
                "{preset}: {what}"
            );
        }
    }
}

#[tokio::test]
async fn a_custom_level_and_age() {
    let app = App::start().await;
    let ages = |first, second| app.issuer.token().factor_ages(first, second).sign();
    assert_eq!(app.status("/custom", &ages(29, -1)).await, 200);
    assert_eq!(
        app.status("/custom", &ages(29, 500)).await,
        200,
        "first factor only"
    );
    assert_eq!(app.status("/custom", &ages(30, 0)).await, 403);
    assert_eq!(app.status("/custom", &ages(-1, 0)).await, 403);
}

#[tokio::test]
async fn a_missing_or_malformed_fva_fails_every_level() {
    let app = App::start().await;
    let tokens = [
        app.issuer.token().sign(),
        app.issuer.token().claim("fva", json!([0])).sign(),
        app.issuer.token().claim("fva", json!([0, 0, 0])).sign(),
        app.issuer.token().claim("fva", json!([0.5, 0])).sign(),
        app.issuer.token().claim("fva", json!(["0", 0])).sign(),
        app.issuer.token().claim("fva", json!([-2, 0])).sign(),
        app.issuer.token().claim("fva", json!(null)).sign(),
        app.issuer.token().claim("fva", "0,0").sign(),
    ];
    for token in &tokens {
        for path in ["/strict_mfa", "/strict", "/moderate", "/lax", "/custom"] {
            assert_eq!(app.status(path, token).await, 403, "{path}");
        }
    }
}

#[tokio::test]
async fn the_reverification_answer_is_clerks_own_body() {
    let app = App::start().await;
    let stale = app.issuer.token().factor_ages(5000, 5000).sign();
    for (preset, _, _) in PRESETS {
        let reply = app.get(&format!("/{preset}"), &stale).await;
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.body,
            json!({"clerk_error": {"type": "forbidden", "reason": "reverification-error",
                   "metadata": {"reverification": preset}}}),
        );
        assert!(reply.challenge.unwrap().contains("insufficient_scope"));
    }
    let reply = app.get("/custom", &stale).await;
    assert_eq!(
        reply.body,
        json!({"clerk_error": {"type": "forbidden", "reason": "reverification-error",
               "metadata": {"reverification": {"level": "first_factor", "afterMinutes": 30}}}}),
    );
    let reply = app.get("/by-hand", &stale).await;
    assert_eq!(
        reply.body["clerk_error"]["metadata"]["reverification"],
        "strict"
    );
    let fresh = app.issuer.token().factor_ages(0, 0).sign();
    assert_eq!(app.get("/by-hand", &fresh).await.text, "by hand");
}

#[tokio::test]
async fn different_keys_combine_with_and() {
    let app = App::start().await;
    let all = || {
        app.issuer
            .token()
            .roles(["admin"])
            .features(["u:reports"])
            .plans(["u:pro"])
            .factor_ages(1, 1)
    };
    let reply = app.get("/everything", &all().sign()).await;
    assert_eq!((reply.status, reply.text.as_str()), (200, "true true true"));
    let cases = [
        (all().roles(["member"]).sign(), "missing-role"),
        (all().features(["u:other"]).sign(), "missing-feature"),
        (all().plans(["u:free"]).sign(), "missing-plan"),
    ];
    for (token, reason) in cases {
        let reply = app.get("/everything", &token).await;
        assert_eq!((reply.status, reply.reason()), (403, reason));
    }
    let reply = app
        .get("/everything", &all().factor_ages(20, 20).sign())
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body["clerk_error"]["reason"], "reverification-error");
}

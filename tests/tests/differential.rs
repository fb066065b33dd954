//! clerk-guard against Clerk's own verifier, `@clerk/backend` (pinned in
//! `tests/differential/package.json` and its lock file), on one corpus of tokens served by one
//! JWKS on loopback. Clerk reads the JWKS as its Backend API's `/v1/jwks`
//! (through `apiUrl`); clerk-guard reads the same document.
//!
//! Every case gets both verdicts: signed in or not, and for organization
//! roles and permissions, `has()` or not. A disagreement fails the test
//! unless its case id is listed in the README's table "Where clerk-guard is
//! deliberately stricter than Clerk", and then only in the stricter
//! direction (Clerk admits, clerk-guard refuses).
//!
//! Needs `node` and `npm` with the npm registry reachable (the first run
//! installs `@clerk/backend` into the target directory, later runs reuse it);
//! without them the test prints why and passes without comparing.
//! By hand: `cargo test -p clerk-guard-tests --test differential -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use clerk_guard::testing::{TestAlg, TestIssuer, TestKey, TokenBuilder, TEST_SECRET_KEY};
use clerk_guard::{Accepts, ClerkAuth, ClerkVerifier, TokenKind};
use serde_json::{json, Value};

const CLERK_BACKEND: &str = "@clerk/backend@3.25.0";

/// One request to judge.
#[derive(Debug, Clone)]
struct Case {
    id: String,
    token: String,
    scheme: &'static str,
    parties: Vec<String>,
    issuer: Option<String>,
    has: Vec<Value>,
    /// Clerk's `acceptsToken` (a kind's name, `"any"`, or a list); `None`
    /// for a plain session route.
    accepts: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    signed_in: bool,
    has: Vec<bool>,
    reason: String,
    /// `<token type>:<subject>` when signed in on a route with `accepts`.
    principal: String,
}

/// clerk-guard's `Accepts` for Clerk's `acceptsToken` value.
fn accepts_of(value: &Value) -> Accepts {
    let names: Vec<&str> = match value {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        other => vec![other.as_str().unwrap()],
    };
    if names.contains(&"any") {
        return Accepts::ANY;
    }
    let mut kinds = names
        .iter()
        .map(|name| TokenKind::parse(name).unwrap_or_else(|| panic!("kind {name}")));
    let first = kinds.next().expect("at least one kind");
    let start = match first {
        TokenKind::Session => Accepts::SESSION,
        TokenKind::M2m => Accepts::M2M,
        TokenKind::OAuth => Accepts::OAUTH,
        TokenKind::ApiKey => Accepts::API_KEY,
    };
    kinds.fold(start, Accepts::with)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Where `@clerk/backend` is installed, or why it cannot be.
fn clerk_backend() -> Result<PathBuf, String> {
    clerk_guard_tests::differential::clerk_backend(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// Clerk's verdicts, from one node process for the whole corpus.
fn clerk_verdicts(dir: &Path, api_url: &str, cases: &[Case]) -> BTreeMap<String, Verdict> {
    let input = json!({
        "apiUrl": api_url,
        "secretKey": TEST_SECRET_KEY,
        // "clerk.example.com$": only its form matters for header tokens.
        "publishableKey": format!("pk_test_{}", base64::engine::general_purpose::STANDARD.encode("clerk.example.com$")),
        "cases": cases.iter().map(|c| json!({
            "id": c.id, "token": c.token, "scheme": c.scheme,
            "authorizedParties": (!c.parties.is_empty()).then_some(&c.parties),
            "issuer": c.issuer, "has": c.has, "acceptsToken": c.accepts,
        })).collect::<Vec<_>>(),
    });
    clerk_guard_tests::differential::run_script(dir, "clerk_verdict.mjs", &input)
        .into_iter()
        .map(|v| {
            let verdict = Verdict {
                signed_in: v["signedIn"] == true,
                has: v["has"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| *b == true)
                    .collect(),
                reason: v["reason"].as_str().unwrap_or("").to_owned(),
                principal: v["principal"].as_str().unwrap_or("").to_owned(),
            };
            (v["id"].as_str().unwrap().to_owned(), verdict)
        })
        .collect()
}

/// `has()` as clerk-guard answers it: `{permission}`, `{role}`,
/// `{feature}`, `{plan}`, `{reverification}` (a preset or `{level, afterMinutes}`).
fn has(auth: &ClerkAuth, check: &Value) -> bool {
    use clerk_guard::{ReverificationLevel, REVERIFICATION_PRESETS};
    if let Some(permission) = check["permission"].as_str() {
        auth.has_permission(permission)
    } else if let Some(role) = check["role"].as_str() {
        auth.has_org_role(role)
    } else if let Some(feature) = check["feature"].as_str() {
        auth.has_feature(feature)
    } else if let Some(plan) = check["plan"].as_str() {
        auth.has_plan(plan)
    } else if let Some(preset) = check["reverification"].as_str() {
        REVERIFICATION_PRESETS
            .iter()
            .find(|(name, _, _)| *name == preset)
            .is_some_and(|(_, level, minutes)| auth.reverified_within(*level, *minutes))
    } else if let Some(custom) = check["reverification"].as_object() {
        let level = match custom["level"].as_str() {
            Some("first_factor") => ReverificationLevel::FirstFactor,
            Some("second_factor") => ReverificationLevel::SecondFactor,
            _ => ReverificationLevel::MultiFactor,
        };
        let minutes = custom["afterMinutes"].as_u64().unwrap_or(0) as u32;
        auth.reverified_within(level, minutes)
    } else {
        false
    }
}

async fn guard_verdicts(issuer: &TestIssuer, cases: &[Case]) -> BTreeMap<String, Verdict> {
    let mut verifiers: BTreeMap<(Vec<String>, Option<String>), ClerkVerifier> = BTreeMap::new();
    let mut verdicts = BTreeMap::new();
    for case in cases {
        let verifier = verifiers
            .entry((case.parties.clone(), case.issuer.clone()))
            .or_insert_with(|| {
                let mut config = clerk_guard::ClerkConfig::builder()
                    .secret_key(TEST_SECRET_KEY)
                    .api_url(issuer.issuer())
                    .authorized_parties(case.parties.clone());
                if let Some(iss) = &case.issuer {
                    config = config.issuer(iss);
                }
                ClerkVerifier::new(config.build().unwrap()).unwrap()
            })
            .clone();
        let mut headers = HeaderMap::new();
        let header = if case.scheme.is_empty() {
            case.token.clone()
        } else {
            format!("{} {}", case.scheme, case.token)
        };
        if let Ok(value) = HeaderValue::from_str(&header) {
            headers.insert("authorization", value);
        }
        let refused = |rejection: clerk_guard::AuthRejection| Verdict {
            signed_in: false,
            has: vec![false; case.has.len()],
            reason: rejection.reason().code().to_owned(),
            principal: String::new(),
        };
        let verdict = match &case.accepts {
            None => match verifier.authenticate(&headers).await {
                Ok(auth) => Verdict {
                    signed_in: true,
                    has: case.has.iter().map(|c| has(&auth, c)).collect(),
                    reason: String::new(),
                    principal: String::new(),
                },
                Err(rejection) => refused(rejection),
            },
            Some(accepts) => match verifier
                .authenticate_as(&headers, accepts_of(accepts))
                .await
            {
                Ok(principal) => Verdict {
                    signed_in: true,
                    has: Vec::new(),
                    reason: String::new(),
                    principal: format!("{}:{}", principal.kind().clerk_name(), principal.subject()),
                },
                Err(rejection) => refused(rejection),
            },
        };
        verdicts.insert(case.id.clone(), verdict);
    }
    verdicts
}

/// Which side admits more in a listed difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// clerk-guard refuses (or denies) what Clerk admits.
    Stricter,
    /// clerk-guard admits what Clerk refuses, for the reason the row gives.
    Looser,
}

/// The README's table of deliberate differences: each row's case ids (in
/// backticks in the first cell) and its direction (second cell).
fn listed_differences() -> BTreeMap<String, Direction> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let start = readme
        .find("### Where clerk-guard is deliberately stricter than Clerk")
        .expect("the README lists the deliberate differences");
    let section = &readme[start..];
    let end = section[4..].find("\n#").map_or(section.len(), |i| i + 4);
    let mut listed = BTreeMap::new();
    for line in section[..end].lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let direction = match cells.get(2) {
            Some(&"stricter") => Direction::Stricter,
            Some(&"looser") => Direction::Looser,
            other => panic!("README row without a direction: {line} ({other:?})"),
        };
        for id in cells[1].split('`').skip(1).step_by(2) {
            listed.insert(id.to_owned(), direction);
        }
    }
    listed
}

/// A small deterministic generator (xorshift64*), so the random corpus is
/// the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

struct Corpus<'a> {
    issuer: &'a TestIssuer,
    cases: Vec<Case>,
}

impl Corpus<'_> {
    fn add(&mut self, id: &str, token: String) -> &mut Case {
        self.cases.push(Case {
            id: id.to_owned(),
            token,
            scheme: "Bearer",
            parties: Vec::new(),
            issuer: None,
            has: Vec::new(),
            accepts: None,
        });
        self.cases.last_mut().unwrap()
    }
    fn token(&self) -> TokenBuilder {
        self.issuer.token()
    }
}

fn curated(c: &mut Corpus<'_>, any_alg: &Arc<TestKey>) {
    let t = now();
    let iss = c.issuer.issuer();
    // Baselines.
    let ok = c.token().sign();
    c.add("ok-v2-default", ok.clone());
    c.add("ok-v1", c.token().claim("v", 1).sign());
    c.add("ok-no-typ", c.token().without_header("typ").sign());
    c.add("ok-no-cat", c.token().without_header("cat").sign());
    c.add("ok-no-sid", c.token().without_claim("sid").sign());
    c.add("ok-no-sts", c.token().without_claim("sts").sign());
    c.add(
        "ok-no-nbf-iat",
        c.token().without_claim("nbf").without_claim("iat").sign(),
    );
    c.add(
        "ok-aud-unchecked",
        c.token().claim("aud", json!(["x", "y"])).sign(),
    );
    c.add(
        "ok-extra-claims",
        c.token()
            .claim("email", "a@example.com")
            .claim("metadata", json!({"role": "admin"}))
            .sign(),
    );
    // Payload shapes: the one-pass claims reader's, serde_json's, neither.
    let base = format!(
        r#""iat":{},"nbf":{},"iss":"{iss}","sid":"sess_1","sts":"active","v":2"#,
        t - 5,
        t - 5
    );
    for (id, payload) in [
        (
            "payload-nested-claims",
            format!(
                r#"{{"sub":"user_1","exp":{},{base},"meta":{{"a":[true,null,1.5e2,-0,{{}}]}},"fva":[0,-1]}}"#,
                t + 60
            ),
        ),
        (
            "payload-whitespace",
            format!(
                "\n {{ \"sub\" : \"user_1\" ,\t\"exp\" : {} , {base} }} ",
                t + 60
            ),
        ),
        (
            "payload-escaped-sub",
            format!(r#"{{"sub":"user_\u0031","exp":{},{base}}}"#, t + 60),
        ),
        (
            "payload-fractional-exp",
            format!(r#"{{"sub":"user_1","exp":{}.5,{base}}}"#, t + 60),
        ),
        (
            "payload-exponent-exp",
            format!(r#"{{"sub":"user_1","exp":{}e0,{base}}}"#, t + 60),
        ),
        (
            "payload-array",
            format!(r#"["user_1",{},{},{},"{iss}"]"#, t + 60, t - 5, t - 5),
        ),
        (
            "payload-trailing-bytes",
            format!(r#"{{"sub":"user_1","exp":{},{base}}} x"#, t + 60),
        ),
        (
            "payload-trailing-comma",
            format!(r#"{{"sub":"user_1","exp":{},{base},}}"#, t + 60),
        ),
        // Claims no claim map holds: a number past f64, nesting past 128, a
        // lone surrogate, beside an impersonator (`act`).
        (
            "payload-number-out-of-range",
            format!(
                r#"{{"sub":"user_1","exp":{},{base},"act":{{"sub":"user_2"}},"big":1e400}}"#,
                t + 60
            ),
        ),
        (
            "payload-nesting-130",
            format!(
                r#"{{"sub":"user_1","exp":{},{base},"act":{{"sub":"user_2"}},"deep":{}1{}}}"#,
                t + 60,
                "[".repeat(130),
                "]".repeat(130)
            ),
        ),
        (
            "payload-lone-surrogate",
            format!(
                r#"{{"sub":"user_1","exp":{},{base},"act":{{"sub":"user_2"}},"name":"\ud800"}}"#,
                t + 60
            ),
        ),
        (
            "payload-number-1e300",
            format!(r#"{{"sub":"user_1","exp":{},{base},"big":1e300}}"#, t + 60),
        ),
    ] {
        c.add(id, c.token().raw_payload(payload).sign());
    }
    c.add("scheme-lowercase", ok.clone()).scheme = "bearer";
    c.add("scheme-uppercase", ok.clone()).scheme = "BEARER";
    c.add("scheme-none", ok.clone()).scheme = "";
    // Header rules.
    for (id, typ) in [
        ("typ-lower", "jwt"),
        ("typ-mixed", "Jwt"),
        ("typ-at-jwt", "at+jwt"),
        ("typ-application-at-jwt", "application/at+jwt"),
        ("typ-other", "JOSE"),
    ] {
        c.add(id, c.token().header("typ", typ).sign());
    }
    c.add("typ-number", c.token().header("typ", 1).sign());
    c.add("typ-null", c.token().header("typ", Value::Null).sign());
    c.add("cat-null", c.token().header("cat", Value::Null).sign());
    c.add("cat-number", c.token().header("cat", 1).sign());
    for (id, cat) in [
        ("cat-ignore", "cl_I7d4PD111III"),
        ("cat-template", "cl_B7d4PD222AAA"),
        ("cat-m2m", "cl_B7d4PD333AAA"),
        ("cat-other", "other"),
    ] {
        c.add(id, c.token().header("cat", cat).sign());
    }
    c.add("alg-none", c.token().alg(TestAlg::None).sign());
    let der = c.issuer.signing_key().public_key_der();
    c.add("alg-hs256-der", c.token().alg(TestAlg::Hs256(der)).sign());
    let pem = c.issuer.signing_key().public_key_pem().into_bytes();
    c.add("alg-hs256-pem", c.token().alg(TestAlg::Hs256(pem)).sign());
    c.add("alg-ps256", c.token().alg(TestAlg::Ps256).sign());
    c.add(
        "alg-rs384-on-rs256-jwk",
        c.token().alg(TestAlg::Rs384).sign(),
    );
    c.add(
        "alg-rs512-on-rs256-jwk",
        c.token().alg(TestAlg::Rs512).sign(),
    );
    for (id, alg) in [
        ("alg-rs256-no-jwk-alg", TestAlg::Rs256),
        ("alg-rs384-no-jwk-alg", TestAlg::Rs384),
        ("alg-rs512-no-jwk-alg", TestAlg::Rs512),
    ] {
        c.add(id, c.token().signed_with(any_alg.clone()).alg(alg).sign());
    }
    c.add(
        "alg-label-lowercase",
        c.token().header("alg", "rs256").sign(),
    );
    c.add("alg-missing", c.token().without_header("alg").sign());
    c.add("kid-missing", c.token().without_header("kid").sign());
    c.add("kid-empty", c.token().header("kid", "").sign());
    c.add("kid-unknown", c.token().header("kid", "ins_unknown").sign());
    c.add("kid-number", c.token().header("kid", 7).sign());
    c.add(
        "crit-header",
        c.token().header("crit", json!(["exp"])).sign(),
    );
    let attacker = Arc::new(TestKey::generate("attacker"));
    c.add(
        "embedded-jwk",
        c.token()
            .signed_with(attacker.clone())
            .header("kid", "ins_test_1")
            .header("jwk", attacker.jwk())
            .sign(),
    );
    c.add(
        "jku-header",
        c.token()
            .signed_with(attacker.clone())
            .header("kid", "attacker")
            .header("jku", "http://127.0.0.1:1/jwks")
            .sign(),
    );
    c.add(
        "x5u-header",
        c.token().header("x5u", "http://127.0.0.1:1/cert").sign(),
    );
    c.add(
        "foreign-key-known-kid",
        c.token()
            .signed_with(attacker)
            .header("kid", "ins_test_1")
            .sign(),
    );
    c.add("header-extra-field", c.token().header("foo", "bar").sign());
    // Shapes.
    let parts: Vec<&str> = ok.split('.').collect();
    c.add(
        "padded-header",
        format!("{}==.{}.{}", parts[0], parts[1], parts[2]),
    );
    c.add(
        "padded-signature",
        format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
    );
    c.add(
        "standard-base64-signature",
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            parts[2].replace('-', "+").replace('_', "/")
        ),
    );
    c.add("two-segments", format!("{}.{}", parts[0], parts[1]));
    c.add("four-segments", format!("{ok}.x"));
    c.add("empty-signature", format!("{}.{}.", parts[0], parts[1]));
    c.add("garbage", "not-a-token".into());
    c.add("dots-only", "..".into());
    c.add(
        "header-not-json",
        format!("{}.{}.{}", b64("nope"), parts[1], parts[2]),
    );
    c.add(
        "header-array",
        format!("{}.{}.{}", b64("[]"), parts[1], parts[2]),
    );
    let mut tampered: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    tampered["sub"] = json!("user_admin");
    c.add(
        "payload-tampered",
        format!("{}.{}.{}", parts[0], b64(tampered.to_string()), parts[2]),
    );
    let mut sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap();
    sig[10] ^= 1;
    c.add(
        "signature-bit-flip",
        format!("{}.{}.{}", parts[0], parts[1], b64(sig)),
    );
    // Time claims (margins of 4 s or more in the direction time moves).
    c.add("exp-beyond-skew", c.token().claim("exp", t - 10).sign());
    c.add("exp-within-skew", c.token().claim("exp", t - 1).sign());
    c.add(
        "exp-far-future",
        c.token().claim("exp", t + 86_400 * 365).sign(),
    );
    c.add("exp-missing", c.token().without_claim("exp").sign());
    c.add(
        "exp-string",
        c.token().claim("exp", (t + 60).to_string()).sign(),
    );
    c.add("exp-null", c.token().claim("exp", Value::Null).sign());
    c.add("exp-float", c.token().claim("exp", t as f64 + 60.5).sign());
    c.add("exp-bool", c.token().claim("exp", true).sign());
    c.add("nbf-beyond-skew", c.token().claim("nbf", t + 30).sign());
    c.add("nbf-within-skew", c.token().claim("nbf", t + 3).sign());
    c.add("nbf-string", c.token().claim("nbf", t.to_string()).sign());
    c.add("iat-beyond-skew", c.token().claim("iat", t + 30).sign());
    c.add("iat-within-skew", c.token().claim("iat", t + 3).sign());
    c.add("iat-string", c.token().claim("iat", t.to_string()).sign());
    // Subject.
    c.add("sub-missing", c.token().without_claim("sub").sign());
    c.add("sub-empty", c.token().claim("sub", "").sign());
    c.add("sub-number", c.token().claim("sub", 42).sign());
    c.add("sub-machine", c.token().claim("sub", "mch_2abc").sign());
    c.add(
        "sub-other-prefix",
        c.token().claim("sub", "anything").sign(),
    );
    // Issuer.
    c.add("iss-matches", c.token().sign()).issuer = Some(iss.clone());
    c.add("iss-wrong", c.token().iss("https://evil.example").sign())
        .issuer = Some(iss.clone());
    c.add("iss-missing", c.token().without_claim("iss").sign())
        .issuer = Some(iss.clone());
    c.add("iss-number", c.token().claim("iss", 5).sign()).issuer = Some(iss.clone());
    c.add(
        "iss-unchecked",
        c.token().iss("https://other.example").sign(),
    );
    // Authorized parties.
    let parties = vec![
        "http://localhost:3000".to_owned(),
        "https://app.example.com".to_owned(),
    ];
    c.add("azp-listed", c.token().sign()).parties = parties.clone();
    c.add(
        "azp-second-listed",
        c.token().azp("https://app.example.com").sign(),
    )
    .parties = parties.clone();
    c.add(
        "azp-not-listed",
        c.token().azp("https://evil.example").sign(),
    )
    .parties = parties.clone();
    c.add("azp-missing", c.token().without_claim("azp").sign())
        .parties = parties.clone();
    c.add("azp-number", c.token().claim("azp", 1).sign())
        .parties = parties.clone();
    c.add("azp-empty", c.token().azp("").sign()).parties = parties.clone();
    c.add(
        "azp-unchecked-missing",
        c.token().without_claim("azp").sign(),
    );
    // Session status.
    c.add("sts-pending", c.token().pending().sign());
    c.add("sts-active", c.token().claim("sts", "active").sign());
    c.add("sts-other", c.token().claim("sts", "expired").sign());
    // Typed tokens that are not session tokens.
    c.add(
        "m2m-token",
        c.token()
            .claim("sub", "mch_1")
            .header("cat", "cl_B7d4PD333AAA")
            .sign(),
    );
    c.add(
        "oauth-at-jwt",
        c.token()
            .header("typ", "at+jwt")
            .claim("client_id", "client_1")
            .claim("scope", "read")
            .sign(),
    );
    c.add(
        "oauth-application-at-jwt",
        c.token().header("typ", "application/at+jwt").sign(),
    );
    c.add(
        "template-token",
        c.token()
            .header("cat", "cl_B7d4PD222AAA")
            .without_claim("sid")
            .sign(),
    );
}

fn org_cases(c: &mut Corpus<'_>) {
    let perms = |list: &[&str]| {
        list.iter()
            .map(|p| json!({"permission": p}))
            .collect::<Vec<_>>()
    };
    let roles = |list: &[&str]| list.iter().map(|r| json!({"role": r})).collect::<Vec<_>>();
    let checks = |c: &mut Case, more: Vec<Value>| c.has.extend(more);
    // v1.
    let v1 = c
        .token()
        .claim("v", 1)
        .claim("org_id", "org_1")
        .claim("org_slug", "acme")
        .claim("org_role", "org:admin")
        .claim(
            "org_permissions",
            json!(["org:billing:manage", "org:reports:read"]),
        )
        .sign();
    let case = c.add("v1-org-admin", v1);
    checks(
        case,
        perms(&[
            "org:billing:manage",
            "org:reports:read",
            "org:billing:read",
            "org:sys_memberships:manage",
        ]),
    );
    checks(
        case,
        roles(&["admin", "org:admin", "member", "org:org:admin"]),
    );
    let case = c.add(
        "v1-org-role-bare",
        c.token()
            .claim("v", 1)
            .claim("org_id", "org_1")
            .claim("org_role", "admin")
            .sign(),
    );
    checks(case, roles(&["admin", "org:admin"]));
    let case = c.add(
        "v1-org-role-doubled",
        c.token()
            .claim("v", 1)
            .claim("org_id", "org_1")
            .claim("org_role", "org:org:admin")
            .sign(),
    );
    checks(case, roles(&["org:admin", "admin", "org:org:admin"]));
    let case = c.add(
        "v1-permissions-not-array",
        c.token()
            .claim("v", 1)
            .claim("org_id", "org_1")
            .claim("org_role", "org:member")
            .claim("org_permissions", "org:billing:manage")
            .sign(),
    );
    checks(case, perms(&["org:billing:manage"]));
    let case = c.add(
        "v1-no-org-id",
        c.token()
            .claim("v", 1)
            .claim("org_role", "org:admin")
            .claim("org_permissions", json!(["org:a:b"]))
            .sign(),
    );
    checks(case, perms(&["org:a:b"]));
    checks(case, roles(&["admin"]));
    let case = c.add(
        "v1-claims-in-v2-token",
        c.token()
            .claim("org_id", "org_1")
            .claim("org_role", "org:admin")
            .claim("org_permissions", json!(["org:a:b"]))
            .sign(),
    );
    checks(case, perms(&["org:a:b"]));
    checks(case, roles(&["admin"]));
    // v2.
    let issuer = c.issuer;
    let v2 = |fea: &str, per: &str, fpm: &str, rol: &str| {
        issuer
            .token()
            .claim("fea", fea)
            .claim(
                "o",
                json!({"id": "org_1", "slg": "acme", "rol": rol, "per": per, "fpm": fpm}),
            )
            .sign()
    };
    let cases = [
        (
            "v2-basic",
            v2("o:billing,o:reports", "read,manage", "3,1", "admin"),
        ),
        (
            "v2-empty-per-entry",
            v2("o:billing", "read,,manage", "4", "member"),
        ),
        (
            "v2-empty-fpm-entry",
            v2("o:billing,o:reports", "read", ",1", "member"),
        ),
        (
            "v2-empty-fea-entry",
            v2("o:billing,,o:reports", "read", "1,1", "member"),
        ),
        (
            "v2-empty-org-feature",
            v2("o:,o:reports", "read", "1,1", "member"),
        ),
        (
            "v2-user-scoped-feature",
            v2("u:profile,o:billing", "read", "1", "member"),
        ),
        (
            "v2-uo-scope",
            v2("uo:billing,ou:reports", "read,manage", "2,1", "member"),
        ),
        (
            "v2-org-word-scope",
            v2("org:billing", "read", "1", "member"),
        ),
        ("v2-bad-mask", v2("o:billing", "read", "x", "member")),
        ("v2-negative-mask", v2("o:billing", "read", "-1", "member")),
        ("v2-mask-zero", v2("o:billing", "read", "0", "member")),
        (
            "v2-more-masks-than-features",
            v2("o:billing", "read", "1,1,1", "member"),
        ),
        (
            "v2-fewer-masks",
            v2("o:billing,o:reports", "read", "1", "member"),
        ),
        (
            "v2-fea-no-colon",
            v2("billing,o:reports", "read", "1", "member"),
        ),
        (
            "v2-spaces",
            v2(
                " o:billing , o:reports ",
                " read , manage ",
                " 3 , 1 ",
                "member",
            ),
        ),
        ("v2-rol-prefixed", v2("o:billing", "read", "1", "org:admin")),
        ("v2-rol-empty", v2("o:billing", "read", "1", "")),
        ("v2-per-empty", v2("o:billing", "", "1", "member")),
    ];
    for (id, token) in cases {
        let case = c.add(id, token);
        checks(
            case,
            perms(&[
                "org:billing:read",
                "org:billing:manage",
                "org:reports:read",
                "org:reports:manage",
                "org:profile:read",
                "org::read",
            ]),
        );
        checks(
            case,
            roles(&["admin", "org:admin", "member", "org:org:admin"]),
        );
    }
    // Masks beyond 64 bits: 70 permissions, bit 69 set (2^69) and bit 64.
    let per: Vec<String> = (0..70).map(|i| format!("p{i}")).collect();
    let case = c.add(
        "v2-mask-beyond-64-bits",
        v2("o:big", &per.join(","), "608742554432415203328", "member"),
    );
    checks(
        case,
        perms(&["org:big:p69", "org:big:p64", "org:big:p0", "org:big:p68"]),
    );
    let case = c.add("v2-no-o", c.token().claim("fea", "o:billing").sign());
    checks(case, perms(&["org:billing:read"]));
    checks(case, roles(&["admin"]));
    let case = c.add("v2-o-not-object", c.token().claim("o", "org_1").sign());
    checks(case, roles(&["admin"]));
    let case = c.add(
        "v2-v-string",
        c.token()
            .claim("v", "2")
            .claim("fea", "o:billing")
            .claim(
                "o",
                json!({"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}),
            )
            .sign(),
    );
    checks(case, perms(&["org:billing:read"]));
    checks(case, roles(&["admin"]));
}

fn billing_and_reverification_cases(c: &mut Corpus<'_>) {
    let features = || {
        [
            "reports",
            "org:reports",
            "o:reports",
            "organization:reports",
            "user:reports",
            "u:reports",
            "export",
            "u:export",
            "team:reports",
        ]
        .iter()
        .map(|f| json!({"feature": f}))
        .collect::<Vec<_>>()
    };
    let plans = || {
        ["pro", "u:pro", "org:pro", "team", "o:team", "user:team"]
            .iter()
            .map(|p| json!({"plan": p}))
            .collect::<Vec<_>>()
    };
    for (id, fea, pla) in [
        ("billing-user", "u:reports,u:export", "u:pro"),
        ("billing-org", "o:reports", "o:team"),
        ("billing-both-scopes", "uo:reports,ou:export", "uo:pro"),
        ("billing-malformed", "u:reports,export", "pro"),
        ("billing-empty", "", ""),
        ("billing-spaces", " u:reports , o:export ", " u:pro "),
    ] {
        let case = c.add(id, c.token().claim("fea", fea).claim("pla", pla).sign());
        case.has.extend(features());
        case.has.extend(plans());
    }
    let case = c.add("billing-absent-v1", c.token().claim("v", 1).sign());
    case.has.extend(features());
    case.has.extend(plans());
    let reverification = || {
        let mut checks: Vec<Value> = ["strict_mfa", "strict", "moderate", "lax"]
            .iter()
            .map(|p| json!({"reverification": p}))
            .collect();
        for level in ["first_factor", "second_factor", "multi_factor"] {
            checks.push(json!({"reverification": {"level": level, "afterMinutes": 30}}));
        }
        checks
    };
    let fvas = [
        ("fva-fresh", json!([0, 0])),
        ("fva-9-9", json!([9, 9])),
        ("fva-10-10", json!([10, 10])),
        ("fva-9-no-second", json!([9, -1])),
        ("fva-10-no-second", json!([10, -1])),
        ("fva-no-first", json!([-1, 5])),
        ("fva-none", json!([-1, -1])),
        ("fva-first-old", json!([100, 5])),
        ("fva-second-old", json!([5, 100])),
        ("fva-59-59", json!([59, 59])),
        ("fva-60-0", json!([60, 0])),
        ("fva-1439", json!([1439, 1439])),
        ("fva-1440", json!([1440, 1440])),
        ("fva-29-1000", json!([29, 1000])),
        ("fva-one-entry", json!([0])),
        ("fva-string", json!("0,0")),
        ("fva-negative", json!([-2, 0])),
    ];
    for (id, fva) in fvas {
        let case = c.add(id, c.token().claim("fva", fva).sign());
        case.has.extend(reverification());
    }
    let case = c.add("fva-absent", c.token().sign());
    case.has.extend(reverification());
}

fn random_cases(c: &mut Corpus<'_>, count: usize) {
    let mut rng = Rng(0x5eed_c1e2_6a7d_0001);
    let t = now();
    let parties_choices: [&[&str]; 3] = [
        &[],
        &["http://localhost:3000"],
        &["https://app.example.com"],
    ];
    for i in 0..count {
        let mut b = c.token();
        b = b.claim("exp", t + *rng.pick(&[-60, -10, 30, 120]));
        match rng.next() % 4 {
            0 => b = b.without_claim("nbf"),
            _ => b = b.claim("nbf", t + *rng.pick(&[-30, 0, 2, 30])),
        }
        match rng.next() % 4 {
            0 => b = b.without_claim("iat"),
            _ => b = b.claim("iat", t + *rng.pick(&[-30, 0, 2, 30])),
        }
        b = match rng.next() % 5 {
            0 => b.without_claim("azp"),
            1 => b.azp("https://app.example.com"),
            2 => b.azp("https://evil.example"),
            _ => b,
        };
        b = match rng.next() % 6 {
            0 => b.pending(),
            1 => b.without_claim("sts"),
            _ => b,
        };
        let features = ["billing", "reports", "admin"];
        let permissions = ["read", "manage", "delete"];
        let v2 = rng.next().is_multiple_of(2);
        if v2 {
            let fea: Vec<String> = features
                .iter()
                .map(|f| format!("{}:{f}", rng.pick(&["o", "u", "uo", "ou", ""])))
                .collect();
            let fpm: Vec<String> = features
                .iter()
                .map(|_| rng.pick(&["0", "1", "2", "3", "7", "", "x"]).to_string())
                .collect();
            // Clerk issues v2 roles bare; a prefixed one is the curated `v2-rol-prefixed`.
            let rol = *rng.pick(&["admin", "member", ""]);
            b = b.claim("fea", fea.join(",")).claim(
                "o",
                json!({"id": "org_r", "rol": rol, "per": permissions.join(","), "fpm": fpm.join(",")}),
            );
        } else {
            let held: Vec<String> = features
                .iter()
                .flat_map(|f| permissions.iter().map(move |p| format!("org:{f}:{p}")))
                .filter(|_| rng.next().is_multiple_of(3))
                .collect();
            b = b
                .claim("v", 1)
                .claim("org_id", "org_r")
                .claim("org_role", *rng.pick(&["org:admin", "org:member", "admin"]))
                .claim("org_permissions", held);
        }
        let case = c.add(&format!("random-{i:03}"), b.sign());
        case.parties = rng
            .pick(&parties_choices)
            .iter()
            .map(|p| p.to_string())
            .collect();
        for _ in 0..3 {
            let f = rng.pick(&features);
            let p = rng.pick(&permissions);
            case.has.push(json!({"permission": format!("org:{f}:{p}")}));
        }
        case.has
            .push(json!({"role": *rng.pick(&["admin", "org:admin", "member"])}));
    }
}

/// Machine tokens, JWT and opaque, of every kind, on routes accepting each
/// kind, several, `any` or sessions only; then each JWT rule broken once.
fn machine_cases(c: &mut Corpus<'_>) {
    let i = c.issuer;
    let revoked = i.opaque(TokenKind::ApiKey).subject("user_revoked").mint();
    i.revoke(&revoked);
    let tokens: Vec<(&str, String)> = vec![
        ("session", i.token().subject("user_m").sign()),
        ("m2m-jwt", i.m2m_token().subject("mch_jwt").sign()),
        ("oauth-jwt", i.oauth_token().subject("user_oauth").sign()),
        (
            "oauth-jwt-app-typ",
            i.oauth_token()
                .subject("user_oauth2")
                .header("typ", "application/at+jwt")
                .sign(),
        ),
        (
            "m2m-opaque",
            i.opaque(TokenKind::M2m).subject("mch_opaque").mint(),
        ),
        (
            "oauth-opaque",
            i.opaque(TokenKind::OAuth).subject("user_oat").mint(),
        ),
        (
            "api-key",
            i.opaque(TokenKind::ApiKey).subject("user_key").mint(),
        ),
        (
            "m2m-unknown",
            "mt_00000000000000000000000000000000".to_owned(),
        ),
        ("api-key-revoked", revoked),
        (
            "oauth-expired",
            i.opaque(TokenKind::OAuth).expires_in(-60).mint(),
        ),
        ("m2m-short", "mt_short".to_owned()),
        ("junk", "not-a-token".to_owned()),
    ];
    let accepts: [(&str, Value); 7] = [
        ("m2m", json!("m2m_token")),
        ("oauth", json!("oauth_token")),
        ("apikey", json!("api_key")),
        ("session", json!("session_token")),
        ("any", json!("any")),
        (
            "all4",
            json!(["session_token", "m2m_token", "oauth_token", "api_key"]),
        ),
        ("m2m-apikey", json!(["m2m_token", "api_key"])),
    ];
    for (name, token) in &tokens {
        for (route, value) in &accepts {
            c.add(&format!("machine-{name}-on-{route}"), token.clone())
                .accepts = Some(value.clone());
        }
    }
    let m2m_rules: Vec<(&str, TokenBuilder)> = vec![
        ("expired", i.m2m_token().expired()),
        ("nbf-future", i.m2m_token().not_yet_valid()),
        ("iat-future", i.m2m_token().issued_at_in(600)),
        ("no-exp", i.m2m_token().without_claim("exp")),
        ("exp-string", i.m2m_token().claim("exp", "soon")),
        (
            "cat-session",
            i.m2m_token().header("cat", "cl_B7d4PD111AAA"),
        ),
        (
            "cat-template",
            i.m2m_token().header("cat", "cl_B7d4PD222AAA"),
        ),
        ("no-cat", i.m2m_token().without_header("cat")),
        ("typ-jose", i.m2m_token().header("typ", "JOSE")),
        ("typ-lower", i.m2m_token().header("typ", "jwt")),
        ("no-typ", i.m2m_token().without_header("typ")),
        ("typ-at-jwt", i.m2m_token().header("typ", "at+jwt")),
        ("alg-rs512", i.m2m_token().alg(TestAlg::Rs512)),
        ("alg-none-header", i.m2m_token().header("alg", "none")),
        ("alg-hs256-header", i.m2m_token().header("alg", "HS256")),
        (
            "foreign-key",
            i.m2m_token()
                .signed_with(Arc::new(TestKey::generate("ins_test_1"))),
        ),
        ("unknown-kid", i.m2m_token().header("kid", "ins_unknown")),
        ("azp-other", i.m2m_token().azp("https://evil.example.com")),
        ("aud", i.m2m_token().claim("aud", json!(["mch_target"]))),
        ("scopes", i.m2m_token().scopes(["mch_a", "mch_b"])),
        ("sub-number", i.m2m_token().claim("sub", 5)),
        ("crit", i.m2m_token().header("crit", json!(["exp"]))),
    ];
    for (name, builder) in m2m_rules {
        c.add(&format!("machine-m2m-jwt-{name}"), builder.sign())
            .accepts = Some(json!("m2m_token"));
    }
    let oauth_rules: Vec<(&str, TokenBuilder)> = vec![
        ("expired", i.oauth_token().expired()),
        ("nbf-future", i.oauth_token().not_yet_valid()),
        ("no-exp", i.oauth_token().without_claim("exp")),
        ("no-sub", i.oauth_token().without_claim("sub")),
        (
            "cat-session",
            i.oauth_token().header("cat", "cl_B7d4PD111AAA"),
        ),
        (
            "foreign-key",
            i.oauth_token()
                .signed_with(Arc::new(TestKey::generate("ins_test_1"))),
        ),
        ("no-kid", i.oauth_token().without_header("kid")),
        ("scp", i.oauth_token().scopes(["read", "write"])),
        (
            "aud",
            i.oauth_token().claim("aud", "https://api.example.com"),
        ),
        ("crit", i.oauth_token().header("crit", json!(["exp"]))),
    ];
    for (name, builder) in oauth_rules {
        c.add(&format!("machine-oauth-jwt-{name}"), builder.sign())
            .accepts = Some(json!("oauth_token"));
    }
    // azp on a machine token is checked only when present.
    let parties = vec!["http://localhost:3000".to_owned()];
    for (name, token) in [
        ("azp-absent", i.m2m_token().sign()),
        (
            "azp-listed",
            i.m2m_token().azp("http://localhost:3000").sign(),
        ),
        (
            "azp-other",
            i.m2m_token().azp("https://evil.example.com").sign(),
        ),
    ] {
        let case = c.add(&format!("machine-m2m-jwt-parties-{name}"), token);
        case.accepts = Some(json!("m2m_token"));
        case.parties = parties.clone();
    }
}

#[tokio::test]
async fn clerk_guard_agrees_with_clerks_own_verifier() {
    let dir = match clerk_backend() {
        Ok(dir) => dir,
        Err(why) => {
            println!("NOTICE: differential tests against {CLERK_BACKEND} skipped: {why}");
            return;
        }
    };
    let issuer = TestIssuer::start().await.unwrap();
    let any_alg = Arc::new(TestKey::generate("any-alg"));
    let mut jwk = any_alg.jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    issuer.publish_raw_jwk(jwk);
    let mut corpus = Corpus {
        issuer: &issuer,
        cases: Vec::new(),
    };
    curated(&mut corpus, &any_alg);
    org_cases(&mut corpus);
    billing_and_reverification_cases(&mut corpus);
    machine_cases(&mut corpus);
    let curated_count = corpus.cases.len();
    random_cases(&mut corpus, 300);
    let cases = corpus.cases;
    let ids: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), cases.len(), "case ids are unique");
    assert!(curated_count >= 100, "{curated_count} curated cases");

    let ours = guard_verdicts(&issuer, &cases).await;
    // Node fetches the JWKS from this runtime's server: run it off the runtime.
    let clerks = tokio::task::spawn_blocking({
        let cases = cases.clone();
        let api_url = issuer.issuer();
        move || clerk_verdicts(&dir, &api_url, &cases)
    })
    .await
    .unwrap();

    let listed = listed_differences();
    let mut agreed = 0;
    let mut stricter = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let (mine, theirs) = (&ours[&case.id], &clerks[&case.id]);
        if mine.signed_in == theirs.signed_in
            && mine.has == theirs.has
            && mine.principal == theirs.principal
        {
            agreed += 1;
            continue;
        }
        // Stricter: we never admit (or grant) what Clerk refuses.
        let only_stricter = (!mine.signed_in || theirs.signed_in)
            && mine.has.iter().zip(&theirs.has).all(|(m, t)| !m || *t);
        let line = format!(
            "{}: clerk-guard {:?} {:?} ({}), Clerk {:?} {:?} ({})",
            case.id,
            mine.signed_in,
            mine.has,
            mine.reason,
            theirs.signed_in,
            theirs.has,
            theirs.reason
        );
        let direction = if only_stricter {
            Direction::Stricter
        } else {
            Direction::Looser
        };
        if listed.get(&case.id) == Some(&direction) {
            stricter.push(line);
        } else {
            failures.push(line);
        }
    }
    println!(
        "differential: {} cases ({curated_count} curated, {} random), {agreed} agree, {} listed differences",
        cases.len(),
        cases.len() - curated_count,
        stricter.len()
    );
    for line in &stricter {
        println!("  listed: {line}");
    }
    let unused: Vec<&String> = listed
        .keys()
        .filter(|id| !stricter.iter().any(|l| l.starts_with(&format!("{id}:"))))
        .collect();
    assert!(
        failures.is_empty(),
        "{} disagreements not in the README's table:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        unused.is_empty(),
        "listed as different but agreeing now: {unused:?}"
    );
}

//! Property-based tests: what no case-by-case test can cover.
//!
//! - Tokens: valid tokens mutated at random (flips, truncations, extensions,
//!   insertions, segment swaps and splices, re-encodings), and arbitrary
//!   bytes, through `ClerkVerifier::verify` and `authenticate` against a real
//!   JWKS on loopback: never a panic, never a 5xx, and nothing admitted but
//!   the untouched valid tokens.
//! - Machine tokens: valid M2M and OAuth JWTs and opaque `mt_`/`oat_`/`ak_`
//!   tokens mutated at random, and arbitrary strings behind each machine
//!   prefix, through `ClerkVerifier::verify_as` on a route accepting every
//!   kind: nothing admitted but the untouched tokens, never a 5xx, and no
//!   Backend API lookup for a string without the known length and alphabet.
//! - JWKS bodies: arbitrary bytes and JSON, and key sets built from good and
//!   broken JWKs, through the verifier's own parser: never a panic, and
//!   exactly the well-formed RSA signing keys of 2048 bits or more are used.
//!
//! Case counts are small by default so CI stays fast; set `PROPTEST_CASES`
//! (for example `PROPTEST_CASES=20000`) to run more.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use clerk_guard::testing::{usable_jwks_kids, ClaimShape, TestIssuer, TestKey};
use clerk_guard::{Accepts, ClerkVerifier, TokenKind};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Value};

/// `PROPTEST_CASES`, else `default`.
fn config(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// One local Clerk for every property: its runtime, verifiers (token cache
/// on and off) and a handful of valid tokens of every shape.
struct World {
    runtime: tokio::runtime::Runtime,
    issuer: TestIssuer,
    cached: ClerkVerifier,
    uncached: ClerkVerifier,
    valid: Vec<String>,
    /// Valid machine tokens: JWT M2M, JWT OAuth, opaque M2M, OAuth, API key.
    machine_valid: Vec<String>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let issuer = runtime.block_on(TestIssuer::start()).unwrap();
        let verifier = |capacity| {
            let config = issuer
                .config()
                .token_cache_bytes(capacity)
                .unknown_kid_cooldown(std::time::Duration::from_secs(3600))
                // Every property case may look up a new opaque token.
                .machine_lookups_per_second(u32::MAX)
                .machine_cache_ttl(std::time::Duration::from_secs(capacity.min(1) as u64 * 60))
                .build()
                .unwrap();
            ClerkVerifier::new(config).unwrap()
        };
        let valid = vec![
            issuer.token().expires_in(3600).sign(),
            issuer
                .token()
                .expires_in(3600)
                .subject("user_admin")
                .roles(["admin", "editor"])
                .sign(),
            issuer
                .token()
                .expires_in(3600)
                .shape(ClaimShape::V1)
                .org("org_1", "acme", "admin")
                .permissions(["org:billing:manage"])
                .sign(),
            issuer
                .token()
                .expires_in(3600)
                .org("org_2", "beta", "member")
                .permissions(["org:reports:read", "org:billing:read"])
                .sign(),
            issuer
                .token()
                .expires_in(3600)
                .without_header("typ")
                .without_header("cat")
                .without_claim("sid")
                .sign(),
        ];
        let machine_valid = vec![
            issuer.m2m_token().expires_in(3600).scopes(["mch_a"]).sign(),
            issuer
                .oauth_token()
                .expires_in(3600)
                .scopes(["read"])
                .sign(),
            issuer.opaque(TokenKind::M2m).mint(),
            issuer.opaque(TokenKind::OAuth).mint(),
            issuer.opaque(TokenKind::ApiKey).mint(),
        ];
        let world = World {
            cached: verifier(10_000),
            uncached: verifier(0),
            runtime,
            issuer,
            valid,
            machine_valid,
        };
        // Keys are fetched once, up front: the key set is fixed from here on.
        for token in &world.valid {
            world.runtime.block_on(world.cached.verify(token)).unwrap();
            world
                .runtime
                .block_on(world.uncached.verify(token))
                .unwrap();
        }
        world
    })
}

/// Held by the machine properties: one counts Backend API lookups, so the
/// other may not make any meanwhile.
static LOOKUPS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn lookups_lock() -> std::sync::MutexGuard<'static, ()> {
    LOOKUPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `verdict` for a route accepting every kind of token.
fn machine_verdict(token: &str) -> Result<bool, String> {
    judge(token, Some(Accepts::ANY))
}

/// The verdict of both verifiers: `Ok(true)` admitted, `Ok(false)` refused
/// with 401/403, `Err` for anything else (a 5xx).
fn verdict(token: &str) -> Result<bool, String> {
    judge(token, None)
}

/// Both verifiers' verdict on `token`, as a session token or (with
/// `accepts`) as any kind the route accepts.
fn judge(token: &str, accepts: Option<Accepts>) -> Result<bool, String> {
    let world = world();
    let mut admitted = Vec::new();
    for verifier in [&world.cached, &world.uncached] {
        let outcome = match accepts {
            None => world.runtime.block_on(verifier.verify(token)).map(|_| ()),
            Some(accepts) => world
                .runtime
                .block_on(verifier.verify_as(token, accepts))
                .map(|_| ()),
        };
        match outcome {
            Ok(()) => admitted.push(true),
            Err(rejection) if rejection.status().is_server_error() => {
                return Err(format!("{} for {token:?}", rejection.reason()));
            }
            Err(_) => admitted.push(false),
        }
    }
    if admitted[0] != admitted[1] {
        return Err(format!("cache on and off disagree on {token:?}"));
    }
    Ok(admitted[0])
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Truncate { at: usize },
    Extend(Vec<u8>),
    Insert { at: usize, bytes: Vec<u8> },
    Remove { at: usize, len: usize },
    SwapSegments(usize, usize),
    Splice { from: usize, segment: usize },
    StandardAlphabet { segment: usize },
    Pad { segment: usize, count: usize },
    ReserializeJson { segment: usize },
    DuplicateSegment { segment: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let printable = prop::collection::vec(
        prop_oneof![Just(b'.'), Just(b'='), Just(b' '), 32u8..127],
        1..8,
    );
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        printable.clone().prop_map(Mutation::Extend),
        (any::<usize>(), printable).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..16).prop_map(|(at, len)| Mutation::Remove { at, len }),
        (0usize..3, 0usize..3).prop_map(|(a, b)| Mutation::SwapSegments(a, b)),
        (any::<usize>(), 0usize..3).prop_map(|(from, segment)| Mutation::Splice { from, segment }),
        (0usize..3).prop_map(|segment| Mutation::StandardAlphabet { segment }),
        (0usize..3, 1usize..3).prop_map(|(segment, count)| Mutation::Pad { segment, count }),
        (0usize..2).prop_map(|segment| Mutation::ReserializeJson { segment }),
        (0usize..3).prop_map(|segment| Mutation::DuplicateSegment { segment }),
    ]
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

fn apply(token: &[u8], mutation: &Mutation, valid: &[String]) -> Vec<u8> {
    let mut bytes = token.to_vec();
    let segments = |bytes: &[u8]| -> Vec<Vec<u8>> {
        bytes.split(|b| *b == b'.').map(<[u8]>::to_vec).collect()
    };
    let join = |segments: Vec<Vec<u8>>| segments.join(&b'.');
    match mutation {
        Mutation::Flip { at, byte } => {
            if !bytes.is_empty() {
                let at = at % bytes.len();
                bytes[at] = *byte;
            }
        }
        Mutation::Truncate { at } => bytes.truncate(at % (bytes.len() + 1)),
        Mutation::Extend(more) => bytes.extend_from_slice(more),
        Mutation::Insert { at, bytes: more } => {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, more.iter().copied());
        }
        Mutation::Remove { at, len } => {
            let at = at % (bytes.len() + 1);
            let end = (at + len).min(bytes.len());
            bytes.drain(at..end);
        }
        Mutation::SwapSegments(a, b) => {
            let mut parts = segments(&bytes);
            if *a < parts.len() && *b < parts.len() {
                parts.swap(*a, *b);
            }
            bytes = join(parts);
        }
        Mutation::Splice { from, segment } => {
            let mut parts = segments(&bytes);
            let other = segments(valid[from % valid.len()].as_bytes());
            if *segment < parts.len() && *segment < other.len() {
                parts[*segment] = other[*segment].clone();
            }
            bytes = join(parts);
        }
        Mutation::StandardAlphabet { segment } => {
            let mut parts = segments(&bytes);
            if let Some(part) = parts.get_mut(*segment) {
                if let Ok(decoded) = b64().decode(&part[..]) {
                    *part = base64::engine::general_purpose::STANDARD
                        .encode(decoded)
                        .into_bytes();
                }
            }
            bytes = join(parts);
        }
        Mutation::Pad { segment, count } => {
            let mut parts = segments(&bytes);
            if let Some(part) = parts.get_mut(*segment) {
                part.extend(std::iter::repeat_n(b'=', *count));
            }
            bytes = join(parts);
        }
        Mutation::ReserializeJson { segment } => {
            let mut parts = segments(&bytes);
            if let Some(part) = parts.get_mut(*segment) {
                if let Some(value) = b64()
                    .decode(&part[..])
                    .ok()
                    .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
                {
                    // Same claims, other bytes: the signature no longer covers them.
                    *part = b64()
                        .encode(serde_json::to_string_pretty(&value).unwrap())
                        .into_bytes();
                }
            }
            bytes = join(parts);
        }
        Mutation::DuplicateSegment { segment } => {
            let mut parts = segments(&bytes);
            if let Some(part) = parts.get(*segment).cloned() {
                parts.insert(*segment, part);
            }
            bytes = join(parts);
        }
    }
    bytes
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn mutated_tokens_are_never_admitted(
        which in 0usize..5,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let world = world();
        let original = &world.valid[which];
        let mut bytes = original.as_bytes().to_vec();
        for m in &mutations {
            bytes = apply(&bytes, m, &world.valid);
        }
        let token = String::from_utf8_lossy(&bytes).into_owned();
        let admitted = verdict(&token).map_err(TestCaseError::fail)?;
        prop_assert!(
            !admitted || world.valid.contains(&token),
            "admitted a mutated token after {:?}: {}", mutations, token
        );
    }

    #[test]
    fn arbitrary_bytes_are_never_admitted(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
        let token = String::from_utf8_lossy(&bytes).into_owned();
        prop_assert!(!verdict(&token).map_err(TestCaseError::fail)?);
    }

    #[test]
    fn token_shaped_strings_are_never_admitted(
        segments in prop::collection::vec(
            prop::collection::vec(prop_oneof![b'a'..=b'z', b'A'..=b'Z', b'0'..=b'9', Just(b'-'), Just(b'_')], 0..400),
            0..5,
        ),
    ) {
        let token = segments
            .iter()
            .map(|s| String::from_utf8(s.clone()).unwrap())
            .collect::<Vec<_>>()
            .join(".");
        prop_assert!(!verdict(&token).map_err(TestCaseError::fail)?);
    }

    #[test]
    fn arbitrary_headers_never_admit_and_never_fail(
        authorization in prop::option::of(prop::collection::vec(any::<u8>(), 0..200)),
        cookie in prop::option::of(prop::collection::vec(any::<u8>(), 0..200)),
        with_valid_cookie in any::<bool>(),
    ) {
        let world = world();
        let mut headers = HeaderMap::new();
        for (name, value) in [("authorization", &authorization), ("cookie", &cookie)] {
            if let Some(Ok(value)) = value.as_ref().map(|v| HeaderValue::from_bytes(v)) {
                headers.append(name, value);
            }
        }
        if with_valid_cookie {
            let cookie = format!("__session={}; __client_uat=1", world.valid[0]);
            headers.append("cookie", HeaderValue::from_str(&cookie).unwrap());
        }
        let outcome = world.runtime.block_on(world.uncached.authenticate(&headers));
        match outcome {
            // Only the untouched valid token, from the cookie or the header.
            Ok(auth) => prop_assert!(world.valid.iter().any(|t| t == auth.token())),
            Err(rejection) => prop_assert!(!rejection.status().is_server_error()),
        }
    }
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn mutated_machine_tokens_are_never_admitted(
        which in 0usize..5,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let world = world();
        let _counting = lookups_lock();
        let original = &world.machine_valid[which];
        let mut bytes = original.as_bytes().to_vec();
        for m in &mutations {
            bytes = apply(&bytes, m, &world.machine_valid);
        }
        let token = String::from_utf8_lossy(&bytes).into_owned();
        let admitted = machine_verdict(&token).map_err(TestCaseError::fail)?;
        prop_assert!(
            !admitted || world.machine_valid.contains(&token) || world.valid.contains(&token),
            "admitted a mutated machine token after {:?}: {}", mutations, token
        );
    }

    #[test]
    fn strings_behind_a_machine_prefix_are_looked_up_only_when_well_formed(
        prefix in prop_oneof![Just("mt_"), Just("oat_"), Just("ak_")],
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            "[A-Za-z0-9]{0,140}",
            "[A-Za-z0-9_.!-]{10,40}",
        ],
    ) {
        let world = world();
        let _counting = lookups_lock();
        let token = format!("{prefix}{body}");
        let well_formed = (12..=128).contains(&body.len())
            && body.bytes().all(|b| b.is_ascii_alphanumeric());
        let before = world.issuer.backend_api_calls();
        let admitted = machine_verdict(&token).map_err(TestCaseError::fail)?;
        let looked_up = world.issuer.backend_api_calls() > before;
        prop_assert!(!admitted || world.machine_valid.contains(&token), "admitted {token:?}");
        prop_assert!(well_formed || !looked_up, "looked up {token:?}");
    }
}

// JWKS bodies.

/// Two strong keys whose JWKs the generated key sets are built from.
fn strong_jwks() -> &'static [Value; 2] {
    static KEYS: OnceLock<[Value; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            TestKey::generate("strong-a").jwk(),
            TestKey::generate("strong-b").jwk(),
        ]
    })
}

#[derive(Debug, Clone)]
enum JwkChange {
    None,
    Kty(Value),
    Use(Option<Value>),
    Alg(Option<Value>),
    Kid(Option<Value>),
    WeakModulus,
    BadModulus(String),
    Exponent(Value),
    NotAnObject(Value),
}

fn jwk_change() -> impl Strategy<Value = JwkChange> {
    let text = prop_oneof![
        Just(json!("RSA")),
        Just(json!("EC")),
        Just(json!("sig")),
        Just(json!("enc")),
        Just(json!("RS256")),
        Just(json!("RS384")),
        Just(json!("RS512")),
        Just(json!("ES256")),
        Just(json!("none")),
        Just(json!(7)),
        Just(json!(null)),
        Just(json!(["sig"])),
        Just(json!("strong-a")),
        Just(json!("strong-b")),
    ];
    prop_oneof![
        3 => Just(JwkChange::None),
        1 => text.clone().prop_map(JwkChange::Kty),
        1 => prop::option::of(text.clone()).prop_map(JwkChange::Use),
        1 => prop::option::of(text.clone()).prop_map(JwkChange::Alg),
        1 => prop::option::of(text.clone()).prop_map(JwkChange::Kid),
        1 => Just(JwkChange::WeakModulus),
        1 => "[A-Za-z0-9+/=_-]{0,12}".prop_map(JwkChange::BadModulus),
        1 => prop_oneof![Just(json!("AQAB")), Just(json!("")), Just(json!("AA")), Just(json!("AQ")), Just(json!(65537)), Just(json!("////////////"))].prop_map(JwkChange::Exponent),
        1 => text.prop_map(JwkChange::NotAnObject),
    ]
}

/// The JWK, changed; and whether the verifier should use it, by the rules
/// stated independently of the parser: an object with `kty` "RSA", a string
/// `kid`, `use` absent or "sig", `alg` absent or RS256/384/512, a modulus of
/// at least 2048 bits and a usable exponent.
fn changed(base: &Value, change: &JwkChange) -> (Value, Option<String>) {
    let mut jwk = base.clone();
    let object = jwk.as_object_mut().unwrap();
    let set = |object: &mut serde_json::Map<String, Value>, name: &str, value: &Option<Value>| {
        match value {
            Some(v) => {
                object.insert(name.into(), v.clone());
            }
            None => {
                object.remove(name);
            }
        }
    };
    match change {
        JwkChange::None => {}
        JwkChange::Kty(v) => set(object, "kty", &Some(v.clone())),
        JwkChange::Use(v) => set(object, "use", v),
        JwkChange::Alg(v) => set(object, "alg", v),
        JwkChange::Kid(v) => set(object, "kid", v),
        JwkChange::WeakModulus => set(object, "n", &Some(json!(b64().encode([0xc3u8; 128])))),
        JwkChange::BadModulus(n) => set(object, "n", &Some(json!(n))),
        JwkChange::Exponent(e) => set(object, "e", &Some(e.clone())),
        JwkChange::NotAnObject(v) => return (v.clone(), None),
    }
    let get = |name: &str| object.get(name);
    let kty_ok = get("kty") == Some(&json!("RSA"));
    let use_ok = match get("use") {
        None | Some(Value::Null) => true,
        Some(v) => v == &json!("sig"),
    };
    let alg_ok = match get("alg") {
        None | Some(Value::Null) => true,
        Some(Value::String(a)) => matches!(a.as_str(), "RS256" | "RS384" | "RS512"),
        Some(_) => false,
    };
    let kid = match get("kid") {
        Some(Value::String(k)) => Some(k.clone()),
        _ => None,
    };
    // Only untouched moduli are strong; the generated bad ones are at most 72 bits.
    let n_ok = !matches!(change, JwkChange::WeakModulus | JwkChange::BadModulus(_));
    let e_ok = match get("e") {
        Some(Value::String(e)) => e == "AQAB",
        _ => false,
    };
    // A field of a non-string type makes the entry unreadable as a JWK.
    let types_ok = ["use", "alg"]
        .iter()
        .all(|f| matches!(get(f), None | Some(Value::Null) | Some(Value::String(_))))
        && matches!(get("kty"), Some(Value::String(_)))
        && matches!(
            get("kid"),
            None | Some(Value::Null) | Some(Value::String(_))
        );
    let usable = kty_ok && use_ok && alg_ok && n_ok && e_ok && types_ok;
    (jwk, kid.filter(|_| usable))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("keys".to_owned()),
                    Just("kty".to_owned()),
                    Just("n".to_owned()),
                    ".{0,6}".prop_map(|s| s)
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_jwks_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = usable_jwks_kids(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics_and_uses_no_key(value in json_value()) {
        let body = value.to_string();
        // No generated value carries a 2048-bit modulus, so nothing is usable.
        prop_assert!(usable_jwks_kids(body.as_bytes()).is_err());
        let wrapped = json!({"keys": [value]}).to_string();
        prop_assert!(usable_jwks_kids(wrapped.as_bytes()).is_err());
    }

    #[test]
    fn only_well_formed_strong_rsa_signing_keys_are_used(
        entries in prop::collection::vec((0usize..2, jwk_change()), 0..6),
    ) {
        let strong = strong_jwks();
        let mut keys = Vec::new();
        let mut expected: Vec<String> = Vec::new();
        for (which, change) in &entries {
            let (jwk, usable) = changed(&strong[*which], change);
            keys.push(jwk);
            expected.extend(usable);
        }
        expected.sort();
        expected.dedup();
        let body = json!({ "keys": keys }).to_string();
        match usable_jwks_kids(body.as_bytes()) {
            Ok(kids) => prop_assert_eq!(kids, expected),
            Err(_) => prop_assert!(expected.is_empty(), "expected {:?} to be usable", expected),
        }
    }
}

/// A claim value: registered claims get their right type most of the time,
/// and anything else (other types, floats, huge or negative numbers,
/// escapes, control characters) the rest of the time.
fn claim_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0u64..10_000_000_000).prop_map(|n| json!(n)),
        4 => "[a-z_0-9:/.]{0,16}".prop_map(Value::String),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        1 => "[\\x00-\\x1f\"\\\\é☃a]{0,6}".prop_map(Value::String),
        2 => json_value(),
    ]
}

/// A claims object of registered and other claims.
fn claims_object() -> impl Strategy<Value = Vec<(String, Value)>> {
    let name = prop_oneof![
        Just("sub"),
        Just("exp"),
        Just("nbf"),
        Just("iat"),
        Just("iss"),
        Just("azp"),
        Just("sid"),
        Just("sts"),
        Just("v"),
        Just("o"),
        Just("fva"),
        Just("pla"),
        Just("fea"),
        Just("roles"),
        Just("role"),
        Just("metadata"),
        Just("act"),
        Just("org_id"),
        Just("x"),
        Just("é"),
    ];
    prop::collection::vec((name.prop_map(str::to_owned), claim_value()), 0..12)
}

/// Whether every number in `value` is far inside `f64`'s range (the
/// one-pass reader leaves larger ones to the claim map's reader).
fn modest_numbers(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|f| f.abs() < 1e290),
        Value::Array(items) => items.iter().all(modest_numbers),
        Value::Object(map) => map.values().all(modest_numbers),
        _ => true,
    }
}

/// Writes members in order, repeats included (a map would merge them),
/// compact or with whitespace.
fn write_object(members: &[(String, Value)], spaced: bool) -> String {
    let (sep, colon) = if spaced {
        (" ,\n\t", " : ")
    } else {
        (",", ":")
    };
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}{colon}{}", json!(k), v))
        .collect();
    if spaced {
        format!(" {{\r\n {} }} ", body.join(sep))
    } else {
        format!("{{{}}}", body.join(sep))
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// The verifier's one-pass claims reader never accepts a payload that
    /// serde_json refuses and never reads a different value; ordinary
    /// payloads take it.
    #[test]
    fn the_one_pass_claims_reader_agrees_with_serde_json(
        members in claims_object(),
        spaced in any::<bool>(),
    ) {
        let payload = write_object(&members, spaced);
        let took = clerk_guard::testing::check_claims_reader(&payload);
        let ordinary = members.iter().all(|(k, v)| match k.as_str() {
            "sub" | "iss" | "azp" | "sid" | "sts" => v.as_str().is_some_and(|s| {
                s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
            }),
            "exp" | "nbf" | "iat" | "v" => v.as_u64().is_some_and(|n| n < 1_000_000_000_000_000),
            _ => !v.to_string().contains('\\') && modest_numbers(v),
        });
        let mut names: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        let repeated = names.windows(2).any(|w| {
            w[0] == w[1] && ["sub", "exp", "nbf", "iat", "iss", "azp", "sid", "sts", "v"].contains(&w[0])
        });
        if ordinary && !repeated {
            prop_assert!(took, "an ordinary payload left the one-pass reader: {}", payload);
        }
    }

    /// Byte-level damage to an ordinary payload: still never accepted by
    /// the one-pass reader unless serde_json accepts it with the same values.
    #[test]
    fn damaged_payloads_never_split_the_claims_readers(
        members in claims_object(),
        cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut bytes = write_object(&members, false).into_bytes();
        for (at, byte, how) in &cuts {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match how {
                0 => bytes[i] = *byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, *byte),
            }
        }
        if let Ok(payload) = String::from_utf8(bytes) {
            clerk_guard::testing::check_claims_reader(&payload);
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Numbers near and past `f64`'s range in an unregistered claim: the
    /// one-pass reader takes only those the claim map reads, and still
    /// takes every modest one.
    #[test]
    fn numbers_near_the_limits_never_split_the_claims_readers(
        whole in "[1-9][0-9]{0,400}",
        fraction in prop::option::of("[0-9]{1,6}"),
        exponent in prop::option::of(-1200i32..1200),
    ) {
        let mut number = whole.clone();
        if let Some(fraction) = &fraction {
            number = format!("{number}.{fraction}");
        }
        if let Some(exponent) = exponent {
            number = format!("{number}e{exponent}");
        }
        let payload = format!(r#"{{"sub":"user_1","exp":1,"big":{number},"act":{{"sub":"u"}}}}"#);
        // Panics if the one-pass reader took what the map reader refuses.
        let took = clerk_guard::testing::check_claims_reader(&payload);
        let map = serde_json::from_str::<serde_json::Map<String, Value>>(&payload);
        if took {
            prop_assert!(map.is_ok(), "{}", payload);
        }
        let magnitude = whole.len() as i64 + i64::from(exponent.unwrap_or(0));
        if magnitude <= 300 && exponent.is_none_or(|e| e.abs() < 1000) {
            prop_assert!(took, "a modest number left the one-pass reader: {}", number);
        }
    }
}

/// A token header with `typ` absent, a string (Clerk's OAuth types among
/// them, escaped or not), `null` or another type, and sometimes `alg` or
/// `kid` the verifier refuses.
/// With whether the verifier parses it (RS256, a `kid`, `typ` a string).
fn token_header() -> impl Strategy<Value = (String, bool)> {
    let typ = prop_oneof![
        Just(None),
        Just(Some(json!("JWT"))),
        Just(Some(json!("at+jwt"))),
        Just(Some(json!("application/at+jwt"))),
        Just(Some(json!("AT+JWT"))),
        Just(Some(Value::Null)),
        Just(Some(json!(1))),
        Just(Some(json!(["at+jwt"]))),
    ];
    (typ, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(typ, rs, kid, escaped)| {
        let parsed = rs && kid && typ.as_ref().is_none_or(Value::is_string);
        let mut members = vec![("alg".to_owned(), json!(if rs { "RS256" } else { "HS256" }))];
        if kid {
            members.push(("kid".to_owned(), json!("ins_1")));
        }
        if let Some(typ) = typ {
            members.push(("typ".to_owned(), typ));
        }
        let header = write_object(&members, false);
        let header = if escaped {
            header.replace("at+jwt", "at\\u002bjwt")
        } else {
            header
        };
        (header, parsed)
    })
}

proptest! {
    #![proptest_config(config(512))]

    /// The guards' quick classification (the parsed header's `typ`, the
    /// one-pass reader's `sub`) gives every token the class Clerk's reading
    /// gives it: headers and payloads of every shape, `sub` of machines and
    /// users, escaped, repeated or of the wrong type.
    #[test]
    fn the_quick_classification_agrees_with_clerks(
        (header, parsed) in token_header(),
        members in claims_object(),
        sub in prop_oneof![
            Just(None),
            Just(Some(json!("mch_2x"))),
            Just(Some(json!("user_2x"))),
            Just(Some(json!("mch\\u005f2x"))),
            Just(Some(Value::Null)),
            Just(Some(json!(5))),
        ],
        at in any::<prop::sample::Index>(),
        array in any::<bool>(),
    ) {
        let mut members = members;
        if let Some(sub) = sub {
            members.insert(at.index(members.len() + 1), ("sub".to_owned(), sub));
        }
        let mut payload = write_object(&members, false).replace("\\\\u005f", "\\u005f");
        if array {
            payload = format!("[{payload}]");
        }
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!("{}.{}.c2ln", b64.encode(&header), b64.encode(&payload));
        let quick = clerk_guard::testing::check_classification(&token);
        if parsed && !array && clerk_guard::testing::check_claims_reader(&payload) {
            prop_assert!(quick, "{} {}", header, payload);
        }
    }
}

/// A string of the shape organization claims hold, escaped or not, or a
/// value of another type.
fn org_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "[a-z_0-9:]{0,10}".prop_map(Value::String),
        3 => prop::sample::select(vec!["3", "1,2", "read,manage", ",1", "o:a,u:b,ou:c", "5,x"])
            .prop_map(|s| json!(s)),
        1 => "[\"\\\\é☃a]{0,4}".prop_map(Value::String),
        1 => Just(Value::Null),
        1 => (0u64..100).prop_map(|n| json!(n)),
        1 => Just(json!(["org:a:b", 1])),
        1 => Just(json!(["org:a:b", "org:c:d"])),
        1 => Just(json!({"id": "org_nested"})),
    ]
}

/// Organization claims, v1 and v2, with repeated names and values of every
/// type, and sometimes `v: 2`, written as a payload (repeats kept).
fn org_payload() -> impl Strategy<Value = String> {
    let o_field = prop::sample::select(vec!["id", "slg", "rol", "per", "fpm", "x", "i\\u0064"]);
    let top = prop::sample::select(vec![
        "org_id",
        "org_slug",
        "org_role",
        "org_permissions",
        "fea",
        "x",
    ]);
    (
        prop::collection::vec((top, org_value()), 0..6),
        prop::option::of(prop::collection::vec((o_field, org_value()), 0..8)),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mut top, mut o, v2, coherent)| {
            // A real v2 organization last (the last of a repeated name wins),
            // so the permission checks see granted permissions too.
            if coherent {
                top.push(("fea", json!("o:a,u:b,ou:c")));
                o.get_or_insert_with(Vec::new).extend([
                    ("id", json!("org_1")),
                    ("per", json!("read,manage")),
                    ("fpm", json!("3,1")),
                ]);
            }
            let owned = |members: Vec<(&str, Value)>| -> Vec<(String, Value)> {
                members
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect()
            };
            let mut members = owned(vec![("sub", json!("user_1")), ("exp", json!(1))]);
            if v2 {
                members.push(("v".to_owned(), json!(2)));
            }
            members.extend(owned(top));
            let mut payload = write_object(&members, false);
            if let Some(o) = o {
                // Its field names as written: `i\u0064` is `id` escaped.
                let o = write_object(&owned(o), false).replace("\\\\u0064", "\\u0064");
                payload.pop();
                payload.push_str(&format!(r#","o":{o}}}"#));
            }
            payload
        })
}

proptest! {
    #![proptest_config(config(512))]

    /// The organization read from the claims' noted texts (no claim map) is
    /// the one the claim map gives, v1 and v2, whatever the claims hold.
    #[test]
    fn the_organization_read_from_noted_texts_is_the_maps(payload in org_payload()) {
        // Panics if the two readings differ.
        let took = clerk_guard::testing::check_claims_reader(&payload);
        // The one-pass reader leaves escapes to the map reader.
        if !payload.contains('\\') {
            prop_assert!(took, "{}", payload);
        }
    }
}

/// What a role claim may hold: a role, roles among other values, another
/// type, or (for `metadata`) an object of those.
fn role_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        3 => prop::sample::select(vec!["admin", "editor", "", "a\"b", "é☃"]).prop_map(|s| json!(s)),
        1 => Just(Value::Null),
        1 => (0i64..3).prop_map(|n| json!(n)),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec!["role", "roles", "team", "x"]),
                    inner
                ),
                0..4
            )
            .prop_map(|members| {
                Value::Object(
                    members
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                )
            }),
        ]
    })
}

proptest! {
    #![proptest_config(config(512))]

    /// The roles (default claims and a nested custom path), the actor and
    /// `has()` read from the claims' noted texts are what the claim map
    /// gives, repeated names included.
    #[test]
    fn roles_read_from_noted_texts_are_the_maps(
        members in prop::collection::vec(
            (prop::sample::select(vec!["roles", "role", "metadata", "act", "fea", "pla", "fva"]), role_value()),
            0..7,
        ),
    ) {
        let mut all: Vec<(String, Value)> =
            vec![("sub".to_owned(), json!("user_1")), ("exp".to_owned(), json!(1))];
        all.extend(members.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let payload = write_object(&all, false);
        let took = clerk_guard::testing::check_claims_reader(&payload);
        if !payload.contains('\\') {
            prop_assert!(took, "{}", payload);
        }
    }
}

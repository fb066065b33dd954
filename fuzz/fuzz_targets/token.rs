//! The token path: any bytes as a session token (and as an `Authorization`
//! header), and as any kind of token on a route accepting every kind
//! (`verify_as`: classification, M2M and OAuth JWT rules), verified against
//! a fixed PEM key with no network. Never a panic; nothing is admitted; a
//! 5xx only for a well-formed opaque token (no secret key is configured).
#![no_main]

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue};
use clerk_guard::testing::TestKey;
use clerk_guard::{Accepts, ClerkConfig, ClerkVerifier, Reason};
use futures_util::FutureExt as _;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    verifier: ClerkVerifier,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = TestKey::generate("fuzz");
        let config = ClerkConfig::builder()
            .pem_public_key(key.public_key_pem())
            .build()
            .expect("PEM config");
        Fixture {
            verifier: ClerkVerifier::new(config).expect("verifier"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let token = String::from_utf8_lossy(data);
    // A static key needs no I/O: verification completes on the first poll.
    let outcome = fixture
        .verifier
        .verify(&token)
        .now_or_never()
        .expect("no I/O with a PEM key");
    // The fuzzer cannot sign with the fixture's key: nothing is admitted.
    assert!(outcome.is_err(), "admitted {token:?}");
    assert!(!outcome.unwrap_err().status().is_server_error());
    // Every kind: no network either (opaque tokens need a secret key, which
    // this configuration lacks, so they are 503 configuration-invalid).
    let outcome = fixture
        .verifier
        .verify_as(&token, Accepts::ANY)
        .now_or_never()
        .expect("no I/O with a PEM key and no secret key");
    let rejection = outcome.expect_err("nothing is admitted");
    if rejection.status().is_server_error() {
        assert_eq!(rejection.reason(), Reason::ConfigurationInvalid, "{token:?}");
        let body = ["mt_", "oat_", "ak_"]
            .iter()
            .find_map(|p| token.strip_prefix(p))
            .expect("only opaque tokens need the Backend API");
        assert!((12..=128).contains(&body.len()), "{token:?}");
        assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()), "{token:?}");
    }
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", value.clone());
        headers.insert("cookie", value);
        let outcome = fixture
            .verifier
            .authenticate(&headers)
            .now_or_never()
            .expect("no I/O with a PEM key");
        assert!(outcome.is_err());
    }
});

//! The token path: any bytes as a session token (and as an `Authorization`
//! header), verified against a fixed PEM key with no network. Never a panic;
//! nothing but the one valid token is admitted.
#![no_main]

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue};
use clerk_guard::testing::TestKey;
use clerk_guard::{ClerkConfig, ClerkVerifier};
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

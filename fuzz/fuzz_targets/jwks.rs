//! The key-set parser: any bytes as a JWKS body. Never a panic; anything it
//! uses is an RSA key the parser accepted (checked again by the property
//! tests against an independent statement of the rules).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(kids) = clerk_guard::testing::usable_jwks_kids(body) {
        assert!(!kids.is_empty(), "a key set is never empty");
    }
});

//! The one-pass claims reader against serde_json: any UTF-8 as a token
//! payload. The one-pass reader may leave a payload to serde_json, but it
//! never accepts one serde_json refuses and never reads a different value
//! (`check_claims_reader` panics if it does).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    if let Ok(payload) = std::str::from_utf8(payload) {
        clerk_guard::testing::check_claims_reader(payload);
    }
});

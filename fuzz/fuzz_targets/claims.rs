//! The one-pass claims reader against the claim map: any UTF-8 as a token
//! payload. The one-pass reader may leave a payload to the map reader, but
//! it never accepts one the map reader (serde_json into the whole claim map)
//! refuses and never reads a different value (`check_claims_reader` panics
//! if it does).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|payload: &[u8]| {
    if let Ok(payload) = std::str::from_utf8(payload) {
        clerk_guard::testing::check_claims_reader(payload);
    }
});

//! The guards' quick classification against Clerk's reading: any header and
//! payload bytes (split at the first NUL) as a token's, base64url-encoded.
//! `check_classification` panics if the two give the token different
//! classes (session, M2M JWT, OAuth JWT).
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, payload) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&data[..0], data),
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = format!("{}.{}.c2ln", b64.encode(header), b64.encode(payload));
    clerk_guard::testing::check_classification(&token);
});

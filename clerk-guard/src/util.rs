//! Leaves every layer may use: a lock that survives poisoning, the wall
//! clock, and strict base64url.

use std::mem::MaybeUninit;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Locks `mutex`, taking the data of a poisoned one: every structure guarded
/// here stays consistent between statements, so a panic elsewhere must not
/// turn into a panic on every later request.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Seconds since the Unix epoch, as JWT time claims count them.
pub(crate) fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Strict base64url without padding (canonical trailing bits), as JWTs use.
pub(crate) const B64URL: base64_simd::Base64 = base64_simd::URL_SAFE_NO_PAD;

/// Decodes `b64` into `buf`, or `None` if it is not base64url or does not
/// fit. The buffer is left uninitialised (no memset per request): the
/// decoder writes the bytes it hands back.
pub(crate) fn decode_on_stack<'a>(b64: &str, buf: &'a mut [MaybeUninit<u8>]) -> Option<&'a [u8]> {
    let len = B64URL.decoded_length(b64.as_bytes()).ok()?;
    if len > buf.len() {
        return None;
    }
    let out = base64_simd::Out::from_uninit_slice(buf);
    B64URL.decode(b64.as_bytes(), out).ok().map(|bytes| &*bytes)
}

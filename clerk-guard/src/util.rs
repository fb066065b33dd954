//! Leaves every layer may use: a lock that survives poisoning, the wall
//! clock, and strict base64url.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer};

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

/// For `#[serde(default, deserialize_with = "present")]`: a field that is
/// present must have its type, so `null` is refused rather than read as
/// "absent".
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Lets a message through at most once per `every`: for logs an attacker can
/// provoke on every request.
#[derive(Debug)]
pub(crate) struct Throttle {
    every: Duration,
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl Throttle {
    pub(crate) const fn new(every: Duration) -> Self {
        Self {
            every,
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(how many were held back since the last one)` when this one may
    /// be logged.
    pub(crate) fn allow(&self) -> Option<u64> {
        let mut last = lock(&self.last);
        if last.is_some_and(|at| at.elapsed() < self.every) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        *last = Some(Instant::now());
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_lets_one_through_per_period_and_counts_the_rest() {
        let throttle = Throttle::new(Duration::from_secs(3600));
        assert_eq!(throttle.allow(), Some(0));
        assert_eq!(throttle.allow(), None);
        assert_eq!(throttle.allow(), None);
        // The period has passed.
        *lock(&throttle.last) = Instant::now().checked_sub(Duration::from_secs(3601));
        assert_eq!(throttle.allow(), Some(2));
        assert_eq!(throttle.allow(), None);
    }
}

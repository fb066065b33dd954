//! What the in-process benches share: polling a future that must not
//! wait, and medians of interleaved batches.

// Each bench uses a part of it.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use clerk_guard::testing::TestIssuer;

/// Rounds of batches each `interleaved` run takes.
pub const ROUNDS: usize = 400;
/// Requests per batch.
pub const BATCH: usize = 50;

/// Polls a future that completes without waiting (keys or tokens cached).
pub fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("waited on I/O: keys or tokens were not cached"),
    }
}

/// Median nanoseconds per call of each of `runs`, batches interleaved so
/// the machine's drift falls on all of them.
pub fn interleaved(runs: &mut [&mut dyn FnMut(usize)]) -> Vec<f64> {
    rounds(runs, ROUNDS)
        .into_iter()
        .map(|mut t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect()
}

/// Nanoseconds per call of each of `runs` in each of `rounds` rounds (a
/// batch of each run per round, in turn).
pub fn rounds(runs: &mut [&mut dyn FnMut(usize)], rounds: usize) -> Vec<Vec<f64>> {
    let mut times = vec![Vec::with_capacity(rounds); runs.len()];
    for round in 0..rounds {
        for (run, times) in runs.iter_mut().zip(&mut times) {
            let start = Instant::now();
            for i in 0..BATCH {
                run(round * BATCH + i);
            }
            times.push(start.elapsed().as_nanos() as f64 / BATCH as f64);
        }
    }
    times
}

/// The floor of `benches/compare.sh` (a copy of `benches/peers`' `floor`:
/// that crate stays outside the workspace; change both together): one
/// RS256 check with a key parsed once.
pub async fn floor(
    axum::extract::State(key): axum::extract::State<
        std::sync::Arc<aws_lc_rs::signature::ParsedPublicKey>,
    >,
    headers: axum::http::HeaderMap,
) -> Result<&'static str, axum::http::StatusCode> {
    use base64::Engine as _;
    let unauthorized = axum::http::StatusCode::UNAUTHORIZED;
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(unauthorized)?;
    let (signed, signature) = token.rsplit_once('.').ok_or(unauthorized)?;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| unauthorized)?;
    key.verify_sig(signed.as_bytes(), &signature)
        .map_err(|_| unauthorized)?;
    Ok("ok")
}

/// 64 session tokens of distinct users, valid for an hour.
pub fn tokens(issuer: &TestIssuer) -> Vec<String> {
    (0..64)
        .map(|i| {
            issuer
                .token()
                .subject(&format!("user_{i}"))
                .expires_in(3600)
                .sign()
        })
        .collect()
}

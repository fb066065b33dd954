//! What the in-process benches share: polling a future that must not
//! wait, and medians of interleaved batches.

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
    let mut times = vec![Vec::with_capacity(ROUNDS); runs.len()];
    for round in 0..ROUNDS {
        for (run, times) in runs.iter_mut().zip(&mut times) {
            let start = Instant::now();
            for i in 0..BATCH {
                run(round * BATCH + i);
            }
            times.push(start.elapsed().as_nanos() as f64 / BATCH as f64);
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect()
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

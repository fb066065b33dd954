//! [`ReplayGuard`]: each delivery's message id handled once within the
//! window its signature is valid in, in memory.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::verifier::WEBHOOK_TOLERANCE_SECS;
use crate::util::{lock, Throttle};

/// How many message ids a guard remembers by default.
const DEFAULT_CAPACITY: usize = 10_000;

/// Handles each webhook delivery once: a message id already answered with
/// a 2xx, delivered again while its signature is still valid (5 minutes),
/// gets `200` without the handler being called; one being handled right
/// now gets `409 webhook-delivery-in-progress` (Clerk retries it later).
/// An id whose handler failed (non-2xx, or the request was dropped) is
/// forgotten, so Clerk's retry runs the handler again.
///
/// It remembers at most `capacity` ids (default 10 000; the oldest answered
/// ones go first), in this process only: for a durable guarantee, keep the
/// id ([`WebhookEvent::id`](super::WebhookEvent::id)) as a unique key in
/// your database.
///
/// ```
/// use axum::{routing::post, Router};
/// use clerk_guard::webhooks::{ClerkWebhook, ReplayGuard};
///
/// async fn clerk_events(event: ClerkWebhook) {}
///
/// let app: Router = Router::new()
///     .route("/webhooks/clerk", post(clerk_events))
///     .layer(ReplayGuard::new());
/// ```
#[derive(Clone, Debug)]
pub struct ReplayGuard {
    state: Arc<Mutex<Seen>>,
}

#[derive(Debug)]
struct Seen {
    entries: HashMap<String, Entry>,
    capacity: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Entry {
    /// A handler has it now; forgotten after `until` regardless.
    InFlight { until: i64 },
    /// Answered with a 2xx; a replay is refused by its timestamp after `until`.
    Done { until: i64 },
}

impl Entry {
    fn until(self) -> i64 {
        match self {
            Entry::InFlight { until } | Entry::Done { until } => until,
        }
    }
}

/// What the guard says about a delivery.
#[derive(Debug, PartialEq)]
pub(crate) enum Claim {
    /// First time: the handler runs.
    Fresh,
    /// Answered before.
    Done,
    /// Being handled now.
    InFlight,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayGuard {
    /// A guard remembering up to 10 000 ids.
    ///
    /// ```
    /// let guard = clerk_guard::webhooks::ReplayGuard::new();
    /// ```
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A guard remembering up to `capacity` ids (at least 1).
    ///
    /// ```
    /// let guard = clerk_guard::webhooks::ReplayGuard::with_capacity(100_000);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(Seen {
                entries: HashMap::new(),
                capacity: capacity.max(1),
            })),
        }
    }

    /// How many ids it remembers now (answered or in flight, not yet expired).
    ///
    /// ```
    /// assert_eq!(clerk_guard::webhooks::ReplayGuard::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        lock(&self.state).entries.len()
    }

    /// Whether it remembers no id.
    ///
    /// ```
    /// assert!(clerk_guard::webhooks::ReplayGuard::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Claims `id` (signed at `signed_at`) for a handler.
    fn claim(&self, id: &str, signed_at: i64, now: i64) -> Claim {
        let until = signed_at + WEBHOOK_TOLERANCE_SECS + 1;
        let mut seen = lock(&self.state);
        match seen.entries.get(id).copied() {
            Some(entry) if entry.until() > now => {
                return match entry {
                    Entry::Done { .. } => Claim::Done,
                    Entry::InFlight { .. } => Claim::InFlight,
                }
            }
            _ => {}
        }
        seen.make_room(now);
        seen.entries
            .insert(id.to_owned(), Entry::InFlight { until });
        Claim::Fresh
    }

    /// The handler of a claimed `id` answered: remembered on success,
    /// forgotten otherwise (so a retry runs the handler).
    fn finish(&self, id: &str, success: bool) {
        let mut seen = lock(&self.state);
        match (success, seen.entries.get_mut(id)) {
            (true, Some(entry)) => {
                *entry = Entry::Done {
                    until: entry.until(),
                }
            }
            (false, Some(_)) => {
                seen.entries.remove(id);
            }
            (_, None) => {}
        }
    }
}

impl Seen {
    /// Drops expired ids; when still full, the answered id expiring first.
    fn make_room(&mut self, now: i64) {
        if self.entries.len() < self.capacity {
            return;
        }
        self.entries.retain(|_, entry| entry.until() > now);
        if self.entries.len() < self.capacity {
            return;
        }
        static FULL: Throttle = Throttle::new(std::time::Duration::from_secs(60));
        if FULL.allow().is_some() {
            tracing::warn!(
                capacity = self.capacity,
                "clerk-guard: the webhook replay guard is full; forgetting the oldest answered ids"
            );
        }
        let oldest = self
            .entries
            .iter()
            .filter(|(_, entry)| matches!(entry, Entry::Done { .. }))
            .min_by_key(|(_, entry)| entry.until())
            .map(|(id, _)| id.clone());
        if let Some(id) = oldest {
            self.entries.remove(&id);
        }
    }
}

/// The guard's hold on one request: set by [`ClerkWebhook`](super::ClerkWebhook)
/// once the delivery is verified, settled when the response is ready.
#[derive(Clone, Debug)]
pub(crate) struct Slot(Arc<SlotInner>);

#[derive(Debug)]
struct SlotInner {
    guard: ReplayGuard,
    claimed: Mutex<Option<String>>,
}

impl Slot {
    /// Claims the verified delivery `id` for this request.
    pub(crate) fn claim(&self, id: &str, signed_at: i64, now: i64) -> Claim {
        let claim = self.0.guard.claim(id, signed_at, now);
        if claim == Claim::Fresh {
            *lock(&self.0.claimed) = Some(id.to_owned());
        }
        claim
    }

    fn settle(&self, success: bool) {
        if let Some(id) = lock(&self.0.claimed).take() {
            self.0.guard.finish(&id, success);
        }
    }
}

/// Settles the slot when the response is ready, or as failed if the
/// request is dropped first (a client gone, a panic).
struct Settle(Slot);

impl Drop for Settle {
    fn drop(&mut self) {
        self.0.settle(false);
    }
}

impl<S> Layer<S> for ReplayGuard {
    type Service = ReplayService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ReplayService {
            inner,
            guard: self.clone(),
        }
    }
}

/// The service [`ReplayGuard`] wraps a route in.
///
/// ```
/// use tower_layer::Layer;
/// # async fn clerk_events(event: clerk_guard::webhooks::ClerkWebhook) {}
/// use clerk_guard::webhooks::{ReplayGuard, ReplayService};
///
/// let route: axum::routing::MethodRouter = axum::routing::post(clerk_events);
/// let service: ReplayService<_> = ReplayGuard::new().layer(route);
/// ```
#[derive(Clone, Debug)]
pub struct ReplayService<S> {
    inner: S,
    guard: ReplayGuard,
}

impl<S, B, R> Service<Request<B>> for ReplayService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let slot = Slot(Arc::new(SlotInner {
            guard: self.guard.clone(),
            claimed: Mutex::new(None),
        }));
        request.extensions_mut().insert(slot.clone());
        let settle = Settle(slot);
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            if let Ok(response) = &response {
                settle.0.settle(response.status().is_success());
            }
            drop(settle);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_ids_are_refused_until_their_signature_expires() {
        let guard = ReplayGuard::new();
        assert_eq!(guard.claim("msg_1", 1000, 1000), Claim::Fresh);
        assert_eq!(guard.claim("msg_1", 1000, 1000), Claim::InFlight);
        guard.finish("msg_1", true);
        assert_eq!(guard.claim("msg_1", 1000, 1300), Claim::Done);
        assert_eq!(guard.claim("msg_1", 1400, 1301), Claim::Fresh);
    }

    #[test]
    fn failed_ids_are_forgotten() {
        let guard = ReplayGuard::new();
        assert_eq!(guard.claim("msg_1", 1000, 1000), Claim::Fresh);
        guard.finish("msg_1", false);
        assert_eq!(guard.claim("msg_1", 1010, 1010), Claim::Fresh);
    }

    #[test]
    fn memory_is_bounded_by_the_capacity() {
        let guard = ReplayGuard::with_capacity(3);
        for (i, id) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            assert_eq!(guard.claim(id, 1000 + i as i64, 1000), Claim::Fresh);
            guard.finish(id, true);
            assert!(guard.len() <= 3);
        }
        // The oldest answered ones went first.
        assert_eq!(guard.claim("e", 1000, 1000), Claim::Done);
        assert_eq!(guard.claim("a", 1000, 1000), Claim::Fresh);
    }
}

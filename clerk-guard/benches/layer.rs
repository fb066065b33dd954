//! What `ClerkLayer` costs a request that passes (a warm session token: its
//! verification comes from the token cache), measured interleaved so the
//! machine's drift cancels out: batches of 50 requests alternate between a
//! service and the same service behind the layer, 400 rounds, in process
//! (futures polled once: nothing waits). Two services: an axum router (the
//! layer's axum path) and a plain tower service answering `Full<Bytes>`
//! (the generic path a hyper or tonic service takes).
//!
//! `cargo bench -p clerk-guard --features testing --bench layer`
//!
//! With `LAYER_LOOP=n` it runs `n` requests of each inside `measured_*`
//! functions and exits, for callgrind (`benches/instructions.sh layer`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{Request, Response};
use axum::Router;
use clerk_guard::testing::TestIssuer;
use clerk_guard::{ClerkLayer, ClerkVerifier};
use http_body_util::Full;
use tower_layer::Layer as _;
use tower_service::Service;

mod common;

use common::{interleaved, ready};

/// A plain tower service with its own body type.
#[derive(Clone)]
struct Plain;

impl<B> Service<Request<B>> for Plain {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(b"ok")))))
    }
}

macro_rules! measured {
    ($($name:ident),*) => {$(
        #[inline(never)]
        fn $name(run: &mut dyn FnMut(usize), n: usize) {
            for i in 0..n {
                run(i);
            }
        }
    )*};
}
measured!(
    measured_router,
    measured_router_layer,
    measured_plain,
    measured_plain_layer
);

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let issuer = runtime.block_on(TestIssuer::start()).unwrap();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let tokens = common::tokens(&issuer);
    for token in &tokens {
        runtime.block_on(verifier.verify(token)).unwrap();
    }
    let request = |i: usize| {
        Request::builder()
            .uri("/")
            .header("authorization", format!("Bearer {}", tokens[i % 64]))
            .body(Body::empty())
            .unwrap()
    };
    let layer = ClerkLayer::required().with_verifier(verifier);
    let ok = || async { "ok" };
    let mut router = Router::new().route("/", axum::routing::get(ok));
    let mut router_layer = Router::new()
        .route("/", axum::routing::get(ok))
        .layer(layer.clone());
    let mut plain = Plain;
    let mut plain_layer = layer.layer(Plain);
    let mut run_router = |i| assert_eq!(ready(router.call(request(i))).unwrap().status(), 200);
    let mut run_router_layer =
        |i| assert_eq!(ready(router_layer.call(request(i))).unwrap().status(), 200);
    let mut run_plain = |i| assert_eq!(ready(plain.call(request(i))).unwrap().status(), 200);
    let mut run_plain_layer =
        |i| assert_eq!(ready(plain_layer.call(request(i))).unwrap().status(), 200);
    if let Ok(n) = std::env::var("LAYER_LOOP") {
        let n: usize = n.parse().expect("LAYER_LOOP: a number of requests");
        for i in 0..64 {
            run_router(i);
            run_router_layer(i);
            run_plain(i);
            run_plain_layer(i);
        }
        measured_router(&mut run_router, n);
        measured_router_layer(&mut run_router_layer, n);
        measured_plain(&mut run_plain, n);
        measured_plain_layer(&mut run_plain_layer, n);
        return;
    }
    let t = interleaved(&mut [
        &mut run_router,
        &mut run_router_layer,
        &mut run_plain,
        &mut run_plain_layer,
    ]);
    println!(
        "axum router: {:.0} ns, behind ClerkLayer (warm token) {:.0} ns: the layer adds {:.0} ns",
        t[0],
        t[1],
        t[1] - t[0]
    );
    println!(
        "tower service (Full<Bytes>): {:.0} ns, behind ClerkLayer (warm token) {:.0} ns: the layer adds {:.0} ns",
        t[2],
        t[3],
        t[3] - t[2]
    );
}

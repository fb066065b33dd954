//! The gRPC demo service `clerkguard.demo.v1.Demo` (see
//! `examples/proto/clerkguard/demo/v1/demo.proto`), written with prost
//! derives and tonic's server and client parts: no `protoc`, no build script.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http;
use clerk_guard::{ClerkAuth, ClerkExtensions, ClerkLayer, Reason, Requirement};
use tonic::body::Body;
use tonic::server::NamedService;
use tonic_prost::ProstCodec;

/// The package and service name.
pub const SERVICE: &str = "clerkguard.demo.v1.Demo";
/// `WhoAmI`: any signed-in caller.
pub const WHO_AM_I: &str = "/clerkguard.demo.v1.Demo/WhoAmI";
/// `Admin`: a session with the role `admin`.
pub const ADMIN: &str = "/clerkguard.demo.v1.Demo/Admin";

/// `message Empty {}`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

/// `message Subject { string subject = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Subject {
    /// The caller's subject: `user_…` for a session, `mch_…` for a machine.
    #[prost(string, tag = "1")]
    pub subject: String,
}

/// The `Admin` method's requirement: the application role `admin`.
#[derive(Debug)]
pub struct Admin;

impl Requirement for Admin {
    fn check(auth: &ClerkAuth) -> Result<(), Reason> {
        auth.has_role("admin")
            .then_some(())
            .ok_or(Reason::MissingRole)
    }
}

/// The layer in front of the service: every kind of token, and `Admin`
/// required on the `Admin` method.
pub fn layer() -> ClerkLayer {
    ClerkLayer::required()
        .accepts(clerk_guard::Accepts::ANY)
        .require_for::<Admin>(ADMIN)
}

/// Both methods answer with the caller the layer admitted.
fn subject(request: tonic::Request<Empty>) -> Result<tonic::Response<Subject>, tonic::Status> {
    let caller = request
        .extensions()
        .principal()
        .ok_or_else(|| tonic::Status::unauthenticated(Reason::TokenMissing.code()))?;
    Ok(tonic::Response::new(Subject {
        subject: caller.subject().to_owned(),
    }))
}

/// A unary method: a plain function of the request.
struct Method(fn(tonic::Request<Empty>) -> Result<tonic::Response<Subject>, tonic::Status>);

impl tower_service::Service<tonic::Request<Empty>> for Method {
    type Response = tonic::Response<Subject>;
    type Error = tonic::Status;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<Empty>) -> Self::Future {
        std::future::ready((self.0)(request))
    }
}

/// The `Demo` service, as tonic's generated servers are.
#[derive(Debug, Clone, Default)]
pub struct DemoServer;

impl NamedService for DemoServer {
    const NAME: &'static str = SERVICE;
}

impl<B> tower_service::Service<http::Request<B>> for DemoServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match request.uri().path() {
            WHO_AM_I | ADMIN => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(ProstCodec::<Subject, Empty>::default());
                Ok(grpc.unary(Method(subject), request).await)
            }),
            _ => Box::pin(
                async move { Ok(tonic::Status::unimplemented("no such method").into_http()) },
            ),
        }
    }
}

/// Calls `method` (`WHO_AM_I` or `ADMIN`) on `channel` with `token` as the
/// bearer token (none when `None`).
pub async fn call(
    channel: tonic::transport::Channel,
    method: &'static str,
    token: Option<&str>,
) -> Result<Subject, tonic::Status> {
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(Empty {});
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| tonic::Status::invalid_argument("the token is not a header value"))?;
        request.metadata_mut().insert("authorization", value);
    }
    let path = http::uri::PathAndQuery::from_static(method);
    client
        .unary(request, path, ProstCodec::<Empty, Subject>::default())
        .await
        .map(tonic::Response::into_inner)
}

//! ClerkLayer in front of a real tonic server and a plain hyper service,
//! over loopback: every kind of token and every refusal, as a tonic client
//! (and any gRPC client) sees them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed set-up should fail the test

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use clerk_guard::testing::{BackendApiMode, JwksMode, TestIssuer};
use clerk_guard::{ClerkExtensions, ClerkLayer, ClerkVerifier, Protocol, TokenKind};
use clerk_guard_examples::grpc::{call, layer, DemoServer, ADMIN, WHO_AM_I};
use clerk_guard_tests::{example_binary, KillOnDrop};
use http_body_util::Full;
use tonic::Code;

/// A tonic server on a free loopback port with `layer` in front of the demo
/// service, and a channel to it.
async fn grpc_server(layer: ClerkLayer) -> tonic::transport::Channel {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(DemoServer)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// `Ok(subject)` or `Err((code, message))`.
type Verdict = Result<String, (Code, String)>;

/// What `method` answers `token`.
async fn ask(
    channel: &tonic::transport::Channel,
    method: &'static str,
    token: Option<&str>,
) -> Verdict {
    call(channel.clone(), method, token)
        .await
        .map(|subject| subject.subject)
        .map_err(|status| (status.code(), status.message().to_owned()))
}

fn refused(code: Code, reason: &str) -> Verdict {
    Err((code, reason.to_owned()))
}

#[tokio::test]
async fn every_token_and_refusal_reaches_a_tonic_client_as_grpc() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let channel = grpc_server(layer().with_verifier(verifier)).await;

    let user = issuer.token().subject("user_plain").sign();
    let admin = issuer.token().subject("user_admin").roles(["admin"]).sign();
    let expired = issuer.token().subject("user_plain").expired().sign();
    let early = issuer.token().subject("user_plain").not_yet_valid().sign();
    let other = TestIssuer::start()
        .await
        .unwrap()
        .token()
        .subject("user_x")
        .sign();
    let m2m = issuer.m2m_token().subject("mch_worker").sign();
    let opaque = issuer.opaque(TokenKind::M2m).subject("mch_worker").mint();
    let api_key = issuer
        .opaque(TokenKind::ApiKey)
        .subject("user_plain")
        .mint();
    let unknown = "mt_0123456789abcdefghijklmnopqrstuv";
    let mut tampered = user.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");

    let cases: Vec<(&str, &'static str, Option<&str>, Verdict)> = vec![
        (
            "no token",
            WHO_AM_I,
            None,
            refused(Code::Unauthenticated, "token-missing"),
        ),
        (
            "malformed",
            WHO_AM_I,
            Some("not-a-token"),
            refused(Code::Unauthenticated, "token-invalid"),
        ),
        (
            "expired",
            WHO_AM_I,
            Some(&expired),
            refused(Code::Unauthenticated, "token-expired"),
        ),
        (
            "not yet valid",
            WHO_AM_I,
            Some(&early),
            refused(Code::Unauthenticated, "token-not-active-yet"),
        ),
        (
            "tampered",
            WHO_AM_I,
            Some(&tampered),
            refused(Code::Unauthenticated, "token-invalid-signature"),
        ),
        (
            "another instance",
            WHO_AM_I,
            Some(&other),
            refused(Code::Unauthenticated, "token-invalid-signature"),
        ),
        ("session", WHO_AM_I, Some(&user), Ok("user_plain".into())),
        (
            "session on Admin without the role",
            ADMIN,
            Some(&user),
            refused(Code::PermissionDenied, "missing-role"),
        ),
        ("admin", ADMIN, Some(&admin), Ok("user_admin".into())),
        ("M2M JWT", WHO_AM_I, Some(&m2m), Ok("mch_worker".into())),
        (
            "M2M JWT on Admin",
            ADMIN,
            Some(&m2m),
            refused(Code::Unauthenticated, "token-type-mismatch"),
        ),
        (
            "opaque M2M",
            WHO_AM_I,
            Some(&opaque),
            Ok("mch_worker".into()),
        ),
        ("API key", WHO_AM_I, Some(&api_key), Ok("user_plain".into())),
        (
            "unknown opaque token",
            WHO_AM_I,
            Some(unknown),
            refused(Code::Unauthenticated, "token-invalid"),
        ),
    ];
    for (name, method, token, expected) in cases {
        assert_eq!(ask(&channel, method, token).await, expected, "{name}");
    }
}

#[tokio::test]
async fn outages_are_unavailable_with_retry_after() {
    let issuer = TestIssuer::start().await.unwrap();
    issuer.set_mode(JwksMode::Status(500));
    issuer.set_backend_api_mode(BackendApiMode::Status(500));
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let channel = grpc_server(layer().with_verifier(verifier)).await;

    let token = issuer.token().sign();
    let status = call(channel.clone(), WHO_AM_I, Some(&token))
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unavailable, "jwk-remote-failed-to-load")
    );
    let retry: u64 = status
        .metadata()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");

    let opaque = issuer.opaque(TokenKind::M2m).mint();
    let status = call(channel, WHO_AM_I, Some(&opaque)).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unavailable, "backend-api-unavailable")
    );
}

#[tokio::test]
async fn a_renderer_sees_the_protocol_and_requirements_apply_per_service() {
    let issuer = TestIssuer::start().await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let verifier = ClerkVerifier::new(
        issuer
            .config()
            .rejection_response(move |r| {
                log.lock().unwrap().push((r.protocol(), r.reason().code()));
                r.default_response()
            })
            .build()
            .unwrap(),
    )
    .unwrap();
    // The whole service requires the admin role.
    let whole = ClerkLayer::required()
        .with_verifier(verifier)
        .require::<clerk_guard_examples::grpc::Admin>();
    let channel = grpc_server(whole).await;
    let user = issuer.token().subject("user_plain").sign();
    assert_eq!(
        ask(&channel, WHO_AM_I, Some(&user)).await,
        refused(Code::PermissionDenied, "missing-role")
    );
    assert_eq!(
        ask(&channel, WHO_AM_I, None).await,
        refused(Code::Unauthenticated, "token-missing")
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (Protocol::Grpc, "missing-role"),
            (Protocol::Grpc, "token-missing")
        ]
    );
    // A refusal inside a method, as a tonic Status.
    let status = tonic::Status::from(clerk_guard::AuthRejection::new(
        clerk_guard::Reason::MissingScope,
    ));
    assert_eq!(
        (status.code(), status.message()),
        (Code::PermissionDenied, "missing-scope")
    );
}

/// A plain hyper service: the caller, or "anonymous".
async fn hello(
    request: axum::http::Request<hyper::body::Incoming>,
) -> Result<axum::http::Response<Full<Bytes>>, std::convert::Infallible> {
    let who = request
        .extensions()
        .principal()
        .map_or("anonymous".to_owned(), |p| p.subject().to_owned());
    Ok(axum::http::Response::new(Full::new(Bytes::from(who))))
}

#[tokio::test]
async fn a_plain_hyper_service_behind_the_layer() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = ClerkVerifier::new(issuer.config().build().unwrap()).unwrap();
    let service = tower::ServiceBuilder::new()
        .layer(ClerkLayer::required().with_verifier(verifier))
        .service_fn(hello);
    // The service's own body type comes out: no boxing for requests that pass.
    fn answers_full<S>(_: &S)
    where
        S: tower::Service<
            axum::http::Request<hyper::body::Incoming>,
            Response = axum::http::Response<Full<Bytes>>,
        >,
    {
    }
    answers_full(&service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/hello");
    let token = issuer.token().subject("user_hyper").sign();
    let ok = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(
        (ok.status().as_u16(), ok.text().await.unwrap()),
        (200, "user_hyper".to_owned())
    );
    let missing = client.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["reason"], "token-missing");
    // A gRPC request to it is refused the gRPC way.
    let grpc = client
        .post(&url)
        .header("content-type", "application/grpc")
        .send()
        .await
        .unwrap();
    assert_eq!(grpc.status(), 200);
    assert_eq!(grpc.headers()["grpc-status"], "16");
    assert_eq!(grpc.headers()["grpc-message"], "token-missing");
    assert!(grpc.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn every_printed_grpcurl_line_answers_as_printed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(example_binary("grpc"));
    command
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped());
    for var in clerk_guard_examples::KEY_SOURCE_VARS {
        command.env_remove(var);
    }
    let mut child = KillOnDrop(command.spawn().unwrap());
    let stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut expected = String::new();
    let mut checks = Vec::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(comment) = line.strip_prefix("# ") {
            expected = comment.split_once(": ").unwrap().1.to_owned();
        } else if line.starts_with("grpcurl ") {
            let token = line
                .split_once("Bearer ")
                .map(|(_, rest)| rest.split('\'').next().unwrap().to_owned());
            let method = line.rsplit('/').next().unwrap().to_owned();
            // "WhoAmI OK, Admin PERMISSION_DENIED missing-role"
            let outcome = expected
                .split(", ")
                .find_map(|part| part.strip_prefix(&format!("{method} ")))
                .unwrap()
                .to_owned();
            checks.push((method, token, outcome));
        } else if line.starts_with("listening on") {
            break;
        }
    }
    assert_eq!(checks.len(), 10, "7 callers, 3 of them on both methods");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    for (method, token, outcome) in checks {
        let path = if method == "Admin" { ADMIN } else { WHO_AM_I };
        let got = match call(channel.clone(), path, token.as_deref()).await {
            Ok(_) => "OK".to_owned(),
            Err(status) => format!(
                "{} {}",
                match status.code() {
                    Code::Unauthenticated => "UNAUTHENTICATED",
                    Code::PermissionDenied => "PERMISSION_DENIED",
                    Code::Unavailable => "UNAVAILABLE",
                    other => panic!("{other:?}"),
                },
                status.message()
            ),
        };
        assert_eq!(got, outcome, "{method} with token: {}", token.is_some());
    }
}

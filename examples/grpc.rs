//! A gRPC service protected by clerk-guard. `cargo run --example grpc`
//!
//! Serves `clerkguard.demo.v1.Demo` (`examples/proto/clerkguard/demo/v1/demo.proto`)
//! over plaintext HTTP/2 on 127.0.0.1:$PORT (default 50051): `WhoAmI` for any
//! signed-in caller (session or machine), `Admin` for sessions with the role
//! `admin`. With Clerk settings in the environment (`CLERK_PUBLISHABLE_KEY`,
//! `CLERK_JWKS_URL`, `CLERK_ISSUER`, `CLERK_AUTHORIZED_PARTIES`, …) it
//! verifies those; without, it starts a local issuer and prints `grpcurl`
//! lines with fresh tokens and the status each gets.

use clerk_guard::TokenKind;
use clerk_guard_examples::grpc::{layer, DemoServer};
use clerk_guard_examples::{configure, init_tracing, listen};
use tonic::transport::server::TcpIncoming;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_tracing();
    let issuer = configure().await?;
    let listener = listen(50051).await?;
    let addr = listener.local_addr()?;

    if let Some(issuer) = &issuer {
        let hour = 3600;
        let grpcurl = |token: Option<&str>, method: &str| {
            let header = token.map_or(String::new(), |t| {
                format!("-H 'authorization: Bearer {t}' ")
            });
            format!(
                "grpcurl -plaintext -import-path examples/proto -proto clerkguard/demo/v1/demo.proto \
                 {header}{addr} clerkguard.demo.v1.Demo/{method}"
            )
        };
        let user = issuer.token().subject("user_plain").expires_in(hour).sign();
        let admin = issuer
            .token()
            .subject("user_admin")
            .roles(["admin"])
            .expires_in(hour)
            .sign();
        let expired = issuer.token().subject("user_plain").expired().sign();
        let m2m = issuer
            .m2m_token()
            .subject("mch_worker")
            .expires_in(hour)
            .sign();
        let opaque = issuer.opaque(TokenKind::M2m).subject("mch_worker").mint();
        println!("\nNo Clerk settings found: the tokens below come from an embedded local issuer");
        println!("and are valid for one hour. Paste any line (grpcurl: github.com/fullstorydev/grpcurl):\n");
        let cases: [(&str, Option<&str>, &str); 7] = [
            ("no token: WhoAmI UNAUTHENTICATED token-missing", None, "WhoAmI"),
            ("an expired token: WhoAmI UNAUTHENTICATED token-expired", Some(&expired), "WhoAmI"),
            ("a plain user (user_plain): WhoAmI OK, Admin PERMISSION_DENIED missing-role", Some(&user), "WhoAmI Admin"),
            ("an admin (user_admin): WhoAmI OK, Admin OK", Some(&admin), "WhoAmI Admin"),
            ("a machine with an M2M JWT (mch_worker): WhoAmI OK, Admin UNAUTHENTICATED token-type-mismatch", Some(&m2m), "WhoAmI Admin"),
            ("the same machine with an opaque M2M token: WhoAmI OK", Some(&opaque), "WhoAmI"),
            ("a token of another issuer: WhoAmI UNAUTHENTICATED token-invalid-signature", Some("eyJhbGciOiJSUzI1NiIsImtpZCI6Imluc190ZXN0XzEiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ1c2VyX3gifQ.c2lnbmF0dXJl"), "WhoAmI"),
        ];
        for (comment, token, methods) in cases {
            println!("# {comment}");
            for method in methods.split(' ') {
                println!("{}", grpcurl(token, method));
            }
            println!();
        }
    }
    println!("listening on http://{addr} (gRPC, plaintext HTTP/2)");
    tonic::transport::Server::builder()
        .layer(layer())
        .add_service(DemoServer)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

//! Serves the same protected route three ways for `benches/peers.sh`:
//! clerk-guard (token cache on, and off) and jwt-authorizer, all verifying
//! against one local issuer's JWKS. Writes a token to `$TOKEN_OUT`.

use clerk_guard::testing::TestIssuer;
use clerk_guard::{clerk_protected, ClerkAuth, ClerkVerifier};
use jwt_authorizer::{IntoLayer, JwtAuthorizer, JwtClaims, Validation};

#[clerk_protected]
async fn protected(auth: ClerkAuth) -> String {
    auth.user_id().to_owned()
}

async fn peer_protected(JwtClaims(claims): JwtClaims<serde_json::Value>) -> String {
    claims["sub"].as_str().unwrap_or_default().to_owned()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = TestIssuer::start().await?;
    let token = issuer.token().expires_in(3600).sign();
    std::fs::write(std::env::var("TOKEN_OUT").unwrap_or_else(|_| "token.txt".into()), &token)?;

    for (port, cache) in [(3201u16, clerk_guard::DEFAULT_TOKEN_CACHE_BYTES), (3202, 0)] {
        let verifier = ClerkVerifier::new(issuer.config().token_cache_bytes(cache).build()?)?;
        let app = axum::Router::new()
            .route("/protected", axum::routing::get(protected))
            .layer(axum::Extension(verifier));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        tokio::spawn(async move { axum::serve(listener, app).await });
    }

    let authorizer = JwtAuthorizer::<serde_json::Value>::from_jwks_url(&issuer.jwks_url())
        .validation(Validation::new().iss(&[issuer.issuer()]).leeway(5))
        .build()
        .await?;
    let app = axum07::Router::new()
        .route("/protected", axum07::routing::get(peer_protected))
        .layer(authorizer.into_layer());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 3203)).await?;
    println!("ready");
    axum07::serve(listener, app).await?;
    Ok(())
}

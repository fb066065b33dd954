//! Shared set-up for the runnable examples: configuration from the
//! environment, or the testing kit's local issuer when no Clerk settings are
//! present, plus logging and serving.

pub mod grpc;
pub mod guide;

use std::error::Error;

use clerk_guard::testing::TestIssuer;
use clerk_guard::ClerkConfig;

/// The variables that name a key source; with none of them set, the examples
/// run against an embedded local issuer.
pub const KEY_SOURCE_VARS: [&str; 4] = [
    "CLERK_JWT_KEY",
    "CLERK_JWKS_URL",
    "CLERK_PUBLISHABLE_KEY",
    "CLERK_SECRET_KEY",
];

/// Logs with `tracing`, honouring `RUST_LOG` (default: info, and debug for
/// clerk_guard so rejection reasons show), in colour on a terminal only.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,clerk_guard=debug"));
    // Colour only where a terminal shows it, not in a pipe or a file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .init();
}

/// Initialises the global verifier: from the environment when a key source
/// is set, otherwise from a local issuer started here (returned, so the
/// caller can mint tokens and keep it alive).
pub async fn configure() -> Result<Option<TestIssuer>, Box<dyn Error>> {
    let configured = KEY_SOURCE_VARS
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|value| !value.trim().is_empty()));
    if configured {
        clerk_guard::init(ClerkConfig::from_env()?)?;
        tracing::info!(
            "verifying Clerk tokens with the configuration from the environment \
             (RUST_LOG=debug shows why each request is refused)"
        );
        return Ok(None);
    }
    let issuer = TestIssuer::start().await?;
    issuer.set_session_lifetime(std::time::Duration::from_secs(session_seconds()));
    // Pages too: its sign-in page and Frontend API stand in for Clerk's.
    clerk_guard::init(issuer.browser_config().build()?)?;
    tracing::info!(
        jwks = %issuer.jwks_url(),
        "no Clerk settings found: using an embedded local issuer \
         (RUST_LOG=debug shows why each request is refused)"
    );
    Ok(Some(issuer))
}

/// How long the embedded issuer's browser sessions live, in seconds
/// (`QUICKSTART_SESSION_SECONDS`, default 60 as Clerk's): short ones show
/// the handshake sooner.
pub fn session_seconds() -> u64 {
    std::env::var("QUICKSTART_SESSION_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(60)
}

/// A listener on `127.0.0.1:$PORT` (default `default_port`).
pub async fn listen(default_port: u16) -> Result<tokio::net::TcpListener, Box<dyn Error>> {
    let port = match std::env::var("PORT") {
        Ok(port) => port
            .parse::<u16>()
            .map_err(|_| format!("PORT={port} is not a port number"))?,
        Err(_) => default_port,
    };
    Ok(tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            format!("cannot listen on 127.0.0.1:{port}: {e} (set PORT to use another port)")
        })?)
}

/// Serves `app` on `127.0.0.1:$PORT` (default `default_port`) until Ctrl-C.
pub async fn serve(app: axum::Router, default_port: u16) -> Result<(), Box<dyn Error>> {
    let listener = listen(default_port).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The whole `main` of a one-route example: logging, configuration (the
/// local issuer when no Clerk settings are set, kept alive while serving),
/// the `NAME=token` lines that `tokens` mints with it, then serving `app`.
pub async fn run(
    app: axum::Router,
    default_port: u16,
    tokens: impl FnOnce(&TestIssuer) -> Vec<(&'static str, String)>,
) -> Result<(), Box<dyn Error>> {
    init_tracing();
    let issuer = configure().await?;
    if let Some(issuer) = &issuer {
        for (name, token) in tokens(issuer) {
            println!("{name}={token}");
        }
    }
    serve(app, default_port).await
}

//! A protected axum API in a few lines. `cargo run --example quickstart`
//!
//! With Clerk settings in the environment (`CLERK_PUBLISHABLE_KEY`, …) it
//! verifies your instance's session tokens. Without them it starts a local
//! issuer and prints `curl` commands with tokens for every route. Its OpenAPI
//! spec is at `/openapi.json` and a Scalar page at `/docs`: each
//! `#[clerk_protected]` above `#[utoipa::path]` documents its own security.

use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use clerk_guard::openapi::ClerkSecurity;
use clerk_guard::webhooks::{ClerkEvent, ClerkWebhook, ReplayGuard, UserEvent};
use clerk_guard::{clerk_protected, ClerkAuth, Principal};
use std::sync::Arc;

use clerk_guard_examples::guide::{self, dev_token_route};
use clerk_guard_examples::{configure, init_tracing, serve, session_seconds};
use serde_json::{json, Value};
use utoipa::OpenApi;
use utoipa_scalar::{Scalar, Servable};

#[utoipa::path(get, path = "/public", responses((status = 200, description = "Public text")))]
async fn public() -> &'static str {
    "anyone can read this\n"
}

/// Any signed-in user.
#[clerk_protected]
#[utoipa::path(get, path = "/me", responses((status = 200, description = "The caller's identity")))]
async fn me(auth: ClerkAuth) -> Json<Value> {
    Json(json!({
        "sub": auth.user_id(),
        "sid": auth.session_id(),
        "org_id": auth.org().map(|org| org.id()),
        "org_role": auth.org().and_then(|org| org.role()),
        "roles": auth.roles(),
    }))
}

/// Signed in or not: anonymous callers get `null`.
#[clerk_protected(optional)]
#[utoipa::path(get, path = "/maybe", responses((status = 200, description = "The caller, or null")))]
async fn maybe(auth: Option<ClerkAuth>) -> Json<Value> {
    Json(json!({ "sub": auth.as_ref().map(|a| a.user_id()) }))
}

/// Users with the application role `admin`.
#[clerk_protected(roles = "admin")]
#[utoipa::path(get, path = "/admin", responses((status = 200, description = "Admins only")))]
async fn admin(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "admin": auth.user_id() }))
}

/// Members of the active organization allowed to manage billing.
#[clerk_protected(permissions = "org:billing:manage")]
#[utoipa::path(get, path = "/billing", responses((status = 200, description = "Billing managers")))]
async fn billing(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "billing_for": auth.org().map(|org| org.id()) }))
}

/// Sessions on the `pro` billing plan (`pla`).
#[clerk_protected(plan = "pro")]
#[utoipa::path(get, path = "/pro", responses((status = 200, description = "Pro plan")))]
async fn pro(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "pro": auth.user_id() }))
}

/// Sessions with the billing feature `reports` (`fea`), user or org scoped.
#[clerk_protected(feature = "reports")]
#[utoipa::path(get, path = "/reports", responses((status = 200, description = "Reports feature")))]
async fn reports(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "reports_for": auth.user_id() }))
}

/// A dangerous action: the second factor verified within 10 minutes
/// (Clerk's `strict`); otherwise Clerk's reverification body, which Clerk's
/// frontend `useReverification()` answers by prompting and retrying.
#[clerk_protected(reverification = "strict")]
#[utoipa::path(get, path = "/danger", responses((status = 200, description = "Confirmed by a recent second factor")))]
async fn danger(auth: ClerkAuth) -> Json<Value> {
    Json(json!({ "confirmed": auth.user_id() }))
}

/// A service-to-service route: M2M tokens only (JWT or opaque); answers
/// with the calling machine's id as `sub`.
#[clerk_protected(accepts = "m2m")]
#[utoipa::path(get, path = "/machine", responses((status = 200, description = "The calling machine")))]
async fn machine(caller: Principal) -> Json<Value> {
    let token = caller.machine();
    Json(json!({
        "sub": caller.subject(),
        "token_id": token.map(|m| m.id()),
        "scopes": caller.scopes(),
    }))
}

/// Any caller Clerk knows: a session, an M2M token, an OAuth access token or
/// an API key.
#[clerk_protected(accepts = ["session", "m2m", "oauth", "api_key"])]
#[utoipa::path(get, path = "/any", responses((status = 200, description = "Who called, and how")))]
async fn any(caller: Principal) -> Json<Value> {
    Json(json!({ "kind": caller.kind().clerk_name(), "sub": caller.subject() }))
}

/// A server-rendered page for browsers: a signed-out browser is sent to the
/// sign-in page and comes back; an expired session is renewed through
/// Clerk's handshake, so a tab left open stays signed in.
#[clerk_protected(sign_in_redirect)]
async fn dashboard(auth: ClerkAuth) -> Html<String> {
    let expires_in = auth.expires_at() as i64
        - std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
    Html(format!(
        "<!doctype html><html><head><title>Dashboard</title></head><body>\
         <h1>Dashboard</h1><p>Signed in as <strong id=\"user\">{}</strong>.</p>\
         <p id=\"session\">Session {}; its token expires in {expires_in} s. Reload after \
         that: you stay signed in (Clerk's handshake).</p></body></html>",
        auth.user_id(),
        auth.session_id().unwrap_or("-"),
    ))
}

/// Clerk's webhooks (in Clerk's dashboard: Webhooks, endpoint
/// `https://<your host>/webhooks/clerk`): only a delivery signed with the
/// endpoint's secret (`CLERK_WEBHOOK_SIGNING_SECRET`) reaches this handler,
/// typed; the replay guard runs each delivery once.
async fn clerk_webhook(event: ClerkWebhook) -> Result<Json<Value>, StatusCode> {
    match event.parse::<ClerkEvent>() {
        Ok(ClerkEvent::User(UserEvent::Created(user) | UserEvent::Updated(user))) => {
            tracing::info!(
                id = event.id(),
                "{}: upsert {} <{}>",
                event.kind(),
                user.id,
                user.primary_email().unwrap_or("-")
            );
        }
        Ok(ClerkEvent::User(UserEvent::Deleted(gone))) => {
            tracing::info!(
                id = event.id(),
                "user.deleted: delete {}",
                gone.id.as_deref().unwrap_or("-")
            );
        }
        Ok(_) => tracing::info!(id = event.id(), "{}: nothing to sync", event.kind()),
        Err(e) => {
            tracing::warn!(id = event.id(), "{}: unexpected data: {e}", event.kind());
            return Err(StatusCode::BAD_REQUEST);
        }
    }
    Ok(Json(json!({ "received": event.kind(), "id": event.id() })))
}

/// The quickstart's OpenAPI document, with Clerk's security on every
/// protected route.
#[derive(OpenApi)]
#[openapi(
    info(title = "clerk-guard quickstart"),
    paths(public, me, maybe, admin, billing, pro, reports, danger, machine, any),
    modifiers(&ClerkSecurity)
)]
struct ApiDoc;

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    init_tracing();
    let issuer = configure().await?;
    let app = Router::new()
        .route("/public", get(public))
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/admin", get(admin))
        .route("/billing", get(billing))
        .route("/pro", get(pro))
        .route("/reports", get(reports))
        .route("/danger", get(danger))
        .route("/machine", get(machine))
        .route("/any", get(any))
        .route("/dashboard", get(dashboard))
        .route(
            "/webhooks/clerk",
            post(clerk_webhook).layer(ReplayGuard::new()),
        )
        .route("/openapi.json", get(openapi_json))
        .merge(Scalar::with_url("/docs", ApiDoc::openapi()));
    // Webhooks: the local issuer's secret, else CLERK_WEBHOOK_SIGNING_SECRET.
    let app = match &issuer {
        Some(issuer) => app.layer(Extension(issuer.webhook_verifier())),
        None => {
            if std::env::var("CLERK_WEBHOOK_SIGNING_SECRET").is_err() {
                tracing::warn!(
                    "CLERK_WEBHOOK_SIGNING_SECRET is not set: /webhooks/clerk answers 503 \
                     (copy the secret from the endpoint's page in Clerk's dashboard)"
                );
            }
            app
        }
    };

    let (app, issuer) = match issuer {
        // Embedded mode only: more tokens on demand.
        Some(issuer) => {
            let issuer = Arc::new(issuer);
            (
                app.merge(dev_token_route(Arc::clone(&issuer))),
                Some(issuer),
            )
        }
        None => (app, None),
    };
    if let Some(issuer) = &issuer {
        let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
        let base = format!("http://127.0.0.1:{port}");
        println!(
            "\nNo Clerk settings found: an embedded local issuer (JWKS {}) signs the tokens below.",
            issuer.jwks_url()
        );
        println!();
        for line in guide::lines(issuer, &base, session_seconds()) {
            println!("{line}");
        }
        println!();
    }
    serve(app, 3000).await
}

#![allow(clippy::expect_used, clippy::unwrap_used)] // test support: a failed set-up should stop the test

//! Helpers for clerk-guard's end-to-end tests: a real axum app on a loopback
//! port, protected by `#[clerk_protected]`, verifying against a real
//! [`TestIssuer`] JWKS server. Nothing in the verification path is mocked.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use clerk_guard::testing::TestIssuer;
use clerk_guard::{
    clerk_protected, Accepts, ClerkAuth, ClerkConfigBuilder, ClerkLayer, ClerkVerifier, Principal,
    TokenFormat, TokenKind,
};
use serde_json::{json, Value};

pub mod differential;

/// What `tracing` writes while a test runs: every event at `level` and
/// above, as text, until the returned guard drops.
#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Starts capturing this thread's events at `level` and above.
    pub fn start(level: tracing::Level) -> (Self, tracing::subscriber::DefaultGuard) {
        let captured = CapturedLogs::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A child process killed when dropped (an example server under test).
#[derive(Debug)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `target/<profile>/examples/<name>`, built by `cargo test --workspace`.
/// (Building it from a test could wait forever on the lock the running
/// cargo holds on the target directory.)
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let binary = profile_dir.join("examples").join(name);
    assert!(
        binary.exists(),
        "{} is missing: run `cargo test --workspace`, which builds the examples",
        binary.display()
    );
    binary
}

/// Starts `router` on `127.0.0.1:<free port>` and returns its base URL.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    format!("http://{addr}")
}

/// One HTTP answer, decoded.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// `WWW-Authenticate`, if sent.
    pub challenge: Option<String>,
    /// `Retry-After`, if sent.
    pub retry_after: Option<String>,
    /// The body as JSON (`Value::Null` if it is not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// The `reason` field of a rejection body.
    pub fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or("")
    }
}

/// Sends a GET with `headers`.
pub async fn fetch_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let client = reqwest::Client::new();
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request to the test app");
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let challenge = header("www-authenticate");
    let retry_after = header("retry-after");
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        challenge,
        retry_after,
        body,
        text,
    }
}

/// Sends a GET with `Authorization: Bearer <token>` (or nothing).
pub async fn fetch(url: &str, token: Option<&str>) -> Reply {
    match token {
        Some(token) => fetch_with(url, &[("authorization", &format!("Bearer {token}"))]).await,
        None => fetch_with(url, &[]).await,
    }
}

#[clerk_protected]
async fn me(auth: ClerkAuth) -> Json<Value> {
    Json(json!({
        "sub": auth.user_id(),
        "sid": auth.session_id(),
        "org_id": auth.org().map(|o| o.id()),
        "org_role": auth.org().and_then(|o| o.role()),
        "permissions": auth.org().map(|o| o.permissions()),
        "roles": auth.roles(),
        "v": auth.claims_version(),
    }))
}

#[clerk_protected(optional)]
async fn maybe(auth: Option<ClerkAuth>) -> Json<Value> {
    Json(json!({ "sub": auth.as_ref().map(|a| a.user_id()) }))
}

#[clerk_protected(roles = "admin")]
async fn admin(auth: ClerkAuth) -> String {
    format!("admin {}", auth.user_id())
}

#[clerk_protected(roles = ["admin", "editor"])]
async fn editors() -> &'static str {
    "editors"
}

#[clerk_protected(org_role = "admin")]
async fn org_admin() -> &'static str {
    "org admin"
}

#[clerk_protected(permissions = "org:billing:manage")]
async fn billing() -> &'static str {
    "billing"
}

#[clerk_protected(permissions = ["org:billing:manage", "org:reports:read"])]
async fn billing_reports() -> &'static str {
    "billing and reports"
}

#[clerk_protected(roles = "admin", permissions = "org:billing:manage")]
async fn admin_billing() -> &'static str {
    "admin and billing"
}

/// A custom state type, to show guards compose with `State`.
#[derive(Debug, Clone)]
pub struct Db(pub &'static str);

#[clerk_protected(roles = "admin")]
async fn with_state(State(db): State<Db>, Path(id): Path<u32>, auth: ClerkAuth) -> String {
    format!("{} {} {}", db.0, id, auth.user_id())
}

#[derive(serde::Deserialize)]
struct Note {
    text: String,
}

#[derive(serde::Deserialize)]
struct Paging {
    page: Option<u32>,
}

#[clerk_protected]
async fn post_note(
    auth: ClerkAuth,
    Query(paging): Query<Paging>,
    Json(note): Json<Note>,
) -> Json<Value> {
    Json(json!({ "by": auth.user_id(), "text": note.text, "page": paging.page }))
}

async fn public() -> &'static str {
    "public"
}

/// What a machine route answers: who called, and how.
fn principal_json(principal: &Principal) -> Json<Value> {
    let machine = principal.machine();
    Json(json!({
        "kind": principal.kind().clerk_name(),
        "sub": principal.subject(),
        "id": machine.map(|m| m.id()),
        "scopes": principal.scopes(),
        "format": machine.map(|m| if m.format() == TokenFormat::Jwt { "jwt" } else { "opaque" }),
        "claims": machine.and_then(|m| m.claims().cloned()),
        "client_id": machine.and_then(|m| m.client_id()),
        "name": machine.and_then(|m| m.name()),
        "expires_at": machine.and_then(|m| m.expires_at()),
    }))
}

#[clerk_protected(accepts = "m2m")]
async fn machine_only(caller: Principal) -> Json<Value> {
    principal_json(&caller)
}

#[clerk_protected(accepts = "oauth", scopes = "read")]
async fn oauth_read(caller: Principal) -> Json<Value> {
    principal_json(&caller)
}

#[clerk_protected(accepts = ["m2m", "oauth"], scopes = ["read", "write"])]
async fn read_write(caller: Principal) -> Json<Value> {
    principal_json(&caller)
}

#[clerk_protected(accepts = "api_key")]
async fn api_key_only(caller: Principal) -> Json<Value> {
    principal_json(&caller)
}

#[clerk_protected(accepts = ["session", "m2m", "oauth", "api_key"])]
async fn any_kind(caller: Principal) -> Json<Value> {
    principal_json(&caller)
}

#[clerk_protected(optional, accepts = "any")]
async fn maybe_any(caller: Option<Principal>) -> Json<Value> {
    match caller {
        Some(caller) => principal_json(&caller),
        None => Json(json!({ "kind": null })),
    }
}

async fn layered(caller: Principal) -> Json<Value> {
    principal_json(&caller)
}

/// Every kind of protected route, with its own verifier for this config.
pub fn router(verifier: ClerkVerifier) -> Router {
    Router::new()
        .route("/public", get(public))
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/admin", get(admin))
        .route("/editors", get(editors))
        .route("/org-admin", get(org_admin))
        .route("/billing", get(billing))
        .route("/billing-reports", get(billing_reports))
        .route("/admin-billing", get(admin_billing))
        .route("/items/{id}", get(with_state))
        .route("/notes", post(post_note))
        .route("/machine", get(machine_only))
        .route("/oauth-read", get(oauth_read))
        .route("/read-write", get(read_write))
        .route("/api-key", get(api_key_only))
        .route("/any", get(any_kind))
        .route("/maybe-any", get(maybe_any))
        .nest(
            "/layered",
            Router::new().route("/caller", get(layered)).layer(
                ClerkLayer::required()
                    .with_verifier(verifier.clone())
                    .accepts(Accepts::M2M.with(TokenKind::ApiKey)),
            ),
        )
        .with_state(Db("db"))
        .layer(Extension(verifier))
}

/// A test issuer and an app verifying against it.
#[derive(Debug)]
pub struct TestApp {
    /// The local Clerk issuer.
    pub issuer: TestIssuer,
    /// The app's base URL.
    pub base: String,
}

impl TestApp {
    /// An app with the issuer's default configuration.
    pub async fn start() -> Self {
        Self::start_with(|config| config).await
    }

    /// An app whose configuration `customise` adjusts.
    pub async fn start_with(
        customise: impl FnOnce(ClerkConfigBuilder) -> ClerkConfigBuilder,
    ) -> Self {
        let issuer = TestIssuer::start().await.expect("test issuer");
        let config = customise(issuer.config()).build().expect("config");
        let verifier = ClerkVerifier::new(config).expect("verifier");
        let base = serve(router(verifier)).await;
        Self { issuer, base }
    }

    /// GET `path` with `token` as Bearer.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        fetch(&format!("{}{path}", self.base), token).await
    }

    /// GET `path` with raw headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        fetch_with(&format!("{}{path}", self.base), headers).await
    }
}

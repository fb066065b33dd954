//! The testing kit's side of a browser: a minimal hosted sign-in page that
//! signs a test user in (the cookies Clerk's frontend sets), the Frontend
//! API's `/v1/client/handshake`, and the Backend API's
//! `/v1/clients/handshake_payload` and `/v1/sessions/{sid}/refresh`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::backend_api::random_token;
use super::key::TestKey;
use super::token::{now, TokenBuilder};
use crate::util::lock;

/// One signed-in browser, as the Frontend API remembers it by its
/// `__client` cookie.
#[derive(Debug, Clone)]
pub(super) struct Client {
    user: String,
    session: String,
    refresh: String,
    /// When the client last changed (`__client_uat`).
    updated_at: i64,
    roles: Vec<String>,
}

pub(super) struct FrontendState {
    issuer: String,
    secret_key: String,
    signing: Arc<Mutex<Arc<TestKey>>>,
    /// The suffixes of the kit's publishable keys (production, development).
    suffixes: [String; 2],
    clients: Mutex<HashMap<String, Client>>,
    nonces: Mutex<HashMap<String, Vec<String>>>,
    lifetime: Mutex<Duration>,
    handshakes: AtomicUsize,
    refreshes: AtomicUsize,
}

impl FrontendState {
    pub(super) fn new(
        issuer: String,
        secret_key: &str,
        signing: Arc<Mutex<Arc<TestKey>>>,
        suffixes: [String; 2],
    ) -> Self {
        Self {
            issuer,
            secret_key: secret_key.to_owned(),
            signing,
            suffixes,
            clients: Mutex::new(HashMap::new()),
            nonces: Mutex::new(HashMap::new()),
            lifetime: Mutex::new(Duration::from_secs(60)),
            handshakes: AtomicUsize::new(0),
            refreshes: AtomicUsize::new(0),
        }
    }

    pub(super) fn set_lifetime(&self, lifetime: Duration) {
        *lock(&self.lifetime) = lifetime;
    }

    pub(super) fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    pub(super) fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }

    /// A session token for `client`, valid for the session lifetime.
    fn session_token(&self, client: &Client) -> String {
        let lifetime = lock(&self.lifetime).as_secs().max(1) as i64;
        TokenBuilder::new(self.issuer.clone(), Arc::clone(&lock(&self.signing)))
            .subject(&client.user)
            .session_id(&client.session)
            .roles(client.roles.clone())
            .expires_in(lifetime)
            .sign()
    }

    /// `name=value` under the plain name and each suffixed one.
    fn every_name(&self, name: &str, value: &str, attributes: &str) -> Vec<String> {
        std::iter::once(name.to_owned())
            .chain(self.suffixes.iter().map(|s| format!("{name}_{s}")))
            .map(|name| format!("{name}={value}; {attributes}"))
            .collect()
    }

    /// The cookies that put `client` in a browser (or sign it out).
    fn session_cookies(&self, client: Option<&Client>) -> Vec<String> {
        match client {
            Some(client) => {
                let token = self.session_token(client);
                let mut cookies = self.every_name("__session", &token, "Path=/; SameSite=Lax");
                cookies.extend(self.every_name(
                    "__client_uat",
                    &client.updated_at.to_string(),
                    "Path=/; SameSite=Lax; Max-Age=315360000",
                ));
                cookies
            }
            None => {
                let mut cookies = self.every_name("__session", "", "Path=/; Max-Age=0");
                cookies.extend(self.every_name(
                    "__client_uat",
                    "0",
                    "Path=/; SameSite=Lax; Max-Age=315360000",
                ));
                cookies
            }
        }
    }

    /// Signs `user` in: a new client, and the cookies Clerk's frontend sets
    /// (the dev-browser token; the refresh token when `refresh`).
    pub(super) fn sign_in(
        &self,
        user: &str,
        roles: Vec<String>,
        refresh: bool,
    ) -> (String, Vec<String>) {
        let client_id = random_token("client_");
        let client = Client {
            user: user.to_owned(),
            session: random_token("sess_"),
            refresh: random_token("rt_"),
            updated_at: now(),
            roles,
        };
        let mut cookies = vec![format!(
            "__client={client_id}; Path=/; HttpOnly; SameSite=Lax"
        )];
        cookies.extend(self.session_cookies(Some(&client)));
        for suffix in self.suffixes.iter().filter(|_| refresh) {
            cookies.push(format!(
                "__refresh_{suffix}={}; Path=/; HttpOnly; SameSite=Lax",
                client.refresh
            ));
        }
        cookies.extend(self.every_name(
            "__clerk_db_jwt",
            &random_token("dvb_"),
            "Path=/; SameSite=Lax",
        ));
        lock(&self.clients).insert(client_id.clone(), client);
        (client_id, cookies)
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            == Some(format!("Bearer {}", self.secret_key).as_str())
    }
}

/// The browser side's routes, mounted beside the JWKS and Backend API.
pub(super) fn routes(state: Arc<FrontendState>) -> Router {
    Router::new()
        .route("/sign-in", get(sign_in_page))
        .route("/sign-in/as", get(sign_in_as))
        .route("/sign-out", get(sign_out))
        .route("/v1/client/handshake", get(handshake))
        .route("/v1/clients/handshake_payload", get(handshake_payload))
        .route("/v1/sessions/{sid}/refresh", post(refresh))
        .with_state(state)
}

#[derive(Deserialize)]
struct SignInQuery {
    #[serde(default)]
    redirect_url: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    roles: Option<String>,
    /// `1`: also set the `__refresh` cookie.
    #[serde(default)]
    refresh: Option<String>,
}

/// Escapes text for HTML.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn sign_in_page(Query(query): Query<SignInQuery>) -> Html<String> {
    let back = query.redirect_url.unwrap_or_else(|| "/".into());
    let link = |user: &str, roles: &str| {
        let href = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("user", user)
            .append_pair("roles", roles)
            .append_pair("redirect_url", &back)
            .finish();
        format!(
            r#"<li><a id="sign-in-{user}" href="/sign-in/as?{}">Sign in as {user}</a></li>"#,
            html_escape(&href)
        )
    };
    Html(format!(
        "<!doctype html><html><head><title>Sign in (clerk-guard test issuer)</title></head>\
         <body><h1>Sign in</h1><p>A local stand-in for Clerk's hosted sign-in page.</p>\
         <ul>{}{}</ul></body></html>",
        link("user_ada", ""),
        link("user_admin", "admin"),
    ))
}

/// Sets the cookies of a new client for `user` and sends the browser back.
async fn sign_in_as(
    State(state): State<Arc<FrontendState>>,
    Query(query): Query<SignInQuery>,
) -> Response {
    let user = query.user.unwrap_or_else(|| "user_ada".into());
    let roles = query
        .roles
        .unwrap_or_default()
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let (_, cookies) = state.sign_in(&user, roles, query.refresh.as_deref() == Some("1"));
    redirect_with(&query.redirect_url.unwrap_or_else(|| "/".into()), &cookies)
}

async fn sign_out(
    State(state): State<Arc<FrontendState>>,
    Query(query): Query<SignInQuery>,
) -> Response {
    let mut cookies = state.session_cookies(None);
    cookies.push("__client=; Path=/; Max-Age=0".into());
    redirect_with(&query.redirect_url.unwrap_or_else(|| "/".into()), &cookies)
}

/// A 303 to `to`, setting `cookies`.
fn redirect_with(to: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(to) {
        headers.insert(header::LOCATION, location);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize)]
struct HandshakeQuery {
    redirect_url: String,
    #[serde(default)]
    format: Option<String>,
}

/// The Frontend API's handshake: a fresh session for the browser's client
/// (by its `__client` cookie), or sign-out cookies; the browser is sent back
/// to `redirect_url` with a nonce for them (or the handshake token).
async fn handshake(
    State(state): State<Arc<FrontendState>>,
    Query(query): Query<HandshakeQuery>,
    headers: HeaderMap,
) -> Response {
    state.handshakes.fetch_add(1, Ordering::SeqCst);
    let client_id = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "__client")
        .map(|(_, value)| value.to_owned());
    let client = client_id.and_then(|id| lock(&state.clients).get(&id).cloned());
    let directives = state.session_cookies(client.as_ref());
    let Ok(mut back) = url::Url::parse(&query.redirect_url) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if query.format.as_deref() == Some("nonce") {
        let nonce = random_token("");
        lock(&state.nonces).insert(nonce.clone(), directives);
        back.query_pairs_mut()
            .append_pair("__clerk_handshake_nonce", &nonce);
    } else {
        let token = TokenBuilder::new(state.issuer.clone(), Arc::clone(&lock(&state.signing)))
            .claim("handshake", directives)
            .sign();
        back.query_pairs_mut()
            .append_pair("__clerk_handshake", &token);
    }
    redirect_with(back.as_str(), &[])
}

#[derive(Deserialize)]
struct NonceQuery {
    nonce: String,
}

/// The Backend API's handshake payload: the directives stored for a nonce.
async fn handshake_payload(
    State(state): State<Arc<FrontendState>>,
    headers: HeaderMap,
    Query(query): Query<NonceQuery>,
) -> Response {
    if !state.authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match lock(&state.nonces).get(&query.nonce) {
        Some(directives) => Json(json!({ "directives": directives })).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "errors": [{ "code": "resource_not_found" }] })),
        )
            .into_response(),
    }
}

/// The Backend API's session refresh: with the session's refresh token, new
/// session cookies.
async fn refresh(
    State(state): State<Arc<FrontendState>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !state.authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    state.refreshes.fetch_add(1, Ordering::SeqCst);
    let refresh_token = body["refresh_token"].as_str().unwrap_or_default();
    let client = lock(&state.clients)
        .values()
        .find(|c| c.session == sid && c.refresh == refresh_token)
        .cloned();
    match client {
        Some(client) => {
            let cookies = state.session_cookies(Some(&client));
            Json(json!({ "object": "cookies", "cookies": cookies })).into_response()
        }
        None => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "errors": [{ "code": "refresh_token_invalid" }] })),
        )
            .into_response(),
    }
}

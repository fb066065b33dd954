//! An expired session refreshed with the `__refresh` cookie, through the
//! Backend API, as `@clerk/backend` tries before a handshake.

use axum::http::{HeaderValue, Method};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::page::PageRequest;
use crate::auth::ClerkAuth;
use crate::http::CallError;
use crate::token::{cookie_names as names, peek};
use crate::verify::ClerkVerifier;

#[derive(Deserialize)]
struct Cookies {
    #[serde(default)]
    cookies: Vec<String>,
}

#[derive(Deserialize)]
struct Errors {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
}

/// A new session for an expired one: `POST /v1/sessions/{sid}/refresh` with
/// the expired and the refresh token; its cookies, and the new session
/// verified. Else why not, as the `refresh-…` part of Clerk's handshake
/// reason says it.
pub(super) async fn refresh(
    verifier: &ClerkVerifier,
    request: &PageRequest<'_>,
    expired: &str,
    refresh_token: &str,
    suffixed_cookies: bool,
) -> Result<(ClerkAuth, Vec<HeaderValue>), String> {
    let Some(api) = verifier.backend_api() else {
        return Err("missing-api-client".into());
    };
    let Some(claims) = peek(expired) else {
        return Err("expired-session-token-decode-failed".into());
    };
    let Some(sid) = claims.sid.filter(|sid| !sid.is_empty()) else {
        return Err("expired-session-token-missing-sid-claim".into());
    };
    let origin = request
        .url()
        .map(|url| url.origin().ascii_serialization())
        .unwrap_or_default();
    let mut headers = Map::new();
    for name in request.headers.keys() {
        let values: Vec<&str> = request
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        headers.insert(name.as_str().to_owned(), json!([values.join(", ")]));
    }
    let body = json!({
        "format": "cookie",
        "expired_token": expired,
        "refresh_token": refresh_token,
        "request_origin": origin,
        "request_headers": Value::Object(headers),
    });
    let path = format!("/v1/sessions/{sid}/refresh");
    let suffixed = if suffixed_cookies { "true" } else { "false" };
    let answer = api
        .call(
            Method::POST,
            &path,
            &[("suffixed_cookies", suffixed)],
            Some(&body),
        )
        .await;
    let cookies = match answer {
        Ok(body) => serde_json::from_slice::<Cookies>(&body)
            .map(|c| c.cookies)
            .unwrap_or_default(),
        Err(CallError::Status(_, body)) => {
            let code = serde_json::from_slice::<Errors>(&body)
                .ok()
                .and_then(|e| e.errors.into_iter().next())
                .map(|e| e.code);
            return Err(match code.as_deref() {
                Some("unexpected_error") => "fetch-error".into(),
                Some(code) if !code.is_empty() => code.into(),
                _ => "unexpected-bapi-error".into(),
            });
        }
        Err(CallError::Unreachable) => return Err("unexpected-bapi-error".into()),
    };
    if cookies.is_empty() {
        return Err("unexpected-sdk-error".into());
    }
    let mut session = String::new();
    let mut set = Vec::new();
    for cookie in &cookies {
        if let Ok(value) = HeaderValue::try_from(cookie.as_str()) {
            set.push(value);
        }
        let pair = cookie.split(';').next().unwrap_or_default();
        let mut parts = pair.split('=');
        if parts.next().unwrap_or_default().starts_with(names::SESSION) {
            session = parts.next().unwrap_or_default().to_owned();
        }
    }
    match verifier.session(&session).await {
        Ok(auth) => Ok((auth, set)),
        Err(_) => Err("invalid-session-token".into()),
    }
}

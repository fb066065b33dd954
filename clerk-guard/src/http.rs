//! Outbound HTTP, for the JWKS and the Backend API alike: one client shape
//! (timeouts, redirects kept on one origin), capped reads, and the secret
//! key's header.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};

/// The limits of every outbound request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchSettings {
    pub(crate) connect_timeout: Duration,
    /// The whole exchange, body included.
    pub(crate) request_timeout: Duration,
    /// The largest response body read.
    pub(crate) max_bytes: usize,
}

/// Scheme, host and port: redirects may not leave them, so custom headers
/// and the secret key never reach another host.
fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A client with `fetch`'s timeouts that follows redirects only within
/// `origin`'s origin.
pub(crate) fn client(
    fetch: &FetchSettings,
    origin: &reqwest::Url,
) -> Result<reqwest::Client, String> {
    let origin = origin.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > 3 {
            attempt.error("too many redirects")
        } else if same_origin(attempt.url(), &origin) {
            attempt.follow()
        } else {
            attempt.error("redirect to another origin refused")
        }
    });
    reqwest::Client::builder()
        .connect_timeout(fetch.connect_timeout)
        .timeout(fetch.request_timeout)
        .redirect(redirects)
        .user_agent(concat!("clerk-guard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// A response body of at most `max_bytes`; `None` (logged) past the cap or
/// when the body cannot be read.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: usize,
    url: &reqwest::Url,
) -> Option<Vec<u8>> {
    let too_big = || {
        tracing::warn!(%url, cap = max_bytes, "response exceeds the size cap");
    };
    if response
        .content_length()
        .is_some_and(|len| len > max_bytes as u64)
    {
        too_big();
        return None;
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max_bytes {
                    too_big();
                    return None;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Some(body),
            Err(e) => {
                tracing::warn!(%url, error = %e, "response body could not be read");
                return None;
            }
        }
    }
}

/// `Authorization: Bearer <secret key>`, as the Backend API expects it,
/// marked sensitive (so `Debug` of any header map holding it hides it).
pub(crate) fn secret_header(secret_key: &str) -> Result<HeaderValue, String> {
    let mut value = HeaderValue::try_from(format!("Bearer {secret_key}"))
        .map_err(|_| "the secret key is not a valid header value".to_owned())?;
    value.set_sensitive(true);
    Ok(value)
}

/// Clerk's Backend API: its base URL, the secret key, the limits of every
/// call. Shared by the machine-token lookups and the page handshake.
pub(crate) struct BackendApi {
    client: reqwest::Client,
    /// Without a trailing slash.
    base: String,
    headers: HeaderMap,
    max_bytes: usize,
}

impl std::fmt::Debug for BackendApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the headers: they hold the secret key.
        f.debug_struct("BackendApi")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Why a Backend API call brought no answer.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Not reached, no status, or a body past the cap.
    Unreachable,
    /// It answered with this status (the body is read into `answer` too).
    Status(StatusCode, Vec<u8>),
}

impl BackendApi {
    pub(crate) fn new(
        base: &reqwest::Url,
        secret_key: &str,
        fetch: &FetchSettings,
    ) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, secret_header(secret_key)?);
        Ok(Self {
            client: client(fetch, base)?,
            base: base.as_str().trim_end_matches('/').to_owned(),
            headers,
            max_bytes: fetch.max_bytes,
        })
    }

    /// `method` on `path` (below the base: `/v1/…`, or an unversioned
    /// machine-token path), with `query` and a JSON `body`: a successful
    /// answer's body, capped.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, CallError> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .client
            .request(method, &url)
            .headers(self.headers.clone())
            .query(query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(%url, error = %e, "Backend API call failed");
            CallError::Unreachable
        })?;
        let status = response.status();
        let from = response.url().clone();
        let body = read_capped(response, self.max_bytes, &from)
            .await
            .ok_or(CallError::Unreachable)?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(CallError::Status(status, body))
        }
    }
}

//! A request as Clerk's browser rules read it: whether it is a page (a
//! browser's navigation), the URL it asked for, its query parameters.

use axum::http::{header, HeaderMap, Method, Uri};
use url::Url;

/// A request seen by the handshake and the sign-in redirect.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRequest<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
}

impl<'a> PageRequest<'a> {
    /// The request `parts` describe (its URI as the client sent it, before
    /// a nested router took its prefix).
    pub(crate) fn of(parts: &'a axum::http::request::Parts) -> Self {
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(&parts.uri, |original| &original.0);
        Self {
            method: &parts.method,
            uri,
            headers: &parts.headers,
        }
    }

    fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    }

    /// Whether a handshake (or a sign-in redirect) can answer it, as
    /// `isRequestEligibleForHandshake`: a `GET` whose `sec-fetch-dest` is
    /// `document` or `iframe`, or that has none and accepts `text/html`
    /// first. Anything else (an API call, a form post) never gets a redirect.
    pub(crate) fn is_page(&self) -> bool {
        if self.method != Method::GET {
            return false;
        }
        match self.header("sec-fetch-dest") {
            Some(dest) => dest == "document" || dest == "iframe",
            None => self
                .header(header::ACCEPT.as_str())
                .is_some_and(|accept| accept.starts_with("text/html")),
        }
    }

    /// The URL the browser asked for, as `ClerkRequest` derives it: the
    /// first `x-forwarded-proto` and `x-forwarded-host` (else `http` and the
    /// `Host` header) and the request's path and query.
    pub(crate) fn url(&self) -> Option<Url> {
        let first = |value: &'a str| value.split(',').next().unwrap_or(value);
        let proto = self.header("x-forwarded-proto").map_or("http", first);
        let host = self
            .header("x-forwarded-host")
            .map(first)
            .or_else(|| self.header(header::HOST.as_str()))
            .or_else(|| self.uri.authority().map(|a| a.as_str()))?;
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        Url::parse(&format!("{proto}://{host}{path}")).ok()
    }

    /// The first value of the query parameter `name`, form-decoded
    /// (`URLSearchParams.get`).
    pub(crate) fn query(&self, name: &str) -> Option<String> {
        let query = self.uri.query()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// Whether it is a `GET` (only those may refresh a session).
    pub(crate) fn is_get(&self) -> bool {
        self.method == Method::GET
    }
}

/// `url` without the query parameters `names`, its query serialized again
/// as `URLSearchParams` does (and dropped when empty).
pub(crate) fn without_params(url: &Url, names: &[&str]) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| !names.contains(&key.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut url = url.clone();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn request<'a>(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> PageRequest<'a> {
        PageRequest {
            method,
            uri,
            headers,
        }
    }

    #[test]
    fn pages_are_get_navigations() {
        let uri: Uri = "/dashboard".parse().unwrap();
        let mut headers = HeaderMap::new();
        let get = Method::GET;
        assert!(!request(&get, &uri, &headers).is_page());
        headers.insert(
            "accept",
            HeaderValue::from_static("text/html,application/xhtml+xml"),
        );
        assert!(request(&get, &uri, &headers).is_page());
        headers.insert("sec-fetch-dest", HeaderValue::from_static("empty"));
        assert!(!request(&get, &uri, &headers).is_page());
        for dest in ["document", "iframe"] {
            headers.insert("sec-fetch-dest", HeaderValue::from_static(dest));
            assert!(request(&get, &uri, &headers).is_page());
        }
        assert!(!request(&Method::POST, &uri, &headers).is_page());
    }

    #[test]
    fn the_url_comes_from_the_forwarded_headers_else_the_host() {
        let uri: Uri = "/a/b?x=1&y=%20z".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("app.local:3000"));
        let get = Method::GET;
        let url = request(&get, &uri, &headers).url().unwrap();
        assert_eq!(url.as_str(), "http://app.local:3000/a/b?x=1&y=%20z");
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https, http"));
        headers.insert(
            "x-forwarded-host",
            HeaderValue::from_static("app.example.com,proxy"),
        );
        let url = request(&get, &uri, &headers).url().unwrap();
        assert_eq!(url.as_str(), "https://app.example.com/a/b?x=1&y=%20z");
        assert_eq!(
            without_params(&url, &["x"]).as_str(),
            "https://app.example.com/a/b?y=+z"
        );
        assert_eq!(
            without_params(&url, &["x", "y"]).as_str(),
            "https://app.example.com/a/b"
        );
        assert_eq!(
            request(&get, &uri, &headers).query("y").as_deref(),
            Some(" z")
        );
    }
}

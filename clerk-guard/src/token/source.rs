//! Where a request carries its token: `Authorization: Bearer`, else the
//! session cookies (read in `cookies`).

use axum::http::{header, HeaderMap};

use super::cookies::{names, Cookies};
use crate::rejection::AuthRejection;

/// The bearer token of the first `Authorization` header, as [`bearer_token`]
/// reads it; `None` when there is no such header or it is not ours.
pub(crate) fn header_token(headers: &HeaderMap) -> Option<Result<&str, AuthRejection>> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| bearer_token(value.as_bytes()))
}

/// `Bearer <token>` from the header's bytes: `None` when the
/// header is not ours (another scheme, not visible ASCII, or an empty
/// bearer), an error when it is a bearer header of the wrong shape.
pub(crate) fn bearer_token(bytes: &[u8]) -> Option<Result<&str, AuthRejection>> {
    let scheme = bytes.get(..7)?;
    if !scheme[..6].eq_ignore_ascii_case(b"bearer") || scheme[6] != b' ' {
        return None;
    }
    let rest = &bytes[7..];
    if rest.is_empty() {
        return None;
    }
    // Visible ASCII throughout, in a pass with no early exit (it vectorises);
    // only a header that fails it is looked at byte by byte.
    let visible = rest
        .iter()
        .fold(true, |all, b| all & (b.wrapping_sub(b'!') < 94));
    if !visible {
        let mut spaced = false;
        for byte in rest {
            match byte {
                b'!'..=b'~' => {}
                b' ' | b'\t' => spaced = true,
                _ => return None,
            }
        }
        if spaced {
            return Some(Err(AuthRejection::invalid(
                "Authorization header is not `Bearer <token>`",
            )));
        }
    }
    // Visible ASCII is UTF-8.
    std::str::from_utf8(rest).ok().map(Ok)
}

/// Whether `token` is the request's token: its bearer token, or, without
/// one, one of its session cookies (plain or suffixed). The usual case,
/// `Authorization: Bearer <token>`, is one comparison.
pub(crate) fn is_request_token(headers: &HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .map(|value| value.as_bytes())
        .and_then(|value| value.get(7..).filter(|_| is_bearer_scheme(value)));
    if bearer.is_some_and(|rest| rest == token.as_bytes()) {
        return true;
    }
    if header_token(headers).is_some() {
        return false;
    }
    let cookies = Cookies::parse(headers);
    let session = |name: &str| name == names::SESSION || name.starts_with("__session_");
    let found = cookies
        .names()
        .any(|name| session(name) && cookies.get(name) == Some(token));
    found
}

/// Whether a header value starts with `Bearer ` (any case).
/// The bytes after `Bearer ` of the first `Authorization` header, as sent
/// (not yet checked as [`header_token`] checks them).
pub(crate) fn bearer_bytes(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    value.get(7..).filter(|_| is_bearer_scheme(value))
}

fn is_bearer_scheme(value: &[u8]) -> bool {
    value.len() > 7 && value[..7].eq_ignore_ascii_case(b"bearer ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn bearer_headers_and_their_shapes() {
        let found = |value: &str| {
            header_token(&headers(&[("authorization", value)]))
                .map(|r| r.map(str::to_owned).map_err(|r| r.reason()))
        };
        assert_eq!(found("Bearer abc"), Some(Ok("abc".to_owned())));
        assert_eq!(found("bEaReR abc"), Some(Ok("abc".to_owned())));
        assert_eq!(found("Bearer"), None);
        assert_eq!(found("Bearer "), None);
        assert_eq!(
            found("Bearer  abc"),
            Some(Err(crate::rejection::Reason::TokenInvalid))
        );
        assert_eq!(found("Basic abc"), None);
        assert_eq!(found("abc"), None);
    }

    #[test]
    fn the_request_token_is_the_one_found_first() {
        let h = headers(&[("authorization", "bearer abc"), ("cookie", "__session=c")]);
        assert!(is_request_token(&h, "abc"));
        assert!(!is_request_token(&h, "c"));
        let h = headers(&[("authorization", "Basic x"), ("cookie", "__session=c")]);
        assert!(is_request_token(&h, "c"));
        assert!(!is_request_token(&h, "x"));
        assert!(!is_request_token(&headers(&[]), ""));
    }
}

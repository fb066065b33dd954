//! Clerk's cookies, read as `@clerk/backend` reads them: the `Cookie`
//! header parsed as the `cookie` package parses it, the suffixed or plain
//! session cookies chosen by `usesSuffixedCookies()`, and what they say
//! about the session (`__client_uat`, the refresh and dev-browser tokens).

use std::borrow::Cow;

use axum::http::{header, HeaderMap};
use serde_json::Value;

use super::jose::{segments, IGNORE_CATEGORY, SESSION_CATEGORY};
use super::kind::{classify, Class};
use crate::rejection::Reason;
use crate::util::B64URL;

/// Clerk's cookie names.
pub(crate) mod names {
    pub(crate) const SESSION: &str = "__session";
    pub(crate) const CLIENT_UAT: &str = "__client_uat";
    pub(crate) const REFRESH: &str = "__refresh";
    pub(crate) const DEV_BROWSER: &str = "__clerk_db_jwt";
    pub(crate) const HANDSHAKE: &str = "__clerk_handshake";
    pub(crate) const HANDSHAKE_NONCE: &str = "__clerk_handshake_nonce";
    pub(crate) const REDIRECT_COUNT: &str = "__clerk_redirect_count";
}

/// A request's cookies, first occurrence of a name winning: each `;`
/// separated pair with an `=`, name and value trimmed of spaces and tabs,
/// the value percent-decoded when it decodes (the `cookie` package's
/// `parse`, which `@clerk/backend` uses).
#[derive(Debug, Default)]
pub(crate) struct Cookies<'a> {
    pairs: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> Cookies<'a> {
    /// Every `Cookie` header of `headers`, in order (HTTP/2 may split them).
    pub(crate) fn parse(headers: &'a HeaderMap) -> Self {
        let mut pairs: Vec<(&'a str, Cow<'a, str>)> = Vec::new();
        for value in headers.get_all(header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                let name = name.trim_matches([' ', '\t']);
                if pairs.iter().any(|(seen, _)| *seen == name) {
                    continue;
                }
                pairs.push((name, percent_decoded(value.trim_matches([' ', '\t']))));
            }
        }
        Self { pairs }
    }

    /// The value of the cookie `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(seen, _)| *seen == name)
            .map(|(_, value)| value.as_ref())
    }

    /// The names of the cookies, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(name, _)| *name)
    }

    /// The value of `name`, `None` when empty (JavaScript's falsy "").
    fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

/// `decodeURIComponent` when the value holds a `%`, the value itself when
/// that fails (a bad escape, or bytes that are not UTF-8).
fn percent_decoded(value: &str) -> Cow<'_, str> {
    if !value.contains('%') {
        return Cow::Borrowed(value);
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => return Cow::Borrowed(value),
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_or(Cow::Borrowed(value), Cow::Owned)
}

/// An instance's cookies: the suffix of their names, and what tells its
/// tokens from another instance's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CookieScope<'a> {
    pub(crate) suffix: &'a str,
    /// The Frontend API host the publishable key names (a token's `iss`
    /// without its scheme).
    pub(crate) frontend_host: &'a str,
    pub(crate) development: bool,
}

/// What a request's cookies say about its session.
#[derive(Debug, Default)]
pub(crate) struct SessionCookies<'a> {
    /// The session token, from `__session` or `__session_<suffix>`.
    pub(crate) session: Option<&'a str>,
    /// `__client_uat` as `Number.parseInt` reads it (0 when absent or not a
    /// number): when the client last changed; 0 is signed out.
    pub(crate) client_uat: f64,
    /// `__refresh_<suffix>`: lets an expired session be refreshed.
    pub(crate) refresh: Option<&'a str>,
    /// The development browser token (`__clerk_db_jwt`).
    pub(crate) dev_browser: Option<&'a str>,
    pub(crate) handshake_token: Option<&'a str>,
    pub(crate) handshake_nonce: Option<&'a str>,
    pub(crate) redirect_count: u32,
    /// Whether the suffixed cookies were chosen.
    pub(crate) suffixed: bool,
}

impl<'a> SessionCookies<'a> {
    /// The session cookies of `cookies`, as `@clerk/backend` picks them:
    /// with a scope, suffixed or plain by `usesSuffixedCookies()`; without
    /// one, the plain ones.
    pub(crate) fn read(cookies: &'a Cookies<'a>, scope: Option<CookieScope<'_>>, now: f64) -> Self {
        let suffixed = scope.is_some_and(|scope| uses_suffixed_cookies(cookies, scope, now));
        let name = |base: &str| match scope {
            Some(scope) => format!("{base}_{}", scope.suffix),
            None => base.to_owned(),
        };
        let pick = |base: &str| {
            if suffixed {
                cookies.non_empty(&name(base))
            } else {
                cookies.non_empty(base)
            }
        };
        let client_uat = pick(names::CLIENT_UAT).map_or(0.0, parse_int);
        Self {
            session: pick(names::SESSION),
            client_uat: if client_uat.is_nan() { 0.0 } else { client_uat },
            refresh: scope.and_then(|_| cookies.non_empty(&name(names::REFRESH))),
            dev_browser: pick(names::DEV_BROWSER),
            handshake_token: cookies.non_empty(names::HANDSHAKE),
            handshake_nonce: cookies.non_empty(names::HANDSHAKE_NONCE),
            redirect_count: cookies
                .get(names::REDIRECT_COUNT)
                .map_or(0.0, parse_number)
                .max(0.0) as u32,
            suffixed,
        }
    }

    /// Whether the client is signed in, by `__client_uat` (JavaScript's
    /// truthiness of the number).
    pub(crate) fn has_active_client(&self) -> bool {
        self.client_uat != 0.0
    }
}

/// Why a handshake would settle a request's session (Clerk's reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandshakeCause {
    DevBrowserSync,
    DevBrowserMissing,
    SessionTokenWithoutClientUat,
    ClientUatWithoutSessionToken,
    SessionTokenIatBeforeClientUat,
}

impl HandshakeCause {
    /// The refusal when no handshake settles it; its code is Clerk's
    /// `__clerk_hs_reason`.
    pub(crate) fn reason(self) -> Reason {
        match self {
            HandshakeCause::DevBrowserSync => Reason::DevBrowserSync,
            HandshakeCause::DevBrowserMissing => Reason::DevBrowserMissing,
            HandshakeCause::SessionTokenWithoutClientUat => Reason::SessionTokenWithoutClientUat,
            HandshakeCause::ClientUatWithoutSessionToken => Reason::ClientUatWithoutSessionToken,
            HandshakeCause::SessionTokenIatBeforeClientUat => {
                Reason::SessionTokenIatBeforeClientUat
            }
        }
    }
}

/// What the cookies alone decide (`authenticateRequestWithTokenInCookie`
/// before verification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CookieStep<'a> {
    /// Neither a session nor a client: signed out, nothing to settle.
    SignedOut,
    /// Signed out, unless a page request settles it with a handshake.
    Handshake(HandshakeCause),
    /// The session token to verify.
    Verify(&'a str),
}

impl<'a> SessionCookies<'a> {
    /// Clerk's steps, in Clerk's order. `development`: a development
    /// instance (`pk_test_`); `dev_browser_in_query`: the URL carries
    /// `__clerk_db_jwt`.
    pub(crate) fn step(&self, development: bool, dev_browser_in_query: bool) -> CookieStep<'a> {
        if development && dev_browser_in_query {
            return CookieStep::Handshake(HandshakeCause::DevBrowserSync);
        }
        if development && self.dev_browser.is_none() {
            return CookieStep::Handshake(HandshakeCause::DevBrowserMissing);
        }
        let session = match (self.has_active_client(), self.session) {
            (false, None) => return CookieStep::SignedOut,
            (false, Some(_)) => {
                return CookieStep::Handshake(HandshakeCause::SessionTokenWithoutClientUat)
            }
            (true, None) => {
                return CookieStep::Handshake(HandshakeCause::ClientUatWithoutSessionToken)
            }
            (true, Some(session)) => session,
        };
        // A token that does not decode, or is not a session token, is
        // refused by its verification, whatever `__client_uat` says.
        let Some(claims) = peek(session) else {
            return CookieStep::Verify(session);
        };
        if claims.non_session_category || classify(session) != Class::Session {
            return CookieStep::Verify(session);
        }
        if claims.iat.is_some_and(|iat| iat < self.client_uat) {
            return CookieStep::Handshake(HandshakeCause::SessionTokenIatBeforeClientUat);
        }
        CookieStep::Verify(session)
    }
}

/// Clerk's `usesSuffixedCookies()`.
fn uses_suffixed_cookies(cookies: &Cookies<'_>, scope: CookieScope<'_>, now: f64) -> bool {
    let suffixed = |base: &str| cookies.non_empty(&format!("{base}_{}", scope.suffix));
    let suffixed_client_uat = suffixed(names::CLIENT_UAT);
    let client_uat = cookies.non_empty(names::CLIENT_UAT);
    let suffixed_session = suffixed(names::SESSION);
    let session = cookies.non_empty(names::SESSION);
    let session_claims = session.and_then(peek);
    // A malformed plain session (no `iss`): the plain cookies, signed out.
    if session.is_some() && !session_claims.as_ref().is_some_and(Peek::has_issuer) {
        return false;
    }
    // A plain session of another instance: trust the suffixed ones.
    if session.is_some() && !session_claims.as_ref().is_some_and(|c| c.issued_by(scope)) {
        return true;
    }
    if suffixed_client_uat.is_none() && suffixed_session.is_none() {
        return false;
    }
    let iat = |claims: Option<&Peek>| claims.and_then(|c| c.iat).filter(|iat| *iat != 0.0);
    let suffixed_claims = suffixed_session.and_then(peek);
    let (session_iat, suffixed_iat) = (
        iat(session_claims.as_ref()).unwrap_or(0.0),
        iat(suffixed_claims.as_ref()).unwrap_or(0.0),
    );
    let not_zero = |uat: Option<&str>| uat != Some("0");
    // Both signed in, the plain session newer.
    if not_zero(suffixed_client_uat) && not_zero(client_uat) && session_iat > suffixed_iat {
        return false;
    }
    // Suffixed signed out, plain signed in: plain is set by every clerk-js.
    if suffixed_client_uat == Some("0") && not_zero(client_uat) {
        return false;
    }
    if scope.development {
        let suffixed_expired = suffixed_claims
            .as_ref()
            .is_some_and(|c| c.exp.is_some_and(|exp| exp <= now.floor()));
        if not_zero(suffixed_client_uat) && client_uat == Some("0") && suffixed_expired {
            return false;
        }
    }
    // A suffixed session without its `__client_uat`: the feature is off.
    if suffixed_client_uat.is_none() && suffixed_session.is_some() {
        return false;
    }
    true
}

/// The claims of a token read without verifying it (`decodeJwt`): only to
/// choose between cookies and to decide between signed out and a
/// handshake, never to sign anyone in.
#[derive(Debug, Default, Clone)]
pub(crate) struct Peek {
    /// The header's `cat` claims a class other than a session token's.
    pub(crate) non_session_category: bool,
    pub(crate) iss: Option<Value>,
    pub(crate) iat: Option<f64>,
    pub(crate) exp: Option<f64>,
    pub(crate) sid: Option<String>,
}

impl Peek {
    fn has_issuer(&self) -> bool {
        self.iss.as_ref().is_some_and(truthy)
    }

    /// `tokenBelongsToInstance`: `iss`, without any `http://` or `https://`,
    /// is the Frontend API host.
    fn issued_by(&self, scope: CookieScope<'_>) -> bool {
        let Some(Value::String(iss)) = &self.iss else {
            return false;
        };
        strip_schemes(iss) == scope.frontend_host
    }
}

/// `iss.replace(/https?:\/\//gi, '')`.
fn strip_schemes(iss: &str) -> String {
    let mut out = String::with_capacity(iss.len());
    let mut rest = iss;
    while !rest.is_empty() {
        let lower = rest.get(..8).map(str::to_ascii_lowercase);
        let lower7 = rest.get(..7).map(str::to_ascii_lowercase);
        if lower.as_deref() == Some("https://") {
            rest = &rest[8..];
        } else if lower7.as_deref() == Some("http://") {
            rest = &rest[7..];
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// JavaScript truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `decodeJwt`: three segments, header and payload base64url (padding
/// optional) of JSON; `None` when any of that fails.
pub(crate) fn peek(token: &str) -> Option<Peek> {
    let (header, payload, signature) = segments(token).ok()?;
    let decode = |segment: &str| {
        B64URL
            .decode_to_vec(segment.trim_end_matches('='))
            .ok()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    };
    let header: Value = serde_json::from_str(&decode(header)?).ok()?;
    decode(signature)?;
    let non_session_category = header
        .get("cat")
        .is_some_and(|cat| !matches!(cat.as_str(), Some(SESSION_CATEGORY | IGNORE_CATEGORY)));
    let payload: Value = serde_json::from_str(&decode(payload)?).ok()?;
    let number = |name: &str| payload.get(name).and_then(Value::as_f64);
    Some(Peek {
        non_session_category,
        iss: payload.get("iss").cloned(),
        iat: number("iat"),
        exp: number("exp"),
        sid: payload
            .get("sid")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// `Number.parseInt(value)`: leading whitespace, a sign, then decimal
/// digits (or `0x` and hex digits) up to the first other character; NaN
/// when there are none.
fn parse_int(value: &str) -> f64 {
    let text = value.trim_start();
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = match text.get(..2) {
        Some("0x" | "0X") => (16, &text[2..]),
        _ => (10, text),
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if end == 0 {
        return f64::NAN;
    }
    let magnitude = digits[..end]
        .chars()
        .filter_map(|c| c.to_digit(radix))
        .fold(0.0, |n, d| n * f64::from(radix) + f64::from(d));
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// `Number(value) || 0`, for the redirect counter.
fn parse_number(value: &str) -> f64 {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return 0.0;
    }
    trimmed
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn jar(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn cookies_parse_as_the_cookie_package_does() {
        let headers = jar(" a = 1 ; flag; b=%41%20c; a=2; c=%zz; d=%ff; e=\"q\"; =x;f=");
        let cookies = Cookies::parse(&headers);
        assert_eq!(cookies.get("a"), Some("1"));
        assert_eq!(cookies.get("b"), Some("A c"));
        assert_eq!(cookies.get("c"), Some("%zz"));
        assert_eq!(cookies.get("d"), Some("%ff"));
        assert_eq!(cookies.get("e"), Some("\"q\""));
        assert_eq!(cookies.get(""), Some("x"));
        assert_eq!(cookies.get("f"), Some(""));
        assert_eq!(cookies.get("flag"), None);
    }

    #[test]
    fn client_uat_reads_as_parse_int() {
        for (text, expected) in [
            ("1700000000", 1_700_000_000.0),
            ("  12abc", 12.0),
            ("-5", -5.0),
            ("0x10", 16.0),
            ("0", 0.0),
        ] {
            assert_eq!(parse_int(text), expected, "{text}");
        }
        assert!(parse_int("abc").is_nan());
        assert!(parse_int("").is_nan());
    }

    #[test]
    fn schemes_are_stripped_anywhere_in_the_issuer() {
        assert_eq!(strip_schemes("https://clerk.x.com"), "clerk.x.com");
        assert_eq!(strip_schemes("HTTP://a/https://b"), "a/b");
        assert_eq!(strip_schemes("clerk.x.com"), "clerk.x.com");
    }
}

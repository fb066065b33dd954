//! What kind of token arrived (session, M2M, OAuth, API key), read before
//! any verification as `@clerk/backend` tells them apart, and the kinds a
//! route accepts.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::jose::{segments, OAUTH_TYPES};
use crate::util::B64URL;

/// A kind of token a route may accept, with Clerk's `TokenType` names.
///
/// ```
/// use clerk_guard::TokenKind;
/// assert_eq!(TokenKind::M2m.clerk_name(), "m2m_token");
/// assert_eq!(TokenKind::parse("api_key"), Some(TokenKind::ApiKey));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A Clerk session token (a signed-in user).
    Session,
    /// A machine-to-machine token: JWT (`sub` `mch_…`) or opaque (`mt_…`).
    M2m,
    /// An OAuth access token: JWT (`typ` `at+jwt`) or opaque (`oat_…`).
    OAuth,
    /// An API key (`ak_…`), always opaque.
    ApiKey,
}

impl TokenKind {
    /// Every kind, in Clerk's order.
    pub const ALL: [TokenKind; 4] = [
        TokenKind::Session,
        TokenKind::M2m,
        TokenKind::OAuth,
        TokenKind::ApiKey,
    ];

    /// Clerk's name: `session_token`, `m2m_token`, `oauth_token`, `api_key`.
    ///
    /// ```
    /// assert_eq!(clerk_guard::TokenKind::Session.clerk_name(), "session_token");
    /// ```
    pub const fn clerk_name(self) -> &'static str {
        match self {
            TokenKind::Session => "session_token",
            TokenKind::M2m => "m2m_token",
            TokenKind::OAuth => "oauth_token",
            TokenKind::ApiKey => "api_key",
        }
    }

    /// A kind from the attribute's short name (`session`, `m2m`, `oauth`,
    /// `api_key`) or Clerk's (`session_token`, `m2m_token`, `oauth_token`).
    ///
    /// ```
    /// assert_eq!(clerk_guard::TokenKind::parse("oauth_token"), Some(clerk_guard::TokenKind::OAuth));
    /// assert_eq!(clerk_guard::TokenKind::parse("jwt"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "session" | "session_token" => TokenKind::Session,
            "m2m" | "m2m_token" => TokenKind::M2m,
            "oauth" | "oauth_token" => TokenKind::OAuth,
            "api_key" => TokenKind::ApiKey,
            _ => return None,
        })
    }

    /// This kind's bit in [`Accepts`] (and in the attribute's `Accepting<BITS>`).
    const fn bit(self) -> u8 {
        match self {
            TokenKind::Session => SESSION_BIT,
            TokenKind::M2m => M2M_BIT,
            TokenKind::OAuth => OAUTH_BIT,
            TokenKind::ApiKey => API_KEY_BIT,
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.clerk_name())
    }
}

const SESSION_BIT: u8 = 1;
const M2M_BIT: u8 = 2;
const OAUTH_BIT: u8 = 4;
const API_KEY_BIT: u8 = 8;
/// The machine kinds: M2M, OAuth, API key.
const MACHINE_BITS: u8 = M2M_BIT | OAUTH_BIT | API_KEY_BIT;
const ALL_BITS: u8 = SESSION_BIT | MACHINE_BITS;

/// The kinds of token a route accepts (Clerk's `acceptsToken`). Default:
/// session tokens only.
///
/// ```
/// use clerk_guard::{Accepts, TokenKind};
///
/// let machines = Accepts::M2M.with(TokenKind::ApiKey);
/// assert!(machines.contains(TokenKind::ApiKey));
/// assert!(!machines.contains(TokenKind::Session));
/// assert_eq!(Accepts::default(), Accepts::SESSION);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Accepts(u8);

impl Default for Accepts {
    fn default() -> Self {
        Accepts::SESSION
    }
}

impl Accepts {
    /// Session tokens only (the default).
    pub const SESSION: Accepts = Accepts(SESSION_BIT);
    /// M2M tokens only.
    pub const M2M: Accepts = Accepts(M2M_BIT);
    /// OAuth access tokens only.
    pub const OAUTH: Accepts = Accepts(OAUTH_BIT);
    /// API keys only.
    pub const API_KEY: Accepts = Accepts(API_KEY_BIT);
    /// Every kind (Clerk's `"any"`).
    pub const ANY: Accepts = Accepts(ALL_BITS);

    /// These kinds and `kind`.
    ///
    /// ```
    /// let both = clerk_guard::Accepts::SESSION.with(clerk_guard::TokenKind::M2m);
    /// ```
    pub const fn with(self, kind: TokenKind) -> Accepts {
        Accepts(self.0 | kind.bit())
    }

    /// Whether `kind` is accepted.
    ///
    /// ```
    /// assert!(clerk_guard::Accepts::ANY.contains(clerk_guard::TokenKind::OAuth));
    /// ```
    pub const fn contains(self, kind: TokenKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// Whether any machine kind (M2M, OAuth, API key) is accepted.
    ///
    /// ```
    /// assert!(!clerk_guard::Accepts::SESSION.accepts_machines());
    /// ```
    pub const fn accepts_machines(self) -> bool {
        self.0 & MACHINE_BITS != 0
    }

    /// From the bits the attribute writes (session 1, M2M 2, OAuth 4, API key
    /// 8); `None` for an empty or unknown set.
    ///
    /// ```
    /// assert_eq!(clerk_guard::Accepts::from_bits(3), Some(clerk_guard::Accepts::SESSION.with(clerk_guard::TokenKind::M2m)));
    /// assert_eq!(clerk_guard::Accepts::from_bits(0), None);
    /// ```
    pub const fn from_bits(bits: u8) -> Option<Accepts> {
        if bits == 0 || bits & !ALL_BITS != 0 {
            None
        } else {
            Some(Accepts(bits))
        }
    }

    /// The accepted kinds, in Clerk's order.
    ///
    /// ```
    /// assert_eq!(clerk_guard::Accepts::M2M.kinds().count(), 1);
    /// ```
    pub fn kinds(self) -> impl Iterator<Item = TokenKind> {
        TokenKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }
}

/// Clerk's prefixes of opaque machine tokens.
const PREFIXES: [(&str, TokenKind); 3] = [
    ("mt_", TokenKind::M2m),
    ("oat_", TokenKind::OAuth),
    ("ak_", TokenKind::ApiKey),
];

/// The body of an opaque token after its prefix: 12 to 128 ASCII letters and
/// digits (Clerk's tokens are base62). Anything else never reaches the
/// Backend API.
const OPAQUE_BODY: std::ops::RangeInclusive<usize> = 12..=128;

/// Whether `token` starts as an opaque machine token does.
pub(crate) fn has_machine_prefix(token: &str) -> bool {
    PREFIXES.iter().any(|(p, _)| token.starts_with(p))
}

/// What a token is, read before any verification, as `@clerk/backend` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Not a machine token: verified as a session token.
    Session,
    /// A JWT-format machine token.
    Jwt(TokenKind),
    /// An opaque machine token; `well_formed` when it has the known length
    /// and alphabet (only those are sent to the Backend API).
    Opaque { kind: TokenKind, well_formed: bool },
}

impl Class {
    /// The kind of token this class is verified as.
    pub(crate) fn kind(self) -> TokenKind {
        match self {
            Class::Session => TokenKind::Session,
            Class::Jwt(kind) | Class::Opaque { kind, .. } => kind,
        }
    }
}

/// Classifies `token` as `@clerk/backend` does: a JWT whose `sub` starts
/// with `mch_` is M2M, one whose `typ` is `at+jwt` is OAuth, any other JWT is
/// a session token; otherwise Clerk's prefixes.
pub(crate) fn classify(token: &str) -> Class {
    if is_jwt_format(token) {
        return jwt_kind(token);
    }
    for (prefix, kind) in PREFIXES {
        if let Some(body) = token.strip_prefix(prefix) {
            let well_formed = OPAQUE_BODY.contains(&body.len())
                && body.bytes().all(|b| b.is_ascii_alphanumeric());
            return Class::Opaque { kind, well_formed };
        }
    }
    Class::Session
}

/// Three non-empty base64url segments (Clerk's `isJwtFormat`).
pub(crate) fn is_jwt_format(token: &str) -> bool {
    let Ok((header, payload, signature)) = segments(token) else {
        return false;
    };
    [header, payload, signature]
        .iter()
        .all(|segment| !segment.is_empty() && base64url_alphabet(segment))
}

/// Every byte of `segment` in the base64url alphabet (`[A-Za-z0-9_-]`):
/// checked by the SIMD decoder's check where the segment is also of a
/// decodable length (every real token's), else byte by byte.
fn base64url_alphabet(segment: &str) -> bool {
    B64URL.check(segment.as_bytes()).is_ok()
        || segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Clerk's rule for a JWT-format token whose header and payload decode:
/// `sub` `mch_…` is M2M, else `typ` `at+jwt` is OAuth, else a session.
pub(crate) fn jwt_class(typ: Option<&str>, sub: Option<&str>) -> Class {
    if sub.is_some_and(|sub| sub.starts_with("mch_")) {
        Class::Jwt(TokenKind::M2m)
    } else if typ.is_some_and(|typ| OAUTH_TYPES.contains(&typ)) {
        Class::Jwt(TokenKind::OAuth)
    } else {
        Class::Session
    }
}

/// [`jwt_class`] of a JWT-format token, from its unverified header and
/// payload read as JSON (a session when either is not).
fn jwt_kind(token: &str) -> Class {
    #[derive(Deserialize)]
    struct Typ {
        typ: Option<Value>,
    }
    #[derive(Deserialize)]
    struct Sub {
        sub: Option<Value>,
    }
    let read = || {
        let (header, payload, _) = segments(token).ok()?;
        let header: Typ = serde_json::from_slice(&B64URL.decode_to_vec(header).ok()?).ok()?;
        let payload: Sub = serde_json::from_slice(&B64URL.decode_to_vec(payload).ok()?).ok()?;
        Some(jwt_class(
            header.typ.as_ref().and_then(Value::as_str),
            payload.sub.as_ref().and_then(Value::as_str),
        ))
    };
    read().unwrap_or(Class::Session)
}

/// A JWT-format token of `header` and `payload` (JSON text) with a dummy
/// signature, for classification tests.
#[cfg(test)]
pub(crate) fn unsigned_jwt(header: &str, payload: &str) -> String {
    format!(
        "{}.{}.c2ln",
        B64URL.encode_to_string(header),
        B64URL.encode_to_string(payload)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &str, payload: &str) -> String {
        unsigned_jwt(header, payload)
    }

    #[test]
    fn the_base64url_alphabet_is_clerks_regex() {
        let regex = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let mut cases: Vec<String> = [
            "a", "ab", "abc", "abcd", "abcde", "a_-9", "ab==", "ab=c", "abc=", "a+b/", "a b", "é",
            "AAAA\0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for len in 0..70 {
            for bad in [
                None,
                Some('='),
                Some('+'),
                Some('/'),
                Some('.'),
                Some('\u{7f}'),
                Some('ÿ'),
            ] {
                let mut s: String = "Zz09_-".chars().cycle().take(len).collect();
                if let Some(bad) = bad {
                    s.insert(len / 2, bad);
                }
                cases.push(s);
            }
        }
        for case in cases {
            assert_eq!(base64url_alphabet(&case), regex(&case), "{case:?}");
        }
    }

    #[test]
    fn jwts_are_told_apart_by_sub_then_typ() {
        let session = jwt(r#"{"alg":"RS256","typ":"JWT"}"#, r#"{"sub":"user_1"}"#);
        assert_eq!(classify(&session), Class::Session);
        let m2m = jwt(r#"{"typ":"JWT"}"#, r#"{"sub":"mch_1"}"#);
        assert_eq!(classify(&m2m), Class::Jwt(TokenKind::M2m));
        // `sub` decides before `typ`.
        let both = jwt(r#"{"typ":"at+jwt"}"#, r#"{"sub":"mch_1"}"#);
        assert_eq!(classify(&both), Class::Jwt(TokenKind::M2m));
        for typ in ["at+jwt", "application/at+jwt"] {
            let oauth = jwt(&format!(r#"{{"typ":"{typ}"}}"#), r#"{"sub":"user_1"}"#);
            assert_eq!(classify(&oauth), Class::Jwt(TokenKind::OAuth), "{typ}");
        }
        // Not strings, not JSON, not base64url: a session token to verify (and refuse).
        for token in [
            jwt(r#"{"typ":1}"#, r#"{"sub":["mch_1"]}"#),
            jwt("not json", r#"{"sub":"mch_1"}"#),
            "e30.e30.c2ln".to_owned(),
            "a.b.c".to_owned(),
        ] {
            assert_eq!(classify(&token), Class::Session, "{token}");
        }
    }

    #[test]
    fn jwt_format_is_three_non_empty_base64url_segments() {
        assert!(is_jwt_format("a.b.c"));
        assert!(is_jwt_format("a-_.b.c9"));
        for token in [
            "a.b", "a.b.c.d", ".b.c", "a..c", "a.b.", "a+.b.c", "a.b=.c", "a.b.c ",
        ] {
            assert!(!is_jwt_format(token), "{token}");
        }
    }

    #[test]
    fn opaque_tokens_by_prefix_length_and_alphabet() {
        let body = "A".repeat(32);
        for (prefix, kind) in PREFIXES {
            let class = classify(&format!("{prefix}{body}"));
            assert_eq!(
                class,
                Class::Opaque {
                    kind,
                    well_formed: true
                }
            );
            assert_eq!(class.kind(), kind);
            for bad in [
                "A".repeat(11),
                "A".repeat(129),
                format!("{}-", "A".repeat(20)),
            ] {
                assert_eq!(
                    classify(&format!("{prefix}{bad}")),
                    Class::Opaque {
                        kind,
                        well_formed: false
                    },
                    "{prefix}{bad}"
                );
            }
        }
        assert!(has_machine_prefix("ak_x"));
        assert!(!has_machine_prefix("sk_test_x"));
        assert_eq!(classify("sk_test_abcdefghijklmnop"), Class::Session);
        assert_eq!(classify(""), Class::Session);
    }

    #[test]
    fn accept_bits_are_the_kinds_bits() {
        assert_eq!(
            Accepts::ANY,
            TokenKind::ALL
                .into_iter()
                .fold(Accepts::SESSION, Accepts::with)
        );
        assert_eq!(Accepts::from_bits(ALL_BITS), Some(Accepts::ANY));
        assert_eq!(Accepts::from_bits(ALL_BITS + 1), None);
        for kind in TokenKind::ALL {
            let only = Accepts::from_bits(kind.bit()).unwrap();
            assert_eq!(only.kinds().collect::<Vec<_>>(), [kind]);
            assert_eq!(only.accepts_machines(), kind != TokenKind::Session);
        }
    }
}

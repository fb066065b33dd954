//! The JOSE side of a token: its three segments, its header, and the header
//! rules of each kind of JWT Clerk issues.

use std::borrow::Cow;
use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::rc::Rc;

use serde::Deserialize;

use crate::rejection::{AuthRejection, Reason};
use crate::util::{decode_on_stack, present};

/// Clerk's session token category.
pub(crate) const SESSION_CATEGORY: &str = "cl_B7d4PD111AAA";

/// The category an instance stamps on every class when asked to: it says
/// nothing of the class.
pub(crate) const IGNORE_CATEGORY: &str = "cl_I7d4PD111III";

/// The categories a session token may carry.
const SESSION_CATEGORIES: [&str; 2] = [SESSION_CATEGORY, IGNORE_CATEGORY];

/// Clerk's M2M token category.
const M2M_CATEGORY: &str = "cl_B7d4PD333AAA";

/// The `typ`s of an OAuth access token (RFC 9068).
pub(crate) const OAUTH_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];

/// The RSA signature algorithms a Clerk token may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RsaAlgorithm {
    Rs256,
    Rs384,
    Rs512,
}

impl RsaAlgorithm {
    /// The algorithm an `alg` header (or a JWK's `alg`) names, if it is one.
    pub(crate) fn from_header(alg: &str) -> Option<Self> {
        match alg {
            "RS256" => Some(Self::Rs256),
            "RS384" => Some(Self::Rs384),
            "RS512" => Some(Self::Rs512),
            _ => None,
        }
    }
}

/// A JWT's three segments: one forward scan finds the two dots and makes
/// sure there is no third (one search routine, so little code to fetch).
pub(crate) fn segments(token: &str) -> Result<(&str, &str, &str), AuthRejection> {
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    match (dots.next(), dots.next(), dots.next()) {
        // The dots are ASCII, so every slice below is on a char boundary.
        (Some(first), Some(last), None) => {
            Ok((&token[..first], &token[first + 1..last], &token[last + 1..]))
        }
        _ => Err(AuthRejection::invalid("not three dot-separated segments")),
    }
}

/// Which JWT a token is verified as: each has its own header rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwtKind {
    Session,
    M2m,
    OAuth,
}

impl JwtKind {
    /// `typ` and `cat` rules, as `@clerk/backend` applies them to this kind.
    pub(crate) fn check_type(
        self,
        typ: Option<&str>,
        cat: Option<&str>,
    ) -> Result<(), AuthRejection> {
        match self {
            JwtKind::Session => {
                if typ.is_some_and(|typ| OAUTH_TYPES.contains(&typ)) {
                    return Err(AuthRejection::with_detail(
                        Reason::TokenTypeMismatch,
                        "typ is an OAuth access token's, not a session token's",
                    ));
                }
                // Exactly `JWT`, as Clerk's verifier requires (`jwt` is refused there too).
                if typ.is_some_and(|typ| typ != "JWT") {
                    return Err(AuthRejection::invalid("typ is not JWT"));
                }
                if cat.is_some_and(|cat| !SESSION_CATEGORIES.contains(&cat)) {
                    return Err(AuthRejection::with_detail(
                        Reason::TokenTypeMismatch,
                        "cat is not a session token category",
                    ));
                }
            }
            JwtKind::M2m => {
                if typ.is_some_and(|typ| typ != "JWT") {
                    return Err(AuthRejection::invalid("typ is not JWT"));
                }
                if cat.is_some_and(|cat| cat != M2M_CATEGORY) {
                    return Err(AuthRejection::invalid("cat is not the M2M token category"));
                }
            }
            JwtKind::OAuth => {
                if !typ.is_some_and(|typ| OAUTH_TYPES.contains(&typ)) {
                    return Err(AuthRejection::invalid(
                        "typ is not at+jwt or application/at+jwt",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A token header that passed the rules every kind shares (base64url of at
/// most 1 KiB, a JSON object, `alg` RS256/384/512, a `kid`), with what the
/// kind-specific rules read.
pub(crate) struct Header {
    /// The header as it appears in the token.
    b64: Box<str>,
    pub(crate) alg: RsaAlgorithm,
    pub(crate) kid: Box<str>,
    pub(crate) typ: Option<Box<str>>,
    pub(crate) cat: Option<Box<str>>,
    pub(crate) crit: bool,
}

thread_local! {
    /// The last token header this thread parsed.
    static LAST_HEADER: RefCell<Option<Rc<Header>>> = const { RefCell::new(None) };
}

impl Header {
    /// The header `header_b64`, parsed. One instance's tokens share their
    /// header, so each thread keeps the last one it parsed and does not
    /// decode and parse the same bytes again. A parsed header depends on its
    /// bytes alone, so the memo serves every verifier; being the thread's
    /// own, reading it takes no atomic operation.
    pub(crate) fn get(header_b64: &str) -> Result<Rc<Self>, AuthRejection> {
        LAST_HEADER.with(|last| {
            let mut last = last.borrow_mut();
            if let Some(memo) = last.as_ref().filter(|m| *m.b64 == *header_b64) {
                return Ok(Rc::clone(memo));
            }
            let fresh = Rc::new(Self::parse(header_b64)?);
            *last = Some(Rc::clone(&fresh));
            Ok(fresh)
        })
    }

    fn parse(header_b64: &str) -> Result<Self, AuthRejection> {
        // Small and short-lived: decoded on the stack.
        let mut header_buf = [MaybeUninit::uninit(); 1024];
        let header = decode_on_stack(header_b64, &mut header_buf)
            .ok_or_else(|| AuthRejection::invalid("header is not base64url (or over 1 KiB)"))?;
        // An object: serde would also read the struct from an array.
        if header.trim_ascii_start().first() != Some(&b'{') {
            return Err(AuthRejection::invalid("header is not a JSON object"));
        }
        let header: JoseHeader<'_> = serde_json::from_slice(header)
            .map_err(|_| AuthRejection::invalid("header is not a JSON object of string fields"))?;
        let alg = header
            .alg
            .as_deref()
            .and_then(RsaAlgorithm::from_header)
            .ok_or_else(|| {
                AuthRejection::with_detail(
                    Reason::TokenInvalidAlgorithm,
                    "alg is not RS256, RS384 or RS512",
                )
            })?;
        let kid = header
            .kid
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| AuthRejection::invalid("kid is missing"))?;
        Ok(Header {
            b64: header_b64.into(),
            alg,
            kid: kid.into(),
            typ: header.typ.map(|t| t.into()),
            cat: header.cat.map(|c| c.into()),
            crit: header.crit.is_some(),
        })
    }
}

/// The header fields clerk-guard reads: each a string when present (`null`
/// included, as Clerk refuses it), `crit` anything.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    alg: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "present")]
    kid: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "present")]
    typ: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "present")]
    cat: Option<Cow<'a, str>>,
    crit: Option<serde::de::IgnoredAny>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three segments exactly, split where `str::split` splits them.
    #[test]
    fn segments_are_three_dot_separated_parts() {
        for token in [
            "",
            ".",
            "..",
            "...",
            "a",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            ".b.c",
            "a..c",
            "a.b.",
            "..c",
            "héé.ü.ß",
            "a.b.c.",
            "aaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.cccc",
        ] {
            let parts: Vec<&str> = token.split('.').collect();
            let expected = (parts.len() == 3).then(|| (parts[0], parts[1], parts[2]));
            assert_eq!(segments(token).ok(), expected, "{token:?}");
        }
    }

    #[test]
    fn each_kind_has_its_own_type_rules() {
        let ok = |kind: JwtKind, typ, cat| kind.check_type(typ, cat).map_err(|r| r.reason());
        assert_eq!(ok(JwtKind::Session, None, None), Ok(()));
        assert_eq!(
            ok(JwtKind::Session, Some("JWT"), Some("cl_B7d4PD111AAA")),
            Ok(())
        );
        assert_eq!(
            ok(JwtKind::Session, Some("JWT"), Some("cl_I7d4PD111III")),
            Ok(())
        );
        assert_eq!(
            ok(JwtKind::Session, Some("jwt"), None),
            Err(Reason::TokenInvalid)
        );
        assert_eq!(
            ok(JwtKind::Session, Some("at+jwt"), None),
            Err(Reason::TokenTypeMismatch)
        );
        assert_eq!(
            ok(JwtKind::Session, None, Some("cl_B7d4PD333AAA")),
            Err(Reason::TokenTypeMismatch)
        );
        assert_eq!(
            ok(JwtKind::M2m, Some("JWT"), Some("cl_B7d4PD333AAA")),
            Ok(())
        );
        assert_eq!(
            ok(JwtKind::M2m, None, Some("cl_B7d4PD111AAA")),
            Err(Reason::TokenInvalid)
        );
        assert_eq!(ok(JwtKind::OAuth, Some("application/at+jwt"), None), Ok(()));
        assert_eq!(
            ok(JwtKind::OAuth, Some("JWT"), None),
            Err(Reason::TokenInvalid)
        );
        assert_eq!(ok(JwtKind::OAuth, None, None), Err(Reason::TokenInvalid));
    }
}

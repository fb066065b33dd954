//! Clerk's classification of a request's token ([`classify`]), quicker for
//! the usual session token.

use std::mem::MaybeUninit;

use crate::auth;
use crate::token::{classify, is_jwt_format, jwt_class, segments, Class, Header};
use crate::util::decode_on_stack;

/// The largest payload read on the stack here; a longer one is classified
/// by [`classify`].
const STACK_PAYLOAD: usize = 2048;

/// [`classify`], without decoding the token twice into JSON values: the
/// header's `typ` from the thread's parsed header ([`Header::get`], which
/// the verification reads next), the payload's `sub` by the one-pass claims
/// reader. Each reads only what `classify`'s serde reading reads the same
/// way (a JSON object, the same strings); anything else goes to `classify`.
pub(crate) fn class_of(token: &str) -> Class {
    quick_class(token).unwrap_or_else(|| classify(token))
}

fn quick_class(token: &str) -> Option<Class> {
    if !is_jwt_format(token) {
        return None;
    }
    let (header, payload, _) = segments(token).ok()?;
    let header = Header::get(header).ok()?;
    let mut buf = [MaybeUninit::uninit(); STACK_PAYLOAD];
    let payload = std::str::from_utf8(decode_on_stack(payload, &mut buf)?).ok()?;
    let sub = auth::subject(payload)?;
    Some(jwt_class(header.typ.as_deref(), sub))
}

#[cfg(any(test, feature = "testing"))]
/// Whether [`class_of`] gives `token` the class [`classify`] does (panics
/// if not); `true` when the quick reading took it.
pub(crate) fn check(token: &str) -> bool {
    let slow = classify(token);
    assert_eq!(class_of(token), slow, "classes differ for {token:?}");
    quick_class(token).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{unsigned_jwt as jwt, TokenKind};

    #[test]
    fn the_quick_classification_is_clerks() {
        let rs = r#"{"alg":"RS256","kid":"k","typ":"JWT"}"#;
        let at = r#"{"alg":"RS256","kid":"k","typ":"at+jwt"}"#;
        let cases = [
            (rs, r#"{"sub":"user_1","exp":1}"#, Class::Session, true),
            (rs, r#"{"sub":"mch_1"}"#, Class::Jwt(TokenKind::M2m), true),
            (at, r#"{"sub":"mch_1"}"#, Class::Jwt(TokenKind::M2m), true),
            (
                at,
                r#"{"sub":"user_1"}"#,
                Class::Jwt(TokenKind::OAuth),
                true,
            ),
            (at, "{}", Class::Jwt(TokenKind::OAuth), true),
            (
                r#"{"alg":"RS256","kid":"k","typ":"application/at+jwt"}"#,
                r#"{"exp":1}"#,
                Class::Jwt(TokenKind::OAuth),
                true,
            ),
            // Left to serde: escapes, repeated claims, odd headers, arrays.
            (
                rs,
                r#"{"sub":"mch\u005f1"}"#,
                Class::Jwt(TokenKind::M2m),
                false,
            ),
            (
                rs,
                r#"{"sub":"mch_1","sub":"user_1"}"#,
                Class::Session,
                false,
            ),
            (rs, r#"{"sub":1}"#, Class::Session, false),
            (rs, r#"{"sub":null}"#, Class::Session, false),
            (rs, r#"["mch_1"]"#, Class::Jwt(TokenKind::M2m), false),
            (rs, "not json", Class::Session, false),
            (
                r#"{"typ":"at+jwt"}"#,
                "{}",
                Class::Jwt(TokenKind::OAuth),
                false,
            ),
            (
                r#"{"alg":"HS256","kid":"k","typ":"at+jwt"}"#,
                "{}",
                Class::Jwt(TokenKind::OAuth),
                false,
            ),
            (
                r#"{"alg":"RS256","kid":"k","typ":null}"#,
                "{}",
                Class::Session,
                false,
            ),
            (
                r#"{"alg":"RS256","kid":"k","typ":"at\u002bjwt"}"#,
                "{}",
                Class::Jwt(TokenKind::OAuth),
                true,
            ),
        ];
        for (header, payload, class, quick) in cases {
            let token = jwt(header, payload);
            assert_eq!(class_of(&token), class, "{header} {payload}");
            assert_eq!(check(&token), quick, "{header} {payload}");
        }
        let long = format!(r#"{{"sub":"mch_1","pad":"{}"}}"#, "x".repeat(STACK_PAYLOAD));
        assert!(!check(&jwt(rs, &long)));
        assert_eq!(class_of(&jwt(rs, &long)), Class::Jwt(TokenKind::M2m));
        for opaque in ["ak_", "mt_0123", "oat_x", "", "a.b", "a..c"] {
            assert!(!check(opaque), "{opaque}");
        }
    }
}

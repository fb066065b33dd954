//! The token on the wire: where a request carries it, its JOSE segments and
//! header rules, and which kind of token it is.

mod cookies;
mod jose;
mod kind;
mod source;

pub(crate) use cookies::{
    names as cookie_names, peek, CookieScope, CookieStep, Cookies, SessionCookies,
};
pub(crate) use jose::{segments, Header, JwtKind, RsaAlgorithm};
#[cfg(test)]
pub(crate) use kind::unsigned_jwt;
pub(crate) use kind::{classify, has_machine_prefix, is_jwt_format, jwt_class, Class};
pub use kind::{Accepts, TokenKind};
pub(crate) use source::{bearer_bytes, header_token, is_request_token};

//! Requirements a verified user must meet, carried in types so an extractor
//! can check them before the handler runs.
//!
//! `#[clerk_protected(roles = "admin")]` spells the string `"admin"` as a
//! type (`Str<Chunk<…, End>>`, its UTF-8 bytes packed 64 to a type level in
//! `u128` const parameters) so the requirement needs no item beside the
//! handler and works for associated functions in `impl` blocks too. By hand,
//! a named type reads better:
//!
//! ```
//! use clerk_guard::{ClerkAuth, Guard, Reason, Requirement};
//!
//! struct Staff;
//! impl Requirement for Staff {
//!     fn check(auth: &ClerkAuth) -> Result<(), Reason> {
//!         if auth.has_role("staff") || auth.has_org_role("admin") {
//!             Ok(())
//!         } else {
//!             Err(Reason::MissingRole)
//!         }
//!     }
//! }
//!
//! async fn staff_only(_: Guard<Staff>) -> &'static str {
//!     "hello, staff"
//! }
//! ```

use std::marker::PhantomData;

use crate::auth::{
    org_role_matches, ClerkAuth, Principal, ReverificationLevel, REVERIFICATION_PRESETS,
};
use crate::rejection::{AuthRejection, Reason};
use crate::token::Accepts;

/// A condition on a verified user, checked by [`Guard`](crate::Guard).
///
/// ```
/// use clerk_guard::{ClerkAuth, Reason, Requirement};
///
/// struct Billing;
/// impl Requirement for Billing {
///     fn check(auth: &ClerkAuth) -> Result<(), Reason> {
///         auth.has_permission("org:billing:manage").then_some(()).ok_or(Reason::MissingPermission)
///     }
/// }
/// ```
pub trait Requirement: 'static {
    /// `Ok` when `auth` meets the requirement, else the 403 reason.
    fn check(auth: &ClerkAuth) -> Result<(), Reason>;

    /// The rejection [`Guard`](crate::Guard) answers with; by default the
    /// reason's. Override it to add to the response (reverification does, to
    /// answer Clerk's own body).
    fn verdict(auth: &ClerkAuth) -> Result<(), AuthRejection> {
        Self::check(auth).map_err(AuthRejection::new)
    }

    /// The verdict on whoever called, on routes that accept machine tokens.
    /// By default a session gets [`verdict`](Self::verdict) and a machine
    /// token is refused (401 `token-type-mismatch`): a requirement on a
    /// user's claims never passes for a machine. [`SignedIn`] admits any
    /// principal; `scopes = …` ([`AllScopes`]) checks machine tokens.
    ///
    /// ```
    /// use clerk_guard::{ClerkAuth, Principal, Reason, Requirement};
    /// # use clerk_guard::AuthRejection;
    ///
    /// /// Machines, or users with the `ops` role.
    /// struct OpsOrMachine;
    /// impl Requirement for OpsOrMachine {
    ///     fn check(auth: &ClerkAuth) -> Result<(), Reason> {
    ///         auth.has_role("ops").then_some(()).ok_or(Reason::MissingRole)
    ///     }
    ///     fn verdict_for(principal: &Principal) -> Result<(), AuthRejection> {
    ///         match principal {
    ///             Principal::Session(auth) => Self::verdict(auth),
    ///             _ => Ok(()),
    ///         }
    ///     }
    /// }
    /// ```
    fn verdict_for(principal: &Principal) -> Result<(), AuthRejection> {
        match principal {
            Principal::Session(auth) => Self::verdict(auth),
            _ => Err(AuthRejection::with_detail(
                Reason::TokenTypeMismatch,
                "the route's requirement applies to session tokens only",
            )),
        }
    }
}

/// The kinds of token a [`Guard`](crate::Guard) accepts, as a type.
///
/// ```
/// use clerk_guard::{AcceptList, Accepting, Accepts};
/// assert_eq!(<Accepting<2> as AcceptList>::ACCEPTS, Accepts::M2M);
/// ```
pub trait AcceptList: 'static {
    /// The accepted kinds.
    const ACCEPTS: Accepts;
    /// Whether a browser's page refused as signed out is sent to the
    /// sign-in page (see [`SignInRedirect`]). Default: no, 401.
    const SIGN_IN_REDIRECT: bool = false;
}

/// The kinds `A` accepts, and a browser's page refused as signed out sent
/// to the sign-in page (`ClerkConfigBuilder::sign_in_url`, else the
/// Account Portal) with `redirect_url` the page, as Clerk's
/// `redirectToSignIn()` does; API requests on the same route still get 401.
/// What `#[clerk_protected(sign_in_redirect)]` writes.
///
/// ```
/// use clerk_guard::{ClerkAuth, Guard, SessionTokens, SignInRedirect, SignedIn};
///
/// async fn dashboard(_: Guard<SignedIn, SignInRedirect<SessionTokens>>, auth: ClerkAuth) -> String {
///     format!("<h1>Hello {}</h1>", auth.user_id())
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SignInRedirect<A>(PhantomData<A>);

impl<A: AcceptList> AcceptList for SignInRedirect<A> {
    const ACCEPTS: Accepts = A::ACCEPTS;
    const SIGN_IN_REDIRECT: bool = true;
}

/// The kinds of [`Accepts::from_bits`]`(BITS)` as a type: session 1, M2M 2,
/// OAuth 4, API key 8 (`accepts = …` writes it).
///
/// ```
/// use clerk_guard::{Accepting, Guard, Principal, SignedIn};
///
/// // `#[clerk_protected(accepts = ["m2m", "api_key"])]`, by hand:
/// async fn ingest(_: Guard<SignedIn, Accepting<10>>, caller: Principal) -> String {
///     caller.subject().to_owned()
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Accepting<const BITS: u8>;

impl<const BITS: u8> AcceptList for Accepting<BITS> {
    const ACCEPTS: Accepts = match Accepts::from_bits(BITS) {
        Some(accepts) => accepts,
        None => panic!("Accepting<BITS>: BITS must be 1 to 15"),
    };
}

/// Session tokens only: what a [`Guard`](crate::Guard) accepts by default.
///
/// ```
/// use clerk_guard::{AcceptList, Accepts, SessionTokens};
/// assert_eq!(<SessionTokens as AcceptList>::ACCEPTS, Accepts::SESSION);
/// ```
pub type SessionTokens = Accepting<1>;

/// Any signed-in user (`#[clerk_protected]` with no keys).
///
/// ```
/// async fn signed_in(_: clerk_guard::Guard<clerk_guard::SignedIn>) {}
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SignedIn;

impl Requirement for SignedIn {
    fn check(_: &ClerkAuth) -> Result<(), Reason> {
        Ok(())
    }
    fn verdict_for(_: &Principal) -> Result<(), AuthRejection> {
        Ok(())
    }
}

/// Requirements combined with AND (different attribute keys): the first
/// unmet one answers.
macro_rules! all_of {
    ($($name:ident),+) => {
        impl<$($name: Requirement),+> Requirement for ($($name,)+) {
            fn check(auth: &ClerkAuth) -> Result<(), Reason> {
                $($name::check(auth)?;)+
                Ok(())
            }
            fn verdict(auth: &ClerkAuth) -> Result<(), AuthRejection> {
                $($name::verdict(auth)?;)+
                Ok(())
            }
            fn verdict_for(principal: &Principal) -> Result<(), AuthRejection> {
                $($name::verdict_for(principal)?;)+
                Ok(())
            }
        }
    };
}

all_of!(A, B);
all_of!(A, B, C);
all_of!(A, B, C, D);
all_of!(A, B, C, D, E);
all_of!(A, B, C, D, E, F);

/// A string spelled as a type, 64 bytes of UTF-8 per level; see [`Str`].
pub trait TypeStr: 'static {
    /// Whether `rest` is exactly the remaining bytes of this string.
    fn matches_rest(rest: &[u8]) -> bool;
    /// Appends this string's bytes to `out`.
    fn write(out: &mut Vec<u8>);
}

/// The end of a type-level string.
#[derive(Debug, Clone, Copy)]
pub struct End;

/// Up to 64 bytes of a type-level string, big-endian in four words, padded
/// with zero bytes (the attribute refuses NUL in its strings), then the rest.
#[derive(Debug, Clone, Copy)]
pub struct Chunk<const A: u128, const B: u128, const C: u128, const D: u128, Rest>(
    PhantomData<Rest>,
);

impl TypeStr for End {
    fn matches_rest(rest: &[u8]) -> bool {
        rest.is_empty()
    }
    fn write(_: &mut Vec<u8>) {}
}

/// The bytes of a chunk, up to its zero padding.
fn chunk_bytes(words: [u128; 4]) -> impl Iterator<Item = u8> {
    words
        .into_iter()
        .flat_map(u128::to_be_bytes)
        .take_while(|b| *b != 0)
}

impl<const A: u128, const B: u128, const C: u128, const D: u128, Rest: TypeStr> TypeStr
    for Chunk<A, B, C, D, Rest>
{
    fn matches_rest(rest: &[u8]) -> bool {
        let mut len = 0;
        for byte in chunk_bytes([A, B, C, D]) {
            if rest.get(len) != Some(&byte) {
                return false;
            }
            len += 1;
        }
        // A padded (short) chunk is the last one.
        if len < 64 {
            return rest.len() == len;
        }
        Rest::matches_rest(&rest[len..])
    }
    fn write(out: &mut Vec<u8>) {
        out.extend(chunk_bytes([A, B, C, D]));
        Rest::write(out);
    }
}

/// A string known at compile time, as a type: `"ab"` is
/// `Str<Chunk<0x6162_0000…, 0, 0, 0, End>>` (bytes `a`, `b`, zero padding).
///
/// ```
/// use clerk_guard::__private::{Chunk, End, Str};
/// type Ab = Str<Chunk<{ 0x6162 << 112 }, 0, 0, 0, End>>;
/// assert!(Ab::is("ab"));
/// assert!(!Ab::is("abc"));
/// assert!(!Ab::is("a"));
/// assert_eq!(Ab::to_string(), "ab");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Str<S>(PhantomData<S>);

impl<S: TypeStr> Str<S> {
    /// Whether `value` is this string.
    pub fn is(value: &str) -> bool {
        S::matches_rest(value.as_bytes())
    }
    /// This string as a `String`.
    #[allow(clippy::inherent_to_string)]
    pub fn to_string() -> String {
        let mut out = Vec::new();
        S::write(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Asks whether the user holds a value accepted by the given matcher.
pub type Holds<'a> = &'a dyn Fn(&dyn Fn(&str) -> bool) -> bool;

/// A list of type-level strings: `(Str<…>, (Str<…>, ()))`.
pub trait StrList: 'static {
    /// Whether any string of the list satisfies `found`.
    fn any(found: Holds<'_>) -> bool;
    /// Whether every string of the list satisfies `found`.
    fn all(found: Holds<'_>) -> bool;
    /// Whether `test` holds for any string of the list, as a `&str`.
    fn any_value(test: &dyn Fn(&str) -> bool) -> bool;
    /// Whether `test` holds for every string of the list, as a `&str`.
    fn all_values(test: &dyn Fn(&str) -> bool) -> bool;
}

impl StrList for () {
    fn any(_: Holds<'_>) -> bool {
        false
    }
    fn all(_: Holds<'_>) -> bool {
        true
    }
    fn any_value(_: &dyn Fn(&str) -> bool) -> bool {
        false
    }
    fn all_values(_: &dyn Fn(&str) -> bool) -> bool {
        true
    }
}

impl<S: TypeStr, Rest: StrList> StrList for (Str<S>, Rest) {
    fn any(found: Holds<'_>) -> bool {
        found(&|v| Str::<S>::is(v)) || Rest::any(found)
    }
    fn all(found: Holds<'_>) -> bool {
        found(&|v| Str::<S>::is(v)) && Rest::all(found)
    }
    fn any_value(test: &dyn Fn(&str) -> bool) -> bool {
        test(&Str::<S>::to_string()) || Rest::any_value(test)
    }
    fn all_values(test: &dyn Fn(&str) -> bool) -> bool {
        test(&Str::<S>::to_string()) && Rest::all_values(test)
    }
}

/// The user holds at least one of the application roles `L` (`roles = …`).
#[derive(Debug, Clone, Copy)]
pub struct AnyRole<L>(PhantomData<L>);

impl<L: StrList> Requirement for AnyRole<L> {
    fn check(auth: &ClerkAuth) -> Result<(), Reason> {
        L::any(&|is| auth.holds_role(is))
            .then_some(())
            .ok_or(Reason::MissingRole)
    }
}

/// The active organization role is `S`, with or without `org:` (`org_role = …`).
#[derive(Debug, Clone, Copy)]
pub struct OrgRole<S>(PhantomData<S>);

impl<S: TypeStr> Requirement for OrgRole<Str<S>> {
    fn check(auth: &ClerkAuth) -> Result<(), Reason> {
        auth.org_role_is(&|held| org_role_matches(held, Str::<S>::is))
            .then_some(())
            .ok_or(Reason::MissingOrgRole)
    }
}

/// The user holds every organization permission of `L` (`permissions = …`).
#[derive(Debug, Clone, Copy)]
pub struct AllPermissions<L>(PhantomData<L>);

impl<L: StrList> Requirement for AllPermissions<L> {
    fn check(auth: &ClerkAuth) -> Result<(), Reason> {
        L::all(&|is| auth.grants(is))
            .then_some(())
            .ok_or(Reason::MissingPermission)
    }
}

/// The machine token holds every scope of `L` (`scopes = …`): OAuth scopes,
/// the machines an M2M token may reach, an API key's scopes. A session
/// token has no scopes and never meets it (403 `missing-scope`).
///
/// ```
/// use clerk_guard::{Accepting, Guard, Principal};
/// use clerk_guard::__private::{AllScopes, Chunk, End, Str};
///
/// // `scopes = "read"` on an OAuth-only route, by hand.
/// type Read = Str<Chunk<{ u128::from_be_bytes(*b"read\0\0\0\0\0\0\0\0\0\0\0\0") }, 0, 0, 0, End>>;
/// async fn reports(_: Guard<AllScopes<(Read, ())>, Accepting<4>>, caller: Principal) {}
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AllScopes<L>(PhantomData<L>);

impl<L: StrList> Requirement for AllScopes<L> {
    fn check(_: &ClerkAuth) -> Result<(), Reason> {
        Err(Reason::MissingScope)
    }
    fn verdict_for(principal: &Principal) -> Result<(), AuthRejection> {
        let scopes = principal.scopes();
        let held = |is: &dyn Fn(&str) -> bool| scopes.iter().any(|s| is(s));
        match principal {
            Principal::Session(_) => Err(AuthRejection::with_detail(
                Reason::MissingScope,
                "a session token has no scopes",
            )),
            _ if L::all(&held) => Ok(()),
            _ => Err(AuthRejection::new(Reason::MissingScope)),
        }
    }
}

/// The session holds every billing feature of `L` (`feature = …`).
#[derive(Debug, Clone, Copy)]
pub struct AllFeatures<L>(PhantomData<L>);

impl<L: StrList> Requirement for AllFeatures<L> {
    fn check(auth: &ClerkAuth) -> Result<(), Reason> {
        L::all_values(&|feature| auth.has_feature(feature))
            .then_some(())
            .ok_or(Reason::MissingFeature)
    }
}

/// The session is on one of the billing plans of `L` (`plan = …`).
#[derive(Debug, Clone, Copy)]
pub struct AnyPlan<L>(PhantomData<L>);

impl<L: StrList> Requirement for AnyPlan<L> {
    fn check(auth: &ClerkAuth) -> Result<(), Reason> {
        L::any_value(&|plan| auth.has_plan(plan))
            .then_some(())
            .ok_or(Reason::MissingPlan)
    }
}

/// The user verified `LEVEL` (0 first factor, 1 second factor, 2 multi
/// factor) within `MINUTES` minutes (`reverification = …`). `PRESET` names
/// Clerk's preset the body reports (1 strict_mfa, 2 strict, 3 moderate,
/// 4 lax; 0 for a custom level and age). Use the aliases by hand:
///
/// ```
/// use clerk_guard::{ClerkAuth, Guard, ReverifyStrict};
///
/// async fn delete_account(_: Guard<ReverifyStrict>, auth: ClerkAuth) -> String {
///     format!("deleting {}", auth.user_id())
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Reverify<const LEVEL: u8, const MINUTES: u32, const PRESET: u8 = 0>;

/// Clerk's `strict_mfa`: both factors within 10 minutes.
pub type ReverifyStrictMfa = Reverify<2, 10, 1>;
/// Clerk's `strict`: the second factor within 10 minutes.
pub type ReverifyStrict = Reverify<1, 10, 2>;
/// Clerk's `moderate`: the second factor within 60 minutes.
pub type ReverifyModerate = Reverify<1, 60, 3>;
/// Clerk's `lax`: the second factor within a day.
pub type ReverifyLax = Reverify<1, 1440, 4>;

impl<const LEVEL: u8, const MINUTES: u32, const PRESET: u8> Reverify<LEVEL, MINUTES, PRESET> {
    const fn level() -> ReverificationLevel {
        ReverificationLevel::from_number(LEVEL)
    }

    /// What the route requires, as Clerk's body says it.
    fn required() -> serde_json::Value {
        match PRESET {
            1..=4 => serde_json::Value::from(REVERIFICATION_PRESETS[usize::from(PRESET) - 1].0),
            _ => serde_json::json!({ "level": Self::level().as_str(), "afterMinutes": MINUTES }),
        }
    }
}

impl<const LEVEL: u8, const MINUTES: u32, const PRESET: u8> Requirement
    for Reverify<LEVEL, MINUTES, PRESET>
{
    fn check(auth: &ClerkAuth) -> Result<(), Reason> {
        auth.reverified_within(Self::level(), MINUTES)
            .then_some(())
            .ok_or(Reason::ReverificationRequired)
    }

    fn verdict(auth: &ClerkAuth) -> Result<(), AuthRejection> {
        Self::check(auth).map_err(|_| AuthRejection::reverification(Self::required()))
    }
}

//! Clerk authentication for axum in one attribute.
//!
//! ```
//! use axum::{extract::State, routing::get, Router};
//! use clerk_guard::{clerk_protected, ClerkAuth};
//!
//! #[derive(Clone)]
//! struct Db;
//!
//! #[clerk_protected(roles = "admin")]
//! async fn admin_panel(auth: ClerkAuth, State(db): State<Db>) -> String {
//!     format!("welcome, {}", auth.user_id())
//! }
//!
//! #[clerk_protected(optional)]
//! async fn feed(auth: Option<ClerkAuth>) -> String {
//!     auth.map_or("public feed".into(), |a| format!("feed of {}", a.user_id()))
//! }
//!
//! let app: Router = Router::new()
//!     .route("/admin", get(admin_panel))
//!     .route("/feed", get(feed))
//!     .with_state(Db);
//! ```
//!
//! Each request's session token (`Authorization: Bearer`, else the session
//! cookies as Clerk's middleware reads them: `__session` with
//! `__client_uat`, suffixed when the publishable key says so) is verified
//! against your Clerk instance's JWKS by the rules of Clerk's backend SDKs: RS256/384/512 only, `kid` required, `typ`
//! JWT, session category, signature before any claim, `exp`/`nbf`/`iat` with
//! 5 s skew, issuer, authorized parties, audience, machine and pending
//! sessions refused. Failures answer 401/403/503 per RFC 6750 with Clerk's
//! reason codes ([`Reason`]).
//!
//! # Configuration
//!
//! The process-wide verifier is built on first use from the environment
//! ([`ClerkConfig::from_env`]: `CLERK_JWT_KEY`, `CLERK_JWKS_URL`,
//! `CLERK_PUBLISHABLE_KEY`, `CLERK_SECRET_KEY`, `CLERK_ISSUER`,
//! `CLERK_AUTHORIZED_PARTIES`), or at startup with [`init`]. A router can
//! carry its own [`ClerkVerifier`] as an `Extension` or through
//! [`ClerkLayer::with_verifier`]; extractors behind it use that one.
//!
//! A verification belongs to the verifier that made it: a request is
//! verified at most once per verifier, and an extractor or layer with a
//! different verifier verifies again, so nesting routers for two Clerk
//! instances never lets one instance's tokens into the other's routes.
//! `Extension<ClerkAuth>` holds the verdict of the innermost verifier.
//!
//! No setting fails open: a blank authorized party, a zero TTL, cooldown,
//! timeout or size cap, an `http://` key URL off loopback, or a URL with
//! credentials is a [`ConfigError`] naming the setting.
//!
//! # The attribute
//!
//! | attribute | admits |
//! |---|---|
//! | `#[clerk_protected]` | any signed-in user |
//! | `#[clerk_protected(roles = "admin")]` | users with that application role |
//! | `#[clerk_protected(roles = ["admin", "editor"])]` | users with any of them |
//! | `#[clerk_protected(org_role = "admin")]` | the active organization role (`admin` = `org:admin`) |
//! | `#[clerk_protected(permissions = "org:billing:manage")]` | users with that org permission |
//! | `#[clerk_protected(permissions = ["org:a:read", "org:b:read"])]` | users with all of them |
//! | `#[clerk_protected(roles = "admin", permissions = "org:x:y")]` | different keys: AND |
//! | `#[clerk_protected(feature = "reports")]` | sessions with that billing feature (`fea`; `org:`/`user:` scopes) |
//! | `#[clerk_protected(plan = ["pro", "team"])]` | sessions on any of those plans (`pla`) |
//! | `#[clerk_protected(reverification = "strict")]` | a recent step-up (`fva`; presets `strict_mfa`, `strict`, `moderate`, `lax`, or `reverification(level = "second_factor", after_minutes = 30)`); Clerk's own 403 body otherwise |
//! | `#[clerk_protected(optional)]` | everyone; `Option<ClerkAuth>` is `None` for anonymous or invalid tokens |
//! | `#[clerk_protected(accepts = "m2m")]` | machine-to-machine tokens only (JWT or opaque `mt_…`) |
//! | `#[clerk_protected(accepts = ["session", "m2m", "oauth", "api_key"])]` | any of these kinds of token (`"any"` for all) |
//! | `#[clerk_protected(accepts = "oauth", scopes = ["read", "write"])]` | OAuth access tokens with every listed scope |
//! | `#[clerk_protected(sign_in_redirect)]` | signed-in users; a browser's page signed out is sent to the sign-in page |
//!
//! # Browsers' pages
//!
//! With the publishable key configured, a page request (a browser's `GET`
//! navigation) whose session Clerk would refresh gets Clerk's handshake: a
//! 307 through the Frontend API, which sets fresh cookies and sends the
//! browser back (see `browser` in the README). API requests never get a
//! redirect.
//!
//! # Machine requests
//!
//! As Clerk's `acceptsToken`, `accepts = …` lets a route admit M2M tokens,
//! OAuth access tokens and API keys besides (or instead of) session tokens;
//! the handler reads whoever called as a [`Principal`]:
//!
//! ```
//! use clerk_guard::{clerk_protected, Principal};
//!
//! #[clerk_protected(accepts = "m2m")]
//! async fn ingest(caller: Principal) -> String {
//!     format!("called by machine {}", caller.subject())
//! }
//! ```
//!
//! JWT machine tokens are verified locally against the same JWKS, with the
//! rules Clerk applies to their kind. Opaque tokens (`mt_…`, `oat_…`,
//! `ak_…`) are verified by the Backend API with the secret key, behind a
//! short positive cache, a cache of refusals, one lookup per token at a
//! time and a per-second cap on lookups of new tokens (503 with
//! `Retry-After` past it); only strings of the known prefix, length and
//! alphabet are ever sent. Machine tokens are read from the `Authorization`
//! header only. A token of a kind the route does not accept is 401
//! `token-type-mismatch`. Routers: [`ClerkLayer::accepts`].
//!
//! Application roles come from the claims `roles`, `role`, `metadata.role`,
//! `metadata.roles` (configurable); an organization role never counts as an
//! application role. Role and permission strings are checked at compile time
//! (non-empty, no surrounding whitespace); `optional` with a requirement, an
//! unknown or repeated key, a non-async function, or `Option<ClerkAuth>` in a
//! required handler (and `ClerkAuth` in an optional one) are compile errors.
//!
//! # Expansion
//!
//! The attribute only adds one extractor in front of the handler's own; the
//! body, return type, attributes, generics and where-clause are untouched, so
//! `?` and `return` mean what they meant:
//!
//! ```
//! # use clerk_guard::ClerkAuth;
//! # use clerk_guard::__private::*;
//! // #[clerk_protected(roles = "admin")]
//! // async fn admin(auth: ClerkAuth) -> String { … }
//! // becomes
//! // ("admin" as a type: its bytes 61 64 6d 69 6e, packed into u128 words)
//! async fn admin(
//!     _: Guard<AnyRole<(Str<Chunk<{ 0x61646d696e << 88 }, 0, 0, 0, End>>, ())>>,
//!     auth: ClerkAuth,
//! ) -> String {
//!     auth.user_id().to_owned()
//! }
//! ```
//!
//! The requirement is spelled as a type ([`Guard`] over a [`Requirement`])
//! so no item is generated beside the handler: it works for associated
//! functions in `impl` blocks too. [`Guard`] verifies the token (once per
//! request: the outcome is kept in the request extensions, so `auth:
//! ClerkAuth` later in the list costs nothing) and checks the requirement;
//! `optional` puts [`OptionalGuard`] first instead. A handler that takes no
//! parameters gets `SoleGuard` (the same verdict; it leaves nothing in the
//! request, since no extractor follows it to read it), and one whose only
//! parameter is a `ClerkAuth` or a `Principal` gets `SoleAuth`, which hands
//! it over (so a type of your own by either name, as a handler's only
//! parameter, does not compile: the attribute reads the names as
//! clerk-guard's). By hand, name your own [`Requirement`] type and take
//! `Guard<YourType>`.
//!
//! # Limits
//!
//! - axum handlers take at most 16 extractors; the guard is one of them.
//! - Put `#[clerk_protected]` **above** `#[axum::debug_handler]`: attributes
//!   expand outermost first, and `debug_handler` must see the final signature.
//! - Only the first `Authorization` header is read. A non-Bearer scheme is
//!   ignored (the cookie is then tried); `Bearer` with nothing after it is no token.
//! - With a PEM key (`CLERK_JWT_KEY`) the token's `kid` must be present but
//!   is not matched, as in Clerk's SDKs.
//! - A [`ClerkLayer`] without a verifier of its own uses the one placed
//!   outside it (`.layer(Extension(v))` added after the layer), else the
//!   global one. An `Extension(v)` added before (inside) the layer is not
//!   visible to it: with no global verifier configured, such a layer answers
//!   503 `configuration-invalid` (and says why in the log); give the layer
//!   its verifier with [`ClerkLayer::with_verifier`].
//! - Role and permission values are at most 1024 bytes, lists at most 64
//!   entries (the type encoding's limit within rustc's default recursion
//!   limit); permissions must have Clerk's form `org:<feature>:<permission>`.
//!
//! # OpenAPI
//!
//! With the `utoipa` feature, `#[clerk_protected]` above `#[utoipa::path]`
//! writes the route's security into the path, and `openapi::ClerkSecurity`
//! registers Clerk's bearer scheme and each protected route's 401/403/503
//! responses.
//!
//! # Webhooks
//!
//! [`webhooks::ClerkWebhook`] verifies Clerk's webhook deliveries (as
//! `verifyWebhook` of `@clerk/backend` does) and hands the handler the event,
//! untyped or typed; [`webhooks::ReplayGuard`] runs each delivery once.
//!
//! # Testing your app
//!
//! The `testing` feature brings `testing::TestIssuer`: a local issuer with
//! a JWKS server on loopback and a token builder for every claim shape, which
//! also plays Clerk's Backend API for machine tokens (mint, revoke, count
//! lookups, fail on command).
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![warn(missing_docs)]

// The layers, in request order, each using only those before it: util,
// rejection, http, token, auth, keys, config, require, verify, browser,
// guard; then openapi, webhooks (rejection, config, verify) and testing.
mod auth;
mod browser;
mod config;
mod guard;
mod http;
mod keys;
mod rejection;
mod require;
mod token;
mod util;
mod verify;

#[cfg(feature = "utoipa")]
pub mod openapi;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhooks;

pub use auth::{
    ClerkAuth, MachineAuth, Organization, Principal, ReverificationLevel, TokenFormat,
    DEFAULT_ROLE_CLAIMS, REVERIFICATION_PRESETS,
};
pub use clerk_guard_macros::clerk_protected;
pub use config::{
    ClerkConfig, ClerkConfigBuilder, ConfigError, DEFAULT_API_URL, DEFAULT_TOKEN_CACHE_BYTES,
};
pub use guard::{ClerkExtensions, ClerkLayer, ClerkService, Guard, OptionalGuard, RefusalBody};
pub use rejection::{AuthRejection, Protocol, Reason, RejectionRenderer};
pub use require::{
    AcceptList, Accepting, Requirement, Reverify, ReverifyLax, ReverifyModerate, ReverifyStrict,
    ReverifyStrictMfa, SessionTokens, SignInRedirect, SignedIn,
};
pub use token::{Accepts, TokenKind};
pub use verify::{global, init, ClerkVerifier};

/// What `#[clerk_protected]` expands to refers to; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::guard::{Guard, OptionalGuard, SoleAuth, SoleGuard};
    pub use crate::require::{
        Accepting, AllFeatures, AllPermissions, AllScopes, AnyPlan, AnyRole, Chunk, End, OrgRole,
        Reverify, SessionTokens, SignInRedirect, SignedIn, Str, StrList, TypeStr,
    };
    pub use crate::ClerkAuth;

    /// The levels `Reverify<LEVEL, …>` numbers, in order (0, 1, 2).
    pub const REVERIFICATION_LEVELS: [crate::ReverificationLevel; 3] =
        crate::ReverificationLevel::ALL;
}

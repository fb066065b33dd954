//! The `#[clerk_protected]` attribute of [clerk-guard](https://docs.rs/clerk-guard).
//!
//! Depend on `clerk-guard` and use `clerk_guard::clerk_protected`; this crate
//! only rewrites a handler's signature so that a public extractor of
//! `clerk-guard` runs first. It knows nothing of tokens.
//!
//! The pipeline is parse ([`args`]) → validate ([`validate`]) → expand
//! ([`expand`]); every error is collected and reported together, and the
//! function is emitted unchanged beside the errors so one mistake gives one
//! message.

use proc_macro::TokenStream;

mod args;
mod expand;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tables;
mod validate;

/// Protects an axum handler with Clerk authentication; see the `clerk-guard`
/// crate documentation for keys, expansion and limits.
///
/// ```ignore
/// #[clerk_protected(roles = "admin")]
/// async fn admin(auth: ClerkAuth) -> String { auth.user_id().to_owned() }
///
/// #[clerk_protected(accepts = ["m2m", "api_key"], scopes = "ingest")]
/// async fn ingest(caller: Principal) -> String { caller.subject().to_owned() }
/// ```
#[proc_macro_attribute]
pub fn clerk_protected(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::clerk_protected(args.into(), item.into()).into()
}

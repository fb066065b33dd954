//! The `#[clerk_protected]` attribute. Use it through `clerk-guard`.
use proc_macro::TokenStream;

/// Protects an axum handler with Clerk authentication.
#[proc_macro_attribute]
pub fn clerk_protected(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

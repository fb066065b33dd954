//! Clerk authentication for axum in one attribute.
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod claims;
mod config;
mod extract;
mod keys;
mod layer;
mod rejection;
mod require;
mod verify;

#[cfg(feature = "testing")]
pub mod testing;

pub use claims::{ClerkAuth, Organization};
pub use clerk_guard_macros::clerk_protected;
pub use config::{
    ClerkConfig, ClerkConfigBuilder, ConfigError, DEFAULT_API_URL, DEFAULT_ROLE_CLAIMS,
};
pub use extract::{Guard, OptionalGuard};
pub use layer::{ClerkLayer, ClerkService};
pub use rejection::{AuthRejection, Reason, RejectionRenderer};
pub use require::{Requirement, SignedIn};
pub use verify::{global, init, ClerkVerifier};

/// What `#[clerk_protected]` expands to refers to; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::extract::{Guard, OptionalGuard};
    pub use crate::require::{
        AllPermissions, AnyRole, Ch, End, OrgRole, SignedIn, Str, StrList, TypeStr,
    };
    pub use crate::ClerkAuth;
}

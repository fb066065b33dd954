//! The identities a verified token gives: a session's [`ClerkAuth`] (with
//! its organization, roles and Clerk's `has()`), a machine's
//! [`MachineAuth`], and the [`Principal`] that is either.

#[cfg(any(test, feature = "testing"))]
mod check;
mod fast;
mod has;
mod heap;
mod machine;
mod org;
mod permissions;
mod principal;
mod registered;
mod roles;
mod session;
mod text;

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use fast::subject;
pub(crate) use has::org_role_matches;
pub use has::{ReverificationLevel, REVERIFICATION_PRESETS};
pub(crate) use machine::MachineInner;
pub use machine::{MachineAuth, TokenFormat};
pub use org::Organization;
pub use principal::Principal;
pub use roles::DEFAULT_ROLE_CLAIMS;
pub use session::ClerkAuth;

#[cfg(any(test, feature = "testing"))]
pub(crate) use check::check as check_fast_reader;

/// Identifies one verifier (and its clones) for the life of the process: a
/// verified identity remembers which verifier admitted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VerifierId(u64);

impl VerifierId {
    /// No verifier has it (ids start at 1): for values built in unit tests.
    #[cfg(test)]
    pub(crate) const UNUSED: VerifierId = VerifierId(0);

    /// An id no other verifier of the process has.
    pub(crate) fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        VerifierId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

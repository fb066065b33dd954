//! The process-wide verifier: built from the environment on first use, or
//! at startup with [`init`].

use std::sync::atomic::{AtomicBool, Ordering};

use once_cell::sync::OnceCell;

use super::ClerkVerifier;
use crate::config::{ClerkConfig, ConfigError};

static GLOBAL: OnceCell<Result<ClerkVerifier, ConfigError>> = OnceCell::new();

/// Set once a verifier other than the global one is built
/// ([`ClerkVerifier::new`]). Until then no request's extensions can hold a
/// verifier other than the global one, and extractors do not search them.
/// Relaxed is enough: a verifier reaches a router, and the router the server,
/// through synchronisation that also publishes this store.
static OWN_VERIFIERS: AtomicBool = AtomicBool::new(false);

/// Whether any verifier other than the global one exists in the process.
pub(crate) fn own_verifiers_exist() -> bool {
    OWN_VERIFIERS.load(Ordering::Relaxed)
}

/// Records that a verifier of the application's own exists.
pub(super) fn note_own_verifier() {
    OWN_VERIFIERS.store(true, Ordering::Relaxed);
}

/// Creates the process-wide verifier from `config`. Call it once at startup,
/// before serving; without it the verifier is built from the environment
/// ([`ClerkConfig::from_env`]) on first use.
///
/// ```no_run
/// let config = clerk_guard::ClerkConfig::builder()
///     .publishable_key(std::env::var("CLERK_PUBLISHABLE_KEY").unwrap_or_default())
///     .build()?;
/// clerk_guard::init(config)?;
/// # Ok::<(), clerk_guard::ConfigError>(())
/// ```
pub fn init(config: ClerkConfig) -> Result<ClerkVerifier, ConfigError> {
    let verifier = ClerkVerifier::build(config)?;
    let mut created = false;
    GLOBAL.get_or_init(|| {
        created = true;
        Ok(verifier.clone())
    });
    if created {
        Ok(verifier)
    } else {
        Err(ConfigError::AlreadyInitialised)
    }
}

/// The process-wide verifier if it was created (by [`init`] or a first
/// use), without creating it.
pub(crate) fn initialised() -> Option<&'static ClerkVerifier> {
    GLOBAL.get().and_then(|verifier| verifier.as_ref().ok())
}

/// The process-wide verifier, created from the environment on first use.
/// A configuration error is returned (and logged once) rather than panicking;
/// requests then answer 503 `configuration-invalid`.
///
/// ```no_run
/// match clerk_guard::global() {
///     Ok(verifier) => println!("{:?}", verifier.config().issuer()),
///     Err(e) => eprintln!("Clerk is not configured: {e}"),
/// }
/// ```
pub fn global() -> Result<&'static ClerkVerifier, &'static ConfigError> {
    GLOBAL
        .get_or_init(|| {
            let verifier = ClerkConfig::from_env().and_then(ClerkVerifier::build);
            if let Err(e) = &verifier {
                tracing::error!(error = %e, "clerk-guard: the global verifier could not be configured");
            }
            verifier
        })
        .as_ref()
}

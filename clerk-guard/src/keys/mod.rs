//! Public keys: parsing (JWK, PEM), the key set, the JWKS cache, and the
//! store a verifier asks for the key a token names.

mod cache;
mod key;
mod set;

use std::sync::Arc;

pub(crate) use cache::{JwksCache, JwksSettings};
pub(crate) use key::VerificationKey;
#[cfg(feature = "testing")]
pub(crate) use set::KeySet;

use crate::rejection::AuthRejection;

/// Where a verifier's keys come from: one PEM key, or a JWKS.
#[derive(Debug)]
pub(crate) enum KeyStore {
    Static(Arc<VerificationKey>),
    Jwks(Arc<JwksCache>),
}

impl KeyStore {
    /// The key for `kid` without I/O, if the store already holds it (`now`:
    /// [`now_seconds`](crate::util::now_seconds)).
    pub(crate) fn cached(&self, kid: &str, now: f64) -> Option<Arc<VerificationKey>> {
        match self {
            KeyStore::Static(key) => Some(Arc::clone(key)),
            KeyStore::Jwks(cache) => cache.cached(kid, now),
        }
    }

    /// The key for `kid`, fetched if the store must.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<VerificationKey>, AuthRejection> {
        match self {
            KeyStore::Static(key) => Ok(Arc::clone(key)),
            KeyStore::Jwks(cache) => cache.key(kid).await,
        }
    }
}

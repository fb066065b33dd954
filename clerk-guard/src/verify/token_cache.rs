//! Verified session tokens, remembered so a reused token skips the RSA
//! check: bounded in bytes, keyed by the whole token, admitted on a token's
//! second verification.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::auth::ClerkAuth;
use crate::keys::VerificationKey;

/// A verified token remembered with the key that verified it.
#[derive(Clone)]
pub(super) struct CachedToken {
    pub(super) auth: ClerkAuth,
    pub(super) key: Arc<VerificationKey>,
    /// What the entry keeps alive, in bytes (its weight in the budget).
    bytes: u64,
}

/// Weighs an entry by the bytes it holds.
#[derive(Clone)]
struct TokenWeight;

impl quick_cache::Weighter<TokenKey, CachedToken> for TokenWeight {
    fn weight(&self, _: &TokenKey, entry: &CachedToken) -> u64 {
        entry.bytes
    }
}

/// A cached token, by the whole token: the `ClerkAuth` it maps to, which
/// holds the token. It hashes only its last 16 characters (96 bits of RSA
/// signature, which nobody chooses without the key) rather than all of a
/// token of half a kilobyte or more; equality is the whole token, so a
/// shared tail only ever costs a comparison.
#[derive(Clone)]
struct TokenKey(ClerkAuth);

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.token() == other.0.token()
    }
}

impl Eq for TokenKey {}

/// A token looked up in the cache, hashed as [`TokenKey`] hashes.
struct TokenRef<'a>(&'a str);

/// The part of a token its cache key hashes.
fn hashed_tail(token: &str) -> &[u8] {
    let bytes = token.as_bytes();
    &bytes[bytes.len().saturating_sub(16)..]
}

impl std::hash::Hash for TokenRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hashed_tail(self.0).hash(state);
    }
}

impl std::hash::Hash for TokenKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        TokenRef(self.0.token()).hash(state);
    }
}

impl quick_cache::Equivalent<TokenKey> for TokenRef<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        self.0 == key.0.token()
    }
}

/// Tokens verified once, by fingerprint: a token enters the cache on its
/// second verification, so a stream of one-off tokens (or a flood of
/// distinct valid ones) costs the cache nothing, while a session token, which
/// its client reuses until it expires, is cached from its second request on.
struct Doorkeeper {
    slots: Box<[AtomicU64]>,
}

impl Doorkeeper {
    const SLOTS: usize = 4096;

    fn new() -> Self {
        Self {
            slots: (0..Self::SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Whether `token` was seen before (and remember it). The fingerprint is
    /// the token's last eight characters: base64 of RSA signature bytes,
    /// which no one can choose without the key. A collision only admits a
    /// verified token early or late.
    fn admit(&self, token: &str) -> bool {
        let bytes = token.as_bytes();
        let mut tail = [0u8; 8];
        let take = bytes.len().min(8);
        tail[..take].copy_from_slice(&bytes[bytes.len() - take..]);
        let fingerprint = u64::from_le_bytes(tail) | 1;
        let slot = &self.slots[(fingerprint >> 8) as usize % Self::SLOTS];
        // A plain load and store, not a swap: a locked instruction would
        // drain the store buffer on every cold request, and two threads
        // racing on one slot only admit a token one sighting early or late.
        let seen = slot.load(Ordering::Relaxed) == fingerprint;
        if !seen {
            slot.store(fingerprint, Ordering::Relaxed);
        }
        seen
    }
}

/// The verified-token cache of one verifier.
pub(super) struct TokenCache {
    cache: quick_cache::sync::Cache<TokenKey, CachedToken, TokenWeight>,
    doorkeeper: Doorkeeper,
}

impl TokenCache {
    /// A cache whose budget is `bytes`, sized for entries of about a kilobyte.
    pub(super) fn new(bytes: usize) -> Self {
        Self {
            cache: quick_cache::sync::Cache::with_weighter(
                (bytes / 1024).max(16),
                bytes as u64,
                TokenWeight,
            ),
            doorkeeper: Doorkeeper::new(),
        }
    }

    /// The entry for `token`, if one is held.
    pub(super) fn get(&self, token: &str) -> Option<CachedToken> {
        self.cache.get(&TokenRef(token))
    }

    /// Forgets `token`.
    pub(super) fn remove(&self, token: &str) {
        self.cache.remove(&TokenRef(token));
    }

    /// Remembers a verified token from its second verification on.
    pub(super) fn remember(&self, auth: &ClerkAuth, key: Arc<VerificationKey>) {
        if !self.doorkeeper.admit(auth.token()) {
            return;
        }
        let bytes = (auth.retained_bytes() + std::mem::size_of::<CachedToken>()) as u64;
        self.cache.insert(
            TokenKey(auth.clone()),
            CachedToken {
                auth: auth.clone(),
                key,
                bytes,
            },
        );
    }
}

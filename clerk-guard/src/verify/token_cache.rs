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

/// A token looked up in the cache (its bytes, as a request carries them),
/// hashed as [`TokenKey`] hashes.
struct TokenRef<'a>(&'a [u8]);

/// The part of a token its cache key hashes.
fn hashed_tail(token: &[u8]) -> &[u8] {
    &token[token.len().saturating_sub(16)..]
}

impl std::hash::Hash for TokenRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        hashed_tail(self.0).hash(state);
    }
}

impl std::hash::Hash for TokenKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        TokenRef(self.0.token().as_bytes()).hash(state);
    }
}

impl quick_cache::Equivalent<TokenKey> for TokenRef<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        self.0 == key.0.token().as_bytes()
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
    /// which no one can choose without the key. It is kept in two slots,
    /// picked by two multiplicative hashes of all its bits: a token is
    /// forgotten only if other tokens overwrite both before it comes back
    /// (one slot picked by a few bits let two live sessions that shared it
    /// evict each other forever, and never be cached). A collision only
    /// admits a verified token early or late.
    fn admit(&self, token: &str) -> bool {
        let bytes = token.as_bytes();
        let mut tail = [0u8; 8];
        let take = bytes.len().min(8);
        tail[..take].copy_from_slice(&bytes[bytes.len() - take..]);
        let fingerprint = u64::from_le_bytes(tail) | 1;
        let [first, second] = Self::slots_of(fingerprint).map(|i| &self.slots[i]);
        // Plain loads and stores, not swaps: a locked instruction would
        // drain the store buffer on every cold request, and two threads
        // racing on one slot only admit a token one sighting early or late.
        let seen = first.load(Ordering::Relaxed) == fingerprint
            || second.load(Ordering::Relaxed) == fingerprint;
        if !seen {
            first.store(fingerprint, Ordering::Relaxed);
            second.store(fingerprint, Ordering::Relaxed);
        }
        seen
    }

    /// The two slots of a fingerprint (Fibonacci hashing: the top bits of
    /// two products, so every bit of the fingerprint moves the slot).
    fn slots_of(fingerprint: u64) -> [usize; 2] {
        let bits = Self::SLOTS.trailing_zeros();
        [0x9E37_79B9_7F4A_7C15_u64, 0xC2B2_AE3D_27D4_EB4F]
            .map(|k| (fingerprint.wrapping_mul(k) >> (64 - bits)) as usize)
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
    pub(super) fn get(&self, token: &[u8]) -> Option<CachedToken> {
        self.cache.get(&TokenRef(token))
    }

    /// Forgets `token`.
    pub(super) fn remove(&self, token: &[u8]) {
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

#[cfg(test)]
mod tests {
    use super::Doorkeeper;

    /// Tails of base64url RSA signatures (the last character holds two
    /// bits), from a fixed seed.
    fn tails(n: usize) -> Vec<String> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        (0..n)
            .map(|_| {
                let mut tail: Vec<u8> = (0..7)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        ALPHABET[(state % 64) as usize]
                    })
                    .collect();
                tail.push(b"AQgw"[(state >> 40) as usize % 4]);
                format!(
                    "header.payload.{}",
                    String::from_utf8(tail).unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn live_sessions_are_admitted_on_their_second_request() {
        // 256 clients, each sending its token again after all the others
        // sent theirs: nearly all are admitted on the second round (one slot
        // picked from a few bits of the tail let about 60 of them evict each
        // other forever).
        let doorkeeper = Doorkeeper::new();
        let tokens = tails(256);
        assert!(tokens.iter().all(|t| !doorkeeper.admit(t)));
        let admitted = tokens.iter().filter(|t| doorkeeper.admit(t)).count();
        assert!(admitted >= 245, "{admitted} of 256 admitted");
    }

    #[test]
    fn slots_spread_over_the_whole_table() {
        let mut used = std::collections::HashSet::new();
        for tail in tails(4096) {
            let bytes = tail.as_bytes();
            let mut last = [0u8; 8];
            last.copy_from_slice(&bytes[bytes.len() - 8..]);
            used.insert(Doorkeeper::slots_of(u64::from_le_bytes(last) | 1)[0]);
        }
        // 4096 uniform draws fill about 2590 of 4096 slots.
        assert!(used.len() > 2400, "{} slots used", used.len());
    }
}

//! Public keys: parsing (JWK, PEM), the key set, and the JWKS cache.
//!
//! Keys are parsed into aws-lc-rs `ParsedPublicKey`s once, when a key set is
//! loaded, so a request pays for the RSA check and nothing else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use aws_lc_rs::signature::{
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384,
    RSA_PKCS1_2048_8192_SHA512,
};
use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine as _;
use serde::Deserialize;

use crate::config::ClerkConfig;
use crate::rejection::Reason;

/// The smallest RSA modulus accepted, in bits.
pub(crate) const MIN_RSA_BITS: usize = 2048;

/// The RSA signature algorithms a Clerk session token may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RsaAlgorithm {
    Rs256,
    Rs384,
    Rs512,
}

impl RsaAlgorithm {
    pub(crate) fn from_header(alg: &str) -> Option<Self> {
        match alg {
            "RS256" => Some(Self::Rs256),
            "RS384" => Some(Self::Rs384),
            "RS512" => Some(Self::Rs512),
            _ => None,
        }
    }
}

/// One RSA public key, parsed once for each algorithm it may verify.
pub(crate) struct VerificationKey {
    bits: usize,
    rs256: ParsedPublicKey,
    rs384: ParsedPublicKey,
    rs512: ParsedPublicKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("bits", &self.bits)
            .finish()
    }
}

impl VerificationKey {
    /// From big-endian modulus and exponent (a JWK's `n` and `e`).
    pub(crate) fn from_components(n: &[u8], e: &[u8]) -> Result<Self, String> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_length(n);
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "RSA key of {bits} bits, at least {MIN_RSA_BITS} required"
            ));
        }
        if e.is_empty() || e.len() > 8 {
            return Err("RSA exponent out of range".into());
        }
        let der = der::rsa_public_key(n, e);
        let parse =
            |alg| ParsedPublicKey::new(alg, &der).map_err(|e| format!("RSA key rejected: {e}"));
        Ok(Self {
            bits,
            rs256: parse(&RSA_PKCS1_2048_8192_SHA256)?,
            rs384: parse(&RSA_PKCS1_2048_8192_SHA384)?,
            rs512: parse(&RSA_PKCS1_2048_8192_SHA512)?,
        })
    }

    /// From a PEM (SPKI or PKCS#1) or the bare base64 body Clerk's dashboard shows.
    pub(crate) fn from_pem(text: &str) -> Result<Self, String> {
        let text = text.replace("\\n", "\n");
        let body: String = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.starts_with("-----"))
            .collect();
        if body.is_empty() {
            return Err("no PEM body".into());
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| "the PEM body is not base64".to_string())?;
        let (n, e) = der::rsa_components(&der)
            .ok_or_else(|| "not an RSA public key (SPKI or PKCS#1 DER expected)".to_string())?;
        Self::from_components(n, e)
    }

    /// The modulus size in bits.
    pub(crate) fn bits(&self) -> usize {
        self.bits
    }

    /// Checks `signature` over `message` with `alg`.
    pub(crate) fn verify(&self, alg: RsaAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        let key = match alg {
            RsaAlgorithm::Rs256 => &self.rs256,
            RsaAlgorithm::Rs384 => &self.rs384,
            RsaAlgorithm::Rs512 => &self.rs512,
        };
        key.verify_sig(message, signature).is_ok()
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn bit_length(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(first) => (be.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

/// The keys of one JWKS document, by `kid`. Never empty.
#[derive(Debug)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Arc<VerificationKey>>,
}

impl KeySet {
    fn get(&self, kid: &str) -> Option<&Arc<VerificationKey>> {
        self.by_kid.get(kid)
    }

    /// Parses a JWKS document, skipping keys that are not usable RSA signing keys.
    pub(crate) fn from_jwks(body: &[u8]) -> Result<Self, Reason> {
        #[derive(Deserialize)]
        struct Jwks {
            keys: Vec<serde_json::Value>,
        }
        #[derive(Deserialize)]
        struct RsaJwk {
            kty: String,
            kid: Option<String>,
            #[serde(rename = "use")]
            use_: Option<String>,
            alg: Option<String>,
            n: Option<String>,
            e: Option<String>,
        }
        let jwks: Jwks = serde_json::from_slice(body).map_err(|e| {
            tracing::warn!(error = %e, "JWKS response is not a JSON key set");
            Reason::JwkRemoteFailedToLoad
        })?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut by_kid = HashMap::new();
        for value in jwks.keys {
            let Ok(jwk) = serde_json::from_value::<RsaJwk>(value) else {
                tracing::debug!("JWKS entry skipped: not a JWK");
                continue;
            };
            let usable = jwk.kty == "RSA"
                && jwk.use_.as_deref().is_none_or(|u| u == "sig")
                && jwk
                    .alg
                    .as_deref()
                    .is_none_or(|a| RsaAlgorithm::from_header(a).is_some());
            let (Some(kid), Some(n), Some(e), true) = (jwk.kid, jwk.n, jwk.e, usable) else {
                tracing::debug!(kty = %jwk.kty, "JWKS entry skipped: not an RSA signing key with a kid");
                continue;
            };
            let parsed = match (
                b64.decode(n.trim_end_matches('=')),
                b64.decode(e.trim_end_matches('=')),
            ) {
                (Ok(n), Ok(e)) => VerificationKey::from_components(&n, &e),
                _ => Err("n or e is not base64url".to_string()),
            };
            match parsed {
                Ok(key) => {
                    by_kid.insert(kid, Arc::new(key));
                }
                Err(problem) => tracing::warn!(%kid, %problem, "JWKS key skipped"),
            }
        }
        if by_kid.is_empty() {
            tracing::warn!("JWKS holds no usable key (RSA, 2048 bits or more)");
            return Err(Reason::JwkRemoteMissing);
        }
        Ok(Self { by_kid })
    }
}

/// What a fetch attempt left behind: the last good keys (kept through
/// failures) and when things happened.
#[derive(Debug, Default)]
struct CacheState {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    last_error: Option<Reason>,
    attempts: u64,
}

/// Fetches a JWKS with timeouts and a size cap.
#[derive(Debug)]
struct JwksFetcher {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    max_bytes: usize,
}

impl JwksFetcher {
    async fn fetch(&self) -> Result<KeySet, Reason> {
        let started = Instant::now();
        let response = self
            .client
            .get(self.url.clone())
            .headers(self.headers.clone())
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(url = %self.url, error = %e, "JWKS fetch failed");
                Reason::JwkRemoteFailedToLoad
            })?;
        let status = response.status();
        if !status.is_success() {
            tracing::warn!(url = %self.url, %status, "JWKS fetch answered with an error status");
            return Err(Reason::JwkRemoteFailedToLoad);
        }
        let body = self.read_capped(response).await?;
        let keys = KeySet::from_jwks(&body)?;
        tracing::info!(
            url = %self.url,
            keys = keys.by_kid.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "JWKS fetched"
        );
        Ok(keys)
    }

    async fn read_capped(&self, mut response: reqwest::Response) -> Result<Vec<u8>, Reason> {
        let too_big = || {
            tracing::warn!(url = %self.url, cap = self.max_bytes, "JWKS response exceeds the size cap");
            Reason::JwkRemoteFailedToLoad
        };
        if response
            .content_length()
            .is_some_and(|len| len > self.max_bytes as u64)
        {
            return Err(too_big());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.max_bytes {
                        return Err(too_big());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => {
                    tracing::warn!(url = %self.url, error = %e, "JWKS body could not be read");
                    return Err(Reason::JwkRemoteFailedToLoad);
                }
            }
        }
    }
}

/// A JWKS kept in memory: lock-free reads, one fetch at a time, TTL refresh
/// in the background, stale keys served while the endpoint fails.
#[derive(Debug)]
pub(crate) struct JwksCache {
    fetcher: JwksFetcher,
    state: ArcSwap<CacheState>,
    fetch_lock: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
    ttl: Duration,
    cooldown: Duration,
}

impl JwksCache {
    /// A cache for `url`; `secret_key`, when given, is sent as Bearer (Backend API).
    pub(crate) fn new(
        config: &ClerkConfig,
        url: reqwest::Url,
        secret_key: Option<&str>,
    ) -> Result<Self, crate::ConfigError> {
        let mut headers = HeaderMap::new();
        if let Some(secret_key) = secret_key {
            let bearer = HeaderValue::try_from(format!("Bearer {secret_key}")).map_err(|_| {
                crate::ConfigError::Invalid {
                    setting: "CLERK_SECRET_KEY",
                    problem: "not a valid header value".into(),
                }
            })?;
            headers.insert(header::AUTHORIZATION, bearer);
        }
        for (name, value) in &config.jwks_headers {
            headers.insert(name.clone(), value.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("clerk-guard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::ConfigError::Invalid {
                setting: "CLERK_JWKS_URL",
                problem: format!("HTTP client: {e}"),
            })?;
        Ok(Self {
            fetcher: JwksFetcher {
                client,
                url,
                headers,
                max_bytes: config.max_jwks_bytes,
            },
            state: ArcSwap::from_pointee(CacheState::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
            ttl: config.jwks_ttl,
            cooldown: config.unknown_kid_cooldown,
        })
    }

    fn attempted_within_cooldown(&self, state: &CacheState) -> bool {
        state
            .last_attempt
            .is_some_and(|at| at.elapsed() < self.cooldown)
    }

    /// The key for `kid` if the cache holds it now, without waiting; starts a
    /// background refresh when the keys are older than the TTL.
    pub(crate) fn cached(self: &Arc<Self>, kid: &str) -> Option<Arc<VerificationKey>> {
        let state = self.state.load();
        let keys = state.keys.as_ref()?;
        // Due at the TTL; a failed refresh is retried at most once per
        // min(TTL, cooldown) while the old keys keep serving.
        let retry_gap = self.ttl.min(self.cooldown);
        let due = state.fetched_at.is_some_and(|at| at.elapsed() >= self.ttl)
            && state
                .last_attempt
                .is_none_or(|at| at.elapsed() >= retry_gap);
        if due {
            self.spawn_refresh(state.attempts);
        }
        keys.get(kid).cloned()
    }

    /// The key for `kid`, fetching the key set when the cache is cold or the
    /// `kid` is unknown (at most once per cooldown).
    pub(crate) async fn key(self: &Arc<Self>, kid: &str) -> Result<Arc<VerificationKey>, Reason> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let state = self.state.load_full();
        if state.keys.is_some() && self.attempted_within_cooldown(&state) {
            return Err(Reason::JwkKidMismatch);
        }
        let state = self.refresh(state.attempts).await;
        match &state.keys {
            Some(keys) => keys.get(kid).cloned().ok_or(Reason::JwkKidMismatch),
            None => Err(state.last_error.unwrap_or(Reason::JwkRemoteFailedToLoad)),
        }
    }

    fn spawn_refresh(self: &Arc<Self>, observed: u64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let cache = Arc::clone(self);
        runtime.spawn(async move {
            tracing::debug!("JWKS older than its TTL: refreshing in the background");
            cache.refresh(observed).await;
            cache.refreshing.store(false, Ordering::Release);
        });
    }

    /// Fetches once for everyone who observed generation `observed`: callers
    /// that waited while another fetched get that fetch's outcome.
    async fn refresh(&self, observed: u64) -> Arc<CacheState> {
        let _single_flight = self.fetch_lock.lock().await;
        let current = self.state.load_full();
        if current.attempts != observed {
            return current;
        }
        let outcome = self.fetcher.fetch().await;
        let now = Instant::now();
        let next = match outcome {
            Ok(keys) => CacheState {
                keys: Some(Arc::new(keys)),
                fetched_at: Some(now),
                last_attempt: Some(now),
                last_error: None,
                attempts: current.attempts + 1,
            },
            Err(reason) => {
                if current.keys.is_some() {
                    tracing::warn!(
                        reason = reason.code(),
                        "JWKS refresh failed: serving the last good keys"
                    );
                }
                CacheState {
                    keys: current.keys.clone(),
                    fetched_at: current.fetched_at,
                    last_attempt: Some(now),
                    last_error: Some(reason),
                    attempts: current.attempts + 1,
                }
            }
        };
        let next = Arc::new(next);
        self.state.store(Arc::clone(&next));
        next
    }
}

/// Just enough DER for RSA public keys: read PKCS#1 / SPKI, write PKCS#1.
mod der {
    fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let count = (first & 0x7f) as usize;
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let len = rest[..count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, &rest[count..])
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    /// `(n, e)` from a PKCS#1 RSAPublicKey or an SPKI wrapping one.
    pub(super) fn rsa_components(der: &[u8]) -> Option<(&[u8], &[u8])> {
        let (tag, seq, _) = read_tlv(der)?;
        if tag != 0x30 {
            return None;
        }
        let (tag, first, rest) = read_tlv(seq)?;
        match tag {
            0x02 => {
                let (tag, e, _) = read_tlv(rest)?;
                (tag == 0x02).then_some((first, e))
            }
            0x30 => {
                // SPKI: AlgorithmIdentifier must be rsaEncryption.
                const RSA_ENCRYPTION: &[u8] =
                    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
                let (tag, oid, _) = read_tlv(first)?;
                if tag != 0x06 || oid != RSA_ENCRYPTION {
                    return None;
                }
                let (tag, bits, _) = read_tlv(rest)?;
                let (&unused, key) = bits.split_first()?;
                if tag != 0x03 || unused != 0 {
                    return None;
                }
                rsa_components(key)
            }
            _ => None,
        }
    }

    fn write_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
        out.push(tag);
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(bytes.len() - 1);
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
    }

    fn write_unsigned(out: &mut Vec<u8>, be: &[u8]) {
        let mut content = Vec::with_capacity(be.len() + 1);
        if be.first().is_some_and(|b| b & 0x80 != 0) {
            content.push(0);
        }
        content.extend_from_slice(be);
        write_tlv(out, 0x02, &content);
    }

    /// PKCS#1 RSAPublicKey from big-endian `n` and `e` without leading zeros.
    pub(crate) fn rsa_public_key(n: &[u8], e: &[u8]) -> Vec<u8> {
        let mut seq = Vec::with_capacity(n.len() + e.len() + 8);
        write_unsigned(&mut seq, n);
        write_unsigned(&mut seq, e);
        let mut out = Vec::with_capacity(seq.len() + 4);
        write_tlv(&mut out, 0x30, &seq);
        out
    }
}

#[cfg(any(test, feature = "testing"))]
pub(crate) use der::rsa_public_key as rsa_public_key_der;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_round_trip_and_bit_length() {
        let n = [0x80u8; 256];
        let der = rsa_public_key_der(&n, &[1, 0, 1]);
        let (n2, e2) = der::rsa_components(&der).unwrap();
        assert_eq!(n2.len(), 257); // sign byte kept in DER
        assert_eq!(strip_leading_zeros(n2), &n[..]);
        assert_eq!(e2, &[1, 0, 1]);
        assert_eq!(bit_length(&n), 2048);
        assert_eq!(bit_length(&[0x01, 0]), 9);
    }

    #[test]
    fn weak_and_malformed_keys_are_refused() {
        assert!(VerificationKey::from_components(&[0xff; 128], &[1, 0, 1]).is_err());
        assert!(VerificationKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
        )
        .is_err());
        assert!(KeySet::from_jwks(br#"{"keys":[{"kty":"EC","kid":"a"}]}"#).is_err());
        assert!(KeySet::from_jwks(b"[]").is_err());
    }
}

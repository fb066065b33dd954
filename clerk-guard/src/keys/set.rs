//! A JWKS document as a key set: the usable RSA signing keys, by `kid`.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;

use super::key::VerificationKey;
use crate::rejection::Reason;
use crate::token::RsaAlgorithm;

/// The keys of one JWKS document, by `kid`. Never empty.
#[derive(Debug)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Arc<VerificationKey>>,
}

impl KeySet {
    pub(super) fn get(&self, kid: &str) -> Option<&Arc<VerificationKey>> {
        self.by_kid.get(kid)
    }

    /// How many usable keys the set holds.
    pub(crate) fn len(&self) -> usize {
        self.by_kid.len()
    }

    /// The kids of the usable keys, sorted.
    #[cfg(feature = "testing")]
    pub(crate) fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.by_kid.keys().cloned().collect();
        kids.sort();
        kids
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
            // A stated `alg` must be one we verify; it then binds the key to it.
            let alg = jwk.alg.as_deref().map(RsaAlgorithm::from_header);
            let usable = jwk.kty == "RSA"
                && jwk.use_.as_deref().is_none_or(|u| u == "sig")
                && alg.is_none_or(|a| a.is_some());
            let (Some(kid), Some(n), Some(e), true) = (jwk.kid, jwk.n, jwk.e, usable) else {
                tracing::debug!(kty = %jwk.kty, "JWKS entry skipped: not an RSA signing key with a kid");
                continue;
            };
            let parsed = match (
                b64.decode(n.trim_end_matches('=')),
                b64.decode(e.trim_end_matches('=')),
            ) {
                (Ok(n), Ok(e)) => VerificationKey::from_components(&n, &e)
                    .map(|key| key.published(&kid, alg.flatten())),
                _ => Err("n or e is not base64url".to_string()),
            };
            match parsed {
                Ok(key) => {
                    by_kid.insert(kid, Arc::new(key));
                }
                Err(problem) => tracing::warn!(kid = ?kid, %problem, "JWKS key skipped"),
            }
        }
        if by_kid.is_empty() {
            tracing::warn!("JWKS holds no usable key (RSA, 2048 bits or more)");
            return Err(Reason::JwkRemoteMissing);
        }
        Ok(Self { by_kid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_without_usable_keys_is_refused() {
        assert_eq!(
            KeySet::from_jwks(br#"{"keys":[{"kty":"EC","kid":"a"}]}"#).err(),
            Some(Reason::JwkRemoteMissing)
        );
        assert_eq!(
            KeySet::from_jwks(b"[]").err(),
            Some(Reason::JwkRemoteFailedToLoad)
        );
        assert_eq!(
            KeySet::from_jwks(b"{}").err(),
            Some(Reason::JwkRemoteFailedToLoad)
        );
    }
}

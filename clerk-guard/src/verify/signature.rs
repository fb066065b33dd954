//! Header rules and the signature, checked before any claim is read.

use std::mem::MaybeUninit;
use std::sync::Arc;

use super::ClerkVerifier;
use crate::keys::VerificationKey;
use crate::rejection::{AuthRejection, Reason};
use crate::token::{segments, Header, JwtKind};
use crate::util::{decode_on_stack, now_seconds, B64URL};

/// What a synchronous signature check concluded.
pub(super) enum Signed {
    /// The signature holds: the decoded payload and the key.
    Verified(Vec<u8>, Arc<VerificationKey>),
    /// The cache has no key for this `kid` yet.
    NeedsKey(String),
}

impl ClerkVerifier {
    /// Header rules for `kind`, the signature against the key named by
    /// `kid`: the decoded payload and the key that verified it.
    ///
    /// The work is synchronous ([`Self::check_signature`]); only a key the
    /// cache does not hold yet is awaited. Header and signature are decoded
    /// into stack buffers that never live across that await, so the future
    /// stays small (it is moved and boxed with every request).
    ///
    /// `now` is [`now_seconds`] as the caller read it; it is read again
    /// after a wait for keys, so the token's times are checked against the
    /// clock as it is once the signature holds.
    pub(super) async fn signed_payload(
        &self,
        token: &str,
        kind: JwtKind,
        now: &mut f64,
    ) -> Result<(Vec<u8>, Arc<VerificationKey>), AuthRejection> {
        let kid = match self.check_signature(token, kind, None, *now)? {
            Signed::Verified(payload, key) => return Ok((payload, key)),
            Signed::NeedsKey(kid) => kid,
        };
        let key = self.0.keys.key(&kid).await?;
        *now = now_seconds();
        match self.check_signature(token, kind, Some(key), *now)? {
            Signed::Verified(payload, key) => Ok((payload, key)),
            Signed::NeedsKey(_) => Err(AuthRejection::new(Reason::JwkKidMismatch)),
        }
    }

    /// [`Self::signed_payload`] without I/O: with `key`, or the key the
    /// cache holds for the token's `kid`; else which `kid` to fetch.
    pub(super) fn check_signature(
        &self,
        token: &str,
        kind: JwtKind,
        key: Option<Arc<VerificationKey>>,
        now: f64,
    ) -> Result<Signed, AuthRejection> {
        let (header_b64, payload_b64, signature_b64) = segments(token)?;
        let header = Header::get(header_b64)?;
        let kid = header.kid.as_ref();
        let alg = header.alg;
        kind.check_type(header.typ.as_deref(), header.cat.as_deref())?;
        if header.crit {
            return Err(AuthRejection::invalid(
                "crit header extensions are not supported",
            ));
        }
        // 1024 bytes: an 8192-bit RSA signature, the largest aws-lc verifies.
        let mut signature_buf = [MaybeUninit::uninit(); 1024];
        let signature = decode_on_stack(signature_b64, &mut signature_buf)
            .ok_or_else(|| AuthRejection::invalid("signature is not base64url (or too long)"))?;
        let Some(key) = key.or_else(|| self.0.keys.cached(kid, now)) else {
            return Ok(Signed::NeedsKey(kid.to_owned()));
        };
        let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        key.verify(alg, signed, signature)
            .map_err(AuthRejection::new)?;
        // Room for the token after the payload: a session's `ClerkAuth`
        // keeps both in this one allocation.
        let mut payload = Vec::with_capacity(payload_b64.len() / 4 * 3 + 2 + token.len());
        B64URL
            .decode_append(payload_b64, &mut payload)
            .map_err(|_| AuthRejection::invalid("payload is not base64url"))?;
        Ok(Signed::Verified(payload, key))
    }
}

impl ClerkVerifier {
    /// The cookie directives of a handshake token (`__clerk_handshake`), as
    /// `verifyHandshakeToken` checks it: the header rules of a session token
    /// (so no other class of JWT the instance signs), the signature against
    /// the JWKS; its `handshake` claim, the strings of it.
    pub(crate) async fn handshake_directives(
        &self,
        token: &str,
    ) -> Result<Vec<String>, AuthRejection> {
        let (payload, _) = self
            .signed_payload(token, JwtKind::Session, &mut now_seconds())
            .await?;
        let payload: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&payload)
            .map_err(|_| AuthRejection::invalid("the handshake payload is not a JSON object"))?;
        Ok(match payload.get("handshake") {
            Some(serde_json::Value::Array(directives)) => directives
                .iter()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        })
    }
}

//! One RSA public key, parsed once (from a JWK's modulus and exponent, or
//! a PEM) for each algorithm it may verify, so a request pays for the RSA
//! check and nothing else.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::{
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA384,
    RSA_PKCS1_2048_8192_SHA512,
};
use base64::Engine as _;

use crate::rejection::Reason;
use crate::token::RsaAlgorithm;

/// The smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

/// One RSA public key, parsed once for each algorithm it may verify.
pub(crate) struct VerificationKey {
    bits: usize,
    /// The algorithm the JWK states, if any: tokens of another `alg` are refused.
    alg: Option<RsaAlgorithm>,
    /// The `kid` the key set publishes it under (`None` for a PEM key).
    kid: Option<Arc<str>>,
    /// Modulus and exponent, big-endian without leading zeros: what makes two
    /// keys of different key sets the same key.
    n: Box<[u8]>,
    e: Box<[u8]>,
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
        // aws-lc-rs encodes the SubjectPublicKeyInfo and checks the key.
        let der = PublicKeyComponents { n, e }
            .as_der()
            .map_err(|_| "RSA key could not be encoded".to_string())?;
        let parse = |alg| {
            ParsedPublicKey::new(alg, der.as_ref()).map_err(|e| format!("RSA key rejected: {e}"))
        };
        Ok(Self {
            bits,
            alg: None,
            kid: None,
            n: n.into(),
            e: e.into(),
            rs256: parse(&RSA_PKCS1_2048_8192_SHA256)?,
            rs384: parse(&RSA_PKCS1_2048_8192_SHA384)?,
            rs512: parse(&RSA_PKCS1_2048_8192_SHA512)?,
        })
    }

    /// From a PEM (`PUBLIC KEY` SPKI or `RSA PUBLIC KEY` PKCS#1, read by
    /// pem-rfc7468) or the bare base64 body Clerk's dashboard shows; literal
    /// `\n` escapes are accepted. The DER is read by aws-lc-rs.
    pub(crate) fn from_pem(text: &str) -> Result<Self, String> {
        let text = text.replace("\\n", "\n");
        let text = text.trim();
        let der = if text.starts_with("-----BEGIN") {
            let (label, der) = pem_rfc7468::decode_vec(text.as_bytes())
                .map_err(|e| format!("not a PEM document: {e}"))?;
            if !matches!(label, "PUBLIC KEY" | "RSA PUBLIC KEY") {
                return Err(format!("a PEM `{label}`, not a public key"));
            }
            der
        } else {
            let body: String = text.split_whitespace().collect();
            if body.is_empty() {
                return Err("no PEM body".into());
            }
            base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|_| "the PEM body is not base64".to_string())?
        };
        let key = aws_lc_rs::rsa::PublicKey::from_der(&der)
            .map_err(|_| "not an RSA public key (SPKI or PKCS#1 DER expected)".to_string())?;
        Self::from_components(
            key.modulus().big_endian_without_leading_zero(),
            key.exponent().big_endian_without_leading_zero(),
        )
    }

    /// This key as the key set publishes it: under `kid`, bound to `alg`
    /// when the JWK states one.
    pub(super) fn published(mut self, kid: &str, alg: Option<RsaAlgorithm>) -> Self {
        self.kid = Some(kid.into());
        self.alg = alg;
        self
    }

    /// The `kid` the key set publishes this key under (`None` for a PEM key).
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The modulus size in bits.
    pub(crate) fn bits(&self) -> usize {
        self.bits
    }

    /// Whether `other` is the same RSA key (same modulus and exponent), e.g.
    /// the same JWK read again by a later refresh.
    pub(crate) fn same_key(&self, other: &VerificationKey) -> bool {
        self.n == other.n && self.e == other.e
    }

    /// Checks `signature` over `message` with `alg`. A key whose JWK states
    /// an `alg` verifies only tokens of that `alg`, as Clerk's Go SDK and
    /// WebCrypto (under its JS SDK) do.
    pub(crate) fn verify(
        &self,
        alg: RsaAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Reason> {
        if self.alg.is_some_and(|stated| stated != alg) {
            return Err(Reason::TokenInvalidAlgorithm);
        }
        let key = match alg {
            RsaAlgorithm::Rs256 => &self.rs256,
            RsaAlgorithm::Rs384 => &self.rs384,
            RsaAlgorithm::Rs512 => &self.rs512,
        };
        key.verify_sig(message, signature)
            .map_err(|_| Reason::TokenInvalidSignature)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn pem_in_every_accepted_form() {
        use aws_lc_rs::signature::KeyPair as _;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs1 = pair.public_key().as_ref().to_vec();
        let spki = pair.public_key().as_der().unwrap().as_ref().to_vec();
        for text in [
            pem("RSA PUBLIC KEY", &pkcs1),
            pem("PUBLIC KEY", &spki),
            pem("PUBLIC KEY", &spki).replace('\n', "\\n"),
            base64::engine::general_purpose::STANDARD.encode(&spki),
        ] {
            let key = VerificationKey::from_pem(&text).unwrap();
            assert_eq!(key.bits(), 2048);
        }
        assert!(VerificationKey::from_pem(&pem("PRIVATE KEY", &spki)).is_err());
        assert!(VerificationKey::from_pem(&pem("PUBLIC KEY", b"not der")).is_err());
    }

    #[test]
    fn bit_length_and_leading_zeros() {
        assert_eq!(bit_length(&[0x80u8; 256]), 2048);
        assert_eq!(bit_length(&[0x01, 0]), 9);
        assert_eq!(strip_leading_zeros(&[0, 0, 1, 0]), &[1, 0]);
    }

    #[test]
    fn weak_and_malformed_keys_are_refused() {
        assert!(VerificationKey::from_components(&[0xff; 128], &[1, 0, 1]).is_err());
        assert!(VerificationKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
        )
        .is_err());
    }
}

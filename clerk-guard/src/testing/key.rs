//! Keys that sign test tokens, and the algorithms a test may sign with
//! (the forged ones included).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine as _;
use serde_json::{json, Value};

use super::B64URL;

/// An RSA key pair that signs test tokens.
///
/// ```no_run
/// let foreign = clerk_guard::testing::TestKey::generate("attacker");
/// assert_eq!(foreign.kid(), "attacker");
/// ```
pub struct TestKey {
    pub(super) kid: String,
    pair: KeyPair,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// A fresh 2048-bit key named `kid`.
    ///
    /// ```no_run
    /// let key = clerk_guard::testing::TestKey::generate("ins_test_1");
    /// ```
    pub fn generate(kid: impl Into<String>) -> Self {
        Self::generate_with_size(kid, 2048)
    }

    /// A fresh key of 2048, 3072 or 4096 bits (others give 2048).
    ///
    /// ```no_run
    /// let key = clerk_guard::testing::TestKey::generate_with_size("big", 4096);
    /// ```
    pub fn generate_with_size(kid: impl Into<String>, bits: usize) -> Self {
        let size = match bits {
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            _ => KeySize::Rsa2048,
        };
        #[allow(clippy::expect_used)] // test kit: key generation cannot fail on a working system
        let pair = KeyPair::generate(size).expect("RSA key generation");
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        Self {
            kid: kid.into(),
            pair,
            n,
            e,
        }
    }

    /// The key id carried in the JWKS and in tokens' `kid`.
    ///
    /// ```no_run
    /// assert_eq!(clerk_guard::testing::TestKey::generate("k1").kid(), "k1");
    /// ```
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty` RSA, `use` sig, `alg` RS256).
    ///
    /// ```no_run
    /// let jwk = clerk_guard::testing::TestKey::generate("k").jwk();
    /// assert_eq!(jwk["kty"], "RSA");
    /// ```
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": B64URL.encode(&self.n), "e": B64URL.encode(&self.e),
        })
    }

    /// The public key as an SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the
    /// format of `CLERK_JWT_KEY`.
    ///
    /// ```no_run
    /// let pem = clerk_guard::testing::TestKey::generate("k").public_key_pem();
    /// assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    /// ```
    pub fn public_key_pem(&self) -> String {
        let components = PublicKeyComponents {
            n: self.n.as_slice(),
            e: self.e.as_slice(),
        };
        #[allow(clippy::expect_used)] // the components come from a generated key
        let der = components.as_der().expect("SPKI encoding");
        let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// The DER bytes of the public key (PKCS#1), e.g. to forge an HS256 token
    /// that uses the public key as its HMAC secret.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// use clerk_guard::testing::TestAlg;
    /// let secret = issuer.signing_key().public_key_der();
    /// let forged = issuer.token().alg(TestAlg::Hs256(secret)).sign(); // must be refused
    /// # }
    /// ```
    pub fn public_key_der(&self) -> Vec<u8> {
        // aws-lc-rs's public key bytes are the PKCS#1 RSAPublicKey DER.
        self.pair.public_key().as_ref().to_vec()
    }

    pub(super) fn sign(&self, alg: &TestAlg, message: &[u8]) -> Vec<u8> {
        let padding: &'static dyn signature::RsaEncoding = match alg {
            TestAlg::Rs256 => &signature::RSA_PKCS1_SHA256,
            TestAlg::Rs384 => &signature::RSA_PKCS1_SHA384,
            TestAlg::Rs512 => &signature::RSA_PKCS1_SHA512,
            TestAlg::Ps256 => &signature::RSA_PSS_SHA256,
            TestAlg::Hs256(secret) => {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
                return aws_lc_rs::hmac::sign(&key, message).as_ref().to_vec();
            }
            TestAlg::None => return Vec::new(),
        };
        let mut sig = vec![0; self.pair.public_modulus_len()];
        #[allow(clippy::expect_used)] // signing with a valid key and buffer cannot fail
        self.pair
            .sign(padding, &SystemRandom::new(), message, &mut sig)
            .expect("RSA signing");
        sig
    }
}

/// How a test token is signed; anything but RS256/384/512 must be refused.
///
/// ```no_run
/// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
/// let forged = issuer.token().alg(clerk_guard::testing::TestAlg::None).sign();
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Clerk's algorithm).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256 (`PS256`).
    Ps256,
    /// HMAC-SHA256 with the given secret (`HS256`), the key-confusion attack.
    Hs256(Vec<u8>),
    /// `alg: none` with an empty signature.
    None,
}

impl TestAlg {
    pub(super) fn name(&self) -> &'static str {
        match self {
            TestAlg::Rs256 => "RS256",
            TestAlg::Rs384 => "RS384",
            TestAlg::Rs512 => "RS512",
            TestAlg::Ps256 => "PS256",
            TestAlg::Hs256(_) => "HS256",
            TestAlg::None => "none",
        }
    }
}

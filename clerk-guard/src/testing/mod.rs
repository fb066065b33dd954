//! A local Clerk issuer for tests and demos (feature `testing`).
//!
//! [`TestIssuer`] generates an RSA key, serves its JWKS over loopback HTTP
//! (counting fetches, and able to fail, hang or rotate on demand), and mints
//! session tokens in Clerk's v1 or v2 claim shape.
//!
//! ```no_run
//! use clerk_guard::testing::TestIssuer;
//! use clerk_guard::{ClerkLayer, ClerkVerifier};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = TestIssuer::start().await?;
//! let verifier = ClerkVerifier::new(issuer.config().build()?)?;
//! let token = issuer.token().subject("user_1").roles(["admin"]).sign();
//! let auth = verifier.verify(&token).await?;
//! assert!(auth.has_role("admin"));
//! assert_eq!(issuer.fetch_count(), 1);
//! # Ok(()) }
//! ```

mod backend_api;
mod frontend_api;
mod issuer;
mod key;
mod token;
mod webhook;

pub use backend_api::{BackendApiMode, OpaqueTokenBuilder};
pub use issuer::{JwksMode, TestIssuer};
pub use key::{TestAlg, TestKey};
pub use token::{ClaimShape, TokenBuilder};
pub use webhook::{webhook_event, SignedWebhook, WebhookBuilder, TEST_WEBHOOK_SECRET};

/// The secret key the local Backend API expects (and [`TestIssuer::config`] sends).
///
/// ```
/// assert!(clerk_guard::testing::TEST_SECRET_KEY.starts_with("sk_test_"));
/// ```
pub const TEST_SECRET_KEY: &str = "sk_test_clerk_guard_local_instance";

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Parses a JWKS document exactly as the verifier's key cache does and
/// returns the `kid`s of the keys it would use (sorted), or why it would use
/// none: for property tests and fuzzing of the key-set parser.
///
/// ```
/// use clerk_guard::testing::{usable_jwks_kids, TestKey};
///
/// let strong = TestKey::generate("k1").jwk();
/// let ec = serde_json::json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"});
/// let body = serde_json::json!({"keys": [strong, ec]}).to_string();
/// assert_eq!(usable_jwks_kids(body.as_bytes()).unwrap(), ["k1"]);
/// assert!(usable_jwks_kids(b"not json").is_err());
/// ```
pub fn usable_jwks_kids(body: &[u8]) -> Result<Vec<String>, crate::Reason> {
    crate::keys::KeySet::from_jwks(body).map(|set| set.kids())
}

/// Reads the registered claims of a token payload (the decoded JSON) with
/// the verifier's one-pass reader and with serde_json, and panics if the
/// one-pass reader accepted a payload serde_json refuses or read a different
/// value; returns whether the one-pass reader took it (it leaves anything
/// unusual to serde_json). For property tests and fuzzing of that reader.
///
/// ```
/// use clerk_guard::testing::check_claims_reader;
///
/// assert!(check_claims_reader(r#"{"sub":"user_1","exp":1700000000,"o":{"id":"org_1"}}"#));
/// // An escape, a fraction, a repeated claim: left to serde_json.
/// assert!(!check_claims_reader(r#"{"sub":"user_\u0031","exp":1}"#));
/// assert!(!check_claims_reader(r#"{"sub":"user_1","exp":1.5}"#));
/// assert!(!check_claims_reader(r#"{"sub":"a","sub":"b","exp":1}"#));
/// ```
pub fn check_claims_reader(payload: &str) -> bool {
    crate::auth::check_fast_reader(payload)
}

/// Classifies a token (session, M2M JWT, OAuth JWT, opaque) the quick way
/// the guards use and the way Clerk's code reads it, and panics if the two
/// differ; returns whether the quick reading took it (it leaves anything
/// unusual to the other). For property tests of that classification.
///
/// ```
/// use clerk_guard::testing::check_classification;
///
/// let issuer_token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJ1c2VyXzEifQ.c2ln";
/// assert!(check_classification(issuer_token));
/// assert!(!check_classification("ak_not_a_jwt"));
/// ```
#[doc(hidden)]
pub fn check_classification(token: &str) -> bool {
    crate::verify::check_classification(token)
}

/// Mints `count` tokens with `make(i)` on every core (RSA signing is the
/// slow part of a large pool), in order: for load, soak and memory runs.
///
/// ```no_run
/// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
/// let tokens = clerk_guard::testing::mint_parallel(10_000, |i| {
///     issuer.token().subject(&format!("user_{i}")).expires_in(3600).sign()
/// });
/// assert_eq!(tokens.len(), 10_000);
/// # }
/// ```
pub fn mint_parallel(count: usize, make: impl Fn(usize) -> String + Sync) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let make = &make;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..count)
                        .step_by(threads)
                        .map(|i| (i, make(i)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, String)> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, token)| token).collect()
    })
}

//! [`ClerkAuth`]: a verified session token as kept (payload and token in one
//! allocation), its registered claims, and the claims a handler reads.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::heap;
use super::org::Organization;
use super::registered::{Registered, Text};
use super::VerifierId;
use crate::rejection::{AuthRejection, Reason};

mod authorization;

/// The verified identity of a request: who is signed in, in which session and
/// organization, with which roles, plus every claim of the token.
///
/// Cloning is cheap (one reference count). Get it in a handler by declaring
/// `auth: ClerkAuth` (or `Option<ClerkAuth>` with `optional`).
///
/// ```
/// use axum::Json;
/// use clerk_guard::{clerk_protected, ClerkAuth};
///
/// #[clerk_protected]
/// async fn me(auth: ClerkAuth) -> Json<serde_json::Value> {
///     Json(serde_json::json!({
///         "sub": auth.user_id(),
///         "sid": auth.session_id(),
///         "org_id": auth.org().map(|o| o.id()),
///         "roles": auth.roles(),
///     }))
/// }
/// ```
#[derive(Clone)]
pub struct ClerkAuth(Arc<AuthInner>);

/// A verified token as kept: its decoded payload and the token itself in one
/// allocation (the token cache's key is this same `ClerkAuth`), and the
/// registered claims the verifier needs.
/// The claim map, organization and roles are built from the payload the first
/// time a handler asks, so a request that only needs "signed in" pays for none
/// of them.
struct AuthInner {
    /// The verifier that verified it: the request's `ClerkAuth` extension
    /// answers that verifier's later questions (see `extract::outcome_with`).
    verified_by: VerifierId,
    /// The payload (checked as UTF-8 once, so claims are sliced from it
    /// without another check), then the token.
    text: String,
    /// Where the payload ends and the token starts in `text`.
    payload_len: usize,
    registered: Registered,
    role_claims: Arc<[Vec<String>]>,
    claims: OnceLock<Map<String, Value>>,
    /// The claims read as JSON values ([`VALUE_CLAIMS`]) alone, parsed from
    /// where the one-pass reader noted them (no claim map built for them).
    ///
    /// [`VALUE_CLAIMS`]: super::registered::VALUE_CLAIMS
    values: OnceLock<Map<String, Value>>,
    org: OnceLock<Option<Organization>>,
    roles: OnceLock<Vec<String>>,
}

impl ClerkAuth {
    /// Builds the verified view of a payload. Claims the verifier relies on
    /// must have the right JSON type; authorization claims of the wrong type
    /// are treated as absent (when they are read).
    pub(crate) fn from_payload(
        verified_by: VerifierId,
        payload: Vec<u8>,
        token: &str,
        role_claims: &Arc<[Vec<String>]>,
    ) -> Result<Self, AuthRejection> {
        // Invalid UTF-8 is invalid JSON: the same verdict as a parse error.
        // The token goes after the payload, in the capacity the decoder left
        // for it (no second allocation).
        let mut text = String::from_utf8(payload).map_err(|_| {
            AuthRejection::with_detail(Reason::TokenInvalid, "payload is not UTF-8 JSON")
        })?;
        let payload_len = text.len();
        text.push_str(token);
        let payload = &text[..payload_len];
        let (registered, map) = Registered::read(payload).map_err(|_| {
            AuthRejection::with_detail(
                Reason::TokenInvalid,
                "payload is not a JSON object with claims of the right types",
            )
        })?;
        match registered.sub.as_ref().map(|sub| sub.get(payload)) {
            None => return Err(AuthRejection::invalid("sub is missing")),
            Some("") => return Err(AuthRejection::invalid("sub is empty")),
            Some(sub) if sub.starts_with("mch_") => {
                return Err(AuthRejection::with_detail(
                    Reason::TokenTypeMismatch,
                    "sub is a machine id (mch_): not a session token",
                ))
            }
            Some(_) => {}
        }
        if registered.exp.is_none() {
            return Err(AuthRejection::invalid("exp is missing"));
        }
        Ok(ClerkAuth(Arc::new(AuthInner {
            verified_by,
            text,
            payload_len,
            registered,
            role_claims: Arc::clone(role_claims),
            claims: map.map_or_else(OnceLock::new, OnceLock::from),
            values: OnceLock::new(),
            org: OnceLock::new(),
            roles: OnceLock::new(),
        })))
    }

    /// Bytes this verification keeps alive in the token cache, for its
    /// budget: the token and payload, the registered claims, and the claim
    /// map, organization and roles, built here (a cached token answers many
    /// requests, and any of them may ask for them).
    pub(crate) fn retained_bytes(&self) -> usize {
        let inner = &self.0;
        // Built now: the roles are read through `roles()` below.
        self.roles();
        let strings = [
            &inner.registered.sub,
            &inner.registered.iss,
            &inner.registered.azp,
            &inner.registered.sid,
            &inner.registered.sts,
        ]
        .iter()
        .map(|s| s.as_ref().map_or(0, Text::own_bytes))
        .sum::<usize>();
        heap::allocation(std::mem::size_of::<AuthInner>() + 2 * std::mem::size_of::<usize>())
            + heap::allocation(inner.text.capacity())
            + strings
            + heap::map(self.claims())
            + inner.values.get().map_or(0, heap::map)
            // Decoded now, as the roles are: any request may ask for them.
            + self.org().map_or(0, |org| {
                org.permissions();
                heap::organization(org)
            })
            + self.0.roles.get().map_or(0, heap::strings)
    }

    /// A string claim of the registered set, from the payload.
    fn text<'a>(&'a self, claim: &'a Option<Text>) -> Option<&'a str> {
        claim.as_ref().map(|text| text.get(self.payload()))
    }

    /// The user id (`sub`, `user_…`).
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let _: &str = auth.user_id(); }
    /// ```
    pub fn user_id(&self) -> &str {
        self.text(&self.0.registered.sub).unwrap_or_default()
    }

    /// The session id (`sid`, `sess_…`), if present.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let _: Option<&str> = auth.session_id(); }
    /// ```
    pub fn session_id(&self) -> Option<&str> {
        self.text(&self.0.registered.sid)
    }

    /// The session status (`sts`: `active`, `pending`), if present.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let pending = auth.session_status() == Some("pending"); }
    /// ```
    pub fn session_status(&self) -> Option<&str> {
        self.text(&self.0.registered.sts)
    }

    /// The issuer (`iss`), the instance's Frontend API URL.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let _: Option<&str> = auth.issuer(); }
    /// ```
    pub fn issuer(&self) -> Option<&str> {
        self.text(&self.0.registered.iss)
    }

    /// The authorized party (`azp`), the origin the token was minted for.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let _: Option<&str> = auth.authorized_party(); }
    /// ```
    pub fn authorized_party(&self) -> Option<&str> {
        self.text(&self.0.registered.azp)
    }

    /// Expiry (`exp`) in seconds since the Unix epoch.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let _: u64 = auth.expires_at(); }
    /// ```
    pub fn expires_at(&self) -> u64 {
        self.0.registered.exp.unwrap_or_default() as u64
    }

    /// Issue time (`iat`) in seconds since the Unix epoch, if present.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let _: Option<u64> = auth.issued_at(); }
    /// ```
    pub fn issued_at(&self) -> Option<u64> {
        self.0.registered.iat.map(|t| t as u64)
    }

    /// Not-before (`nbf`) in seconds since the Unix epoch, if present.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let _: Option<u64> = auth.not_before(); }
    /// ```
    pub fn not_before(&self) -> Option<u64> {
        self.0.registered.nbf.map(|t| t as u64)
    }

    pub(crate) fn times(&self) -> (f64, Option<f64>, Option<f64>) {
        let r = &self.0.registered;
        (r.exp.unwrap_or_default(), r.nbf, r.iat)
    }

    /// The claim shape: 2 for `v == 2` tokens, 1 otherwise.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { assert!(matches!(auth.claims_version(), 1 | 2)); }
    /// ```
    pub fn claims_version(&self) -> u8 {
        if self.0.registered.v == Some(2.0) {
            2
        } else {
            1
        }
    }

    /// The raw token, to forward to another service.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let header = format!("Bearer {}", auth.token()); }
    /// ```
    pub fn token(&self) -> &str {
        &self.0.text[self.0.payload_len..]
    }

    /// The decoded payload (JSON text).
    fn payload(&self) -> &str {
        &self.0.text[..self.0.payload_len]
    }

    /// The verifier that verified this token.
    pub(crate) fn verified_by(&self) -> VerifierId {
        self.0.verified_by
    }

    /// Every claim of the token.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let email = auth.claims().get("email"); }
    /// ```
    pub fn claims(&self) -> &Map<String, Value> {
        self.0.claims.get_or_init(|| {
            // A payload is admitted only as an object the map reader reads
            // (the one-pass reader takes nothing it would refuse), so this
            // parse does not fail; if it ever did, it says so.
            serde_json::from_str(self.payload()).unwrap_or_else(|e| {
                tracing::error!(error = %e, "clerk-guard: an admitted payload is not a claim map");
                Map::new()
            })
        })
    }

    /// One claim by name.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let plan = auth.claim("plan").and_then(|v| v.as_str()); }
    /// ```
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims().get(name)
    }

    /// The claims read into your own type (custom session claims).
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct MyClaims { sub: String, email: Option<String> }
    ///
    /// # fn f(auth: clerk_guard::ClerkAuth) -> Result<(), serde_json::Error> {
    /// let mine: MyClaims = auth.claims_as()?;
    /// # Ok(()) }
    /// ```
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.payload())
    }
}

impl fmt::Debug for ClerkAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a bearer credential: never printed.
        f.debug_struct("ClerkAuth")
            .field("user_id", &self.user_id())
            .field("session_id", &self.session_id())
            .field("org", &self.org())
            .field("roles", &self.roles())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ReverificationLevel;

    fn read(payload: &str) -> Result<ClerkAuth, AuthRejection> {
        let roles: Arc<[Vec<String>]> = Arc::from(Vec::new());
        ClerkAuth::from_payload(VerifierId::UNUSED, payload.as_bytes().to_vec(), "t", &roles)
    }

    fn auth(payload: &str) -> ClerkAuth {
        read(payload).unwrap()
    }

    #[test]
    fn the_one_pass_reader_takes_clerk_payloads_and_leaves_the_rest_to_serde() {
        let clerk_v2 = r#"{"azp":"http://localhost:3000","exp":1795991236,"fva":[0,-1],"iat":1795987636,"iss":"https://clerk.example.com","nbf":1795987636,"o":{"fpm":"3","id":"org_1","per":"read,manage","rol":"admin","slg":"acme"},"fea":"o:dashboard","pla":"u:pro","sid":"sess_1","sts":"active","sub":"user_1","v":2,"meta":{"a":[true,false,null,1.5e-3,-0,"x"]}}"#;
        assert!(crate::auth::check_fast_reader(clerk_v2));
        assert!(crate::auth::check_fast_reader(
            " {\n\t\"sub\" : \"u\" ,\r\"exp\":0 } "
        ));
        assert!(crate::auth::check_fast_reader("{}"));
        // Left to serde_json, which decides (and agrees or refuses).
        for payload in [
            r#"{"sub":"user_\u0031","exp":1}"#,
            r#"{"sub":"user_1","exp":1.5}"#,
            r#"{"sub":"user_1","exp":-1}"#,
            r#"{"sub":"user_1","exp":1e3}"#,
            r#"{"sub":"user_1","exp":01}"#,
            r#"{"sub":"user_1","exp":1234567890123456}"#,
            r#"{"sub":"user_1","exp":"1"}"#,
            r#"{"sub":null,"exp":1}"#,
            r#"{"sub":"a","sub":"b","exp":1}"#,
            "{\"sub\":\"a\u{1}\",\"exp\":1}",
            r#"{"sub":"a","exp":1,}"#,
            r#"{"sub":"a","exp":1} x"#,
            r#"{"sub":"a","exp":1,"x":[1,]}"#,
            r#"{"sub":"a","exp":1,"x":-}"#,
            r#"{"sub":"a","exp":1,"x":tru}"#,
            r#"["a",1]"#,
        ] {
            assert!(!crate::auth::check_fast_reader(payload), "{payload}");
        }
        let deep = format!(
            r#"{{"sub":"a","exp":1,"x":{}{}}}"#,
            "[".repeat(40),
            "]".repeat(40)
        );
        assert!(!crate::auth::check_fast_reader(&deep));
        assert_eq!(auth(&deep).user_id(), "a");
        // Values serde_json reads the same way still verify.
        assert_eq!(
            auth(r#"{"sub":"user_\u0031","exp":1.5}"#).user_id(),
            "user_1"
        );
    }

    #[test]
    fn authorization_read_from_noted_places_is_what_the_map_gives() {
        let default_roles: Arc<[Vec<String>]> = crate::DEFAULT_ROLE_CLAIMS
            .iter()
            .map(|path| path.split('.').map(str::to_owned).collect())
            .collect();
        let with = |payload: &str, map_first: bool| {
            let auth = ClerkAuth::from_payload(
                VerifierId::UNUSED,
                payload.as_bytes().to_vec(),
                "t",
                &default_roles,
            )
            .unwrap();
            if map_first {
                auth.claims();
            }
            let org = auth.org().map(|o| {
                (
                    o.id().to_owned(),
                    o.role().map(str::to_owned),
                    o.permissions().to_vec(),
                )
            });
            (
                auth.roles().to_vec(),
                org,
                auth.actor().cloned(),
                [auth.has_feature("dashboard"), auth.has_plan("pro")],
                auth.reverified_within(ReverificationLevel::SecondFactor, 10),
            )
        };
        for payload in [
            r#"{"sub":"u","exp":1,"v":2,"o":{"fpm":"3","id":"org_1","per":"read,manage","rol":"admin","slg":"acme"},"fea":"o:dashboard","pla":"u:pro","fva":[1,1],"roles":["a"],"act":{"sub":"user_admin"}}"#,
            r#"{"sub":"u","exp":1,"roles":["a"],"roles":"b","metadata":{"role":"m","roles":["n","a"]},"role":"r"}"#,
            r#"{"sub":"u","exp":1,"org_id":"org_2","org_role":"org:member","org_permissions":["org:x:y"],"org_slug":"s"}"#,
            r#"{"sub":"u","exp":1,"o":null,"fea":5,"pla":[],"fva":"x","roles":{"a":1},"act":"x"}"#,
            r#"{"sub":"u","exp":1,"other":{"o":{"id":"org_no"}},"o":{"id":"org_3","rol":"admin"},"v":2}"#,
        ] {
            assert!(crate::auth::check_fast_reader(payload), "{payload}");
            assert_eq!(with(payload, false), with(payload, true), "{payload}");
        }
    }

    #[test]
    fn the_retained_bytes_count_what_a_handler_may_still_build() {
        let auth = auth(
            r#"{"sub":"u","exp":1,"v":2,"o":{"id":"org_1","rol":"admin","per":"read,manage","fpm":"3"},"fea":"o:billing","roles":["a"]}"#,
        );
        let counted = auth.retained_bytes();
        // A handler reading the organization's permissions and the roles
        // later adds nothing the token cache's budget did not count.
        assert_eq!(auth.org().map(|o| o.permissions().len()), Some(2));
        let _ = auth.roles();
        assert_eq!(auth.retained_bytes(), counted);
    }

    #[test]
    fn a_payload_that_is_not_an_object_is_refused() {
        // serde would read a struct from an array; a payload is an object.
        for payload in [r#"["user_1",1]"#, " [\"user_1\",1]", "1", "\"x\""] {
            assert_eq!(
                read(payload).err().map(|r| r.reason()),
                Some(Reason::TokenInvalid),
                "{payload}"
            );
        }
    }

    #[test]
    fn string_claims_read_from_the_payload_or_their_own_copy() {
        let plain = auth(
            r#"{"sub":"user_1","exp":1,"iss":"https://x","azp":"a","sid":"s","sts":"active"}"#,
        );
        assert_eq!(plain.user_id(), "user_1");
        assert_eq!(plain.issuer(), Some("https://x"));
        assert_eq!(plain.authorized_party(), Some("a"));
        assert_eq!(plain.session_id(), Some("s"));
        assert_eq!(plain.session_status(), Some("active"));
        assert!(matches!(plain.0.registered.sub, Some(Text::At { .. })));
        // Escapes: the value differs from its bytes, so it is copied.
        let escaped =
            auth(r#"{"sub":"user_\u0041\"q","exp":1,"iss":"https:\/\/x","sts":"p\u00e9nding"}"#);
        assert_eq!(escaped.user_id(), "user_A\"q");
        assert_eq!(escaped.issuer(), Some("https://x"));
        assert_eq!(escaped.session_status(), Some("p\u{e9}nding"));
        assert!(matches!(escaped.0.registered.sub, Some(Text::Owned(_))));
        assert_eq!(escaped.session_id(), None);
        // Multi-byte UTF-8 without escapes stays in place.
        let utf8 = auth(r#"{"sub":"usér_☃","exp":1}"#);
        assert_eq!(utf8.user_id(), "usér_☃");
    }
}

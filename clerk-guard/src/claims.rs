//! The verified claims of a Clerk session token, typed.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::rejection::{AuthRejection, Reason};
use crate::verify::VerifierId;

mod fast;
#[cfg(any(test, feature = "testing"))]
pub(crate) use fast::check as check_fast_reader;

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
    org: OnceLock<Option<Organization>>,
    roles: OnceLock<Vec<String>>,
}

/// The claims the verifier relies on, as read from the payload. A wrong JSON
/// type (including `null`) fails deserialization, so the token is invalid,
/// never "claim absent". Strings are borrowed from the payload when they
/// can be (no JSON escapes), so reading them allocates nothing.
#[derive(Deserialize)]
struct RawRegistered<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    sub: Option<Raw<'a>>,
    #[serde(default, deserialize_with = "present")]
    exp: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    nbf: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    iat: Option<f64>,
    #[serde(default, borrow, deserialize_with = "present")]
    iss: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    azp: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    sid: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    sts: Option<Raw<'a>>,
    #[serde(default, deserialize_with = "present")]
    v: Option<f64>,
}

/// A JSON string, borrowed from the input when it has no escapes.
enum Raw<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl<'de> Deserialize<'de> for Raw<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Raw<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Raw::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Raw::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Raw::Owned(v))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// A string claim kept with the payload: where its bytes sit in it, or its
/// own copy when JSON escapes made the value differ from those bytes.
enum Text {
    At { start: u32, len: u32 },
    Owned(Box<str>),
}

impl Text {
    /// `raw`, located in `payload` when it was borrowed from it.
    fn new(raw: Raw<'_>, payload: &str) -> Text {
        match raw {
            Raw::Borrowed(s) => {
                let start = (s.as_ptr() as usize).wrapping_sub(payload.as_ptr() as usize);
                match (u32::try_from(start), u32::try_from(s.len())) {
                    (Ok(start), Ok(len)) if start as usize + s.len() <= payload.len() => {
                        Text::At { start, len }
                    }
                    _ => Text::Owned(s.into()),
                }
            }
            Raw::Owned(s) => Text::Owned(s.into_boxed_str()),
        }
    }

    fn get<'a>(&'a self, payload: &'a str) -> &'a str {
        match self {
            Text::At { start, len } => {
                let (start, len) = (*start as usize, *len as usize);
                // A `str` borrowed from the payload when read: on char
                // boundaries, and the payload never changes.
                payload.get(start..start + len).unwrap_or_default()
            }
            Text::Owned(s) => s,
        }
    }

    /// Heap bytes of its own (none when it lives in the payload).
    fn own_bytes(&self) -> usize {
        match self {
            Text::At { .. } => 0,
            Text::Owned(s) => s.len(),
        }
    }
}

/// The claims the verifier relies on, kept beside the payload.
struct Registered {
    sub: Option<Text>,
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    iss: Option<Text>,
    azp: Option<Text>,
    sid: Option<Text>,
    sts: Option<Text>,
    v: Option<f64>,
}

impl Registered {
    /// The ordinary shape in one pass ([`fast`]); anything else by serde_json.
    fn read(payload: &str) -> Result<Self, serde_json::Error> {
        match fast::read(payload) {
            Some(registered) => Ok(registered),
            None => Self::read_with_serde(payload),
        }
    }

    #[cold]
    fn read_with_serde(payload: &str) -> Result<Self, serde_json::Error> {
        // A JSON object only: serde would also read a struct from an array.
        if !payload
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{')
        {
            return Err(serde::de::Error::custom("the payload is not a JSON object"));
        }
        // From a `str`: no UTF-8 check per string on top of the one already done.
        let raw: RawRegistered<'_> = serde_json::from_str(payload)?;
        let text = |value: Option<Raw<'_>>| value.map(|raw| Text::new(raw, payload));
        Ok(Registered {
            sub: text(raw.sub),
            exp: raw.exp,
            nbf: raw.nbf,
            iat: raw.iat,
            iss: text(raw.iss),
            azp: text(raw.azp),
            sid: text(raw.sid),
            sts: text(raw.sts),
            v: raw.v,
        })
    }
}

/// A field that is present must have its type: `null` is not "absent".
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The active organization of a session: id, slug, role and permissions, from
/// the v1 `org_*` claims or the v2 `o`/`fea` claims.
///
/// ```
/// # use clerk_guard::ClerkAuth;
/// fn org_summary(auth: &ClerkAuth) -> String {
///     match auth.org() {
///         Some(org) => format!("{} as {}", org.id(), org.role().unwrap_or("member")),
///         None => "personal account".to_owned(),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    id: String,
    slug: Option<String>,
    role: Option<String>,
    permissions: Vec<String>,
}

impl Organization {
    /// The organization id (`org_…`).
    ///
    /// ```
    /// # fn demo(auth: &clerk_guard::ClerkAuth) {
    /// let id: Option<&str> = auth.org().map(|org| org.id());
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The organization slug, if the token carries it.
    ///
    /// ```
    /// # fn demo(auth: &clerk_guard::ClerkAuth) {
    /// let slug = auth.org().and_then(|org| org.slug());
    /// # }
    /// ```
    pub fn slug(&self) -> Option<&str> {
        self.slug.as_deref()
    }
    /// The member's role, always in the `org:<role>` form (`org:admin`).
    ///
    /// ```
    /// # fn demo(auth: &clerk_guard::ClerkAuth) {
    /// let is_admin = auth.org().and_then(|org| org.role()) == Some("org:admin");
    /// # }
    /// ```
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }
    /// The member's permissions (`org:<feature>:<permission>`), from v1
    /// `org_permissions` or decoded from v2 `fea` + `o.per` + `o.fpm`.
    ///
    /// ```
    /// # fn demo(auth: &clerk_guard::ClerkAuth) {
    /// let can_bill = auth.org().is_some_and(|org| org.permissions().iter().any(|p| p == "org:billing:manage"));
    /// # }
    /// ```
    pub fn permissions(&self) -> &[String] {
        &self.permissions
    }
}

fn type_error(claim: &'static str) -> AuthRejection {
    AuthRejection::with_detail(Reason::TokenInvalid, claim)
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
        let registered = Registered::read(payload).map_err(|_| {
            AuthRejection::with_detail(
                Reason::TokenInvalid,
                "payload is not a JSON object with claims of the right types",
            )
        })?;
        match registered.sub.as_ref().map(|sub| sub.get(payload)) {
            None => return Err(type_error("sub is missing")),
            Some("") => return Err(type_error("sub is empty")),
            Some(sub) if sub.starts_with("mch_") => {
                return Err(AuthRejection::with_detail(
                    Reason::TokenTypeMismatch,
                    "sub is a machine id (mch_): not a session token",
                ))
            }
            Some(_) => {}
        }
        if registered.exp.is_none() {
            return Err(type_error("exp is missing"));
        }
        Ok(ClerkAuth(Arc::new(AuthInner {
            verified_by,
            text,
            payload_len,
            registered,
            role_claims: Arc::clone(role_claims),
            claims: OnceLock::new(),
            org: OnceLock::new(),
            roles: OnceLock::new(),
        })))
    }

    /// Bytes this verification keeps alive, for the token cache's budget:
    /// the token, the payload, the registered claims, and what the claim map,
    /// organization and roles take once a handler has asked for them.
    pub(crate) fn retained_bytes(&self) -> usize {
        let inner = &self.0;
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
        // A parsed claim map takes about six times its JSON text (node
        // overhead per entry); counted up front, as any handler may ask.
        const PARSED_CLAIMS_FACTOR: usize = 6;
        std::mem::size_of::<AuthInner>()
            + 2 * std::mem::size_of::<usize>() // the Arc counts
            + inner.text.capacity()
            + inner.payload_len * PARSED_CLAIMS_FACTOR
            + strings
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

    /// The active organization, if the session has one.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let org_id = auth.org().map(|o| o.id()); }
    /// ```
    pub fn org(&self) -> Option<&Organization> {
        self.0
            .org
            .get_or_init(|| {
                if self.claims_version() == 2 {
                    org_v2(self.claims())
                } else {
                    org_v1(self.claims())
                }
            })
            .as_ref()
    }

    /// Application roles read from the configured role claims (default
    /// `roles`, `role`, `metadata.role`, `metadata.roles`).
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let admin = auth.roles().iter().any(|r| r == "admin"); }
    /// ```
    pub fn roles(&self) -> &[String] {
        self.0
            .roles
            .get_or_init(|| app_roles(self.claims(), &self.0.role_claims))
    }

    /// The actor (`act`) when someone is impersonating the user.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let impersonated = auth.actor().is_some(); }
    /// ```
    pub fn actor(&self) -> Option<&Value> {
        match self.claims().get("act") {
            Some(act @ Value::Object(_)) => Some(act),
            _ => None,
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
            // The payload was read as a JSON object when the token was
            // verified, so this parse cannot fail.
            serde_json::from_str(self.payload()).unwrap_or_default()
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

    /// Whether the user holds the application role `role` (exact, case-sensitive).
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { if auth.has_role("admin") { /* … */ } }
    /// ```
    pub fn has_role(&self, role: &str) -> bool {
        self.roles().iter().any(|r| r == role)
    }

    /// Whether the active organization role is `role`; `admin` and
    /// `org:admin` mean the same.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { if auth.has_org_role("admin") { /* … */ } }
    /// ```
    pub fn has_org_role(&self, role: &str) -> bool {
        self.org()
            .and_then(Organization::role)
            .is_some_and(|held| org_role_matches(held, |r| r == role))
    }

    /// Whether the session holds the billing feature `feature` (Clerk's
    /// `has({ feature })`, from the `fea` claim): `org:reports` (also `o:`,
    /// `organization:`) looks among the organization's features, `user:reports`
    /// (`u:`) among the user's, a bare `reports` among both.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { if auth.has_feature("reports") { /* … */ } }
    /// ```
    pub fn has_feature(&self, feature: &str) -> bool {
        has_scoped(self.claim("fea"), feature)
    }

    /// Whether the session is on the billing plan `plan` (Clerk's
    /// `has({ plan })`, from the `pla` claim), scoped as in
    /// [`has_feature`](Self::has_feature).
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { if auth.has_plan("pro") { /* … */ } }
    /// ```
    pub fn has_plan(&self, plan: &str) -> bool {
        has_scoped(self.claim("pla"), plan)
    }

    /// The factor verification ages (`fva`: minutes since the first and the
    /// second factor, -1 for none), when the claim is exactly two integers.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let fresh = auth.factor_verification_age().is_some_and(|[first, _]| first < 5); }
    /// ```
    pub fn factor_verification_age(&self) -> Option<[i64; 2]> {
        match self.claim("fva") {
            Some(Value::Array(ages)) if ages.len() == 2 => {
                let age = |v: &Value| v.as_i64().filter(|a| *a == -1 || *a >= 0);
                Some([age(&ages[0])?, age(&ages[1])?])
            }
            _ => None,
        }
    }

    /// Whether the user verified `level` within the last `after_minutes`
    /// minutes (Clerk's `has({ reverification })`). Fail-closed, as Clerk's
    /// newest SDK: no `fva`, an `fva` that is not two integers, or `[-1, -1]`
    /// fail every level. A user without a second factor (-1) is judged on the
    /// first factor for `second_factor` and `multi_factor`.
    ///
    /// ```
    /// use clerk_guard::ReverificationLevel;
    /// # fn f(auth: clerk_guard::ClerkAuth) {
    /// if !auth.reverified_within(ReverificationLevel::SecondFactor, 10) { /* ask to reverify */ }
    /// # }
    /// ```
    pub fn reverified_within(&self, level: ReverificationLevel, after_minutes: u32) -> bool {
        let Some([first, second]) = self.factor_verification_age() else {
            return false;
        };
        if first == -1 && second == -1 {
            return false;
        }
        let limit = i64::from(after_minutes);
        let first_fresh = first != -1 && limit > first;
        let second_fresh = second != -1 && limit > second;
        match level {
            ReverificationLevel::FirstFactor => first_fresh,
            ReverificationLevel::SecondFactor if second == -1 => first_fresh,
            ReverificationLevel::SecondFactor => second_fresh,
            ReverificationLevel::MultiFactor if second == -1 => first_fresh,
            ReverificationLevel::MultiFactor => first != -1 && first_fresh && second_fresh,
        }
    }

    /// Whether the active organization grants `permission` (`org:feature:perm`).
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { if auth.has_permission("org:billing:manage") { /* … */ } }
    /// ```
    pub fn has_permission(&self, permission: &str) -> bool {
        self.org()
            .is_some_and(|org| org.permissions.iter().any(|p| p == permission))
    }
}

/// The factor a step-up reverification asks for, as Clerk names them.
///
/// ```
/// use clerk_guard::ReverificationLevel;
/// assert_eq!(ReverificationLevel::SecondFactor.as_str(), "second_factor");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReverificationLevel {
    /// The first factor (password, email code, …) within the age.
    FirstFactor,
    /// The second factor within the age (the first, for users without one).
    SecondFactor,
    /// Both factors within the age (the first, for users without a second).
    MultiFactor,
}

impl ReverificationLevel {
    /// Clerk's name: `first_factor`, `second_factor`, `multi_factor`.
    ///
    /// ```
    /// assert_eq!(clerk_guard::ReverificationLevel::MultiFactor.as_str(), "multi_factor");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ReverificationLevel::FirstFactor => "first_factor",
            ReverificationLevel::SecondFactor => "second_factor",
            ReverificationLevel::MultiFactor => "multi_factor",
        }
    }
}

/// Clerk's reverification presets: `(level, minutes)`.
///
/// ```
/// use clerk_guard::{ReverificationLevel, REVERIFICATION_PRESETS};
/// assert!(REVERIFICATION_PRESETS.contains(&("strict", ReverificationLevel::SecondFactor, 10)));
/// ```
pub const REVERIFICATION_PRESETS: [(&str, ReverificationLevel, u32); 4] = [
    ("strict_mfa", ReverificationLevel::MultiFactor, 10),
    ("strict", ReverificationLevel::SecondFactor, 10),
    ("moderate", ReverificationLevel::SecondFactor, 60),
    ("lax", ReverificationLevel::SecondFactor, 1440),
];

/// Clerk's `splitByScope`: the org- and user-scoped ids of a `fea` or `pla`
/// list; `None` when an entry has no scope (Clerk fails such a claim whole).
fn split_by_scope(list: &str) -> Option<(Vec<&str>, Vec<&str>)> {
    let (mut org, mut user) = (Vec::new(), Vec::new());
    for entry in list.split(',') {
        let (scope, id) = entry.trim().split_once(':')?;
        match scope {
            "o" => org.push(id),
            "u" => user.push(id),
            "ou" | "uo" => {
                org.push(id);
                user.push(id);
            }
            _ => {}
        }
    }
    Some((org, user))
}

/// Clerk's `checkForFeatureOrPlan` over the claim `list`: `scope:id` looks
/// in that scope only (`org`, `o`, `organization`; `user`, `u`), a bare id in
/// both. An unknown scope, an absent, empty or malformed claim: false.
fn has_scoped(list: Option<&Value>, wanted: &str) -> bool {
    let Some(Value::String(list)) = list else {
        return false;
    };
    if list.is_empty() {
        return false;
    }
    let Some((org, user)) = split_by_scope(list) else {
        return false;
    };
    let mut parts = wanted.split(':');
    let raw_scope = parts.next().unwrap_or_default();
    match parts.next() {
        None => org.contains(&raw_scope) || user.contains(&raw_scope),
        Some(raw_id) => {
            // As Clerk: `scope:` with an empty id looks for the scope word itself.
            let id = if raw_id.is_empty() { raw_scope } else { raw_id };
            match raw_scope {
                "o" | "org" | "organization" => org.contains(&id),
                "u" | "user" => user.contains(&id),
                _ => false,
            }
        }
    }
}

/// Whether the held role (already in the `org:<role>` form) equals the
/// required role put in that form once: `admin` and `org:admin` both ask for
/// `org:admin`; a held `org:org:admin` is neither. `required(v)` tells whether
/// `v` is the required role as written.
pub(crate) fn org_role_matches(held: &str, required: impl Fn(&str) -> bool) -> bool {
    // Written with the prefix: compared as is.
    if required(held) {
        return true;
    }
    // Written without it: the held role minus one `org:`, which must not
    // itself start with `org:` (that would be a required role written with it).
    held.strip_prefix("org:")
        .is_some_and(|bare| !bare.starts_with("org:") && required(bare))
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

/// A v1 `org_role` in the `org:` form (Clerk issues it so; a bare role is prefixed once).
fn normalise_org_role(role: &str) -> String {
    if role.starts_with("org:") {
        role.to_owned()
    } else {
        format!("org:{role}")
    }
}

fn string_claim(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_owned)
}

fn org_v1(claims: &Map<String, Value>) -> Option<Organization> {
    let id = string_claim(claims.get("org_id"))?;
    let permissions = match claims.get("org_permissions") {
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Some(Organization {
        id,
        slug: string_claim(claims.get("org_slug")),
        role: claims
            .get("org_role")
            .and_then(Value::as_str)
            .map(normalise_org_role),
        permissions,
    })
}

fn org_v2(claims: &Map<String, Value>) -> Option<Organization> {
    let o = claims.get("o")?.as_object()?;
    let id = string_claim(o.get("id"))?;
    let features = claims.get("fea").and_then(Value::as_str).unwrap_or("");
    let per = o.get("per").and_then(Value::as_str).unwrap_or("");
    let fpm = o.get("fpm").and_then(Value::as_str).unwrap_or("");
    Some(Organization {
        id,
        slug: string_claim(o.get("slg")),
        // v2 carries the bare role; Clerk prefixes it once, whatever it holds.
        role: o
            .get("rol")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(|r| format!("org:{r}")),
        permissions: decode_v2_permissions(features, per, fpm),
    })
}

/// Clerk's v2 permission encoding, decoded as `@clerk/shared` does: the i-th
/// org-scoped feature of `fea` (scope `o`, `ou` or `uo`) has the i-th mask of
/// `fpm`; bit j (least significant first) grants the j-th entry of `per` as
/// `org:<feature>:<permission>`. Lists keep their positions: an empty entry
/// is an empty item that grants nothing and shifts nothing.
pub(crate) fn decode_v2_permissions(fea: &str, per: &str, fpm: &str) -> Vec<String> {
    if per.is_empty() || fpm.is_empty() {
        return Vec::new();
    }
    let permissions: Vec<&str> = per.split(',').map(str::trim).collect();
    let masks: Vec<&str> = fpm.split(',').map(str::trim).collect();
    let org_features = fea.split(',').filter_map(|entry| {
        let (scope, feature) = entry.trim().split_once(':')?;
        matches!(scope, "o" | "ou" | "uo").then_some(feature)
    });
    let mut granted = Vec::new();
    for (index, feature) in org_features.enumerate() {
        let Some(mask) = masks.get(index).and_then(|m| decimal_to_bits(m)) else {
            continue;
        };
        if feature.is_empty() {
            continue;
        }
        for (bit, permission) in permissions.iter().enumerate() {
            let limb = mask.get(bit / 64).copied().unwrap_or(0);
            if limb >> (bit % 64) & 1 == 1 && !permission.is_empty() {
                granted.push(format!("org:{feature}:{permission}"));
            }
        }
    }
    granted
}

/// A decimal string of any length as little-endian 64-bit limbs; `None`
/// unless it is all ASCII digits.
fn decimal_to_bits(decimal: &str) -> Option<Vec<u64>> {
    // Far beyond any real mask (a 4096-bit mask has 1234 digits); bounds the
    // quadratic conversion.
    const MAX_DIGITS: usize = 4096;
    if decimal.is_empty()
        || decimal.len() > MAX_DIGITS
        || !decimal.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut limbs: Vec<u64> = vec![0];
    for digit in decimal.bytes().map(|b| u128::from(b - b'0')) {
        let mut carry = digit;
        for limb in limbs.iter_mut() {
            let value = u128::from(*limb) * 10 + carry;
            *limb = value as u64;
            carry = value >> 64;
        }
        if carry > 0 {
            limbs.push(carry as u64);
        }
    }
    Some(limbs)
}

fn app_roles(claims: &Map<String, Value>, paths: &[Vec<String>]) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    let mut add = |role: &str| {
        if !role.is_empty() && !roles.iter().any(|r| r == role) {
            roles.push(role.to_owned());
        }
    };
    for path in paths {
        let mut segments = path.iter();
        let Some(first) = segments.next() else {
            continue;
        };
        let mut value = claims.get(first.as_str());
        for segment in segments {
            value = value.and_then(|v| v.get(segment.as_str()));
        }
        match value {
            Some(Value::String(role)) => add(role),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(&mut add),
            _ => {}
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        assert!(check_fast_reader(clerk_v2));
        assert!(check_fast_reader(" {\n\t\"sub\" : \"u\" ,\r\"exp\":0 } "));
        assert!(check_fast_reader("{}"));
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
            assert!(!check_fast_reader(payload), "{payload}");
        }
        let deep = format!(
            r#"{{"sub":"a","exp":1,"x":{}{}}}"#,
            "[".repeat(40),
            "]".repeat(40)
        );
        assert!(!check_fast_reader(&deep));
        assert_eq!(auth(&deep).user_id(), "a");
        // Values serde_json reads the same way still verify.
        assert_eq!(
            auth(r#"{"sub":"user_\u0031","exp":1.5}"#).user_id(),
            "user_1"
        );
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

    #[test]
    fn v2_permissions_follow_org_scoped_features_in_order() {
        let got = decode_v2_permissions("o:billing,u:profile,uo:reports", "read,manage", "3,1");
        assert_eq!(
            got,
            ["org:billing:read", "org:billing:manage", "org:reports:read"]
        );
    }

    #[test]
    fn v2_empty_entries_keep_their_positions() {
        // An empty permission is bit 1: `manage` stays bit 2.
        assert_eq!(
            decode_v2_permissions("o:a", "read,,manage", "7"),
            ["org:a:read", "org:a:manage"]
        );
        // An empty mask belongs to feature 0: feature 1 keeps mask `1`.
        assert_eq!(
            decode_v2_permissions("o:a,o:b", "read", ",1"),
            ["org:b:read"]
        );
        // An empty org feature takes its place in the list and grants nothing.
        assert_eq!(
            decode_v2_permissions("o:,o:b", "read", "1,1"),
            ["org:b:read"]
        );
        // An empty `fea` entry is not org-scoped: it takes no place.
        assert_eq!(decode_v2_permissions(",o:b", "read", "1"), ["org:b:read"]);
        // Only Clerk's scopes count as organization scopes.
        assert!(decode_v2_permissions("org:a,xo:b", "read", "1,1").is_empty());
    }

    #[test]
    fn features_and_plans_by_scope_as_clerk_splits_them() {
        let fea = json!("o:reports,u:beta,uo:export,ou:audit");
        let has = |wanted| has_scoped(Some(&fea), wanted);
        for (wanted, expected) in [
            ("reports", true),
            ("org:reports", true),
            ("o:reports", true),
            ("organization:reports", true),
            ("user:reports", false),
            ("beta", true),
            ("u:beta", true),
            ("org:beta", false),
            ("user:export", true),
            ("org:export", true),
            ("org:audit", true),
            ("team:reports", false),
            ("missing", false),
        ] {
            assert_eq!(has(wanted), expected, "{wanted}");
        }
        // Malformed or absent claims count as absent.
        assert!(!has_scoped(Some(&json!("o:reports,beta")), "reports"));
        assert!(!has_scoped(Some(&json!("")), "reports"));
        assert!(!has_scoped(Some(&json!(["o:reports"])), "reports"));
        assert!(!has_scoped(None, "reports"));
    }

    #[test]
    fn org_roles_are_normalised_once_on_both_sides() {
        let matches = |held: &str, required: &str| org_role_matches(held, |r| r == required);
        assert!(matches("org:admin", "admin"));
        assert!(matches("org:admin", "org:admin"));
        assert!(!matches("org:org:admin", "org:admin"));
        assert!(!matches("org:org:admin", "admin"));
        assert!(matches("org:org:admin", "org:org:admin"));
        assert!(!matches("org:admin", "org:org:admin"));
        assert!(!matches("org:member", "admin"));
    }

    #[test]
    fn v2_masks_beyond_64_bits_and_bad_masks() {
        let per: Vec<String> = (0..70).map(|i| format!("p{i}")).collect();
        // 2^69 = 590295810358705651712
        let got = decode_v2_permissions("o:big", &per.join(","), "590295810358705651712");
        assert_eq!(got, ["org:big:p69"]);
        assert!(decode_v2_permissions("o:a", "read", "0x1").is_empty());
        assert!(decode_v2_permissions("o:a", "read", "-1").is_empty());
        assert!(decode_v2_permissions("o:a", "read", &"1".repeat(5000)).is_empty());
        assert!(decode_v2_permissions("o:a,o:b", "read", "1").len() == 1);
    }

    #[test]
    fn roles_from_every_default_path_without_duplicates() {
        let claims = serde_json::json!({
            "roles": ["admin", 3, "editor"], "role": "admin",
            "metadata": {"role": "owner", "roles": "viewer"}
        });
        let paths: Vec<Vec<String>> = crate::config::DEFAULT_ROLE_CLAIMS
            .iter()
            .map(|p| p.split('.').map(str::to_owned).collect())
            .collect();
        let roles = app_roles(claims.as_object().unwrap(), &paths);
        assert_eq!(roles, ["admin", "editor", "owner", "viewer"]);
    }
}

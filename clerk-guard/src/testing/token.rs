//! [`TokenBuilder`]: session and machine JWTs with any claim, header,
//! lifetime, shape or signature.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::backend_api;
use super::key::{TestAlg, TestKey};
use super::B64URL;
use crate::token::TokenKind;

/// The claim shape of a minted token.
///
/// ```no_run
/// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
/// let v1 = issuer.token().shape(clerk_guard::testing::ClaimShape::V1).org("org_1", "acme", "admin").sign();
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimShape {
    /// `org_id`, `org_slug`, `org_role`, `org_permissions`.
    V1,
    /// `v: 2`, `o: {id, slg, rol, per, fpm}`, `fea` (Clerk's current shape).
    V2,
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

pub(super) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Builds and signs one session token; see [`TestIssuer::token`](super::TestIssuer::token).
///
/// ```no_run
/// # fn demo(issuer: clerk_guard::testing::TestIssuer) {
/// use clerk_guard::testing::ClaimShape;
/// let expired = issuer.token().expired().sign();
/// let v1_member = issuer.token().shape(ClaimShape::V1).org("org_1", "acme", "member").sign();
/// let forged = issuer.token().header("alg", "none").sign();
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TokenBuilder {
    key: Arc<TestKey>,
    alg: TestAlg,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    shape: ClaimShape,
    org: Option<(String, String, String)>,
    permissions: Vec<String>,
    features: Vec<String>,
    raw_payload: Option<String>,
    /// Set for machine JWTs: no session claims, no `v`.
    machine: Option<TokenKind>,
}

impl TokenBuilder {
    pub(super) fn new(issuer: String, key: Arc<TestKey>) -> Self {
        let now = now();
        let header = object([
            ("alg", "RS256".into()),
            ("kid", key.kid.clone().into()),
            ("typ", "JWT".into()),
            ("cat", "cl_B7d4PD111AAA".into()),
        ]);
        let claims = object([
            ("sub", "user_test".into()),
            ("sid", "sess_test".into()),
            ("iss", issuer.into()),
            ("azp", "http://localhost:3000".into()),
            ("iat", now.into()),
            ("nbf", now.into()),
            ("exp", (now + 60).into()),
            ("sts", "active".into()),
        ]);
        Self {
            key,
            alg: TestAlg::Rs256,
            header,
            claims,
            shape: ClaimShape::V2,
            org: None,
            permissions: Vec::new(),
            features: Vec::new(),
            raw_payload: None,
            machine: None,
        }
    }

    /// A machine JWT of `kind`: the session claims (`sid`, `azp`, `sts`) are
    /// dropped, a `jti` is set, and no claims version is written.
    pub(super) fn machine(mut self, kind: TokenKind) -> Self {
        for claim in ["sid", "azp", "sts"] {
            self.claims.remove(claim);
        }
        let prefix = if kind == TokenKind::OAuth {
            "oat_"
        } else {
            "mt_"
        };
        self.claims
            .insert("jti".into(), backend_api::random_token(prefix).into());
        self.shape = ClaimShape::V1;
        self.machine = Some(kind);
        self
    }

    /// A machine token's scopes: `scopes` (space-separated) on an M2M JWT,
    /// `scp` (an array) on an OAuth JWT, `scopes` otherwise.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.oauth_token().scopes(["read"]).sign();
    /// # }
    /// ```
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        if self.machine == Some(TokenKind::OAuth) {
            self.claims.insert("scp".into(), scopes.into());
        } else {
            self.claims.insert("scopes".into(), scopes.join(" ").into());
        }
        self
    }

    /// The user id (`sub`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().subject("user_1").sign();
    /// # }
    /// ```
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }
    /// The session id (`sid`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().session_id("sess_1").sign();
    /// # }
    /// ```
    pub fn session_id(self, sid: &str) -> Self {
        self.claim("sid", sid)
    }
    /// The authorized party (`azp`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().azp("https://app.example.com").sign();
    /// # }
    /// ```
    pub fn azp(self, azp: &str) -> Self {
        self.claim("azp", azp)
    }
    /// The issuer (`iss`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().iss("https://other.example").sign();
    /// # }
    /// ```
    pub fn iss(self, iss: &str) -> Self {
        self.claim("iss", iss)
    }
    /// Application roles, as the custom claim `roles` (an array).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().roles(["admin", "editor"]).sign();
    /// # }
    /// ```
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(self, roles: I) -> Self {
        let roles: Vec<String> = roles.into_iter().map(Into::into).collect();
        self.claim("roles", roles)
    }
    /// The session status `pending` (`sts`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().pending().sign();
    /// # }
    /// ```
    pub fn pending(self) -> Self {
        self.claim("sts", "pending")
    }
    /// The active organization: id, slug, role (`admin` or `org:admin`).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().org("org_1", "acme", "admin").sign();
    /// # }
    /// ```
    pub fn org(mut self, id: &str, slug: &str, role: &str) -> Self {
        self.org = Some((id.into(), slug.into(), role.into()));
        self
    }
    /// Organization permissions, `org:<feature>:<permission>` each; encoded
    /// as `org_permissions` (v1) or `fea` + `o.per` + `o.fpm` (v2).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().org("org_1", "acme", "member").permissions(["org:billing:manage"]).sign();
    /// # }
    /// ```
    pub fn permissions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, perms: I) -> Self {
        self.permissions = perms.into_iter().map(Into::into).collect();
        self
    }
    /// Billing features (`fea`), each `scope:id` with scope `u` (user), `o`
    /// (organization) or both (`uo`). A v2 token's organization permissions
    /// add their own org features first, so their masks keep their positions.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().features(["u:reports", "o:analytics"]).sign();
    /// # }
    /// ```
    pub fn features<I: IntoIterator<Item = S>, S: Into<String>>(mut self, features: I) -> Self {
        self.features = features.into_iter().map(Into::into).collect();
        self
    }
    /// Billing plans (`pla`), each `scope:id` like `u:pro` or `o:team`.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().plans(["u:pro"]).sign();
    /// # }
    /// ```
    pub fn plans<I: IntoIterator<Item = S>, S: Into<String>>(self, plans: I) -> Self {
        let plans: Vec<String> = plans.into_iter().map(Into::into).collect();
        self.claim("pla", plans.join(","))
    }
    /// Factor verification ages (`fva`): minutes since the first and the
    /// second factor were verified, -1 for a factor the user does not have.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let just_verified = issuer.token().factor_ages(0, 0).sign();
    /// let no_second_factor = issuer.token().factor_ages(3, -1).sign();
    /// # }
    /// ```
    pub fn factor_ages(self, first: i64, second: i64) -> Self {
        self.claim("fva", json!([first, second]))
    }
    /// v1 or v2 claim shape (default v2).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().shape(clerk_guard::testing::ClaimShape::V1).sign();
    /// # }
    /// ```
    pub fn shape(mut self, shape: ClaimShape) -> Self {
        self.shape = shape;
        self
    }
    /// `exp` this many seconds from now (negative: in the past).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().expires_in(3600).sign();
    /// # }
    /// ```
    pub fn expires_in(self, seconds: i64) -> Self {
        self.claim("exp", now() + seconds)
    }
    /// `nbf` this many seconds from now.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().not_before_in(30).sign();
    /// # }
    /// ```
    pub fn not_before_in(self, seconds: i64) -> Self {
        self.claim("nbf", now() + seconds)
    }
    /// `iat` this many seconds from now.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().issued_at_in(60).sign();
    /// # }
    /// ```
    pub fn issued_at_in(self, seconds: i64) -> Self {
        self.claim("iat", now() + seconds)
    }
    /// Expired two minutes ago (issued five minutes ago).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().expired().sign();
    /// # }
    /// ```
    pub fn expired(self) -> Self {
        self.issued_at_in(-300).not_before_in(-300).expires_in(-120)
    }
    /// Valid only from two minutes from now.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().not_yet_valid().sign();
    /// # }
    /// ```
    pub fn not_yet_valid(self) -> Self {
        self.not_before_in(120)
    }
    /// Any claim, replacing the default (any JSON value, of any type).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().claim("email", "ada@example.com").sign();
    /// # }
    /// ```
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }
    /// Removes a claim (including a default one).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().without_claim("exp").sign();
    /// # }
    /// ```
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }
    /// Any header field, replacing the default (`alg` here only changes the
    /// label; use [`alg`](Self::alg) to change how it is signed).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().header("typ", "at+jwt").sign();
    /// # }
    /// ```
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }
    /// Removes a header field (`kid`, `typ`, …).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().without_header("kid").sign();
    /// # }
    /// ```
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }
    /// Signs this exact payload text instead of the builder's claims (for
    /// payloads no JSON map can hold, like a claim given twice).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().raw_payload(r#"{"sub":"user_a","sub":"user_b","exp":9999999999}"#).sign();
    /// # }
    /// ```
    pub fn raw_payload(mut self, json: impl Into<String>) -> Self {
        self.raw_payload = Some(json.into());
        self
    }
    /// Signs with `alg` and labels the header with it.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().alg(clerk_guard::testing::TestAlg::Ps256).sign();
    /// # }
    /// ```
    pub fn alg(mut self, alg: TestAlg) -> Self {
        self.header.insert("alg".into(), alg.name().into());
        self.alg = alg;
        self
    }
    /// Signs with another key (its `kid` is used unless a `kid` header is set
    /// afterwards).
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().signed_with(std::sync::Arc::new(clerk_guard::testing::TestKey::generate("attacker"))).sign();
    /// # }
    /// ```
    pub fn signed_with(mut self, key: Arc<TestKey>) -> Self {
        self.header.insert("kid".into(), key.kid.clone().into());
        self.key = key;
        self
    }

    fn org_claims(&self, claims: &mut Map<String, Value>) {
        let Some((id, slug, role)) = &self.org else {
            return;
        };
        match self.shape {
            ClaimShape::V1 => {
                let role = if role.starts_with("org:") {
                    role.clone()
                } else {
                    format!("org:{role}")
                };
                claims.insert("org_id".into(), id.clone().into());
                claims.insert("org_slug".into(), slug.clone().into());
                claims.insert("org_role".into(), role.into());
                claims.insert("org_permissions".into(), self.permissions.clone().into());
            }
            ClaimShape::V2 => {
                let mut features: Vec<&str> = Vec::new();
                let mut perms: Vec<&str> = Vec::new();
                let mut masks: Vec<u64> = Vec::new();
                for p in &self.permissions {
                    let mut parts = p.splitn(3, ':');
                    let (Some(_), Some(feature), Some(perm)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    let fi = features
                        .iter()
                        .position(|f| *f == feature)
                        .unwrap_or_else(|| {
                            features.push(feature);
                            masks.push(0);
                            features.len() - 1
                        });
                    let pi = perms.iter().position(|q| *q == perm).unwrap_or_else(|| {
                        perms.push(perm);
                        perms.len() - 1
                    });
                    masks[fi] |= 1 << pi;
                }
                let mut fea: Vec<String> = features.iter().map(|f| format!("o:{f}")).collect();
                fea.extend(
                    self.features
                        .iter()
                        .filter(|f| !fea.contains(f))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                let fpm: Vec<String> = masks.iter().map(u64::to_string).collect();
                claims.insert("fea".into(), fea.join(",").into());
                claims.insert(
                    "o".into(),
                    json!({
                        "id": id, "slg": slug, "rol": role.strip_prefix("org:").unwrap_or(role),
                        "per": perms.join(","), "fpm": fpm.join(","),
                    }),
                );
            }
        }
    }

    /// The signed token, `header.payload.signature`.
    ///
    /// ```no_run
    /// # fn demo(issuer: &clerk_guard::testing::TestIssuer) {
    /// let token = issuer.token().sign();
    /// # }
    /// ```
    pub fn sign(&self) -> String {
        let mut claims = self.claims.clone();
        if self.shape == ClaimShape::V2 {
            claims.entry("v").or_insert(2.into());
        }
        if !self.features.is_empty() {
            claims.insert("fea".into(), self.features.join(",").into());
        }
        self.org_claims(&mut claims);
        let header = B64URL.encode(Value::Object(self.header.clone()).to_string());
        let payload = match &self.raw_payload {
            Some(raw) => B64URL.encode(raw),
            None => B64URL.encode(Value::Object(claims).to_string()),
        };
        let message = format!("{header}.{payload}");
        let signature = B64URL.encode(self.key.sign(&self.alg, message.as_bytes()));
        format!("{message}.{signature}")
    }
}

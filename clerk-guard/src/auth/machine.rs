//! [`MachineAuth`]: a verified M2M token, OAuth access token or API key.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::token::TokenKind;

/// How a machine token arrived: a JWT verified locally, or an opaque string
/// verified by the Backend API.
///
/// ```
/// assert_ne!(clerk_guard::TokenFormat::Jwt, clerk_guard::TokenFormat::Opaque);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// A JWT, verified against the JWKS without the network.
    Jwt,
    /// An opaque token, verified by Clerk's Backend API.
    Opaque,
}

/// A verified machine token: an M2M token, an OAuth access token or an API
/// key. Cheap to clone.
///
/// ```
/// use clerk_guard::{MachineAuth, Principal};
///
/// fn caller(principal: &Principal) -> Option<&MachineAuth> {
///     principal.machine()
/// }
/// ```
#[derive(Clone)]
pub struct MachineAuth(Arc<MachineInner>);

/// What a verified machine token says, as its verifier read it.
pub(crate) struct MachineInner {
    pub(crate) kind: TokenKind,
    pub(crate) format: TokenFormat,
    pub(crate) id: String,
    pub(crate) subject: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) claims: Option<Map<String, Value>>,
    pub(crate) expires_at: Option<u64>,
    pub(crate) client_id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) audience: Vec<String>,
}

impl fmt::Debug for MachineAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MachineAuth")
            .field("kind", &self.0.kind)
            .field("format", &self.0.format)
            .field("id", &self.0.id)
            .field("subject", &self.0.subject)
            .field("scopes", &self.0.scopes)
            .finish_non_exhaustive()
    }
}

impl MachineAuth {
    pub(crate) fn new(inner: MachineInner) -> Self {
        Self(Arc::new(inner))
    }

    /// M2M, OAuth or API key.
    ///
    /// ```
    /// # fn f(machine: &clerk_guard::MachineAuth) {
    /// println!("{}", machine.kind());
    /// # }
    /// ```
    pub fn kind(&self) -> TokenKind {
        self.0.kind
    }

    /// JWT or opaque.
    ///
    /// ```
    /// # fn f(machine: &clerk_guard::MachineAuth) {
    /// let local = machine.format() == clerk_guard::TokenFormat::Jwt;
    /// # }
    /// ```
    pub fn format(&self) -> TokenFormat {
        self.0.format
    }

    /// The token's id: `jti` of a JWT (`mt_…` for M2M), or the Backend API's
    /// id of an opaque token (`mt_…`, `oat_…`, `ak_…`). Empty when a JWT has no `jti`.
    ///
    /// ```
    /// # fn f(machine: &clerk_guard::MachineAuth) {
    /// tracing::info!(token_id = machine.id());
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// Who the token speaks for: the machine (`mch_…`) of an M2M token, the
    /// user of an OAuth token, the user or organization of an API key.
    ///
    /// ```
    /// # fn f(machine: &clerk_guard::MachineAuth) {
    /// let caller = machine.subject();
    /// # }
    /// ```
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The token's scopes: OAuth scopes (`scp`/`scope`), the machines an M2M
    /// token may reach (`scopes`, else `aud`), an API key's scopes.
    ///
    /// ```
    /// # fn f(machine: &clerk_guard::MachineAuth) {
    /// for scope in machine.scopes() { println!("{scope}"); }
    /// # }
    /// ```
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    /// Whether the token has `scope`.
    ///
    /// ```
    /// # fn f(machine: &clerk_guard::MachineAuth) {
    /// if machine.has_scope("read:reports") { /* … */ }
    /// # }
    /// ```
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.iter().any(|s| s == scope)
    }

    /// The token's claims: an M2M JWT's custom claims (all but `iss`, `sub`,
    /// `exp`, `nbf`, `iat`, `jti`, as Clerk reads them), an OAuth JWT's whole
    /// payload, or the `claims` the Backend API holds for an opaque token.
    ///
    /// ```
    /// # fn f(machine: &clerk_guard::MachineAuth) {
    /// let tenant = machine.claims().and_then(|c| c.get("tenant"));
    /// # }
    /// ```
    pub fn claims(&self) -> Option<&Map<String, Value>> {
        self.0.claims.as_ref()
    }

    /// When the token expires (seconds since the epoch), if it does.
    ///
    /// ```
    /// # fn f(machine: &clerk_guard::MachineAuth) {
    /// let forever = machine.expires_at().is_none();
    /// # }
    /// ```
    pub fn expires_at(&self) -> Option<u64> {
        self.0.expires_at
    }

    /// The OAuth client the access token was issued to (`client_id`).
    ///
    /// ```
    /// # fn f(machine: &clerk_guard::MachineAuth) {
    /// let client = machine.client_id();
    /// # }
    /// ```
    pub fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }

    /// An API key's name.
    ///
    /// ```
    /// # fn f(machine: &clerk_guard::MachineAuth) {
    /// let name = machine.name();
    /// # }
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// An OAuth token's audiences (`aud`).
    ///
    /// ```
    /// # fn f(machine: &clerk_guard::MachineAuth) {
    /// let audiences = machine.audience();
    /// # }
    /// ```
    pub fn audience(&self) -> &[String] {
        &self.0.audience
    }

    /// Whether the token's expiry has passed at `now` (seconds since the epoch).
    pub(crate) fn expired(&self, now: f64) -> bool {
        self.0.expires_at.is_some_and(|exp| (exp as f64) <= now)
    }
}

//! Machine requests: M2M tokens, OAuth access tokens and API keys, as
//! `@clerk/backend` accepts them (`acceptsToken`).
//!
//! JWT-format machine tokens are verified locally against the instance's
//! JWKS; opaque ones (`mt_…`, `oat_…`, `ak_…`) through the Backend API with
//! the secret key, behind a short positive cache, a "not found" cache, one
//! lookup per token at a time, and a per-second cap on lookups of tokens
//! never seen before.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};
use base64::Engine as _;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::claims::ClerkAuth;
use crate::config::{BackendApi, ClerkConfig, MachineSettings};
use crate::keys::{http_client, read_capped};
use crate::rejection::{AuthRejection, Reason};
use crate::verify::{invalid, now_seconds, OAUTH_TYPES};

/// A kind of token a route may accept, with Clerk's `TokenType` names.
///
/// ```
/// use clerk_guard::TokenKind;
/// assert_eq!(TokenKind::M2m.clerk_name(), "m2m_token");
/// assert_eq!(TokenKind::parse("api_key"), Some(TokenKind::ApiKey));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A Clerk session token (a signed-in user).
    Session,
    /// A machine-to-machine token: JWT (`sub` `mch_…`) or opaque (`mt_…`).
    M2m,
    /// An OAuth access token: JWT (`typ` `at+jwt`) or opaque (`oat_…`).
    OAuth,
    /// An API key (`ak_…`), always opaque.
    ApiKey,
}

impl TokenKind {
    /// Every kind, in Clerk's order.
    pub const ALL: [TokenKind; 4] = [
        TokenKind::Session,
        TokenKind::M2m,
        TokenKind::OAuth,
        TokenKind::ApiKey,
    ];

    /// Clerk's name: `session_token`, `m2m_token`, `oauth_token`, `api_key`.
    ///
    /// ```
    /// assert_eq!(clerk_guard::TokenKind::Session.clerk_name(), "session_token");
    /// ```
    pub const fn clerk_name(self) -> &'static str {
        match self {
            TokenKind::Session => "session_token",
            TokenKind::M2m => "m2m_token",
            TokenKind::OAuth => "oauth_token",
            TokenKind::ApiKey => "api_key",
        }
    }

    /// A kind from the attribute's short name (`session`, `m2m`, `oauth`,
    /// `api_key`) or Clerk's (`session_token`, `m2m_token`, `oauth_token`).
    ///
    /// ```
    /// assert_eq!(clerk_guard::TokenKind::parse("oauth_token"), Some(clerk_guard::TokenKind::OAuth));
    /// assert_eq!(clerk_guard::TokenKind::parse("jwt"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "session" | "session_token" => TokenKind::Session,
            "m2m" | "m2m_token" => TokenKind::M2m,
            "oauth" | "oauth_token" => TokenKind::OAuth,
            "api_key" => TokenKind::ApiKey,
            _ => return None,
        })
    }

    const fn bit(self) -> u8 {
        match self {
            TokenKind::Session => 1,
            TokenKind::M2m => 2,
            TokenKind::OAuth => 4,
            TokenKind::ApiKey => 8,
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.clerk_name())
    }
}

/// The kinds of token a route accepts (Clerk's `acceptsToken`). Default:
/// session tokens only.
///
/// ```
/// use clerk_guard::{Accepts, TokenKind};
///
/// let machines = Accepts::M2M.with(TokenKind::ApiKey);
/// assert!(machines.contains(TokenKind::ApiKey));
/// assert!(!machines.contains(TokenKind::Session));
/// assert_eq!(Accepts::default(), Accepts::SESSION);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Accepts(u8);

impl Default for Accepts {
    fn default() -> Self {
        Accepts::SESSION
    }
}

impl Accepts {
    /// Session tokens only (the default).
    pub const SESSION: Accepts = Accepts(1);
    /// M2M tokens only.
    pub const M2M: Accepts = Accepts(2);
    /// OAuth access tokens only.
    pub const OAUTH: Accepts = Accepts(4);
    /// API keys only.
    pub const API_KEY: Accepts = Accepts(8);
    /// Every kind (Clerk's `"any"`).
    pub const ANY: Accepts = Accepts(15);

    /// These kinds and `kind`.
    ///
    /// ```
    /// let both = clerk_guard::Accepts::SESSION.with(clerk_guard::TokenKind::M2m);
    /// ```
    pub const fn with(self, kind: TokenKind) -> Accepts {
        Accepts(self.0 | kind.bit())
    }

    /// Whether `kind` is accepted.
    ///
    /// ```
    /// assert!(clerk_guard::Accepts::ANY.contains(clerk_guard::TokenKind::OAuth));
    /// ```
    pub const fn contains(self, kind: TokenKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// Whether any machine kind (M2M, OAuth, API key) is accepted.
    ///
    /// ```
    /// assert!(!clerk_guard::Accepts::SESSION.accepts_machines());
    /// ```
    pub const fn accepts_machines(self) -> bool {
        self.0 & 14 != 0
    }

    /// From the bits the attribute writes (session 1, M2M 2, OAuth 4, API key
    /// 8); `None` for an empty or unknown set.
    ///
    /// ```
    /// assert_eq!(clerk_guard::Accepts::from_bits(3), Some(clerk_guard::Accepts::SESSION.with(clerk_guard::TokenKind::M2m)));
    /// assert_eq!(clerk_guard::Accepts::from_bits(0), None);
    /// ```
    pub const fn from_bits(bits: u8) -> Option<Accepts> {
        if bits == 0 || bits > 15 {
            None
        } else {
            Some(Accepts(bits))
        }
    }

    /// The accepted kinds, in Clerk's order.
    ///
    /// ```
    /// assert_eq!(clerk_guard::Accepts::M2M.kinds().count(), 1);
    /// ```
    pub fn kinds(self) -> impl Iterator<Item = TokenKind> {
        TokenKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }
}

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

struct MachineInner {
    kind: TokenKind,
    format: TokenFormat,
    id: String,
    subject: String,
    scopes: Vec<String>,
    claims: Option<Map<String, Value>>,
    expires_at: Option<u64>,
    client_id: Option<String>,
    name: Option<String>,
    audience: Vec<String>,
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
    fn expired(&self, now: f64) -> bool {
        self.0.expires_at.is_some_and(|exp| (exp as f64) <= now)
    }
}

/// Who made the request: a signed-in user or a machine, by the kind of token
/// that arrived. What `#[clerk_protected(accepts = …)]` handlers read.
///
/// ```
/// use clerk_guard::{clerk_protected, Principal};
///
/// #[clerk_protected(accepts = ["session", "m2m", "oauth", "api_key"])]
/// async fn any(principal: Principal) -> String {
///     match &principal {
///         Principal::Session(auth) => format!("user {}", auth.user_id()),
///         Principal::M2m(machine) => format!("machine {}", machine.subject()),
///         Principal::OAuth(token) => format!("OAuth client for {}", token.subject()),
///         Principal::ApiKey(key) => format!("API key of {}", key.subject()),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub enum Principal {
    /// A session token: a signed-in user.
    Session(ClerkAuth),
    /// A machine-to-machine token.
    M2m(MachineAuth),
    /// An OAuth access token.
    OAuth(MachineAuth),
    /// An API key.
    ApiKey(MachineAuth),
}

impl Principal {
    /// The kind of token that arrived.
    ///
    /// ```
    /// # fn f(p: &clerk_guard::Principal) {
    /// println!("{}", p.kind());
    /// # }
    /// ```
    pub fn kind(&self) -> TokenKind {
        match self {
            Principal::Session(_) => TokenKind::Session,
            Principal::M2m(_) => TokenKind::M2m,
            Principal::OAuth(_) => TokenKind::OAuth,
            Principal::ApiKey(_) => TokenKind::ApiKey,
        }
    }

    /// The user id (`user_…`) of a session, else the machine token's subject.
    ///
    /// ```
    /// # fn f(p: &clerk_guard::Principal) {
    /// println!("request by {}", p.subject());
    /// # }
    /// ```
    pub fn subject(&self) -> &str {
        match self {
            Principal::Session(auth) => auth.user_id(),
            Principal::M2m(m) | Principal::OAuth(m) | Principal::ApiKey(m) => m.subject(),
        }
    }

    /// The session's claims, if a user signed in.
    ///
    /// ```
    /// # fn f(p: &clerk_guard::Principal) {
    /// if let Some(auth) = p.session() { println!("{}", auth.user_id()); }
    /// # }
    /// ```
    pub fn session(&self) -> Option<&ClerkAuth> {
        match self {
            Principal::Session(auth) => Some(auth),
            _ => None,
        }
    }

    /// The machine token, if a machine called.
    ///
    /// ```
    /// # fn f(p: &clerk_guard::Principal) {
    /// if let Some(m) = p.machine() { println!("{}", m.id()); }
    /// # }
    /// ```
    pub fn machine(&self) -> Option<&MachineAuth> {
        match self {
            Principal::Session(_) => None,
            Principal::M2m(m) | Principal::OAuth(m) | Principal::ApiKey(m) => Some(m),
        }
    }

    /// The machine token's scopes (none for a session).
    ///
    /// ```
    /// # fn f(p: &clerk_guard::Principal) {
    /// let n = p.scopes().len();
    /// # }
    /// ```
    pub fn scopes(&self) -> &[String] {
        self.machine().map(MachineAuth::scopes).unwrap_or_default()
    }

    pub(crate) fn from_machine(machine: MachineAuth) -> Principal {
        match machine.kind() {
            TokenKind::M2m => Principal::M2m(machine),
            TokenKind::OAuth => Principal::OAuth(machine),
            // Session never reaches here: machine tokens are never sessions.
            TokenKind::ApiKey | TokenKind::Session => Principal::ApiKey(machine),
        }
    }
}

/// Clerk's prefixes of opaque machine tokens.
const PREFIXES: [(&str, TokenKind); 3] = [
    ("mt_", TokenKind::M2m),
    ("oat_", TokenKind::OAuth),
    ("ak_", TokenKind::ApiKey),
];

/// The body of an opaque token after its prefix: 12 to 128 ASCII letters and
/// digits (Clerk's tokens are base62). Anything else never reaches the
/// Backend API.
const OPAQUE_BODY: std::ops::RangeInclusive<usize> = 12..=128;

/// Whether `token` starts as an opaque machine token does.
pub(crate) fn has_machine_prefix(token: &str) -> bool {
    PREFIXES.iter().any(|(p, _)| token.starts_with(p))
}

/// What a token is, read before any verification, as `@clerk/backend` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Not a machine token: verified as a session token.
    Session,
    /// A JWT-format machine token.
    Jwt(TokenKind),
    /// An opaque machine token; `well_formed` when it has the known length
    /// and alphabet (only those are sent to the Backend API).
    Opaque { kind: TokenKind, well_formed: bool },
}

/// Classifies `token` as `@clerk/backend` does: a JWT whose `sub` starts
/// with `mch_` is M2M, one whose `typ` is `at+jwt` is OAuth, any other JWT is
/// a session token; otherwise Clerk's prefixes.
pub(crate) fn classify(token: &str) -> Class {
    if is_jwt_format(token) {
        return jwt_kind(token).map_or(Class::Session, Class::Jwt);
    }
    for (prefix, kind) in PREFIXES {
        if let Some(body) = token.strip_prefix(prefix) {
            let well_formed = OPAQUE_BODY.contains(&body.len())
                && body.bytes().all(|b| b.is_ascii_alphanumeric());
            return Class::Opaque { kind, well_formed };
        }
    }
    Class::Session
}

/// Three non-empty base64url segments (Clerk's `isJwtFormat`).
fn is_jwt_format(token: &str) -> bool {
    let mut segments = 0;
    for segment in token.split('.') {
        segments += 1;
        if segment.is_empty()
            || !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    segments == 3
}

/// M2M or OAuth for a JWT-format token, from its unverified header and payload.
fn jwt_kind(token: &str) -> Option<TokenKind> {
    #[derive(Deserialize)]
    struct Typ {
        typ: Option<Value>,
    }
    #[derive(Deserialize)]
    struct Sub {
        sub: Option<Value>,
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut segments = token.split('.');
    let header: Typ = serde_json::from_slice(&b64.decode(segments.next()?).ok()?).ok()?;
    let payload: Sub = serde_json::from_slice(&b64.decode(segments.next()?).ok()?).ok()?;
    if payload
        .sub
        .as_ref()
        .and_then(Value::as_str)
        .is_some_and(|sub| sub.starts_with("mch_"))
    {
        return Some(TokenKind::M2m);
    }
    if header
        .typ
        .as_ref()
        .and_then(Value::as_str)
        .is_some_and(|typ| OAUTH_TYPES.contains(&typ))
    {
        return Some(TokenKind::OAuth);
    }
    None
}

/// Reads a list of strings from a string (space-separated when `split`) or
/// an array of strings.
fn strings(value: Option<&Value>, split: bool) -> Option<Vec<String>> {
    match value? {
        Value::String(s) if split => Some(
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

/// A time claim: absent, or a number (anything else breaks the token).
fn time_claim(payload: &Map<String, Value>, name: &str) -> Result<Option<f64>, AuthRejection> {
    match payload.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid("a time claim is not a number")),
        Some(_) => Err(invalid("a time claim is not a number")),
    }
}

/// The claims of a verified machine JWT, by the rules Clerk applies to its
/// kind (`verifyMachineJwt.ts`): `sub` a string, `exp` required, `nbf`/`iat`
/// within the skew, `azp` listed when present and parties are configured;
/// audiences as `assertAudienceClaim` (M2M) or `assertOAuthAudienceClaim`
/// (OAuth: with audiences configured, the token must name one).
pub(crate) fn machine_from_jwt(
    kind: TokenKind,
    payload: &[u8],
    config: &ClerkConfig,
) -> Result<MachineAuth, AuthRejection> {
    let payload: Map<String, Value> =
        serde_json::from_slice(payload).map_err(|_| invalid("payload is not a JSON object"))?;
    let subject = match payload.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        _ => return Err(invalid("sub is missing or not a string")),
    };
    let skew = config.clock_skew.as_secs_f64();
    let now = now_seconds();
    let exp = time_claim(&payload, "exp")?.ok_or_else(|| invalid("exp is missing"))?;
    if exp <= now - skew {
        return Err(AuthRejection::new(Reason::TokenExpired));
    }
    if time_claim(&payload, "nbf")?.is_some_and(|nbf| nbf > now + skew) {
        return Err(AuthRejection::new(Reason::TokenNotActiveYet));
    }
    if time_claim(&payload, "iat")?.is_some_and(|iat| iat > now + skew) {
        return Err(AuthRejection::new(Reason::TokenIatInTheFuture));
    }
    if let Some(azp) = payload.get("azp") {
        let listed = azp
            .as_str()
            .is_some_and(|azp| config.authorized_parties.iter().any(|p| p == azp));
        if !config.authorized_parties.is_empty() && !listed {
            return Err(AuthRejection::new(Reason::TokenInvalidAuthorizedParties));
        }
    }
    let aud = payload.get("aud");
    let audience = strings(aud, false).unwrap_or_default();
    match kind {
        TokenKind::OAuth => check_oauth_audience(aud, &config.audience)?,
        _ => {
            // Checked when both sides name audiences (Clerk's assertAudienceClaim).
            if !config.audience.is_empty()
                && !audience.is_empty()
                && !audience.iter().any(|a| config.audience.contains(a))
            {
                return Err(AuthRejection::new(Reason::TokenInvalidAudience));
            }
        }
    }
    let id = payload
        .get("jti")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let inner = match kind {
        TokenKind::OAuth => MachineInner {
            kind,
            format: TokenFormat::Jwt,
            id,
            subject,
            scopes: strings(payload.get("scp"), false)
                .or_else(|| strings(payload.get("scope"), true))
                .unwrap_or_default(),
            client_id: payload
                .get("client_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            name: None,
            audience,
            expires_at: Some(exp as u64),
            claims: Some(payload),
        },
        _ => {
            let scopes = strings(payload.get("scopes"), true).unwrap_or_else(|| audience.clone());
            let custom: Map<String, Value> = payload
                .into_iter()
                .filter(|(k, _)| !["iss", "sub", "exp", "nbf", "iat", "jti"].contains(&k.as_str()))
                .collect();
            MachineInner {
                kind,
                format: TokenFormat::Jwt,
                id,
                subject,
                scopes,
                claims: (!custom.is_empty()).then_some(custom),
                expires_at: Some(exp as u64),
                client_id: None,
                name: None,
                audience,
            }
        }
    };
    Ok(MachineAuth(Arc::new(inner)))
}

/// Clerk's `assertOAuthAudienceClaim`: with audiences configured, `aud` must
/// be a non-empty string or array of non-empty strings naming one of them.
fn check_oauth_audience(aud: Option<&Value>, expected: &[String]) -> Result<(), AuthRejection> {
    if expected.is_empty() {
        return Ok(());
    }
    let list: Vec<&Value> = match aud {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    };
    let names: Option<Vec<&str>> = list
        .iter()
        .map(|v| v.as_str().filter(|s| !s.is_empty()))
        .collect();
    match names {
        Some(names)
            if !names.is_empty() && names.iter().any(|n| expected.iter().any(|e| e == n)) =>
        {
            Ok(())
        }
        _ => Err(AuthRejection::new(Reason::TokenInvalidAudience)),
    }
}

/// A Backend API answer about one opaque token, shared by every request
/// waiting on the same lookup.
type Lookup = Result<MachineAuth, AuthRejection>;
type SharedLookup = Shared<BoxFuture<'static, Lookup>>;

/// Verifies opaque machine tokens through the Backend API.
pub(crate) struct OpaqueVerifier {
    client: reqwest::Client,
    base: String,
    headers: HeaderMap,
    max_bytes: usize,
    settings: MachineSettings,
    audience: Vec<String>,
    /// Valid answers, each until its deadline.
    valid: Option<quick_cache::sync::Cache<Arc<str>, (MachineAuth, Instant)>>,
    /// Refusals ("not found", revoked, expired), each until its deadline.
    not_found: Option<quick_cache::sync::Cache<Arc<str>, (AuthRejection, Instant)>>,
    in_flight: Mutex<HashMap<Arc<str>, SharedLookup>>,
    /// Lookups started in the current one-second window.
    window: Mutex<(Instant, u32)>,
}

impl fmt::Debug for OpaqueVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpaqueVerifier")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Clears a token's in-flight slot however its lookup ends.
struct LookupGuard {
    verifier: Arc<OpaqueVerifier>,
    token: Arc<str>,
}

impl Drop for LookupGuard {
    fn drop(&mut self) {
        lock(&self.verifier.in_flight).remove(&self.token);
    }
}

/// The fields Clerk's Backend API answers for M2M tokens, OAuth access
/// tokens and API keys (`M2MToken`, `IdPOAuthAccessToken`, `APIKey`).
#[derive(Deserialize)]
struct BapiToken {
    id: String,
    subject: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    claims: Option<Map<String, Value>>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    expired: bool,
    /// Milliseconds since the epoch.
    #[serde(default)]
    expiration: Option<f64>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    aud: Option<Value>,
}

impl OpaqueVerifier {
    pub(crate) fn new(config: &ClerkConfig, api: &BackendApi) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        let bearer = HeaderValue::try_from(format!("Bearer {}", api.secret_key))
            .map_err(|_| "the secret key is not a valid header value".to_string())?;
        headers.insert(header::AUTHORIZATION, bearer);
        let settings = config.fetch_settings(api.base.clone(), HeaderMap::new());
        let entries = config.machine.cache_entries;
        let cache = |ttl: Duration| (entries > 0 && !ttl.is_zero()).then_some(entries);
        Ok(Self {
            client: http_client(&settings)?,
            base: api.base.as_str().trim_end_matches('/').to_owned(),
            headers,
            max_bytes: config.max_jwks_bytes,
            settings: config.machine,
            audience: config.audience.clone(),
            valid: cache(config.machine.cache_ttl).map(quick_cache::sync::Cache::new),
            not_found: cache(config.machine.not_found_ttl).map(quick_cache::sync::Cache::new),
            in_flight: Mutex::new(HashMap::new()),
            window: Mutex::new((Instant::now(), 0)),
        })
    }

    /// Verifies a well-formed opaque token of `kind`.
    pub(crate) async fn verify(self: &Arc<Self>, token: &str, kind: TokenKind) -> Lookup {
        let now = Instant::now();
        if let Some(valid) = &self.valid {
            if let Some((machine, until)) = valid.get(token) {
                if now < until && !machine.expired(now_seconds()) {
                    return Ok(machine);
                }
                valid.remove(token);
            }
        }
        if let Some(not_found) = &self.not_found {
            if let Some((refused, until)) = not_found.get(token) {
                if now < until {
                    return Err(refused);
                }
                not_found.remove(token);
            }
        }
        let lookup = {
            let mut in_flight = lock(&self.in_flight);
            match in_flight.get(token) {
                Some(lookup) => lookup.clone(),
                None => {
                    self.take_lookup_slot()?;
                    let key: Arc<str> = token.into();
                    let token = Arc::clone(&key);
                    let guard = LookupGuard {
                        verifier: Arc::clone(self),
                        token: Arc::clone(&key),
                    };
                    let this = Arc::clone(self);
                    let task = tokio::spawn(async move {
                        let _guard = guard;
                        this.look_up(&token, kind).await
                    });
                    let lookup: SharedLookup = async move {
                        task.await.unwrap_or_else(|_| {
                            Err(AuthRejection::with_detail(
                                Reason::BackendApiUnavailable,
                                "the Backend API lookup was cancelled",
                            ))
                        })
                    }
                    .boxed()
                    .shared();
                    in_flight.insert(key, lookup.clone());
                    lookup
                }
            }
        };
        lookup.await
    }

    /// One more lookup of a token not seen before, or 503 with `Retry-After`
    /// when this second's cap is reached.
    fn take_lookup_slot(&self) -> Result<(), AuthRejection> {
        let mut window = lock(&self.window);
        let elapsed = window.0.elapsed();
        if elapsed >= Duration::from_secs(1) {
            *window = (Instant::now(), 0);
        }
        if window.1 >= self.settings.lookups_per_second {
            let left = Duration::from_secs(1).saturating_sub(window.0.elapsed());
            return Err(AuthRejection::with_detail(
                Reason::BackendApiUnavailable,
                "the per-second cap on Backend API lookups of new tokens is reached",
            )
            .retry_after(left.max(Duration::from_millis(1))));
        }
        window.1 += 1;
        Ok(())
    }

    /// Remembers a refusal of `token` for the "not found" time.
    fn remember_refusal(&self, token: &Arc<str>, refused: &AuthRejection) {
        if let Some(not_found) = &self.not_found {
            not_found.insert(
                Arc::clone(token),
                (
                    refused.clone(),
                    Instant::now() + self.settings.not_found_ttl,
                ),
            );
        }
    }

    /// Asks the Backend API about `token`, and remembers the answer. The
    /// paths carry no API version: `@clerk/backend` calls these three
    /// endpoints with `skipApiVersionInUrl` (found by the differential test).
    async fn look_up(&self, token: &Arc<str>, kind: TokenKind) -> Lookup {
        let (path, body) = match kind {
            TokenKind::M2m => (
                "/m2m_tokens/verify",
                serde_json::json!({ "token": &**token }),
            ),
            TokenKind::OAuth => (
                "/oauth_applications/access_tokens/verify",
                serde_json::json!({ "access_token": &**token }),
            ),
            _ => (
                "/api_keys/verify",
                serde_json::json!({ "secret": &**token }),
            ),
        };
        let url = format!("{}{path}", self.base);
        let unavailable = |detail: &'static str| {
            AuthRejection::with_detail(Reason::BackendApiUnavailable, detail)
        };
        let response = self
            .client
            .post(&url)
            .headers(self.headers.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(%url, error = %e, "Backend API lookup failed");
                unavailable("the Backend API could not be reached")
            })?;
        let status = response.status();
        let parsed_url = response.url().clone();
        match status.as_u16() {
            200..=299 => {}
            // Clerk answers 404 for unknown (and, for some kinds, revoked) tokens.
            400 | 404 | 422 => {
                let refused = not_found_rejection(kind);
                self.remember_refusal(token, &refused);
                return Err(refused);
            }
            401 | 403 => {
                tracing::error!(%url, %status, "the Backend API refused the secret key (CLERK_SECRET_KEY)");
                return Err(AuthRejection::with_detail(
                    Reason::ConfigurationInvalid,
                    "the Backend API refused the secret key",
                ));
            }
            _ => {
                tracing::warn!(%url, %status, "Backend API lookup answered with an error status");
                return Err(unavailable("the Backend API answered with an error"));
            }
        }
        let body = read_capped(response, self.max_bytes, &parsed_url)
            .await
            .ok_or_else(|| unavailable("the Backend API answer was over the size cap"))?;
        let answer: BapiToken = serde_json::from_slice(&body).map_err(|e| {
            tracing::warn!(%url, error = %e, "Backend API answer is not a token object");
            unavailable("the Backend API answer is not a token object")
        })?;
        let expires_at = answer.expiration.map(|ms| (ms / 1000.0).max(0.0) as u64);
        let now = now_seconds();
        // A refusal is remembered like "not found": a token never comes back
        // from revocation or expiry. A valid answer is never kept for it.
        let refused = if answer.revoked {
            Some(AuthRejection::with_detail(
                Reason::TokenInvalid,
                "the token is revoked",
            ))
        } else if answer.expired || expires_at.is_some_and(|exp| (exp as f64) <= now) {
            Some(AuthRejection::new(Reason::TokenExpired))
        } else {
            None
        };
        if let Some(refused) = refused {
            self.remember_refusal(token, &refused);
            return Err(refused);
        }
        if kind == TokenKind::OAuth {
            check_oauth_audience(answer.aud.as_ref(), &self.audience)?;
        }
        if answer.subject.is_empty() {
            return Err(unavailable("the Backend API answer has no subject"));
        }
        let machine = MachineAuth(Arc::new(MachineInner {
            kind,
            format: TokenFormat::Opaque,
            id: answer.id,
            subject: answer.subject,
            scopes: answer.scopes.unwrap_or_default(),
            claims: answer.claims,
            expires_at,
            client_id: answer.client_id,
            name: answer.name,
            audience: strings(answer.aud.as_ref(), false).unwrap_or_default(),
        }));
        if let Some(valid) = &self.valid {
            // Never past the token's own expiry.
            let mut keep = self.settings.cache_ttl;
            if let Some(exp) = expires_at {
                keep = keep.min(Duration::from_secs_f64((exp as f64 - now).max(0.0)));
            }
            valid.insert(Arc::clone(token), (machine.clone(), Instant::now() + keep));
        }
        Ok(machine)
    }
}

fn not_found_rejection(kind: TokenKind) -> AuthRejection {
    AuthRejection::with_detail(
        Reason::TokenInvalid,
        match kind {
            TokenKind::M2m => "machine token not found",
            TokenKind::OAuth => "OAuth token not found",
            _ => "API key not found",
        },
    )
}

//! [`Principal`]: whoever called, a signed-in user or a machine.

use super::{ClerkAuth, MachineAuth};
use crate::token::TokenKind;

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

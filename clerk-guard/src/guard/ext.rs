//! [`ClerkExtensions`]: the verdict read from a request's extensions, for
//! services that are not axum handlers (tonic methods, hyper services).

use axum::http::Extensions;

use crate::auth::{ClerkAuth, Principal};

/// Reads what [`ClerkLayer`](crate::ClerkLayer) stored in a request's
/// extensions: in a tonic method, `request.extensions().principal()`.
///
/// ```
/// use clerk_guard::{ClerkExtensions, Principal};
///
/// // A tonic method's request; an http::Request has the same extensions.
/// fn who(extensions: &axum::http::Extensions) -> String {
///     match extensions.principal() {
///         Some(caller) => caller.subject().to_owned(),
///         None => "anonymous".to_owned(),
///     }
/// }
/// assert_eq!(who(&axum::http::Extensions::new()), "anonymous");
/// ```
pub trait ClerkExtensions {
    /// Whoever called (a session or a machine token), when signed in.
    fn principal(&self) -> Option<Principal>;

    /// The signed-in session, when the caller is one.
    ///
    /// ```
    /// use clerk_guard::ClerkExtensions;
    /// assert!(axum::http::Extensions::new().clerk_auth().is_none());
    /// ```
    fn clerk_auth(&self) -> Option<&ClerkAuth>;
}

impl ClerkExtensions for Extensions {
    fn principal(&self) -> Option<Principal> {
        match self.get::<Principal>() {
            Some(principal) => Some(principal.clone()),
            None => self.clerk_auth().cloned().map(Principal::Session),
        }
    }

    fn clerk_auth(&self) -> Option<&ClerkAuth> {
        self.get::<ClerkAuth>()
    }
}

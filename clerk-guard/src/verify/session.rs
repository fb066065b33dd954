//! Session tokens: the signature, then the claims by Clerk's rules, then the
//! session's status; a reused token answered from the token cache.

use std::sync::Arc;

use axum::http::HeaderMap;
use serde_json::Value;

use super::rules::check_times;
use super::signature::Signed;
use super::ClerkVerifier;
use crate::auth::ClerkAuth;
use crate::keys::VerificationKey;
use crate::rejection::{AuthRejection, Reason};
use crate::token::{
    bearer_bytes, has_machine_prefix, header_token, CookieScope, CookieStep, Cookies, JwtKind,
    SessionCookies,
};
use crate::util::now_seconds;

impl ClerkVerifier {
    /// A session token verified by every rule, unrendered.
    pub(crate) async fn session(&self, token: &str) -> Result<ClerkAuth, AuthRejection> {
        // One clock read serves the key cache's TTL and the token's times.
        let now = now_seconds();
        let result = match self.cached(token.as_bytes(), now) {
            Some(auth) => Ok(auth),
            None => self.verify_uncached(token, now).await,
        };
        result.and_then(|auth| self.check_session(auth))
    }

    /// The request's session without awaiting, for the extractors: the
    /// verdict when the key is cached (nearly every request), `None` when it
    /// must be fetched, or when the request carries no bearer token and this
    /// instance serves pages (a browser's cookies follow the handshake's
    /// rules, which may wait on the Backend API). No async machinery is
    /// built or moved for a request that never waits. Unrendered.
    pub(crate) fn session_ready(
        &self,
        headers: &HeaderMap,
    ) -> Option<Result<ClerkAuth, AuthRejection>> {
        let now = now_seconds();
        if let Some(verdict) = self.held(headers, now) {
            return Some(verdict);
        }
        let jar;
        let token = match header_token(headers) {
            Some(Ok(token)) => return self.unheld_bearer_ready(token, now),
            Some(Err(rejection)) => return Some(Err(rejection)),
            None if self.serves_pages() => return None,
            None => {
                jar = Cookies::parse(headers);
                match self.cookie_token(&jar, now) {
                    Ok(token) => token,
                    Err(rejection) => return Some(Err(rejection)),
                }
            }
        };
        let result = match self.cached(token.as_bytes(), now) {
            Some(auth) => Ok(auth),
            None => self.verify_uncached_ready(token, now)?,
        };
        Some(result.and_then(|auth| self.check_session(auth)))
    }

    /// A bearer session token that [`Self::held_session`] did not find,
    /// verified without awaiting: `None` when its key must be fetched.
    pub(crate) fn bearer_session_ready(
        &self,
        token: &str,
    ) -> Option<Result<ClerkAuth, AuthRejection>> {
        self.unheld_bearer_ready(token, now_seconds())
    }

    /// [`Self::bearer_session_ready`] at `now`: the cache was asked for the
    /// header's bytes already.
    fn unheld_bearer_ready(
        &self,
        token: &str,
        now: f64,
    ) -> Option<Result<ClerkAuth, AuthRejection>> {
        let result = self.verify_uncached_ready(token, now)?;
        Some(result.and_then(|auth| self.check_session(auth)))
    }

    /// The request's session (the bearer header, else the cookies by
    /// Clerk's rules), verified; no handshake, which needs the request's
    /// method and URL.
    pub(super) async fn request_session(
        &self,
        headers: &HeaderMap,
    ) -> Result<ClerkAuth, AuthRejection> {
        let jar;
        let token = match header_token(headers) {
            Some(found) => found?,
            None => {
                jar = Cookies::parse(headers);
                self.cookie_token(&jar, now_seconds())?
            }
        };
        self.session(token).await
    }

    /// The session cookie to verify, chosen and gated as `@clerk/backend`
    /// does (suffixed or plain, `__client_uat`, `iat` before it, the
    /// development instance's dev-browser token); a refusal where Clerk
    /// would sign out or, for a page, hand over to a handshake.
    pub(crate) fn cookie_token<'c>(
        &self,
        jar: &'c Cookies<'c>,
        now: f64,
    ) -> Result<&'c str, AuthRejection> {
        let frontend = self.0.config.pages().frontend.as_ref();
        let scope = frontend.map(|f| CookieScope {
            suffix: &f.cookie_suffix,
            frontend_host: &f.host,
            development: f.development,
        });
        let cookies = SessionCookies::read(jar, scope, now);
        match cookies.step(frontend.is_some_and(|f| f.development), false) {
            CookieStep::Verify(token) => Ok(token),
            CookieStep::SignedOut => Err(AuthRejection::new(Reason::TokenMissing)),
            CookieStep::Handshake(cause) => Err(AuthRejection::new(cause.reason())),
        }
    }

    async fn verify_uncached(&self, token: &str, mut now: f64) -> Result<ClerkAuth, AuthRejection> {
        not_opaque(token)?;
        let (payload, key) = self
            .signed_payload(token, JwtKind::Session, &mut now)
            .await?;
        self.session_from_payload(token, payload, key, now)
    }

    /// [`Self::verify_uncached`] when the key is cached: `None` when it must
    /// be fetched (then the async path does the whole verification).
    fn verify_uncached_ready(
        &self,
        token: &str,
        now: f64,
    ) -> Option<Result<ClerkAuth, AuthRejection>> {
        if let Err(rejection) = not_opaque(token) {
            return Some(Err(rejection));
        }
        match self.check_signature(token, JwtKind::Session, None, now) {
            Ok(Signed::Verified(payload, key)) => {
                Some(self.session_from_payload(token, payload, key, now))
            }
            Ok(Signed::NeedsKey(_)) => None,
            Err(rejection) => Some(Err(rejection)),
        }
    }

    /// A session whose signature holds: its claims read and checked, and
    /// remembered (from its second verification on).
    fn session_from_payload(
        &self,
        token: &str,
        payload: Vec<u8>,
        key: Arc<VerificationKey>,
        now: f64,
    ) -> Result<ClerkAuth, AuthRejection> {
        // The one copy of the token: the ClerkAuth's, which is the cache key.
        let auth = ClerkAuth::from_payload(self.id(), payload, token, self.0.config.role_claims())?;
        self.check_times(&auth, now)?;
        self.check_parties(&auth)?;
        if let Some(tokens) = &self.0.tokens {
            tokens.remember(&auth, key);
        }
        Ok(auth)
    }

    fn check_times(&self, auth: &ClerkAuth, now: f64) -> Result<(), AuthRejection> {
        let (exp, nbf, iat) = auth.times();
        check_times(self.0.config.claim_rules(), exp, nbf, iat, now)
    }

    /// Issuer, authorized parties and audience, as configured.
    fn check_parties(&self, auth: &ClerkAuth) -> Result<(), AuthRejection> {
        let rules = self.0.config.claim_rules();
        if let Some(expected) = &rules.issuer {
            if auth.issuer() != Some(expected.as_str()) {
                return Err(AuthRejection::new(Reason::TokenInvalidIssuer));
            }
        }
        if !rules.authorized_parties.is_empty() {
            let listed = auth
                .authorized_party()
                .is_some_and(|azp| rules.authorized_parties.iter().any(|p| p == azp));
            if !listed {
                return Err(AuthRejection::new(Reason::TokenInvalidAuthorizedParties));
            }
        }
        if !rules.audience.is_empty() {
            let accepted = |aud: &str| rules.audience.iter().any(|a| a == aud);
            let ok = match auth.claim("aud") {
                Some(Value::String(aud)) => accepted(aud),
                Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(accepted),
                _ => false,
            };
            if !ok {
                return Err(AuthRejection::new(Reason::TokenInvalidAudience));
            }
        }
        Ok(())
    }

    /// Session rules checked on every use, cached or not.
    fn check_session(&self, auth: ClerkAuth) -> Result<ClerkAuth, AuthRejection> {
        let pending_allowed = self.0.config.claim_rules().accept_pending_sessions;
        if auth.session_status() == Some("pending") && !pending_allowed {
            return Err(AuthRejection::new(Reason::SessionPending));
        }
        Ok(auth)
    }

    /// The request's bearer session when the token cache holds it, by the
    /// header's bytes (only session tokens are remembered, so its kind is
    /// known without reading it): its verdict, or `None`.
    pub(crate) fn held_session(
        &self,
        headers: &HeaderMap,
    ) -> Option<Result<ClerkAuth, AuthRejection>> {
        self.held(headers, now_seconds())
    }

    /// [`Self::held_session`] at `now`. A bearer token the cache holds is
    /// answered before the header is read byte by byte: bytes equal to a
    /// verified token's passed every check of the header when that token
    /// was verified.
    fn held(&self, headers: &HeaderMap, now: f64) -> Option<Result<ClerkAuth, AuthRejection>> {
        let auth = self.cached(bearer_bytes(headers)?, now)?;
        Some(self.check_session(auth))
    }

    /// A remembered verification, if its key is still current and its time
    /// claims still hold. Anything else falls through to a full verification.
    fn cached(&self, token: &[u8], now: f64) -> Option<ClerkAuth> {
        let tokens = self.0.tokens.as_ref()?;
        let entry = tokens.get(token)?;
        // The same key under the same kid, even if a refresh rebuilt it.
        let key_current = self
            .0
            .keys
            .cached(entry.key.kid().unwrap_or_default(), now)
            .is_some_and(|key| Arc::ptr_eq(&key, &entry.key) || key.same_key(&entry.key));
        if !key_current || self.check_times(&entry.auth, now).is_err() {
            tokens.remove(token);
            return None;
        }
        Some(entry.auth)
    }
}

/// An opaque machine token sent where a session token is expected.
fn not_opaque(token: &str) -> Result<(), AuthRejection> {
    if has_machine_prefix(token) {
        return Err(AuthRejection::with_detail(
            Reason::TokenTypeMismatch,
            "an opaque machine token (mt_, oat_, ak_), not a session token",
        ));
    }
    Ok(())
}

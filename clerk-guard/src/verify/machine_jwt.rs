//! Machine JWTs (M2M tokens, OAuth access tokens) after their signature
//! holds: the claims by the rules Clerk applies to each kind.

use serde_json::{Map, Value};

use super::rules::{check_expiry, check_issued_at, check_not_before};
use super::ClerkVerifier;
use crate::auth::{MachineAuth, MachineInner, TokenFormat};
use crate::config::ClaimRules;
use crate::rejection::{AuthRejection, Reason};
use crate::token::{JwtKind, TokenKind};
use crate::util::now_seconds;

impl ClerkVerifier {
    /// A JWT-format machine token of `kind`, verified locally.
    pub(super) async fn machine_jwt(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<MachineAuth, AuthRejection> {
        let jwt = if kind == TokenKind::OAuth {
            JwtKind::OAuth
        } else {
            JwtKind::M2m
        };
        let (payload, _) = self.signed_payload(token, jwt, &mut now_seconds()).await?;
        machine_from_jwt(kind, &payload, self.0.config.claim_rules())
    }
}

/// Reads a list of strings from a string (space-separated when `split`) or
/// an array of strings.
pub(super) fn strings(value: Option<&Value>, split: bool) -> Option<Vec<String>> {
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
            .ok_or_else(|| AuthRejection::invalid("a time claim is not a number")),
        Some(_) => Err(AuthRejection::invalid("a time claim is not a number")),
    }
}

/// The claims of a verified machine JWT, by the rules Clerk applies to its
/// kind (`verifyMachineJwt.ts`): `sub` a string, `exp` required, `nbf`/`iat`
/// within the skew, `azp` listed when present and parties are configured;
/// audiences as `assertAudienceClaim` (M2M) or `assertOAuthAudienceClaim`
/// (OAuth: with audiences configured, the token must name one).
pub(super) fn machine_from_jwt(
    kind: TokenKind,
    payload: &[u8],
    rules: &ClaimRules,
) -> Result<MachineAuth, AuthRejection> {
    let payload: Map<String, Value> = serde_json::from_slice(payload)
        .map_err(|_| AuthRejection::invalid("payload is not a JSON object"))?;
    let subject = match payload.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        _ => return Err(AuthRejection::invalid("sub is missing or not a string")),
    };
    // Each claim's type, then its rule, in Clerk's order.
    let now = now_seconds();
    let exp =
        time_claim(&payload, "exp")?.ok_or_else(|| AuthRejection::invalid("exp is missing"))?;
    check_expiry(rules, exp, now)?;
    check_not_before(rules, time_claim(&payload, "nbf")?, now)?;
    check_issued_at(rules, time_claim(&payload, "iat")?, now)?;
    if let Some(azp) = payload.get("azp") {
        let listed = azp
            .as_str()
            .is_some_and(|azp| rules.authorized_parties.iter().any(|p| p == azp));
        if !rules.authorized_parties.is_empty() && !listed {
            return Err(AuthRejection::new(Reason::TokenInvalidAuthorizedParties));
        }
    }
    let aud = payload.get("aud");
    let audience = strings(aud, false).unwrap_or_default();
    match kind {
        TokenKind::OAuth => check_oauth_audience(aud, &rules.audience)?,
        _ => {
            // Checked when both sides name audiences (Clerk's assertAudienceClaim).
            if !rules.audience.is_empty()
                && !audience.is_empty()
                && !audience.iter().any(|a| rules.audience.contains(a))
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
    Ok(MachineAuth::new(inner))
}

/// Clerk's `assertOAuthAudienceClaim`: with audiences configured, `aud` must
/// be a non-empty string or array of non-empty strings naming one of them.
pub(super) fn check_oauth_audience(
    aud: Option<&Value>,
    expected: &[String],
) -> Result<(), AuthRejection> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn rules(audience: &[&str], parties: &[&str]) -> ClaimRules {
        ClaimRules {
            issuer: None,
            audience: audience.iter().map(|a| a.to_string()).collect(),
            authorized_parties: parties.iter().map(|p| p.to_string()).collect(),
            clock_skew: Duration::from_secs(5),
            accept_pending_sessions: false,
        }
    }

    fn read(kind: TokenKind, claims: Value, rules: &ClaimRules) -> Result<MachineAuth, Reason> {
        let mut claims = claims;
        let exp = now_seconds() as u64 + 60;
        claims
            .as_object_mut()
            .unwrap()
            .entry("exp")
            .or_insert(exp.into());
        machine_from_jwt(kind, claims.to_string().as_bytes(), rules).map_err(|r| r.reason())
    }

    #[test]
    fn scopes_are_split_on_spaces_or_taken_from_an_array() {
        assert_eq!(
            strings(Some(&json!("a  b c")), true).unwrap(),
            ["a", "b", "c"]
        );
        assert_eq!(strings(Some(&json!("a b")), false).unwrap(), ["a b"]);
        assert_eq!(
            strings(Some(&json!(["a", 1, "b"])), true).unwrap(),
            ["a", "b"]
        );
        assert_eq!(
            strings(Some(&json!("")), true).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(strings(Some(&json!(3)), true), None);
        assert_eq!(strings(None, true), None);
    }

    #[test]
    fn oauth_audience_must_name_a_configured_one() {
        let expected = vec!["api".to_owned()];
        let ok = |aud: Option<Value>| check_oauth_audience(aud.as_ref(), &expected).is_ok();
        assert!(ok(Some(json!("api"))));
        assert!(ok(Some(json!(["other", "api"]))));
        assert!(!ok(Some(json!("other"))));
        assert!(!ok(None));
        assert!(!ok(Some(json!([]))));
        // Every entry must be a non-empty string.
        assert!(!ok(Some(json!(["api", ""]))));
        assert!(!ok(Some(json!(["api", 1]))));
        assert!(!ok(Some(json!(1))));
        // No audience configured: not checked.
        assert!(check_oauth_audience(Some(&json!(1)), &[]).is_ok());
    }

    #[test]
    fn m2m_audience_is_checked_only_when_both_sides_name_one() {
        let none = rules(&[], &[]);
        let api = rules(&["api"], &[]);
        let token = |aud: Value| json!({ "sub": "mch_1", "aud": aud });
        assert!(read(TokenKind::M2m, token(json!("other")), &none).is_ok());
        assert!(read(TokenKind::M2m, json!({ "sub": "mch_1" }), &api).is_ok());
        assert!(read(TokenKind::M2m, token(json!(["x", "api"])), &api).is_ok());
        assert_eq!(
            read(TokenKind::M2m, token(json!("other")), &api).err(),
            Some(Reason::TokenInvalidAudience)
        );
        // OAuth: a configured audience must be named.
        assert_eq!(
            read(TokenKind::OAuth, json!({ "sub": "user_1" }), &api).err(),
            Some(Reason::TokenInvalidAudience)
        );
    }

    #[test]
    fn azp_is_checked_when_present_and_parties_are_configured() {
        let parties = rules(&[], &["https://a.example"]);
        let with = |azp: Value| json!({ "sub": "mch_1", "azp": azp });
        assert!(read(TokenKind::M2m, json!({ "sub": "mch_1" }), &parties).is_ok());
        assert!(read(TokenKind::M2m, with(json!("https://a.example")), &parties).is_ok());
        assert_eq!(
            read(TokenKind::M2m, with(json!("https://b.example")), &parties).err(),
            Some(Reason::TokenInvalidAuthorizedParties)
        );
        assert_eq!(
            read(TokenKind::M2m, with(json!(1)), &parties).err(),
            Some(Reason::TokenInvalidAuthorizedParties)
        );
        assert!(read(TokenKind::M2m, with(json!(1)), &rules(&[], &[])).is_ok());
    }

    #[test]
    fn claims_scopes_and_ids_as_clerk_reads_each_kind() {
        let none = rules(&[], &[]);
        let m2m = read(
            TokenKind::M2m,
            json!({ "sub": "mch_1", "jti": "mt_1", "iss": "x", "aud": ["mch_2"], "tenant": "t" }),
            &none,
        )
        .unwrap();
        assert_eq!((m2m.id(), m2m.subject()), ("mt_1", "mch_1"));
        // No `scopes`: the audience stands for them.
        assert_eq!(m2m.scopes(), ["mch_2"]);
        let claims = m2m.claims().unwrap();
        assert!(claims.contains_key("tenant") && claims.contains_key("aud"));
        assert!(!claims.contains_key("iss") && !claims.contains_key("jti"));
        let oauth = read(
            TokenKind::OAuth,
            json!({ "sub": "user_1", "scope": "read write", "client_id": "c" }),
            &none,
        )
        .unwrap();
        assert_eq!(oauth.scopes(), ["read", "write"]);
        assert_eq!(oauth.client_id(), Some("c"));
        assert!(oauth.claims().unwrap().contains_key("sub"));
        let scp = read(
            TokenKind::OAuth,
            json!({ "sub": "user_1", "scp": ["a"], "scope": "b" }),
            &none,
        )
        .unwrap();
        assert_eq!(scp.scopes(), ["a"]);
    }

    #[test]
    fn wrong_types_and_times_are_refused_in_clerks_order() {
        let none = rules(&[], &[]);
        for bad in [json!({ "sub": "" }), json!({ "sub": 1 }), json!({})] {
            assert_eq!(
                read(TokenKind::M2m, bad, &none).err(),
                Some(Reason::TokenInvalid)
            );
        }
        let past = now_seconds() - 60.0;
        let future = now_seconds() + 60.0;
        assert_eq!(
            read(
                TokenKind::M2m,
                json!({ "sub": "mch_1", "exp": past, "nbf": "x" }),
                &none
            )
            .err(),
            Some(Reason::TokenExpired)
        );
        assert_eq!(
            read(
                TokenKind::M2m,
                json!({ "sub": "mch_1", "nbf": future, "iat": "x" }),
                &none
            )
            .err(),
            Some(Reason::TokenNotActiveYet)
        );
        assert_eq!(
            read(
                TokenKind::M2m,
                json!({ "sub": "mch_1", "iat": future }),
                &none
            )
            .err(),
            Some(Reason::TokenIatInTheFuture)
        );
        assert_eq!(
            read(
                TokenKind::M2m,
                json!({ "sub": "mch_1", "exp": "soon" }),
                &none
            )
            .err(),
            Some(Reason::TokenInvalid)
        );
        assert!(machine_from_jwt(TokenKind::M2m, b"[1]", &none).is_err());
    }
}

//! The readers held to each other, for the property tests and the `claims`
//! fuzz target: the one-pass reader against the claim map, and every answer
//! a handler reads (roles, organization, `has()`) with and without the map.

use super::fast;
use super::org::{V1Claims, V2Claims};
use super::registered::{Registered, Text};

/// Permission names the checks ask about (those the property tests' claims
/// grant, and near misses).
const PERMISSIONS: [&str; 9] = [
    "org:a:read",
    "org:a:manage",
    "org:c:read",
    "org:c:manage",
    "org:b:read",
    "org:a:",
    "org:a:rea",
    "org:ar:ead",
    "org:a:b",
];

/// Organization roles the checks ask about (with and without `org:`).
const ORG_ROLES: [&str; 6] = ["admin", "org:admin", "org:org:admin", "3", "org:3", ""];

/// Role names the checks ask about (those the property tests' claims hold,
/// and near misses).
const ROLES: [&str; 6] = ["admin", "editor", "", "a\"b", "é☃", "admi"];

/// Runs both readers over `payload` and panics if the fast one accepted
/// what the map reader refuses (the whole claim map, not only the
/// registered claims), or read a different value. Returns whether the fast
/// reader took the payload.
pub(crate) fn check(payload: &str) -> bool {
    let Some(fast) = fast::read(payload) else {
        return false;
    };
    let slow = match Registered::read_map(payload) {
        Ok((slow, _)) => slow,
        Err(e) => panic!("fast reader accepted {payload:?}, the map reader refused it: {e}"),
    };
    if let Err(e) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(payload) {
        panic!("fast reader accepted {payload:?}, serde_json's map refused it: {e}");
    }
    let text = |t: &Option<Text>| t.as_ref().map(|t| t.get(payload).to_owned());
    let texts = |r: &Registered| [&r.sub, &r.iss, &r.azp, &r.sid, &r.sts].map(text);
    let numbers = |r: &Registered| [r.exp, r.nbf, r.iat, r.v].map(|n| n.map(f64::to_bits));
    assert_eq!(texts(&fast), texts(&slow), "strings differ for {payload:?}");
    assert_eq!(
        numbers(&fast),
        numbers(&slow),
        "numbers differ for {payload:?}"
    );
    // The authorization claims read from their noted places are the map's.
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(payload).unwrap_or_default();
    for name in crate::auth::registered::AUTHORIZATION {
        let noted = fast
            .spans
            .text(payload, name)
            .map(|text| serde_json::from_str::<serde_json::Value>(text).ok());
        assert_eq!(
            noted,
            map.get(name).map(|v| Some(v.clone())),
            "{name} differs for {payload:?}"
        );
    }
    // The organization read from the noted texts is the map's.
    let text = |name: &str| fast.spans.text(payload, name);
    assert_eq!(
        V1Claims::from_texts(text).organization(),
        V1Claims::from_map(&map).organization(),
        "the v1 organization differs for {payload:?}"
    );
    assert_eq!(
        V2Claims::from_texts(text).organization(),
        V2Claims::from_map(&map).organization(),
        "the v2 organization differs for {payload:?}"
    );
    // What a handler reads is the same with and without the claim map.
    let paths: std::sync::Arc<[Vec<String>]> = super::DEFAULT_ROLE_CLAIMS
        .iter()
        .chain(&["metadata.team.roles", "act"])
        .map(|path| path.split('.').map(str::to_owned).collect())
        .collect();
    let seen = |map_first: bool| {
        let id = super::VerifierId::fresh();
        let auth =
            super::ClerkAuth::from_payload(id, payload.as_bytes().to_vec(), "t", &paths).ok()?;
        if map_first {
            auth.claims();
        }
        // Asked before the roles and organization are built (then read from
        // the claims), then against what was built.
        let holds = ROLES.map(|r| auth.has_role(r));
        let org_roles = ORG_ROLES.map(|r| auth.has_org_role(r));
        let granted = PERMISSIONS.map(|p| auth.has_permission(p));
        let listed_roles = ROLES.map(|r| auth.roles().iter().any(|held| held == r));
        assert_eq!(
            holds, listed_roles,
            "has_role is not the roles for {payload:?}"
        );
        let listed_org_roles = ORG_ROLES.map(|r| {
            auth.org()
                .and_then(|org| org.role())
                .is_some_and(|held| super::org_role_matches(held, |x| x == r))
        });
        assert_eq!(
            org_roles, listed_org_roles,
            "has_org_role is not the organization's for {payload:?}"
        );
        let listed = PERMISSIONS.map(|p| {
            auth.org()
                .is_some_and(|org| org.permissions().iter().any(|held| held == p))
        });
        assert_eq!(
            granted, listed,
            "has_permission is not the list for {payload:?}"
        );
        Some((
            granted,
            auth.roles().to_vec(),
            auth.org().cloned(),
            auth.actor().cloned(),
            auth.factor_verification_age(),
            [
                auth.has_feature("a"),
                auth.has_plan("a"),
                auth.has_feature("org:a"),
            ],
        ))
    };
    assert_eq!(
        seen(false),
        seen(true),
        "a handler reads differently for {payload:?}"
    );
    true
}

//! Application roles: read from the configured claim paths, an
//! organization role never among them.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::text;

/// The claims read for application roles by default, in order: `roles`
/// (string or array), `role`, `metadata.role`, `metadata.roles`.
///
/// ```
/// assert_eq!(clerk_guard::DEFAULT_ROLE_CLAIMS[0], "roles");
/// ```
pub const DEFAULT_ROLE_CLAIMS: [&str; 4] = ["roles", "role", "metadata.role", "metadata.roles"];

/// What a role claim path holds: a string, or an array's items (each a
/// string or `None`). Anything else holds no role.
pub(super) enum Held<'a> {
    One(Cow<'a, str>),
    Many(Vec<Option<Cow<'a, str>>>),
}

impl<'a> Held<'a> {
    /// What a claim-map value holds.
    pub(super) fn of_value(value: &'a Value) -> Option<Self> {
        match value {
            Value::String(role) => Some(Held::One(Cow::Borrowed(role))),
            Value::Array(items) => Some(Held::Many(
                items
                    .iter()
                    .map(|item| item.as_str().map(Cow::Borrowed))
                    .collect(),
            )),
            _ => None,
        }
    }

    /// The same, owning its strings.
    pub(super) fn into_owned(self) -> Held<'static> {
        let owned = |role: Cow<'_, str>| Cow::Owned(role.into_owned());
        match self {
            Held::One(role) => Held::One(owned(role)),
            Held::Many(items) => Held::Many(items.into_iter().map(|i| i.map(owned)).collect()),
        }
    }

    /// What a claim's JSON text holds.
    pub(super) fn of_text(text: &'a str) -> Option<Self> {
        match text.as_bytes().first() {
            Some(b'"') => text::string(text).map(Held::One),
            Some(b'[') => text::items(text).map(Held::Many),
            _ => None,
        }
    }
}

/// The value at `path` in the claim map.
pub(super) fn in_map<'a>(claims: &'a Map<String, Value>, path: &[String]) -> Option<Held<'a>> {
    let (first, rest) = path.split_first()?;
    let mut value = claims.get(first.as_str());
    for segment in rest {
        value = value.and_then(|v| v.get(segment.as_str()));
    }
    value.and_then(Held::of_value)
}

/// The application roles at `paths`, in order, without duplicates or empty
/// ones; `at(path)` is what a path holds.
pub(super) fn app_roles<'a>(
    paths: &[Vec<String>],
    mut at: impl FnMut(&[String]) -> Option<Held<'a>>,
) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    let mut add = |role: &str| {
        if !role.is_empty() && !roles.iter().any(|r| r == role) {
            roles.push(role.to_owned());
        }
    };
    for path in paths {
        match at(path) {
            Some(Held::One(role)) => add(&role),
            Some(Held::Many(items)) => items.iter().flatten().for_each(|role| add(role)),
            None => {}
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_every_default_path_without_duplicates() {
        let claims = serde_json::json!({
            "roles": ["admin", 3, "editor"], "role": "admin",
            "metadata": {"role": "owner", "roles": "viewer"}
        });
        let paths: Vec<Vec<String>> = DEFAULT_ROLE_CLAIMS
            .iter()
            .map(|p| p.split('.').map(str::to_owned).collect())
            .collect();
        let claims = claims.as_object().unwrap();
        let roles = app_roles(&paths, |path| in_map(claims, path));
        assert_eq!(roles, ["admin", "editor", "owner", "viewer"]);
    }
}

//! Application roles: read from the configured claim paths, an
//! organization role never among them.

use serde_json::{Map, Value};

/// The claims read for application roles by default, in order: `roles`
/// (string or array), `role`, `metadata.role`, `metadata.roles`.
///
/// ```
/// assert_eq!(clerk_guard::DEFAULT_ROLE_CLAIMS[0], "roles");
/// ```
pub const DEFAULT_ROLE_CLAIMS: [&str; 4] = ["roles", "role", "metadata.role", "metadata.roles"];

pub(super) fn app_roles(claims: &Map<String, Value>, paths: &[Vec<String>]) -> Vec<String> {
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
        let roles = app_roles(claims.as_object().unwrap(), &paths);
        assert_eq!(roles, ["admin", "editor", "owner", "viewer"]);
    }
}

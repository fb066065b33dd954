//! The active organization: id, slug, role and permissions, decoded from
//! the v1 `org_*` claims or the v2 `o` and `fea` claims.

use serde_json::{Map, Value};

/// The active organization of a session: id, slug, role and permissions, from
/// the v1 `org_*` claims or the v2 `o`/`fea` claims.
///
/// ```
/// # use clerk_guard::ClerkAuth;
/// fn org_summary(auth: &ClerkAuth) -> String {
///     match auth.org() {
///         Some(org) => format!("{} as {}", org.id(), org.role().unwrap_or("member")),
///         None => "personal account".to_owned(),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub(super) id: String,
    pub(super) slug: Option<String>,
    pub(super) role: Option<String>,
    pub(super) permissions: Vec<String>,
}

impl Organization {
    /// The organization id (`org_…`).
    ///
    /// ```
    /// # fn demo(auth: &clerk_guard::ClerkAuth) {
    /// let id: Option<&str> = auth.org().map(|org| org.id());
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The organization slug, if the token carries it.
    ///
    /// ```
    /// # fn demo(auth: &clerk_guard::ClerkAuth) {
    /// let slug = auth.org().and_then(|org| org.slug());
    /// # }
    /// ```
    pub fn slug(&self) -> Option<&str> {
        self.slug.as_deref()
    }
    /// The member's role, always in the `org:<role>` form (`org:admin`).
    ///
    /// ```
    /// # fn demo(auth: &clerk_guard::ClerkAuth) {
    /// let is_admin = auth.org().and_then(|org| org.role()) == Some("org:admin");
    /// # }
    /// ```
    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }
    /// The member's permissions (`org:<feature>:<permission>`), from v1
    /// `org_permissions` or decoded from v2 `fea` + `o.per` + `o.fpm`.
    ///
    /// ```
    /// # fn demo(auth: &clerk_guard::ClerkAuth) {
    /// let can_bill = auth.org().is_some_and(|org| org.permissions().iter().any(|p| p == "org:billing:manage"));
    /// # }
    /// ```
    pub fn permissions(&self) -> &[String] {
        &self.permissions
    }
}

/// A v1 `org_role` in the `org:` form (Clerk issues it so; a bare role is prefixed once).
fn normalise_org_role(role: &str) -> String {
    if role.starts_with("org:") {
        role.to_owned()
    } else {
        format!("org:{role}")
    }
}

fn string_claim(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_owned)
}

pub(super) fn org_v1(claims: &Map<String, Value>) -> Option<Organization> {
    let id = string_claim(claims.get("org_id"))?;
    let permissions = match claims.get("org_permissions") {
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Some(Organization {
        id,
        slug: string_claim(claims.get("org_slug")),
        role: claims
            .get("org_role")
            .and_then(Value::as_str)
            .map(normalise_org_role),
        permissions,
    })
}

pub(super) fn org_v2(claims: &Map<String, Value>) -> Option<Organization> {
    let o = claims.get("o")?.as_object()?;
    let id = string_claim(o.get("id"))?;
    let features = claims.get("fea").and_then(Value::as_str).unwrap_or("");
    let per = o.get("per").and_then(Value::as_str).unwrap_or("");
    let fpm = o.get("fpm").and_then(Value::as_str).unwrap_or("");
    Some(Organization {
        id,
        slug: string_claim(o.get("slg")),
        // v2 carries the bare role; Clerk prefixes it once, whatever it holds.
        role: o
            .get("rol")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(|r| format!("org:{r}")),
        permissions: decode_v2_permissions(features, per, fpm),
    })
}

/// Clerk's v2 permission encoding, decoded as `@clerk/shared` does: the i-th
/// org-scoped feature of `fea` (scope `o`, `ou` or `uo`) has the i-th mask of
/// `fpm`; bit j (least significant first) grants the j-th entry of `per` as
/// `org:<feature>:<permission>`. Lists keep their positions: an empty entry
/// is an empty item that grants nothing and shifts nothing.
fn decode_v2_permissions(fea: &str, per: &str, fpm: &str) -> Vec<String> {
    if per.is_empty() || fpm.is_empty() {
        return Vec::new();
    }
    let permissions: Vec<&str> = per.split(',').map(str::trim).collect();
    let masks: Vec<&str> = fpm.split(',').map(str::trim).collect();
    let org_features = fea.split(',').filter_map(|entry| {
        let (scope, feature) = entry.trim().split_once(':')?;
        matches!(scope, "o" | "ou" | "uo").then_some(feature)
    });
    let mut granted = Vec::new();
    for (index, feature) in org_features.enumerate() {
        let Some(mask) = masks.get(index).and_then(|m| decimal_to_bits(m)) else {
            continue;
        };
        if feature.is_empty() {
            continue;
        }
        for (bit, permission) in permissions.iter().enumerate() {
            let limb = mask.get(bit / 64).copied().unwrap_or(0);
            if limb >> (bit % 64) & 1 == 1 && !permission.is_empty() {
                granted.push(format!("org:{feature}:{permission}"));
            }
        }
    }
    granted
}

/// A decimal string of any length as little-endian 64-bit limbs; `None`
/// unless it is all ASCII digits.
fn decimal_to_bits(decimal: &str) -> Option<Vec<u64>> {
    // Far beyond any real mask (a 4096-bit mask has 1234 digits); bounds the
    // quadratic conversion.
    const MAX_DIGITS: usize = 4096;
    if decimal.is_empty()
        || decimal.len() > MAX_DIGITS
        || !decimal.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut limbs: Vec<u64> = vec![0];
    for digit in decimal.bytes().map(|b| u128::from(b - b'0')) {
        let mut carry = digit;
        for limb in limbs.iter_mut() {
            let value = u128::from(*limb) * 10 + carry;
            *limb = value as u64;
            carry = value >> 64;
        }
        if carry > 0 {
            limbs.push(carry as u64);
        }
    }
    Some(limbs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_permissions_follow_org_scoped_features_in_order() {
        let got = decode_v2_permissions("o:billing,u:profile,uo:reports", "read,manage", "3,1");
        assert_eq!(
            got,
            ["org:billing:read", "org:billing:manage", "org:reports:read"]
        );
    }

    #[test]
    fn v2_empty_entries_keep_their_positions() {
        // An empty permission is bit 1: `manage` stays bit 2.
        assert_eq!(
            decode_v2_permissions("o:a", "read,,manage", "7"),
            ["org:a:read", "org:a:manage"]
        );
        // An empty mask belongs to feature 0: feature 1 keeps mask `1`.
        assert_eq!(
            decode_v2_permissions("o:a,o:b", "read", ",1"),
            ["org:b:read"]
        );
        // An empty org feature takes its place in the list and grants nothing.
        assert_eq!(
            decode_v2_permissions("o:,o:b", "read", "1,1"),
            ["org:b:read"]
        );
        // An empty `fea` entry is not org-scoped: it takes no place.
        assert_eq!(decode_v2_permissions(",o:b", "read", "1"), ["org:b:read"]);
        // Only Clerk's scopes count as organization scopes.
        assert!(decode_v2_permissions("org:a,xo:b", "read", "1,1").is_empty());
    }

    #[test]
    fn v2_masks_beyond_64_bits_and_bad_masks() {
        let per: Vec<String> = (0..70).map(|i| format!("p{i}")).collect();
        // 2^69 = 590295810358705651712
        let got = decode_v2_permissions("o:big", &per.join(","), "590295810358705651712");
        assert_eq!(got, ["org:big:p69"]);
        assert!(decode_v2_permissions("o:a", "read", "0x1").is_empty());
        assert!(decode_v2_permissions("o:a", "read", "-1").is_empty());
        assert!(decode_v2_permissions("o:a", "read", &"1".repeat(5000)).is_empty());
        assert!(decode_v2_permissions("o:a,o:b", "read", "1").len() == 1);
    }
}

//! Clerk's `has()`: roles, organization roles and permissions, billing
//! features and plans, and step-up reverification.

use serde_json::Value;

use super::ClerkAuth;

impl ClerkAuth {
    /// Whether the user holds the application role `role` (exact, case-sensitive).
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { if auth.has_role("admin") { /* … */ } }
    /// ```
    pub fn has_role(&self, role: &str) -> bool {
        self.holds_role(&|held| held == role)
    }

    /// Whether the active organization role is `role`; `admin` and
    /// `org:admin` mean the same.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { if auth.has_org_role("admin") { /* … */ } }
    /// ```
    pub fn has_org_role(&self, role: &str) -> bool {
        self.org_role_is(&|held| org_role_matches(held, |r| r == role))
    }

    /// Whether the session holds the billing feature `feature` (Clerk's
    /// `has({ feature })`, from the `fea` claim): `org:reports` (also `o:`,
    /// `organization:`) looks among the organization's features, `user:reports`
    /// (`u:`) among the user's, a bare `reports` among both.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { if auth.has_feature("reports") { /* … */ } }
    /// ```
    pub fn has_feature(&self, feature: &str) -> bool {
        has_scoped(self.value_claim("fea"), feature)
    }

    /// Whether the session is on the billing plan `plan` (Clerk's
    /// `has({ plan })`, from the `pla` claim), scoped as in
    /// [`has_feature`](Self::has_feature).
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { if auth.has_plan("pro") { /* … */ } }
    /// ```
    pub fn has_plan(&self, plan: &str) -> bool {
        has_scoped(self.value_claim("pla"), plan)
    }

    /// The factor verification ages (`fva`: minutes since the first and the
    /// second factor, -1 for none), when the claim is exactly two integers.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let fresh = auth.factor_verification_age().is_some_and(|[first, _]| first < 5); }
    /// ```
    pub fn factor_verification_age(&self) -> Option<[i64; 2]> {
        match self.value_claim("fva") {
            Some(Value::Array(ages)) if ages.len() == 2 => {
                let age = |v: &Value| v.as_i64().filter(|a| *a == -1 || *a >= 0);
                Some([age(&ages[0])?, age(&ages[1])?])
            }
            _ => None,
        }
    }

    /// Whether the user verified `level` within the last `after_minutes`
    /// minutes (Clerk's `has({ reverification })`). Fail-closed, as Clerk's
    /// newest SDK: no `fva`, an `fva` that is not two integers, or `[-1, -1]`
    /// fail every level. A user without a second factor (-1) is judged on the
    /// first factor for `second_factor` and `multi_factor`.
    ///
    /// ```
    /// use clerk_guard::ReverificationLevel;
    /// # fn f(auth: clerk_guard::ClerkAuth) {
    /// if !auth.reverified_within(ReverificationLevel::SecondFactor, 10) { /* ask to reverify */ }
    /// # }
    /// ```
    pub fn reverified_within(&self, level: ReverificationLevel, after_minutes: u32) -> bool {
        let Some([first, second]) = self.factor_verification_age() else {
            return false;
        };
        if first == -1 && second == -1 {
            return false;
        }
        let limit = i64::from(after_minutes);
        let first_fresh = first != -1 && limit > first;
        let second_fresh = second != -1 && limit > second;
        match level {
            ReverificationLevel::FirstFactor => first_fresh,
            ReverificationLevel::SecondFactor if second == -1 => first_fresh,
            ReverificationLevel::SecondFactor => second_fresh,
            ReverificationLevel::MultiFactor if second == -1 => first_fresh,
            ReverificationLevel::MultiFactor => first != -1 && first_fresh && second_fresh,
        }
    }

    /// Whether the active organization grants `permission` (`org:feature:perm`).
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { if auth.has_permission("org:billing:manage") { /* … */ } }
    /// ```
    pub fn has_permission(&self, permission: &str) -> bool {
        self.grants(&|held| held == permission)
    }
}

/// The factor a step-up reverification asks for, as Clerk names them.
///
/// ```
/// use clerk_guard::ReverificationLevel;
/// assert_eq!(ReverificationLevel::SecondFactor.as_str(), "second_factor");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReverificationLevel {
    /// The first factor (password, email code, …) within the age.
    FirstFactor,
    /// The second factor within the age (the first, for users without one).
    SecondFactor,
    /// Both factors within the age (the first, for users without a second).
    MultiFactor,
}

impl ReverificationLevel {
    /// Every level, in the order of the numbers the attribute writes
    /// (`Reverify<LEVEL, …>`: 0 first factor, 1 second, 2 multi factor).
    pub(crate) const ALL: [ReverificationLevel; 3] = [
        ReverificationLevel::FirstFactor,
        ReverificationLevel::SecondFactor,
        ReverificationLevel::MultiFactor,
    ];

    /// The level the attribute numbers `number` (past the last: the strictest).
    pub(crate) const fn from_number(number: u8) -> Self {
        match number {
            0 => Self::ALL[0],
            1 => Self::ALL[1],
            _ => Self::ALL[2],
        }
    }

    /// Clerk's name: `first_factor`, `second_factor`, `multi_factor`.
    ///
    /// ```
    /// assert_eq!(clerk_guard::ReverificationLevel::MultiFactor.as_str(), "multi_factor");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ReverificationLevel::FirstFactor => "first_factor",
            ReverificationLevel::SecondFactor => "second_factor",
            ReverificationLevel::MultiFactor => "multi_factor",
        }
    }
}

/// Clerk's reverification presets: `(level, minutes)`.
///
/// ```
/// use clerk_guard::{ReverificationLevel, REVERIFICATION_PRESETS};
/// assert!(REVERIFICATION_PRESETS.contains(&("strict", ReverificationLevel::SecondFactor, 10)));
/// ```
pub const REVERIFICATION_PRESETS: [(&str, ReverificationLevel, u32); 4] = [
    ("strict_mfa", ReverificationLevel::MultiFactor, 10),
    ("strict", ReverificationLevel::SecondFactor, 10),
    ("moderate", ReverificationLevel::SecondFactor, 60),
    ("lax", ReverificationLevel::SecondFactor, 1440),
];

/// Clerk's `splitByScope`: the org- and user-scoped ids of a `fea` or `pla`
/// list; `None` when an entry has no scope (Clerk fails such a claim whole).
fn split_by_scope(list: &str) -> Option<(Vec<&str>, Vec<&str>)> {
    let (mut org, mut user) = (Vec::new(), Vec::new());
    for entry in list.split(',') {
        let (scope, id) = entry.trim().split_once(':')?;
        match scope {
            "o" => org.push(id),
            "u" => user.push(id),
            "ou" | "uo" => {
                org.push(id);
                user.push(id);
            }
            _ => {}
        }
    }
    Some((org, user))
}

/// Clerk's `checkForFeatureOrPlan` over the claim `list`: `scope:id` looks
/// in that scope only (`org`, `o`, `organization`; `user`, `u`), a bare id in
/// both. An unknown scope, an absent, empty or malformed claim: false.
fn has_scoped(list: Option<&Value>, wanted: &str) -> bool {
    let Some(Value::String(list)) = list else {
        return false;
    };
    if list.is_empty() {
        return false;
    }
    let Some((org, user)) = split_by_scope(list) else {
        return false;
    };
    let mut parts = wanted.split(':');
    let raw_scope = parts.next().unwrap_or_default();
    match parts.next() {
        None => org.contains(&raw_scope) || user.contains(&raw_scope),
        Some(raw_id) => {
            // As Clerk: `scope:` with an empty id looks for the scope word itself.
            let id = if raw_id.is_empty() { raw_scope } else { raw_id };
            match raw_scope {
                "o" | "org" | "organization" => org.contains(&id),
                "u" | "user" => user.contains(&id),
                _ => false,
            }
        }
    }
}

/// Whether the held role (already in the `org:<role>` form) equals the
/// required role put in that form once: `admin` and `org:admin` both ask for
/// `org:admin`; a held `org:org:admin` is neither. `required(v)` tells whether
/// `v` is the required role as written.
pub(crate) fn org_role_matches(held: &str, required: impl Fn(&str) -> bool) -> bool {
    // Written with the prefix: compared as is.
    if required(held) {
        return true;
    }
    // Written without it: the held role minus one `org:`, which must not
    // itself start with `org:` (that would be a required role written with it).
    held.strip_prefix("org:")
        .is_some_and(|bare| !bare.starts_with("org:") && required(bare))
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn features_and_plans_by_scope_as_clerk_splits_them() {
        let fea = json!("o:reports,u:beta,uo:export,ou:audit");
        let has = |wanted| has_scoped(Some(&fea), wanted);
        for (wanted, expected) in [
            ("reports", true),
            ("org:reports", true),
            ("o:reports", true),
            ("organization:reports", true),
            ("user:reports", false),
            ("beta", true),
            ("u:beta", true),
            ("org:beta", false),
            ("user:export", true),
            ("org:export", true),
            ("org:audit", true),
            ("team:reports", false),
            ("missing", false),
        ] {
            assert_eq!(has(wanted), expected, "{wanted}");
        }
        // Malformed or absent claims count as absent.
        assert!(!has_scoped(Some(&json!("o:reports,beta")), "reports"));
        assert!(!has_scoped(Some(&json!("")), "reports"));
        assert!(!has_scoped(Some(&json!(["o:reports"])), "reports"));
        assert!(!has_scoped(None, "reports"));
    }

    #[test]
    fn org_roles_are_normalised_once_on_both_sides() {
        let matches = |held: &str, required: &str| org_role_matches(held, |r| r == required);
        assert!(matches("org:admin", "admin"));
        assert!(matches("org:admin", "org:admin"));
        assert!(!matches("org:org:admin", "org:admin"));
        assert!(!matches("org:org:admin", "admin"));
        assert!(matches("org:org:admin", "org:org:admin"));
        assert!(!matches("org:admin", "org:org:admin"));
        assert!(!matches("org:member", "admin"));
    }
}

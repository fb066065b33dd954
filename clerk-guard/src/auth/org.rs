//! The active organization: id, slug, role and permissions, decoded from
//! the v1 `org_*` claims or the v2 `o` and `fea` claims.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::permissions::{
    decode_v2_permissions, v2_permissions, with_concat, with_permission_name,
};
use super::text;

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
#[derive(Clone)]
pub struct Organization {
    /// The id, slug and role (in its `org:` form), and for v2 the `fea`,
    /// `per` and `fpm` the permissions decode from, in one string: one
    /// allocation for the organization a handler reads.
    text: Box<str>,
    id: Span,
    slug: Option<Span>,
    role: Option<Span>,
    permissions: Permissions,
}

/// Where a part of [`Organization::text`] sits.
#[derive(Clone, Copy)]
struct Span(u32, u32);

#[derive(Clone)]
enum Permissions {
    /// v1 `org_permissions`, as listed.
    Listed(Vec<String>),
    /// v2: decoded from `fea`, `per` and `fpm` the first time they are
    /// asked for (a handler that reads the id or role never decodes them).
    Encoded {
        fea: Span,
        per: Span,
        fpm: Span,
        decoded: OnceLock<Vec<String>>,
    },
}

impl Organization {
    /// An organization of `parts` (id, slug, role with its `org:` prefix
    /// when it has one, then `fea`, `per` and `fpm` for v2), copied into one
    /// string.
    fn new(parts: [Option<[&str; 2]>; 3], encoded: Option<[&str; 3]>, listed: Vec<String>) -> Self {
        let len = parts
            .iter()
            .flatten()
            .flatten()
            .map(|p| p.len())
            .sum::<usize>()
            + encoded.iter().flatten().map(|p| p.len()).sum::<usize>();
        let mut text = String::with_capacity(len);
        let mut put = |pieces: &[&str]| {
            let start = text.len();
            pieces.iter().for_each(|p| text.push_str(p));
            // Claims come from a token of at most a few KiB.
            Span(start as u32, (text.len() - start) as u32)
        };
        let [id, slug, role] = parts.map(|part| part.map(|pieces| put(&pieces)));
        let permissions = match encoded {
            Some([fea, per, fpm]) => Permissions::Encoded {
                fea: put(&[fea]),
                per: put(&[per]),
                fpm: put(&[fpm]),
                decoded: OnceLock::new(),
            },
            None => Permissions::Listed(listed),
        };
        Organization {
            text: text.into_boxed_str(),
            id: id.unwrap_or(Span(0, 0)),
            slug,
            role,
            permissions,
        }
    }

    fn part(&self, Span(start, len): Span) -> &str {
        let (start, len) = (start as usize, len as usize);
        self.text.get(start..start + len).unwrap_or_default()
    }

    /// Heap bytes it holds, for the token cache's budget.
    pub(super) fn heap_bytes(&self) -> usize {
        super::heap::allocation(self.text.len())
            + match &self.permissions {
                Permissions::Listed(listed) => super::heap::strings(listed),
                Permissions::Encoded { decoded, .. } => {
                    decoded.get().map_or(0, super::heap::strings)
                }
            }
    }

    /// The organization id (`org_…`).
    ///
    /// ```
    /// # fn demo(auth: &clerk_guard::ClerkAuth) {
    /// let id: Option<&str> = auth.org().map(|org| org.id());
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        self.part(self.id)
    }
    /// The organization slug, if the token carries it.
    ///
    /// ```
    /// # fn demo(auth: &clerk_guard::ClerkAuth) {
    /// let slug = auth.org().and_then(|org| org.slug());
    /// # }
    /// ```
    pub fn slug(&self) -> Option<&str> {
        self.slug.map(|span| self.part(span))
    }
    /// The member's role, always in the `org:<role>` form (`org:admin`).
    ///
    /// ```
    /// # fn demo(auth: &clerk_guard::ClerkAuth) {
    /// let is_admin = auth.org().and_then(|org| org.role()) == Some("org:admin");
    /// # }
    /// ```
    pub fn role(&self) -> Option<&str> {
        self.role.map(|span| self.part(span))
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
        match &self.permissions {
            Permissions::Listed(listed) => listed,
            Permissions::Encoded {
                fea,
                per,
                fpm,
                decoded,
            } => decoded.get_or_init(|| {
                decode_v2_permissions(self.part(*fea), self.part(*per), self.part(*fpm))
            }),
        }
    }
}

impl PartialEq for Organization {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
            && self.slug() == other.slug()
            && self.role() == other.role()
            && self.permissions() == other.permissions()
    }
}

impl Eq for Organization {}

impl fmt::Debug for Organization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Organization")
            .field("id", &self.id())
            .field("slug", &self.slug())
            .field("role", &self.role())
            .field("permissions", &self.permissions())
            .finish()
    }
}

/// The string value of a claim-map entry, borrowed.
fn map_str(value: Option<&Value>) -> Option<Cow<'_, str>> {
    value.and_then(Value::as_str).map(Cow::Borrowed)
}

/// The v1 organization claims (`org_id`, `org_slug`, `org_role`,
/// `org_permissions`), each a string or absent; the permissions only when
/// every item is a string.
pub(super) struct V1Claims<'a> {
    id: Option<Cow<'a, str>>,
    slug: Option<Cow<'a, str>>,
    role: Option<Cow<'a, str>>,
    permissions: Option<Vec<Cow<'a, str>>>,
}

impl<'a> V1Claims<'a> {
    pub(super) fn from_map(claims: &'a Map<String, Value>) -> Self {
        let permissions = match claims.get("org_permissions") {
            Some(Value::Array(items)) => items.iter().map(|v| map_str(Some(v))).collect(),
            _ => None,
        };
        V1Claims {
            id: map_str(claims.get("org_id")),
            slug: map_str(claims.get("org_slug")),
            role: map_str(claims.get("org_role")),
            permissions,
        }
    }

    /// From the claims' JSON texts (`text(name)`, `None` when absent).
    pub(super) fn from_texts(text: impl Fn(&str) -> Option<&'a str>) -> Self {
        let string = |name: &str| text(name).and_then(text::string);
        V1Claims {
            id: string("org_id"),
            slug: string("org_slug"),
            role: string("org_role"),
            permissions: text("org_permissions")
                .and_then(text::items)
                .and_then(|items| items.into_iter().collect()),
        }
    }

    /// Whether the organization these claims give grants a permission
    /// `wanted` accepts (its [`Organization::permissions`] hold one),
    /// without building it.
    pub(super) fn grants(&self, wanted: &dyn Fn(&str) -> bool) -> bool {
        self.id.is_some()
            && self
                .permissions
                .as_ref()
                .is_some_and(|held| held.iter().any(|p| wanted(p)))
    }

    /// Whether the organization these claims give has a role (in its
    /// `org:` form, as [`Organization::role`]) `wanted` accepts, without
    /// building it.
    pub(super) fn role_is(&self, wanted: &dyn Fn(&str) -> bool) -> bool {
        match (&self.id, self.role.as_deref()) {
            (Some(_), Some(role)) if role.starts_with("org:") => wanted(role),
            (Some(_), Some(role)) => with_concat(&["org:", role], wanted),
            _ => false,
        }
    }

    pub(super) fn organization(self) -> Option<Organization> {
        let id = self.id?;
        // Clerk issues `org_role` in the `org:` form; a bare role is
        // prefixed once.
        let role = self
            .role
            .as_deref()
            .map(|role| match role.strip_prefix("org:") {
                Some(_) => ["", role],
                None => ["org:", role],
            });
        let listed = self
            .permissions
            .unwrap_or_default()
            .into_iter()
            .map(Cow::into_owned)
            .collect();
        Some(Organization::new(
            [Some(["", &id]), self.slug.as_deref().map(|s| ["", s]), role],
            None,
            listed,
        ))
    }
}

/// The fields of the v2 `o` claim read for the organization.
const O_FIELDS: [&str; 5] = ["id", "slg", "rol", "per", "fpm"];

/// The v2 organization claims: the string fields of `o` ([`O_FIELDS`]),
/// when `o` is an object, and `fea`.
pub(super) struct V2Claims<'a> {
    o: Option<[Option<Cow<'a, str>>; 5]>,
    fea: Option<Cow<'a, str>>,
}

impl<'a> V2Claims<'a> {
    pub(super) fn from_map(claims: &'a Map<String, Value>) -> Self {
        V2Claims {
            o: claims
                .get("o")
                .and_then(Value::as_object)
                .map(|o| O_FIELDS.map(|name| map_str(o.get(name)))),
            fea: map_str(claims.get("fea")),
        }
    }

    /// From the claims' JSON texts (`text(name)`, `None` when absent).
    pub(super) fn from_texts(text: impl Fn(&str) -> Option<&'a str>) -> Self {
        V2Claims {
            o: text("o").and_then(|o| text::fields(o, &O_FIELDS)),
            fea: text("fea").and_then(text::string),
        }
    }

    /// Whether the organization these claims give grants a permission
    /// `wanted` accepts (its [`Organization::permissions`] hold one),
    /// without building it.
    pub(super) fn grants(&self, wanted: &dyn Fn(&str) -> bool) -> bool {
        let Some([Some(_), _, _, per, fpm]) = &self.o else {
            return false;
        };
        let mut found = false;
        v2_permissions(
            self.fea.as_deref().unwrap_or(""),
            per.as_deref().unwrap_or(""),
            fpm.as_deref().unwrap_or(""),
            |feature, permission| {
                found = with_permission_name(feature, permission, wanted);
                found
            },
        );
        found
    }

    /// Whether the organization these claims give has a role (in its
    /// `org:` form, as [`Organization::role`]) `wanted` accepts, without
    /// building it.
    pub(super) fn role_is(&self, wanted: &dyn Fn(&str) -> bool) -> bool {
        match &self.o {
            Some([Some(_), _, Some(role), _, _]) if !role.is_empty() => {
                with_concat(&["org:", role], wanted)
            }
            _ => false,
        }
    }

    pub(super) fn organization(self) -> Option<Organization> {
        let [id, slug, role, per, fpm] = self.o?;
        let id = id?;
        Some(Organization::new(
            [
                Some(["", &id]),
                slug.as_deref().map(|s| ["", s]),
                // v2 carries the bare role; Clerk prefixes it once, whatever
                // it holds.
                role.as_deref()
                    .filter(|r| !r.is_empty())
                    .map(|r| ["org:", r]),
            ],
            Some([
                self.fea.as_deref().unwrap_or(""),
                per.as_deref().unwrap_or(""),
                fpm.as_deref().unwrap_or(""),
            ]),
            Vec::new(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::permissions::decode_v2_permissions;

    #[test]
    fn a_permission_is_granted_exactly_when_it_is_listed() {
        let claims = |fea: &'static str, per: &'static str, fpm: &'static str| V2Claims {
            o: Some([
                Some(Cow::Borrowed("org_1")),
                None,
                None,
                Some(Cow::Borrowed(per)),
                Some(Cow::Borrowed(fpm)),
            ]),
            fea: Some(Cow::Borrowed(fea)),
        };
        let cases = [
            ("o:billing,u:profile,uo:reports", "read,manage", "3,1"),
            ("o:a:b,o:a", "b:read,read", "3,2"),
            ("o:a,o:b", "read,,manage", ",7"),
            ("o:", "read", "1"),
        ];
        for (fea, per, fpm) in cases {
            let listed = decode_v2_permissions(fea, per, fpm);
            let mut asked: Vec<String> = listed.clone();
            for near in [
                "org:billing:rea",
                "org:billing",
                "org:billing:read:",
                "org:a:b:read",
                "org:a:b",
                "billing:read",
                "org::read",
                "org:b:",
            ] {
                asked.push(near.to_owned());
            }
            for p in &asked {
                assert_eq!(
                    claims(fea, per, fpm).grants(&|name| name == p),
                    listed.contains(p),
                    "{fea} {per} {fpm}: {p}"
                );
            }
        }
        let no_id = V2Claims {
            o: Some([
                None,
                None,
                None,
                Some(Cow::Borrowed("read")),
                Some(Cow::Borrowed("1")),
            ]),
            fea: Some(Cow::Borrowed("o:a")),
        };
        assert!(!no_id.grants(&|_| true));
        // A name past the stack's room.
        let long = "p".repeat(300);
        let per: &'static str = Box::leak(long.clone().into_boxed_str());
        let name = format!("org:billing:{long}");
        assert!(claims("o:billing", per, "1").grants(&|n| n == name));
    }

    #[test]
    fn an_organization_reads_compares_and_prints_its_parts() {
        let v2 = |fpm: &str| {
            Organization::new(
                [Some(["", "org_1"]), None, Some(["org:", "admin"])],
                Some(["o:billing", "read,manage", fpm]),
                Vec::new(),
            )
        };
        let org = v2("3");
        assert_eq!(
            (org.id(), org.slug(), org.role()),
            ("org_1", None, Some("org:admin"))
        );
        // Equal before and after one side decoded its permissions.
        let other = v2("3");
        assert_eq!(
            other.permissions(),
            ["org:billing:read", "org:billing:manage"]
        );
        assert_eq!(org, other);
        assert_ne!(org, v2("1"));
        assert_eq!(
            format!("{org:?}"),
            r#"Organization { id: "org_1", slug: None, role: Some("org:admin"), permissions: ["org:billing:read", "org:billing:manage"] }"#
        );
        let v1 = Organization::new(
            [
                Some(["", "org_2"]),
                Some(["", "acme"]),
                Some(["", "org:member"]),
            ],
            None,
            vec!["org:x:y".to_owned()],
        );
        assert_eq!(
            (v1.id(), v1.slug(), v1.role()),
            ("org_2", Some("acme"), Some("org:member"))
        );
        assert_eq!(v1.permissions(), ["org:x:y"]);
        assert_eq!(v1.clone(), v1);
    }
}

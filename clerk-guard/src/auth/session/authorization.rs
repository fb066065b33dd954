//! What a session holds for authorization: its organization, roles and
//! actor, and the checks (`has()`, the attribute's requirements) that read
//! them straight from the claims' noted texts, building nothing.

use serde_json::{Map, Value};

use super::ClerkAuth;
use crate::auth::org::{Organization, V1Claims, V2Claims};
use crate::auth::registered::{Spans, VALUE_CLAIMS};
use crate::auth::roles::{app_roles, in_map, Held};
use crate::auth::{fast, text};

impl ClerkAuth {
    /// The active organization, if the session has one.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let org_id = auth.org().map(|o| o.id()); }
    /// ```
    pub fn org(&self) -> Option<&Organization> {
        self.0
            .org
            .get_or_init(|| {
                let v2 = self.claims_version() == 2;
                // The claim map when built, else the claims' noted texts.
                match self.0.claims.get() {
                    Some(map) if v2 => V2Claims::from_map(map).organization(),
                    Some(map) => V1Claims::from_map(map).organization(),
                    None => {
                        let text = |name: &str| self.0.registered.spans.text(self.payload(), name);
                        if v2 {
                            V2Claims::from_texts(text).organization()
                        } else {
                            V1Claims::from_texts(text).organization()
                        }
                    }
                }
            })
            .as_ref()
    }

    /// Whether the active organization grants a permission `wanted`
    /// accepts: from the organization when a handler built it, else from
    /// the claims without building it (a permission check allocates
    /// nothing).
    pub(crate) fn grants(&self, wanted: &dyn Fn(&str) -> bool) -> bool {
        self.org_question(
            |org| org.permissions().iter().any(|p| wanted(p)),
            |v1| v1.grants(wanted),
            |v2| v2.grants(wanted),
        )
    }

    /// Whether the active organization role (in its `org:` form) is one
    /// `wanted` accepts, answered as [`Self::grants`] is.
    pub(crate) fn org_role_is(&self, wanted: &dyn Fn(&str) -> bool) -> bool {
        self.org_question(
            |org| org.role().is_some_and(wanted),
            |v1| v1.role_is(wanted),
            |v2| v2.role_is(wanted),
        )
    }

    /// A question about the active organization: of the organization when
    /// a handler built it, else of its claims, from the claim map when
    /// built, else from their noted texts.
    fn org_question(
        &self,
        built: impl FnOnce(&Organization) -> bool,
        v1: impl FnOnce(V1Claims<'_>) -> bool,
        v2: impl FnOnce(V2Claims<'_>) -> bool,
    ) -> bool {
        if let Some(org) = self.0.org.get() {
            return org.as_ref().is_some_and(built);
        }
        let version_2 = self.claims_version() == 2;
        match self.0.claims.get() {
            Some(map) if version_2 => v2(V2Claims::from_map(map)),
            Some(map) => v1(V1Claims::from_map(map)),
            None => {
                let text = |name: &str| self.0.registered.spans.text(self.payload(), name);
                if version_2 {
                    v2(V2Claims::from_texts(text))
                } else {
                    v1(V1Claims::from_texts(text))
                }
            }
        }
    }

    /// Whether the user holds an application role `wanted` accepts: from
    /// the roles when built (or when a configured path reaches into a
    /// present claim, or past the noted ones), else straight from the
    /// claims' noted texts (a role check allocates nothing).
    pub(crate) fn holds_role(&self, wanted: &dyn Fn(&str) -> bool) -> bool {
        let built = || self.roles().iter().any(|role| wanted(role));
        if self.0.roles.get().is_some() || self.0.claims.get().is_some() {
            return built();
        }
        let (spans, payload) = (self.0.registered.spans, self.payload());
        // `roles()` skips empty roles.
        let held = |role: &str| !role.is_empty() && wanted(role);
        for path in self.0.role_claims.iter() {
            let Some((first, rest)) = path.split_first() else {
                continue;
            };
            if Spans::index(first.as_bytes()).is_none() {
                return built();
            }
            let Some(text) = spans.text(payload, first) else {
                continue;
            };
            let found = match text.as_bytes().first() {
                _ if !rest.is_empty() => return built(),
                Some(b'"') => text::string(text).is_some_and(|role| held(&role)),
                Some(b'[') => {
                    let mut found = false;
                    match fast::each_item(text, |item| found |= item.is_some_and(held)) {
                        Some(_) => found,
                        None => return built(),
                    }
                }
                _ => false,
            };
            if found {
                return true;
            }
        }
        false
    }

    /// Application roles read from the configured role claims (default
    /// `roles`, `role`, `metadata.role`, `metadata.roles`).
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let admin = auth.roles().iter().any(|r| r == "admin"); }
    /// ```
    pub fn roles(&self) -> &[String] {
        self.0.roles.get_or_init(|| {
            let paths = &self.0.role_claims;
            if let Some(claims) = self.0.claims.get() {
                return app_roles(paths, |path| in_map(claims, path));
            }
            let spans = self.0.registered.spans;
            let payload = self.payload();
            // A noted claim is read from its text; a path into one (custom
            // `metadata.role`) from its value; a claim outside the noted
            // ones needs the map.
            if !paths.iter().all(|path| {
                path.first()
                    .is_some_and(|first| Spans::index(first.as_bytes()).is_some())
            }) {
                return app_roles(paths, |path| in_map(self.claims(), path));
            }
            app_roles(paths, |path| {
                let (first, rest) = path.split_first()?;
                let text = spans.text(payload, first)?;
                if rest.is_empty() {
                    return Held::of_text(text);
                }
                let value: Value = serde_json::from_str(text).ok()?;
                let mut at = &value;
                for segment in rest {
                    at = at.get(segment.as_str())?;
                }
                Held::of_value(at).map(Held::into_owned)
            })
        })
    }

    /// The actor (`act`) when someone is impersonating the user.
    ///
    /// ```
    /// # fn f(auth: clerk_guard::ClerkAuth) { let impersonated = auth.actor().is_some(); }
    /// ```
    pub fn actor(&self) -> Option<&Value> {
        match self.value_claim("act") {
            Some(act @ Value::Object(_)) => Some(act),
            _ => None,
        }
    }

    /// The claims read as JSON values ([`VALUE_CLAIMS`]): the claim map when
    /// it is built (or the map reader read the payload), else only those
    /// claims, parsed from where the one-pass reader noted them.
    fn values(&self) -> &Map<String, Value> {
        if let Some(claims) = self.0.claims.get() {
            return claims;
        }
        self.0.values.get_or_init(|| {
            let mut map = Map::new();
            for name in VALUE_CLAIMS {
                let Some(text) = self.0.registered.spans.text(self.payload(), name) else {
                    continue;
                };
                match serde_json::from_str(text) {
                    Ok(value) => {
                        map.insert(name.to_owned(), value);
                    }
                    // The one-pass reader checked the grammar: this does not
                    // happen; if it did, the whole map decides.
                    Err(e) => {
                        tracing::error!(error = %e, claim = name, "clerk-guard: a noted claim is not JSON");
                        return self.claims().clone();
                    }
                }
            }
            map
        })
    }

    /// One claim of [`VALUE_CLAIMS`] by name.
    pub(in crate::auth) fn value_claim(&self, name: &str) -> Option<&Value> {
        debug_assert!(VALUE_CLAIMS.contains(&name));
        self.values().get(name)
    }
}

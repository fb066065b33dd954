//! The registered claims (the ones the verifier relies on), read from a
//! payload and kept beside it.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::fast;

/// A string claim kept with the payload: where its bytes sit in it, or its
/// own copy when JSON escapes made the value differ from those bytes.
pub(super) enum Text {
    At { start: u32, len: u32 },
    Owned(Box<str>),
}

impl Text {
    pub(super) fn get<'a>(&'a self, payload: &'a str) -> &'a str {
        match self {
            Text::At { start, len } => {
                let (start, len) = (*start as usize, *len as usize);
                // A `str` borrowed from the payload when read: on char
                // boundaries, and the payload never changes.
                payload.get(start..start + len).unwrap_or_default()
            }
            Text::Owned(s) => s,
        }
    }

    /// Heap bytes of its own (none when it lives in the payload).
    pub(super) fn own_bytes(&self) -> usize {
        match self {
            Text::At { .. } => 0,
            Text::Owned(s) => s.len(),
        }
    }
}

/// The top-level claims authorization reads (organization, roles,
/// features, plans, reverification, actor): the one-pass reader notes where
/// each value sits, so they are read without building the claim map.
pub(super) const AUTHORIZATION: [&str; 12] = [
    "o",
    "org_id",
    "org_slug",
    "org_role",
    "org_permissions",
    "fea",
    "pla",
    "fva",
    "act",
    "roles",
    "role",
    "metadata",
];

/// The [`AUTHORIZATION`] claims read as JSON values (by `has()` for
/// features, plans and reverification, and by `actor()`); the others are
/// read from their texts without a value.
pub(super) const VALUE_CLAIMS: [&str; 4] = ["fea", "pla", "fva", "act"];

/// Where each [`AUTHORIZATION`] claim's value sits in the payload (start and
/// length; length 0 when absent: a JSON value is never empty). Noted by the
/// one-pass reader only; after the map reader the claim map holds them.
#[derive(Default, Clone, Copy)]
pub(super) struct Spans(pub(super) [(u32, u32); AUTHORIZATION.len()]);

impl Spans {
    /// The index of `name` in [`AUTHORIZATION`].
    pub(super) fn index(name: &[u8]) -> Option<usize> {
        Some(match name {
            b"o" => 0,
            b"org_id" => 1,
            b"org_slug" => 2,
            b"org_role" => 3,
            b"org_permissions" => 4,
            b"fea" => 5,
            b"pla" => 6,
            b"fva" => 7,
            b"act" => 8,
            b"roles" => 9,
            b"role" => 10,
            b"metadata" => 11,
            _ => return None,
        })
    }

    /// The JSON text of the noted claim `name`, if present.
    pub(super) fn text<'a>(self, payload: &'a str, name: &str) -> Option<&'a str> {
        let (start, len) = self.0[Self::index(name.as_bytes())?];
        let (start, len) = (start as usize, len as usize);
        (len > 0).then(|| payload.get(start..start + len)).flatten()
    }
}

/// The claims the verifier relies on, kept beside the payload.
pub(super) struct Registered {
    pub(super) sub: Option<Text>,
    pub(super) exp: Option<f64>,
    pub(super) nbf: Option<f64>,
    pub(super) iat: Option<f64>,
    pub(super) iss: Option<Text>,
    pub(super) azp: Option<Text>,
    pub(super) sid: Option<Text>,
    pub(super) sts: Option<Text>,
    pub(super) v: Option<f64>,
    /// Where the authorization claims sit (one-pass reader only).
    pub(super) spans: Spans,
}

/// The names of the registered claims: given twice, a payload is refused
/// (no "last one wins" for what the verifier relies on).
const REGISTERED: [&str; 9] = ["sub", "exp", "nbf", "iat", "iss", "azp", "sid", "sts", "v"];

impl Registered {
    /// The registered claims of `payload`, and its claim map when reading
    /// them built it. The ordinary shape is read in one pass ([`fast`]),
    /// which takes only what the map reader reads the same way; anything
    /// else is read as the map itself, so a payload is admitted only as a
    /// JSON object the map reader reads.
    pub(super) fn read(payload: &str) -> Result<(Self, Option<Map<String, Value>>), String> {
        match fast::read(payload) {
            Some(registered) => Ok((registered, None)),
            None => Self::read_map(payload).map(|(registered, map)| (registered, Some(map))),
        }
    }

    /// The payload as a claim map (refused if it is not a JSON object, or
    /// names a registered claim twice), and the registered claims from it:
    /// a claim of the wrong JSON type (`null` included) is an error, never
    /// "absent".
    #[cold]
    pub(super) fn read_map(payload: &str) -> Result<(Self, Map<String, Value>), String> {
        let ClaimMap(map) = serde_json::from_str(payload).map_err(|e| e.to_string())?;
        let text = |name: &str| match map.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(Text::Owned(s.as_str().into()))),
            Some(_) => Err(format!("{name} is not a string")),
        };
        let number = |name: &str| match map.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .map(Some)
                .ok_or_else(|| format!("{name} is out of range")),
            Some(_) => Err(format!("{name} is not a number")),
        };
        let registered = Registered {
            sub: text("sub")?,
            exp: number("exp")?,
            nbf: number("nbf")?,
            iat: number("iat")?,
            iss: text("iss")?,
            azp: text("azp")?,
            sid: text("sid")?,
            sts: text("sts")?,
            v: number("v")?,
            spans: Spans::default(),
        };
        Ok((registered, map))
    }
}

/// A claim map read by serde_json (its depth limit, number ranges and string
/// rules), from a JSON object only, with each registered claim at most once.
struct ClaimMap(Map<String, Value>);

impl<'de> Deserialize<'de> for ClaimMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Claims;
        impl<'de> Visitor<'de> for Claims {
            type Value = ClaimMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<ClaimMap, A::Error> {
                let mut map = Map::new();
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    if REGISTERED.contains(&name.as_str()) && map.contains_key(&name) {
                        return Err(serde::de::Error::custom(format!("{name} is given twice")));
                    }
                    map.insert(name, value);
                }
                Ok(ClaimMap(map))
            }
        }
        d.deserialize_map(Claims)
    }
}

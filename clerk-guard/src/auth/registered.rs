//! The registered claims (the ones the verifier relies on), read from a
//! payload and kept beside it.

use serde::{Deserialize, Deserializer};

use super::fast;

/// The claims the verifier relies on, as read from the payload. A wrong JSON
/// type (including `null`) fails deserialization, so the token is invalid,
/// never "claim absent". Strings are borrowed from the payload when they
/// can be (no JSON escapes), so reading them allocates nothing.
#[derive(Deserialize)]
struct RawRegistered<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    sub: Option<Raw<'a>>,
    #[serde(default, deserialize_with = "present")]
    exp: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    nbf: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    iat: Option<f64>,
    #[serde(default, borrow, deserialize_with = "present")]
    iss: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    azp: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    sid: Option<Raw<'a>>,
    #[serde(default, borrow, deserialize_with = "present")]
    sts: Option<Raw<'a>>,
    #[serde(default, deserialize_with = "present")]
    v: Option<f64>,
}

/// A JSON string, borrowed from the input when it has no escapes.
enum Raw<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl<'de> Deserialize<'de> for Raw<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Raw<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Raw::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Raw::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Raw::Owned(v))
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// A string claim kept with the payload: where its bytes sit in it, or its
/// own copy when JSON escapes made the value differ from those bytes.
pub(super) enum Text {
    At { start: u32, len: u32 },
    Owned(Box<str>),
}

impl Text {
    /// `raw`, located in `payload` when it was borrowed from it.
    fn new(raw: Raw<'_>, payload: &str) -> Text {
        match raw {
            Raw::Borrowed(s) => {
                let start = (s.as_ptr() as usize).wrapping_sub(payload.as_ptr() as usize);
                match (u32::try_from(start), u32::try_from(s.len())) {
                    (Ok(start), Ok(len)) if start as usize + s.len() <= payload.len() => {
                        Text::At { start, len }
                    }
                    _ => Text::Owned(s.into()),
                }
            }
            Raw::Owned(s) => Text::Owned(s.into_boxed_str()),
        }
    }

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
}

impl Registered {
    /// The ordinary shape in one pass ([`fast`]); anything else by serde_json.
    pub(super) fn read(payload: &str) -> Result<Self, serde_json::Error> {
        match fast::read(payload) {
            Some(registered) => Ok(registered),
            None => Self::read_with_serde(payload),
        }
    }

    #[cold]
    pub(super) fn read_with_serde(payload: &str) -> Result<Self, serde_json::Error> {
        // A JSON object only: serde would also read a struct from an array.
        if !payload
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{')
        {
            return Err(serde::de::Error::custom("the payload is not a JSON object"));
        }
        // From a `str`: no UTF-8 check per string on top of the one already done.
        let raw: RawRegistered<'_> = serde_json::from_str(payload)?;
        let text = |value: Option<Raw<'_>>| value.map(|raw| Text::new(raw, payload));
        Ok(Registered {
            sub: text(raw.sub),
            exp: raw.exp,
            nbf: raw.nbf,
            iat: raw.iat,
            iss: text(raw.iss),
            azp: text(raw.azp),
            sid: text(raw.sid),
            sts: text(raw.sts),
            v: raw.v,
        })
    }
}

/// A field that is present must have its type: `null` is not "absent".
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

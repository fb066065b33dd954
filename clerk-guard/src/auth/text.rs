//! Claim values read straight from their JSON text (where the one-pass
//! reader noted them), the way the claim map's `as_str` reads them: a value
//! of another type is absent, a repeated name's last value wins. Strings
//! without escapes are borrowed from the payload; nothing builds a
//! `serde_json::Value`.
//!
//! Every text handed here is a JSON value of a payload the map reader
//! admits, so the parses below do not fail; if one ever did, the value
//! reads as absent.

use std::borrow::Cow;
use std::fmt;

use super::fast;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A string value, borrowed when it has no escapes; `None` for another type.
pub(super) fn string(text: &str) -> Option<Cow<'_, str>> {
    let bytes = text.as_bytes();
    if bytes.len() >= 2
        && bytes[0] == b'"'
        && bytes[bytes.len() - 1] == b'"'
        && !bytes.contains(&b'\\')
    {
        return text.get(1..text.len() - 1).map(Cow::Borrowed);
    }
    parse(text, MaybeStr)
}

/// An array's items, each a string or `None`; `None` for another type.
pub(super) fn items(text: &str) -> Option<Vec<Option<Cow<'_, str>>>> {
    match fast::items(text) {
        Some(items) => items.map(|items| items.into_iter().map(|i| i.map(Cow::Borrowed)).collect()),
        None => parse(text, Items),
    }
}

/// The string fields `names` of an object (`None` each where absent or of
/// another type); `None` when the value is not an object.
pub(super) fn fields<'a, const N: usize>(
    text: &'a str,
    names: &[&str; N],
) -> Option<[Option<Cow<'a, str>>; N]> {
    match fast::fields(text, names) {
        Some(fields) => fields.map(|fields| fields.map(|f| f.map(Cow::Borrowed))),
        None => parse(text, Fields(names)),
    }
}

/// `seed` over the whole of `text`: `None` when it reads `None`, or on an
/// error (never, for an admitted payload's values).
fn parse<'a, T, S>(text: &'a str, seed: S) -> Option<T>
where
    S: DeserializeSeed<'a, Value = Option<T>>,
{
    let mut de = serde_json::Deserializer::from_str(text);
    let value = seed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    value
}

/// Any value, skipped, for visitors that take one type: `None`.
fn skip_seq<'de, A: SeqAccess<'de>, T>(mut seq: A) -> Result<Option<T>, A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(None)
}

fn skip_map<'de, A: MapAccess<'de>, T>(mut map: A) -> Result<Option<T>, A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(None)
}

/// Scalars other than strings read as `None` (each visitor's defaults).
macro_rules! not_this_type {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}

/// A value as the string it may be.
#[derive(Clone, Copy)]
struct MaybeStr;

impl<'de> DeserializeSeed<'de> for MaybeStr {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MaybeStr {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    not_this_type!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map)
    }
}

/// An array of values, each as the string it may be.
struct Items;

impl<'de> DeserializeSeed<'de> for Items {
    type Value = Option<Vec<Option<Cow<'de, str>>>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items {
    type Value = Option<Vec<Option<Cow<'de, str>>>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    not_this_type!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(MaybeStr)? {
            items.push(item);
        }
        Ok(Some(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map)
    }
}

/// An object's string fields by name.
struct Fields<'n, const N: usize>(&'n [&'n str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for Fields<'_, N> {
    type Value = Option<[Option<Cow<'de, str>>; N]>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Fields<'_, N> {
    type Value = Option<[Option<Cow<'de, str>>; N]>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    not_this_type!();
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = [const { None }; N];
        while let Some(name) = map.next_key_seed(MaybeStr)? {
            match self.0.iter().position(|n| Some(*n) == name.as_deref()) {
                // The last of a repeated name wins, as in the claim map.
                Some(at) => out[at] = map.next_value_seed(MaybeStr)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// What the claim map's `as_str` gives.
    fn map_str(text: &str) -> Option<String> {
        serde_json::from_str::<Value>(text)
            .ok()?
            .as_str()
            .map(str::to_owned)
    }

    const VALUES: [&str; 17] = [
        r#"{ "id" : "a" , "id" : { "x" : [ 1 , "y" ] } , "rol" : "r" , "name":"n" }"#,
        r#"[ "a" , 2 , "b" , [ "c" ] ]"#,
        r#"{"id":"a","rol":"r","name":"n\"q"}"#,
        r#""plain""#,
        r#""""#,
        r#""esc\"aped\u00e9\n""#,
        r#""snow☃""#,
        "1",
        "-1.5e3",
        "true",
        "null",
        "[]",
        r#"["a",1,"b\u0041",null,{"x":"y"},["z"]]"#,
        "{}",
        r#"{"id":"a","id":"b","rol":1}"#,
        r#"{"id":"a","id":3,"n\u0061me":"c"}"#,
        r#"{"nest":{"id":"no"},"id":"yes"}"#,
    ];

    #[test]
    fn strings_items_and_fields_read_as_the_claim_map_does() {
        for text in VALUES {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(string(text).map(Cow::into_owned), map_str(text), "{text}");
            let map_items = value.as_array().map(|items| {
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            });
            let read_items = items(text)
                .map(|items| items.into_iter().map(|i| i.map(Cow::into_owned)).collect());
            assert_eq!(read_items, map_items, "{text}");
            let map_fields = value.as_object().map(|o| {
                ["id", "name", "rol"].map(|n| o.get(n).and_then(Value::as_str).map(str::to_owned))
            });
            let read_fields =
                fields(text, &["id", "name", "rol"]).map(|f| f.map(|v| v.map(Cow::into_owned)));
            assert_eq!(read_fields, map_fields, "{text}");
            // The serde readings alone (the scans' fallback) agree too.
            let serde_fields = parse(text, Fields(&["id", "name", "rol"]))
                .map(|f| f.map(|v| v.map(Cow::into_owned)));
            assert_eq!(serde_fields, map_fields, "{text}");
            let serde_items = parse(text, Items)
                .map(|items| items.into_iter().map(|i| i.map(Cow::into_owned)).collect());
            assert_eq!(serde_items, map_items, "{text}");
        }
        // Borrowed where no escape changes the bytes.
        assert!(matches!(string(r#""plain""#), Some(Cow::Borrowed("plain"))));
        let [id] = fields(r#"{"id":"org_1"}"#, &["id"]).unwrap();
        assert!(matches!(id, Some(Cow::Borrowed("org_1"))));
    }
}

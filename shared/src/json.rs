//! JSON documents that must be objects. serde's derived `Deserialize` reads a struct from an
//! object, and also from an array of its fields in declaration order: without these checks
//! `["e-1", "user-1", "view", "2026-12-06T10:00:00Z"]` would pass as an activity. An event's
//! detail, a stream record, a request body and the structs inside them are objects.
//!
//! - [`expect_object`] checks a whole document before it is deserialized. It looks at its first
//!   byte, so an object costs nothing more; only a document that is not one is read again.
//! - [`objects`] deserializes a field holding an array of structs (`#[serde(deserialize_with =
//!   "shared::json::objects")]`), refusing an entry that is an array. No second pass: the
//!   entries are refused as the one parse meets them.
//!
//! The refusal says "must be a JSON object, not an array" (a string, a number, a boolean,
//! null); a path-tracking deserializer (`serde_path_to_error`) puts the field's path before it.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

fn not_an_object(kind: &str) -> String {
    format!("must be a JSON object, not {kind}")
}

/// Checks that the JSON text `text` is an object, before it is deserialized.
///
/// Ok when its first byte after white space is `{`: deserializing it then reports anything else
/// wrong with it. Otherwise an error, classified as serde_json classifies its own: a syntax or
/// end-of-input error when the text is not JSON at all (the one deserializing it would have
/// given), else a data error saying it "must be a JSON object, not an array" (a string, a
/// number, a boolean, null).
pub fn expect_object(text: &[u8]) -> Result<(), serde_json::Error> {
    // JSON's white space, as serde_json skips it (not form feed or vertical tab).
    let first = text
        .iter()
        .copied()
        .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
    if first == Some(b'{') {
        return Ok(());
    }
    // Refused either way; reading it through tells a value of another kind from text that is
    // not JSON, so the reason (and a `not-json` code) stays what it was for broken text.
    serde_json::from_slice::<IgnoredAny>(text)?;
    let kind = match first {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    };
    Err(de::Error::custom(not_an_object(kind)))
}

/// Deserializes an array whose every entry is a struct given as a JSON object:
/// `#[serde(deserialize_with = "shared::json::objects")]` on a `Vec<T>` field, `T` a struct
/// with a derived `Deserialize`. An entry given as an array is refused ("must be a JSON object,
/// not an array"), one of another kind as serde refuses it ("invalid type: string \"x\",
/// expected a JSON object").
pub fn objects<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Entries<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Entries<T> {
        type Value = Vec<T>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("an array of JSON objects")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut entries: A) -> Result<Vec<T>, A::Error> {
            // As serde's own `Vec`: a size hint is not trusted with a large allocation.
            let mut all = Vec::with_capacity(entries.size_hint().unwrap_or(0).min(4096));
            while let Some(entry) = entries.next_element_seed(Object(PhantomData))? {
                all.push(entry);
            }
            Ok(all)
        }
    }

    deserializer.deserialize_seq(Entries(PhantomData))
}

/// Deserializes one `T` that must be given as an object.
struct Object<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Object<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        T::deserialize(ObjectOnly(deserializer))
    }
}

/// A deserializer that hands a struct's visitor only objects: everything is passed through
/// to the one it wraps but the visitor of `deserialize_struct`, which refuses an array.
struct ObjectOnly<D>(D);

/// A struct's visitor that takes an object and refuses an array.
struct FromMapOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for FromMapOnly<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<V::Value, A::Error> {
        Err(de::Error::custom(not_an_object("an array")))
    }
}

macro_rules! pass_through {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0
            .deserialize_struct(name, fields, FromMapOnly(visitor))
    }

    pass_through! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_object_passes_and_any_other_value_is_refused_by_its_kind() {
        for object in [r#"{"a": 1}"#, " \t\r\n{}", "{"] {
            assert!(expect_object(object.as_bytes()).is_ok(), "{object:?}");
        }
        for (text, kind) in [
            (
                r#"["e1", "user-1", "view", "2026-12-06T10:00:00Z"]"#,
                "an array",
            ),
            (" []", "an array"),
            (r#""{\"a\": 1}""#, "a string"),
            ("42", "a number"),
            ("-0.5e3", "a number"),
            ("null", "null"),
            ("true", "a boolean"),
            ("false", "a boolean"),
        ] {
            let error = expect_object(text.as_bytes()).unwrap_err();
            assert!(error.is_data(), "{text}: {error}");
            assert_eq!(
                error.to_string(),
                format!("must be a JSON object, not {kind}"),
                "{text}"
            );
        }
    }

    #[test]
    fn text_that_is_not_json_keeps_the_parsers_own_error() {
        for text in [
            "",
            "  ",
            "[1,",
            r#"["a"] x"#,
            "nul",
            "\u{FEFF}{}",
            "\x0c{}",
            "'a'",
        ] {
            let error = expect_object(text.as_bytes()).unwrap_err();
            assert!(error.is_syntax() || error.is_eof(), "{text:?}: {error}");
        }
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Order {
        #[serde(deserialize_with = "objects")]
        items: Vec<Item>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Item {
        id: String,
        quantity: u32,
    }

    #[test]
    fn entries_of_an_array_of_structs_must_be_objects() {
        let order: Order = serde_json::from_str(
            r#"{"items": [{"id": "a", "quantity": 1}, {"id": "b", "quantity": 2}]}"#,
        )
        .unwrap();
        assert_eq!(order.items[1].id, "b");
        let empty: Order = serde_json::from_str(r#"{"items": []}"#).unwrap();
        assert!(empty.items.is_empty());

        // Without the check, ["b", 2] would read as {"id": "b", "quantity": 2}.
        let text = r#"{"items": [{"id": "a", "quantity": 1}, ["b", 2]]}"#;
        let error = serde_json::from_str::<Order>(text).unwrap_err();
        assert!(error.is_data());
        assert!(
            error
                .to_string()
                .starts_with("must be a JSON object, not an array at line 1"),
            "{error}"
        );
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let error = serde_path_to_error::deserialize::<_, Order>(&mut deserializer).unwrap_err();
        assert_eq!(error.path().to_string(), "items[1]");

        let error = serde_json::from_str::<Order>(r#"{"items": ["b"]}"#).unwrap_err();
        assert!(
            error
                .to_string()
                .contains(r#"invalid type: string "b", expected a JSON object"#),
            "{error}"
        );
        let error = serde_json::from_str::<Order>(r#"{"items": {"id": "b"}}"#).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("expected an array of JSON objects"),
            "{error}"
        );
        // Errors inside an entry are the entry's own.
        let error = serde_json::from_str::<Order>(r#"{"items": [{"id": "a", "quantity": -1}]}"#)
            .unwrap_err();
        assert!(
            error.to_string().contains("invalid value: integer `-1`"),
            "{error}"
        );
    }

    #[test]
    fn entries_read_from_a_json_value_are_held_to_the_same_rule() {
        let order: Order =
            serde_json::from_value(json!({"items": [{"id": "a", "quantity": 1}]})).unwrap();
        assert_eq!(order.items.len(), 1);
        let error = serde_json::from_value::<Order>(json!({"items": [["a", 1]]})).unwrap_err();
        assert_eq!(error.to_string(), "must be a JSON object, not an array");
    }
}

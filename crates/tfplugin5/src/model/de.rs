//! [`Value`] → model: a serde `Deserializer` over a borrowed value.

use std::collections::BTreeMap;

use serde::de::{
    self, value::StrDeserializer, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use super::field::FIELD_MARKER;
use crate::{Error, Number, Value};

impl de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Error {
        Error::decode(msg.to_string())
    }
}

/// Deserializer over one value. `strict` (used by [`super::check`]) makes
/// struct fields and object attributes match exactly.
#[derive(Debug, Clone, Copy)]
pub(super) struct ValueDe<'a> {
    v: &'a Value,
    strict: bool,
}

impl<'a> ValueDe<'a> {
    pub(super) fn new(v: &'a Value, strict: bool) -> ValueDe<'a> {
        ValueDe { v, strict }
    }

    /// Null and unknown cannot become a plain (non-`Option`) field.
    fn known(&self) -> Result<&'a Value, Error> {
        match self.v {
            Value::Null => Err(Error::decode(
                "is null; the model needs Option<_> or Field<_> here",
            )),
            Value::Unknown => Err(Error::decode(
                "is unknown (known after apply); the model needs Option<_> or Field<_> here",
            )),
            v => Ok(v),
        }
    }
}

macro_rules! via_any {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.deserialize_any(visitor)
        })*
    };
}

impl<'de, 'a> de::Deserializer<'de> for ValueDe<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.known()? {
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match n {
                Number::Int(i) => visitor.visit_i64(*i),
                Number::Float(f) => match n.as_i64() {
                    Some(i) => visitor.visit_i64(i),
                    None => visitor.visit_f64(*f),
                },
                Number::Big(s) => match s.parse::<u64>() {
                    Ok(u) => visitor.visit_u64(u),
                    Err(_) => visitor.visit_str(s),
                },
            },
            Value::String(s) => visitor.visit_str(s),
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                visitor.visit_seq(Seq {
                    items: items.iter().enumerate(),
                    strict: self.strict,
                })
            }
            Value::Map(m) | Value::Object(m) => visitor.visit_map(Map {
                entries: m.iter(),
                value: None,
                strict: self.strict,
            }),
            Value::Null | Value::Unknown => Err(Error::decode("is not known")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            Value::Null | Value::Unknown => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == FIELD_MARKER {
            // Field<T>: none = null, unit = unknown, some = known
            return match self.v {
                Value::Null => visitor.visit_none(),
                Value::Unknown => visitor.visit_unit(),
                _ => visitor.visit_some(self),
            };
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (Value::Object(m) | Value::Map(m)) = self.known()? else {
            return Err(Error::decode(format!(
                "an object is expected, the value is {:?}",
                self.v
            )));
        };
        if self.strict {
            strict_match(m, fields)?;
        }
        visitor.visit_map(Map {
            entries: m.iter(),
            value: None,
            strict: self.strict,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // enums of unit variants are strings in Terraform ("tcp", "Allow");
        // `check`'s sample strings stand for any variant
        match self.known()? {
            Value::String(_) if self.strict && !variants.is_empty() => {
                let d: StrDeserializer<'_, Error> = variants[0].into_deserializer();
                visitor.visit_enum(d)
            }
            Value::String(s) => {
                let d: StrDeserializer<'_, Error> = s.as_str().into_deserializer();
                visitor.visit_enum(d)
            }
            other => Err(Error::decode(format!(
                "a string naming a variant is expected, the value is {other:?}"
            ))),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    via_any! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_str deserialize_string deserialize_bytes
        deserialize_byte_buf deserialize_map deserialize_identifier
    }

    /// A null list (an absent block, an imported state) reads as empty.
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            Value::Null => visitor.visit_seq(Seq {
                items: [].iter().enumerate(),
                strict: self.strict,
            }),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }
}

/// Schema attributes and model fields must be the same names.
fn strict_match(m: &BTreeMap<String, Value>, fields: &[&str]) -> Result<(), Error> {
    if let Some(missing) = m.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(Error::decode(format!(
            "the schema has an attribute {missing:?} that the model has no field for"
        )));
    }
    if let Some(extra) = fields.iter().find(|f| !m.contains_key(**f)) {
        return Err(Error::decode(format!(
            "the model has a field {extra:?} that is not an attribute of the schema"
        )));
    }
    Ok(())
}

struct Seq<'a, I: Iterator<Item = (usize, &'a Value)>> {
    items: I,
    strict: bool,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Value)>> SeqAccess<'de> for Seq<'a, I> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            None => Ok(None),
            Some((i, v)) => seed
                .deserialize(ValueDe::new(v, self.strict))
                .map(Some)
                .map_err(|e| e.at(&format!("[{i}]"))),
        }
    }
}

struct Map<'a> {
    entries: std::collections::btree_map::Iter<'a, String, Value>,
    value: Option<(&'a String, &'a Value)>,
    strict: bool,
}

impl<'de, 'a> MapAccess<'de> for Map<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            None => Ok(None),
            Some((k, v)) => {
                self.value = Some((k, v));
                let d: StrDeserializer<'_, Error> = k.as_str().into_deserializer();
                seed.deserialize(d).map(Some)
            }
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let Some((k, v)) = self.value.take() else {
            return Err(Error::decode("a map value was asked for before its key"));
        };
        seed.deserialize(ValueDe::new(v, self.strict))
            .map_err(|e| e.at(&format!(".{k}")))
    }
}

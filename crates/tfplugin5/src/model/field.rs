//! Field types of models that plain Rust types cannot express.

use std::{collections::BTreeMap, time::Duration};

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::{timeouts, Diagnostic, Value};

/// Newtype name by which [`Field`] asks our deserializer for the
/// null/unknown/known distinction.
pub(super) const FIELD_MARKER: &str = "$tfplugin5::Field";
/// Newtype name by which [`Field::Unknown`] serializes as an unknown value.
pub(super) const UNKNOWN_MARKER: &str = "$tfplugin5::Unknown";

/// An attribute that may be null, unknown (known only after apply) or
/// known: what a computed attribute is in a plan. Missing from the value
/// reads as null.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Field<T> {
    /// Not set.
    #[default]
    Null,
    /// Known after apply.
    Unknown,
    /// Set and known.
    Known(T),
}

impl<T> Field<T> {
    /// The value when known.
    pub fn known(&self) -> Option<&T> {
        match self {
            Field::Known(v) => Some(v),
            _ => None,
        }
    }
    /// The value when known, by value.
    pub fn into_known(self) -> Option<T> {
        match self {
            Field::Known(v) => Some(v),
            _ => None,
        }
    }
    /// True when null.
    pub fn is_null(&self) -> bool {
        matches!(self, Field::Null)
    }
    /// True when unknown.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Field::Unknown)
    }
}

impl Field<String> {
    /// The known string, treating "" as unset (like the Go SDK's `GetOk`).
    pub fn non_empty(&self) -> Option<&str> {
        self.known().map(String::as_str).filter(|s| !s.is_empty())
    }
}

impl<T> From<T> for Field<T> {
    fn from(v: T) -> Field<T> {
        Field::Known(v)
    }
}

impl<T> From<Option<T>> for Field<T> {
    fn from(v: Option<T>) -> Field<T> {
        v.map_or(Field::Null, Field::Known)
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Null => s.serialize_none(),
            Field::Unknown => s.serialize_newtype_struct(UNKNOWN_MARKER, &()),
            Field::Known(v) => s.serialize_some(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field<T>, D::Error> {
        d.deserialize_newtype_struct(FIELD_MARKER, FieldVisitor(std::marker::PhantomData))
    }
}

struct FieldVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> de::Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a Terraform value that may be null or unknown")
    }
    fn visit_none<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Unknown)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Field<T>, D::Error> {
        T::deserialize(d).map(Field::Known)
    }
    // other deserializers (e.g. JSON) see a plain newtype
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Field<T>, D::Error> {
        Option::<T>::deserialize(d).map(Field::from)
    }
}

/// The Go SDK's `timeouts { create = "20m" ... }` block as a model field
/// (`timeouts: Option<Timeouts>`); [`Timeouts::get`] reads one operation.
/// Operations left unset are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Timeouts(pub BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Timeouts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timeouts, D::Error> {
        let all = BTreeMap::<String, Option<String>>::deserialize(d)?;
        Ok(Timeouts(
            all.into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect(),
        ))
    }
}

impl Timeouts {
    /// The timeout of `operation`, or `default` when unset; a malformed
    /// duration is an error on `timeouts.<operation>` (see
    /// [`crate::timeouts::timeout`], which this reads through).
    pub fn get(&self, operation: &str, default: Duration) -> Result<Duration, Diagnostic> {
        let block = Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect(),
        );
        timeouts::timeout(&Value::object([("timeouts", block)]), operation, default)
    }
}

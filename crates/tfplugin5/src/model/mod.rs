//! Typed models: a resource declares a plain Rust struct (serde derives)
//! and converts Terraform's [`Value`] to and from it once, so attribute
//! names are struct fields and a misspelt one fails to compile.
//!
//! - [`from_value`] / [`to_value`]: the conversions (`to_value` shapes the
//!   result by the schema type: lists become sets where the schema says set,
//!   maps become objects, absent attributes become null).
//! - [`Field`]: an attribute that may be null, unknown ("known after apply")
//!   or known. A plain `Option<T>` reads both null and unknown as `None`.
//! - [`Timeouts`]: the `timeouts` block as a field.
//! - [`check`]: the unit-test helper every resource calls, so a model and
//!   its schema cannot drift (same attribute names, compatible types, and
//!   the planned shape — unknown computed, null optional — decodes).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use tfplugin5::{model, Attribute, Block, Schema, Type};
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! struct Vpc {
//!     id: model::Field<String>,
//!     name: String,
//!     cidr: String,
//!     project: Option<String>,
//! }
//!
//! let schema = Schema::new(
//!     Block::new()
//!         .attribute(Attribute::computed("id", Type::String))
//!         .attribute(Attribute::required("name", Type::String))
//!         .attribute(Attribute::required("cidr", Type::String).force_new())
//!         .attribute(Attribute::optional_computed("project", Type::String)),
//! );
//! model::check::<Vpc>(&schema).unwrap();
//! let v = model::to_value(
//!     &Vpc { id: "v1".to_string().into(), name: "a".into(), cidr: "10.0.0.0/16".into(), project: None },
//!     &schema.value_type(),
//! ).unwrap();
//! assert_eq!(v.get_str("cidr"), Some("10.0.0.0/16"));
//! let back: Vpc = model::from_value(&v).unwrap();
//! assert_eq!(back.id.known().map(String::as_str), Some("v1"));
//! ```

mod de;
mod field;
mod ser;

use std::collections::BTreeMap;

use crate::{Block, Error, Schema, Type, Value};

pub use field::{Field, Timeouts};

/// Decodes a value (configuration, plan or state) into a model.
/// Attributes the model does not name are ignored; see [`check`] for the
/// strict comparison used in tests.
pub fn from_value<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, Error> {
    T::deserialize(de::ValueDe::new(v, false))
}

/// Encodes a model as a value of type `ty` (usually
/// `schema.value_type()`): sets, maps and objects take the schema's kind and
/// attributes the model leaves out are null.
pub fn to_value<T: serde::Serialize + ?Sized>(model: &T, ty: &Type) -> Result<Value, Error> {
    let raw = model.serialize(ser::ValueSer)?;
    conform(raw, ty)
}

/// Checks a model against its schema: every attribute and nested block of
/// the schema is a field of the model (recursively) and vice versa, a fully
/// known sample value survives a round trip unchanged, and the planned
/// shape (computed attributes unknown, optional ones null, no blocks)
/// decodes. Call it in each resource's unit tests.
pub fn check<T: serde::Serialize + serde::de::DeserializeOwned>(
    schema: &Schema,
) -> Result<(), Error> {
    let ty = schema.value_type();
    let sample = sample_value(&ty);
    let model: T = T::deserialize(de::ValueDe::new(&sample, true))?;
    let back = to_value(&model, &ty)?;
    if !same_shape(&back, &sample) {
        return Err(Error::Encode {
            path: String::new(),
            message: format!(
                "the model does not round-trip a sample value of its schema:\n  sample: {sample:?}\n  model:  {back:?}"
            ),
        });
    }
    let planned = planned_shape(&schema.block);
    from_value::<T>(&planned).map_err(|e| match e {
        Error::Decode { path, message } => Error::Decode {
            path,
            message: format!(
                "{message} (in the planned shape: computed attributes unknown, optional ones \
                 null; use Option or Field for them)"
            ),
        },
        other => other,
    })?;
    Ok(())
}

/// Checks a plan-time view: a struct naming only some of a schema's
/// attributes (as [`Field`]s, since configuration and plans hold unknowns).
/// Every field of the view, nested ones included, must be an attribute or
/// block of the schema (a misspelt field would otherwise read as null
/// forever), and both a fully known sample and the planned shape decode.
/// Call it in unit tests, as [`check`] for full models.
pub fn check_view<T: serde::Serialize + serde::de::DeserializeOwned>(
    schema: &Schema,
) -> Result<(), Error> {
    let ty = schema.value_type();
    let view: T = from_value(&sample_value(&ty))?;
    names_only(&view.serialize(ser::ValueSer)?, &ty)?;
    from_value::<T>(&planned_shape(&schema.block))?;
    Ok(())
}

/// Errors on the first object key of `v` that `ty` does not have.
fn names_only(v: &Value, ty: &Type) -> Result<(), Error> {
    match (v, ty) {
        (Value::Object(m) | Value::Map(m), Type::Object(attrs)) => {
            for (k, x) in m {
                let Some(aty) = attrs.get(k) else {
                    return Err(Error::encode(format!(
                        "the view has a field {k:?} that is not an attribute of the schema"
                    )));
                };
                names_only(x, aty).map_err(|e| e.at(&format!(".{k}")))?;
            }
            Ok(())
        }
        (Value::Object(m) | Value::Map(m), Type::Map(e)) => {
            m.values().try_for_each(|x| names_only(x, e))
        }
        (Value::List(items) | Value::Set(items), Type::List(e) | Type::Set(e)) => {
            items.iter().try_for_each(|x| names_only(x, e))
        }
        _ => Ok(()),
    }
}

/// Writes the fields of `view` (a model or a plan-time view naming some
/// attributes) over the same attributes of `into`, keeping every attribute
/// the view does not name and the kinds (set, list, map) `into` has.
/// Collections of objects are merged element by element when the lengths
/// agree, else replaced.
pub fn merge_into<T: serde::Serialize + ?Sized>(view: &T, into: &mut Value) -> Result<(), Error> {
    overlay(view.serialize(ser::ValueSer)?, into);
    Ok(())
}

fn overlay(src: Value, dst: &mut Value) {
    match (src, dst) {
        (Value::Object(m), Value::Object(d) | Value::Map(d)) => {
            for (k, v) in m {
                match d.get_mut(&k) {
                    Some(slot) => overlay(v, slot),
                    None => {
                        d.insert(k, v);
                    }
                }
            }
        }
        (
            Value::List(items) | Value::Set(items),
            Value::List(d) | Value::Set(d) | Value::Tuple(d),
        ) if items.len() == d.len() => {
            for (v, slot) in items.into_iter().zip(d.iter_mut()) {
                overlay(v, slot);
            }
        }
        (Value::List(items), slot @ Value::Set(_)) => *slot = Value::set(items),
        (v, slot) => *slot = v,
    }
}

/// Whether two values have the same kinds and attributes throughout (the
/// values themselves may differ: an enum field turns the sample's `"x"`
/// into its first variant).
fn same_shape(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null)
        | (Value::Unknown, Value::Unknown)
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_)) => true,
        (Value::List(x), Value::List(y))
        | (Value::Set(x), Value::Set(y))
        | (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_shape(p, q))
        }
        (Value::Map(x), Value::Map(y)) | (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_shape(v, w)))
        }
        _ => false,
    }
}

/// Gives `raw` (as serialized from a model) the kinds the schema type asks
/// for, and fills attributes the model left out with null.
fn conform(raw: Value, ty: &Type) -> Result<Value, Error> {
    let mismatch = |what: &str, v: &Value| {
        Error::encode(format!(
            "a {what} is expected by the schema, the model gave {v:?}"
        ))
    };
    match (ty, raw) {
        (_, v @ (Value::Null | Value::Unknown)) | (Type::Dynamic, v) => Ok(v),
        (Type::Bool, v @ Value::Bool(_))
        | (Type::Number, v @ Value::Number(_))
        | (Type::String, v @ Value::String(_)) => Ok(v),
        (Type::List(e), Value::List(items) | Value::Set(items) | Value::Tuple(items)) => {
            Ok(Value::List(conform_items(items, e)?))
        }
        (Type::Set(e), Value::List(items) | Value::Set(items) | Value::Tuple(items)) => {
            Ok(Value::set(conform_items(items, e)?))
        }
        (Type::Map(e), Value::Map(m) | Value::Object(m)) => {
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let v = conform(v, e).map_err(|err| err.at(&format!("[{k:?}]")))?;
                out.insert(k, v);
            }
            Ok(Value::Map(out))
        }
        (Type::Object(attrs), Value::Map(mut m) | Value::Object(mut m)) => {
            if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(Error::encode(format!(
                    "the model has a field {extra:?} that is not an attribute of the schema"
                )));
            }
            let mut out = BTreeMap::new();
            for (name, aty) in attrs {
                let v = m.remove(name).unwrap_or(Value::Null);
                let v = conform(v, aty).map_err(|err| err.at(&format!(".{name}")))?;
                out.insert(name.clone(), v);
            }
            Ok(Value::Object(out))
        }
        (Type::Tuple(tys), Value::List(items) | Value::Set(items) | Value::Tuple(items))
            if tys.len() == items.len() =>
        {
            let out = items
                .into_iter()
                .zip(tys)
                .enumerate()
                .map(|(i, (v, t))| conform(v, t).map_err(|err| err.at(&format!("[{i}]"))))
                .collect::<Result<_, _>>()?;
            Ok(Value::Tuple(out))
        }
        (Type::Bool, v) => Err(mismatch("bool", &v)),
        (Type::Number, v) => Err(mismatch("number", &v)),
        (Type::String, v) => Err(mismatch("string", &v)),
        (Type::List(_) | Type::Set(_), v) => Err(mismatch("list or set", &v)),
        (Type::Map(_), v) => Err(mismatch("map", &v)),
        (Type::Object(_), v) => Err(mismatch("object", &v)),
        (Type::Tuple(_), v) => Err(mismatch("tuple", &v)),
    }
}

fn conform_items(items: Vec<Value>, elem: &Type) -> Result<Vec<Value>, Error> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| conform(v, elem).map_err(|e| e.at(&format!("[{i}]"))))
        .collect()
}

/// A fully known value of type `ty`, one element per collection.
fn sample_value(ty: &Type) -> Value {
    match ty {
        Type::Bool => Value::Bool(true),
        Type::Number => Value::from(1i64),
        Type::String | Type::Dynamic => Value::from("x"),
        Type::List(e) => Value::List(vec![sample_value(e)]),
        Type::Set(e) => Value::Set(vec![sample_value(e)]),
        Type::Map(e) => Value::Map([("k".to_string(), sample_value(e))].into()),
        Type::Object(attrs) => Value::Object(
            attrs
                .iter()
                .map(|(k, t)| (k.clone(), sample_value(t)))
                .collect(),
        ),
        Type::Tuple(tys) => Value::Tuple(tys.iter().map(sample_value).collect()),
    }
}

/// What a plan for a new object looks like at worst: required attributes
/// known, computed ones unknown, optional ones null, nested blocks absent.
fn planned_shape(block: &Block) -> Value {
    let mut out = BTreeMap::new();
    for a in &block.attributes {
        let v = if a.required {
            sample_value(&a.ty)
        } else if a.computed || a.default.is_some() {
            Value::Unknown
        } else {
            Value::Null
        };
        out.insert(a.name.clone(), v);
    }
    for b in &block.blocks {
        let empty = match b.nesting {
            crate::Nesting::Single => Value::Null,
            crate::Nesting::Group => planned_shape(&b.block),
            crate::Nesting::List => Value::List(Vec::new()),
            crate::Nesting::Set => Value::Set(Vec::new()),
            crate::Nesting::Map => Value::Map(BTreeMap::new()),
        };
        out.insert(b.name.clone(), empty);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests;

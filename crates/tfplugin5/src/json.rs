//! cty's JSON encoding: the `json` field of `DynamicValue` and the state
//! JSON handed to `UpgradeResourceState`. Type-directed like msgpack;
//! dynamic values are `{"value": ..., "type": ...}`; JSON cannot express
//! unknown values. Attributes not in the type (removed from the schema
//! since the state was written) are dropped.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::{value::Number, Error, Type, Value};

/// Decodes JSON bytes into a value of type `ty`.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, Error> {
    let j: Json = serde_json::from_slice(bytes).map_err(|e| Error::decode(e.to_string()))?;
    from_json(&j, ty)
}

/// Converts parsed JSON into a value of type `ty`.
pub fn from_json(j: &Json, ty: &Type) -> Result<Value, Error> {
    if j.is_null() {
        return Ok(Value::Null);
    }
    let mismatch = || Error::decode(format!("expected {}, got {}", ty.to_json(), kind(j)));
    match ty {
        Type::Bool => j.as_bool().map(Value::Bool).ok_or_else(mismatch),
        Type::Number => match j {
            Json::Number(n) => Ok(Value::Number(if let Some(i) = n.as_i64() {
                Number::Int(i)
            } else if let Some(u) = n.as_u64() {
                Number::Big(u.to_string())
            } else {
                Number::Float(n.as_f64().ok_or_else(mismatch)?)
            })),
            Json::String(s) => Number::parse(s).map(Value::Number).ok_or_else(mismatch),
            _ => Err(mismatch()),
        },
        Type::String => match j {
            Json::String(s) => Ok(Value::String(s.clone())),
            Json::Number(n) => Ok(Value::String(n.to_string())),
            Json::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(mismatch()),
        },
        Type::List(elem) | Type::Set(elem) => {
            let items = j.as_array().ok_or_else(mismatch)?;
            let vals = items
                .iter()
                .enumerate()
                .map(|(i, v)| from_json(v, elem).map_err(|e| e.at(&format!("[{i}]"))))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(vals)
            } else {
                Value::List(vals)
            })
        }
        Type::Tuple(elems) => {
            let items = j
                .as_array()
                .filter(|a| a.len() == elems.len())
                .ok_or_else(mismatch)?;
            Ok(Value::Tuple(
                items
                    .iter()
                    .zip(elems)
                    .enumerate()
                    .map(|(i, (v, t))| from_json(v, t).map_err(|e| e.at(&format!("[{i}]"))))
                    .collect::<Result<_, _>>()?,
            ))
        }
        Type::Map(elem) => {
            let mut out = BTreeMap::new();
            for (k, v) in j.as_object().ok_or_else(mismatch)? {
                out.insert(
                    k.clone(),
                    from_json(v, elem).map_err(|e| e.at(&format!("[{k:?}]")))?,
                );
            }
            Ok(Value::Map(out))
        }
        Type::Object(attrs) => {
            let obj = j.as_object().ok_or_else(mismatch)?;
            let mut out = BTreeMap::new();
            for (name, aty) in attrs {
                let v = match obj.get(name) {
                    Some(v) => from_json(v, aty).map_err(|e| e.at(&format!(".{name}")))?,
                    None => Value::Null,
                };
                out.insert(name.clone(), v);
            }
            Ok(Value::Object(out))
        }
        Type::Dynamic => {
            let obj = j.as_object().ok_or_else(mismatch)?;
            let real = Type::from_json(obj.get("type").ok_or_else(mismatch)?)?;
            from_json(obj.get("value").unwrap_or(&Json::Null), &real)
        }
    }
}

fn kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_json_with_removed_attribute_and_blocks() {
        let ty = Type::object([
            ("id", Type::String),
            ("cpus", Type::Number),
            (
                "rule",
                Type::set(Type::object([("ports", Type::set(Type::String))])),
            ),
            ("meta", Type::Dynamic),
        ]);
        let state = br#"{"id":"42","cpus":2,"old_attr":"gone",
            "rule":[{"ports":["22","80"]}],
            "meta":{"value":["x"],"type":["list","string"]}}"#;
        let v = decode(state, &ty).unwrap();
        assert_eq!(v.get_str("id"), Some("42"));
        assert_eq!(v.get_i64("cpus"), Some(2));
        assert!(v.get("old_attr").is_null());
        assert_eq!(
            v.get("rule"),
            &Value::set([Value::object([("ports", Value::set(["80", "22"]))])])
        );
        assert_eq!(v.get("meta"), &Value::list(["x"]));
    }

    #[test]
    fn wrong_kind_names_path() {
        let ty = Type::object([("cpus", Type::Number)]);
        let err = decode(br#"{"cpus":[1]}"#, &ty).unwrap_err().to_string();
        assert!(err.contains(".cpus"), "{err}");
    }
}

/// Converts a fully known value to plain JSON (sets and tuples become
/// arrays, objects and maps JSON objects). For storing or showing values
/// outside Terraform's wire format; unknown values are an error.
pub fn to_json(v: &Value) -> Result<Json, Error> {
    Ok(match v {
        Value::Null => Json::Null,
        Value::Unknown => return Err(Error::encode("unknown value has no JSON form")),
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(Number::Int(i)) => Json::from(*i),
        Value::Number(Number::Float(f)) => {
            serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number)
        }
        Value::Number(Number::Big(s)) => Json::String(s.clone()),
        Value::String(s) => Json::String(s.clone()),
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, e)| to_json(e).map_err(|err| err.at(&format!("[{i}]"))))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(m) | Value::Object(m) => Json::Object(
            m.iter()
                .map(|(k, e)| {
                    Ok((
                        k.clone(),
                        to_json(e).map_err(|err| err.at(&format!(".{k}")))?,
                    ))
                })
                .collect::<Result<_, Error>>()?,
        ),
    })
}

#[cfg(test)]
mod to_json_tests {
    use super::*;

    #[test]
    fn round_trips_through_typed_decoding() {
        let ty = Type::object([
            ("n", Type::Number),
            ("s", Type::set(Type::String)),
            ("m", Type::map(Type::Bool)),
        ]);
        let v = Value::object([
            ("n", Value::from(1.5)),
            ("s", Value::set(["a", "b"])),
            (
                "m",
                Value::Map([("k".to_string(), Value::from(true))].into()),
            ),
        ]);
        let j = to_json(&v).unwrap();
        assert_eq!(from_json(&j, &ty).unwrap(), v);
        assert!(to_json(&Value::list([Value::Unknown])).is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;
        use crate::arbitrary::{any_type, typed_object, typed_value};

        fn to_bytes(v: &Value) -> Vec<u8> {
            serde_json::to_vec(&to_json(v).expect("known values have a JSON form"))
                .expect("JSON serialises")
        }

        proptest! {
            /// Every known value of a type survives `to_json` and the typed decoder.
            #[test]
            fn round_trip((ty, v) in typed_value(false)) {
                prop_assert_eq!(decode(&to_bytes(&v), &ty).expect("decodes"), v);
            }

            /// A truncated object is always an error.
            #[test]
            fn truncation_is_rejected((ty, v) in typed_object(false), cut in any::<prop::sample::Index>()) {
                let bytes = to_bytes(&v);
                let cut = cut.index(bytes.len());
                prop_assert!(decode(&bytes[..cut], &ty).is_err());
            }

            /// A string where a number is wanted is rejected, unless it is a number's text.
            #[test]
            fn wrong_kind_is_rejected(s in "[a-z ]{1,12}") {
                let bytes = serde_json::to_vec(&serde_json::json!({ "n": s })).expect("JSON");
                let ty = Type::object([("n", Type::Number)]);
                prop_assert!(decode(&bytes, &ty).is_err());
                prop_assert!(decode(&bytes, &Type::list(Type::String)).is_err());
            }

            /// Any text: an error or a value of the type, never a panic; what decodes
            /// round-trips.
            #[test]
            fn garbage_never_panics(ty in any_type(), text in "[\\[\\]{}\",:0-9a-z.\\- ]{0,48}") {
                if let Ok(v) = decode(text.as_bytes(), &ty) {
                    if v.is_fully_known() {
                        prop_assert_eq!(decode(&to_bytes(&v), &ty).expect("decodes"), v);
                    }
                }
            }
        }
    }
}

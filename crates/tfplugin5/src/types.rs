//! cty types, as Terraform names them in schemas (`"string"`,
//! `["list","string"]`, `["object",{...}]`) and uses to read values.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use crate::Error;

/// A cty type. Values on the wire carry no type of their own (msgpack
/// arrays serve lists, sets and tuples alike), so decoding needs this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    /// `bool`
    Bool,
    /// `number` (arbitrary precision in cty)
    Number,
    /// `string`
    String,
    /// `dynamic`: the value carries its own type on the wire.
    Dynamic,
    /// `["list", T]`
    List(Box<Type>),
    /// `["set", T]`
    Set(Box<Type>),
    /// `["map", T]`
    Map(Box<Type>),
    /// `["object", {name: T}]`
    Object(BTreeMap<String, Type>),
    /// `["tuple", [T...]]`
    Tuple(Vec<Type>),
}

impl Type {
    /// `["list", elem]`
    pub fn list(elem: Type) -> Type {
        Type::List(Box::new(elem))
    }
    /// `["set", elem]`
    pub fn set(elem: Type) -> Type {
        Type::Set(Box::new(elem))
    }
    /// `["map", elem]`
    pub fn map(elem: Type) -> Type {
        Type::Map(Box::new(elem))
    }
    /// `["object", {...}]` from name/type pairs.
    pub fn object<I: IntoIterator<Item = (S, Type)>, S: Into<String>>(attrs: I) -> Type {
        Type::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The JSON form Terraform expects in `Schema.Attribute.type`.
    pub fn to_json(&self) -> Json {
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(e) => json!(["list", e.to_json()]),
            Type::Set(e) => json!(["set", e.to_json()]),
            Type::Map(e) => json!(["map", e.to_json()]),
            Type::Object(attrs) => {
                let m: serde_json::Map<String, Json> = attrs
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect();
                json!(["object", m])
            }
            Type::Tuple(elems) => {
                json!(["tuple", elems.iter().map(Type::to_json).collect::<Vec<_>>()])
            }
        }
    }

    /// Parses the JSON form (also used inside dynamic values).
    pub fn from_json(j: &Json) -> Result<Type, Error> {
        let bad = || Error::Type(j.to_string());
        match j {
            Json::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                _ => Err(bad()),
            },
            Json::Array(a) if a.len() >= 2 => {
                let kind = a[0].as_str().ok_or_else(bad)?;
                match kind {
                    "list" => Ok(Type::list(Type::from_json(&a[1])?)),
                    "set" => Ok(Type::set(Type::from_json(&a[1])?)),
                    "map" => Ok(Type::map(Type::from_json(&a[1])?)),
                    // a third element lists optional attributes; irrelevant here
                    "object" => {
                        let attrs = a[1].as_object().ok_or_else(bad)?;
                        let mut out = BTreeMap::new();
                        for (k, t) in attrs {
                            out.insert(k.clone(), Type::from_json(t)?);
                        }
                        Ok(Type::Object(out))
                    }
                    "tuple" => {
                        let elems = a[1].as_array().ok_or_else(bad)?;
                        Ok(Type::Tuple(
                            elems
                                .iter()
                                .map(Type::from_json)
                                .collect::<Result<_, _>>()?,
                        ))
                    }
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let t = Type::object([
            ("id", Type::String),
            ("ports", Type::set(Type::Number)),
            (
                "rule",
                Type::list(Type::object([("cidr", Type::list(Type::String))])),
            ),
            ("tags", Type::map(Type::String)),
            ("any", Type::Dynamic),
            ("pair", Type::Tuple(vec![Type::Bool, Type::String])),
        ]);
        let j = t.to_json();
        assert_eq!(j[1]["ports"], json!(["set", "number"]));
        assert_eq!(Type::from_json(&j).unwrap(), t);
    }

    #[test]
    fn rejects_nonsense() {
        assert!(Type::from_json(&json!("float")).is_err());
        assert!(Type::from_json(&json!(["list"])).is_err());
        assert!(Type::from_json(&json!(42)).is_err());
    }
}

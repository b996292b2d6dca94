//! cty's msgpack encoding, the form of every `DynamicValue` Terraform sends.
//!
//! The encoding is type-directed: lists, sets and tuples are all arrays,
//! maps and objects are all maps, so the schema type drives decoding.
//! Unknown values are msgpack extension type 0 (cty ≥ 1.13 may send
//! extension 12, an unknown with refinements; we read it as unknown).
//! Dynamic values are `[type-as-JSON, value]` pairs. Numbers arrive as
//! int, float or (for big ones) decimal strings.

use std::collections::BTreeMap;

use rmpv::Value as Mp;

use crate::{value::Number, Error, Type, Value};

/// Extension type of an unknown value.
const EXT_UNKNOWN: i8 = 0;
/// Extension type of an unknown value with refinements (newer cty).
const EXT_REFINED_UNKNOWN: i8 = 12;

/// Deepest msgpack nesting accepted. rmpv's default (1024) recursion can overflow a worker
/// thread's 2 MiB stack; Terraform's values nest a few dozen levels at most.
pub const MAX_DEPTH: usize = 128;

/// Decodes msgpack bytes into a value of type `ty`.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, Error> {
    let mut rd = bytes;
    let mp = rmpv::decode::read_value_with_max_depth(&mut rd, MAX_DEPTH)
        .map_err(|e| Error::decode(e.to_string()))?;
    from_mp(&mp, ty)
}

/// Encodes a value of type `ty` as msgpack bytes.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, Error> {
    let mp = to_mp(value, ty)?;
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &mp).map_err(|e| Error::encode(e.to_string()))?;
    Ok(out)
}

fn from_mp(mp: &Mp, ty: &Type) -> Result<Value, Error> {
    match mp {
        Mp::Nil => return Ok(Value::Null),
        Mp::Ext(EXT_UNKNOWN | EXT_REFINED_UNKNOWN, _) => return Ok(Value::Unknown),
        _ => {}
    }
    let mismatch = || Error::decode(format!("expected {}, got {}", ty.to_json(), kind(mp)));
    match ty {
        Type::Bool => mp.as_bool().map(Value::Bool).ok_or_else(mismatch),
        Type::Number => match mp {
            Mp::Integer(i) => Ok(Value::Number(match (i.as_i64(), i.as_u64()) {
                (Some(v), _) => Number::Int(v),
                (None, Some(u)) => Number::Big(u.to_string()),
                (None, None) => return Err(mismatch()),
            })),
            Mp::F32(f) => Ok(Value::Number(Number::Float((*f).into()))),
            Mp::F64(f) => Ok(Value::Number(Number::Float(*f))),
            Mp::String(s) => s
                .as_str()
                .and_then(Number::parse)
                .map(Value::Number)
                .ok_or_else(mismatch),
            _ => Err(mismatch()),
        },
        Type::String => match mp {
            Mp::String(s) => s
                .as_str()
                .map(|s| Value::String(s.to_string()))
                .ok_or_else(|| Error::decode("string is not UTF-8")),
            _ => Err(mismatch()),
        },
        Type::List(elem) | Type::Set(elem) => {
            let items = mp.as_array().ok_or_else(mismatch)?;
            let vals = items
                .iter()
                .enumerate()
                .map(|(i, v)| from_mp(v, elem).map_err(|e| e.at(&format!("[{i}]"))))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) {
                Value::Set(vals)
            } else {
                Value::List(vals)
            })
        }
        Type::Tuple(elems) => {
            let items = mp.as_array().ok_or_else(mismatch)?;
            if items.len() != elems.len() {
                return Err(Error::decode(format!(
                    "tuple of {} elements, got {}",
                    elems.len(),
                    items.len()
                )));
            }
            let vals = items
                .iter()
                .zip(elems)
                .enumerate()
                .map(|(i, (v, t))| from_mp(v, t).map_err(|e| e.at(&format!("[{i}]"))))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Tuple(vals))
        }
        Type::Map(elem) => {
            let mut out = BTreeMap::new();
            for (k, v) in mp.as_map().ok_or_else(mismatch)? {
                let key = k
                    .as_str()
                    .ok_or_else(|| Error::decode("map key is not a string"))?;
                out.insert(
                    key.to_string(),
                    from_mp(v, elem).map_err(|e| e.at(&format!("[{key:?}]")))?,
                );
            }
            Ok(Value::Map(out))
        }
        Type::Object(attrs) => {
            let entries = mp.as_map().ok_or_else(mismatch)?;
            let mut out = BTreeMap::new();
            for (name, aty) in attrs {
                let found = entries
                    .iter()
                    .find(|(k, _)| k.as_str() == Some(name.as_str()));
                let v = match found {
                    Some((_, v)) => from_mp(v, aty).map_err(|e| e.at(&format!(".{name}")))?,
                    None => Value::Null,
                };
                out.insert(name.clone(), v);
            }
            Ok(Value::Object(out))
        }
        Type::Dynamic => {
            let pair = mp
                .as_array()
                .filter(|a| a.len() == 2)
                .ok_or_else(mismatch)?;
            let type_json = match &pair[0] {
                Mp::Binary(b) => serde_json::from_slice(b),
                Mp::String(s) => serde_json::from_slice(s.as_bytes()),
                _ => return Err(Error::decode("dynamic value without type")),
            }
            .map_err(|e| Error::decode(format!("dynamic value type: {e}")))?;
            let real = Type::from_json(&type_json)?;
            from_mp(&pair[1], &real)
        }
    }
}

fn kind(mp: &Mp) -> &'static str {
    match mp {
        Mp::Nil => "nil",
        Mp::Boolean(_) => "bool",
        Mp::Integer(_) | Mp::F32(_) | Mp::F64(_) => "number",
        Mp::String(_) => "string",
        Mp::Binary(_) => "binary",
        Mp::Array(_) => "array",
        Mp::Map(_) => "map",
        Mp::Ext(..) => "extension",
    }
}

fn to_mp(value: &Value, ty: &Type) -> Result<Mp, Error> {
    match value {
        Value::Null => return Ok(Mp::Nil),
        // cty writes unknown as fixext1 type 0 with a zero byte
        Value::Unknown => return Ok(Mp::Ext(EXT_UNKNOWN, vec![0])),
        _ => {}
    }
    let mismatch = || {
        Error::encode(format!(
            "value {} does not fit type {}",
            short(value),
            ty.to_json()
        ))
    };
    match ty {
        Type::Bool => match value {
            Value::Bool(b) => Ok(Mp::Boolean(*b)),
            Value::String(s) if s == "true" || s == "false" => Ok(Mp::Boolean(s == "true")),
            _ => Err(mismatch()),
        },
        Type::Number => {
            let n = match value {
                Value::Number(n) => n.clone(),
                Value::String(s) => Number::parse(s).ok_or_else(mismatch)?,
                _ => return Err(mismatch()),
            };
            Ok(match n {
                Number::Int(i) => Mp::from(i),
                Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Mp::from(f as i64),
                Number::Float(f) => Mp::F64(f),
                Number::Big(s) => Mp::from(s),
            })
        }
        Type::String => match value {
            Value::String(s) => Ok(Mp::from(s.as_str())),
            // cty converts primitives to string this way
            Value::Number(n) => Ok(Mp::from(n.to_string())),
            Value::Bool(b) => Ok(Mp::from(b.to_string())),
            _ => Err(mismatch()),
        },
        Type::List(elem) | Type::Set(elem) => {
            let items = value.as_slice().ok_or_else(mismatch)?;
            Ok(Mp::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| to_mp(v, elem).map_err(|e| e.at(&format!("[{i}]"))))
                    .collect::<Result<_, _>>()?,
            ))
        }
        Type::Tuple(elems) => {
            let items = value.as_slice().ok_or_else(mismatch)?;
            if items.len() != elems.len() {
                return Err(mismatch());
            }
            Ok(Mp::Array(
                items
                    .iter()
                    .zip(elems)
                    .enumerate()
                    .map(|(i, (v, t))| to_mp(v, t).map_err(|e| e.at(&format!("[{i}]"))))
                    .collect::<Result<_, _>>()?,
            ))
        }
        Type::Map(elem) => {
            let entries = value.as_map().ok_or_else(mismatch)?;
            Ok(Mp::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            Mp::from(k.as_str()),
                            to_mp(v, elem).map_err(|e| e.at(&format!("[{k:?}]")))?,
                        ))
                    })
                    .collect::<Result<_, Error>>()?,
            ))
        }
        Type::Object(attrs) => {
            let entries = value.as_map().ok_or_else(mismatch)?;
            Ok(Mp::Map(
                attrs
                    .iter()
                    .map(|(name, aty)| {
                        let v = entries.get(name).unwrap_or(&Value::Null);
                        Ok((
                            Mp::from(name.as_str()),
                            to_mp(v, aty).map_err(|e| e.at(&format!(".{name}")))?,
                        ))
                    })
                    .collect::<Result<_, Error>>()?,
            ))
        }
        Type::Dynamic => {
            let real = value.infer_type();
            let type_json = real.to_json().to_string().into_bytes();
            Ok(Mp::Array(vec![Mp::Binary(type_json), to_mp(value, &real)?]))
        }
    }
}

/// A short description of a value for error messages. Never the content:
/// values may be secrets.
fn short(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::Bool(_) => "of kind bool",
        Value::Number(_) => "of kind number",
        Value::String(_) => "of kind string",
        Value::List(_) => "of kind list",
        Value::Set(_) => "of kind set",
        Value::Map(_) => "of kind map",
        Value::Object(_) => "of kind object",
        Value::Tuple(_) => "of kind tuple",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_type() -> Type {
        Type::object([
            ("cidr_list", Type::set(Type::String)),
            ("protocol", Type::String),
            ("ports", Type::set(Type::String)),
        ])
    }

    fn resource_type() -> Type {
        Type::object([
            ("id", Type::String),
            ("name", Type::String),
            ("cpus", Type::Number),
            ("expunge", Type::Bool),
            ("rule", Type::set(rule_type())),
            ("nics", Type::list(Type::object([("ip", Type::String)]))),
            ("tags", Type::map(Type::String)),
        ])
    }

    #[test]
    fn round_trip_nested_sets_lists_unknown_null() {
        let ty = resource_type();
        let v = Value::object([
            ("id", Value::Unknown),
            ("name", "web".into()),
            ("cpus", 4i64.into()),
            ("expunge", Value::Null),
            (
                "rule",
                Value::set([
                    Value::object([
                        ("cidr_list", Value::set(["0.0.0.0/0"])),
                        ("protocol", "tcp".into()),
                        ("ports", Value::set(["22", "80-90"])),
                    ]),
                    Value::object([
                        ("cidr_list", Value::set(["10.0.0.0/8"])),
                        ("protocol", "icmp".into()),
                        ("ports", Value::Null),
                    ]),
                ]),
            ),
            (
                "nics",
                Value::list([Value::object([("ip", Value::Unknown)])]),
            ),
            ("tags", Value::object([("env", "dev")])),
        ]);
        let bytes = encode(&v, &ty).unwrap();
        let back = decode(&bytes, &ty).unwrap();
        // maps come back as maps, the rest as written
        let mut expected = v.clone();
        expected.set_attr(
            "tags",
            Value::Map([("env".to_string(), Value::from("dev"))].into()),
        );
        assert_eq!(back, expected);
        assert!(matches!(back.get("rule"), Value::Set(s) if s.len() == 2));
        assert!(back.get("id").is_unknown());
        assert!(back.get("expunge").is_null());
    }

    #[test]
    fn unknown_is_ext_zero_and_refined_unknown_decodes() {
        assert_eq!(
            encode(&Value::Unknown, &Type::String).unwrap(),
            vec![0xd4, 0x00, 0x00]
        );
        // ext8 with zero-length payload, as some encoders write it
        assert!(decode(&[0xc7, 0x00, 0x00], &Type::String)
            .unwrap()
            .is_unknown());
        // refined unknown from newer Terraform: ext type 12 with a payload
        let refined = [0xd5, 0x0c, 0x81, 0x01];
        assert!(decode(&refined, &Type::String).unwrap().is_unknown());
        assert_eq!(encode(&Value::Null, &Type::String).unwrap(), vec![0xc0]);
    }

    #[test]
    fn numbers_int_float_and_big() {
        let ty = Type::Number;
        assert_eq!(encode(&Value::from(7i64), &ty).unwrap(), vec![0x07]);
        assert_eq!(encode(&Value::from(3.0), &ty).unwrap(), vec![0x03]);
        let f = encode(&Value::from(1.5), &ty).unwrap();
        assert_eq!(f[0], 0xcb);
        assert_eq!(decode(&f, &ty).unwrap(), Value::from(1.5));
        // cty writes numbers beyond float precision as strings
        let big = "123456789012345678901234567890";
        let mut bytes = vec![0xbe];
        bytes.extend_from_slice(big.as_bytes());
        let v = decode(&bytes, &ty).unwrap();
        assert_eq!(v, Value::Number(Number::Big(big.into())));
        assert_eq!(encode(&v, &ty).unwrap(), bytes);
        // u64 beyond i64
        let u = [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            decode(&u, &ty).unwrap(),
            Value::Number(Number::Big(u64::MAX.to_string()))
        );
    }

    #[test]
    fn dynamic_values_carry_their_type() {
        let v = Value::list(["a", "b"]);
        let bytes = encode(&v, &Type::Dynamic).unwrap();
        assert_eq!(decode(&bytes, &Type::Dynamic).unwrap(), v);
    }

    #[test]
    fn type_errors_name_the_attribute() {
        let ty = Type::object([("rule", Type::list(Type::object([("port", Type::Number)])))]);
        let v = Value::object([(
            "rule",
            Value::list([Value::object([("port", Value::from("not-a-number"))])]),
        )]);
        let err = encode(&v, &ty).unwrap_err().to_string();
        assert!(err.contains(".rule[0].port"), "{err}");
        assert!(!err.contains("not-a-number"), "values must not leak: {err}");
        // decoding: string where a bool is expected
        let bytes = encode(
            &Value::object([("b", "x")]),
            &Type::object([("b", Type::String)]),
        )
        .unwrap();
        let err = decode(&bytes, &Type::object([("b", Type::Bool)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(".b"), "{err}");
    }

    #[test]
    fn random_and_mutated_bytes_never_panic() {
        // small deterministic generator (no extra crate for one test)
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let ty = resource_type();
        let good = encode(
            &Value::object([
                ("name", Value::from("x")),
                ("rule", Value::set([Value::object([("protocol", "tcp")])])),
            ]),
            &ty,
        )
        .unwrap();
        for _ in 0..5000 {
            let mut bytes = good.clone();
            let flips = (next() % 4) as usize + 1;
            for _ in 0..flips {
                let i = (next() as usize) % bytes.len();
                bytes[i] = next() as u8;
            }
            let _ = decode(&bytes, &ty);
            let len = (next() % 24) as usize;
            let random: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = decode(&random, &ty);
            let _ = decode(&random, &Type::Dynamic);
        }
    }

    /// Nesting far deeper than any value is refused, not a stack overflow.
    #[test]
    fn deep_nesting_is_an_error() {
        let mut bytes = vec![0x91; 100_000];
        bytes.push(0xc0);
        let mut ty = Type::String;
        for _ in 0..200 {
            ty = Type::list(ty);
        }
        assert!(decode(&bytes, &ty).is_err());
        assert!(decode(&bytes, &Type::Dynamic).is_err());
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;
        use crate::arbitrary::{any_type, typed_object, typed_value};

        proptest! {
            /// Every value of a type, unknowns and nulls included, survives the round trip.
            #[test]
            fn round_trip((ty, v) in typed_value(true)) {
                let bytes = encode(&v, &ty).expect("a value of its type encodes");
                prop_assert_eq!(decode(&bytes, &ty).expect("its encoding decodes"), v);
            }

            /// A truncated value (msgpack is self-delimiting) is always an error.
            #[test]
            fn truncation_is_rejected((ty, v) in typed_object(true), cut in any::<prop::sample::Index>()) {
                let bytes = encode(&v, &ty).expect("encodes");
                let cut = cut.index(bytes.len());
                prop_assert!(decode(&bytes[..cut], &ty).is_err(), "{} of {} bytes decoded", cut, bytes.len());
            }

            /// Bytes of another kind than the type wants are rejected, naming what they are.
            #[test]
            fn wrong_kind_is_rejected(s in "\\PC{0,20}") {
                let bytes = encode(&Value::String(s), &Type::String).expect("encodes");
                let err = decode(&bytes, &Type::Bool).expect_err("a string is not a bool");
                prop_assert!(err.to_string().contains("got string"), "{}", err);
                prop_assert!(decode(&bytes, &Type::list(Type::String)).is_err());
            }

            /// Any bytes at all: an error or a value of the type, never a panic; what decodes
            /// re-encodes to a value that decodes the same.
            #[test]
            fn garbage_never_panics(ty in any_type(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
                for ty in [&ty, &Type::Dynamic] {
                    if let Ok(v) = decode(&bytes, ty) {
                        if let Ok(again) = encode(&v, ty) {
                            prop_assert_eq!(decode(&again, ty).expect("re-encoded value decodes"), v);
                        }
                    }
                }
            }

            /// Valid encodings with a few bytes changed: same guarantee.
            #[test]
            fn mutations_never_panic(
                (ty, v) in typed_value(true),
                flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            ) {
                let mut bytes = encode(&v, &ty).expect("encodes");
                for (at, b) in flips {
                    let i = at.index(bytes.len());
                    bytes[i] = b;
                }
                if let Ok(v) = decode(&bytes, &ty) {
                    if let Ok(again) = encode(&v, &ty) {
                        prop_assert_eq!(decode(&again, &ty).expect("re-encoded value decodes"), v);
                    }
                }
            }
        }
    }
}

//! Conversions between msgpack values on the wire and `serde_json::Value` for builder code,
//! plus small readers for Go structs sent as maps.

use rmpv::Value;

use crate::codec::{map_get, value_as_string};

/// msgpack → JSON. Binary that is UTF-8 becomes a string (Go `[]byte`/string ambiguity);
/// other binary becomes an array of numbers; ext values (Go `time.Time`) become null.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(i) => {
            if let Some(u) = i.as_u64() {
                J::from(u)
            } else {
                i.as_i64().map(J::from).unwrap_or(J::Null)
            }
        }
        Value::F32(f) => serde_json::Number::from_f64(f64::from(*f))
            .map(J::Number)
            .unwrap_or(J::Null),
        Value::F64(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        Value::String(_) => J::String(value_as_string(v).unwrap_or_default()),
        Value::Binary(b) => match std::str::from_utf8(b) {
            Ok(s) => J::String(s.to_owned()),
            Err(_) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
        },
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = value_as_string(k).unwrap_or_else(|| k.to_string());
                    (key, to_json(v))
                })
                .collect(),
        ),
        Value::Ext(_, _) => J::Null,
    }
}

/// JSON → msgpack, for data Packer passes on to provisioners.
pub fn from_json(v: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                Value::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        J::String(s) => Value::from(s.as_str()),
        J::Array(a) => Value::Array(a.iter().map(from_json).collect()),
        J::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
                .collect(),
        ),
    }
}

/// A string field of a Go struct map ("" when absent, like Go's zero value).
pub(crate) fn field_str(v: &Value, key: &str) -> String {
    map_get(v, key)
        .and_then(value_as_string)
        .unwrap_or_default()
}

/// A uint32 field of a Go struct map (0 when absent).
pub(crate) fn field_u32(v: &Value, key: &str) -> u32 {
    map_get(v, key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

/// A `[]string` field of a Go struct map (empty when absent or nil).
pub(crate) fn field_str_list(v: &Value, key: &str) -> Vec<String> {
    map_get(v, key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(value_as_string).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!({"a": [1, -2, 1.5, "x", null, true], "b": {"c": "d"}});
        assert_eq!(to_json(&from_json(&j)), j);
    }

    #[test]
    fn bin_and_ext_are_tolerated() {
        assert_eq!(
            to_json(&Value::Binary(b"hi".to_vec())),
            serde_json::json!("hi")
        );
        assert_eq!(
            to_json(&Value::Binary(vec![0xff])),
            serde_json::json!([255])
        );
        assert_eq!(
            to_json(&Value::Ext(-1, vec![0; 12])),
            serde_json::Value::Null
        );
    }
}

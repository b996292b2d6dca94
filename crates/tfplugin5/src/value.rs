//! cty values: what Terraform sends and expects for configuration, plans
//! and state. Unlike JSON they can be *unknown* (known only after apply).

use std::collections::BTreeMap;

use crate::Type;

/// A cty number. cty numbers have arbitrary precision; we keep integers
/// and floats natively and anything larger as its decimal text.
#[derive(Debug, Clone)]
pub enum Number {
    /// A whole number that fits in i64.
    Int(i64),
    /// A float (never NaN on the wire).
    Float(f64),
    /// A number too large for the above, in decimal notation.
    Big(String),
}

impl Number {
    /// As i64, when the number is whole and in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Some(*f as i64),
            Number::Float(_) => None,
            Number::Big(s) => s.parse().ok(),
        }
    }

    /// As f64 (possibly losing precision).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Number::Int(i) => Some(*i as f64),
            Number::Float(f) => Some(*f),
            Number::Big(s) => s.parse().ok(),
        }
    }

    /// Parses decimal text, keeping it exact when it does not fit i64/f64.
    pub fn parse(s: &str) -> Option<Number> {
        let s = s.trim();
        if let Ok(i) = s.parse::<i64>() {
            return Some(Number::Int(i));
        }
        let f: f64 = s.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        let is_plain_integer = s
            .trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit());
        if is_plain_integer {
            Some(Number::Big(s.to_string()))
        } else {
            Some(Number::Float(f))
        }
    }
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
            Number::Big(s) => f.write_str(s),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Big(a), Number::Big(b)) => a == b,
            (a, b) => match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => x == y,
                _ => a.as_f64() == b.as_f64() && a.as_f64().is_some(),
            },
        }
    }
}

/// A cty value. `Null` and `Unknown` carry no type: the schema gives it.
/// Sets keep their elements in a `Vec`; equality ignores their order.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// Absent value (attribute not set).
    #[default]
    Null,
    /// Not known until apply ("known after apply").
    Unknown,
    /// A bool.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// A list (ordered).
    List(Vec<Value>),
    /// A set (unordered, no duplicates).
    Set(Vec<Value>),
    /// A map with string keys, all values of one type.
    Map(BTreeMap<String, Value>),
    /// An object: named attributes of fixed types (a resource, a block).
    Object(BTreeMap<String, Value>),
    /// A tuple: fixed-length list of per-position types.
    Tuple(Vec<Value>),
}

/// Shared null returned by lookups that find nothing.
static NULL: Value = Value::Null;

impl Value {
    /// Builds an object from name/value pairs.
    pub fn object<I, S, V>(attrs: I) -> Value
    where
        I: IntoIterator<Item = (S, V)>,
        S: Into<String>,
        V: Into<Value>,
    {
        Value::Object(
            attrs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// Builds a list.
    pub fn list<V: Into<Value>>(items: impl IntoIterator<Item = V>) -> Value {
        Value::List(items.into_iter().map(Into::into).collect())
    }

    /// Builds a set (duplicates are removed).
    pub fn set<V: Into<Value>>(items: impl IntoIterator<Item = V>) -> Value {
        let mut out: Vec<Value> = Vec::new();
        for v in items.into_iter().map(Into::into) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        Value::Set(out)
    }

    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for `Unknown` (this value itself, not nested ones).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when neither this value nor anything inside it is unknown.
    pub fn is_fully_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => v.iter().all(Value::is_fully_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_fully_known),
            _ => true,
        }
    }

    /// Attribute of an object (or entry of a map); `Null` when absent.
    pub fn get(&self, name: &str) -> &Value {
        match self {
            Value::Object(m) | Value::Map(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    /// Sets an attribute; turns a `Null` into an object first. Does
    /// nothing on other kinds of value.
    pub fn set_attr(&mut self, name: &str, value: impl Into<Value>) {
        if self.is_null() {
            *self = Value::Object(BTreeMap::new());
        }
        if let Value::Object(m) | Value::Map(m) = self {
            m.insert(name.to_string(), value.into());
        }
    }

    /// The string, if this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bool, if this is a known bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as i64, if this is a known whole number.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The number as f64.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    /// Elements of a list, set or tuple.
    pub fn as_slice(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// Entries of a map or object.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// Shorthand for `get(name).as_str()`.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).as_str()
    }

    /// Shorthand for `get(name).as_bool()`.
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        self.get(name).as_bool()
    }

    /// Shorthand for `get(name).as_i64()`.
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        self.get(name).as_i64()
    }

    /// Elements of the list/set attribute `name` (empty when null).
    pub fn get_slice(&self, name: &str) -> &[Value] {
        self.get(name).as_slice().unwrap_or(&[])
    }

    /// The known strings of the list/set attribute `name` (nulls and
    /// unknowns skipped), e.g. a rule's `cidr_list`.
    pub fn get_strings(&self, name: &str) -> Vec<String> {
        self.get_slice(name)
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    /// Best-effort type of a known value, used to encode dynamic values.
    pub fn infer_type(&self) -> Type {
        match self {
            Value::Null | Value::Unknown => Type::Dynamic,
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::List(v) => Type::list(v.first().map(Value::infer_type).unwrap_or(Type::Dynamic)),
            Value::Set(v) => Type::set(v.first().map(Value::infer_type).unwrap_or(Type::Dynamic)),
            Value::Map(m) => Type::map(
                m.values()
                    .next()
                    .map(Value::infer_type)
                    .unwrap_or(Type::Dynamic),
            ),
            Value::Object(m) => {
                Type::Object(m.iter().map(|(k, v)| (k.clone(), v.infer_type())).collect())
            }
            Value::Tuple(v) => Type::Tuple(v.iter().map(Value::infer_type).collect()),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) | (Value::Unknown, Value::Unknown) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => a == b,
            (Value::Set(a), Value::Set(b)) => {
                a.len() == b.len()
                    && a.iter().all(|x| b.contains(x))
                    && b.iter().all(|x| a.contains(x))
            }
            (Value::Map(a), Value::Map(b)) | (Value::Object(a), Value::Object(b)) => a == b,
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::String(s.clone())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Number(Number::Int(i))
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Number(Number::Int(i.into()))
    }
}
impl From<u32> for Value {
    fn from(i: u32) -> Value {
        Value::Number(Number::Int(i.into()))
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Number(Number::Float(f))
    }
}
impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Value {
        o.map(Into::into).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_compare_without_order() {
        assert_eq!(Value::set(["a", "b"]), Value::set(["b", "a", "a"]));
        assert_ne!(Value::list(["a", "b"]), Value::list(["b", "a"]));
        assert_ne!(Value::set(["a"]), Value::set(["a", "b"]));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(Value::from(2i64), Value::from(2.0));
        assert_ne!(Value::from(2i64), Value::from(2.5));
        assert_eq!(
            Number::parse("123456789012345678901234567890").unwrap(),
            Number::Big("123456789012345678901234567890".into())
        );
        assert_eq!(Number::parse("1.5"), Some(Number::Float(1.5)));
        assert_eq!(Number::parse("-7"), Some(Number::Int(-7)));
        assert_eq!(Number::parse("x"), None);
    }

    #[test]
    fn accessors() {
        let mut v = Value::object([("name", Value::from("vm1")), ("cpus", 2i64.into())]);
        assert_eq!(v.get_str("name"), Some("vm1"));
        assert_eq!(v.get_i64("cpus"), Some(2));
        assert!(v.get("missing").is_null());
        assert!(v.get_slice("missing").is_empty());
        v.set_attr("cidrs", Value::set(["10.0.0.0/8", "0.0.0.0/0"]));
        assert_eq!(v.get_strings("cidrs"), vec!["10.0.0.0/8", "0.0.0.0/0"]);
        v.set_attr("id", "abc");
        assert_eq!(v.get_str("id"), Some("abc"));
        assert!(v.is_fully_known());
        v.set_attr("ip", Value::Unknown);
        assert!(!v.is_fully_known());
    }
}

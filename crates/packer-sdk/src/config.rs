//! Reading a builder's configuration from the maps Packer passes to `Builder.Prepare`, the
//! way the Go SDK's `config.Decode` (mapstructure, weakly typed) does, and deriving the
//! HCL2 spec from the very same reads.
//!
//! A builder declares each field once, by reading it through [`Fields`]: `f.string(&["zone",
//! "zone_id"])`, `f.bool(&["expunge"])`, ... Each read records the names and their HCL2
//! type, so [`Fields::spec`] after reading an empty configuration is the builder's
//! `ConfigSpec` — no second list of field names to keep in step.
//!
//! Rules:
//! - every problem is collected, each line naming its field, so all are reported at once;
//! - unknown keys are rejected, naming the key ([`Fields::finish`]);
//! - values are weakly typed like mapstructure (`"22"` works for a port, `241` for an id);
//! - strings are rendered with Packer's template functions ([`crate::interpolate`]);
//! - a null value (an unset HCL2 attribute) counts as absent;
//! - two spellings of one setting with different values are an error naming both.

use std::{collections::BTreeMap, time::Duration};

use serde_json::{Map, Value};

use crate::{
    hcl_spec::{CtyType, Spec},
    interpolate::{self, Context},
};

/// The configuration maps of one `Prepare` call, split into the template's builder fields
/// and Packer's own `packer_*` settings. Packer 1.6.6 sends the builder map first for JSON
/// templates and the settings first (as strings) for HCL2 ones; the split does not care.
#[derive(Debug, Clone, Default)]
pub struct PrepareConfigs {
    /// The builder's own fields.
    pub builder: Map<String, Value>,
    /// `packer_build_name`, `packer_debug`, `packer_on_error`, `packer_user_variables`, ...
    pub packer: Map<String, Value>,
}

impl PrepareConfigs {
    /// Merges `configs` in order (later maps win), sorting keys into the two maps.
    pub fn split(configs: &[Value]) -> Self {
        let mut out = PrepareConfigs::default();
        for map in configs.iter().filter_map(Value::as_object) {
            for (k, v) in map {
                let target = if k.starts_with("packer_") {
                    &mut out.packer
                } else {
                    &mut out.builder
                };
                target.insert(k.clone(), v.clone());
            }
        }
        out
    }

    /// A string setting of Packer's ("" when absent).
    pub fn packer_str(&self, key: &str) -> &str {
        self.packer.get(key).and_then(Value::as_str).unwrap_or("")
    }

    /// A boolean setting of Packer's: a JSON bool, or `"true"`/`"false"` (the HCL2 path of
    /// Packer 1.6.6 sends settings as strings).
    pub fn packer_bool(&self, key: &str) -> bool {
        match self.packer.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => parse_bool(s) == Some(true),
            _ => false,
        }
    }

    /// The template-function context of these settings.
    pub fn context(&self) -> Context {
        Context::from_packer_config(&Value::Object(self.packer.clone()))
    }
}

/// mapstructure's weak booleans.
fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Some(true),
        "" | "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

/// The outcome of reading a configuration: the value and warnings, or every error and the
/// warnings.
pub type Outcome<T> = Result<(T, Vec<String>), (Vec<String>, Vec<String>)>;

/// Reads fields out of the builder map, collecting errors and recording the schema; what is
/// left at [`Fields::finish`] is unknown.
#[derive(Debug)]
pub struct Fields<'a> {
    map: Map<String, Value>,
    errors: Vec<String>,
    warnings: Vec<String>,
    ctx: &'a Context,
    schema: BTreeMap<String, CtyType>,
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

impl<'a> Fields<'a> {
    /// Reads `map` with template context `ctx`.
    pub fn new(map: Map<String, Value>, ctx: &'a Context) -> Self {
        Fields {
            map,
            errors: Vec::new(),
            warnings: Vec::new(),
            ctx,
            schema: BTreeMap::new(),
        }
    }

    /// The template-function context (its `uuid` is the build's).
    pub fn context(&self) -> &Context {
        self.ctx
    }

    /// Records a problem (naming its field).
    pub fn error(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    /// Records a warning (naming its field).
    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    /// Whether an error has been recorded so far.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Whether the map holds a non-null value under `name` (not consumed, not recorded).
    pub fn is_set(&self, name: &str) -> bool {
        self.map.get(name).is_some_and(|v| !v.is_null())
    }

    fn declare(&mut self, names: &[&'static str], ty: CtyType) {
        for name in names {
            self.schema.insert((*name).to_owned(), ty.clone());
        }
    }

    /// Takes the value of the first present name; a second spelling with a different value is
    /// an error naming both.
    fn take(&mut self, names: &[&'static str]) -> Option<(&'static str, Value)> {
        let mut found: Option<(&'static str, Value)> = None;
        for name in names {
            if let Some(v) = self.map.remove(*name) {
                if v.is_null() {
                    continue;
                }
                match &found {
                    Some((first, fv)) if *fv != v => self.errors.push(format!(
                        "{first} and {name} are two spellings of one setting and disagree; set one"
                    )),
                    Some(_) => {}
                    None => found = Some((name, v)),
                }
            }
        }
        found
    }

    /// A string as given, not rendered (for values rendered later, like `user_data`).
    pub fn string_raw(&mut self, names: &[&'static str]) -> Option<String> {
        self.declare(names, CtyType::String);
        self.string_value(names)
    }

    fn string_value(&mut self, names: &[&'static str]) -> Option<String> {
        let (name, v) = self.take(names)?;
        match v {
            Value::String(s) => Some(s),
            // A JSON template's numbers arrive as Go float64: 241 comes as 241.0 and reads
            // "241", as mapstructure's weak decoding formats it.
            Value::Number(n) if n.is_f64() => n.as_f64().map(|f| f.to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                self.errors.push(format!(
                    "{name}: must be a string, not {}",
                    describe(&other)
                ));
                None
            }
        }
    }

    /// Renders Packer's template functions in `s`; an error names `name`.
    pub fn render(&mut self, name: &str, s: String) -> Option<String> {
        match interpolate::render(&s, self.ctx) {
            Ok(r) => Some(r),
            Err(e) => {
                self.errors.push(format!("{name}: {e}"));
                None
            }
        }
    }

    /// A rendered, non-empty string.
    pub fn string(&mut self, names: &[&'static str]) -> Option<String> {
        let s = self.string_raw(names)?;
        let s = self.render(names[0], s)?;
        (!s.is_empty()).then_some(s)
    }

    /// A weak boolean (`true`, `"true"`, `1`, `"f"`, ...); absent is false.
    pub fn bool(&mut self, names: &[&'static str]) -> bool {
        self.declare(names, CtyType::Bool);
        let Some((name, v)) = self.take(names) else {
            return false;
        };
        match &v {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => parse_bool(s).unwrap_or_else(|| {
                self.errors
                    .push(format!("{name}: {s:?} is not a boolean (true/false)"));
                false
            }),
            other => {
                self.errors.push(format!(
                    "{name}: must be a boolean, not {}",
                    describe(other)
                ));
                false
            }
        }
    }

    /// A whole number from 0 to `max` (a number or a numeric string). Packer decodes JSON
    /// template numbers as Go `float64`, so `2222.0` arrives for `2222` and counts as whole.
    pub fn uint(&mut self, names: &[&'static str], max: u64) -> Option<u64> {
        self.declare(names, CtyType::Number);
        let (name, v) = self.take(names)?;
        let n = match &v {
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= max as f64)
                    .map(|f| f as u64)
            }),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n <= max => Some(n),
            _ => {
                self.errors.push(format!(
                    "{name}: must be a whole number from 0 to {max}, not {v}"
                ));
                None
            }
        }
    }

    /// A Go duration string (`"30s"`, `"1h30m"`).
    pub fn duration(&mut self, names: &[&'static str]) -> Option<Duration> {
        let s = self.string_raw(names)?;
        let s = self.render(names[0], s)?;
        match go_duration::parse(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.errors.push(format!(
                    "{}: {s:?} is not a duration: {e} (like \"30s\", \"15m\", \"1h30m\")",
                    names[0]
                ));
                None
            }
        }
    }

    /// A list of strings; a single string counts as a one-element list.
    pub fn string_list(&mut self, names: &[&'static str]) -> Option<Vec<String>> {
        self.declare(names, CtyType::List(Box::new(CtyType::String)));
        let (name, v) = self.take(names)?;
        let items = match v {
            Value::Array(a) => a,
            Value::String(s) => vec![Value::String(s)],
            other => {
                self.errors.push(format!(
                    "{name}: must be a list of strings, not {}",
                    describe(&other)
                ));
                return None;
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Value::String(s) => {
                    if let Some(r) = self.render(name, s) {
                        out.push(r);
                    }
                }
                Value::Number(n) => out.push(n.to_string()),
                other => self.errors.push(format!(
                    "{name}[{i}]: must be a string, not {}",
                    describe(&other)
                )),
            }
        }
        Some(out)
    }

    /// A map of strings (numbers and booleans are turned into strings).
    pub fn string_map(&mut self, names: &[&'static str]) -> BTreeMap<String, String> {
        self.declare(names, CtyType::Map(Box::new(CtyType::String)));
        let Some((name, v)) = self.take(names) else {
            return BTreeMap::new();
        };
        let Value::Object(m) = v else {
            self.errors.push(format!(
                "{name}: must be a map of strings, not {}",
                describe(&v)
            ));
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for (k, v) in m {
            let s = match v {
                Value::String(s) => self.render(name, s),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                other => {
                    self.errors.push(format!(
                        "{name}.{k}: must be a string, not {}",
                        describe(&other)
                    ));
                    None
                }
            };
            if let Some(s) = s {
                out.insert(k, s);
            }
        }
        out
    }

    /// A field accepted so templates written for the Go builder validate, but not acted on:
    /// using it warns, naming it.
    pub fn accepted_but_ignored(&mut self, name: &'static str, ty: CtyType) {
        self.declare(&[name], ty);
        if self.take(&[name]).is_some() {
            self.warnings.push(format!(
                "{name}: accepted for compatibility but not used by this builder yet"
            ));
        }
    }

    /// The HCL2 object spec of every field read so far (all optional: the builder checks
    /// what is required itself, naming the field).
    pub fn spec(&self) -> Spec {
        Spec::object_of_attrs(self.schema.iter().map(|(k, t)| (k.as_str(), t.clone())))
    }

    /// Reports every key nobody read as unknown, and returns `value` with the warnings, or
    /// every error.
    pub fn finish<T>(mut self, value: Option<T>) -> Outcome<T> {
        let mut unknown: Vec<String> = self.map.keys().cloned().collect();
        unknown.sort();
        for key in unknown {
            self.errors
                .push(format!("unknown configuration key: {key:?}"));
        }
        match value {
            Some(v) if self.errors.is_empty() => Ok((v, self.warnings)),
            _ => {
                if self.errors.is_empty() {
                    self.errors.push("incomplete configuration".into());
                }
                Err((self.errors, self.warnings))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value, ctx: &Context) -> Fields<'_> {
        Fields::new(v.as_object().cloned().unwrap_or_default(), ctx)
    }

    #[test]
    fn reads_record_the_spec_with_types() {
        let ctx = Context::default();
        let mut f = fields(json!({}), &ctx);
        let _ = f.string(&["zone", "zone_id"]);
        let _ = f.bool(&["expunge"]);
        let _ = f.uint(&["ssh_port"], 65_535);
        let _ = f.duration(&["ssh_timeout"]);
        let _ = f.string_list(&["cidr_list"]);
        let _ = f.string_map(&["tags"]);
        f.accepted_but_ignored("ssh_ciphers", CtyType::List(Box::new(CtyType::String)));
        let Spec::Object(attrs) = f.spec() else {
            panic!("not an object")
        };
        let types: Vec<(&str, CtyType)> = attrs
            .iter()
            .map(|(k, v)| match v {
                Spec::Attr { ty, required, .. } => {
                    assert!(!required);
                    (k.as_str(), ty.clone())
                }
                other => panic!("{k}: {other:?}"),
            })
            .collect();
        let list = CtyType::List(Box::new(CtyType::String));
        assert_eq!(
            types,
            [
                ("cidr_list", list.clone()),
                ("expunge", CtyType::Bool),
                ("ssh_ciphers", list),
                ("ssh_port", CtyType::Number),
                ("ssh_timeout", CtyType::String),
                ("tags", CtyType::Map(Box::new(CtyType::String))),
                ("zone", CtyType::String),
                ("zone_id", CtyType::String),
            ]
        );
    }

    #[test]
    fn weak_types_nulls_spellings_and_unknown_keys() {
        let ctx = Context::default();
        let mut f = fields(
            json!({"port": "22", "on": "t", "off": 0, "id": 241, "unset": null,
                   "a": "x", "b": "y", "stray": 1, "bad": "maybe"}),
            &ctx,
        );
        assert_eq!(f.uint(&["port"], 65_535), Some(22));
        assert!(f.bool(&["on"]));
        assert!(!f.bool(&["off"]));
        assert!(!f.bool(&["bad"]));
        assert_eq!(f.string(&["id"]).as_deref(), Some("241"));
        assert_eq!(f.string(&["unset"]), None);
        assert_eq!(f.string(&["a", "b"]).as_deref(), Some("x"));
        let (errors, _) = f.finish(Some(())).unwrap_err();
        let all = errors.join("\n");
        assert!(all.contains("a and b are two spellings"), "{all}");
        assert!(all.contains("bad: \"maybe\" is not a boolean"), "{all}");
        assert!(
            all.contains("unknown configuration key: \"stray\""),
            "{all}"
        );
    }

    #[test]
    fn packer_json_numbers_arrive_as_floats_and_still_read_whole() {
        let ctx = Context::default();
        let mut f = fields(
            json!({"port": 2222.0, "id": 241.0, "ratio": 1.5, "big": 70000.0, "neg": -1.0}),
            &ctx,
        );
        assert_eq!(f.uint(&["port"], 65_535), Some(2222));
        assert_eq!(f.string(&["id"]).as_deref(), Some("241"));
        assert_eq!(f.string(&["ratio"]).as_deref(), Some("1.5"));
        assert_eq!(f.uint(&["big"], 65_535), None);
        assert_eq!(f.uint(&["neg"], 65_535), None);
        let (errors, _) = f.finish(Some(())).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn ignored_fields_warn_by_name() {
        let ctx = Context::default();
        let mut f = fields(json!({"ssh_bastion_host": "b"}), &ctx);
        f.accepted_but_ignored("ssh_bastion_host", CtyType::String);
        f.accepted_but_ignored("ssh_proxy_host", CtyType::String);
        let ((), warnings) = f.finish(Some(())).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with("ssh_bastion_host:"), "{warnings:?}");
    }

    #[test]
    fn prepare_configs_split_in_either_order() {
        // JSON templates: builder map first; HCL2 on 1.6.6: settings (strings) first.
        let json = PrepareConfigs::split(&[
            json!({"zone": "z"}),
            json!({"packer_debug": true, "packer_on_error": "abort"}),
        ]);
        let hcl = PrepareConfigs::split(&[
            json!({"packer_debug": "true", "packer_on_error": "abort"}),
            json!({"zone": "z", "packer_build_name": "x"}),
        ]);
        for c in [&json, &hcl] {
            assert_eq!(c.builder.get("zone"), Some(&json!("z")));
            assert!(c.packer_bool("packer_debug"));
            assert_eq!(c.packer_str("packer_on_error"), "abort");
            assert!(!c.builder.contains_key("packer_debug"));
        }
        assert!(!PrepareConfigs::split(&[]).packer_bool("packer_force"));
    }
}

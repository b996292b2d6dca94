//! A request's parameters with CloudStack's validation errors (431 with its wording).

use crate::error::ApiError;
use std::collections::BTreeMap;

/// Parameters of one API call, names lower-cased (CloudStack matches names case-insensitively).
#[derive(Debug, Clone)]
pub struct Params {
    /// The command name as sent (`deployVirtualMachine`).
    pub command: String,
    map: BTreeMap<String, String>,
}

impl Params {
    /// Builds from decoded `(name, value)` pairs; the first value of a name wins, as in
    /// Java's `getParameterMap()[name][0]`.
    pub fn new(command: &str, pairs: &[(String, String)]) -> Self {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            map.entry(k.to_lowercase()).or_insert_with(|| v.clone());
        }
        Params {
            command: command.to_string(),
            map,
        }
    }

    fn cmd_lower(&self) -> String {
        self.command.to_lowercase()
    }

    /// A non-empty parameter (CloudStack treats empty values as absent).
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A required parameter.
    pub fn req(&self, name: &str) -> Result<&str, ApiError> {
        self.opt(name).ok_or_else(|| {
            ApiError::server_param(format!(
                "Unable to execute API command {} due to missing parameter {}",
                self.cmd_lower(),
                name
            ))
        })
    }

    /// The error CloudStack gives for an id that is malformed or names nothing.
    pub fn invalid_id(&self, name: &str, value: &str) -> ApiError {
        ApiError::server_param(format!(
            "Unable to execute API command {} due to invalid value. Invalid parameter {} value={} due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.",
            self.cmd_lower(),
            name,
            value
        ))
    }

    /// The error for a value of the wrong type (`"abc"` for an integer).
    pub fn invalid_value(&self, name: &str, value: &str, kind: &str) -> ApiError {
        ApiError::server_param(format!(
            "Unable to execute API command {} due to invalid value {} for parameter {}: expected {}",
            self.cmd_lower(),
            value,
            name,
            kind
        ))
    }

    /// An optional boolean (`true`/`false`, case-insensitive).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(self.invalid_value(name, v, "a boolean")),
        }
    }

    /// An optional boolean with a default.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        Ok(self.bool(name)?.unwrap_or(default))
    }

    /// An optional integer.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.opt(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| self.invalid_value(name, v, "an integer")),
        }
    }

    /// A required integer.
    pub fn req_int(&self, name: &str) -> Result<i64, ApiError> {
        self.req(name)?;
        self.int(name)?
            .ok_or_else(|| self.invalid_value(name, "", "an integer"))
    }

    /// A comma separated list (`networkids=a,b`).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.opt(name)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// CloudStack's map parameters: `tags[0].key=k&tags[0].value=v` → `[(k, v)]`, in index order.
    pub fn map_list(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        let prefix = format!("{name}[");
        let mut by_index: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &self.map {
            let Some(rest) = k.strip_prefix(&prefix) else {
                continue;
            };
            let Some((idx, field)) = rest.split_once("].") else {
                continue;
            };
            let Ok(idx) = idx.parse::<u32>() else {
                continue;
            };
            by_index
                .entry(idx)
                .or_default()
                .insert(field.to_string(), v.clone());
        }
        by_index.into_values().collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_first_value_wins() {
        let p = Params::new(
            "deployVirtualMachine",
            &[
                ("ZoneId".into(), "a".into()),
                ("zoneid".into(), "b".into()),
                ("empty".into(), "".into()),
            ],
        );
        assert_eq!(p.opt("zoneid"), Some("a"));
        assert_eq!(p.opt("empty"), None);
        let err = p.req("templateid").unwrap_err();
        assert_eq!(err.errorcode, 431);
        assert_eq!(
            err.errortext,
            "Unable to execute API command deployvirtualmachine due to missing parameter templateid"
        );
    }

    #[test]
    fn map_parameters() {
        let p = Params::new(
            "createTags",
            &[
                ("tags[1].key".into(), "b".into()),
                ("tags[1].value".into(), "2".into()),
                ("tags[0].key".into(), "a".into()),
                ("tags[0].value".into(), "1".into()),
            ],
        );
        let tags = p.map_list("tags");
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0]["key"], "a");
        assert_eq!(tags[1]["value"], "2");
    }
}

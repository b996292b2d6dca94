//! The Go SDK's `timeouts { create = "20m" }` block: declare it with
//! [`crate::Block::timeouts`], read it with [`timeout`]. Durations use Go's
//! `time.ParseDuration` syntax (`"90s"`, `"10m"`, `"1h30m"`, `"1.5h"`),
//! parsed by the workspace's one Go-duration parser (`go-duration`).
//!
//! The server checks every value with [`validate`] at validate and plan
//! time, so a bad value fails `terraform plan`, not half-way through apply.

use std::time::Duration;

use crate::{AttributePath, Diagnostic, Diagnostics, Value};

/// The timeout for `operation` from a resource value's `timeouts` block,
/// or `default` when unset. A malformed value is an error naming the
/// attribute.
pub fn timeout(value: &Value, operation: &str, default: Duration) -> Result<Duration, Diagnostic> {
    let Some(text) = value.get("timeouts").get_str(operation) else {
        return Ok(default);
    };
    go_duration::parse(text).map_err(|e| invalid(operation, text, &e))
}

/// Checks every known value of a resource config's `timeouts` block (unknown
/// values, e.g. from a variable not yet known, are checked once known).
pub fn validate(config: &Value, diags: &mut Diagnostics) {
    let Some(ops) = config.get("timeouts").as_map() else {
        return;
    };
    for (op, v) in ops {
        if let Some(text) = v.as_str() {
            if let Err(e) = go_duration::parse(text) {
                diags.push(invalid(op, text, &e));
            }
        }
    }
}

fn invalid(operation: &str, text: &str, e: &go_duration::DurationError) -> Diagnostic {
    Diagnostic::error(
        format!("Invalid timeouts.{operation}"),
        format!("{text:?} is not a duration: {e}. Write e.g. \"30s\", \"10m\" or \"1h30m\"."),
    )
    .at(AttributePath::attr("timeouts").then(operation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_block() {
        let v = Value::object([("timeouts", Value::object([("create", "20m")]))]);
        let d = Duration::from_secs(60);
        assert_eq!(timeout(&v, "create", d).unwrap(), Duration::from_secs(1200));
        assert_eq!(timeout(&v, "delete", d).unwrap(), d);
        assert_eq!(timeout(&Value::Null, "create", d).unwrap(), d);
        let bad = Value::object([("timeouts", Value::object([("create", "soon")]))]);
        let err = timeout(&bad, "create", d).unwrap_err();
        assert_eq!(err.attribute.unwrap().to_string(), "timeouts.create");
    }

    #[test]
    fn absurd_values_are_diagnostics_not_panics() {
        let bad = Value::object([(
            "timeouts",
            Value::object([("create", "99999999999999999999h")]),
        )]);
        let err = timeout(&bad, "create", Duration::from_secs(1)).unwrap_err();
        assert!(
            err.detail.contains("longer than the largest"),
            "{}",
            err.detail
        );
    }

    #[test]
    fn validate_names_each_bad_operation_and_skips_unknowns() {
        let config = Value::object([(
            "timeouts",
            Value::object([
                ("create", Value::from("99999999999999999999h")),
                ("delete", Value::from("10")),
                ("update", Value::Unknown),
                ("read", Value::Null),
            ]),
        )]);
        let mut diags = Diagnostics::default();
        validate(&config, &mut diags);
        let paths: Vec<String> = diags
            .0
            .iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect();
        assert_eq!(paths, ["timeouts.create", "timeouts.delete"]);
        let mut none = Diagnostics::default();
        validate(&Value::object([("timeouts", Value::Null)]), &mut none);
        assert!(!none.has_errors());
    }
}

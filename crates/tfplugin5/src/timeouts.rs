//! The Go SDK's `timeouts { create = "20m" }` block: declare it with
//! [`crate::Block::timeouts`], read it with [`timeout`]. Durations use Go's
//! `time.ParseDuration` syntax (`"90s"`, `"10m"`, `"1h30m"`, `"1.5h"`),
//! parsed here by hand because it is a few lines and no crate matches Go's
//! grammar exactly.

use std::time::Duration;

use crate::{Diagnostic, Value};

/// Parses a Go-style duration: one or more `<number><unit>` pairs, units
/// `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`; `"0"` alone is zero.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let s = text.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * secs;
    }
    Some(Duration::from_secs_f64(total))
}

/// The timeout for `operation` from a resource value's `timeouts` block,
/// or `default` when unset. A malformed value is an error naming the
/// attribute.
pub fn timeout(value: &Value, operation: &str, default: Duration) -> Result<Duration, Diagnostic> {
    let Some(text) = value.get("timeouts").get_str(operation) else {
        return Ok(default);
    };
    parse_duration(text).ok_or_else(|| {
        Diagnostic::error(
            format!("Invalid timeouts.{operation}"),
            format!("{text:?} is not a duration; write e.g. \"30s\", \"10m\" or \"1h30m\"."),
        )
        .at(crate::AttributePath::attr("timeouts").then(operation))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        for bad in ["", "10", "m", "10x", "1h-3m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

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
}

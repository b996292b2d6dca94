//! Go's `time.ParseDuration` grammar, `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` or `0`, for the Go
//! plugins' duration settings (Terraform `timeouts`, Packer `ssh_timeout` and friends).
//!
//! Parsed with integer arithmetic in nanoseconds, so an absurd value such as
//! `"99999999999999999999h"` is an error, not a panic or a wrapped number. Negative durations
//! are rejected: every caller uses the result as a timeout.

use std::time::Duration;

/// Go's largest duration: `i64::MAX` nanoseconds (about 292 years).
pub const MAX_NANOS: u64 = i64::MAX as u64;

/// Why a text is not a Go duration. The messages complete "`<text>` is not a duration: ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing but blanks.
    #[error("it is empty")]
    Empty,
    /// A leading `-` on a non-zero value.
    #[error("it is negative")]
    Negative,
    /// A number without a unit, e.g. `"10"` (Go accepts only `"0"` without one).
    #[error("a number has no unit (ns, us, ms, s, m or h)")]
    MissingUnit,
    /// A unit Go does not know, e.g. `"10x"` or `"2d"`.
    #[error("unknown unit {0:?} (use ns, us, ms, s, m or h)")]
    UnknownUnit(String),
    /// Not of the form `<number><unit>...`.
    #[error("expected <number><unit> pairs such as \"30s\", \"10m\" or \"1h30m\"")]
    Syntax,
    /// Longer than Go's largest duration.
    #[error("it is longer than the largest duration Go allows (2562047h47m16.854775807s)")]
    TooLong,
}

/// Nanoseconds per unit, as Go's `unitMap`.
fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Parses `text` (surrounding blanks ignored) as Go's `time.ParseDuration` does.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let mut s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(DurationError::Syntax);
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        // [0-9]*
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, rest) = s.split_at(int_len);
        s = rest;
        // (\.[0-9]*)?
        let mut frac_digits = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            (frac_digits, s) = rest.split_at(frac_len);
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(DurationError::Syntax);
        }
        // [a-z]+ (anything up to the next number, as Go does)
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit);
        }
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let per_unit =
            unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit(unit.to_string()))?;
        total = total
            .checked_add(amount(int_digits, frac_digits, per_unit)?)
            .filter(|t| *t <= MAX_NANOS)
            .ok_or(DurationError::TooLong)?;
    }
    if negative && total > 0 {
        return Err(DurationError::Negative);
    }
    Ok(Duration::from_nanos(total))
}

/// `int.frac` units in nanoseconds, exact (Go rounds the fraction through a float; the two
/// differ by at most a nanosecond).
fn amount(int_digits: &str, frac_digits: &str, per_unit: u64) -> Result<u64, DurationError> {
    let mut whole: u64 = 0;
    for d in int_digits.bytes() {
        whole = whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(u64::from(d - b'0')))
            .filter(|w| *w <= MAX_NANOS)
            .ok_or(DurationError::TooLong)?;
    }
    let whole = whole
        .checked_mul(per_unit)
        .filter(|w| *w <= MAX_NANOS)
        .ok_or(DurationError::TooLong)?;
    // Digits past the 18th cannot add a nanosecond to any unit up to an hour.
    let mut frac: u128 = 0;
    let mut scale: u128 = 1;
    for d in frac_digits.bytes().take(18) {
        frac = frac * 10 + u128::from(d - b'0');
        scale *= 10;
    }
    let part =
        u64::try_from(frac * u128::from(per_unit) / scale).map_err(|_| DurationError::TooLong)?;
    whole.checked_add(part).ok_or(DurationError::TooLong)
}

/// Formats a duration the way Go's `Duration.String` does (`"1h30m0s"`, `"1.5s"`,
/// `"300ms"`, `"0s"`), so messages show values in the syntax users write.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (unit, per) = if nanos < 1_000 {
            ("ns", 1)
        } else if nanos < 1_000_000 {
            ("\u{b5}s", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", decimal(nanos, per));
    }
    let secs = nanos / 1_000_000_000;
    let sub = nanos % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let seconds = decimal(s * 1_000_000_000 + sub, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// `n / per` with the fraction's trailing zeros dropped.
fn decimal(n: u128, per: u128) -> String {
    let (whole, frac) = (n / per, n % per);
    if frac == 0 {
        return whole.to_string();
    }
    let width = per.ilog10() as usize;
    let frac = format!("{frac:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn go_examples() {
        for (text, want) in [
            ("90s", Duration::from_secs(90)),
            ("10m", Duration::from_secs(600)),
            ("1h30m", Duration::from_secs(5400)),
            ("1.5h", Duration::from_secs(5400)),
            ("300ms", Duration::from_millis(300)),
            ("2h45m", Duration::from_secs(9900)),
            (".5s", Duration::from_millis(500)),
            ("5.s", Duration::from_secs(5)),
            ("1µs", Duration::from_micros(1)),
            ("1μs", Duration::from_micros(1)),
            ("1us", Duration::from_micros(1)),
            ("+15m", Duration::from_secs(900)),
            (" 20m ", Duration::from_secs(1200)),
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("2562047h47m16.854775807s", Duration::from_nanos(MAX_NANOS)),
        ] {
            assert_eq!(parse(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn go_rejections_with_reasons() {
        use DurationError::*;
        for (text, want) in [
            ("", Empty),
            ("   ", Empty),
            ("10", MissingUnit),
            ("1h30", MissingUnit),
            ("m", Syntax),
            (".", Syntax),
            ("-", Syntax),
            ("+", Syntax),
            ("10x", UnknownUnit("x".into())),
            ("2d", UnknownUnit("d".into())),
            ("1h-3m", UnknownUnit("h-".into())),
            ("-5m", Negative),
            ("99999999999999999999h", TooLong),
            ("2562047h47m16.854775808s", TooLong),
            ("2562048h", TooLong),
            ("9223372036854775808ns", TooLong),
        ] {
            assert_eq!(parse(text), Err(want), "{text:?}");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_millis(300)), "300ms");
        assert_eq!(format(Duration::from_micros(2)), "2µs");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_secs(61)), "1m1s");
    }

    fn unit() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["ns", "us", "µs", "μs", "ms", "s", "m", "h"])
    }

    proptest! {
        /// Whatever Go's `Duration.String` would print parses back to the same value.
        #[test]
        fn format_round_trips(nanos in 0..=MAX_NANOS) {
            let d = Duration::from_nanos(nanos);
            prop_assert_eq!(parse(&format(d)), Ok(d));
        }

        /// `<n><unit>` pairs sum as Go sums them.
        #[test]
        fn pairs_sum(pairs in prop::collection::vec((0u64..100_000, unit()), 1..5)) {
            let text: String = pairs.iter().map(|(n, u)| format!("{n}{u}")).collect();
            let want: u64 = pairs.iter().map(|(n, u)| n * unit_nanos(u).unwrap_or(0)).sum();
            prop_assert_eq!(parse(&text), Ok(Duration::from_nanos(want)));
        }

        /// A number with no unit after it is always rejected (except Go's bare `0`).
        #[test]
        fn unitless_numbers_are_rejected(n in 1u64.., frac in proptest::option::of(0u32..1000)) {
            let text = match frac { Some(f) => format!("{n}.{f}"), None => n.to_string() };
            prop_assert_eq!(parse(&text), Err(DurationError::MissingUnit));
        }

        /// Any text at all: an answer, never a panic, never more than Go's maximum.
        #[test]
        fn never_panics(text in ".{0,40}") {
            if let Ok(d) = parse(&text) {
                prop_assert!(d.as_nanos() <= u128::from(MAX_NANOS));
            }
        }

        /// Durations built from digits and units only, of any size: same guarantee.
        #[test]
        fn huge_numbers_never_panic(text in "[0-9.]{1,30}(ns|us|ms|s|m|h)([0-9.]{1,30}(ns|us|ms|s|m|h))?") {
            match parse(&text) {
                Ok(d) => prop_assert!(d.as_nanos() <= u128::from(MAX_NANOS)),
                Err(e) => prop_assert!(
                    matches!(e, DurationError::TooLong | DurationError::Syntax | DurationError::MissingUnit),
                    "{e:?}"
                ),
            }
        }
    }
}

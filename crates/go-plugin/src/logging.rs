//! Logs in the shape go-plugin hosts understand: one hclog JSON object per
//! line on stderr (`@level`, `@message`, `@timestamp`, then fields). The
//! host re-emits each line at its own level, so `TF_LOG=debug` shows our
//! debug lines and hides our trace lines.
//!
//! Written by hand (a small `tracing_subscriber::Layer`) because the stock
//! JSON formatter nests fields and uses other key names and a timestamp
//! layout go-plugin's parser rejects.

use std::{fmt::Write as _, io::Write as _};

use serde_json::{Map, Value};
use tracing::{field::Field, Event, Level, Subscriber};
use tracing_subscriber::{
    filter::{LevelFilter, Targets},
    layer::Context,
    prelude::*,
    registry::LookupSpan,
    Layer,
};

/// Picks our level from the host's log variables, the first one set wins
/// (for Terraform: `TF_LOG_PROVIDER`, then `TF_LOG`). Unset means warnings
/// and errors only; an unrecognised non-empty value means trace, as
/// Terraform does; `off` silences us.
pub fn level_from_env(values: &[Option<String>]) -> LevelFilter {
    let Some(v) = values.iter().flatten().find(|v| !v.trim().is_empty()) else {
        return LevelFilter::WARN;
    };
    match v.trim().to_ascii_lowercase().as_str() {
        "error" => LevelFilter::ERROR,
        "warn" => LevelFilter::WARN,
        "info" => LevelFilter::INFO,
        "debug" => LevelFilter::DEBUG,
        "off" => LevelFilter::OFF,
        _ => LevelFilter::TRACE,
    }
}

/// Installs the hclog-style stderr logger as the global subscriber.
/// Returns false when a subscriber was already installed.
/// Transport libraries (h2, hyper, rustls, tonic) are very chatty at debug;
/// they log at warn and above unless the level is trace.
pub fn init(level: LevelFilter) -> bool {
    tracing_subscriber::registry()
        .with(HclogLayer.with_filter(filter(level)))
        .try_init()
        .is_ok()
}

/// Our crates at `level`, transport libraries quieter (see [`init`]).
fn filter(level: LevelFilter) -> Targets {
    const TRANSPORT: [&str; 8] = [
        "h2",
        "hyper",
        "hyper_util",
        "rustls",
        "tokio_rustls",
        "tonic",
        "tower",
        "log",
    ];
    let transport = if level == LevelFilter::TRACE {
        LevelFilter::TRACE
    } else {
        level.min(LevelFilter::WARN)
    };
    TRANSPORT
        .iter()
        .fold(Targets::new().with_default(level), |t, name| {
            t.with_target(*name, transport)
        })
}

/// Makes a panic anywhere end the plugin the way a Go plugin's panic does:
/// `panic: <message>` and a backtrace as plain stderr lines (the host
/// recognises them and shows them as the plugin's crash report), then
/// exit with status 2. Without this a panic in one gRPC handler would only
/// drop a connection and leave the host guessing.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "panic: {info}\n");
        let _ = err.flush();
        let backtrace = std::backtrace::Backtrace::force_capture();
        let _ = writeln!(err, "{backtrace}");
        let _ = err.flush();
        // The host reads our stderr on its own schedule; while we are alive
        // the failing call is still pending, so give the reader a moment to
        // record the crash report before the call fails.
        std::thread::sleep(std::time::Duration::from_millis(300));
        std::process::exit(2);
    }));
}

/// `tracing` layer writing hclog JSON lines to stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct HclogLayer;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for HclogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = format_event(event, time::OffsetDateTime::now_utc());
        let mut err = std::io::stderr().lock();
        // A failed log write has nowhere to be reported.
        let _ = err.write_all(line.as_bytes());
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// go-plugin parses `@timestamp` with Go layout
/// `2006-01-02T15:04:05.000000Z07:00`.
fn timestamp(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

fn format_event(event: &Event<'_>, now: time::OffsetDateTime) -> String {
    let mut fields = FieldVisitor::default();
    event.record(&mut fields);
    let mut obj = Map::new();
    obj.insert("@level".into(), level_name(event.metadata().level()).into());
    obj.insert("@message".into(), Value::String(fields.message));
    obj.insert("@module".into(), event.metadata().target().into());
    obj.insert("@timestamp".into(), timestamp(now).into());
    obj.extend(fields.rest);
    let mut line = Value::Object(obj).to_string();
    line.push('\n');
    line
}

#[derive(Default)]
struct FieldVisitor {
    message: String,
    rest: Map<String, Value>,
}

impl tracing::field::Visit for FieldVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.rest
                .insert(field.name().into(), format!("{value:?}").into());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.rest.insert(field.name().into(), value.into());
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.rest.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.rest.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.rest.insert(field.name().into(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn level_follows_tf_log() {
        assert_eq!(level_from_env(&[None, None]), LevelFilter::WARN);
        assert_eq!(
            level_from_env(&[None, Some("DEBUG".into())]),
            LevelFilter::DEBUG
        );
        assert_eq!(
            level_from_env(&[Some("info".into()), Some("trace".into())]),
            LevelFilter::INFO
        );
        assert_eq!(level_from_env(&[Some("1".into())]), LevelFilter::TRACE);
        assert_eq!(level_from_env(&[Some("OFF".into())]), LevelFilter::OFF);
    }

    #[test]
    fn transport_crates_stay_quiet_below_trace() {
        let f = filter(LevelFilter::DEBUG);
        assert!(f.would_enable("tfplugin5::server", &Level::DEBUG));
        assert!(!f.would_enable("h2::codec", &Level::DEBUG));
        assert!(f.would_enable("rustls::server", &Level::WARN));
        assert!(filter(LevelFilter::TRACE).would_enable("h2::codec", &Level::TRACE));
        assert!(!filter(LevelFilter::ERROR).would_enable("h2", &Level::WARN));
    }

    #[test]
    fn timestamp_matches_go_layout() {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_627_376_703_000_042_000).unwrap();
        assert_eq!(timestamp(t), "2021-07-27T09:05:03.000042Z");
    }

    /// Captures formatted lines instead of writing them to stderr.
    struct Capture(Arc<Mutex<Vec<String>>>);
    impl<S: Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let now = time::OffsetDateTime::UNIX_EPOCH;
            self.0.lock().unwrap().push(format_event(event, now));
        }
    }

    #[test]
    fn events_become_hclog_json() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sub = tracing_subscriber::registry().with(Capture(lines.clone()));
        tracing::subscriber::with_default(sub, || {
            tracing::debug!(type_name = "cloudstack_instance", count = 3, "planning");
        });
        let lines = lines.lock().unwrap();
        let v: Value = serde_json::from_str(lines[0].trim_end()).unwrap();
        assert_eq!(v["@level"], "debug");
        assert_eq!(v["@message"], "planning");
        assert_eq!(v["@timestamp"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(v["type_name"], "cloudstack_instance");
        assert_eq!(v["count"], 3);
        assert!(lines[0].ends_with('\n'));
    }
}

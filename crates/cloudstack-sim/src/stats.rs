//! Request counters served at `GET /sim/stats` (benchmarks and tests count API calls).

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct Counters {
    requests: BTreeMap<String, u64>,
    statuses: BTreeMap<u16, u64>,
    faults: BTreeMap<&'static str, u64>,
    total: u64,
}

/// Thread-safe request statistics.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<Counters>,
}

impl Stats {
    /// Counts one request for `command` (as sent) answered with `status`.
    pub fn record(&self, command: &str, status: u16) {
        if let Ok(mut c) = self.inner.lock() {
            *c.requests.entry(command.to_string()).or_default() += 1;
            *c.statuses.entry(status).or_default() += 1;
            c.total += 1;
        }
    }
    /// Counts one injected fault.
    pub fn record_fault(&self, name: &'static str) {
        if let Ok(mut c) = self.inner.lock() {
            *c.faults.entry(name).or_default() += 1;
        }
    }
    /// `{"requests": {...}, "total": N, "statuses": {...}, "faults": N, "fault_kinds": {...}}`.
    pub fn to_json(&self) -> Value {
        match self.inner.lock() {
            Ok(c) => json!({
                "requests": c.requests,
                "total": c.total,
                "statuses": c.statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
                "faults": c.faults.values().sum::<u64>(),
                "fault_kinds": c.faults,
            }),
            Err(_) => json!({}),
        }
    }
}

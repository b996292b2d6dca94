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
    /// Each async job's drawn latency in milliseconds, by job id.
    job_latency_ms: BTreeMap<String, u64>,
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
    /// Records the latency drawn for job `jobid` (with `--job-latency-jitter` each job's
    /// differs), so a benchmark can compute the critical path the run really had.
    pub fn record_job_latency(&self, jobid: &str, latency: std::time::Duration) {
        if let Ok(mut c) = self.inner.lock() {
            let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
            c.job_latency_ms.insert(jobid.to_string(), ms);
        }
    }
    /// Counts one injected fault.
    pub fn record_fault(&self, name: &'static str) {
        if let Ok(mut c) = self.inner.lock() {
            *c.faults.entry(name).or_default() += 1;
        }
    }
    /// `{"requests": {...}, "total": N, "statuses": {...}, "faults": N, "fault_kinds": {...},
    /// "job_latency_ms": {jobid: N}}`.
    pub fn to_json(&self) -> Value {
        match self.inner.lock() {
            Ok(c) => json!({
                "requests": c.requests,
                "total": c.total,
                "statuses": c.statuses.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
                "faults": c.faults.values().sum::<u64>(),
                "fault_kinds": c.faults,
                "job_latency_ms": c.job_latency_ms,
            }),
            Err(_) => json!({}),
        }
    }
}

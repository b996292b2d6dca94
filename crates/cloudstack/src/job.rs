//! Async jobs: commands answering `{"jobid": ...}` are polled with `queryAsyncJobResult`
//! (`jobstatus` 0 pending, 1 done with `jobresult`, 2 failed with `jobresult.errorcode` /
//! `errortext`). Polling starts at `poll_initial` (so a fast job is seen fast), doubles up to
//! `poll_cap`, and gives up after `async_timeout`.

use std::time::Instant;

use serde_json::Value;
use tracing::debug;

use crate::{
    client::Client,
    error::{Error, Result},
    params::Params,
    response::as_u64,
};

/// The job id in an answer, if the command ran as an async job.
pub fn job_id_of(answer: &Value) -> Option<String> {
    match answer.get("jobid")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Client {
    /// Runs `command`; if it started an async job, waits for it and returns `jobresult`
    /// (e.g. `{"virtualmachine": {...}}`), else returns the answer itself.
    pub async fn request_async(&self, command: &str, params: &Params) -> Result<Value> {
        let answer = self.request(command, params).await?;
        self.finish_job(command, answer).await
    }

    /// Waits for the job in `answer` (if any); returns its result or `answer` unchanged.
    pub(crate) async fn finish_job(&self, command: &str, answer: Value) -> Result<Value> {
        match job_id_of(&answer) {
            Some(job_id) => self.wait_job(command, &job_id).await,
            None => Ok(answer),
        }
    }

    /// Polls job `job_id` (started by `command`, for messages) until it ends; returns
    /// `jobresult` on success, [`Error::JobFailed`] or [`Error::JobTimeout`] otherwise.
    pub async fn wait_job(&self, command: &str, job_id: &str) -> Result<Value> {
        let cfg = &self.inner.config;
        let started = Instant::now();
        let mut delay = cfg.poll_initial;
        let params = Params::new().with("jobid", job_id);
        loop {
            let job = self.request("queryAsyncJobResult", &params).await?;
            let status = job.get("jobstatus").and_then(as_u64).unwrap_or(0);
            match status {
                0 => {}
                1 => {
                    debug!(command, job_id, elapsed = ?started.elapsed(), "async job done");
                    return Ok(match job.get("jobresult") {
                        Some(v) if !v.is_null() => v.clone(),
                        _ => Value::Object(Default::default()),
                    });
                }
                _ => {
                    let result = job.get("jobresult").cloned().unwrap_or(Value::Null);
                    return Err(Error::JobFailed {
                        command: command.to_string(),
                        job_id: job_id.to_string(),
                        error_code: result
                            .get("errorcode")
                            .and_then(as_u64)
                            .and_then(|c| u16::try_from(c).ok())
                            .unwrap_or(0),
                        text: result
                            .get("errortext")
                            .and_then(Value::as_str)
                            .unwrap_or("job failed without error text")
                            .to_string(),
                    });
                }
            }
            let waited = started.elapsed();
            if waited >= cfg.async_timeout {
                return Err(Error::JobTimeout {
                    command: command.to_string(),
                    job_id: job_id.to_string(),
                    waited,
                });
            }
            let remaining = cfg.async_timeout - waited;
            tokio::time::sleep(delay.min(remaining)).await;
            delay = (delay * 2).min(cfg.poll_cap.max(cfg.poll_initial));
        }
    }
}

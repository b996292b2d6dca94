//! Creating without duplicates when the network fails.
//!
//! A create that may have reached the server (timeout or dropped connection after sending, a
//! 5xx/530 answer) is never blindly re-sent. Instead the caller's `lookup` (e.g. "the VM named
//! X") is asked whether the first attempt took effect: if it finds the object, that object is
//! the result (after waiting for its pending job, if it names one); if it finds nothing, the
//! create is sent again. If the lookup itself keeps failing, the outcome is reported as
//! [`Error::Unconfirmed`].

use std::future::Future;

use serde_json::Value;
use tracing::{info, warn};

use crate::{
    client::{backoff, Client},
    error::{Error, Result},
    job::job_id_of,
    params::Params,
};

impl Client {
    /// Runs a non-idempotent `command` (waiting for its async job), recovering from unclear
    /// failures with `lookup` as described in the [module docs](self). `key` names the object
    /// inside the answer or job result (`"virtualmachine"` for `deployVirtualMachine`); the
    /// returned value is that object, or the whole result when `key` is `None`. `lookup` must
    /// return the same kind of object.
    pub async fn create_with_recovery<F, Fut>(
        &self,
        command: &str,
        params: &Params,
        key: Option<&str>,
        lookup: F,
    ) -> Result<Value>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<Value>>>,
    {
        self.create_with_recovery_inner(command, params, key, false, lookup)
            .await
    }

    /// [`Client::create_with_recovery`] sent as POST (large bodies such as `userdata`).
    pub async fn create_with_recovery_post<F, Fut>(
        &self,
        command: &str,
        params: &Params,
        key: Option<&str>,
        lookup: F,
    ) -> Result<Value>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<Value>>>,
    {
        self.create_with_recovery_inner(command, params, key, true, lookup)
            .await
    }

    async fn create_with_recovery_inner<F, Fut>(
        &self,
        command: &str,
        params: &Params,
        key: Option<&str>,
        post: bool,
        lookup: F,
    ) -> Result<Value>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<Value>>>,
    {
        let policy = self.inner.config.retry.clone();
        let max = policy.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            // `request_inner` already retries failures that prove the server saw nothing.
            let mut job_started = false;
            let err = match self.request_inner(command, params, post).await {
                Ok(answer) => match self.finish_job(command, answer).await {
                    Ok(result) => return Ok(extract(key, result)),
                    // The create was accepted but polling its job kept failing: the object
                    // exists (or will), so find it rather than report a bare transport error.
                    Err(e) if e.is_retryable() => {
                        job_started = true;
                        e
                    }
                    Err(e) => return Err(e),
                },
                Err(e) => e,
            };
            if !err.may_have_applied() && !job_started {
                return Err(err);
            }
            warn!(command, attempt, error = %err, "create may have been applied; looking it up");
            tokio::time::sleep(backoff(policy.initial_backoff, policy.max_backoff, attempt)).await;
            let found = match lookup().await {
                Ok(found) => found,
                Err(lookup_err) => {
                    warn!(command, error = %lookup_err, "recovery lookup failed");
                    return Err(Error::Unconfirmed {
                        command: command.to_string(),
                        source: Box::new(err),
                    });
                }
            };
            if let Some(obj) = found {
                info!(
                    command,
                    "first attempt had been applied; using the existing object"
                );
                if let Some(job_id) = job_id_of(&obj) {
                    let result = self.wait_job(command, &job_id).await?;
                    let from_job = extract(key, result);
                    if from_job.get("id").is_some() {
                        return Ok(from_job);
                    }
                }
                return Ok(obj);
            }
            if job_started {
                return Err(Error::Unconfirmed {
                    command: command.to_string(),
                    source: Box::new(err),
                });
            }
            if attempt >= max || !err.is_retryable() {
                return Err(err);
            }
            attempt += 1;
        }
    }
}

fn extract(key: Option<&str>, result: Value) -> Value {
    match key {
        Some(k) => match result.get(k) {
            Some(v) => v.clone(),
            None => result,
        },
        None => result,
    }
}

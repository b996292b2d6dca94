//! Creating without duplicates when the network fails.
//!
//! A create that may have reached the server (timeout or dropped connection after sending, a
//! 5xx/530 answer) is never blindly re-sent. Instead the caller's `lookup` (e.g. "the VM named
//! X") is asked whether the first attempt took effect: if it finds the object, that object is
//! the result (after waiting for its pending job, if it names one); if it finds nothing, the
//! create is sent again. If the lookup itself keeps failing, the outcome is reported as
//! [`Error::Unconfirmed`].
//!
//! Once CloudStack has accepted a create (its answer names the new object's `id`), that id
//! is written to the client's [`AcceptedLog`], if it has one, before anything else can fail
//! (polling the job, decoding the result, a timeout that drops the future): the caller can
//! always clean the object up or keep it in its state.

use std::{
    future::Future,
    sync::{Arc, Mutex},
};

use serde_json::Value;
use tracing::{info, warn};

use crate::{
    client::{backoff, Client},
    error::{Error, Result},
    job::job_id_of,
    params::Params,
};

/// One create CloudStack accepted: the command and the id its answer (or the recovery
/// lookup) named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The create command (`deployVirtualMachine`).
    pub command: String,
    /// The new object's id.
    pub id: String,
    /// The async job creating it, when there is one.
    pub job_id: Option<String>,
}

/// Where a client records every create CloudStack accepted, as soon as the id is known (see
/// [`Client::recording_accepted`]). Cheap to clone; clones share the record.
#[derive(Debug, Clone, Default)]
pub struct AcceptedLog(Arc<Mutex<Vec<Accepted>>>);

impl AcceptedLog {
    /// A new, empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything recorded so far, oldest first.
    pub fn entries(&self) -> Vec<Accepted> {
        match self.0.lock() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The id of the latest accepted `command` (case-insensitive), if any.
    pub fn last_id(&self, command: &str) -> Option<String> {
        self.entries()
            .into_iter()
            .rev()
            .find(|a| a.command.eq_ignore_ascii_case(command))
            .map(|a| a.id)
    }

    fn record(&self, entry: Accepted) {
        let mut v = match self.0.lock() {
            Ok(v) => v,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !v.contains(&entry) {
            v.push(entry);
        }
    }
}

impl Client {
    /// A client (sharing this one's connections) that records every accepted create in `log`.
    /// Give each operation its own log to know which objects *it* created.
    pub fn recording_accepted(&self, log: &AcceptedLog) -> Client {
        Client {
            inner: self.inner.clone(),
            accepted: Some(log.clone()),
        }
    }

    /// The log this client records accepted creates in, if any.
    pub fn accepted_log(&self) -> Option<&AcceptedLog> {
        self.accepted.as_ref()
    }

    /// Records the id in a create's `answer` (`{"id", "jobid"}` of an async create, or the
    /// object under `key` of a synchronous one) in the log, if this client keeps one.
    pub(crate) fn note_accepted(&self, command: &str, key: Option<&str>, answer: &Value) {
        let Some(log) = &self.accepted else {
            return;
        };
        // `registerTemplate` answers a one-element list under its key
        let object = match key.and_then(|k| answer.get(k)) {
            Some(Value::Array(items)) => items.first().unwrap_or(answer),
            Some(v) => v,
            None => answer,
        };
        let id = [answer, object]
            .into_iter()
            .find_map(|v| match v.get("id") {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            });
        if let Some(id) = id {
            log.record(Accepted {
                command: command.to_string(),
                id,
                job_id: job_id_of(answer).or_else(|| job_id_of(object)),
            });
        }
    }

    /// Records that `command` acting on the existing object `id` (`attachVolume` on a
    /// volume) was accepted: its `answer` started a job, so the change is under way whatever
    /// happens to that job's answer. The caller can then undo it (detach) or keep it in state.
    pub(crate) fn note_accepted_on(&self, command: &str, id: &str, answer: &Value) {
        let (Some(log), Some(job_id)) = (&self.accepted, job_id_of(answer)) else {
            return;
        };
        log.record(Accepted {
            command: command.to_string(),
            id: id.to_string(),
            job_id: Some(job_id),
        });
    }

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
                Ok(answer) => {
                    self.note_accepted(command, key, &answer);
                    match self.finish_job(command, answer).await {
                        Ok(result) => {
                            let result = extract(key, result);
                            self.note_accepted(command, None, &result);
                            return Ok(result);
                        }
                        // The create was accepted but polling its job kept failing: the object
                        // exists (or will), so find it rather than report a bare transport
                        // error.
                        Err(e) if e.is_retryable() => {
                            job_started = true;
                            e
                        }
                        Err(e) => return Err(e),
                    }
                }
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
                self.note_accepted(command, None, &obj);
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

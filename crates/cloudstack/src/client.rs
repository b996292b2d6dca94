//! The public [`Client`]: signs, sends and decodes one command, retrying transient failures
//! only where that cannot duplicate work (see [`CommandKind`]).

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use rand::Rng as _;
use serde_json::Value;
use tracing::{debug, warn, Instrument as _};

use crate::{
    config::Config,
    error::{Error, Result},
    job::Watcher,
    params::Params,
    response::unwrap_envelope,
    sign::{signed_query, SigningParams},
    transport::{HttpRequest, Method, ReqwestTransport, Transport, MAX_RESPONSE_BYTES},
};

/// Longest URL we send with GET; longer requests (typically with `userdata`) go as POST.
/// CloudStack's Jetty accepts about 8 KiB of request line; proxies often less.
pub const MAX_GET_URL_LEN: usize = 4000;

/// How safe it is to re-send a command after an unclear failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// `list*`, `query*`, `get*`: no side effects, retried freely.
    Read,
    /// `delete*`, `destroy*`, `expunge*`, `disassociate*`, `remove*`: re-sending is harmless;
    /// "does not exist" on a retry counts as success.
    Delete,
    /// Everything else: never re-sent once the server may have seen it.
    Mutate,
}

impl CommandKind {
    /// Classifies a command by its verb prefix.
    pub fn of(command: &str) -> Self {
        let c = command.to_ascii_lowercase();
        if ["list", "query", "get"].iter().any(|p| c.starts_with(p)) {
            CommandKind::Read
        } else if ["delete", "destroy", "expunge", "disassociate", "remove"]
            .iter()
            .any(|p| c.starts_with(p))
        {
            CommandKind::Delete
        } else {
            CommandKind::Mutate
        }
    }
}

/// An async CloudStack API client. Cheap to clone (shares one connection pool).
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// Where accepted creates are recorded ([`Client::recording_accepted`]).
    pub(crate) accepted: Option<crate::recovery::AcceptedLog>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    transport: Arc<dyn Transport>,
    /// Shared by every clone and by [`Client::with_async_timeout`] (see [`crate::job`]).
    pub(crate) watcher: Arc<Watcher>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("transport", &self.inner.transport)
            .finish()
    }
}

impl Client {
    /// A client over HTTP(S) with reqwest. Fails if the configuration is incomplete.
    pub fn new(config: Config) -> Result<Self> {
        config.validate()?;
        let transport = Arc::new(ReqwestTransport::new(&config)?);
        Ok(Self::with_transport(config, transport))
    }

    /// A client over any [`Transport`] (tests use scripted ones). Does not validate `config`.
    pub fn with_transport(config: Config, transport: Arc<dyn Transport>) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                transport,
                watcher: Arc::default(),
            }),
            accepted: None,
        }
    }

    /// The same client (connection pool and async-job watcher) with another
    /// `async_timeout`, for operations with their own timeout (Terraform's `timeouts`).
    pub fn with_async_timeout(&self, limit: Duration) -> Self {
        let mut config = self.inner.config.clone();
        config.async_timeout = limit;
        Self {
            inner: Arc::new(Inner {
                config,
                transport: Arc::clone(&self.inner.transport),
                watcher: Arc::clone(&self.inner.watcher),
            }),
            accepted: self.accepted.clone(),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Runs `command` and returns the unwrapped answer (the object inside
    /// `<command>response`). Async commands return `{"jobid": ...}` here; use
    /// [`Client::request_async`] to wait for them.
    ///
    /// Transient failures are retried per [`CommandKind`]: reads and deletes always, other
    /// commands only when the server cannot have seen them (connection refused, 429). A
    /// mutating command that may have been applied returns the error
    /// ([`Error::may_have_applied`] is true); use [`Client::create_with_recovery`] or the
    /// typed methods in [`crate::api`] to resolve that without duplicates.
    pub async fn request(&self, command: &str, params: &Params) -> Result<Value> {
        self.request_inner(command, params, false).await
    }

    /// Like [`Client::request`] but sent as POST (form body) unless `http_get_only`.
    pub async fn request_post(&self, command: &str, params: &Params) -> Result<Value> {
        self.request_inner(command, params, true).await
    }

    pub(crate) async fn request_inner(
        &self,
        command: &str,
        params: &Params,
        post: bool,
    ) -> Result<Value> {
        self.request_tracked(command, params, post)
            .await
            .map(|(v, _)| v)
    }

    /// [`Client::request_inner`], also telling whether the command was re-sent after a
    /// failure that may have been applied (so "not found" afterwards means "already done").
    pub(crate) async fn request_tracked(
        &self,
        command: &str,
        params: &Params,
        post: bool,
    ) -> Result<(Value, bool)> {
        let kind = CommandKind::of(command);
        let policy = &self.inner.config.retry;
        let max = policy.max_attempts.max(1);
        let mut applied_maybe = false;
        let mut attempt = 1;
        let mut throttled = Throttling::default();
        loop {
            let span = tracing::debug_span!("cloudstack", command, attempt);
            let result = self.send_once(command, params, post).instrument(span).await;
            let err = match result {
                Ok(v) => return Ok((v, applied_maybe)),
                Err(e) => e,
            };
            // Throttled: CloudStack refused before executing, so any command may be re-sent
            // once the account's window allows; this has its own, larger budget.
            if err.is_throttled() {
                let delay = throttled.wait_before_retry(&err, policy, command)?;
                debug!(
                    command,
                    ?delay,
                    "throttled by CloudStack (API limit), waiting"
                );
                tokio::time::sleep(delay).await;
                continue;
            }
            if kind == CommandKind::Delete && applied_maybe && err.is_not_found() {
                debug!(command, "retried delete found nothing to delete: done");
                return Ok((Value::Object(Default::default()), true));
            }
            let safe = match kind {
                CommandKind::Read | CommandKind::Delete => true,
                CommandKind::Mutate => !err.may_have_applied(),
            };
            if attempt >= max || !err.is_retryable() || !safe {
                return Err(err);
            }
            applied_maybe |= err.may_have_applied();
            let delay = backoff(policy.initial_backoff, policy.max_backoff, attempt);
            warn!(command, attempt, ?delay, error = %err, "transient CloudStack failure, retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One signed HTTP exchange, no retries.
    async fn send_once(&self, command: &str, params: &Params, post: bool) -> Result<Value> {
        let cfg = &self.inner.config;
        let expires = cfg.expires_after.map(|d| SystemTime::now() + d);
        let query = signed_query(
            command,
            params,
            &SigningParams {
                api_key: &cfg.api_key,
                secret_key: &cfg.secret_key,
                expires,
            },
        );
        let too_long = cfg.api_url.len() + 1 + query.len() > MAX_GET_URL_LEN;
        let method = if cfg.http_get_only {
            if too_long {
                return Err(Error::RequestTooLarge {
                    command: command.to_string(),
                    len: query.len(),
                });
            }
            Method::Get
        } else if post || too_long {
            Method::Post
        } else {
            Method::Get
        };
        let started = Instant::now();
        let resp = self
            .inner
            .transport
            .send(HttpRequest {
                method,
                url: cfg.api_url.clone(),
                query,
                command: command.to_string(),
            })
            .await
            .map_err(|t| Error::Transport {
                command: command.to_string(),
                maybe_sent: t.maybe_sent,
                timeout: t.timeout,
                message: t.message,
            })?;
        debug!(?method, status = resp.status, elapsed = ?started.elapsed(), "CloudStack answered");
        if resp.body.len() > MAX_RESPONSE_BYTES {
            return Err(Error::ResponseTooLarge {
                command: command.to_string(),
                limit: MAX_RESPONSE_BYTES,
            });
        }
        unwrap_envelope(command, resp.status, &resp.body)
    }
}

/// Retries of throttled (429) requests per request: CloudStack's window is short
/// (`api.throttling.interval`, 1 s by default), so waiting it out usually works; this many
/// times `max_attempts` in a row means the workload does not fit the account's limit.
const THROTTLED_ATTEMPTS_PER_ATTEMPT: u32 = 10;

/// The throttled answers one request got so far.
#[derive(Debug, Default)]
struct Throttling {
    count: u32,
    first: Option<Instant>,
}

impl Throttling {
    /// How long to wait before re-sending, or [`Error::Throttled`] once the budget is spent.
    fn wait_before_retry(
        &mut self,
        err: &Error,
        policy: &crate::config::RetryPolicy,
        command: &str,
    ) -> Result<Duration> {
        let first = *self.first.get_or_insert_with(Instant::now);
        self.count += 1;
        if self.count
            >= policy
                .max_attempts
                .max(1)
                .saturating_mul(THROTTLED_ATTEMPTS_PER_ATTEMPT)
        {
            return Err(Error::Throttled {
                command: command.to_string(),
                attempts: self.count,
                waited: first.elapsed(),
                text: err.to_string(),
            });
        }
        let backoff = backoff(
            policy.initial_backoff,
            policy.max_backoff,
            self.count.min(16),
        );
        // What CloudStack says ("please retry after [N] ms"), spread a little so that
        // parallel requests do not all come back at the same instant.
        Ok(match err.retry_after() {
            Some(after) => {
                let spread = u64::try_from(policy.initial_backoff.as_millis()).unwrap_or(u64::MAX);
                let extra = if spread == 0 {
                    0
                } else {
                    rand::thread_rng().gen_range(0..=spread)
                };
                after + Duration::from_millis(extra)
            }
            None => backoff,
        })
    }
}

/// Exponential backoff with "equal jitter": half the step fixed, half random, so retries from
/// many clients spread out but never hammer immediately.
pub(crate) fn backoff(initial: Duration, cap: Duration, attempt: u32) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let step = exp.min(cap);
    let half = step / 2;
    let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    let extra = if jitter_ms == 0 {
        0
    } else {
        rand::thread_rng().gen_range(0..=jitter_ms)
    };
    half + Duration::from_millis(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(CommandKind::of("listZones"), CommandKind::Read);
        assert_eq!(CommandKind::of("queryAsyncJobResult"), CommandKind::Read);
        assert_eq!(CommandKind::of("getVMPassword"), CommandKind::Read);
        assert_eq!(
            CommandKind::of("destroyVirtualMachine"),
            CommandKind::Delete
        );
        assert_eq!(
            CommandKind::of("disassociateIpAddress"),
            CommandKind::Delete
        );
        assert_eq!(CommandKind::of("deployVirtualMachine"), CommandKind::Mutate);
        assert_eq!(CommandKind::of("createTags"), CommandKind::Mutate);
    }

    #[test]
    fn backoff_grows_and_caps() {
        let i = Duration::from_millis(100);
        let cap = Duration::from_secs(1);
        for attempt in 1..20 {
            let d = backoff(i, cap, attempt);
            let step = (i * 2u32.pow(attempt.min(16) - 1)).min(cap);
            assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d:?}");
        }
    }
}

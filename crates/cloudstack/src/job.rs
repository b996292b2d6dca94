//! Async jobs: commands answering `{"jobid": ...}` end with `jobstatus` 1 (done, `jobresult`)
//! or 2 (failed, `jobresult.errorcode` / `errortext`); 0 is pending.
//!
//! # One watcher per client
//!
//! Every waiting call registers its job id with the client's [`Watcher`] (shared by all clones
//! of the client and by [`Client::with_async_timeout`]) and awaits a one-shot answer. While any
//! job is pending, one background ticker asks CloudStack about *all* of them with a single
//! `listAsyncJobs` (CloudStack builds each entry like `queryAsyncJobResult`'s answer, with
//! `jobstatus` and the deserialized `jobresult`), wakes the waiters whose jobs ended, and
//! calls `queryAsyncJobResult` only for a job that ended without its result in the listing.
//!
//! **When to tick.** Each pending job has its own next-check time; the ticker sleeps until the
//! earliest and a tick checks every job at once, so a tick due for one job refreshes all.
//! A job's next check depends on what its command's earlier jobs took in this process:
//! - nothing known yet: a first look after `poll_initial / 4` (jobs that end at once), then a
//!   fraction of its age (capped at `poll_cap`), so it is seen at most that fraction late with
//!   O(log) checks. The fraction is a quarter for a lone job and an eighth when jobs share
//!   each listing, which keeps the calls spent per job flat while a crowd of jobs is seen
//!   within ~12% of its end;
//! - known: no check until 90% of the shortest such job, then every 4% of its age (at least
//!   `poll_initial / 4`), so a job is seen within a few percent of its end at a handful of
//!   checks, which all concurrent jobs share;
//! - running far past what its command usually takes: back to the age backoff.
//!
//! Today's per-job doubling poll sees a 2 s job at 3.1 s; this sees it within ~0.1 s, and
//! since one listing serves every pending job, calls per job fall as concurrency grows.
//!
//! **Narrowing and paging.** `listAsyncJobs` lists the caller's account's jobs in creation
//! order; `startdate` (a day: CloudStack parses it as `yyyy-MM-dd`) is the oldest pending
//! job's `created` day, and full pages whose jobs had all ended are skipped on later ticks.
//!
//! **Fallback.** A job absent from two listings sent after it started (e.g. a project's job,
//! listed only with `projectid`), or every job once `listAsyncJobs` is refused (unknown
//! command, no permission), is polled on its own with `queryAsyncJobResult`, doubling from
//! `poll_initial` to `poll_cap` as before. Throttled (429) or failing listings are retried by
//! the client like any read; if they still fail, the due jobs are polled on their own that tick.
//!
//! **Unchanged contracts.** Each waiter keeps its own `async_timeout` (checked once more
//! directly at the deadline), a dropped waiter (Ctrl-C, Terraform's Stop) simply stops being
//! watched, and errors are the same [`Error::JobFailed`] / [`Error::JobTimeout`] / transport
//! errors as before, so "may have applied" recovery is untouched.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio::sync::{oneshot, Notify};
use tracing::{debug, warn};

use crate::{
    client::Client,
    error::{Error, Result},
    list::items,
    params::Params,
    response::as_u64,
};

/// Listings a job may be missing from before it is polled on its own.
const MISSES_BEFORE_DIRECT: u32 = 2;
/// Most pages one listing reads (jobs beyond are polled on their own).
const MAX_LIST_PAGES: u32 = 20;
/// Jobs per `listAsyncJobs` page: small pages so that pages of ended jobs can be skipped.
const LIST_PAGE_SIZE: u32 = 100;

/// The job id in an answer, if the command ran as an async job.
pub fn job_id_of(answer: &Value) -> Option<String> {
    match answer.get("jobid")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What a `queryAsyncJobResult` answer or `listAsyncJobs` entry says about a job: `None`
/// while pending, else the job's result or its [`Error::JobFailed`].
fn outcome(command: &str, job_id: &str, job: &Value) -> Option<Result<Value>> {
    match job.get("jobstatus").and_then(as_u64).unwrap_or(0) {
        0 => None,
        1 => Some(Ok(match job.get("jobresult") {
            Some(v) if !v.is_null() => v.clone(),
            _ => Value::Object(Default::default()),
        })),
        _ => {
            let result = job.get("jobresult").cloned().unwrap_or(Value::Null);
            Some(Err(Error::JobFailed {
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
            }))
        }
    }
}

/// Whether a listing entry ended without the result we need (fetched with
/// `queryAsyncJobResult` then).
fn needs_query(job: &Value) -> bool {
    job.get("jobstatus").and_then(as_u64).unwrap_or(0) != 0
        && job.get("jobresult").is_none_or(Value::is_null)
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

    /// Waits for job `job_id` (started by `command`, for messages) through the client's
    /// watcher (see the [module docs](self)); returns `jobresult` on success,
    /// [`Error::JobFailed`] or [`Error::JobTimeout`] otherwise. Dropping the future stops
    /// watching the job (the job itself goes on in CloudStack).
    pub async fn wait_job(&self, command: &str, job_id: &str) -> Result<Value> {
        let timeout = self.inner.config.async_timeout;
        let started = Instant::now();
        let answer = self.inner.watcher.register(self, command, job_id);
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            // The ticker went away (its runtime shut down): wait the old way.
            Ok(Err(_)) => {
                let left = timeout.saturating_sub(started.elapsed());
                self.poll_job(command, job_id, started, left).await
            }
            Err(_) => {
                // One last look, as the per-job poll always did at its deadline.
                self.poll_job(command, job_id, started, Duration::ZERO)
                    .await
            }
        }
    }

    /// Polls one job with `queryAsyncJobResult`, doubling from `poll_initial` to `poll_cap`,
    /// for at most `left` (at least one query).
    async fn poll_job(
        &self,
        command: &str,
        job_id: &str,
        started: Instant,
        left: Duration,
    ) -> Result<Value> {
        let cfg = &self.inner.config;
        let deadline = Instant::now() + left;
        let mut delay = cfg.poll_initial;
        let params = Params::new().with("jobid", job_id);
        loop {
            let job = self.request("queryAsyncJobResult", &params).await?;
            if let Some(result) = outcome(command, job_id, &job) {
                return result;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::JobTimeout {
                    command: command.to_string(),
                    job_id: job_id.to_string(),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(delay.min(deadline - now)).await;
            delay = (delay * 2).min(cfg.poll_cap.max(cfg.poll_initial));
        }
    }
}

/// How long one command's jobs take, as seen by this process.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    /// The shortest estimate (midway between the last pending and the first done sighting).
    lo: Duration,
    /// The longest time until a job was seen done.
    hi: Duration,
}

/// One watched job.
#[derive(Debug)]
struct Watched {
    command: String,
    registered: Instant,
    /// The day CloudStack says it was created (`yyyy-MM-dd`), once listed.
    created_day: Option<String>,
    waiters: Vec<oneshot::Sender<Result<Value>>>,
    /// Listings (sent after it started) that did not show it.
    misses: u32,
    /// Polled on its own, with this delay until the next poll.
    direct: Option<Duration>,
    /// When it was last seen pending.
    last_pending: Option<Instant>,
    next_at: Instant,
}

#[derive(Debug, Default)]
struct WatchState {
    jobs: HashMap<String, Watched>,
    /// A ticker task is running.
    ticking: bool,
    /// `listAsyncJobs` was refused: every job is polled on its own.
    listing_refused: bool,
    /// The newest `created` day seen in a listing (the server's calendar).
    server_day: Option<String>,
    /// Per command (lower-cased): how long its jobs take.
    spans: HashMap<String, Span>,
    /// `startdate` the skip below is valid for, and the first page worth reading.
    first_page: (String, u32),
}

/// The per-client job watcher (see the [module docs](self)).
#[derive(Debug, Default)]
pub(crate) struct Watcher {
    state: Mutex<WatchState>,
    wake: Notify,
}

fn lock(m: &Mutex<WatchState>) -> MutexGuard<'_, WatchState> {
    // Nothing in the state can be left half-updated by a panic worth refusing to go on for.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Most pending jobs a listing is counted as shared by when choosing how closely to watch.
const CROWD_CAP: u32 = 2;

/// Delay until the next check of a job of age `age` that is watched through listings, while
/// `crowd` listed jobs are pending (one listing answers for all of them).
///
/// A job whose command's duration is unknown is checked at a fraction of its age, so it is
/// seen at most that fraction late after O(log age) checks. The fraction shrinks as the crowd
/// grows: a listing costs one call whoever it serves, so `n` jobs can each be watched `n`
/// times as closely for the same calls per job (a lone job: a quarter of its age from
/// `poll_initial`, as before; two or more: an eighth, from half of `poll_initial`). Finer
/// steps for larger crowds measured more calls per job than the old per-job poll in
/// `scripts/bench-terraform.sh` (the crowd shrinks as its jobs end) for no gain in time.
/// The very first check comes after a quarter of `poll_initial`, to catch jobs that end at once.
fn next_delay(
    age: Duration,
    span: Option<Span>,
    crowd: usize,
    initial: Duration,
    cap: Duration,
) -> Duration {
    let initial = initial.max(Duration::from_millis(4));
    let cap = cap.max(initial);
    let floor = initial / 4;
    if age.is_zero() && span.is_none() {
        return floor;
    }
    let crowd = u32::try_from(crowd).unwrap_or(u32::MAX).clamp(1, CROWD_CAP);
    let backoff = (age / (4 * crowd)).clamp(initial / crowd, cap);
    match span {
        Some(s) => {
            let window = s.lo * 9 / 10;
            if age + floor < window {
                window - age
            } else if age <= s.hi * 2 {
                (age / 25).clamp(floor, cap)
            } else {
                backoff
            }
        }
        None => backoff,
    }
}

/// The `yyyy-MM-dd` day at the start of a CloudStack timestamp.
fn day_of(created: &str) -> Option<String> {
    let day = created.get(..10)?;
    let b = day.as_bytes();
    let ok = b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        _ => c.is_ascii_digit(),
    });
    ok.then(|| day.to_string())
}

/// The client's yesterday (UTC): a safe `startdate` before any `created` day is known,
/// whatever the server's time zone.
fn client_yesterday() -> String {
    let today = time::OffsetDateTime::now_utc().date();
    let d = today.previous_day().unwrap_or(today);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl WatchState {
    /// Pending jobs watched through listings.
    fn listed_pending(&self) -> usize {
        self.jobs.values().filter(|j| j.direct.is_none()).count()
    }

    /// `startdate` for a listing: the oldest day among the listed jobs.
    fn startdate(&self) -> String {
        let fallback = self.server_day.clone().unwrap_or_else(client_yesterday);
        self.jobs
            .values()
            .filter(|j| j.direct.is_none())
            .map(|j| j.created_day.clone().unwrap_or_else(|| fallback.clone()))
            .min()
            .unwrap_or(fallback)
    }

    /// Hands `result` to the job's waiters and learns how long its command takes.
    fn settle(&mut self, job_id: &str, result: Result<Value>, seen: Instant) {
        let Some(job) = self.jobs.remove(job_id) else {
            return;
        };
        let done = seen.saturating_duration_since(job.registered);
        if result.is_ok() || matches!(result, Err(Error::JobFailed { .. })) {
            let pending = job
                .last_pending
                .map_or(done / 2, |t| t.saturating_duration_since(job.registered));
            let estimate = (pending + done) / 2;
            let span = self
                .spans
                .entry(job.command.to_ascii_lowercase())
                .or_insert(Span {
                    lo: estimate,
                    hi: done,
                });
            span.lo = span.lo.min(estimate);
            span.hi = span.hi.max(done);
        }
        debug!(command = %job.command, job_id, elapsed = ?done, "async job ended");
        for w in job.waiters {
            // A waiter that gave up meanwhile is simply not told.
            let _ = w.send(result.clone());
        }
    }

    /// Forgets jobs nobody waits for any more (their waiters were dropped).
    fn prune(&mut self) {
        self.jobs.retain(|id, j| {
            j.waiters.retain(|w| !w.is_closed());
            if j.waiters.is_empty() {
                debug!(job_id = %id, "nobody waits for the job any more; no longer watched");
            }
            !j.waiters.is_empty()
        });
    }

    fn reschedule(&mut self, checked: &HashSet<String>, initial: Duration, cap: Duration) {
        let now = Instant::now();
        let crowd = self.listed_pending();
        for (id, j) in &mut self.jobs {
            if !checked.contains(id) {
                continue;
            }
            j.next_at = now
                + match j.direct {
                    Some(d) => d,
                    None => next_delay(
                        now - j.registered,
                        self.spans.get(&j.command.to_ascii_lowercase()).copied(),
                        crowd,
                        initial,
                        cap,
                    ),
                };
            if let Some(d) = &mut j.direct {
                *d = (*d * 2).min(cap.max(initial));
            }
        }
    }
}

/// Clears the ticking flag (and releases the waiters) if the ticker task ends any way but
/// normally, e.g. when its runtime shuts down; the waiters then poll on their own.
struct TickerGuard {
    watcher: Arc<Watcher>,
    armed: bool,
}

impl Drop for TickerGuard {
    fn drop(&mut self) {
        if self.armed {
            let mut st = lock(&self.watcher.state);
            st.ticking = false;
            st.jobs.clear();
        }
    }
}

impl Watcher {
    /// Registers a waiter for `job_id`; starts the ticker if none runs.
    fn register(
        self: &Arc<Self>,
        client: &Client,
        command: &str,
        job_id: &str,
    ) -> oneshot::Receiver<Result<Value>> {
        let cfg = &client.inner.config;
        let (tx, rx) = oneshot::channel();
        let now = Instant::now();
        let start = {
            let mut st = lock(&self.state);
            let span = st.spans.get(&command.to_ascii_lowercase()).copied();
            let refused = st.listing_refused;
            let crowd = st.listed_pending() + 1;
            let job = st
                .jobs
                .entry(job_id.to_string())
                .or_insert_with(|| Watched {
                    command: command.to_string(),
                    registered: now,
                    created_day: None,
                    waiters: Vec::new(),
                    misses: 0,
                    direct: refused.then_some(cfg.poll_initial),
                    last_pending: None,
                    next_at: now
                        + next_delay(Duration::ZERO, span, crowd, cfg.poll_initial, cfg.poll_cap),
                });
            job.waiters.push(tx);
            !std::mem::replace(&mut st.ticking, true)
        };
        if start {
            let watcher = Arc::clone(self);
            let client = client.clone();
            tokio::spawn(async move { watcher.run(client).await });
        } else {
            self.wake.notify_one();
        }
        rx
    }

    /// The ticker: sleeps until the earliest due job (or a new registration), ticks, and
    /// ends once nothing is pending.
    async fn run(self: Arc<Self>, client: Client) {
        let mut guard = TickerGuard {
            watcher: Arc::clone(&self),
            armed: true,
        };
        loop {
            let next = {
                let mut st = lock(&self.state);
                st.prune();
                match st.jobs.values().map(|j| j.next_at).min() {
                    Some(t) => t,
                    None => {
                        st.ticking = false;
                        break;
                    }
                }
            };
            tokio::select! {
                _ = tokio::time::sleep_until(next.into()) => self.tick(&client).await,
                _ = self.wake.notified() => {}
            }
        }
        // Normal end: `ticking` is already false (a new ticker may even run by now).
        guard.armed = false;
    }

    /// One round: a listing for the due listed jobs (covering all listed jobs), then
    /// `queryAsyncJobResult` for due directly polled jobs and ended jobs without a result.
    async fn tick(&self, client: &Client) {
        let cfg = &client.inner.config;
        // A job due within a millisecond is checked now rather than after another sleep.
        let due_by = Instant::now() + Duration::from_millis(1);
        let (listing, mut queries) = {
            let st = lock(&self.state);
            let listed: HashSet<String> = st
                .jobs
                .iter()
                .filter(|(_, j)| j.direct.is_none())
                .map(|(id, _)| id.clone())
                .collect();
            let list_due = !st.listing_refused
                && st
                    .jobs
                    .values()
                    .any(|j| j.direct.is_none() && j.next_at <= due_by);
            let direct_due: Vec<(String, String)> = st
                .jobs
                .iter()
                .filter(|(_, j)| j.direct.is_some() && j.next_at <= due_by)
                .map(|(id, j)| (id.clone(), j.command.clone()))
                .collect();
            let day = st.startdate();
            let first_page = if st.first_page.0 == day {
                st.first_page.1
            } else {
                1
            };
            (list_due.then_some((listed, day, first_page)), direct_due)
        };
        let mut checked: HashSet<String> = queries.iter().map(|(id, _)| id.clone()).collect();

        if let Some((listed, day, first_page)) = listing {
            let sent = Instant::now();
            let result = list_jobs(client, &listed, &day, first_page).await;
            let seen = Instant::now();
            let mut st = lock(&self.state);
            match result {
                Ok(page) => {
                    st.first_page = (day, page.first_page);
                    if let Some(newest) = page.newest_day {
                        if st.server_day.as_ref().is_none_or(|d| *d < newest) {
                            st.server_day = Some(newest);
                        }
                    }
                    for id in &listed {
                        checked.insert(id.clone());
                        let Some(job) = st.jobs.get_mut(id) else {
                            continue;
                        };
                        let Some(entry) = page.found.get(id) else {
                            if job.registered < sent {
                                job.misses += 1;
                                if job.misses >= MISSES_BEFORE_DIRECT {
                                    debug!(job_id = %id, "job not in listAsyncJobs; polling it on its own");
                                    job.direct = Some(cfg.poll_initial);
                                }
                            }
                            continue;
                        };
                        job.misses = 0;
                        if let Some(day) = entry
                            .get("created")
                            .and_then(Value::as_str)
                            .and_then(day_of)
                        {
                            job.created_day = Some(day);
                        }
                        if needs_query(entry) {
                            queries.push((id.clone(), job.command.clone()));
                            continue;
                        }
                        let command = job.command.clone();
                        match outcome(&command, id, entry) {
                            None => job.last_pending = Some(sent),
                            Some(result) => st.settle(id, result, seen),
                        }
                    }
                }
                Err(e) if refused(&e) => {
                    warn!(error = %e, "listAsyncJobs refused; polling each async job on its own");
                    st.listing_refused = true;
                    for id in &listed {
                        if let Some(job) = st.jobs.get_mut(id) {
                            job.direct = Some(cfg.poll_initial);
                            queries.push((id.clone(), job.command.clone()));
                            checked.insert(id.clone());
                        }
                    }
                }
                Err(e) => {
                    debug!(error = %e, "listAsyncJobs failed; polling the due jobs on their own");
                    for id in &listed {
                        if let Some(job) = st.jobs.get(id).filter(|j| j.next_at <= due_by) {
                            queries.push((id.clone(), job.command.clone()));
                            checked.insert(id.clone());
                        }
                    }
                }
            }
        }

        if !queries.is_empty() {
            let sent = Instant::now();
            let answers = futures::future::join_all(queries.iter().map(|(id, _)| {
                let params = Params::new().with("jobid", id);
                async move { client.request("queryAsyncJobResult", &params).await }
            }))
            .await;
            let seen = Instant::now();
            let mut st = lock(&self.state);
            for ((id, command), answer) in queries.iter().zip(answers) {
                match answer.map(|job| outcome(command, id, &job)) {
                    Ok(None) => {
                        if let Some(job) = st.jobs.get_mut(id) {
                            job.last_pending = Some(sent);
                        }
                    }
                    Ok(Some(result)) => st.settle(id, result, seen),
                    // As with per-job polling before: a query that keeps failing ends the wait.
                    Err(e) => st.settle(id, Err(e), seen),
                }
            }
        }

        lock(&self.state).reschedule(&checked, cfg.poll_initial, cfg.poll_cap);
    }
}

/// Whether `listAsyncJobs` is unavailable to this caller for good (unknown command, no
/// permission, a server that rejects its parameters), as opposed to failing for now.
fn refused(e: &Error) -> bool {
    !e.is_retryable()
        && matches!(
            e,
            Error::Api { .. } | Error::Http { .. } | Error::Decode { .. }
        )
}

/// What one listing found.
#[derive(Debug, Default)]
struct Listed {
    /// Entries of the wanted jobs, by id.
    found: HashMap<String, Value>,
    /// The first page the next listing with the same `startdate` needs to read.
    first_page: u32,
    /// The newest `created` day on the pages read.
    newest_day: Option<String>,
}

/// Reads `listAsyncJobs` pages from `first_page` until every wanted job is found, a short
/// page, or [`MAX_LIST_PAGES`]. Full pages whose jobs all ended move `first_page` on.
async fn list_jobs(
    client: &Client,
    wanted: &HashSet<String>,
    startdate: &str,
    first_page: u32,
) -> Result<Listed> {
    const CMD: &str = "listAsyncJobs";
    let size = client.inner.config.page_size.clamp(1, LIST_PAGE_SIZE);
    let mut out = Listed {
        first_page,
        ..Listed::default()
    };
    let mut all_ended_so_far = true;
    for page in first_page..first_page.saturating_add(MAX_LIST_PAGES) {
        let params = Params::new()
            .with("startdate", startdate)
            .with("page", page.to_string())
            .with("pagesize", size.to_string());
        let answer = client.request(CMD, &params).await?;
        let (entries, count) = items(CMD, "asyncjobs", &answer)?;
        // Jobs are only added at the end, so an empty page past the first means old jobs
        // expired (CloudStack cleans them up) and the pages moved: start over next time.
        if page > 1 && entries.is_empty() {
            out.first_page = 1;
        }
        let n = entries.len();
        let ended = entries
            .iter()
            .all(|e| e.get("jobstatus").and_then(as_u64).unwrap_or(0) != 0);
        all_ended_so_far &= ended && n == size as usize;
        if all_ended_so_far {
            out.first_page = page + 1;
        }
        for entry in entries {
            if let Some(day) = entry
                .get("created")
                .and_then(Value::as_str)
                .and_then(day_of)
            {
                if out.newest_day.as_ref().is_none_or(|d| *d < day) {
                    out.newest_day = Some(day);
                }
            }
            if let Some(id) = job_id_of(&entry).filter(|id| wanted.contains(id)) {
                out.found.insert(id, entry);
            }
        }
        let read = u64::from(page) * u64::from(size);
        if out.found.len() == wanted.len() || n < size as usize || count.is_some_and(|c| read >= c)
        {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{
        transport::{HttpRequest, HttpResponse, SendFuture, Transport},
        Config, RetryPolicy,
    };
    use serde_json::json;

    /// A scripted CloudStack that knows only async jobs; the test decides when they end.
    #[derive(Debug, Default)]
    struct Script {
        state: Mutex<ScriptState>,
    }

    #[derive(Debug, Default)]
    struct ScriptState {
        /// In creation order: (id, created, shown in listings, entry).
        jobs: Vec<(String, String, bool, Value)>,
        /// `listAsyncJobs` answers 432 (an older or locked-down cloud).
        listing_refused: bool,
        /// The next requests of any command answered 429.
        throttle_next: u32,
        /// Listings leave out `jobresult` (as if the cloud's listing did not carry it).
        list_without_results: bool,
        calls: Vec<String>,
        /// Job ids asked with `queryAsyncJobResult`.
        queried: Vec<String>,
        /// Pages asked with `listAsyncJobs`.
        pages: Vec<usize>,
    }

    impl Script {
        fn new() -> Arc<Self> {
            Arc::new(Self::default())
        }

        fn client(self: &Arc<Self>) -> Client {
            let mut cfg = Config::new("http://sim.invalid/client/api", "key", "secret");
            cfg.retry = RetryPolicy {
                max_attempts: 6,
                initial_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(4),
            };
            cfg.poll_initial = Duration::from_millis(4);
            cfg.poll_cap = Duration::from_millis(20);
            cfg.async_timeout = Duration::from_secs(10);
            cfg.page_size = 3;
            Client::with_transport(cfg, self.clone())
        }

        /// A pending job, listed or not; returns its id.
        fn job(&self, listed: bool) -> String {
            let mut st = self.state.lock().unwrap();
            let id = format!("00000000-0000-4000-8000-{:012}", st.jobs.len() + 1);
            let now = time::OffsetDateTime::now_utc();
            let created = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+0000",
                now.year(),
                u8::from(now.month()),
                now.day(),
                now.hour(),
                now.minute(),
                now.second()
            );
            let entry = json!({"jobid": id, "cmd": "org.apache.cloudstack.api.command.user.vm.DeployVMCmd",
                               "jobstatus": 0, "jobprocstatus": 0, "jobresultcode": 0,
                               "created": created});
            st.jobs.push((id.clone(), created, listed, entry));
            id
        }

        fn end(&self, id: &str, status: i64, result: Value) {
            let mut st = self.state.lock().unwrap();
            let entry = &mut st.jobs.iter_mut().find(|j| j.0 == id).unwrap().3;
            entry["jobstatus"] = json!(status);
            entry["jobresultcode"] = json!(if status == 1 { 0 } else { 530 });
            entry["jobresulttype"] = json!("object");
            entry["jobresult"] = result;
        }

        fn calls(&self, command: &str) -> usize {
            let st = self.state.lock().unwrap();
            st.calls.iter().filter(|c| *c == command).count()
        }

        fn answer(&self, req: &HttpRequest) -> HttpResponse {
            let p: HashMap<String, String> = url::form_urlencoded::parse(req.query.as_bytes())
                .into_owned()
                .collect();
            let mut st = self.state.lock().unwrap();
            st.calls.push(req.command.clone());
            let envelope = |body: Value| {
                let key = format!("{}response", req.command.to_ascii_lowercase());
                serde_json::to_vec(&json!({ key: body })).unwrap()
            };
            let error = |code: u16, text: &str| HttpResponse {
                status: code,
                body: envelope(
                    json!({"uuidList": [], "errorcode": code, "cserrorcode": 9999, "errortext": text}),
                ),
            };
            if st.throttle_next > 0 {
                st.throttle_next -= 1;
                return error(429, "The given user has reached his/her account api limit, please retry after [3] ms.");
            }
            let ok = |body: Value| HttpResponse {
                status: 200,
                body: envelope(body),
            };
            match req.command.as_str() {
                "listAsyncJobs" if st.listing_refused => error(
                    432,
                    "The given command does not exist or it is not available for user",
                ),
                "listAsyncJobs" => {
                    let day = p.get("startdate").cloned().unwrap_or_default();
                    let page: usize = p["page"].parse().unwrap();
                    let size: usize = p["pagesize"].parse().unwrap();
                    st.pages.push(page);
                    let shown: Vec<Value> = st
                        .jobs
                        .iter()
                        .filter(|j| j.2 && j.1[..10] >= day[..])
                        .map(|j| {
                            let mut e = j.3.clone();
                            if st.list_without_results {
                                e.as_object_mut().unwrap().remove("jobresult");
                            }
                            e
                        })
                        .collect();
                    let count = shown.len();
                    let page: Vec<Value> = shown
                        .into_iter()
                        .skip((page - 1) * size)
                        .take(size)
                        .collect();
                    ok(if count == 0 {
                        json!({})
                    } else {
                        json!({"count": count, "asyncjobs": page})
                    })
                }
                "queryAsyncJobResult" => {
                    st.queried.push(p["jobid"].clone());
                    match st.jobs.iter().find(|j| j.0 == p["jobid"]) {
                        Some(j) => ok(j.3.clone()),
                        None => error(431, "Unable to find job"),
                    }
                }
                _ => error(
                    432,
                    "The given command does not exist or it is not available for user",
                ),
            }
        }
    }

    impl Transport for Script {
        fn send(&self, req: HttpRequest) -> SendFuture<'_> {
            let resp = self.answer(&req);
            Box::pin(async move { Ok(resp) })
        }
    }

    fn wait(client: &Client, id: &str) -> tokio::task::JoinHandle<Result<Value>> {
        let client = client.clone();
        let id = id.to_string();
        tokio::spawn(async move { client.wait_job("deployVirtualMachine", &id).await })
    }

    async fn ticks(n: u32) {
        tokio::time::sleep(Duration::from_millis(25) * n).await;
    }

    #[tokio::test]
    async fn many_jobs_ending_in_one_tick_cost_one_listing_and_no_queries() {
        let cloud = Script::new();
        let client = cloud.client();
        let ids: Vec<String> = (0..10).map(|_| cloud.job(true)).collect();
        let waiters: Vec<_> = ids.iter().map(|id| wait(&client.clone(), id)).collect();
        ticks(4).await;
        let listings_before = cloud.calls("listAsyncJobs");
        assert!(listings_before >= 1);
        for (i, id) in ids.iter().enumerate() {
            cloud.end(id, 1, json!({"virtualmachine": {"id": format!("vm-{i}")}}));
        }
        for (i, w) in waiters.into_iter().enumerate() {
            let result = w.await.unwrap().unwrap();
            assert_eq!(result["virtualmachine"]["id"], format!("vm-{i}"));
        }
        // 10 jobs on pages of 3: one listing reads 4 pages, and each job is settled from it.
        assert_eq!(cloud.calls("queryAsyncJobResult"), 0);
        let pages_after = cloud.calls("listAsyncJobs") - listings_before;
        assert!((4..=8).contains(&pages_after), "{pages_after} pages read");
    }

    #[tokio::test]
    async fn a_job_never_listed_is_polled_on_its_own_while_others_are_listed() {
        let cloud = Script::new();
        let client = cloud.client();
        let hidden = cloud.job(false);
        let shown = cloud.job(true);
        let (wh, ws) = (wait(&client, &hidden), wait(&client, &shown));
        ticks(4).await;
        cloud.end(&hidden, 1, json!({"ipaddress": {"id": "ip-1"}}));
        cloud.end(&shown, 1, json!({"ipaddress": {"id": "ip-2"}}));
        assert_eq!(wh.await.unwrap().unwrap()["ipaddress"]["id"], "ip-1");
        assert_eq!(ws.await.unwrap().unwrap()["ipaddress"]["id"], "ip-2");
        assert!(cloud.calls("listAsyncJobs") >= MISSES_BEFORE_DIRECT as usize);
        let st = cloud.state.lock().unwrap();
        // Every direct query was for the hidden job: the listed one never needed one.
        assert!(!st.queried.is_empty());
        assert!(st.queried.iter().all(|q| *q == hidden), "{:?}", st.queried);
    }

    #[tokio::test]
    async fn listing_refused_falls_back_to_per_job_polling_for_good() {
        let cloud = Script::new();
        cloud.state.lock().unwrap().listing_refused = true;
        let client = cloud.client();
        let a = cloud.job(true);
        let wa = wait(&client, &a);
        ticks(2).await;
        cloud.end(&a, 1, json!({"success": true}));
        assert_eq!(wa.await.unwrap().unwrap()["success"], true);
        let b = cloud.job(true);
        let wb = wait(&client, &b);
        ticks(2).await;
        cloud.end(&b, 2, json!({"errorcode": 530, "errortext": "boom"}));
        assert!(matches!(
            wb.await.unwrap(),
            Err(Error::JobFailed {
                error_code: 530,
                ..
            })
        ));
        // Asked once (the refusal is final, not retried), never again.
        assert_eq!(cloud.calls("listAsyncJobs"), 1);
        assert!(cloud.calls("queryAsyncJobResult") >= 2);
    }

    #[tokio::test]
    async fn throttled_listings_are_retried_and_nothing_fails() {
        let cloud = Script::new();
        let client = cloud.client();
        let ids: Vec<String> = (0..3).map(|_| cloud.job(true)).collect();
        let waiters: Vec<_> = ids.iter().map(|id| wait(&client, id)).collect();
        ticks(1).await;
        cloud.state.lock().unwrap().throttle_next = 4;
        for id in &ids {
            cloud.end(id, 1, json!({"success": true}));
        }
        for w in waiters {
            assert_eq!(w.await.unwrap().unwrap()["success"], true);
        }
        assert_eq!(cloud.state.lock().unwrap().throttle_next, 0);
        // Throttling is not a refusal: the watcher keeps listing.
        assert!(!lock(&client.inner.watcher.state).listing_refused);
        assert_eq!(cloud.calls("queryAsyncJobResult"), 0);
    }

    #[tokio::test]
    async fn a_dropped_waiter_stops_being_watched_while_others_go_on() {
        let cloud = Script::new();
        let client = cloud.client();
        let (a, b) = (cloud.job(true), cloud.job(true));
        let (wa, wb) = (wait(&client, &a), wait(&client, &b));
        ticks(2).await;
        wa.abort();
        assert!(wa.await.unwrap_err().is_cancelled());
        ticks(2).await;
        assert!(!lock(&client.inner.watcher.state).jobs.contains_key(&a));
        cloud.end(&b, 1, json!({"success": true}));
        assert_eq!(wb.await.unwrap().unwrap()["success"], true);
        // Nothing pending: the ticker stops and no more calls are made.
        ticks(2).await;
        let calls = cloud.state.lock().unwrap().calls.len();
        ticks(4).await;
        assert_eq!(cloud.state.lock().unwrap().calls.len(), calls);
        assert!(!lock(&client.inner.watcher.state).ticking);
    }

    #[tokio::test]
    async fn full_pages_of_ended_jobs_are_not_read_again() {
        let cloud = Script::new();
        let client = cloud.client();
        for _ in 0..6 {
            let id = cloud.job(true);
            cloud.end(&id, 1, json!({"success": true}));
        }
        let id = cloud.job(true);
        let w = wait(&client, &id);
        ticks(4).await;
        cloud.end(&id, 1, json!({"success": true}));
        w.await.unwrap().unwrap();
        let pages = cloud.state.lock().unwrap().pages.clone();
        // Pages 1-3 once per `startdate` (the first listing uses yesterday, until CloudStack's
        // `created` day is known), then only page 3.
        let restarts = pages.iter().filter(|p| **p == 1).count();
        assert!((1..=2).contains(&restarts), "{pages:?}");
        let tail = &pages[3 * restarts..];
        assert!(tail.len() >= 2 && tail.iter().all(|p| *p == 3), "{pages:?}");
    }

    #[tokio::test]
    async fn a_job_ending_with_an_error_carries_code_and_text() {
        let cloud = Script::new();
        let client = cloud.client();
        let id = cloud.job(true);
        let w = wait(&client, &id);
        ticks(1).await;
        cloud.end(
            &id,
            2,
            json!({"errorcode": 533, "errortext": "Unable to create a deployment for VM"}),
        );
        match w.await.unwrap() {
            Err(Error::JobFailed {
                job_id,
                error_code,
                text,
                command,
            }) => {
                assert_eq!(job_id, id);
                assert_eq!(error_code, 533);
                assert_eq!(text, "Unable to create a deployment for VM");
                assert_eq!(command, "deployVirtualMachine");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_ended_job_listed_without_its_result_is_queried() {
        let cloud = Script::new();
        let client = cloud.client();
        let id = cloud.job(true);
        let w = wait(&client, &id);
        ticks(1).await;
        cloud.state.lock().unwrap().list_without_results = true;
        cloud.end(&id, 1, json!({"success": true}));
        // The listing shows it ended without `jobresult`; one query brings the result.
        let r = w.await.unwrap().unwrap();
        assert_eq!(r["success"], true);
        assert_eq!(cloud.state.lock().unwrap().queried, vec![id]);
    }

    #[tokio::test]
    async fn clones_and_other_timeouts_share_one_watcher_and_each_waiter_keeps_its_timeout() {
        let cloud = Script::new();
        let client = cloud.client();
        let short = client.with_async_timeout(Duration::from_millis(60));
        assert!(Arc::ptr_eq(&client.inner.watcher, &short.inner.watcher));
        let slow = cloud.job(true);
        let other = cloud.job(true);
        let w_other = wait(&client, &other);
        let err = short
            .wait_job("deployVirtualMachine", &slow)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::JobTimeout { .. }), "{err}");
        cloud.end(&other, 1, json!({"success": true}));
        assert_eq!(w_other.await.unwrap().unwrap()["success"], true);
    }

    #[test]
    fn delays_follow_the_mix() {
        let ms = Duration::from_millis;
        let (initial, cap) = (ms(100), ms(5000));
        // A new job of an unknown command: first looked at after a quarter of poll_initial.
        assert_eq!(next_delay(ms(0), None, 1, initial, cap), ms(25));
        // Alone: a quarter of the age, from poll_initial up to poll_cap.
        assert_eq!(next_delay(ms(100), None, 1, initial, cap), ms(100));
        assert_eq!(next_delay(ms(2000), None, 1, initial, cap), ms(500));
        assert_eq!(next_delay(ms(60_000), None, 1, initial, cap), cap);
        // In a crowd the listing is shared, so each job is watched more closely: an eighth
        // of its age (from half of poll_initial).
        assert_eq!(next_delay(ms(2000), None, 2, initial, cap), ms(250));
        assert_eq!(next_delay(ms(2000), None, 200, initial, cap), ms(250));
        assert_eq!(next_delay(ms(100), None, 200, initial, cap), ms(50));
        // Known 2 s jobs: quiet until 1.8 s, then every 4% of the age (at least 25 ms).
        let span = Some(Span {
            lo: ms(2000),
            hi: ms(2100),
        });
        assert_eq!(next_delay(ms(0), span, 1, initial, cap), ms(1800));
        assert_eq!(next_delay(ms(1000), span, 1, initial, cap), ms(800));
        assert_eq!(next_delay(ms(1900), span, 1, initial, cap), ms(76));
        let quick = Some(Span {
            lo: ms(300),
            hi: ms(300),
        });
        assert_eq!(next_delay(ms(280), quick, 1, initial, cap), ms(25));
        // Far overdue: back to the age backoff.
        assert_eq!(next_delay(ms(10_000), span, 1, initial, cap), ms(2500));
        assert_eq!(next_delay(ms(10_000), span, 4, initial, cap), ms(1250));
    }

    #[test]
    fn startdate_is_the_oldest_listed_day() {
        assert_eq!(
            day_of("2026-11-30T21:47:06+0000").as_deref(),
            Some("2026-11-30")
        );
        assert_eq!(day_of("30/11/2026"), None);
        assert_eq!(day_of("2026"), None);
        let mut st = WatchState::default();
        let now = Instant::now();
        let job = |day: Option<&str>, direct: bool| Watched {
            command: "x".into(),
            registered: now,
            created_day: day.map(str::to_string),
            waiters: Vec::new(),
            misses: 0,
            direct: direct.then_some(Duration::ZERO),
            last_pending: None,
            next_at: now,
        };
        st.jobs.insert("a".into(), job(Some("2026-11-30"), false));
        st.jobs.insert("b".into(), job(Some("2026-11-29"), false));
        st.jobs.insert("c".into(), job(Some("2026-11-01"), true));
        assert_eq!(st.startdate(), "2026-11-29");
        // An unlisted job yet: the server's newest day seen, else the client's yesterday.
        st.jobs.insert("d".into(), job(None, false));
        st.server_day = Some("2026-11-28".into());
        assert_eq!(st.startdate(), "2026-11-28");
        st.server_day = None;
        assert_eq!(st.startdate(), client_yesterday().min("2026-11-29".into()));
    }
}

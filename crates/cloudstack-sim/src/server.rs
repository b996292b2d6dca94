//! The HTTP face: `/client/api` (GET and POST) and `/sim/stats`, served by our own accept
//! loop over hyper so that an injected fault can close a connection without any answer.

use crate::auth;
use crate::config::Options;
use crate::error::{ApiError, Error};
use crate::faults::{Fault, FaultInjector, LostAnswers};
use crate::forward::{self, Forwarder, Gate};
use crate::handlers::{self, Ctx};
use crate::jobs;
use crate::params::Params;
use crate::sandbox::{self, Sandbox};
use crate::seed;
use crate::state::World;
use crate::stats::Stats;
use crate::throttle::RateLimiter;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// Marker put on a response whose connection must be closed without answering.
#[derive(Debug, Clone, Copy)]
struct DropConnection;

/// A simulator instance: state, options, stats. Cheap to clone (shared inside).
#[derive(Debug, Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: Options,
    world: Mutex<World>,
    stats: Stats,
    faults: FaultInjector,
    lost_answers: LostAnswers,
    throttle: Option<RateLimiter>,
    forwarder: Forwarder,
    sandbox: Option<Arc<Sandbox>>,
}

impl Simulator {
    /// Builds the world: the state file if it exists, else the seed file, else the built-in seed.
    pub fn new(options: Options) -> Result<Self, Error> {
        let world = match (&options.state_file, &options.seed_file) {
            (Some(state), _) if state.exists() => World::load(state)?,
            (_, Some(seed)) => World::load(seed)?,
            _ => seed::default_world(options.public_ip_range),
        };
        world.validate()?;
        if let Some(state) = &options.state_file {
            world.save(state)?;
        }
        let sandbox = match &options.vm_sandbox {
            Some(_) if options.ssh_target.is_some() => {
                return Err(Error::Config(
                    "--vm-sandbox and --ssh-target are mutually exclusive".into(),
                ))
            }
            Some(dir) => {
                let keep: Vec<String> = world
                    .virtual_machines
                    .iter()
                    .map(|v| sandbox::vm_root_name(&v.id, &v.name))
                    .collect();
                Some(Arc::new(Sandbox::new(dir, &keep)?))
            }
            None => None,
        };
        Ok(Simulator {
            inner: Arc::new(Inner {
                faults: FaultInjector::new(
                    options.fault_rate,
                    options.fault_seed,
                    &options.fault_kinds,
                ),
                lost_answers: LostAnswers::new(&options.lose_answers_after),
                throttle: options.api_rate_limit.map(RateLimiter::new),
                forwarder: Forwarder::new(
                    options.ssh_target,
                    options.ssh_authorized_keys.clone(),
                    sandbox.clone(),
                ),
                sandbox,
                world: Mutex::new(world),
                stats: Stats::default(),
                options,
            }),
        })
    }

    /// The options it runs with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// A copy of the current world (for tests and `--print-seed`).
    pub fn world(&self) -> World {
        self.inner
            .world
            .lock()
            .map(|w| w.clone())
            .unwrap_or_default()
    }

    /// The `/sim/stats` document.
    pub fn stats(&self) -> Value {
        self.inner.stats.to_json()
    }

    /// The VM sandboxes (`--vm-sandbox`), if enabled.
    pub fn sandbox(&self) -> Option<&Arc<Sandbox>> {
        self.inner.sandbox.as_ref()
    }

    /// The `/sim/vms` document: every VM with its state, guest IP, forwarded ports and
    /// (with `--vm-sandbox`) root directory, so tests and the demo can find VM roots.
    pub fn vm_listing(&self) -> Value {
        let w = self.world();
        let vms: Vec<Value> = w
            .virtual_machines
            .iter()
            .map(|vm| {
                let forwards: Vec<Value> = w
                    .port_forwarding_rules
                    .iter()
                    .filter(|r| r.virtualmachineid == vm.id)
                    .map(|r| {
                        json!({
                            "publicip": w.public_ip(&r.ipaddressid).map(|ip| ip.ipaddress.clone()),
                            "publicport": r.publicport,
                            "privateport": r.privateport,
                            "protocol": r.protocol,
                        })
                    })
                    .collect();
                json!({
                    "id": vm.id,
                    "name": vm.name,
                    "displayname": vm.displayname,
                    "state": vm.state,
                    "ip": vm.nic.iter().find(|n| n.isdefault).or(vm.nic.first()).map(|n| n.ipaddress.clone()),
                    "root": self.sandbox().map(|s| s.vm_root(&vm.id, &vm.name).to_string_lossy().into_owned()),
                    "forwards": forwards,
                })
            })
            .collect();
        json!({
            "sandbox": self.sandbox().map(|s| s.dir().to_string_lossy().into_owned()),
            "vms": vms,
        })
    }

    fn gate(&self) -> Gate {
        let sim = self.clone();
        Arc::new(move |rule, local, peer| {
            sim.inner
                .world
                .lock()
                .ok()
                .and_then(|w| forward::admission(&w, rule, local, peer))
        })
    }

    /// Saves, then brings listeners and authorized keys in line with the world.
    async fn after_change(&self, world_snapshot: Option<(Vec<forward::Wanted>, String)>) {
        if let Some((wanted, keys)) = world_snapshot {
            self.inner.forwarder.sync_keys(keys);
            self.inner.forwarder.reconcile(wanted, self.gate()).await;
        }
    }

    fn snapshot(w: &World) -> (Vec<forward::Wanted>, String) {
        (forward::wanted(w), forward::authorized_keys(w))
    }

    fn save(&self, w: &World) {
        if let Some(path) = &self.inner.options.state_file {
            if let Err(e) = w.save(path) {
                tracing::error!(error = %e, "cannot save state");
            }
        }
    }

    /// Finishes a job after `delay` (in the background).
    fn schedule(&self, jobid: String, delay: Duration) {
        let sim = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let snap = {
                let Ok(mut w) = sim.inner.world.lock() else {
                    return;
                };
                if !jobs::complete(&mut w, &jobid) {
                    return;
                }
                sim.save(&w);
                Simulator::snapshot(&w)
            };
            sim.after_change(Some(snap)).await;
        });
    }

    /// Executes one verified API command (no faults, no auth): the core of the simulator.
    async fn execute(&self, p: &Params) -> Result<Value, ApiError> {
        let cmd = p.command.to_lowercase();
        let handler = handlers::lookup(&cmd).ok_or_else(ApiError::unknown_command)?;
        let generated_key = if cmd == "createsshkeypair" && p.opt("name").is_some() {
            let comment = p.opt("name").unwrap_or("key").to_string();
            match tokio::task::spawn_blocking(move || handlers::generate_key(&comment)).await {
                Ok(Ok(k)) => Some(k),
                Ok(Err(e)) => return Err(e),
                Err(e) => {
                    return Err(ApiError::with_code(
                        530,
                        format!("key generation failed: {e}"),
                    ))
                }
            }
        } else {
            None
        };
        let mutating = handlers::is_mutating(&cmd);
        let job_latency = &self.inner.options.job_latency;
        let latency = job_latency.for_command(&cmd);
        let (result, later, snap) = {
            let mut w = self
                .inner
                .world
                .lock()
                .map_err(|_| ApiError::with_code(530, "state lock poisoned"))?;
            // Handlers validate before mutating, but a backup makes "an error changes
            // nothing" a guarantee rather than a convention.
            let backup = mutating.then(|| w.clone());
            let mut ctx = Ctx {
                world: &mut w,
                options: &self.inner.options,
                changed: false,
                new_jobs: Vec::new(),
                generated_key,
            };
            let result = handler(&mut ctx, p);
            let changed = ctx.changed;
            let new_jobs = std::mem::take(&mut ctx.new_jobs);
            let mut later = Vec::new();
            match (&result, backup) {
                (Err(_), Some(b)) => *w = b,
                (Ok(_), _) if changed || !new_jobs.is_empty() => {
                    for j in new_jobs {
                        if latency.is_zero() {
                            self.inner.stats.record_job_latency(&j, latency);
                            jobs::complete(&mut w, &j);
                        } else {
                            later.push(j);
                        }
                    }
                }
                _ => {}
            }
            let snap = if result.is_ok() && changed {
                self.save(&w);
                Some(Simulator::snapshot(&w))
            } else {
                None
            };
            (result, later, snap)
        };
        for j in later {
            let latency = job_latency.sample(&cmd);
            self.inner.stats.record_job_latency(&j, latency);
            self.schedule(j, latency);
        }
        self.after_change(snap).await;
        result
    }
}

fn json_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

fn envelope(command: &str, body: Value) -> Value {
    let key = if command.is_empty() {
        "errorresponse".to_string()
    } else {
        format!("{}response", command.to_lowercase())
    };
    json!({ key: body })
}

fn error_response(command: &str, e: &ApiError) -> Response {
    json_response(e.errorcode, envelope(command, e.body()))
}

fn fault_response(command: &str, fault: Fault) -> Response {
    match fault {
        Fault::UnavailableBefore | Fault::UnavailableAfter => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>",
        )
            .into_response(),
        Fault::InternalBefore => error_response(
            command,
            &ApiError {
                errorcode: 530,
                cserrorcode: Some(crate::error::cs_code::CLOUD_RUNTIME),
                errortext: "Internal error executing command, please contact your system administrator".into(),
            },
        ),
        // A login or maintenance page a proxy serves instead of CloudStack's answer.
        Fault::HtmlAfter | Fault::TruncatedAfter => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<!DOCTYPE html><html><head><title>Gateway</title></head><body><h1>Session expired</h1><p>Please sign in again.</p></body></html>",
        )
            .into_response(),
        Fault::DropBefore | Fault::DropAfter => {
            let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            r.extensions_mut().insert(DropConnection);
            r
        }
    }
}

fn decode_pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn api(
    State(sim): State<Simulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let mut pairs = decode_pairs(uri.query().unwrap_or(""));
    if method == Method::POST {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.starts_with("application/x-www-form-urlencoded"))
            .unwrap_or(true);
        if is_form {
            pairs.extend(decode_pairs(&String::from_utf8_lossy(&body)));
        }
    }
    let command = pairs
        .iter()
        .find(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let (response, fault) = answer(&sim, &command, &pairs).await;
    let status = response.status().as_u16();
    sim.inner.stats.record(
        if command.is_empty() {
            "(none)"
        } else {
            &command
        },
        status,
    );
    if let Some(f) = fault {
        sim.inner.stats.record_fault(f.name());
    }
    tracing::info!(
        command = %command,
        status,
        fault = fault.map(Fault::name).unwrap_or("none"),
        latency_ms = started.elapsed().as_millis() as u64,
        "api request"
    );
    response
}

async fn answer(
    sim: &Simulator,
    command: &str,
    pairs: &[(String, String)],
) -> (Response, Option<Fault>) {
    let cmd = command.to_lowercase();
    let mutating = handlers::is_mutating(&cmd);
    let fault = match sim.inner.faults.draw(mutating) {
        None if !mutating => {
            let job = pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("jobid"))
                .map(|(_, v)| v.as_str());
            sim.inner.lost_answers.read_fault(&cmd, job, Instant::now())
        }
        drawn => drawn,
    };
    if let Some(f) = fault.filter(|f| !f.after()) {
        return (fault_response(command, f), Some(f));
    }
    if command.is_empty() {
        return (
            error_response(
                "",
                &ApiError::with_code(
                    432,
                    "Unable to execute API command: missing parameter command",
                ),
            ),
            fault,
        );
    }
    if let Err(e) = auth::verify(
        pairs,
        &sim.inner.options.api_key,
        &sim.inner.options.secret_key,
        chrono::Utc::now(),
    ) {
        return (error_response(command, &e), fault);
    }
    // Like CloudStack, throttling applies to authenticated requests, before anything runs.
    if let Some(limiter) = &sim.inner.throttle {
        let key = pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("apikey"))
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        if let Err(e) = limiter.check(key, Instant::now()) {
            return (error_response(command, &e), fault);
        }
    }
    let p = Params::new(command, pairs);
    if let Some(r) = p.opt("response") {
        if !r.eq_ignore_ascii_case("json") {
            let e = ApiError::server_param(format!(
                "the simulator only answers JSON: use response=json (got response={r})"
            ));
            return (error_response(command, &e), fault);
        }
    }
    let result = sim.execute(&p).await;
    if let (true, Ok(answer)) = (mutating, &result) {
        sim.inner
            .lost_answers
            .accepted(&cmd, answer, Instant::now());
    }
    let (status, body) = match &result {
        Ok(body) => (200, envelope(command, body.clone())),
        Err(e) => (e.errorcode, envelope(command, e.body())),
    };
    match fault {
        // The command ran; a proxy cuts its answer short (status kept).
        Some(f @ Fault::TruncatedAfter) => (truncated_response(status, &body), Some(f)),
        // The change is applied (or the request failed anyway); now lose the answer.
        Some(f) if f.after() => (fault_response(command, f), Some(f)),
        _ => (json_response(status, body), fault),
    }
}

/// The first half of an answer's JSON, as a proxy that closed the upstream early sends it.
fn truncated_response(status: u16, body: &Value) -> Response {
    let text = body.to_string();
    let mut cut = text.len() / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        text[..cut].to_string(),
    )
        .into_response()
}

async fn stats(State(sim): State<Simulator>) -> Response {
    json_response(200, sim.stats())
}

async fn vms(State(sim): State<Simulator>) -> Response {
    json_response(200, sim.vm_listing())
}

/// The axum router (without the connection-dropping layer; see [`run`]).
fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/client/api", get(api).post(api))
        .route("/client/api/", get(api).post(api))
        .route("/sim/stats", get(stats))
        .route("/sim/vms", get(vms))
        .with_state(sim)
}

/// Serves the simulator on `listener` until `shutdown` completes.
///
/// Tests bind `127.0.0.1:0`, read the port from the listener, and pass e.g. a oneshot
/// receiver as `shutdown`. Jobs left pending by a previous run (state file) are finished
/// first; port-forwarding listeners live as long as this future.
pub async fn run(
    listener: TcpListener,
    sim: Simulator,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    run_with_tls(listener, sim, shutdown, None).await
}

/// [`run`], over HTTPS when `tls` is given (see [`crate::tls`]); a client that fails the
/// TLS handshake (e.g. one that does not trust the CA) just loses its connection.
pub async fn run_with_tls(
    listener: TcpListener,
    sim: Simulator,
    shutdown: impl Future<Output = ()>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<(), Error> {
    let snap = {
        let mut w = sim
            .inner
            .world
            .lock()
            .map_err(|_| Error::Config("state lock poisoned".into()))?;
        for j in jobs::pending(&w) {
            jobs::complete(&mut w, &j);
        }
        sim.save(&w);
        Simulator::snapshot(&w)
    };
    sim.after_change(Some(snap)).await;
    let app = router(sim.clone());
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let app = app.clone();
                let tls = tls.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let app = app.clone();
                        async move {
                            let resp = match app.oneshot(req.map(Body::new)).await {
                                Ok(r) => r,
                                Err(never) => match never {},
                            };
                            if resp.extensions().get::<DropConnection>().is_some() {
                                // hyper closes the connection without writing anything
                                // when the service fails: exactly a dropped connection.
                                Err(std::io::Error::other("fault injection: connection dropped"))
                            } else {
                                Ok(resp)
                            }
                        }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        }
                        Some(tls) => match tls.accept(stream).await {
                            Ok(stream) => {
                                let _ = http
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                    .await;
                            }
                            Err(e) => tracing::info!(error = %e, "TLS handshake failed"),
                        },
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    sim.inner.forwarder.shutdown();
    connections.abort_all();
    Ok(())
}

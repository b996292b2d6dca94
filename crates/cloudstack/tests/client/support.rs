//! A scripted, in-memory CloudStack for the client's tests (not the simulator crate): a tiny
//! stateful [`Transport`] with zones, VMs and async jobs, plus injectable faults that strike
//! before or after a request is applied.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use cloudstack::{
    transport::{HttpRequest, HttpResponse, Method, SendFuture, Transport, TransportError},
    Client, Config, RetryPolicy,
};
use serde_json::{json, Value};

pub const KEY: &str = "test-api-key";
pub const SECRET: &str = "test-secret-key";

/// A fault injected into the next request for one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Connection refused: the server never sees the request.
    Refused,
    /// HTTP 503 without applying anything.
    Status503Before,
    /// Applies the request, then answers HTTP 503.
    Status503After,
    /// Applies the request, then answers CloudStack 530.
    Api530After,
    /// Applies the request, then drops the connection (no answer).
    DropAfter,
    /// Applies the request, then the client times out.
    TimeoutAfter,
    /// HTTP 429 (rate limited), nothing applied.
    TooMany,
    /// Applies the request, then a proxy cuts the JSON answer short (status 200).
    TruncatedAfter,
    /// Applies the request, then a proxy answers its own HTML page with status 200.
    HtmlAfter,
}

#[derive(Debug, Default)]
struct State {
    zones: Vec<Value>,
    vms: Vec<Value>,
    ips: Vec<Value>,
    jobs: HashMap<String, Job>,
    next_id: u64,
    faults: HashMap<String, VecDeque<Fault>>,
    calls: Vec<(String, Method)>,
    random_fault_rate: f64,
    rng: u64,
    job_polls: u32,
    permanent: HashMap<String, (u16, String)>,
    faults_struck: usize,
}

#[derive(Debug)]
struct Job {
    polls_left: u32,
    result: Result<Value, (u16, String)>,
    vm_id: Option<String>,
}

/// The fake cloud. Clone the `Arc` to inspect it after the client used it.
#[derive(Debug, Default)]
pub struct FakeCloud {
    state: Mutex<State>,
}

impl FakeCloud {
    pub fn new() -> Arc<Self> {
        let cloud = Arc::new(Self::default());
        cloud.state.lock().unwrap().job_polls = 2;
        cloud
    }

    pub fn client(self: &Arc<Self>) -> Client {
        Client::with_transport(test_config(), self.clone())
    }

    pub fn add_zones(&self, names: &[&str]) {
        let mut st = self.state.lock().unwrap();
        for n in names {
            let id = st.new_id();
            st.zones
                .push(json!({"id": id, "name": n, "networktype": "Advanced"}));
        }
    }

    pub fn add_vm(&self, name: &str, state: &str) -> String {
        let mut st = self.state.lock().unwrap();
        let id = st.new_id();
        st.vms.push(json!({"id": id, "name": name, "state": state}));
        id
    }

    pub fn inject(&self, command: &str, faults: &[Fault]) {
        let mut st = self.state.lock().unwrap();
        st.faults
            .entry(command.to_string())
            .or_default()
            .extend(faults.iter().copied());
    }

    /// Every request fails with one of the "after"/"before" faults with probability `rate`.
    pub fn random_faults(&self, rate: f64, seed: u64) {
        let mut st = self.state.lock().unwrap();
        st.random_fault_rate = rate;
        st.rng = seed | 1;
    }

    /// `command` always fails with this CloudStack error.
    pub fn fail_always(&self, command: &str, code: u16, text: &str) {
        let mut st = self.state.lock().unwrap();
        st.permanent
            .insert(command.to_string(), (code, text.to_string()));
    }

    pub fn set_job_polls(&self, n: u32) {
        self.state.lock().unwrap().job_polls = n;
    }

    pub fn calls(&self, command: &str) -> usize {
        let st = self.state.lock().unwrap();
        st.calls.iter().filter(|(c, _)| c == command).count()
    }

    /// How many faults were injected so far.
    pub fn faults_struck(&self) -> usize {
        self.state.lock().unwrap().faults_struck
    }

    pub fn vms_named(&self, name: &str) -> usize {
        let st = self.state.lock().unwrap();
        st.vms.iter().filter(|v| v["name"] == name).count()
    }

    pub fn ip_count(&self) -> usize {
        self.state.lock().unwrap().ips.len()
    }

    pub fn vm_count(&self) -> usize {
        self.state.lock().unwrap().vms.len()
    }
}

/// The signature a CloudStack server expects for a request's decoded parameters (all but
/// `signature` itself), signed with [`SECRET`]: what the fake servers check requests against.
pub fn expected_signature(pairs: &[(String, String)]) -> String {
    cloudstack::sign::signature(
        SECRET,
        pairs
            .iter()
            .filter(|(n, _)| n != "signature")
            .map(|(n, v)| (n.as_str(), v.as_str())),
    )
}

pub fn test_config() -> Config {
    let mut cfg = Config::new("http://fake.invalid/client/api", KEY, SECRET);
    cfg.retry = RetryPolicy {
        max_attempts: 8,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
    };
    cfg.poll_initial = Duration::from_millis(1);
    cfg.poll_cap = Duration::from_millis(4);
    cfg.async_timeout = Duration::from_secs(5);
    cfg
}

fn ok(command: &str, body: Value) -> HttpResponse {
    let key = format!("{}response", command.to_ascii_lowercase());
    HttpResponse {
        status: 200,
        body: serde_json::to_vec(&json!({ key: body })).unwrap(),
    }
}

fn api_err(command: &str, code: u16, text: &str) -> HttpResponse {
    let key = format!("{}response", command.to_ascii_lowercase());
    HttpResponse {
        status: code,
        body: serde_json::to_vec(&json!({ key: {"uuidList": [], "errorcode": code, "cserrorcode": 9999, "errortext": text} }))
            .unwrap(),
    }
}

impl State {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.next_id)
    }

    fn next_random(&mut self) -> f64 {
        // xorshift64: deterministic per seed.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x % 10_000) as f64 / 10_000.0
    }

    fn pick_fault(&mut self, command: &str) -> Option<Fault> {
        if let Some(f) = self.faults.get_mut(command).and_then(VecDeque::pop_front) {
            return Some(f);
        }
        if self.random_fault_rate > 0.0 && self.next_random() < self.random_fault_rate {
            const ALL: [Fault; 9] = [
                Fault::Refused,
                Fault::Status503Before,
                Fault::Status503After,
                Fault::Api530After,
                Fault::DropAfter,
                Fault::TimeoutAfter,
                Fault::TooMany,
                Fault::TruncatedAfter,
                Fault::HtmlAfter,
            ];
            let i = (self.next_random() * ALL.len() as f64) as usize % ALL.len();
            return Some(ALL[i]);
        }
        None
    }

    fn list(items: Vec<Value>, key: &str, p: &HashMap<String, String>) -> Value {
        let total = items.len();
        let page: usize = p.get("page").and_then(|s| s.parse().ok()).unwrap_or(1);
        let size: usize = p
            .get("pagesize")
            .and_then(|s| s.parse().ok())
            .unwrap_or(usize::MAX);
        let slice: Vec<Value> = items
            .into_iter()
            .skip((page - 1).saturating_mul(size))
            .take(size)
            .collect();
        if total == 0 {
            json!({})
        } else {
            json!({"count": total, key: slice})
        }
    }

    fn new_job(&mut self, result: Result<Value, (u16, String)>, vm_id: Option<String>) -> String {
        let id = self.new_id();
        let polls_left = self.job_polls;
        self.jobs.insert(
            id.clone(),
            Job {
                polls_left,
                result,
                vm_id,
            },
        );
        id
    }

    fn apply(&mut self, command: &str, p: &HashMap<String, String>) -> HttpResponse {
        if let Some((code, text)) = self.permanent.get(command).cloned() {
            return api_err(command, code, &text);
        }
        match command {
            "listZones" => {
                let items = self
                    .zones
                    .iter()
                    .filter(|z| p.get("name").is_none_or(|n| z["name"] == n.as_str()))
                    .filter(|z| p.get("id").is_none_or(|n| z["id"] == n.as_str()))
                    .cloned()
                    .collect();
                ok(command, Self::list(items, "zone", p))
            }
            "listVirtualMachines" => {
                let items = self
                    .vms
                    .iter()
                    .filter(|v| p.get("name").is_none_or(|n| v["name"] == n.as_str()))
                    .filter(|v| p.get("id").is_none_or(|n| v["id"] == n.as_str()))
                    .cloned()
                    .collect();
                ok(command, Self::list(items, "virtualmachine", p))
            }
            "deployVirtualMachine" => {
                let Some(zone) = p.get("zoneid") else {
                    return api_err(command, 431, "Unable to execute API command deployvirtualmachine due to missing parameter zoneid");
                };
                let id = self.new_id();
                let name = p.get("name").cloned().unwrap_or_else(|| format!("VM-{id}"));
                let mut vm = json!({"id": id, "name": name, "state": "Starting", "zoneid": zone,
                                    "nic": [{"id": "nic", "ipaddress": "10.1.1.10", "isdefault": true}]});
                let result = if name.starts_with("fail") {
                    Err((530, "Unable to create a deployment for VM".to_string()))
                } else {
                    let mut done = vm.clone();
                    done["state"] = json!("Running");
                    done["password"] = json!("s3cret-pw");
                    Ok(json!({"virtualmachine": done}))
                };
                let job = self.new_job(result, Some(id.clone()));
                vm["jobid"] = json!(job);
                self.vms.push(vm);
                ok(command, json!({"id": id, "jobid": job}))
            }
            "associateIpAddress" => {
                let net = p.get("networkid").cloned().unwrap_or_default();
                let id = self.new_id();
                let ip = json!({"id": id, "ipaddress": format!("127.100.0.{}", self.ips.len() + 10),
                                "associatednetworkid": net, "state": "Allocated", "issourcenat": false});
                self.ips.push(ip.clone());
                let job = self.new_job(Ok(json!({"ipaddress": ip})), None);
                ok(command, json!({"id": id, "jobid": job}))
            }
            "listPublicIpAddresses" => {
                let items = self
                    .ips
                    .iter()
                    .filter(|v| {
                        p.get("associatednetworkid")
                            .is_none_or(|n| v["associatednetworkid"] == n.as_str())
                    })
                    .cloned()
                    .collect();
                ok(command, Self::list(items, "publicipaddress", p))
            }
            "destroyVirtualMachine" => {
                let id = p.get("id").cloned().unwrap_or_default();
                let before = self.vms.len();
                self.vms.retain(|v| v["id"] != id.as_str());
                if self.vms.len() == before {
                    return api_err(command, 431, "Unable to execute API command destroyvirtualmachine due to invalid value. Invalid parameter id value=x due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.");
                }
                let job = self.new_job(
                    Ok(json!({"virtualmachine": {"id": id, "state": "Destroyed"}})),
                    None,
                );
                ok(command, json!({"jobid": job}))
            }
            "queryAsyncJobResult" => {
                let id = p.get("jobid").cloned().unwrap_or_default();
                let Some(job) = self.jobs.get_mut(&id) else {
                    return api_err(command, 431, "Unable to find job");
                };
                if job.polls_left > 0 {
                    job.polls_left -= 1;
                    return ok(command, json!({"jobid": id, "jobstatus": 0}));
                }
                let vm_id = job.vm_id.clone();
                let result = job.result.clone();
                if let Some(vm_id) = vm_id {
                    let state = if result.is_ok() { "Running" } else { "Error" };
                    for vm in &mut self.vms {
                        if vm["id"] == vm_id.as_str() {
                            vm["state"] = json!(state);
                            vm.as_object_mut().unwrap().remove("jobid");
                        }
                    }
                }
                match result {
                    Ok(r) => ok(
                        command,
                        json!({"jobid": id, "jobstatus": 1, "jobresultcode": 0, "jobresult": r}),
                    ),
                    Err((code, text)) => ok(
                        command,
                        json!({"jobid": id, "jobstatus": 2, "jobresultcode": 530,
                               "jobresult": {"errorcode": code, "errortext": text}}),
                    ),
                }
            }
            _ => api_err(
                command,
                432,
                "The given command does not exist or it is not available for user",
            ),
        }
    }

    fn handle(&mut self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query.as_bytes())
            .into_owned()
            .collect();
        let p: HashMap<String, String> = pairs.iter().cloned().collect();
        let command = p.get("command").cloned().unwrap_or_default();
        self.calls.push((command.clone(), req.method));

        // Verify the signature like the server would.
        let expected = expected_signature(&pairs);
        if p.get("signature") != Some(&expected) || p.get("apikey").map(String::as_str) != Some(KEY)
        {
            return Ok(api_err(
                &command,
                401,
                "unable to verify user credentials and/or request signature",
            ));
        }

        let fault = self.pick_fault(&command);
        self.faults_struck += usize::from(fault.is_some());
        let dropped = |timeout| TransportError {
            maybe_sent: true,
            timeout,
            message: "connection closed before message completed".into(),
        };
        match fault {
            None => Ok(self.apply(&command, &p)),
            Some(Fault::Refused) => Err(TransportError {
                maybe_sent: false,
                timeout: false,
                message: "connection refused".into(),
            }),
            Some(Fault::Status503Before) => Ok(HttpResponse {
                status: 503,
                body: b"<html>503 Service Unavailable</html>".to_vec(),
            }),
            Some(Fault::TooMany) => Ok(api_err(&command, 429, "too many requests")),
            Some(Fault::Status503After) => {
                self.apply(&command, &p);
                Ok(HttpResponse {
                    status: 503,
                    body: b"<html>503 Service Unavailable</html>".to_vec(),
                })
            }
            Some(Fault::Api530After) => {
                self.apply(&command, &p);
                Ok(api_err(
                    &command,
                    530,
                    "Internal error executing command, please contact your system administrator",
                ))
            }
            Some(Fault::DropAfter) => {
                self.apply(&command, &p);
                Err(dropped(false))
            }
            Some(Fault::TimeoutAfter) => {
                self.apply(&command, &p);
                Err(dropped(true))
            }
            Some(Fault::TruncatedAfter) => {
                let mut answer = self.apply(&command, &p);
                answer.body.truncate(answer.body.len() / 2);
                Ok(answer)
            }
            Some(Fault::HtmlAfter) => {
                self.apply(&command, &p);
                Ok(HttpResponse {
                    status: 200,
                    body: b"<html><body>Please sign in to continue</body></html>".to_vec(),
                })
            }
        }
    }
}

impl Transport for FakeCloud {
    fn send(&self, req: HttpRequest) -> SendFuture<'_> {
        let result = self.state.lock().unwrap().handle(&req);
        Box::pin(async move { result })
    }
}

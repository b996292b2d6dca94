//! Test support: start a simulator in-process on 127.0.0.1:0 and talk to it with an
//! independent signing helper (form-urlencoding via the `url` crate, whose unreserved set
//! is Java URLEncoder's, then `+` → `%20`), so the tests cross-check `auth.rs`.

use base64::Engine as _;
use cloudstack_sim::{Options, Simulator};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const KEY: &str = "mesostack-api-key";
pub const SECRET: &str = "mesostack-secret-key";
pub const ZONE: &str = "5ea72245-fbe5-4646-9a88-277b81facfbe";
pub const SMALL: &str = "03f15d3e-57cd-41de-afb0-8714c3a3f05a";
pub const TEMPLATE: &str = "936ddbeb-a04a-4fb4-bf5a-e1de49fa3af5";
pub const NETWORK: &str = "5fed5b81-ea49-4e5a-bc36-ee52bd782d54";
pub const UBUNTU_1404: &str = "c0a80a01-0000-4000-8000-000000000141";

pub fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Signs `params` (which must not contain `signature`).
pub fn sign(params: &[(String, String)], secret: &str) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let query = sorted
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .to_lowercase();
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(query.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub struct TestSim {
    pub base: String,
    pub sim: Option<Simulator>,
    pub secret: String,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), cloudstack_sim::Error>>>,
}

/// What came back: HTTP status and JSON (None when the connection was dropped).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The object inside the `<command>response` envelope.
    pub fn inner(&self) -> &Value {
        self.body
            .as_object()
            .and_then(|m| m.values().next())
            .unwrap_or(&Value::Null)
    }
}

impl TestSim {
    pub async fn start(options: Options) -> TestSim {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let secret = options.secret_key.clone();
        let sim = Simulator::new(options).unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(cloudstack_sim::run(listener, sim.clone(), async {
            let _ = rx.await;
        }));
        TestSim {
            base: format!("http://{addr}"),
            sim: Some(sim),
            secret,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// A client for a simulator running elsewhere (e.g. the binary).
    pub fn attach(base: &str, secret: &str) -> TestSim {
        TestSim {
            base: base.trim_end_matches('/').to_string(),
            sim: None,
            secret: secret.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            shutdown: None,
            handle: None,
        }
    }

    /// The in-process simulator's world.
    pub fn world(&self) -> cloudstack_sim::World {
        self.sim.as_ref().unwrap().world()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }

    pub fn signed_params(
        &self,
        command: &str,
        args: &[(&str, &str)],
        secret: &str,
    ) -> Vec<(String, String)> {
        let expires = (chrono::Utc::now() + chrono::Duration::minutes(10))
            .format("%Y-%m-%dT%H:%M:%S%z")
            .to_string();
        let mut params: Vec<(String, String)> = vec![
            ("command".into(), command.into()),
            ("apikey".into(), KEY.into()),
            ("response".into(), "json".into()),
            ("signatureversion".into(), "3".into()),
            ("expires".into(), expires),
        ];
        params.extend(args.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let sig = sign(&params, secret);
        params.push(("signature".into(), sig));
        params
    }

    pub fn query_string(params: &[(String, String)]) -> String {
        params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Sends raw params with GET; `Err` when the connection was dropped.
    pub async fn get_raw(&self, params: &[(String, String)]) -> Result<Answer, reqwest::Error> {
        let url = format!("{}/client/api?{}", self.base, Self::query_string(params));
        let resp = self.http.get(url).send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok(Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        })
    }

    pub async fn try_call(
        &self,
        command: &str,
        args: &[(&str, &str)],
    ) -> Result<Answer, reqwest::Error> {
        let params = self.signed_params(command, args, &self.secret);
        self.get_raw(&params).await
    }

    /// Signed GET; panics on a dropped connection.
    pub async fn call(&self, command: &str, args: &[(&str, &str)]) -> Answer {
        self.try_call(command, args).await.unwrap()
    }

    /// Signed POST with a form body.
    pub async fn post(&self, command: &str, args: &[(&str, &str)]) -> Answer {
        let params = self.signed_params(command, args, &self.secret);
        let resp = self
            .http
            .post(format!("{}/client/api", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Self::query_string(&params))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap(),
        }
    }

    /// Calls, expects 200, returns the inner object.
    pub async fn ok(&self, command: &str, args: &[(&str, &str)]) -> Value {
        let a = self.call(command, args).await;
        assert_eq!(a.status, 200, "{command}: {}", a.body);
        a.inner().clone()
    }

    /// Polls a job until it is done; returns the whole job object.
    pub async fn wait_job(&self, jobid: &str) -> Value {
        for _ in 0..600 {
            let j = self.ok("queryAsyncJobResult", &[("jobid", jobid)]).await;
            if j["jobstatus"] != 0 {
                return j;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("job {jobid} never finished");
    }

    /// Runs an async command to completion and returns `jobresult` (asserting success).
    pub async fn run_async(&self, command: &str, args: &[(&str, &str)]) -> Value {
        let r = self.ok(command, args).await;
        let jobid = r["jobid"].as_str().unwrap().to_string();
        let j = self.wait_job(&jobid).await;
        assert_eq!(j["jobstatus"], 1, "{command} failed: {j}");
        j["jobresult"].clone()
    }

    pub async fn deploy(&self, name: &str, extra: &[(&str, &str)]) -> Value {
        let mut args = vec![
            ("zoneid", ZONE),
            ("serviceofferingid", SMALL),
            ("templateid", TEMPLATE),
            ("networkids", NETWORK),
            ("name", name),
        ];
        args.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        args.extend_from_slice(extra);
        self.run_async("deployVirtualMachine", &args).await["virtualmachine"].clone()
    }

    /// A network ACL list `name` in `vpc` with one ingress Allow item for TCP port 80 from
    /// `cidr`: (list id, the item as created).
    pub async fn acl_with_port_80(&self, vpc: &str, name: &str, cidr: &str) -> (String, Value) {
        let acl = self
            .run_async("createNetworkACLList", &[("name", name), ("vpcid", vpc)])
            .await["networkacllist"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let item = self
            .run_async(
                "createNetworkACL",
                &[
                    ("aclid", &acl),
                    ("protocol", "tcp"),
                    ("startport", "80"),
                    ("endport", "80"),
                    ("cidrlist", cidr),
                ],
            )
            .await["networkacl"]
            .clone();
        (acl, item)
    }

    pub async fn stats(&self) -> Value {
        let t = self
            .http
            .get(format!("{}/sim/stats", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        serde_json::from_str(&t).unwrap()
    }
}

impl Drop for TestSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

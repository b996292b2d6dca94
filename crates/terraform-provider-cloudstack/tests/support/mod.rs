//! Test support shared by the provider's real-Terraform tests: a simulator on its own
//! runtime thread, a workspace with the provider binary installed and `terraform init` done,
//! and the usual assertions (exit codes, empty plans, ids in state).

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses a part; a panic is the report

use std::{path::Path, thread};

use cloudstack_sim::{Options, Simulator};
use tfplugin5::testing::{find_terraform_binaries, CommandOutput, TerraformBinary, Workspace};

pub const BIN: &str = env!("CARGO_BIN_EXE_terraform-provider-cloudstack");
pub const SOURCE: &str = "registry.terraform.io/cloudstack/cloudstack";

/// A simulator on its own runtime thread; stops when dropped.
pub struct Sim {
    /// The simulator (its world can be inspected directly).
    pub sim: Simulator,
    /// Its API URL.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Sim {
    pub fn start() -> Sim {
        Sim::with(Options::default())
    }

    pub fn with(options: Options) -> Sim {
        let sim = Simulator::new(options).unwrap();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let s2 = sim.clone();
        let thread = thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let _ = cloudstack_sim::run(listener, s2, async {
                    let _ = stop_rx.await;
                })
                .await;
            });
        });
        let addr = addr_rx.recv().unwrap();
        Sim {
            sim,
            url: format!("http://{addr}/client/api"),
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn mutations(&self) -> u64 {
        let stats = self.sim.stats();
        stats["requests"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| {
                        let k = k.to_ascii_lowercase();
                        !(k.starts_with("list") || k.starts_with("query") || k.starts_with("get"))
                    })
                    .map(|(_, v)| v.as_u64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Runs `call` with an API client of this simulator: changes behind Terraform's back.
    pub fn api<T, F: std::future::Future<Output = cloudstack::Result<T>>>(
        &self,
        call: impl FnOnce(cloudstack::Client) -> F,
    ) -> cloudstack::Result<T> {
        let cfg = cloudstack::Config::new(
            &self.url,
            cloudstack_sim::DEFAULT_API_KEY,
            cloudstack_sim::DEFAULT_SECRET_KEY,
        );
        let client = cloudstack::Client::new(cfg).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(call(client))
    }

    /// Expunges a VM through the API, behind Terraform's back.
    pub fn expunge_vm(&self, id: &str) {
        let id = id.to_string();
        self.api(|c| async move { c.destroy_virtual_machine(&id, true).await })
            .unwrap();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[track_caller]
pub fn expect(out: &CommandOutput, code: i32, what: &str) {
    assert_eq!(
        out.code, code,
        "{what}: exit {}\n--- stdout\n{}\n--- stderr\n{}",
        out.code, out.stdout, out.stderr
    );
}

pub fn provider_block(url: &str, secret: &str) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    cloudstack = {{ source = "cloudstack/cloudstack" }}
  }}
}}
provider "cloudstack" {{
  api_url    = "{url}"
  api_key    = "{key}"
  secret_key = "{secret}"
  timeout    = 120
}}
"#,
        key = cloudstack_sim::DEFAULT_API_KEY
    )
}

pub fn workspace(tf: &TerraformBinary, main_tf: &str) -> Workspace {
    let ws = Workspace::new(tf, Path::new(BIN), SOURCE, env!("CARGO_PKG_VERSION")).unwrap();
    ws.write("main.tf", main_tf).unwrap();
    expect(&ws.run(&["init", "-no-color"]).unwrap(), 0, "init");
    ws
}

pub fn state_id(ws: &Workspace, addr: &str) -> String {
    let out = ws.run(&["state", "show", "-no-color", addr]).unwrap();
    expect(&out, 0, "state show");
    out.stdout
        .lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("id")
                .map(|r| r.trim_start())
                .and_then(|r| r.strip_prefix('='))
                .map(|r| r.trim().trim_matches('"').to_string())
        })
        .unwrap()
}

pub fn plan_is_clean(ws: &Workspace, what: &str) {
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode"])
        .unwrap();
    expect(&out, 0, what);
}

/// Every Terraform release found; none is a skip, except under CI where it fails.
pub fn binaries() -> Vec<TerraformBinary> {
    mesostack_e2e::require_terraforms(find_terraform_binaries())
}

/// Forgets `addr` and imports it again by `id`.
pub fn reimport(ws: &Workspace, addr: &str, id: &str) {
    expect(
        &ws.run(&["state", "rm", "-no-color", addr]).unwrap(),
        0,
        "state rm",
    );
    expect(
        &ws.run(&["import", "-no-color", addr, id]).unwrap(),
        0,
        "import",
    );
}

/// Writes `main.tf`: the provider block for `sim`, then `body`.
pub fn write(ws: &Workspace, sim: &Sim, body: &str) {
    let main = format!(
        "{}{body}",
        provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY)
    );
    ws.write("main.tf", &main).unwrap();
}

/// Terraform wraps diagnostics: the text with every run of whitespace as one space.
pub fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `terraform apply`, which must succeed.
pub fn apply(ws: &Workspace, what: &str) -> CommandOutput {
    let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, what);
    out
}

/// `plan -detailed-exitcode`, which must find changes; returns its output.
pub fn plan_changes(ws: &Workspace, what: &str) -> String {
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode"])
        .unwrap();
    expect(&out, 2, what);
    out.stdout
}

/// `terraform destroy`, which must succeed.
pub fn destroy(ws: &Workspace) {
    let out = ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, "destroy");
}

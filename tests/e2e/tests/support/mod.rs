//! What the module tests (`terraform_mesostack.rs`, `terraform_mesostack_vpc.rs`) share: a
//! module of `terraform-examples/` in a fresh Terraform workspace, driven with `TF_VAR_*`
//! variables, and the simulator's per-command request counts.

#![allow(dead_code, clippy::unwrap_used)] // each test file uses its own part

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use mesostack_e2e::{workspace_root, SimProcess, SIM_API_KEY, SIM_SECRET_KEY};
use serde_json::Value;
use tfplugin5::testing::{CommandOutput, TerraformBinary, Workspace};

/// The provider's source address the modules require.
pub const SOURCE: &str = "registry.terraform.io/cloudstack/cloudstack";

/// A module in a fresh workspace for one Terraform release.
pub struct Module {
    pub ws: Workspace,
    pub env: Vec<(String, String)>,
    pub version: String,
    dir: PathBuf,
}

impl Module {
    /// `terraform-examples/<name>` copied into a new workspace, with `vars` as `TF_VAR_*`.
    pub fn new(tf: &TerraformBinary, provider: &Path, name: &str, vars: &[(&str, &str)]) -> Module {
        let dir = workspace_root().join("terraform-examples").join(name);
        let ws = Workspace::new(tf, provider, SOURCE, "0.1.0").unwrap();
        ws.copy_into_work(&dir).unwrap();
        Module {
            ws,
            env: vars
                .iter()
                .map(|(k, v)| (format!("TF_VAR_{k}"), v.to_string()))
                .collect(),
            version: tf.version.clone(),
            dir,
        }
    }

    /// The same module and variables in another fresh workspace (no state).
    pub fn fresh(&self, tf: &TerraformBinary, provider: &Path) -> Module {
        let ws = Workspace::new(tf, provider, SOURCE, "0.1.0").unwrap();
        ws.copy_into_work(&self.dir).unwrap();
        Module {
            ws,
            env: self.env.clone(),
            version: self.version.clone(),
            dir: self.dir.clone(),
        }
    }

    pub fn set(&mut self, var: &str, value: &str) {
        let key = format!("TF_VAR_{var}");
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.to_string()));
    }

    /// Runs `terraform ARGS -no-color`, whatever its exit code.
    pub fn tf(&self, args: &[&str]) -> CommandOutput {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut all = args.to_vec();
        all.push("-no-color");
        let out = self.ws.run_env(&all, &env).unwrap();
        eprintln!(
            "[terraform {}] {} -> {}",
            self.version,
            args.join(" "),
            out.code
        );
        out
    }

    /// [`Module::tf`], failing the test unless Terraform succeeded.
    pub fn ok(&self, args: &[&str]) -> CommandOutput {
        let out = self.tf(args);
        assert_eq!(
            out.code, 0,
            "terraform {} {args:?} failed\nstdout:\n{}\nstderr:\n{}",
            self.version, out.stdout, out.stderr
        );
        out
    }

    pub fn init(&self) {
        self.ok(&["init", "-input=false"]);
    }

    pub fn apply(&self) -> CommandOutput {
        self.ok(&["apply", "-auto-approve", "-input=false"])
    }

    pub fn outputs(&self) -> Value {
        serde_json::from_str(&self.ok(&["output", "-json"]).stdout).unwrap()
    }

    /// `terraform plan -detailed-exitcode` finds nothing to do.
    pub fn plan_is_empty(&self) {
        let plan = self.tf(&["plan", "-detailed-exitcode", "-input=false"]);
        assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    }
}

/// A runtime for the client calls the (synchronous) tests make.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Our client for `sim`, to look at (and change) what it holds.
pub fn api(sim: &SimProcess) -> cloudstack::Client {
    cloudstack::Client::new(cloudstack::Config::new(
        sim.api_url.clone(),
        SIM_API_KEY,
        SIM_SECRET_KEY,
    ))
    .unwrap()
}

/// Requests per command since `before` (a `/sim/stats` document).
pub fn delta(sim: &SimProcess, before: &Value) -> BTreeMap<String, u64> {
    let now = sim.stats();
    let mut out = BTreeMap::new();
    if let Some(m) = now["requests"].as_object() {
        for (k, v) in m {
            let d = v.as_u64().unwrap_or(0) - before["requests"][k].as_u64().unwrap_or(0);
            if d > 0 {
                out.insert(k.clone(), d);
            }
        }
    }
    out
}

/// Requests of `command` in a [`delta`].
pub fn count(d: &BTreeMap<String, u64>, command: &str) -> u64 {
    d.get(command).copied().unwrap_or(0)
}

//! The `cloudstack-sim` binary: start line, flags, state across a hard kill.

use crate::support::*;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts the binary and returns it with the API base URL parsed from its start line.
async fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudstack-sim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).await.unwrap();
    let url = line
        .trim()
        .strip_prefix("cloudstack-sim listening on ")
        .unwrap_or_else(|| panic!("unexpected start line {line:?}"))
        .to_string();
    let base = url.strip_suffix("/client/api").unwrap().to_string();
    assert!(!base.ends_with(":0"), "the real port is printed: {base}");
    (child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_keeps_state_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--state",
        state_arg,
        "--api-key",
        KEY,
        "--secret-key",
        "s3cret",
        "--job-latency-ms",
        "deployVirtualMachine=50",
    ];
    let (mut child, base) = spawn(&args).await;
    let c = TestSim::attach(&base, "s3cret");
    let vm = c.deploy("survivor", &[]).await;
    assert_eq!(vm["state"], "Running");
    // The default secret is not accepted when another is configured.
    let wrong = TestSim::attach(&base, SECRET);
    assert_eq!(wrong.call("listZones", &[]).await.status, 401);
    child.kill().await.unwrap();

    let (mut child, base) = spawn(&args).await;
    let c = TestSim::attach(&base, "s3cret");
    let l = c.ok("listVirtualMachines", &[("name", "survivor")]).await;
    assert_eq!(l["count"], 1);
    assert_eq!(l["virtualmachine"][0]["id"], vm["id"]);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn print_seed_prints_the_world() {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudstack-sim"))
        .arg("--print-seed")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let w: cloudstack_sim::World = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(w.zones[0].name, "zone001");
    assert!(w.templates.iter().any(|t| t.name == "Ubuntu 14.04"));
}

#[tokio::test]
async fn vm_sandbox_excludes_ssh_target_and_lists_vm_roots() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = dir.path().join("sb");
    let out = Command::new(env!("CARGO_BIN_EXE_cloudstack-sim"))
        .args(["--vm-sandbox", sandbox.to_str().unwrap()])
        .args(["--ssh-target", "127.0.0.1:22", "--listen", "127.0.0.1:0"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (_child, base) = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--vm-sandbox",
        sandbox.to_str().unwrap(),
    ])
    .await;
    assert!(sandbox.join("stubs/apt-get").is_file());
    assert!(sandbox.join("ssh_host_ed25519_key").is_file());
    let c = TestSim::attach(&base, SECRET);
    let vm = c.deploy("sandboxed", &[]).await;
    let body = reqwest::get(format!("{base}/sim/vms"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listing: serde_json::Value = serde_json::from_str(&body).unwrap();
    let canonical = sandbox.canonicalize().unwrap();
    assert_eq!(listing["sandbox"], canonical.to_str().unwrap());
    let entry = &listing["vms"][0];
    assert_eq!(entry["id"], vm["id"]);
    assert_eq!(entry["name"], "sandboxed");
    assert_eq!(entry["state"], "Running");
    let short: String = vm["id"].as_str().unwrap().chars().take(8).collect();
    assert_eq!(
        entry["root"],
        canonical
            .join("vms")
            .join(format!("sandboxed-{short}"))
            .to_str()
            .unwrap()
    );
}

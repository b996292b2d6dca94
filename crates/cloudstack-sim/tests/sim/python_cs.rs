//! Independent check: the python `cs` CLI (PyPI `cs`) against the simulator.

use crate::support::*;
use cloudstack_sim::Options;
use tokio::process::Command;

fn cs_available() -> bool {
    std::process::Command::new("cs")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

async fn cs(t: &TestSim, secret: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("cs")
        .args(args)
        .env("CLOUDSTACK_ENDPOINT", format!("{}/client/api", t.base))
        .env("CLOUDSTACK_KEY", KEY)
        .env("CLOUDSTACK_SECRET", secret)
        .env("CLOUDSTACK_POLL_INTERVAL", "0.1")
        .env_remove("CLOUDSTACK_REGION")
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_cs_cli_works() {
    if !cs_available() {
        eprintln!("SKIPPED: python `cs` CLI not installed (pip install cs)");
        return;
    }
    let t = TestSim::start(Options::default()).await;
    let (ok, out) = cs(&t, SECRET, &["listZones"]).await;
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["zone"][0]["name"], "zone001");

    let zone = format!("zoneid={ZONE}");
    let so = format!("serviceofferingid={SMALL}");
    let tpl = format!("templateid={TEMPLATE}");
    let (ok, out) = cs(
        &t,
        SECRET,
        &["deployVirtualMachine", &zone, &so, &tpl, "name=from-cs"],
    )
    .await;
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["virtualmachine"]["state"], "Running");
    assert_eq!(v["virtualmachine"]["name"], "from-cs");

    let (ok, out) = cs(
        &t,
        SECRET,
        &["--post", "listVirtualMachines", "name=from-cs"],
    )
    .await;
    assert!(ok, "{out}");

    let (ok, out) = cs(&t, "wrong-secret", &["listZones"]).await;
    assert!(!ok);
    assert!(out.contains("401"), "{out}");
    assert!(out.contains("unable to verify user credentials"), "{out}");
}

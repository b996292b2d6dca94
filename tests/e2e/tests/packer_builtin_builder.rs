//! Independent check of the simulator: Packer 1.6.6's own built-in Go `cloudstack` builder,
//! unchanged, builds a template against it. It creates a temporary key pair, deploys a VM,
//! associates a public IP, opens a port forward and a firewall rule, reaches a real sshd
//! through the simulator's forwarding with that key pair, runs a provisioner, stops the VM,
//! creates the template and cleans everything up. (The Go builder sleeps 30 s after
//! createTemplate, so this test takes about 40 s.)

use cloudstack::{Client, Config, Params};
use mesostack_e2e::{require_tool, sshd::Sshd, SimProcess, SIM_API_KEY, SIM_SECRET_KEY};
use std::process::Command;

#[tokio::test]
async fn packer_builtin_cloudstack_builder_builds_a_template_on_the_simulator() {
    let Some(packer) = mesostack_e2e::require_packer() else {
        return;
    };
    if require_tool("sshd", Sshd::installed().then(|| "sshd".into())).is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = Sshd::start(dir.path());
    let sim = SimProcess::start(&sshd.sim_args());

    let template = serde_json::json!({
        "builders": [{
            "type": "cloudstack",
            "api_url": sim.api_url,
            "api_key": SIM_API_KEY, "secret_key": SIM_SECRET_KEY,
            "zone": "zone001", "network": "guestnet001", "service_offering": "t1.small",
            "source_template": "Ubuntu 14.04", "template_os": "Ubuntu 14.04 (64-bit)",
            "template_name": "packer-go-builder", "ssh_username": sshd.user, "ssh_timeout": "60s",
            "expunge": true
        }],
        "provisioners": [{"type": "shell", "inline": ["echo provisioned-through-the-simulator"]}]
    });
    let path = dir.path().join("build.json");
    std::fs::write(&path, template.to_string()).expect("write template");
    // An empty plugin directory: Packer's own builder, not ours, must be the one used.
    let packer_home = dir.path().join("packer-home");
    std::fs::create_dir_all(&packer_home).expect("packer home");
    let out = Command::new(packer)
        .arg("build")
        .arg(&path)
        .current_dir(dir.path())
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_CONFIG_DIR", &packer_home)
        .env_remove("PACKER_PLUGIN_PATH")
        .output()
        .expect("packer runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "packer build failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("provisioned-through-the-simulator"), "{text}");

    let client =
        Client::new(Config::new(&sim.api_url, SIM_API_KEY, SIM_SECRET_KEY)).expect("client");
    let templates = client
        .list_templates("self", &Params::new().with("name", "packer-go-builder"))
        .await
        .expect("listTemplates");
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert_eq!(templates[0].isready, Some(true));
    // Everything temporary was cleaned up.
    let all = Params::new().with("listall", "true");
    assert!(client
        .list_virtual_machines(&all)
        .await
        .expect("list VMs")
        .is_empty());
    assert!(client
        .list_ssh_key_pairs(&all)
        .await
        .expect("list keys")
        .is_empty());
    assert!(client
        .list_port_forwarding_rules(&all)
        .await
        .expect("list rules")
        .is_empty());
    let stats = sim.stats();
    assert_eq!(stats["requests"]["deployVirtualMachine"], 1, "{stats}");
    assert_eq!(stats["requests"]["createTemplate"], 1, "{stats}");
}

//! Independent check: Packer 1.6.6's built-in Go `cloudstack` builder, unchanged, builds a
//! template against the simulator, reaching a real sshd through the simulator's port
//! forwarding with the key pair it created (installed via `--ssh-authorized-keys`).

use crate::support::*;
use cloudstack_sim::Options;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

fn have(bin: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs the real packer 1.6.6 and /usr/sbin/sshd (about 45 s: the builder sleeps 30 s after createTemplate)"]
async fn packer_builds_a_template() {
    if !have("packer") || !std::path::Path::new("/usr/sbin/sshd").exists() {
        eprintln!("SKIPPED: packer or /usr/sbin/sshd missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hostkey = d.join("hostkey");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&hostkey)
        .status()
        .unwrap();
    assert!(st.success());
    let keys = d.join("authorized_keys");
    std::fs::write(&keys, "").unwrap();
    let ssh_port = free_port().await;
    let config = d.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {ssh_port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             StrictModes no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n\
             PidFile {}\nUsePAM no\n",
            hostkey.display(),
            keys.display(),
            d.join("sshd.pid").display()
        ),
    )
    .unwrap();
    let _ = std::fs::create_dir_all("/run/sshd");
    let mut sshd = Command::new("/usr/sbin/sshd")
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let t = TestSim::start(Options {
        ssh_target: Some(format!("127.0.0.1:{ssh_port}").parse().unwrap()),
        ssh_authorized_keys: Some(keys.clone()),
        public_ip_range: "127.102.0.0/16".parse().unwrap(),
        ..Options::default()
    })
    .await;
    let user = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let template = serde_json::json!({
        "builders": [{
            "type": "cloudstack",
            "api_url": format!("{}/client/api", t.base),
            "api_key": KEY, "secret_key": SECRET,
            "zone": "zone001", "network": "guestnet001", "service_offering": "t1.small",
            "source_template": "Ubuntu 14.04", "template_os": "Ubuntu 14.04 (64-bit)",
            "template_name": "packer-sim", "ssh_username": user, "ssh_timeout": "60s",
            "expunge": true
        }],
        "provisioners": [{"type": "shell", "inline": ["echo provisioned-through-the-simulator"]}]
    });
    let path = d.join("build.json");
    std::fs::write(&path, template.to_string()).unwrap();
    let out = Command::new("packer")
        .arg("build")
        .arg("-machine-readable")
        .arg(&path)
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_CONFIG_DIR", d)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("provisioned-through-the-simulator"), "{text}");
    let tpl = t
        .ok(
            "listTemplates",
            &[("templatefilter", "self"), ("name", "packer-sim")],
        )
        .await;
    assert_eq!(tpl["template"][0]["isready"], true);
    // Everything temporary was cleaned up.
    assert_eq!(
        t.ok("listVirtualMachines", &[]).await,
        serde_json::json!({})
    );
    assert_eq!(t.ok("listSSHKeyPairs", &[]).await, serde_json::json!({}));
    assert_eq!(
        t.ok("listPortForwardingRules", &[]).await,
        serde_json::json!({})
    );
    let stats = t.stats().await;
    assert_eq!(stats["requests"]["deployVirtualMachine"], 1);
    assert_eq!(stats["requests"]["createTemplate"], 1);
    let _ = sshd.kill().await;
}

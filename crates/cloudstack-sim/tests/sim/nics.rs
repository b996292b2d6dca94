//! The zone with security groups (`zone002`), NICs and secondary IPs, with CloudStack's
//! rules: VMs of an SG zone get the `default` group unless they name others, other zones
//! refuse groups, one NIC per network and VM, the default NIC stays, addresses are unique
//! in a network.

use cloudstack_sim::Options;
use serde_json::Value;

use crate::support::*;

const SG_ZONE: &str = "5ea72245-fbe5-4646-9a88-277b81fa0002";
const SG_TEMPLATE: &str = "936ddbeb-a04a-4fb4-bf5a-e1de49fa0002";
const SG_NETWORK: &str = "5fed5b81-ea49-4e5a-bc36-ee52bd780002";

fn names(groups: &Value) -> Vec<String> {
    groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect()
}

async fn failed_job(t: &TestSim, command: &str, args: &[(&str, &str)]) -> Value {
    let r = t.ok(command, args).await;
    let j = t.wait_job(r["jobid"].as_str().unwrap()).await;
    assert_eq!(j["jobstatus"], 2, "{command} should fail: {j}");
    j["jobresult"].clone()
}

#[tokio::test]
async fn sg_zone_deploys_with_security_groups() {
    let t = TestSim::start(Options::default()).await;
    let zone = t.ok("listZones", &[("name", "zone002")]).await;
    assert_eq!(zone["zone"][0]["securitygroupsenabled"], true);
    assert_eq!(zone["zone"][0]["networktype"], "Advanced");
    let nets = t.ok("listNetworks", &[("zoneid", SG_ZONE)]).await;
    assert_eq!(nets["network"][0]["id"], SG_NETWORK);
    assert_eq!(nets["network"][0]["type"], "Shared");
    let services: Vec<&str> = nets["network"][0]["service"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(services.contains(&"SecurityGroup"), "{services:?}");

    let web = t.ok("createSecurityGroup", &[("name", "web")]).await;
    let web_id = web["securitygroup"]["id"].as_str().unwrap().to_string();
    let sg_vm = [
        ("zoneid", SG_ZONE),
        ("templateid", SG_TEMPLATE),
        ("networkids", SG_NETWORK),
        ("serviceofferingid", SMALL),
    ];
    // no group named: the account's default
    let plain = t.deploy("plain", &sg_vm).await;
    assert_eq!(names(&plain["securitygroup"]), ["default"]);
    let mut args = sg_vm.to_vec();
    args.push(("securitygroupnames", "web"));
    let named = t.deploy("named", &args).await;
    assert_eq!(names(&named["securitygroup"]), ["web"]);
    assert!(named["nic"][0]["ipaddress"]
        .as_str()
        .unwrap()
        .starts_with("10.2."));
    let listed = t.ok("listSecurityGroups", &[("id", &web_id)]).await;
    assert_eq!(listed["securitygroup"][0]["virtualmachinecount"], 1);
    // a group in use stays
    let refused = t.call("deleteSecurityGroup", &[("id", &web_id)]).await;
    assert_eq!(refused.status, 536, "{}", refused.body);

    // both lists at once, an unknown name, groups in a zone without them
    let mut both = args.clone();
    both.push(("securitygroupids", &web_id));
    let a = t.call("deployVirtualMachine", &both).await;
    assert_eq!(a.status, 431);
    assert!(a.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("mutually exclusive"));
    let mut unknown = sg_vm.to_vec();
    unknown.extend([("securitygroupnames", "nope"), ("name", "x")]);
    let a = t.call("deployVirtualMachine", &unknown).await;
    assert_eq!(a.status, 431, "{}", a.body);
    let a = t
        .call(
            "deployVirtualMachine",
            &[
                ("zoneid", ZONE),
                ("serviceofferingid", SMALL),
                ("templateid", TEMPLATE),
                ("securitygroupids", &web_id),
            ],
        )
        .await;
    assert_eq!(a.status, 431);
    assert!(a.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("security group feature is not enabled"));
    // zone001 VMs have none
    let old = t.deploy("old", &[]).await;
    assert_eq!(old["securitygroup"], serde_json::json!([]));
}

#[tokio::test]
async fn nics_and_secondary_ips() {
    let t = TestSim::start(Options::default()).await;
    let vm = t.deploy("multi", &[]).await;
    let vm_id = vm["id"].as_str().unwrap().to_string();
    let net = t
        .ok(
            "createNetwork",
            &[
                ("name", "second"),
                ("displaytext", "second"),
                ("zoneid", ZONE),
                ("networkofferingid", "2a9c8b7d-6e5f-4a3b-9c1d-0e8f7a6b5c40"),
            ],
        )
        .await;
    let net = net.get("network").cloned().unwrap_or(net);
    let net_id = net["id"].as_str().unwrap().to_string();
    let cidr_start = net["gateway"]
        .as_str()
        .unwrap()
        .rsplit_once('.')
        .unwrap()
        .0
        .to_string();
    let wanted = format!("{cidr_start}.50");

    let added = t
        .run_async(
            "addNicToVirtualMachine",
            &[
                ("virtualmachineid", &vm_id),
                ("networkid", &net_id),
                ("ipaddress", &wanted),
            ],
        )
        .await;
    let nics = added["virtualmachine"]["nic"].as_array().unwrap().clone();
    assert_eq!(nics.len(), 2);
    let nic = nics
        .iter()
        .find(|n| n["networkid"] == net_id.as_str())
        .unwrap();
    assert_eq!(nic["ipaddress"], wanted.as_str());
    assert_eq!(nic["isdefault"], false);
    let nic_id = nic["id"].as_str().unwrap().to_string();

    // a second NIC on the same network fails the job (CloudRuntimeException)
    let again = failed_job(
        &t,
        "addNicToVirtualMachine",
        &[("virtualmachineid", &vm_id), ("networkid", &net_id)],
    )
    .await;
    assert_eq!(again["errorcode"], 530);
    assert!(again["errortext"]
        .as_str()
        .unwrap()
        .contains("A NIC already exists"));
    // a network of another zone
    let other = failed_job(
        &t,
        "addNicToVirtualMachine",
        &[
            ("virtualmachineid", &vm_id),
            ("networkid", "5fed5b81-ea49-4e5a-bc36-ee52bd780002"),
        ],
    )
    .await;
    assert_eq!(other["errorcode"], 530);

    let listed = t
        .ok(
            "listNics",
            &[("virtualmachineid", &vm_id), ("nicid", &nic_id)],
        )
        .await;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["nic"][0]["virtualmachineid"], vm_id.as_str());
    let missing = t.call("listNics", &[]).await;
    assert_eq!(missing.status, 431);

    // secondary IPs: the next free one, a given one, a taken one refused
    let ip = t.run_async("addIpToNic", &[("nicid", &nic_id)]).await;
    let ip = &ip["nicsecondaryip"];
    assert_eq!(ip["nicid"], nic_id.as_str());
    assert_eq!(ip["virtualmachineid"], vm_id.as_str());
    let ip_id = ip["id"].as_str().unwrap().to_string();
    let taken = failed_job(
        &t,
        "addIpToNic",
        &[("nicid", &nic_id), ("ipaddress", &wanted)],
    )
    .await;
    assert_eq!(taken["errorcode"], 431, "{taken}");
    let listed = t
        .ok(
            "listNics",
            &[("virtualmachineid", &vm_id), ("nicid", &nic_id)],
        )
        .await;
    assert_eq!(listed["nic"][0]["secondaryip"][0]["id"], ip_id.as_str());
    t.run_async("removeIpFromNic", &[("id", &ip_id)]).await;
    let gone = t.call("removeIpFromNic", &[("id", &ip_id)]).await;
    assert_eq!(gone.status, 431);

    // the default NIC stays; the other goes
    let default_nic = vm["nic"][0]["id"].as_str().unwrap().to_string();
    let refused = failed_job(
        &t,
        "removeNicFromVirtualMachine",
        &[("virtualmachineid", &vm_id), ("nicid", &default_nic)],
    )
    .await;
    assert!(refused["errortext"]
        .as_str()
        .unwrap()
        .contains("nic is default"));
    let removed = t
        .run_async(
            "removeNicFromVirtualMachine",
            &[("virtualmachineid", &vm_id), ("nicid", &nic_id)],
        )
        .await;
    assert_eq!(
        removed["virtualmachine"]["nic"].as_array().unwrap().len(),
        1
    );
    let w = t.world();
    assert_eq!(w.vm(&vm_id).unwrap().nic.len(), 1);
}

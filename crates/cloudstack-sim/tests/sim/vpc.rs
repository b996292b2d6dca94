//! VPCs, tiers and network ACLs: CloudStack's shapes, rules and error codes.

use cloudstack_sim::Options;

use crate::support::{TestSim, ZONE};

pub(crate) const VPC_OFFERING: &str = "0b8c5e3f-7a10-4c2e-9d11-5e0f0a000001";
const TIER_OFFERING: &str = "2a9c8b7d-6e5f-4a3b-9c1d-0e8f7a6b5c42";
const ISOLATED_OFFERING: &str = "2a9c8b7d-6e5f-4a3b-9c1d-0e8f7a6b5c40";

async fn vpc(t: &TestSim, name: &str, cidr: &str) -> String {
    let r = t
        .run_async(
            "createVPC",
            &[
                ("name", name),
                ("cidr", cidr),
                ("vpcofferingid", VPC_OFFERING),
                ("zoneid", ZONE),
            ],
        )
        .await;
    assert_eq!(r["vpc"]["state"], "Enabled", "{r}");
    assert_eq!(r["vpc"]["vpcofferingname"], "Default VPC offering");
    r["vpc"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn vpc_lifecycle_tiers_and_acls() {
    let t = TestSim::start(Options::default()).await;
    let v = vpc(&t, "mesos", "10.0.0.0/16").await;
    let nat = t
        .ok(
            "listPublicIpAddresses",
            &[("vpcid", &v), ("issourcenat", "true")],
        )
        .await;
    assert_eq!(nat["count"], 1, "{nat}");

    // not RFC 1918: a 431 naming the CIDR
    let bad = t
        .call(
            "createVPC",
            &[
                ("name", "x"),
                ("cidr", "8.8.0.0/16"),
                ("vpcofferingid", VPC_OFFERING),
                ("zoneid", ZONE),
            ],
        )
        .await;
    assert_eq!(bad.status, 431);
    assert!(bad.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("RFC1918"));

    // an ACL list with one rule, then a tier using it
    let (acl, item) = t.acl_with_port_80(&v, "web", "0.0.0.0/0").await;
    assert_eq!(item["number"], 1);
    assert_eq!(item["startport"], "80");
    assert_eq!(item["traffictype"], "Ingress");
    assert_eq!(item["action"], "Allow");
    let dup = t
        .call(
            "createNetworkACL",
            &[("aclid", &acl), ("protocol", "udp"), ("number", "1")],
        )
        .await;
    assert_eq!(dup.status, 431);
    assert!(dup.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("already exists in ACL"));

    let tier = |name: &'static str, gw: &'static str, off: &'static str| {
        let (t, v, acl) = (&t, v.clone(), acl.clone());
        async move {
            t.call(
                "createNetwork",
                &[
                    ("name", name),
                    ("zoneid", ZONE),
                    ("networkofferingid", off),
                    ("vpcid", &v),
                    ("aclid", &acl),
                    ("gateway", gw),
                    ("netmask", "255.255.255.0"),
                ],
            )
            .await
        }
    };
    let ok = tier("masters", "10.0.1.1", TIER_OFFERING).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.inner()["network"]["aclid"], acl.as_str());
    let outside = tier("far", "10.9.1.1", TIER_OFFERING).await;
    assert!(outside.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("not within vpc"));
    let overlap = tier("again", "10.0.1.1", TIER_OFFERING).await;
    assert!(overlap.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("crosses"));
    let wrong = tier("iso", "10.0.2.1", ISOLATED_OFFERING).await;
    assert!(wrong.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("can't be used for VPC"));

    // in use: neither the VPC nor the ACL list can go
    let busy = t.call("deleteVPC", &[("id", &v)]).await;
    assert_eq!(busy.status, 431);
    let busy = t.call("deleteNetworkACLList", &[("id", &acl)]).await;
    assert_eq!(busy.status, 530);
    assert!(busy.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("tier(s)"));

    let net = ok.inner()["network"]["id"].as_str().unwrap().to_string();
    t.run_async("deleteNetwork", &[("id", &net)]).await;
    t.run_async("deleteNetworkACLList", &[("id", &acl)]).await;
    assert!(t.world().vpc.acl_items.is_empty());
    t.run_async("deleteVPC", &[("id", &v)]).await;
    let w = t.world();
    assert!(w.vpc.vpcs.is_empty());
    assert!(w.public_ips.iter().all(|i| i.vpcid.is_none()));
    // a removed VPC's id filters to nothing (no 431)
    let gone = t.ok("listVPCs", &[("id", &v)]).await;
    assert!(gone.get("vpc").is_none(), "{gone}");
    t.stop().await;
}

#[tokio::test]
async fn static_nat_maps_one_ip_to_one_vm() {
    let t = TestSim::start(Options::default()).await;
    let vm = t.deploy("nat-vm", &[]).await;
    let vm_id = vm["id"].as_str().unwrap().to_string();
    let ip = t
        .run_async(
            "associateIpAddress",
            &[("networkid", crate::support::NETWORK)],
        )
        .await["ipaddress"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    t.ok(
        "enableStaticNat",
        &[("ipaddressid", &ip), ("virtualmachineid", &vm_id)],
    )
    .await;
    let listed = t.ok("listPublicIpAddresses", &[("id", &ip)]).await;
    let got = &listed["publicipaddress"][0];
    assert_eq!(got["isstaticnat"], true);
    assert_eq!(got["virtualmachineid"], vm_id.as_str());
    assert_eq!(got["vmipaddress"], vm["nic"][0]["ipaddress"]);

    // the network's source NAT address cannot be used
    let snat = t
        .ok(
            "listPublicIpAddresses",
            &[
                ("associatednetworkid", crate::support::NETWORK),
                ("issourcenat", "true"),
            ],
        )
        .await["publicipaddress"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = t
        .call(
            "enableStaticNat",
            &[("ipaddressid", &snat), ("virtualmachineid", &vm_id)],
        )
        .await;
    assert_eq!(refused.status, 431);

    t.run_async("disableStaticNat", &[("ipaddressid", &ip)])
        .await;
    let listed = t.ok("listPublicIpAddresses", &[("id", &ip)]).await;
    assert_eq!(listed["publicipaddress"][0]["isstaticnat"], false);
    let again = t.call("disableStaticNat", &[("ipaddressid", &ip)]).await;
    assert_eq!(again.status, 431);
    t.stop().await;
}

#[tokio::test]
async fn load_balancer_rules_and_members() {
    let t = TestSim::start(Options::default()).await;
    let vm = t.deploy("lb-vm", &[]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ip = t
        .run_async(
            "associateIpAddress",
            &[("networkid", crate::support::NETWORK)],
        )
        .await["ipaddress"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let args = [
        ("name", "web"),
        ("algorithm", "roundrobin"),
        ("privateport", "80"),
        ("publicport", "80"),
        ("publicipid", ip.as_str()),
    ];
    let lb = t.run_async("createLoadBalancerRule", &args).await["loadbalancer"].clone();
    assert_eq!(lb["publicport"], "80");
    assert_eq!(lb["networkid"], crate::support::NETWORK);
    let id = lb["id"].as_str().unwrap().to_string();
    // the same public port again: NetworkRuleConflictException
    let clash = t.call("createLoadBalancerRule", &args).await;
    assert_eq!(clash.status, 537, "{}", clash.body);
    let bad = t
        .call(
            "updateLoadBalancerRule",
            &[("id", &id), ("algorithm", "random")],
        )
        .await;
    assert_eq!(bad.status, 431);

    t.run_async(
        "assignToLoadBalancerRule",
        &[("id", &id), ("virtualmachineids", &vm)],
    )
    .await;
    let members = t.ok("listLoadBalancerRuleInstances", &[("id", &id)]).await;
    assert_eq!(members["loadbalancerruleinstance"][0]["id"], vm.as_str());
    t.run_async(
        "removeFromLoadBalancerRule",
        &[("id", &id), ("virtualmachineids", &vm)],
    )
    .await;
    let members = t.ok("listLoadBalancerRuleInstances", &[("id", &id)]).await;
    assert!(
        members.get("loadbalancerruleinstance").is_none(),
        "{members}"
    );
    t.run_async("deleteLoadBalancerRule", &[("id", &id)]).await;
    assert!(t.world().vpc.lb_rules.is_empty());
    t.stop().await;
}

/// An address associated with a VPC for a project is the project's: listed with its
/// `projectid` (or -1), not in the account's own lists.
#[tokio::test]
async fn a_vpc_address_for_a_project_is_the_projects() {
    let t = TestSim::start(Options::default()).await;
    let v = vpc(&t, "mesos", "10.0.0.0/16").await;
    let project = t
        .run_async("createProject", &[("name", "mesos"), ("displaytext", "m")])
        .await;
    let project = project["project"]["id"].as_str().unwrap().to_string();
    let ip = t
        .run_async(
            "associateIpAddress",
            &[("vpcid", &v), ("projectid", &project)],
        )
        .await;
    let id = ip["ipaddress"]["id"].as_str().unwrap().to_string();
    let listed = |v: &serde_json::Value| {
        v["publicipaddress"]
            .as_array()
            .is_some_and(|a| a.iter().any(|i| i["id"] == id.as_str()))
    };
    let theirs = t
        .ok(
            "listPublicIpAddresses",
            &[("projectid", &project), ("vpcid", &v)],
        )
        .await;
    assert!(listed(&theirs), "{theirs}");
    let mine = t
        .ok(
            "listPublicIpAddresses",
            &[("listall", "true"), ("vpcid", &v)],
        )
        .await;
    assert!(!listed(&mine), "{mine}");
}

//! Objects owned by a project, as CloudStack scopes them: listed only with the project's id
//! (or -1 for every project), named within their owner, and looked up in the owner of the VM
//! that uses them.

use cloudstack_sim::Options;

use crate::support::TestSim;

const PUBLIC_KEY: &str =
    include_str!("../../../terraform-provider-cloudstack/tests/fixtures/fixture_rsa.pub");

#[tokio::test]
async fn key_pairs_belong_to_their_project() {
    let t = TestSim::start(Options::default()).await;
    let project = t
        .run_async("createProject", &[("name", "mesos"), ("displaytext", "m")])
        .await;
    let project = project["project"]["id"].as_str().unwrap().to_string();
    let registered = t
        .ok(
            "registerSSHKeyPair",
            &[
                ("name", "ops"),
                ("publickey", PUBLIC_KEY.trim()),
                ("projectid", &project),
            ],
        )
        .await;
    assert_eq!(registered["keypair"]["projectid"], project.as_str());

    // the account's lists do not show it; the project's and every project's do
    let count = |v: &serde_json::Value| v["count"].as_u64().unwrap_or(0);
    let mine = t.ok("listSSHKeyPairs", &[("listall", "true")]).await;
    assert_eq!(count(&mine), 0, "{mine}");
    let theirs = t.ok("listSSHKeyPairs", &[("projectid", &project)]).await;
    assert_eq!(count(&theirs), 1, "{theirs}");
    let all = t
        .ok(
            "listSSHKeyPairs",
            &[("projectid", "-1"), ("listall", "true")],
        )
        .await;
    assert_eq!(count(&all), 1, "{all}");

    // a VM is given the key pair of its own owner: the account's VM cannot use the project's
    let deploy = t
        .call(
            "deployVirtualMachine",
            &[
                ("zoneid", crate::support::ZONE),
                ("serviceofferingid", crate::support::SMALL),
                ("templateid", crate::support::TEMPLATE),
                ("networkids", crate::support::NETWORK),
                ("name", "account-vm"),
                ("keypair", "ops"),
            ],
        )
        .await;
    assert_eq!(deploy.status, 431, "{}", deploy.body);
    assert!(
        deploy.body.to_string().contains("key pair with name 'ops'"),
        "{}",
        deploy.body
    );

    // names are per owner: the account may have its own "ops"
    t.ok(
        "registerSSHKeyPair",
        &[("name", "ops"), ("publickey", PUBLIC_KEY.trim())],
    )
    .await;
    let again = t
        .call(
            "registerSSHKeyPair",
            &[
                ("name", "ops"),
                ("publickey", PUBLIC_KEY.trim()),
                ("projectid", &project),
            ],
        )
        .await;
    assert_eq!(again.status, 431, "{}", again.body);

    // deleting takes the owner too
    t.ok(
        "deleteSSHKeyPair",
        &[("name", "ops"), ("projectid", &project)],
    )
    .await;
    let theirs = t.ok("listSSHKeyPairs", &[("projectid", &project)]).await;
    assert_eq!(count(&theirs), 0, "{theirs}");
    let mine = t.ok("listSSHKeyPairs", &[]).await;
    assert_eq!(count(&mine), 1, "{mine}");
}

/// A VM answers with CloudStack's `UserVmResponse` names for what it was deployed with:
/// project, security groups, boot type and mode, delete protection (which blocks destroy).
#[tokio::test]
async fn a_vm_shows_its_project_groups_boot_mode_and_protection() {
    let t = TestSim::start(Options::default()).await;
    let project = t
        .run_async("createProject", &[("name", "mesos"), ("displaytext", "m")])
        .await;
    let project = project["project"]["id"].as_str().unwrap().to_string();
    let sg = t
        .ok(
            "createSecurityGroup",
            &[("name", "web"), ("projectid", &project)],
        )
        .await;
    let sg = sg["securitygroup"]["id"].as_str().unwrap().to_string();
    let vm = t
        .deploy(
            "p-vm",
            &[
                // security groups need an SG-enabled zone
                ("zoneid", cloudstack_sim::seed::SG_ZONE_ID),
                ("templateid", cloudstack_sim::seed::SG_TEMPLATE_ID),
                ("networkids", cloudstack_sim::seed::SG_NETWORK_ID),
                ("projectid", &project),
                ("securitygroupids", &sg),
                ("boottype", "UEFI"),
                ("bootmode", "SECURE"),
            ],
        )
        .await;
    assert_eq!(vm["projectid"], project.as_str(), "{vm}");
    assert_eq!(vm["project"], "mesos");
    assert_eq!(vm["securitygroup"][0]["name"], "web");
    assert_eq!(
        (&vm["boottype"], &vm["bootmode"]),
        (&"Uefi".into(), &"secure".into())
    );
    assert_eq!(vm["deleteprotection"], false);
    let id = vm["id"].as_str().unwrap().to_string();
    let listed = t
        .ok(
            "listVirtualMachines",
            &[("projectid", &project), ("id", &id)],
        )
        .await;
    assert_eq!(listed["virtualmachine"][0]["id"], id.as_str(), "{listed}");
    let root = t
        .ok(
            "listVolumes",
            &[("virtualmachineid", &id), ("projectid", &project)],
        )
        .await;
    assert_eq!(root["volume"][0]["projectid"], project.as_str(), "{root}");

    let protected = t
        .ok(
            "updateVirtualMachine",
            &[("id", &id), ("deleteprotection", "true")],
        )
        .await;
    assert_eq!(
        protected["virtualmachine"]["deleteprotection"], true,
        "{protected}"
    );
    let refused = t.call("destroyVirtualMachine", &[("id", &id)]).await;
    assert_eq!(refused.status, 431, "{}", refused.body);
    assert!(
        refused
            .body
            .to_string()
            .contains("delete protection enabled"),
        "{}",
        refused.body
    );
    let plain = t.deploy("bios-vm", &[]).await;
    assert_eq!(
        (&plain["boottype"], &plain["bootmode"]),
        (&"Bios".into(), &"legacy".into())
    );
    assert!(plain.get("projectid").is_none(), "{plain}");
}

#[tokio::test]
async fn a_projects_networks_ips_and_rules_are_listed_only_with_its_id() {
    let t = TestSim::start(Options::default()).await;
    let project = t
        .run_async("createProject", &[("name", "mesos"), ("displaytext", "m")])
        .await;
    let project = project["project"]["id"].as_str().unwrap().to_string();
    let net = t
        .ok(
            "createNetwork",
            &[
                ("name", "p-net"),
                ("zoneid", crate::support::ZONE),
                (
                    "networkofferingid",
                    cloudstack_sim::seed::ISOLATED_OFFERING_ID,
                ),
                ("projectid", &project),
            ],
        )
        .await;
    let net = net["network"].clone();
    assert_eq!(net["projectid"], project.as_str());
    assert_eq!(net["project"], "mesos");
    let net_id = net["id"].as_str().unwrap().to_string();
    // an address of the project's network is the project's
    let ip = t
        .run_async("associateIpAddress", &[("networkid", &net_id)])
        .await;
    let ip_id = ip["ipaddress"]["id"].as_str().unwrap().to_string();
    assert_eq!(ip["ipaddress"]["projectid"], project.as_str());
    t.run_async(
        "createFirewallRule",
        &[
            ("ipaddressid", &ip_id),
            ("protocol", "tcp"),
            ("startport", "22"),
            ("endport", "22"),
        ],
    )
    .await;
    t.run_async(
        "createEgressFirewallRule",
        &[("networkid", &net_id), ("protocol", "all")],
    )
    .await;

    let count = |v: &serde_json::Value| v["count"].as_u64().unwrap_or(0);
    for (command, scope) in [
        ("listNetworks", ("id", net_id.as_str())),
        ("listPublicIpAddresses", ("id", ip_id.as_str())),
        ("listFirewallRules", ("ipaddressid", ip_id.as_str())),
        ("listEgressFirewallRules", ("networkid", net_id.as_str())),
    ] {
        // SkipProjectResources: hidden without projectid, even with listall (a list by id
        // sets no criteria)
        let hidden = t.ok(command, &[scope, ("listall", "true")]).await;
        let expect_hidden = if scope.0 == "id" { 1 } else { 0 };
        assert_eq!(count(&hidden), expect_hidden, "{command}: {hidden}");
        let theirs = t.ok(command, &[scope, ("projectid", &project)]).await;
        assert_eq!(count(&theirs), 1, "{command}: {theirs}");
        let every = t
            .ok(command, &[scope, ("projectid", "-1"), ("listall", "true")])
            .await;
        assert_eq!(count(&every), 1, "{command}: {every}");
    }
    // the account's own objects are not every project's
    let own = t
        .ok(
            "listNetworks",
            &[("id", crate::support::NETWORK), ("projectid", "-1")],
        )
        .await;
    assert_eq!(count(&own), 0, "{own}");
    // a list without id leaves the project's network out
    let all = t.ok("listNetworks", &[("listall", "true")]).await;
    assert!(
        all["network"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["id"] != net_id.as_str()),
        "{all}"
    );
}

#[tokio::test]
async fn the_root_domain_is_listed_and_checked() {
    let t = TestSim::start(Options::default()).await;
    let root = t
        .ok("listDomains", &[("name", "ROOT"), ("listall", "true")])
        .await;
    assert_eq!(root["count"], 1);
    let id = root["domain"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(root["domain"][0]["level"], 0);
    assert_eq!(
        t.ok("listDomains", &[("name", "nope")]).await,
        serde_json::json!({})
    );
    let p = t
        .run_async(
            "createProject",
            &[("name", "in-root"), ("displaytext", "r"), ("domainid", &id)],
        )
        .await;
    assert_eq!(p["project"]["domainid"], id.as_str());
    let other = "8a2a2c1e-0000-4000-8000-0000000000ff";
    let a = t
        .call(
            "createProject",
            &[
                ("name", "elsewhere"),
                ("displaytext", "e"),
                ("domainid", other),
            ],
        )
        .await;
    assert_eq!(a.status, 431, "{}", a.body);
    assert_eq!(t.call("listDomains", &[("id", other)]).await.status, 431);
}

/// A project's VMs and VPCs, like its networks, are listed only with its `projectid` (or
/// `-1`); a list by `id` still finds them (CloudStack's `SkipProjectResources`).
#[tokio::test]
async fn a_projects_vms_and_vpcs_are_listed_only_with_its_id() {
    let t = TestSim::start(Options::default()).await;
    let project = t
        .run_async("createProject", &[("name", "hidden"), ("displaytext", "h")])
        .await;
    let project = project["project"]["id"].as_str().unwrap().to_string();
    let vm = t.deploy("p-vm", &[("projectid", &project)]).await;
    let vm = vm["id"].as_str().unwrap().to_string();
    let vpc = t
        .run_async(
            "createVPC",
            &[
                ("name", "p-vpc"),
                ("cidr", "10.40.0.0/16"),
                ("vpcofferingid", crate::vpc::VPC_OFFERING),
                ("zoneid", crate::support::ZONE),
                ("projectid", &project),
            ],
        )
        .await;
    let vpc = vpc["vpc"]["id"].as_str().unwrap().to_string();
    let ids = |v: &serde_json::Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["id"].as_str())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    for (command, key, id) in [
        ("listVirtualMachines", "virtualmachine", &vm),
        ("listVPCs", "vpc", &vpc),
    ] {
        let without = t.ok(command, &[("listall", "true")]).await;
        assert!(!ids(&without, key).contains(id), "{command}: {without}");
        let with = t.ok(command, &[("projectid", &project)]).await;
        assert_eq!(ids(&with, key), vec![id.clone()], "{command}: {with}");
        let every = t
            .ok(command, &[("projectid", "-1"), ("listall", "true")])
            .await;
        assert!(ids(&every, key).contains(id), "{command}: {every}");
        let by_id = t.ok(command, &[("id", id)]).await;
        assert_eq!(ids(&by_id, key), vec![id.clone()], "{command}: {by_id}");
    }
}

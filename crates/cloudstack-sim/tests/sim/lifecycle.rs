//! VM and template lifecycles through async jobs.

use crate::support::*;
use cloudstack_sim::{JobLatency, Options};
use std::time::Duration;

#[tokio::test]
async fn deploy_poll_running_then_template_from_stopped_vm() {
    let mut latency = JobLatency::default();
    latency.apply("deployVirtualMachine=300").unwrap();
    let t = TestSim::start(Options {
        job_latency: latency,
        ..Options::default()
    })
    .await;
    let r = t
        .ok(
            "deployVirtualMachine",
            &[
                ("zoneid", ZONE),
                ("serviceofferingid", SMALL),
                ("templateid", TEMPLATE),
                ("networkids", NETWORK),
                ("name", "web-1"),
            ],
        )
        .await;
    let vmid = r["id"].as_str().unwrap().to_string();
    let jobid = r["jobid"].as_str().unwrap().to_string();
    // Pending first: jobstatus 0 and the VM is Starting.
    let j = t.ok("queryAsyncJobResult", &[("jobid", &jobid)]).await;
    assert_eq!(j["jobstatus"], 0);
    assert_eq!(j["jobprocstatus"], 0);
    assert!(j.get("jobresult").is_none());
    let vms = t.ok("listVirtualMachines", &[("id", &vmid)]).await;
    assert_eq!(vms["virtualmachine"][0]["state"], "Starting");
    let j = t.wait_job(&jobid).await;
    assert_eq!(j["jobstatus"], 1);
    assert_eq!(j["jobresulttype"], "object");
    assert_eq!(j["jobinstancetype"], "VirtualMachine");
    assert_eq!(j["jobinstanceid"], vmid.as_str());
    let vm = &j["jobresult"]["virtualmachine"];
    assert_eq!(vm["state"], "Running");
    assert_eq!(vm["nic"][0]["ipaddress"], "10.1.1.10");
    assert!(
        vm["password"].as_str().unwrap().len() >= 6,
        "passwordenabled template"
    );

    // ROOT volume.
    let vols = t
        .ok(
            "listVolumes",
            &[("virtualmachineid", &vmid), ("type", "ROOT")],
        )
        .await;
    assert_eq!(vols["count"], 1);
    let volid = vols["volume"][0]["id"].as_str().unwrap().to_string();

    // createTemplate refuses a running VM.
    let args = [
        ("volumeid", volid.as_str()),
        ("name", "web-template"),
        ("displaytext", "web template"),
        ("ostypeid", UBUNTU_1404),
    ];
    let a = t.call("createTemplate", &args).await;
    assert_eq!(a.status, 431);
    assert!(a.inner()["errortext"]
        .as_str()
        .unwrap()
        .contains("must be in Stopped state"));

    let stopped = t.run_async("stopVirtualMachine", &[("id", &vmid)]).await;
    assert_eq!(stopped["virtualmachine"]["state"], "Stopped");
    let tpl = t.run_async("createTemplate", &args).await;
    assert_eq!(tpl["template"]["isready"], true);
    assert_eq!(tpl["template"]["status"], "Download Complete");
    let tid = tpl["template"]["id"].as_str().unwrap().to_string();
    let mine = t
        .ok("listTemplates", &[("templatefilter", "self"), ("id", &tid)])
        .await;
    assert_eq!(mine["template"][0]["name"], "web-template");

    // Destroy without expunge: job result carries the VM, state Destroyed.
    let d = t.run_async("destroyVirtualMachine", &[("id", &vmid)]).await;
    assert_eq!(d["virtualmachine"]["state"], "Destroyed");
    let e = t.run_async("expungeVirtualMachine", &[("id", &vmid)]).await;
    assert_eq!(e["success"], true);
    assert_eq!(
        t.ok("listVirtualMachines", &[("id", &vmid)]).await,
        serde_json::json!({})
    );
    assert_eq!(
        t.ok("listVolumes", &[("virtualmachineid", &vmid)]).await,
        serde_json::json!({})
    );
    let del = t.run_async("deleteTemplate", &[("id", &tid)]).await;
    assert_eq!(del["success"], true);
    assert_eq!(
        t.ok("listTemplates", &[("templatefilter", "self")]).await,
        serde_json::json!({})
    );
}

#[tokio::test]
async fn networks_ips_rules_and_tags() {
    let t = TestSim::start(Options::default()).await;
    let off = t
        .ok(
            "listNetworkOfferings",
            &[("name", "DefaultIsolatedNetworkOfferingWithSourceNatService")],
        )
        .await;
    let offid = off["networkoffering"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let n = t
        .ok(
            "createNetwork",
            &[
                ("networkofferingid", &offid),
                ("zoneid", ZONE),
                ("name", "net2"),
                ("displaytext", "net2"),
            ],
        )
        .await;
    let netid = n["network"]["id"].as_str().unwrap().to_string();
    assert_eq!(n["network"]["cidr"], "10.1.2.0/24");
    let snat = t
        .ok(
            "listPublicIpAddresses",
            &[("associatednetworkid", &netid), ("issourcenat", "true")],
        )
        .await;
    assert_eq!(snat["count"], 1);
    let snat_id = snat["publicipaddress"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let a = t.call("disassociateIpAddress", &[("id", &snat_id)]).await;
    assert_eq!(a.status, 431);

    let vm = t.deploy("app-1", &[("networkids", &netid)]).await;
    let vmid = vm["id"].as_str().unwrap().to_string();
    let ip = t
        .run_async("associateIpAddress", &[("networkid", &netid)])
        .await;
    let ipid = ip["ipaddress"]["id"].as_str().unwrap().to_string();
    assert!(ip["ipaddress"]["ipaddress"]
        .as_str()
        .unwrap()
        .starts_with("127.100."));
    let pf = t
        .run_async(
            "createPortForwardingRule",
            &[
                ("ipaddressid", &ipid),
                ("protocol", "tcp"),
                ("privateport", "22"),
                ("publicport", "2222"),
                ("virtualmachineid", &vmid),
                ("networkid", &netid),
                ("openfirewall", "false"),
            ],
        )
        .await;
    assert_eq!(pf["portforwardingrule"]["publicport"], "2222");
    assert_eq!(pf["portforwardingrule"]["state"], "Active");
    let clash = t
        .call(
            "createPortForwardingRule",
            &[
                ("ipaddressid", &ipid),
                ("protocol", "tcp"),
                ("privateport", "22"),
                ("publicport", "2222"),
                ("virtualmachineid", &vmid),
            ],
        )
        .await;
    assert_eq!(clash.status, 537);
    let fw = t
        .run_async(
            "createFirewallRule",
            &[
                ("ipaddressid", &ipid),
                ("protocol", "tcp"),
                ("startport", "2222"),
                ("endport", "2222"),
                ("cidrlist", "0.0.0.0/0"),
            ],
        )
        .await;
    assert_eq!(fw["firewallrule"]["cidrlist"], "0.0.0.0/0");
    let eg = t
        .run_async(
            "createEgressFirewallRule",
            &[("networkid", &netid), ("protocol", "all")],
        )
        .await;
    assert_eq!(eg["firewallrule"]["cidrlist"], "10.1.2.0/24");
    assert_eq!(
        t.ok("listEgressFirewallRules", &[("networkid", &netid)])
            .await["count"],
        1
    );

    t.run_async(
        "createTags",
        &[
            ("resourcetype", "UserVm"),
            ("resourceids", &vmid),
            ("tags[0].key", "role"),
            ("tags[0].value", "web"),
        ],
    )
    .await;
    let vms = t.ok("listVirtualMachines", &[("id", &vmid)]).await;
    assert_eq!(vms["virtualmachine"][0]["tags"][0]["key"], "role");
    assert_eq!(t.ok("listTags", &[("resourceid", &vmid)]).await["count"], 1);

    // Network can't go while the VM exists.
    let busy = t.call("deleteNetwork", &[("id", &netid)]).await;
    assert_ne!(busy.status, 200);
    t.run_async(
        "destroyVirtualMachine",
        &[("id", &vmid), ("expunge", "true")],
    )
    .await;
    assert_eq!(
        t.ok("listPortForwardingRules", &[("ipaddressid", &ipid)])
            .await,
        serde_json::json!({})
    );
    t.run_async("disassociateIpAddress", &[("id", &ipid)]).await;
    assert_eq!(
        t.ok("listFirewallRules", &[("ipaddressid", &ipid)]).await,
        serde_json::json!({})
    );
    t.run_async("deleteNetwork", &[("id", &netid)]).await;
    assert_eq!(
        t.ok("listNetworks", &[("id", &netid)]).await,
        serde_json::json!({})
    );
    assert_eq!(
        t.ok("listPublicIpAddresses", &[("id", &snat_id)]).await,
        serde_json::json!({})
    );
}

#[tokio::test]
async fn userdata_by_post_and_registered_template_becomes_ready() {
    let mut latency = JobLatency::default();
    latency.apply("registerTemplate=200").unwrap();
    let t = TestSim::start(Options {
        job_latency: latency,
        ..Options::default()
    })
    .await;
    use base64::Engine as _;
    let big = base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 20_000]);
    let r = t
        .post(
            "deployVirtualMachine",
            &[
                ("zoneid", ZONE),
                ("serviceofferingid", SMALL),
                ("templateid", TEMPLATE),
                ("userdata", &big),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let bad = t
        .call(
            "deployVirtualMachine",
            &[
                ("zoneid", ZONE),
                ("serviceofferingid", SMALL),
                ("templateid", TEMPLATE),
                ("userdata", "%%%"),
            ],
        )
        .await;
    assert_eq!(bad.status, 431);

    let reg = t
        .ok(
            "registerTemplate",
            &[
                ("name", "debian"),
                ("displaytext", "debian"),
                ("format", "QCOW2"),
                ("hypervisor", "KVM"),
                ("url", "http://example.invalid/debian.qcow2"),
                ("ostypeid", UBUNTU_1404),
                ("zoneid", ZONE),
            ],
        )
        .await;
    let tid = reg["template"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(reg["template"][0]["isready"], false);
    let early = t
        .call(
            "deployVirtualMachine",
            &[
                ("zoneid", ZONE),
                ("serviceofferingid", SMALL),
                ("templateid", &tid),
            ],
        )
        .await;
    assert_eq!(early.status, 431);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let l = t
        .ok("listTemplates", &[("templatefilter", "self"), ("id", &tid)])
        .await;
    assert_eq!(l["template"][0]["isready"], true);
}

#[tokio::test]
async fn iso_deploy_detach_and_ssh_key_reset() {
    let t = TestSim::start(Options {
        vm_password: Some("Pa55word".into()),
        ..Options::default()
    })
    .await;
    let plain = t.deploy("with-password", &[]).await;
    assert_eq!(plain["password"], "Pa55word");
    let iso = t
        .ok("listIsos", &[("isofilter", "executable"), ("name", "ipxe")])
        .await;
    let isoid = iso["iso"][0]["id"].as_str().unwrap().to_string();
    let disk = t.ok("listDiskOfferings", &[("name", "Small")]).await;
    let diskid = disk["diskoffering"][0]["id"].as_str().unwrap().to_string();
    let missing = t
        .call(
            "deployVirtualMachine",
            &[
                ("zoneid", ZONE),
                ("serviceofferingid", SMALL),
                ("templateid", &isoid),
            ],
        )
        .await;
    assert_eq!(missing.status, 431);
    let vm = t
        .deploy(
            "iso-vm",
            &[
                ("templateid", &isoid),
                ("diskofferingid", &diskid),
                ("hypervisor", "KVM"),
            ],
        )
        .await;
    assert_eq!(vm["isoid"], isoid.as_str());
    let vmid = vm["id"].as_str().unwrap().to_string();
    let d = t
        .run_async("detachIso", &[("virtualmachineid", &vmid)])
        .await;
    assert!(d["virtualmachine"].get("isoid").is_none());
    assert_eq!(
        t.call("detachIso", &[("virtualmachineid", &vmid)])
            .await
            .status,
        431
    );

    t.ok("createSSHKeyPair", &[("name", "later")]).await;
    let running = t
        .call(
            "resetSSHKeyForVirtualMachine",
            &[("id", &vmid), ("keypair", "later")],
        )
        .await;
    assert_eq!(running.status, 431);
    t.run_async("stopVirtualMachine", &[("id", &vmid)]).await;
    let r = t
        .run_async(
            "resetSSHKeyForVirtualMachine",
            &[("id", &vmid), ("keypair", "later")],
        )
        .await;
    assert_eq!(r["virtualmachine"]["keypair"], "later");
}

//! `--state FILE`: every object survives a restart; pending jobs finish after it.

use crate::support::*;
use cloudstack_sim::{JobLatency, Options};

#[tokio::test]
async fn state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut latency = JobLatency::default();
    latency.apply("startVirtualMachine=60000").unwrap();
    let opts = Options {
        state_file: Some(state.clone()),
        job_latency: latency,
        ..Options::default()
    };
    let t = TestSim::start(opts.clone()).await;
    let vm = t.deploy("keep-me", &[]).await;
    let vmid = vm["id"].as_str().unwrap().to_string();
    t.ok("createSSHKeyPair", &[("name", "kp")]).await;
    let ip = t
        .run_async("associateIpAddress", &[("networkid", NETWORK)])
        .await;
    let ipid = ip["ipaddress"]["id"].as_str().unwrap().to_string();
    t.run_async("stopVirtualMachine", &[("id", &vmid)]).await;
    // A job left pending at shutdown (60 s latency).
    let start = t.ok("startVirtualMachine", &[("id", &vmid)]).await;
    let jobid = start["jobid"].as_str().unwrap().to_string();
    let before = t.world();
    t.stop().await;
    assert!(state.exists());

    let t = TestSim::start(opts).await;
    let after = t.world();
    assert_eq!(after.virtual_machines.len(), before.virtual_machines.len());
    assert_eq!(after.ssh_keypairs, before.ssh_keypairs);
    assert_eq!(after.public_ips, before.public_ips);
    assert_eq!(after.volumes, before.volumes);
    assert_eq!(t.ok("listSSHKeyPairs", &[("name", "kp")]).await["count"], 1);
    assert_eq!(
        t.ok("listPublicIpAddresses", &[("id", &ipid)]).await["count"],
        1
    );
    // The pending start job was finished on restart.
    let j = t.ok("queryAsyncJobResult", &[("jobid", &jobid)]).await;
    assert_eq!(j["jobstatus"], 1);
    let vms = t.ok("listVirtualMachines", &[("id", &vmid)]).await;
    assert_eq!(vms["virtualmachine"][0]["state"], "Running");
    // Id allocation continues (no duplicate IPs after restart).
    let ip2 = t
        .run_async("associateIpAddress", &[("networkid", NETWORK)])
        .await;
    assert_ne!(ip2["ipaddress"]["ipaddress"], ip["ipaddress"]["ipaddress"]);
    t.stop().await;
}

#[tokio::test]
async fn seed_file_gives_another_world() {
    let seed =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mesostack-seed.json");
    let t = TestSim::start(Options {
        seed_file: Some(seed),
        ..Options::default()
    })
    .await;
    let os = t.ok("listOsTypes", &[("id", "241")]).await;
    assert_eq!(os["ostype"][0]["description"], "Ubuntu 14.04 (64-bit)");
    // The ids of seed/original/packer/mesostack.json are real here.
    let vm = t.deploy("from-original-ids", &[]).await;
    assert_eq!(vm["templateid"], TEMPLATE);
    assert_eq!(vm["guestosid"], "241");
}

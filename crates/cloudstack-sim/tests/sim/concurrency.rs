//! Many clients at once: nothing lost, nothing duplicated.

use crate::support::*;
use cloudstack_sim::Options;
use std::collections::HashSet;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_deploys() {
    let dir = tempfile::tempdir().unwrap();
    let t = Arc::new(
        TestSim::start(Options {
            state_file: Some(dir.path().join("state.json")),
            ..Options::default()
        })
        .await,
    );
    let mut tasks = Vec::new();
    for i in 0..100 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            t.deploy(&format!("vm-{i}"), &[]).await["id"]
                .as_str()
                .unwrap()
                .to_string()
        }));
    }
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap());
    }
    assert_eq!(ids.len(), 100);
    let l = t
        .ok("listVirtualMachines", &[("page", "1"), ("pagesize", "500")])
        .await;
    assert_eq!(l["count"], 100);
    let listed: HashSet<String> = l["virtualmachine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, ids);
    let ips: HashSet<String> = l["virtualmachine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["nic"][0]["ipaddress"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ips.len(), 100, "guest IPs are unique");
    assert!(l["virtualmachine"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["state"] == "Running"));
    let vols = t.ok("listVolumes", &[("type", "ROOT")]).await;
    assert_eq!(vols["count"], 100);
    // The state file agrees.
    let saved = cloudstack_sim::World::load(&dir.path().join("state.json")).unwrap();
    assert_eq!(saved.virtual_machines.len(), 100);
}

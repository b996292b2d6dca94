//! Seeded fault injection is deterministic and never corrupts state.

use crate::support::*;
use cloudstack_sim::Options;

/// Outcome of one request as a client sees it.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Status(u16),
    Dropped,
}

async fn scenario(seed: u64) -> (Vec<Outcome>, Vec<String>, serde_json::Value) {
    let t = TestSim::start(Options {
        fault_rate: 0.4,
        fault_seed: seed,
        ..Options::default()
    })
    .await;
    let mut outcomes = Vec::new();
    for i in 0..40 {
        let name = format!("f-{i}");
        let r = t
            .try_call(
                "deployVirtualMachine",
                &[
                    ("zoneid", ZONE),
                    ("serviceofferingid", SMALL),
                    ("templateid", TEMPLATE),
                    ("name", &name),
                ],
            )
            .await;
        outcomes.push(match r {
            Ok(a) => Outcome::Status(a.status),
            Err(_) => Outcome::Dropped,
        });
    }
    // Read back (retrying the reads themselves, which can fault too).
    let names = loop {
        if let Ok(a) = t
            .try_call("listVirtualMachines", &[("page", "1"), ("pagesize", "500")])
            .await
        {
            if a.status == 200 {
                let mut v: Vec<String> = a.inner()["virtualmachine"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|v| v["name"].as_str().unwrap().to_string())
                    .collect();
                v.sort();
                break v;
            }
        }
    };
    let stats = t.stats().await;
    (outcomes, names, stats)
}

#[tokio::test]
async fn faults_are_deterministic_and_consistent() {
    let (a, names_a, stats_a) = scenario(42).await;
    let (b, names_b, _) = scenario(42).await;
    assert_eq!(a, b, "same seed, same faults");
    assert_eq!(names_a, names_b);
    let (c, _, _) = scenario(43).await;
    assert_ne!(a, c, "another seed, other faults");

    // Every kind of outcome shows up with this rate and seed.
    assert!(a.contains(&Outcome::Status(200)));
    assert!(a.contains(&Outcome::Dropped));
    assert!(a
        .iter()
        .any(|o| *o == Outcome::Status(503) || *o == Outcome::Status(530)));

    // A 200 means the VM exists, a 530 means it does not.
    for (i, o) in a.iter().enumerate() {
        let name = format!("f-{i}");
        match o {
            Outcome::Status(200) => {
                assert!(names_a.contains(&name), "{name} answered 200 but missing")
            }
            Outcome::Status(530) => assert!(!names_a.contains(&name), "{name} failed but exists"),
            _ => {}
        }
    }
    // VMs = successes + faults injected after applying.
    let ok = a.iter().filter(|o| **o == Outcome::Status(200)).count() as u64;
    let after = stats_a["fault_kinds"]["unavailable_after"]
        .as_u64()
        .unwrap_or(0)
        + stats_a["fault_kinds"]["drop_after"].as_u64().unwrap_or(0);
    assert_eq!(names_a.len() as u64, ok + after);
    assert!(after > 0);
}

/// `--fault-kinds truncated_after,html_after`: a flaky proxy that lets every command through
/// and then garbles some answers (status 200), reads included.
#[tokio::test]
async fn garbled_answers_come_after_the_command_ran() {
    let t = TestSim::start(Options {
        fault_rate: 0.5,
        fault_seed: 5,
        fault_kinds: cloudstack_sim::faults::Fault::parse_list("truncated_after,html_after")
            .unwrap(),
        ..Options::default()
    })
    .await;
    let mut garbled = 0;
    for i in 0..20 {
        let name = format!("g-{i}");
        let a = t
            .call(
                "deployVirtualMachine",
                &[
                    ("zoneid", ZONE),
                    ("serviceofferingid", SMALL),
                    ("templateid", TEMPLATE),
                    ("name", &name),
                ],
            )
            .await;
        assert_eq!(a.status, 200, "{name}: {:?}", a.body);
        match &a.body {
            // Not JSON: cut short, or the proxy's page.
            serde_json::Value::String(text) => {
                garbled += 1;
                assert!(
                    text.starts_with("{\"deployvirtualmachineresponse\"")
                        || text.contains("<html>"),
                    "{text}"
                );
            }
            body => assert!(body["deployvirtualmachineresponse"]["jobid"].is_string()),
        }
    }
    assert!(garbled > 0, "no answer was garbled");
    // Every deploy ran, garbled or not; list answers are garbled too, so retry the read.
    let mut listed = None;
    for _ in 0..50 {
        let a = t
            .call("listVirtualMachines", &[("page", "1"), ("pagesize", "500")])
            .await;
        if let Some(vms) = a.inner()["virtualmachine"].as_array() {
            listed = Some(vms.len());
            break;
        }
    }
    assert_eq!(listed, Some(20));
    let stats = t.stats().await;
    let kinds = stats["fault_kinds"].as_object().unwrap();
    assert!(
        kinds
            .keys()
            .all(|k| k == "truncated_after" || k == "html_after"),
        "{stats}"
    );
    assert!(kinds.contains_key("truncated_after") && kinds.contains_key("html_after"));
    assert!(stats["faults"].as_u64().unwrap() >= garbled);
}

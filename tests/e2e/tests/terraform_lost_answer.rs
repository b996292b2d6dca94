//! Issue 9's tainted path through the real Terraform (1.0.3 and every newer release found):
//! CloudStack accepts a `deployVirtualMachine` and a `createVPC`, then their job answers are
//! lost past the create timeouts (`cloudstack-sim --lose-answers-after`: a proxy outage that
//! garbles every answer about the new objects, job polls and recovery lookups included). The apply fails, the state
//! holds both objects tainted with the ids CloudStack gave, the next apply replaces them and
//! converges with exactly the planned objects (counted in the simulator, not by Terraform's
//! word), and destroy leaves nothing.
//!
//! Without Terraform the test prints `SKIPPED: ...` and passes, except under CI (`CI` set)
//! where a missing Terraform fails it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use cloudstack::Params;
use mesostack_e2e::{assert_garbled, provider_tf, workspace_bin, SimProcess};
use serde_json::Value;
use support::{api, count, delta, rt, SOURCE};
use tfplugin5::testing::{find_terraform_binaries, CommandOutput, Workspace};

mod support;

/// How long the proxy garbles the answers once a create was accepted: well past the 2 s
/// create timeouts and the client's read retries and recovery lookups.
const OUTAGE_SECS: u64 = 30;

const RESOURCES: &str = r#"
resource "cloudstack_vpc" "lost" {
  name         = "lost-vpc"
  cidr         = "10.30.0.0/16"
  vpc_offering = "Default VPC offering"
  zone         = "zone001"
  timeouts {
    create = "2s"
  }
}

resource "cloudstack_instance" "lost" {
  name             = "lost-0"
  template         = "Ubuntu 14.04"
  service_offering = "t1.small"
  zone             = "zone001"
  expunge          = true
  timeouts {
    create = "2s"
  }
}
"#;

/// VM names and VPC (name, id) pairs across the whole simulator.
#[derive(Debug, PartialEq)]
struct Held {
    vms: Vec<(String, String)>,
    vpcs: Vec<(String, String)>,
}

/// Everything the simulator holds (through a client that retries garbled reads).
fn held(sim: &SimProcess) -> Held {
    let c = api(sim);
    rt().block_on(async {
        let all = Params::new().with("listall", "true");
        let mut vms: Vec<(String, String)> = c
            .list_virtual_machines(&all)
            .await
            .unwrap()
            .into_iter()
            .map(|v| (v.name.unwrap_or_default(), v.id))
            .collect();
        vms.sort();
        let mut vpcs: Vec<(String, String)> = c
            .list_all_values("listVPCs", "vpc", &all)
            .await
            .unwrap()
            .into_iter()
            .map(|v| {
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                (s("name"), s("id"))
            })
            .collect();
        vpcs.sort();
        Held { vms, vpcs }
    })
}

/// Waits until the simulator answers the lookups of both objects again (the outage is over).
fn outage_over(sim: &SimProcess, since: Instant) {
    let c = api(sim);
    let all = Params::new().with("listall", "true");
    loop {
        let answered = rt().block_on(async {
            c.list_virtual_machines(&all).await.is_ok()
                && c.list_all_values("listVPCs", "vpc", &all).await.is_ok()
        });
        if answered {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(OUTAGE_SECS * 3),
            "the outage never ended"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn ids_of<'a>(list: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    list.iter()
        .filter(|(n, _)| n == name)
        .map(|(_, id)| id.as_str())
        .collect()
}

/// `terraform show -json`: (address, id, tainted) of every resource in the state.
fn state(ws: &Workspace) -> Vec<(String, String, bool)> {
    let out = ws.run(&["show", "-json", "-no-color"]).unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let resources = v["values"]["root_module"]["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    resources
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap_or_default().to_string(),
                r["values"]["id"].as_str().unwrap_or_default().to_string(),
                r["tainted"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn run(ws: &Workspace, args: &[&str]) -> CommandOutput {
    let mut all = args.to_vec();
    all.push("-no-color");
    let out = ws.run(&all).unwrap();
    eprintln!("terraform {} -> {}", args.join(" "), out.code);
    out
}

#[test]
fn a_lost_create_answer_is_kept_tainted_then_replaced() {
    let terraforms = mesostack_e2e::require_terraforms(find_terraform_binaries());
    let provider = workspace_bin(
        "terraform-provider-cloudstack",
        "terraform-provider-cloudstack",
    );
    for tf in &terraforms {
        println!("terraform {} at {}", tf.version, tf.path.display());
        let outage = format!("deployVirtualMachine={OUTAGE_SECS},createVPC={OUTAGE_SECS}");
        let sim = SimProcess::start(&["--lose-answers-after", outage.as_str()]);
        let seeded = held(&sim);
        let ws = Workspace::new(tf, &provider, SOURCE, "0.1.0").unwrap();
        ws.write(
            "main.tf",
            &format!("{}{RESOURCES}", provider_tf(&sim.api_url, "")),
        )
        .unwrap();
        let init = run(&ws, &["init", "-input=false"]);
        assert_eq!(init.code, 0, "{}", init.stderr);

        // 1. Accepted, then the answers are lost: the apply fails, both kept tainted.
        let started = Instant::now();
        let out = run(&ws, &["apply", "-auto-approve", "-input=false"]);
        assert_ne!(
            out.code, 0,
            "the lost answers fail the apply:\n{}",
            out.stdout
        );
        let err = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(err.contains("tainted"), "{}", out.stderr);
        assert_garbled(&sim.stats());
        outage_over(&sim, started);
        let first = held(&sim);
        let vm = ids_of(&first.vms, "lost-0");
        let vpc = ids_of(&first.vpcs, "lost-vpc");
        assert_eq!((vm.len(), vpc.len()), (1, 1), "{first:?}");
        let mut tainted = state(&ws);
        tainted.sort();
        assert_eq!(
            tainted,
            [
                (
                    "cloudstack_instance.lost".to_string(),
                    vm[0].to_string(),
                    true
                ),
                ("cloudstack_vpc.lost".to_string(), vpc[0].to_string(), true),
            ],
            "the ids CloudStack gave, tainted"
        );

        // 2. The next apply replaces both and converges with exactly the planned objects.
        let before = sim.stats();
        let out = run(&ws, &["apply", "-auto-approve", "-input=false"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let d = delta(&sim, &before);
        for command in [
            "destroyVirtualMachine",
            "deleteVPC",
            "deployVirtualMachine",
            "createVPC",
        ] {
            assert_eq!(count(&d, command), 1, "{command}: {d:?}");
        }
        let second = held(&sim);
        let mut expected = seeded.vms.clone();
        let new_vm = ids_of(&second.vms, "lost-0");
        let new_vpc = ids_of(&second.vpcs, "lost-vpc");
        assert_eq!((new_vm.len(), new_vpc.len()), (1, 1), "{second:?}");
        assert_ne!(new_vm[0], vm[0], "replaced");
        assert_ne!(new_vpc[0], vpc[0], "replaced");
        expected.push(("lost-0".into(), new_vm[0].to_string()));
        expected.sort();
        assert_eq!(second.vms, expected, "no VM but the planned one was added");
        assert_eq!(second.vpcs.len(), seeded.vpcs.len() + 1, "{second:?}");
        assert!(state(&ws).iter().all(|(_, _, t)| !t), "nothing tainted");
        let plan = run(&ws, &["plan", "-detailed-exitcode", "-input=false"]);
        assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);

        // 3. Destroy leaves nothing.
        let before = sim.stats();
        let out = run(&ws, &["destroy", "-auto-approve", "-input=false"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let d = delta(&sim, &before);
        assert_eq!(count(&d, "destroyVirtualMachine"), 1, "{d:?}");
        assert_eq!(count(&d, "deleteVPC"), 1, "{d:?}");
        assert!(state(&ws).is_empty());
        assert_eq!(held(&sim), seeded);
        sim.stop();
    }
}

//! The README's main job, end to end: `scripts/demo.sh` starts the simulator with VM
//! sandboxes, builds the Mesos template with `packer build packer-templates/mesostack.json`
//! and our builder, deploys the cluster with `terraform apply` of
//! `terraform-examples/mesostack` and our provider (provisioners on), prints the cluster and
//! destroys it. Afterwards every VM's root holds the files a real Mesos node would have.

use mesostack_e2e::{require_tool, which, workspace_bin, workspace_root};
use std::{fs, path::Path, process::Command};

/// The VM roots the simulator left under `vms/`, by VM name.
fn vm_roots(sandbox: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut roots: Vec<_> = fs::read_dir(sandbox.join("vms"))
        .expect("the simulator made VM roots")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let dir = e.file_name().to_string_lossy().into_owned();
            // <vm name>-<first 8 hex digits of the id>
            let (name, _) = dir.rsplit_once('-')?;
            Some((name.to_string(), e.path()))
        })
        .collect();
    roots.sort();
    roots
}

fn read(root: &Path, vm_path: &str) -> String {
    let file = root.join("upper").join(vm_path.trim_start_matches('/'));
    fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim_end()
        .to_string()
}

#[test]
fn the_demo_builds_the_template_deploys_configures_and_destroys_the_cluster() {
    for tool in ["packer", "cs", "unshare", "scp"] {
        if require_tool(tool, which(tool)).is_none() {
            return;
        }
    }
    if !mesostack_e2e::require_vm_sandboxes() {
        return;
    }
    let sim = workspace_bin("cloudstack-sim", "cloudstack-sim");
    workspace_bin("packer-plugin-cloudstack", "packer-builder-cloudstack");
    workspace_bin(
        "terraform-provider-cloudstack",
        "terraform-provider-cloudstack",
    );
    let bin_dir = sim.parent().expect("target dir").to_path_buf();
    let work = tempfile::tempdir().expect("tempdir");
    let demo_dir = work.path().join("demo");

    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/demo.sh"))
        .arg("--destroy")
        .env("MESOSTACK_BIN_DIR", &bin_dir)
        .env("MESOSTACK_DEMO_DIR", &demo_dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{stderr}\n--- simulator log tail:\n{}",
        fs::read_to_string(demo_dir.join("cloudstack-sim.log"))
            .map(|l| l.lines().rev().take(40).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    );
    for expected in [
        "A template was created: Ubuntu1404_mesos",
        "Apply complete!",
        "mesos_url = \"http://127.",
        "marathon_url = \"http://127.",
        "VMs left running or stopped in the simulator: 0",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }

    // What provisioning left in each VM: the files the original configure scripts wrote.
    let zk = "zk://172.16.0.20:2181,172.16.0.21:2181,172.16.0.22:2181";
    let roots = vm_roots(&demo_dir.join("vms"));
    let masters: Vec<_> = roots
        .iter()
        .filter(|(n, _)| n.starts_with("master-"))
        .collect();
    let slaves: Vec<_> = roots
        .iter()
        .filter(|(n, _)| n.starts_with("slave-"))
        .collect();
    assert_eq!(masters.len(), 3, "{roots:?}");
    assert_eq!(slaves.len(), 3, "{roots:?}");
    for (i, (name, root)) in masters.iter().enumerate() {
        let ip = format!("172.16.0.{}", 20 + i);
        assert_eq!(read(root, "/etc/mesos/zk"), format!("{zk}/mesos"), "{name}");
        assert_eq!(read(root, "/etc/zookeeper/conf/myid"), (i + 1).to_string());
        let zoo = read(root, "/etc/zookeeper/conf/zoo.cfg");
        for (k, peer) in ["172.16.0.20", "172.16.0.21", "172.16.0.22"]
            .iter()
            .enumerate()
        {
            let line = format!("server.{}={peer}:2888:3888", k + 1);
            assert_eq!(zoo.matches(&line).count(), 1, "{name} zoo.cfg:\n{zoo}");
        }
        assert_eq!(read(root, "/etc/mesos-master/quorum"), "2");
        assert_eq!(read(root, "/etc/mesos-master/ip"), ip);
        assert_eq!(
            read(root, "/etc/marathon/conf/master"),
            format!("{zk}/mesos")
        );
        assert_eq!(
            read(root, "/etc/marathon/conf/zk"),
            format!("{zk}/marathon")
        );
        assert_eq!(read(root, "/etc/init/mesos-slave.override"), "manual");
        // The image's packages were installed by the Packer build and the template carried
        // configure-node; the services were (re)started through the init system.
        let commands = read(root, "/var/log/mesostack-sim/commands.log");
        assert!(commands.contains("mesos-master"), "{name}: {commands}");
    }
    for (name, root) in &slaves {
        assert_eq!(read(root, "/etc/mesos/zk"), format!("{zk}/mesos"), "{name}");
        let ip = read(root, "/etc/mesos-slave/ip");
        assert!(ip.starts_with("172.16.0."), "{name}: {ip}");
        assert_eq!(read(root, "/etc/init/mesos-master.override"), "manual");
    }
}

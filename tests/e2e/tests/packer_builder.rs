//! Our `packer-builder-cloudstack` driven by the real Packer 1.6.6 against the simulator
//! (`SimProcess`) and a real sshd (`Sshd`) standing in for the VMs: the simulator's port
//! forwards lead to the sshd, and it writes the running VMs' key pairs to the sshd's
//! authorized keys, so the builder's temporary key pair is what logs in.
//!
//! Every build checks that nothing is left behind: no VM, no public IP but the network's
//! source NAT, no port forward or firewall rule, no key pair.

#![allow(clippy::unwrap_used)]

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use cloudstack::{Client, Config, Params};
use mesostack_e2e::{
    assert_garbled, assert_nothing_left, install_packer_plugin, packer_command, require_tool,
    sshd::Sshd, workspace_root, SimProcess, GARBLING_PROXY, SIM_API_KEY, SIM_SECRET_KEY,
};

/// A scratch directory with our plugin installed, an sshd and a simulator.
struct Env {
    dir: tempfile::TempDir,
    packer: PathBuf,
    sshd: Sshd,
    sim: SimProcess,
}

fn packer_and_sshd() -> Option<PathBuf> {
    let packer = mesostack_e2e::require_packer()?;
    require_tool("sshd", Sshd::installed().then(|| "sshd".into()))?;
    Some(packer)
}

impl Env {
    fn start(sim_args: &[&str]) -> Option<Env> {
        let packer = packer_and_sshd()?;
        Some(Self::start_with(packer, true, sim_args))
    }

    /// With `ssh_target`, VMs' SSH is the sshd; without, `sim_args` bring their own
    /// (e.g. `--vm-sandbox`).
    fn start_with(packer: PathBuf, ssh_target: bool, sim_args: &[&str]) -> Env {
        let dir = tempfile::tempdir().unwrap();
        install_packer_plugin(dir.path());
        let sshd_dir = dir.path().join("sshd");
        std::fs::create_dir_all(&sshd_dir).unwrap();
        let sshd = Sshd::start(&sshd_dir);
        let mut args = if ssh_target {
            sshd.sim_args()
        } else {
            Vec::new()
        };
        args.extend(sim_args.iter().map(|s| s.to_string()));
        let sim = SimProcess::start(&args);
        Env {
            dir,
            packer,
            sshd,
            sim,
        }
    }

    fn marker_dir(&self) -> PathBuf {
        self.dir.path().join("markers")
    }

    /// `packer ARGS` with our plugin first on the plugin path and credentials from the
    /// environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = packer_command(&self.packer, self.dir.path());
        c.args(args)
            .env("PACKER_LOG", "1")
            .env("PACKER_LOG_PATH", self.dir.path().join("packer.log"))
            .env("CLOUDSTACK_API_URL", &self.sim.api_url)
            .env("CLOUDSTACK_API_KEY", SIM_API_KEY)
            .env("CLOUDSTACK_SECRET_KEY", SIM_SECRET_KEY);
        c
    }

    /// `packer build` of the fixture template with `-var` overrides.
    fn build_command(&self, template_name: &str, extra_command: &str) -> Command {
        let mut c = self.command(&["build", "-color=false"]);
        c.arg("-var")
            .arg(format!("template_name={template_name}"))
            .arg("-var")
            .arg(format!("ssh_username={}", self.sshd.user))
            .arg("-var")
            .arg(format!("marker_dir={}", self.marker_dir().display()))
            .arg("-var")
            .arg(format!("extra_command={extra_command}"))
            .arg(fixture("build.json"));
        c
    }

    /// Runs a packer command that must succeed and returns its output; a failure shows
    /// Packer's debug log too.
    fn succeed(&self, command: &mut Command) -> String {
        let out = command.output().unwrap();
        let t = text(&out);
        assert!(
            out.status.success(),
            "{t}\n--- log ---\n{}",
            self.packer_log()
        );
        t
    }

    fn client(&self) -> Client {
        Client::new(Config::new(&self.sim.api_url, SIM_API_KEY, SIM_SECRET_KEY)).unwrap()
    }

    fn packer_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("packer.log")).unwrap_or_default()
    }
}

fn fixture(name: &str) -> PathBuf {
    workspace_root()
        .join("tests/e2e/fixtures/packer")
        .join(name)
}

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn templates_named(client: &Client, name: &str) -> Vec<cloudstack::model::Template> {
    client
        .list_templates("self", &Params::new().with("name", name))
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.name.as_deref() == Some(name))
        .collect()
}

/// Deploy jobs that succeeded: more than one would mean a duplicated VM.
async fn successful_deploys(client: &Client) -> usize {
    let jobs = client
        .list_all_values(
            "listAsyncJobs",
            "asyncjobs",
            &Params::new().with("listall", "true"),
        )
        .await
        .unwrap();
    jobs.iter()
        .filter(|j| {
            j["cmd"]
                .as_str()
                .is_some_and(|c| c.to_ascii_lowercase().contains("deployvm"))
                && j["jobstatus"].as_i64() == Some(1)
        })
        .count()
}

#[test]
fn validate_accepts_the_seed_template_unchanged_and_names_bad_fields() {
    let Some(packer) = mesostack_e2e::require_packer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    install_packer_plugin(dir.path());
    // Byte-identical to seed/original/packer/mesostack.json.
    let seed_path =
        workspace_root().join("crates/packer-plugin-cloudstack/tests/fixtures/mesostack.json");
    let seed = std::fs::read_to_string(&seed_path).unwrap();
    let validate = |path: &Path| {
        packer_command(&packer, dir.path())
            .arg("validate")
            .arg(path)
            .env("CLOUDSTACK_API_URL", "http://127.0.0.1:8080/client/api")
            .env("CLOUDSTACK_API_KEY", SIM_API_KEY)
            .env("CLOUDSTACK_SECRET_KEY", SIM_SECRET_KEY)
            .output()
            .unwrap()
    };
    let out = validate(&seed_path);
    assert!(out.status.success(), "{}", text(&out));

    // A misspelled required field: the unknown key and the missing field are both named.
    let misspelled = seed.replace("\"zone_id\"", "\"zone_idd\"");
    assert_ne!(misspelled, seed);
    let p = dir.path().join("misspelled.json");
    std::fs::write(&p, misspelled).unwrap();
    let out = validate(&p);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("zone_idd"), "{t}");
    assert!(t.contains("zone: must be set"), "{t}");

    // A missing required field.
    let mut v: serde_json::Value = serde_json::from_str(&seed).unwrap();
    v["builders"][0]
        .as_object_mut()
        .unwrap()
        .remove("template_id");
    let p = dir.path().join("missing.json");
    std::fs::write(&p, v.to_string()).unwrap();
    let out = validate(&p);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("source_template: must be set"), "{t}");
}

#[tokio::test]
async fn build_creates_a_ready_template_and_leaves_nothing_behind() {
    let Some(env) = Env::start(&[]) else { return };
    let t = env.succeed(&mut env.build_command("packer-e2e-build", "true"));
    // Provisioner output shows in Packer's output.
    assert!(t.contains("inline-provisioner-ran"), "{t}");
    assert!(t.contains("script-provisioner-ran"), "{t}");
    // Progress lines of our steps.
    for line in [
        "Creating temporary SSH key pair...",
        "Deploying instance...",
        "Connected to SSH!",
        "Stopping instance",
        "Creating template: packer-e2e-build",
        "Deleting temporary SSH key pair",
    ] {
        assert!(t.contains(line), "missing {line:?} in {t}");
    }
    // No secret reaches the output, nor Packer's debug log (which holds the plugin's stderr).
    let log = env.packer_log();
    for secret in [SIM_SECRET_KEY, "PRIVATE KEY"] {
        assert!(!t.contains(secret), "{t}");
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    // The markers the provisioners wrote (the "VM" is this machine's sshd).
    let markers = env.marker_dir();
    assert_eq!(
        std::fs::read_to_string(markers.join("inline")).unwrap(),
        "inline\n"
    );
    assert_eq!(
        std::fs::read_to_string(markers.join("script")).unwrap(),
        "script\n"
    );

    let client = env.client();
    let templates = templates_named(&client, "packer-e2e-build").await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    let tpl = &templates[0];
    assert_eq!(tpl.isready, Some(true), "{tpl:?}");
    assert_eq!(tpl.ostypename.as_deref(), Some("Ubuntu 14.04 (64-bit)"));
    assert!(
        t.contains(&format!(
            "A template was created: packer-e2e-build (id {}, zone zone001)",
            tpl.id
        )),
        "{t}"
    );
    assert_nothing_left(&client).await;
    assert_eq!(successful_deploys(&client).await, 1);
    let stats = env.sim.stats();
    assert_eq!(stats["requests"]["createTemplate"], 1, "{stats}");
}

#[tokio::test]
async fn a_failing_provisioner_fails_the_build_and_cleans_up() {
    let Some(env) = Env::start(&[]) else { return };
    let out = env
        .build_command("packer-e2e-fail", "exit 1")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("extra-command-starting"), "{t}");
    assert!(t.contains("non-zero exit status: 1"), "{t}");
    assert!(t.contains("Build 'cloudstack' errored"), "{t}");
    assert!(t.contains("Destroying instance"), "{t}");
    let client = env.client();
    assert!(templates_named(&client, "packer-e2e-fail").await.is_empty());
    assert_nothing_left(&client).await;
}

#[tokio::test]
async fn sigint_to_packers_process_group_during_provisioning_cleans_up() {
    use std::os::unix::process::CommandExt;
    let Some(env) = Env::start(&[]) else { return };
    let log_path = env.dir.path().join("stdout.txt");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = env
        .build_command("packer-e2e-interrupted", "sleep 30")
        .process_group(0)
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let pgid = child.id();
    let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !read_log().contains("extra-command-starting") {
        assert!(
            child.try_wait().unwrap().is_none(),
            "packer exited early:\n{}",
            read_log()
        );
        assert!(
            Instant::now() < deadline,
            "never reached the sleep:\n{}",
            read_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    // Ctrl-C in a terminal: SIGINT to the whole process group, plugin included.
    let status = Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "packer did not exit after SIGINT:\n{}",
            read_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let t = read_log();
    // Well before the 30 s sleep would have ended.
    assert!(started.elapsed() < Duration::from_secs(25), "{t}");
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains("Destroying instance"), "{t}");
    assert!(t.contains("Deleting temporary SSH key pair"), "{t}");
    let client = env.client();
    assert!(templates_named(&client, "packer-e2e-interrupted")
        .await
        .is_empty());
    assert_nothing_left(&client).await;
    let mut rest = String::new();
    let _ = std::fs::File::open(&log_path)
        .unwrap()
        .read_to_string(&mut rest);
    assert!(!rest.contains("PRIVATE KEY"));
}

#[tokio::test]
async fn a_faulty_api_still_builds_once_and_leaves_nothing() {
    let Some(env) = Env::start(&["--fault-rate", "0.2", "--fault-seed", "11"]) else {
        return;
    };
    env.succeed(&mut env.build_command("packer-e2e-faults", "true"));
    let stats = env.sim.stats();
    assert!(stats["faults"].as_u64().unwrap() > 0, "{stats}");
    // The checks below go through a client that retries; faults do not matter to them.
    let client = env.client();
    let templates = templates_named(&client, "packer-e2e-faults").await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert_eq!(templates[0].isready, Some(true));
    assert_nothing_left(&client).await;
    assert_eq!(successful_deploys(&client).await, 1, "{stats}");
}

#[tokio::test]
async fn a_garbling_proxy_builds_once_and_leaves_nothing() {
    let Some(env) = Env::start(&GARBLING_PROXY) else {
        return;
    };
    env.succeed(&mut env.build_command("packer-e2e-garbled", "true"));
    let stats = env.sim.stats();
    assert_garbled(&stats);
    let client = env.client();
    let templates = templates_named(&client, "packer-e2e-garbled").await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert_eq!(templates[0].isready, Some(true));
    assert_nothing_left(&client).await;
    assert_eq!(successful_deploys(&client).await, 1, "{stats}");
}

#[tokio::test]
async fn a_failed_build_behind_a_garbling_proxy_leaves_nothing() {
    let Some(env) = Env::start(&GARBLING_PROXY) else {
        return;
    };
    let out = env
        .build_command("packer-e2e-garbled-fail", "exit 1")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("Destroying instance"), "{t}");
    assert!(!t.contains("yourself"), "cleanup gave up:\n{t}");
    assert_garbled(&env.sim.stats());
    let client = env.client();
    assert!(templates_named(&client, "packer-e2e-garbled-fail")
        .await
        .is_empty());
    assert_nothing_left(&client).await;
}

/// Root and `unshare` for the simulator's VM sandboxes, or `None` (skip) with the reason;
/// a failure under CI.
fn sandbox_tools() -> Option<PathBuf> {
    let packer = packer_and_sshd()?;
    mesostack_e2e::require_vm_sandboxes().then_some(packer)
}

/// Every VM's sandbox `commands.log` (what the stand-ins were asked to do), concatenated.
fn sandbox_commands(sandbox: &Path) -> String {
    let mut all = String::new();
    for vm in std::fs::read_dir(sandbox.join("vms")).unwrap() {
        let log = vm
            .unwrap()
            .path()
            .join("upper/var/log/mesostack-sim/commands.log");
        all.push_str(&std::fs::read_to_string(log).unwrap_or_default());
    }
    all
}

/// The seed's `mesostack.json`, byte for byte, built by Packer 1.6.6 with our plugin: the
/// simulator is seeded with the template's ids (`mesostack-seed.json`) and its VMs take the
/// provisioners in sandboxes (apt-get and friends are stand-ins), logging in with the
/// temporary key pair.
#[tokio::test]
async fn the_seed_template_builds_unchanged_in_a_vm_sandbox() {
    let Some(packer) = sandbox_tools() else {
        return;
    };
    let sandbox = tempfile::tempdir().unwrap();
    let seed = workspace_root().join("crates/cloudstack-sim/fixtures/mesostack-seed.json");
    let env = Env::start_with(
        packer,
        false,
        &[
            "--seed",
            seed.to_str().unwrap(),
            "--vm-sandbox",
            sandbox.path().to_str().unwrap(),
        ],
    );
    let template =
        workspace_root().join("crates/packer-plugin-cloudstack/tests/fixtures/mesostack.json");
    let t = env.succeed(env.command(&["build", "-color=false"]).arg(&template));
    assert!(
        t.contains("A template was created: ubuntu1404_mesos (id "),
        "{t}"
    );
    let commands = sandbox_commands(sandbox.path());
    assert!(
        commands.contains("apt-get install -y mesos marathon curl jq"),
        "{commands}"
    );
    let client = env.client();
    let templates = templates_named(&client, "ubuntu1404_mesos").await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert_eq!(templates[0].isready, Some(true));
    // template_os_id "241" is the seed's Ubuntu 14.04 OS type.
    assert_eq!(templates[0].ostypeid.as_deref(), Some("241"));
    // No `expunge` in the seed template: the VM stays, Destroyed; nothing else is left.
    let all = Params::new().with("listall", "true");
    let vms = client.list_virtual_machines(&all).await.unwrap();
    assert!(
        vms.iter().all(|v| v.state.as_deref() == Some("Destroyed")),
        "{vms:?}"
    );
    assert!(client.list_ssh_key_pairs(&all).await.unwrap().is_empty());
    assert!(client
        .list_port_forwarding_rules(&all)
        .await
        .unwrap()
        .is_empty());
    assert!(client.list_firewall_rules(&all).await.unwrap().is_empty());
}

/// Password login: with `ssh_password` (the VM's deploy password, `--vm-password`) no key
/// pair is created and the communicator logs in with the password.
#[tokio::test]
async fn a_password_login_builds_in_a_vm_sandbox() {
    let Some(packer) = sandbox_tools() else {
        return;
    };
    let sandbox = tempfile::tempdir().unwrap();
    let env = Env::start_with(
        packer,
        false,
        &[
            "--vm-password",
            "Pa55-word",
            "--vm-sandbox",
            sandbox.path().to_str().unwrap(),
        ],
    );
    let upload = fixture("upload");
    let downloaded = env.dir.path().join("downloaded.txt");
    let template = serde_json::json!({
        "builders": [{
            "type": "cloudstack", "zone": "zone001", "network": "guestnet001",
            "service_offering": "t1.small", "source_template": "Ubuntu 14.04",
            "template_os": "Ubuntu 14.04 (64-bit)", "template_name": "packer-e2e-password",
            "ssh_username": "ubuntu", "ssh_password": "Pa55-word", "ssh_timeout": "60s",
            "expunge": true
        }],
        "provisioners": [
            {"type": "shell", "inline": ["echo logged-in-as-$(id -un)", "sudo apt-get install -y zookeeperd"]},
            {"type": "file", "source": upload.join("a.txt"), "destination": "/tmp/packer-e2e-file"},
            {"type": "file", "source": upload, "destination": "/tmp/packer-e2e-dir"},
            {"type": "shell", "inline": ["cat /tmp/packer-e2e-file /tmp/packer-e2e-dir/upload/sub/b.txt"]},
            {"type": "file", "direction": "download", "source": "/tmp/packer-e2e-dir/upload/sub/b.txt",
             "destination": downloaded}
        ]
    });
    let path = env.dir.path().join("password.json");
    std::fs::write(&path, template.to_string()).unwrap();
    let t = env.succeed(env.command(&["build", "-color=false"]).arg(&path));
    assert!(!t.contains("Pa55-word"), "the password was printed: {t}");
    assert!(t.contains("uploaded by packer"), "{t}");
    assert!(t.contains("nested file"), "{t}");
    assert_eq!(
        std::fs::read_to_string(&downloaded).unwrap(),
        "nested file\n"
    );
    assert!(
        sandbox_commands(sandbox.path()).contains("apt-get install -y zookeeperd"),
        "{t}"
    );
    let client = env.client();
    assert_eq!(
        env.sim.stats()["requests"]["createSSHKeyPair"],
        serde_json::Value::Null
    );
    assert_eq!(
        templates_named(&client, "packer-e2e-password").await.len(),
        1
    );
    assert_nothing_left(&client).await;
}

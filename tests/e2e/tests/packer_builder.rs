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
    assert_garbled, assert_nothing_left, install_packer_plugin, packer_command, python_cs,
    require_tool,
    sshd::{keygen, SshAgent, Sshd},
    which, workspace_root, SimProcess, GARBLING_PROXY, SIM_API_KEY, SIM_SECRET_KEY,
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
        // Logging: the tests read which channels and subsystems a build used.
        let sshd = Sshd::start_logging(&sshd_dir);
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

    /// An environment whose VMs are simulator sandboxes (`--vm-sandbox`, returned), with
    /// `sim_args`; `None` (skip) without root, `unshare`, packer or sshd.
    fn sandboxed(sim_args: &[&str]) -> Option<(Env, tempfile::TempDir)> {
        let packer = sandbox_tools()?;
        let sandbox = tempfile::tempdir().unwrap();
        let mut args = vec!["--vm-sandbox", sandbox.path().to_str().unwrap()];
        args.extend_from_slice(sim_args);
        Some((Self::start_with(packer, false, &args), sandbox))
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
        self.build_command_with(&[], template_name, extra_command)
    }

    /// [`Env::build_command`] with more `packer build` flags.
    fn build_command_with(
        &self,
        flags: &[&str],
        template_name: &str,
        extra_command: &str,
    ) -> Command {
        let mut c = self.command(&["build", "-color=false"]);
        c.args(flags)
            .arg("-var")
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

/// A template for the sshd-backed VM with `extra` builder fields and `provisioners`.
fn ssh_template(
    env: &Env,
    name: &str,
    extra: serde_json::Value,
    provisioners: serde_json::Value,
) -> PathBuf {
    let mut builder = serde_json::json!({
        "type": "cloudstack", "zone": "zone001", "network": "guestnet001",
        "service_offering": "t1.small", "source_template": "Ubuntu 14.04",
        "template_os": "Ubuntu 14.04 (64-bit)", "template_name": name,
        "ssh_username": env.sshd.user, "ssh_timeout": "90s", "expunge": true
    });
    for (k, v) in extra.as_object().unwrap() {
        builder[k] = v.clone();
    }
    let template = serde_json::json!({"builders": [builder], "provisioners": provisioners});
    let path = env.dir.path().join(format!("{name}.json"));
    std::fs::write(&path, template.to_string()).unwrap();
    path
}

/// `ssh_bastion_*`: the SSH connection to the VM goes through a second sshd (the bastion),
/// which logs in with its own key and opens the forward to the VM's public IP and port.
#[tokio::test]
async fn a_bastion_host_carries_the_ssh_connection() {
    let Some(env) = Env::start(&[]) else { return };
    let bastion_dir = env.dir.path().join("bastion");
    std::fs::create_dir_all(&bastion_dir).unwrap();
    let bastion = Sshd::start_logging(&bastion_dir);
    let key = keygen(&bastion_dir, "id_ed25519");
    std::fs::copy(key.with_extension("pub"), &bastion.authorized_keys).unwrap();
    let template = ssh_template(
        &env,
        "packer-e2e-bastion",
        serde_json::json!({
            "ssh_bastion_host": "127.0.0.1", "ssh_bastion_port": bastion.addr.port(),
            "ssh_bastion_username": bastion.user, "ssh_bastion_private_key_file": key
        }),
        serde_json::json!([{"type": "shell", "inline": ["echo provisioned-through-the-bastion"]}]),
    );
    let t = env.succeed(env.command(&["build", "-color=false"]).arg(&template));
    assert!(t.contains("provisioned-through-the-bastion"), "{t}");
    let via = format!("through the bastion host 127.0.0.1:{}", bastion.addr.port());
    assert!(t.contains(&via), "{t}");
    // The bastion forwarded to the VM's public IP and port (an address the simulator
    // serves in 127/8), not to the sshd behind it.
    let log = std::fs::read_to_string(&bastion.log).unwrap();
    let forward = log
        .lines()
        .find(|l| l.contains("server_request_direct_tcpip"))
        .unwrap_or_else(|| panic!("no forward in the bastion's log:\n{log}"));
    assert!(forward.contains("target 127."), "{forward}");
    assert!(
        !forward.contains(&format!("target 127.0.0.1 port {}", env.sshd.addr.port())),
        "{forward}"
    );
    let client = env.client();
    assert_eq!(
        templates_named(&client, "packer-e2e-bastion").await.len(),
        1
    );
    assert_nothing_left(&client).await;

    // A bastion that refuses its key fails the build, naming the bastion, and cleans up.
    std::fs::write(&bastion.authorized_keys, "").unwrap();
    let template = ssh_template(
        &env,
        "packer-e2e-bastion-refused",
        serde_json::json!({
            "ssh_bastion_host": "127.0.0.1", "ssh_bastion_port": bastion.addr.port(),
            "ssh_bastion_private_key_file": key, "ssh_handshake_attempts": 1
        }),
        serde_json::json!([]),
    );
    let out = env
        .command(&["build", "-color=false"])
        .arg(&template)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("bastion") && t.contains("refused"), "{t}");
    assert_nothing_left(&client).await;
}

/// `ssh_file_transfer_method = "sftp"`: the file provisioner's uploads and downloads go
/// through the sftp subsystem (the VM's sshd logs it).
#[tokio::test]
async fn files_move_with_sftp() {
    let Some(env) = Env::start(&[]) else { return };
    let upload = fixture("upload");
    let remote = env.dir.path().join("remote");
    let downloaded = env.dir.path().join("downloaded.txt");
    let template = ssh_template(
        &env,
        "packer-e2e-sftp",
        serde_json::json!({"ssh_file_transfer_method": "sftp", "pause_before_connecting": "1s"}),
        serde_json::json!([
            {"type": "shell", "inline": [format!("mkdir -p {}", remote.display())]},
            {"type": "file", "source": upload.join("a.txt"), "destination": remote.join("a.txt")},
            {"type": "file", "source": upload, "destination": remote.join("dir")},
            {"type": "shell", "inline": [format!("cat {}/a.txt {}/dir/upload/sub/b.txt", remote.display(), remote.display())]},
            {"type": "file", "direction": "download", "source": remote.join("dir/upload/sub/b.txt"),
             "destination": downloaded}
        ]),
    );
    let t = env.succeed(env.command(&["build", "-color=false"]).arg(&template));
    assert!(t.contains("uploaded by packer"), "{t}");
    assert!(t.contains("nested file"), "{t}");
    assert_eq!(
        std::fs::read_to_string(&downloaded).unwrap(),
        "nested file\n"
    );
    let log = std::fs::read_to_string(&env.sshd.log).unwrap();
    assert!(log.matches("subsystem 'sftp'").count() >= 3, "{log}");
    let client = env.client();
    assert_eq!(templates_named(&client, "packer-e2e-sftp").await.len(), 1);
    assert_nothing_left(&client).await;
}

/// `ssh_agent_auth` with `ssh_keypair_name`: the VM is deployed with a key pair registered
/// from the agent's key, and the login is signed by a real `ssh-agent` (Packer passes its
/// `SSH_AUTH_SOCK` on to the plugin); no temporary key pair and no private key file.
#[tokio::test]
async fn ssh_agent_auth_logs_in_with_the_agents_key() {
    let Some(env) = Env::start(&[]) else { return };
    let Some(_) = require_tool("ssh-agent", which("ssh-agent")) else {
        return;
    };
    let agent = SshAgent::start(env.dir.path());
    let key = keygen(env.dir.path(), "agent_key");
    agent.add(&key);
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let client = env.client();
    client
        .register_ssh_key_pair("agent-key", public.trim())
        .await
        .unwrap();
    let template = ssh_template(
        &env,
        "packer-e2e-agent",
        serde_json::json!({"ssh_agent_auth": true, "ssh_keypair_name": "agent-key"}),
        serde_json::json!([{"type": "shell", "inline": ["echo agent-signed-login"]}]),
    );
    let t = env.succeed(
        env.command(&["build", "-color=false"])
            .arg(&template)
            .env("SSH_AUTH_SOCK", &agent.socket),
    );
    assert!(t.contains("agent-signed-login"), "{t}");
    assert!(t.contains("Using existing SSH key pair agent-key"), "{t}");
    assert_eq!(
        env.sim.stats()["requests"]["createSSHKeyPair"],
        serde_json::Value::Null
    );
    assert_eq!(templates_named(&client, "packer-e2e-agent").await.len(), 1);
    client.delete_ssh_key_pair("agent-key").await.unwrap();
    assert_nothing_left(&client).await;
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

/// A build template of one `cloudstack` builder with `fields` over the common ones (zone001,
/// t1.small, Ubuntu 14.04, expunge) and a provisioner proving SSH reached the VM.
fn sandbox_template(env: &Env, name: &str, fields: serde_json::Value) -> PathBuf {
    let mut builder = serde_json::json!({
        "type": "cloudstack", "zone": "zone001", "network": "guestnet001",
        "service_offering": "t1.small", "source_template": "Ubuntu 14.04",
        "template_os": "Ubuntu 14.04 (64-bit)", "template_name": name,
        "instance_name": name, "ssh_username": "ubuntu", "ssh_timeout": "60s",
        "expunge": true
    });
    for (k, v) in fields.as_object().unwrap() {
        builder[k] = v.clone();
    }
    let template = serde_json::json!({
        "builders": [builder],
        "provisioners": [{"type": "shell", "inline": ["echo provisioned-on-$(hostname)"]}]
    });
    let path = env.dir.path().join(format!("{name}.json"));
    std::fs::write(&path, template.to_string()).unwrap();
    path
}

/// What a build may leave in a project (listed with its id, as CloudStack shows a
/// project's objects only then): nothing but the network's source NAT address.
async fn assert_nothing_left_in_project(client: &Client, project: &str) {
    let scope = Params::new().with("projectid", project);
    let vms = client.list_virtual_machines(&scope).await.unwrap();
    assert!(vms.is_empty(), "VMs left in the project: {vms:?}");
    let keys = client.list_ssh_key_pairs(&scope).await.unwrap();
    assert!(keys.is_empty(), "key pairs left in the project: {keys:?}");
    let ips = client.list_public_ip_addresses(&scope).await.unwrap();
    assert!(
        ips.iter().all(|ip| ip.issourcenat == Some(true)),
        "public IPs left in the project: {ips:?}"
    );
    let groups = client.list_security_groups(&scope).await.unwrap();
    assert!(
        groups.iter().all(|g| g.name.as_deref() == Some("default")),
        "security groups left in the project: {groups:?}"
    );
}

/// `project`: the key pair, VM, public IP and template belong to the project (named by
/// name), every lookup is scoped to it, and nothing temporary is left in it.
#[tokio::test]
async fn a_project_build_makes_everything_in_the_project_and_leaves_nothing() {
    let Some((env, _sandbox)) = Env::sandboxed(&[]) else {
        return;
    };
    let client = env.client();
    let project = client
        .create_project("packer-builds", "Packer builds", &Params::new())
        .await
        .unwrap();
    let offering = client
        .resolve_id(
            cloudstack::Resource::NetworkOffering,
            "DefaultIsolatedNetworkOfferingWithSourceNatService",
            &Params::new(),
        )
        .await
        .unwrap();
    let zone = client
        .resolve_id(cloudstack::Resource::Zone, "zone001", &Params::new())
        .await
        .unwrap();
    client
        .create_network(&cloudstack::api::CreateNetwork {
            name: "project-net".into(),
            network_offering_id: offering,
            zone_id: zone,
            extra: Params::new().with("projectid", &project.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let path = sandbox_template(
        &env,
        "packer-e2e-project",
        serde_json::json!({"project": "packer-builds", "network": "project-net"}),
    );
    let t = env.succeed(env.command(&["build", "-color=false"]).arg(&path));
    assert!(t.contains("provisioned-on-packer-e2e-project"), "{t}");

    // The template is the project's: listed with its id, not without.
    let in_project = Params::new()
        .with("name", "packer-e2e-project")
        .with("projectid", &project.id);
    let templates = client.list_templates("self", &in_project).await.unwrap();
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert_eq!(templates[0].isready, Some(true));
    assert!(templates_named(&client, "packer-e2e-project")
        .await
        .is_empty());
    // Every create was scoped to the project (the key pair is looked up in the VM's owner,
    // so a deploy outside the project would have failed).
    let stats = env.sim.stats();
    assert_eq!(stats["requests"]["createSSHKeyPair"], 1, "{stats}");
    assert_eq!(stats["requests"]["deployVirtualMachine"], 1, "{stats}");
    assert_nothing_left_in_project(&client, &project.id).await;
    assert_nothing_left(&client).await;
}

/// A VPC (10.20.0.0/16) with a tier on `acl` (an ACL list of the VPC when `None`); returns
/// the ACL list id the tier uses.
async fn vpc_with_tier(client: &Client, tier: &str, acl: Option<&str>) -> String {
    let id = |v: &serde_json::Value, key: &str| v[key]["id"].as_str().unwrap().to_string();
    let zone = client
        .resolve_id(cloudstack::Resource::Zone, "zone001", &Params::new())
        .await
        .unwrap();
    let vpc_offering = client
        .resolve_id(
            cloudstack::Resource::VpcOffering,
            "Default VPC offering",
            &Params::new(),
        )
        .await
        .unwrap();
    let vpc = client
        .request_async(
            "createVPC",
            &Params::new()
                .with("name", format!("{tier}-vpc"))
                .with("displaytext", "packer e2e")
                .with("cidr", "10.20.0.0/16")
                .with("vpcofferingid", vpc_offering)
                .with("zoneid", &zone),
        )
        .await
        .unwrap();
    let vpc = id(&vpc, "vpc");
    let acl = match acl {
        Some(acl) => acl.to_string(),
        None => {
            let list = client
                .request_async(
                    "createNetworkACLList",
                    &Params::new()
                        .with("name", format!("{tier}-acl"))
                        .with("vpcid", &vpc),
                )
                .await
                .unwrap();
            id(&list, "networkacllist")
        }
    };
    let offering = client
        .resolve_id(
            cloudstack::Resource::NetworkOffering,
            "DefaultIsolatedNetworkOfferingForVpcNetworks",
            &Params::new(),
        )
        .await
        .unwrap();
    client
        .create_network(&cloudstack::api::CreateNetwork {
            name: tier.into(),
            network_offering_id: offering,
            zone_id: zone,
            extra: Params::new()
                .with("vpcid", &vpc)
                .with("gateway", "10.20.1.1")
                .with("netmask", "255.255.255.0")
                .with("aclid", &acl),
            ..Default::default()
        })
        .await
        .unwrap();
    acl
}

/// The items (rules) of ACL list `acl`.
async fn acl_rules(client: &Client, acl: &str) -> Vec<serde_json::Value> {
    client
        .list_all_values(
            "listNetworkACLs",
            "networkacl",
            &Params::new().with("aclid", acl),
        )
        .await
        .unwrap()
}

/// A VPC tier: the public IP is the VPC's, SSH is let in by a rule on the tier's ACL list
/// (for `ssh_port`; the simulator forwards only what the ACL admits, as a VPC router does)
/// instead of a firewall rule, and the rule is gone afterwards.
#[tokio::test]
async fn a_vpc_tier_build_opens_ssh_with_an_acl_rule_and_removes_it() {
    let Some((env, _sandbox)) = Env::sandboxed(&[]) else {
        return;
    };
    let client = env.client();
    let acl = vpc_with_tier(&client, "tier-build", None).await;
    let path = sandbox_template(
        &env,
        "packer-e2e-vpc",
        serde_json::json!({"network": "tier-build", "cidr_list": ["127.0.0.0/8"]}),
    );
    let t = env.succeed(env.command(&["build", "-color=false"]).arg(&path));
    assert!(t.contains("provisioned-on-packer-e2e-vpc"), "{t}");
    assert!(
        t.contains("Creating network ACL rule for TCP 22 from 127.0.0.0/8"),
        "{t}"
    );
    assert!(t.contains("Deleting network ACL rule"), "{t}");
    let stats = env.sim.stats();
    assert_eq!(stats["requests"]["createNetworkACL"], 1, "{stats}");
    assert_eq!(
        stats["requests"]["createFirewallRule"],
        serde_json::Value::Null,
        "{stats}"
    );
    assert!(acl_rules(&client, &acl).await.is_empty());
    assert_eq!(templates_named(&client, "packer-e2e-vpc").await.len(), 1);
    assert_nothing_left(&client).await;
}

/// A tier on a built-in ACL list (which CloudStack refuses to change) is refused before
/// anything is created, naming the fix; with `prevent_firewall_changes` no rule is made
/// (and, the tier admitting nothing, the build fails at SSH and cleans up).
#[tokio::test]
async fn a_vpc_tier_on_a_default_acl_list_is_refused_before_anything_is_made() {
    let Some((env, _sandbox)) = Env::sandboxed(&[]) else {
        return;
    };
    let client = env.client();
    let deny = client
        .list_network_acl_lists(&Params::new().with("name", "default_deny"))
        .await
        .unwrap();
    let deny = deny[0].id.clone();
    vpc_with_tier(&client, "tier-deny", Some(&deny)).await;
    let path = sandbox_template(
        &env,
        "packer-e2e-vpc-deny",
        serde_json::json!({"network": "tier-deny"}),
    );
    let out = env
        .command(&["build", "-color=false"])
        .arg(&path)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("uses the default ACL list default_deny"), "{t}");
    assert!(t.contains("prevent_firewall_changes"), "{t}");
    let stats = env.sim.stats();
    assert_eq!(
        stats["requests"]["deployVirtualMachine"],
        serde_json::Value::Null,
        "{stats}"
    );
    assert_eq!(
        stats["requests"]["createSSHKeyPair"],
        serde_json::Value::Null,
        "{stats}"
    );

    let path = sandbox_template(
        &env,
        "packer-e2e-vpc-prevent",
        serde_json::json!({"network": "tier-deny", "prevent_firewall_changes": true,
                           "ssh_timeout": "3s"}),
    );
    let out = env
        .command(&["build", "-color=false"])
        .arg(&path)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("no firewall or ACL rule"), "{t}");
    assert_eq!(
        env.sim.stats()["requests"]["createNetworkACL"],
        serde_json::Value::Null
    );
    assert!(acl_rules(&client, &deny).await.is_empty());
    assert_nothing_left(&client).await;
}

/// A seed whose zone001 has security groups enabled (the built-in world has no such zone):
/// written next to the environment's files.
fn security_group_seed(dir: &Path) -> PathBuf {
    let out = Command::new(mesostack_e2e::workspace_bin(
        "cloudstack-sim",
        "cloudstack-sim",
    ))
    .arg("--print-seed")
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mut world: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    world["zones"][0]["securitygroupsenabled"] = serde_json::json!(true);
    let path = dir.join("sg-seed.json");
    std::fs::write(&path, world.to_string()).unwrap();
    path
}

/// Security groups in a zone with them: `create_security_group` makes a temporary group
/// allowing `ssh_port` from `cidr_list`, the VM is deployed into it, and it is deleted
/// after the VM is expunged; `security_groups` (by name) deploys into an existing group,
/// which is kept. (The simulator reaches VMs only through port forwards, so these builds
/// use `communicator = none`.)
#[tokio::test]
async fn security_groups_are_created_used_and_removed() {
    let Some(packer) = packer_and_sshd() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let seed = security_group_seed(scratch.path());
    let env = Env::start_with(packer, true, &["--seed", seed.to_str().unwrap()]);
    let client = env.client();
    let path = sandbox_template(
        &env,
        "packer-e2e-sg",
        serde_json::json!({"create_security_group": true, "communicator": "none",
                           "cidr_list": ["10.0.0.0/8", "192.168.0.0/16"]}),
    );
    let t = env.succeed(env.command(&["build", "-color=false"]).arg(&path));
    assert!(
        t.contains("Creating temporary security group packer-"),
        "{t}"
    );
    assert!(
        t.contains("Allowing TCP 22 from 10.0.0.0/8,192.168.0.0/16"),
        "{t}"
    );
    assert!(
        t.contains("Deleting temporary security group packer-"),
        "{t}"
    );
    let stats = env.sim.stats();
    assert_eq!(
        stats["requests"]["authorizeSecurityGroupIngress"], 1,
        "{stats}"
    );
    assert_eq!(stats["requests"]["deleteSecurityGroup"], 1, "{stats}");
    assert_eq!(
        stats["requests"]["associateIpAddress"],
        serde_json::Value::Null,
        "{stats}"
    );
    // The deploy asked for the group: its job result shows the VM in it.
    let jobs = client
        .list_all_values("listAsyncJobs", "asyncjobs", &Params::new())
        .await
        .unwrap();
    let deploy = jobs
        .iter()
        .find(|j| j["cmd"].as_str().is_some_and(|c| c.contains("DeployVM")))
        .unwrap();
    let groups = &deploy["jobresult"]["virtualmachine"]["securitygroup"];
    assert!(
        groups[0]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("packer-")),
        "{deploy}"
    );
    assert_eq!(templates_named(&client, "packer-e2e-sg").await.len(), 1);

    // An existing group, by name: used, kept.
    let web = client
        .create_security_group("web", None, None)
        .await
        .unwrap();
    let path = sandbox_template(
        &env,
        "packer-e2e-sg-named",
        serde_json::json!({"security_groups": ["web"], "communicator": "none"}),
    );
    env.succeed(env.command(&["build", "-color=false"]).arg(&path));
    assert_eq!(env.sim.stats()["requests"]["createSecurityGroup"], 2);
    assert_nothing_left(&client).await;
    // Deletable again: no VM is left in it.
    client.delete_security_group(&web.id, None).await.unwrap();
    let left = client.list_security_groups(&Params::new()).await.unwrap();
    assert!(
        left.iter().all(|g| g.name.as_deref() == Some("default")),
        "{left:?}"
    );
}

/// What cannot work is refused by `packer validate` itself, naming the field: security
/// groups in a zone without them, `create_security_group` on a VPC tier.
#[tokio::test]
async fn validate_refuses_security_groups_where_they_cannot_work() {
    let Some(env) = Env::start(&[]) else { return };
    let client = env.client();
    vpc_with_tier(&client, "tier-sg", None).await;
    for (name, fields, needles) in [
        (
            "sg-no-zone",
            serde_json::json!({"security_groups": ["default"]}),
            vec!["security_groups: zone zone001 has no security groups"],
        ),
        (
            "sg-vpc",
            serde_json::json!({"create_security_group": true, "network": "tier-sg"}),
            vec![
                "create_security_group: zone zone001 has no security groups",
                "create_security_group: network tier-sg is a VPC tier",
            ],
        ),
    ] {
        let path = sandbox_template(&env, name, fields);
        let out = env.command(&["validate"]).arg(&path).output().unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{t}");
        for needle in needles {
            assert!(t.contains(needle), "{name}: missing {needle:?} in {t}");
        }
    }
    // validate made nothing
    let stats = env.sim.stats();
    assert_eq!(
        stats["requests"]["deployVirtualMachine"],
        serde_json::Value::Null
    );
    assert_nothing_left(&client).await;
}

/// Long waits show progress through Packer's UI: the VM's state while its deploy job runs,
/// the template's status (with its size once CloudStack reports one) while `createTemplate`
/// runs, and the time waited.
#[tokio::test]
async fn slow_deploys_and_templates_show_progress() {
    let Some((env, _sandbox)) = Env::sandboxed(&[
        "--job-latency-ms",
        "deployVirtualMachine=11000",
        "--job-latency-ms",
        "createTemplate=11000",
    ]) else {
        return;
    };
    let path = sandbox_template(&env, "packer-e2e-progress", serde_json::json!({}));
    let t = env.succeed(env.command(&["build", "-color=false"]).arg(&path));
    assert!(
        t.contains("Instance packer-e2e-progress: Starting (10s elapsed)"),
        "{t}"
    );
    assert!(
        t.contains("Template packer-e2e-progress: Creating (10s elapsed)"),
        "{t}"
    );
    assert_nothing_left(&env.client()).await;
}

/// The `cs` commands an aborted build printed (`...: cs COMMAND ARGS`), each once, in order.
fn printed_cs_commands(output: &str) -> Vec<String> {
    let mut commands: Vec<String> = Vec::new();
    for line in output.lines() {
        if let Some((_, c)) = line.split_once(": cs ") {
            if !commands.iter().any(|seen| seen == c.trim()) {
                commands.push(c.trim().to_string());
            }
        }
    }
    commands
}

/// Runs the `cs` commands an aborted build printed, which must be one per thing it made
/// (last made first), and checks that nothing is left afterwards.
async fn remove_what_an_aborted_build_left(env: &Env, cs: &Path, output: &str) {
    let commands = printed_cs_commands(output);
    let names: Vec<&str> = commands
        .iter()
        .filter_map(|c| c.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        [
            "deleteFirewallRule",
            "deletePortForwardingRule",
            "disassociateIpAddress",
            "destroyVirtualMachine",
            "deleteSSHKeyPair"
        ],
        "{output}"
    );
    for command in &commands {
        let out = python_cs(cs, &env.sim.api_url, SIM_SECRET_KEY)
            .args(command.split_whitespace())
            .output()
            .unwrap();
        assert!(out.status.success(), "cs {command}: {}", text(&out));
    }
    assert_nothing_left(&env.client()).await;
}

/// `-on-error=abort` (passed to the builder as `packer_on_error`): the failed build leaves
/// the VM, its IP, rules and key pair for debugging and prints how to remove each; running
/// those commands (python `cs`) then leaves nothing behind.
#[tokio::test]
async fn on_error_abort_leaves_everything_and_says_how_to_remove_it() {
    let Some(env) = Env::start(&[]) else { return };
    let Some(cs) = require_tool("python cs", which("cs")) else {
        return;
    };
    let out = env
        .build_command_with(&["-on-error=abort"], "packer-e2e-abort", "exit 1")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("Aborted without cleanup"), "{t}");
    assert!(!t.contains("Destroying instance"), "{t}");
    let client = env.client();
    let all = Params::new().with("listall", "true");
    let vms = client.list_virtual_machines(&all).await.unwrap();
    assert_eq!(vms.len(), 1, "{vms:?}");
    assert_eq!(vms[0].state.as_deref(), Some("Running"));
    assert_eq!(client.list_ssh_key_pairs(&all).await.unwrap().len(), 1);

    remove_what_an_aborted_build_left(&env, &cs, &t).await;
}

/// Runs `packer` under `script` (a pseudo-terminal: Packer asks questions only on one),
/// typing `keys` every 100 ms until it exits. A terminal in raw mode sends enter as `\r`.
fn run_in_pty(script: &Path, packer: &Command, keys: &'static [u8]) -> Output {
    let quote = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"));
    let line = std::iter::once(quote(packer.get_program()))
        .chain(packer.get_args().map(quote))
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = Command::new(script);
    command.args(["-qefc", &line, "/dev/null"]);
    for (k, v) in packer.get_envs() {
        match v {
            Some(v) => command.env(k, v),
            None => command.env_remove(k),
        };
    }
    if let Some(dir) = packer.get_current_dir() {
        command.current_dir(dir);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        while stdin.write_all(keys).and_then(|()| stdin.flush()).is_ok() {
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    child.wait_with_output().unwrap()
}

/// `-on-error=ask`: the failed step's error is shown and Packer's Ui asks what to do;
/// answering `a` aborts without cleanup, leaving what the printed commands remove.
#[tokio::test]
async fn on_error_ask_answered_abort_leaves_everything() {
    let Some(env) = Env::start(&[]) else { return };
    let (Some(script), Some(cs)) = (
        require_tool("script (bsdutils)", which("script")),
        require_tool("python cs", which("cs")),
    ) else {
        return;
    };
    let out = run_in_pty(
        &script,
        &env.build_command_with(&["-on-error=ask"], "packer-e2e-ask", "exit 1"),
        b"a\r",
    );
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("Step \"provision\" failed"), "{t}");
    assert!(
        t.contains("[c] Clean up and exit, [a] abort without cleanup"),
        "{t}"
    );
    assert!(t.contains("Aborted without cleanup"), "{t}");
    assert!(!t.contains("Destroying instance"), "{t}");
    remove_what_an_aborted_build_left(&env, &cs, &t).await;
}

/// `-debug` (`packer_debug`): the build pauses after each step and before each cleanup,
/// asking through Packer's Ui; enter continues. Packer only asks on a terminal, so the
/// build runs under `script` (a pty), and a person "presses enter" (a carriage return, as
/// a raw-mode terminal sends it) every 100 ms.
#[tokio::test]
async fn debug_pauses_between_steps() {
    let Some(env) = Env::start(&[]) else { return };
    let Some(script) = require_tool("script (bsdutils)", which("script")) else {
        return;
    };
    let out = run_in_pty(
        &script,
        &env.build_command_with(&["-debug"], "packer-e2e-debug", "true"),
        b"\r",
    );
    let t = text(&out);
    assert!(
        out.status.success(),
        "{t}\n--- log ---\n{}",
        env.packer_log()
    );
    for pause in [
        "Pausing after run of step 'create_instance'. Press enter to continue.",
        "Pausing before cleanup of step 'create_instance'. Press enter to continue.",
    ] {
        assert!(t.contains(pause), "{pause}: {t}");
    }
    assert_nothing_left(&env.client()).await;
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

/// A deterministic lost answer (`--lose-answers-after`): CloudStack accepts the deploy, then
/// its job's answer and every lookup of the VM are lost past the builder's `async_timeout`.
/// The build fails, and its cleanup destroys the VM it never saw confirmed (the id from the
/// accepted answer) and everything else it made: nothing is left.
#[tokio::test]
async fn a_deploy_whose_answer_is_lost_is_cleaned_up() {
    const OUTAGE_SECS: u64 = 20;
    let outage = format!("deployVirtualMachine={OUTAGE_SECS}");
    let Some(env) = Env::start(&["--lose-answers-after", outage.as_str()]) else {
        return;
    };
    // the fixture with a job timeout far shorter than the outage
    let mut template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("build.json")).unwrap()).unwrap();
    template["builders"][0]["async_timeout"] = "3s".into();
    let dir = env.dir.path().join("lost");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("provision.sh"), dir.join("provision.sh")).unwrap();
    std::fs::write(dir.join("build.json"), template.to_string()).unwrap();
    let started = Instant::now();
    let mut build = env.command(&["build", "-color=false"]);
    build
        .arg("-var")
        .arg("template_name=packer-e2e-lost")
        .arg("-var")
        .arg(format!("ssh_username={}", env.sshd.user))
        .arg(dir.join("build.json"));
    let out = build.output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("Destroying instance"), "{t}");
    assert!(!t.contains("yourself"), "cleanup gave up:\n{t}");
    assert_garbled(&env.sim.stats());
    // the checks below list VMs: wait until the outage is over
    let remaining = Duration::from_secs(OUTAGE_SECS).saturating_sub(started.elapsed());
    tokio::time::sleep(remaining + Duration::from_secs(1)).await;
    let client = env.client();
    assert!(templates_named(&client, "packer-e2e-lost").await.is_empty());
    assert_nothing_left(&client).await;
    let d = env.sim.stats();
    assert_eq!(d["requests"]["deployVirtualMachine"], 1, "{d}");
    assert_eq!(d["requests"]["destroyVirtualMachine"], 1, "{d}");
}

/// Without `expunge` a build leaves its VM Destroyed (not expunged), and nothing else.
async fn assert_only_destroyed_vms_left(client: &Client) {
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
    let seed = workspace_root().join("crates/cloudstack-sim/fixtures/mesostack-seed.json");
    let Some((env, sandbox)) = Env::sandboxed(&["--seed", seed.to_str().unwrap()]) else {
        return;
    };
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
    assert_only_destroyed_vms_left(&client).await;
}

/// The shipped HCL2 template, built by Packer 1.6.6: Packer decodes the source block with
/// our gob ConfigSpec and runs the same provisioners as for the JSON template.
#[tokio::test]
async fn the_hcl2_template_builds_with_packer_1_6_6_in_a_vm_sandbox() {
    let Some((env, sandbox)) = Env::sandboxed(&[]) else {
        return;
    };
    let template = workspace_root().join("packer-templates/mesostack.pkr.hcl");
    let t = env.succeed(
        env.command(&["build", "-color=false", "-var", "template_name=hcl2-mesos"])
            .arg(&template),
    );
    assert!(t.contains("A template was created: hcl2-mesos (id "), "{t}");
    let commands = sandbox_commands(sandbox.path());
    assert!(
        commands.contains("apt-get -y -q install mesos marathon zookeeperd curl jq"),
        "{commands}"
    );
    assert!(
        commands.contains("install -m 0755 /tmp/configure-node /usr/local/sbin/configure-node"),
        "{commands}"
    );
    let client = env.client();
    let templates = templates_named(&client, "hcl2-mesos").await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert_eq!(templates[0].isready, Some(true));
    assert_only_destroyed_vms_left(&client).await;
}

/// `ssh_clear_authorized_keys`: the temporary key pair's public key (which the simulated
/// VM, like cloud-init, put in the login's `authorized_keys`) is gone from the captured
/// VM's disk; without the option it stays.
#[tokio::test]
async fn ssh_clear_authorized_keys_removes_the_temporary_key_from_the_vm() {
    let Some((env, sandbox)) = Env::sandboxed(&[]) else {
        return;
    };
    for (name, clear) in [("keys-kept", false), ("keys-cleared", true)] {
        let template = serde_json::json!({
            "builders": [{
                "type": "cloudstack", "zone": "zone001", "network": "guestnet001",
                "service_offering": "t1.small", "source_template": "Ubuntu 14.04",
                "template_os": "Ubuntu 14.04 (64-bit)", "template_name": name,
                "instance_name": name, "ssh_username": "ubuntu", "ssh_timeout": "60s",
                "expunge": true, "ssh_clear_authorized_keys": clear
            }],
            "provisioners": [{"type": "shell", "inline": ["grep -c ssh-rsa ~/.ssh/authorized_keys"]}]
        });
        let path = env.dir.path().join(format!("{name}.json"));
        std::fs::write(&path, template.to_string()).unwrap();
        let t = env.succeed(env.command(&["build", "-color=false"]).arg(&path));
        assert_eq!(
            t.contains("Trying to remove ephemeral keys from authorized_keys files"),
            clear,
            "{t}"
        );
        let root = std::fs::read_dir(sandbox.path().join("vms"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}-")))
            })
            .unwrap_or_else(|| panic!("no sandbox root for {name}"));
        let keys =
            std::fs::read_to_string(root.join("upper/home/ubuntu/.ssh/authorized_keys")).unwrap();
        assert_eq!(keys.contains("ssh-rsa "), !clear, "{name}: {keys:?}");
    }
    assert_nothing_left(&env.client()).await;
}

/// Password login: with `ssh_password` (the VM's deploy password, `--vm-password`) no key
/// pair is created and the communicator logs in with the password.
#[tokio::test]
async fn a_password_login_builds_in_a_vm_sandbox() {
    let Some((env, sandbox)) = Env::sandboxed(&["--vm-password", "Pa55-word"]) else {
        return;
    };
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

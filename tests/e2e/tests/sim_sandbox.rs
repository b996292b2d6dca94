//! Simulated VMs that take real SSH provisioning (`cloudstack-sim --vm-sandbox DIR`): the
//! system `ssh`/`scp` clients reach a VM through its forwarded public port, commands run in
//! the VM's namespaces, and what they write lands in the VM's root, never on the host.
//!
//! Needs root (mount namespaces) and util-linux `unshare`: skipped with a reason elsewhere,
//! a failure under CI.

// Test helpers outside #[test] functions panic on broken invariants by design.
#![allow(clippy::unwrap_used)]

use cloudstack::{
    api::{CreateFirewallRule, CreatePortForwardingRule, DeployVirtualMachine},
    Client, Config, Params, Resource,
};
use mesostack_e2e::{http_get_json, require_tool, which, SimProcess, SIM_API_KEY, SIM_SECRET_KEY};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tfplugin5::testing::{find_terraform_binaries, Workspace};

/// The tools this test needs, or `None` (skip) with the reason printed; panics under CI.
fn tools() -> Option<(PathBuf, PathBuf)> {
    if !mesostack_e2e::require_vm_sandboxes() {
        return None;
    }
    let ssh = require_tool("ssh (openssh-client)", which("ssh"))?;
    let scp = require_tool("scp (openssh-client)", which("scp"))?;
    Some((ssh, scp))
}

struct Vm {
    sim: SimProcess,
    client: Client,
    _dir: tempfile::TempDir,
    key: PathBuf,
    other_key: PathBuf,
    id: String,
    name: String,
    public_ip: String,
    public_ip_id: String,
    ssh_port: u16,
    ssh_firewall_id: String,
    root: PathBuf,
    password: String,
}

const SSH_PORT: u16 = 2222;

fn write_key(dir: &Path, name: &str, pem: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Deploys a VM with a key pair on the seeded network, a public IP with firewall rules and
/// forwards 2222→22 and 5050→5050.
async fn deploy() -> Vm {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = dir.path().join("sandbox");
    let sim = SimProcess::start(&["--vm-sandbox".as_ref(), sandbox.as_os_str()]);
    let client = Client::new(Config::new(&sim.api_url, SIM_API_KEY, SIM_SECRET_KEY)).unwrap();
    let none = Params::new();
    let zone = client
        .resolve_id(Resource::Zone, "zone001", &none)
        .await
        .unwrap();
    let in_zone = Params::new().with("zoneid", &zone);
    let offering = client
        .resolve_id(Resource::ServiceOffering, "t1.small", &none)
        .await
        .unwrap();
    let template = client
        .resolve_id(Resource::Template, "Ubuntu 14.04", &in_zone)
        .await
        .unwrap();
    let network = client
        .resolve_id(Resource::Network, "guestnet001", &in_zone)
        .await
        .unwrap();
    let kp = client.create_ssh_key_pair("sandbox-key").await.unwrap();
    let key = write_key(dir.path(), "id_rsa", kp.privatekey.as_deref().unwrap());
    let other = client.create_ssh_key_pair("other-key").await.unwrap();
    let other_key = write_key(
        dir.path(),
        "other_rsa",
        other.privatekey.as_deref().unwrap(),
    );
    let vm = client
        .deploy_virtual_machine(&DeployVirtualMachine {
            zone_id: zone,
            service_offering_id: offering,
            template_id: template,
            name: Some("master-0".into()),
            network_ids: vec![network.clone()],
            keypair: Some("sandbox-key".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let ip = client
        .associate_ip_address(&Params::new().with("networkid", &network))
        .await
        .unwrap();
    let mut ssh_firewall_id = String::new();
    for (public, private) in [(SSH_PORT, 22u16), (5050, 5050)] {
        let fw = client
            .create_firewall_rule(&CreateFirewallRule {
                ip_address_id: ip.id.clone(),
                protocol: "tcp".into(),
                start_port: Some(public),
                end_port: Some(public),
                cidr_list: vec!["0.0.0.0/0".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        if private == 22 {
            ssh_firewall_id = fw.id.clone();
        }
        client
            .create_port_forwarding_rule(&CreatePortForwardingRule {
                ip_address_id: ip.id.clone(),
                protocol: "tcp".into(),
                private_port: private,
                public_port: public,
                virtual_machine_id: vm.id.clone(),
                open_firewall: Some(false),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let listing = http_get_json(&format!("{}/sim/vms", sim.base_url));
    let entry = listing["vms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == vm.id.as_str())
        .unwrap_or_else(|| panic!("VM missing from /sim/vms: {listing}"))
        .clone();
    assert_eq!(entry["name"], "master-0");
    assert_eq!(entry["state"], "Running");
    assert!(
        entry["ip"].as_str().unwrap().starts_with("10.1.1."),
        "{entry}"
    );
    let root = PathBuf::from(entry["root"].as_str().unwrap());
    assert!(root.starts_with(sandbox.canonicalize().unwrap()), "{entry}");
    assert!(root
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("master-0-"));
    Vm {
        sim,
        client,
        key,
        other_key,
        id: vm.id.clone(),
        name: "master-0".into(),
        public_ip: ip.ipaddress.clone().unwrap(),
        public_ip_id: ip.id.clone(),
        ssh_port: SSH_PORT,
        ssh_firewall_id,
        root,
        password: vm.password.clone().unwrap(),
        _dir: dir,
    }
}

fn client_opts(cmd: &mut Command, key: &Path) {
    cmd.arg("-i")
        .arg(key)
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=20",
            "-o",
            "LogLevel=ERROR",
        ])
        .stdin(Stdio::null());
}

fn ssh(ssh: &Path, vm: &Vm, key: &Path, command: &str) -> Output {
    let mut cmd = Command::new(ssh);
    client_opts(&mut cmd, key);
    cmd.args(["-p", &vm.ssh_port.to_string()])
        .arg(format!("ubuntu@{}", vm.public_ip))
        .arg(command);
    cmd.output().unwrap()
}

fn ssh_password(ssh: &Path, vm: &Vm, password: &str, command: &str) -> Output {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let askpass = dir.path().join("askpass");
    std::fs::write(&askpass, format!("#!/bin/sh\necho '{password}'\n")).unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
    Command::new(ssh)
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "LogLevel=ERROR",
            "-p",
            &vm.ssh_port.to_string(),
        ])
        .arg(format!("ubuntu@{}", vm.public_ip))
        .arg(command)
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn scp(scp: &Path, vm: &Vm, legacy: bool, from: &[&Path], to: &str, recursive: bool) -> Output {
    let mut cmd = Command::new(scp);
    client_opts(&mut cmd, &vm.key);
    if legacy {
        // The scp protocol (`scp -t` on the VM), as Terraform and Packer speak it.
        cmd.arg("-O");
    }
    if recursive {
        cmd.arg("-r");
    }
    cmd.args(["-P", &vm.ssh_port.to_string()])
        .args(from)
        .arg(format!("ubuntu@{}:{to}", vm.public_ip));
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn vm_file(vm: &Vm, path: &str) -> PathBuf {
    cloudstack_sim::sandbox::vm_file(&vm.root, path).unwrap()
}

#[tokio::test]
async fn provisioning_over_ssh_lands_in_the_vm_root_only() {
    let Some((ssh_bin, scp_bin)) = tools() else {
        return;
    };
    let host_had_mesos = Path::new("/etc/mesos").exists();
    let vm = deploy().await;

    // The command from the brief: output, sudo + stand-ins, a file under /etc, exit status.
    let out = ssh(
        &ssh_bin,
        &vm,
        &vm.key,
        "echo hi; sudo apt-get install -y mesos; echo x | sudo tee /etc/mesos/zk; hostname; exit 3",
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("hi\n"), "{}", text(&out));
    assert!(
        stdout.lines().any(|l| l == vm.name),
        "hostname: {}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(vm_file(&vm, "/etc/mesos/zk")).unwrap(),
        "x\n"
    );
    let log = std::fs::read_to_string(vm_file(&vm, "/var/log/mesostack-sim/commands.log")).unwrap();
    assert!(log.contains("sudo apt-get install -y mesos\n"), "{log}");
    assert!(log.contains("apt-get install -y mesos\n"), "{log}");
    assert!(log.contains("sudo tee /etc/mesos/zk\n"), "{log}");
    let installed =
        std::fs::read_to_string(vm_file(&vm, "/var/lib/mesostack-sim/installed")).unwrap();
    assert_eq!(installed, "mesos\n");
    if !host_had_mesos {
        assert!(
            !Path::new("/etc/mesos").exists(),
            "the host's /etc was written"
        );
    }

    // Terraform remote-exec: upload a script to /tmp with the scp protocol, then run it.
    let work = tempfile::tempdir().unwrap();
    let script = work.path().join("script.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nset -eu\nmkdir -p /etc/mesos-master\necho 2 > /etc/mesos-master/quorum\necho \"$(lsb_release -cs) on $(hostname) as $USER in $HOME\"\ntouch /usr/local/sbin/configure-node\n",
    )
    .unwrap();
    let out = scp(&scp_bin, &vm, true, &[&script], "/tmp/script.sh", false);
    assert!(out.status.success(), "{}", text(&out));
    let out = ssh(
        &ssh_bin,
        &vm,
        &vm.key,
        "chmod +x /tmp/script.sh && /tmp/script.sh",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "trusty on master-0 as ubuntu in /home/ubuntu\n"
    );
    assert_eq!(
        std::fs::read_to_string(vm_file(&vm, "/etc/mesos-master/quorum")).unwrap(),
        "2\n"
    );
    assert!(vm_file(&vm, "/tmp/script.sh").is_file());
    assert!(vm_file(&vm, "/usr/local/sbin/configure-node").is_file());
    assert!(!Path::new("/usr/local/sbin/configure-node").exists());

    // The file provisioner: a directory to the home directory, with both scp protocols
    // (OpenSSH 9's default is SFTP, served by the VM's sftp-server).
    let tree = work.path().join("conf");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("sub/zoo.cfg"), "tickTime=2000\n").unwrap();
    let out = scp(&scp_bin, &vm, true, &[&tree], "~/", true);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(vm_file(&vm, "/home/ubuntu/conf/sub/zoo.cfg")).unwrap(),
        "tickTime=2000\n"
    );
    let out = scp(
        &scp_bin,
        &vm,
        false,
        &[&script],
        "/home/ubuntu/via-sftp.sh",
        false,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(vm_file(&vm, "/home/ubuntu/via-sftp.sh").is_file());

    // stdin reaches the command; stderr is kept apart.
    let mut cmd = Command::new(&ssh_bin);
    client_opts(&mut cmd, &vm.key);
    let child = cmd
        .args(["-p", &vm.ssh_port.to_string()])
        .arg(format!("root@{}", vm.public_ip))
        .arg("cat > /root/from-stdin; echo oops >&2; echo $HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut child = child;
        child.stdin.take().unwrap().write_all(b"payload\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "/root\n");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    }
    assert_eq!(
        std::fs::read_to_string(vm_file(&vm, "/root/from-stdin")).unwrap(),
        "payload\n"
    );

    // A forwarded non-SSH port answers HTTP naming the VM and port.
    let body = http_get_text(&format!("{}:5050", vm.public_ip));
    assert_eq!(body, "simulated Mesos master on VM master-0 port 5050\n");
    drop(vm.sim);
}

#[tokio::test]
async fn wrong_key_closed_firewall_and_stopped_vm_are_refused() {
    let Some((ssh_bin, _)) = tools() else {
        return;
    };
    let vm = deploy().await;
    let ok = ssh(&ssh_bin, &vm, &vm.key, "true");
    assert!(ok.status.success(), "{}", text(&ok));

    let out = ssh(&ssh_bin, &vm, &vm.other_key, "touch /tmp/should-not-exist");
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out)
    );

    // Password logins: the deploy password (the template is password-enabled), fed to the
    // real client through SSH_ASKPASS.
    let out = ssh_password(&ssh_bin, &vm, &vm.password, "echo $USER");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ubuntu\n");
    let out = ssh_password(&ssh_bin, &vm, "not-the-password", "true");
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));

    vm.client
        .delete_firewall_rule(&vm.ssh_firewall_id)
        .await
        .unwrap();
    let out = ssh(&ssh_bin, &vm, &vm.key, "touch /tmp/should-not-exist");
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));

    vm.client
        .create_firewall_rule(&CreateFirewallRule {
            ip_address_id: vm.public_ip_id.clone(),
            protocol: "tcp".into(),
            start_port: Some(vm.ssh_port),
            end_port: Some(vm.ssh_port),
            cidr_list: vec!["127.0.0.0/8".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let out = ssh(&ssh_bin, &vm, &vm.key, "true");
    assert!(out.status.success(), "{}", text(&out));

    vm.client.stop_virtual_machine(&vm.id, false).await.unwrap();
    let out = ssh(&ssh_bin, &vm, &vm.key, "touch /tmp/should-not-exist");
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    assert!(!vm_file(&vm, "/tmp/should-not-exist").exists());
    let listing = http_get_json(&format!("{}/sim/vms", vm.sim.base_url));
    assert_eq!(listing["vms"][0]["state"], "Stopped", "{listing}");
}

/// A plain GET returning the body (any status).
fn http_get_text(host_port: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(host_port).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// Terraform's own SSH communicator (Go, scp protocol) against a sandboxed VM: the `file`
/// and `remote-exec` provisioners of a `cloudstack_ssh_keypair` of our provider (so it runs
/// on every Terraform release found, 1.0.3 included).
#[tokio::test]
async fn terraform_provisioners_reach_the_vm_root() {
    let Some(_) = tools() else {
        return;
    };
    let terraforms = mesostack_e2e::require_terraforms(find_terraform_binaries());
    let provider = mesostack_e2e::workspace_bin(
        "terraform-provider-cloudstack",
        "terraform-provider-cloudstack",
    );
    for tf in &terraforms {
        println!("terraform {} at {}", tf.version, tf.path.display());
        let vm = deploy().await;
        let ws = Workspace::new(
            tf,
            &provider,
            "registry.terraform.io/cloudstack/cloudstack",
            "0.1.0",
        )
        .unwrap();
        let w = ws.work_dir();
        std::fs::create_dir_all(w.join("conf")).unwrap();
        std::fs::write(w.join("conf/zoo.cfg"), "server.1=10.1.1.10:2888:3888\n").unwrap();
        std::fs::write(
            w.join("configure.sh"),
            "#!/bin/sh\nset -eu\nsudo mkdir -p /etc/marathon/conf\necho \"$(hostname)\" | sudo tee /etc/marathon/conf/hostname\n",
        )
        .unwrap();
        let main_tf = format!(
            r#"{provider}
resource "cloudstack_ssh_keypair" "provision" {{
  name = "provisioner-anchor"
  connection {{
    type        = "ssh"
    host        = "{ip}"
    port        = {port}
    user        = "ubuntu"
    private_key = file("{key}")
    timeout     = "30s"
  }}
  provisioner "file" {{
    source      = "conf"
    destination = "/home/ubuntu"
  }}
  provisioner "remote-exec" {{
    inline = [
      "sudo apt-get install -y zookeeperd",
      "sudo cp /home/ubuntu/conf/zoo.cfg /etc/zookeeper/conf/zoo.cfg",
      "echo 1 | sudo tee /var/lib/zookeeper/myid",
    ]
  }}
  provisioner "remote-exec" {{
    script = "configure.sh"
  }}
}}
"#,
            provider = mesostack_e2e::provider_tf(&vm.sim.api_url, ""),
            ip = vm.public_ip,
            port = vm.ssh_port,
            key = vm.key.display()
        );
        ws.write("main.tf", &main_tf).unwrap();
        for args in [
            &["init", "-input=false", "-no-color"][..],
            &["apply", "-auto-approve", "-input=false", "-no-color"],
        ] {
            let out = ws.run(args).unwrap();
            assert_eq!(
                out.code, 0,
                "terraform {args:?}:\n{}\n{}",
                out.stdout, out.stderr
            );
        }
        assert_eq!(
            std::fs::read_to_string(vm_file(&vm, "/etc/zookeeper/conf/zoo.cfg")).unwrap(),
            "server.1=10.1.1.10:2888:3888\n"
        );
        assert_eq!(
            std::fs::read_to_string(vm_file(&vm, "/var/lib/zookeeper/myid")).unwrap(),
            "1\n"
        );
        assert_eq!(
            std::fs::read_to_string(vm_file(&vm, "/etc/marathon/conf/hostname")).unwrap(),
            "master-0\n"
        );
        let log =
            std::fs::read_to_string(vm_file(&vm, "/var/log/mesostack-sim/commands.log")).unwrap();
        assert!(log.contains("apt-get install -y zookeeperd\n"), "{log}");
    }
}

/// Packer 1.6.6's built-in Go `cloudstack` builder with its `shell` and `file` provisioners
/// against a sandboxed VM: the build VM's root keeps what they wrote after the VM is
/// expunged. (The Go builder sleeps 30 s after createTemplate.)
#[tokio::test]
async fn packer_shell_provisioner_runs_in_the_build_vm_root() {
    let Some(_) = tools() else {
        return;
    };
    let Some(packer) = mesostack_e2e::require_packer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sandbox = dir.path().join("sandbox");
    let sim = SimProcess::start(&["--vm-sandbox".as_ref(), sandbox.as_os_str()]);
    std::fs::write(dir.path().join("motd"), "built by packer\n").unwrap();
    let template = serde_json::json!({
        "builders": [{
            "type": "cloudstack",
            "api_url": sim.api_url,
            "api_key": SIM_API_KEY, "secret_key": SIM_SECRET_KEY,
            "zone": "zone001", "network": "guestnet001", "service_offering": "t1.small",
            "source_template": "Ubuntu 14.04", "template_os": "Ubuntu 14.04 (64-bit)",
            "template_name": "packer-sandboxed", "ssh_username": "ubuntu", "ssh_timeout": "60s",
            "expunge": true
        }],
        "provisioners": [
            {"type": "file", "source": "motd", "destination": "/tmp/motd"},
            {"type": "shell",
             "execute_command": "echo 'packer' | sudo -S sh -c '{{ .Vars }} {{ .Path }}'",
             "inline": [
                "apt-get update",
                "apt-get install -y mesos marathon",
                "cp /tmp/motd /etc/motd",
                "echo provisioned-in-$(hostname)"
             ]}
        ]
    });
    let path = dir.path().join("build.json");
    std::fs::write(&path, template.to_string()).unwrap();
    let packer_home = dir.path().join("packer-home");
    std::fs::create_dir_all(&packer_home).unwrap();
    let out = Command::new(packer)
        .arg("build")
        .arg(&path)
        .current_dir(dir.path())
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_CONFIG_DIR", &packer_home)
        .env_remove("PACKER_PLUGIN_PATH")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "packer build: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("provisioned-in-packer-"), "{stdout}");
    // The build VM is expunged; its root stays until the simulator's next start.
    let roots: Vec<PathBuf> = std::fs::read_dir(sandbox.join("vms"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(roots.len(), 1, "{roots:?}");
    let root = &roots[0];
    let file = |p: &str| cloudstack_sim::sandbox::vm_file(root, p).unwrap();
    assert_eq!(
        std::fs::read_to_string(file("/etc/motd")).unwrap(),
        "built by packer\n"
    );
    assert_eq!(
        std::fs::read_to_string(file("/var/lib/mesostack-sim/installed")).unwrap(),
        "mesos\nmarathon\n"
    );
    let log = std::fs::read_to_string(file("/var/log/mesostack-sim/commands.log")).unwrap();
    assert!(log.contains("sudo -S sh -c"), "{log}");
    assert!(log.contains("apt-get update\n"), "{log}");
}

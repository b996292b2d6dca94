//! A real OpenSSH server on a loopback port: the SSH side of simulated VMs. The simulator's
//! port forwards lead here (`--ssh-target`), and it accepts the key pairs of running VMs
//! because the simulator keeps its `AuthorizedKeysFile` up to date (`--ssh-authorized-keys`),
//! as cloud-init would on a real VM.

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Where Debian's `openssh-server` puts the daemon.
pub const SSHD: &str = "/usr/sbin/sshd";

/// An `sshd -D` child process with its own host key and config, killed when dropped.
#[derive(Debug)]
pub struct Sshd {
    child: Child,
    /// `127.0.0.1:PORT`, for the simulator's `--ssh-target`.
    pub addr: SocketAddr,
    /// The file the simulator writes the VMs' public keys to.
    pub authorized_keys: PathBuf,
    /// The login that works: the user running the tests.
    pub user: String,
    /// sshd's own log (`-E`): errors only, or everything with [`Sshd::start_logging`].
    pub log: PathBuf,
}

impl Sshd {
    /// Whether the daemon is installed (`./dev setup` installs `openssh-server`).
    pub fn installed() -> bool {
        Path::new(SSHD).is_file()
    }

    /// Starts sshd in `dir` (host key, config, pid and authorized-keys files live there) and
    /// waits until it accepts TCP connections.
    pub fn start(dir: &Path) -> Sshd {
        Self::start_with(dir, "ERROR", "")
    }

    /// [`Sshd::start`] logging at `DEBUG` to [`Sshd::log`], which shows each channel a
    /// client opens (e.g. a bastion's `direct-tcpip` forwards).
    pub fn start_logging(dir: &Path) -> Sshd {
        Self::start_with(dir, "DEBUG", "")
    }

    /// [`Sshd::start`] also accepting user certificates signed by the CA whose public key
    /// is `ca_public_key` (`TrustedUserCAKeys`).
    pub fn start_trusting_ca(dir: &Path, ca_public_key: &Path) -> Sshd {
        Self::start_with(
            dir,
            "ERROR",
            &format!("TrustedUserCAKeys {}\n", ca_public_key.display()),
        )
    }

    fn start_with(dir: &Path, log_level: &str, extra_config: &str) -> Sshd {
        let host_key = dir.join("ssh_host_ed25519_key");
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&host_key)
            .status()
            .expect("ssh-keygen runs");
        assert!(status.success(), "ssh-keygen failed");
        let authorized_keys = dir.join("authorized_keys");
        std::fs::write(&authorized_keys, "").expect("write authorized_keys");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nPidFile {}\nUsePAM no\nLogLevel {log_level}\n\
                 Subsystem sftp internal-sftp\n{extra_config}",
                host_key.display(),
                authorized_keys.display(),
                dir.join("sshd.pid").display()
            ),
        )
        .expect("write sshd_config");
        // sshd wants its privilege-separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let log = dir.join("sshd.log");
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-E")
            .arg(&log)
            .arg("-f")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let user = Command::new("id")
            .arg("-un")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "root".into());
        Sshd {
            child,
            addr,
            authorized_keys,
            user,
            log,
        }
    }

    /// The simulator flags that make VMs reachable through this sshd.
    pub fn sim_args(&self) -> Vec<String> {
        vec![
            "--ssh-target".into(),
            self.addr.to_string(),
            "--ssh-authorized-keys".into(),
            self.authorized_keys.display().to_string(),
        ]
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh unencrypted ed25519 key `dir/name` (`.pub` beside it), made by `ssh-keygen`.
pub fn keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed");
    key
}

/// A real `ssh-agent` on its own socket (for `SSH_AUTH_SOCK`), killed when dropped.
#[derive(Debug)]
pub struct SshAgent {
    child: Child,
    /// The agent's socket.
    pub socket: PathBuf,
}

impl SshAgent {
    /// Starts `ssh-agent -D` with its socket in `dir` and waits for the socket.
    pub fn start(dir: &Path) -> SshAgent {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .spawn()
            .expect("ssh-agent starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "ssh-agent did not create {socket:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        SshAgent { child, socket }
    }

    /// Adds the private key `key` (`ssh-add`).
    pub fn add(&self, key: &Path) {
        let status = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stderr(Stdio::null())
            .status()
            .expect("ssh-add runs");
        assert!(status.success(), "ssh-add {key:?} failed");
    }
}

impl Drop for SshAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

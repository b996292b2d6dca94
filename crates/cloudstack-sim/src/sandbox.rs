//! VM sandboxes (`--vm-sandbox DIR`): simulated VMs that take real SSH provisioning
//! without touching the host.
//!
//! A forwarded public port whose private port is 22 leads to an SSH server embedded in the
//! simulator ([`ssh`], russh) that knows which VM it is serving. Each `exec` (and `shell`,
//! and the `sftp` subsystem) runs as root in fresh Linux namespaces made with util-linux
//! `unshare` (mount, UTS, IPC, network, PID): writable directories are overlays or binds
//! whose writes land in the VM's root under `DIR/vms/<name>-<short id>/upper/<vm path>`,
//! everything else is remounted read-only, and stand-ins ([`stubs`]) replace package,
//! service and download tools. Other forwarded private ports get a one-line HTTP answer
//! ([`http`]) naming the VM and port.
//!
//! It protects the host from provisioning scripts' ordinary writes, not from a hostile
//! root process (which could mount the host's disk again).

pub mod exec;
pub mod http;
pub mod ssh;
pub mod stubs;

use crate::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Directories a VM may write to, as overlays over the host's (when the host has them).
pub const OVERLAY_DIRS: &[&str] = &["/etc", "/var", "/usr/local", "/opt", "/srv"];
/// Directories a VM may write to, bound from the VM root (they start empty).
pub const BIND_DIRS: &[&str] = &["/home", "/root", "/tmp", "/run"];
/// Where the stand-ins appear inside a VM (first on `PATH`).
pub const STUBS_VM_DIR: &str = "/usr/local/lib/mesostack-sim/bin";
/// `PATH` of every command run in a VM.
pub const VM_PATH: &str =
    "/usr/local/lib/mesostack-sim/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the SSH side needs to know about the VM a connection reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmInfo {
    /// VM UUID.
    pub id: String,
    /// VM (host) name.
    pub name: String,
    /// OpenSSH public key lines accepted for login (the VM's key pair).
    pub public_keys: Vec<String>,
    /// The deploy password accepted for login (password-enabled templates).
    pub password: Option<String>,
}

/// Name of a VM's root directory under `DIR/vms`: `<name>-<first 8 chars of the id>`.
pub fn vm_root_name(id: &str, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let short: String = id.chars().filter(|c| *c != '-').take(8).collect();
    format!("{clean}-{short}")
}

/// The file in a VM root that holds what the VM wrote at `vm_path` (e.g. `/etc/mesos/zk`
/// → `ROOT/upper/etc/mesos/zk`), or `None` when `vm_path` is not in a writable directory
/// (the rest of a VM's file system is the host's, read-only). Files the VM deleted from a
/// host directory show as overlayfs whiteouts (character devices) there.
pub fn vm_file(root: &Path, vm_path: &str) -> Option<PathBuf> {
    let path = Path::new(vm_path);
    if !path.is_absolute() || vm_path.split('/').any(|c| c == "..") {
        return None;
    }
    let writable = OVERLAY_DIRS
        .iter()
        .chain(BIND_DIRS)
        .any(|d| path.starts_with(d));
    writable.then(|| root.join("upper").join(vm_path.trim_start_matches('/')))
}

/// The sandbox side of a simulator: directory layout, host key, SSH config, tools found.
pub struct Sandbox {
    dir: PathBuf,
    ssh_config: Arc<russh::server::Config>,
    host_public_key: String,
    unshare: PathBuf,
    sftp_server: Option<PathBuf>,
    unavailable: Option<String>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("dir", &self.dir)
            .field("unavailable", &self.unavailable)
            .finish()
    }
}

impl Sandbox {
    /// Prepares `dir`: writes the stand-ins, loads or creates the host key, and removes the
    /// roots of VMs not in `keep_roots` (root directory names of VMs that still exist), so
    /// a fresh world starts with fresh VMs while a `--state` restart keeps them.
    pub fn new(dir: &Path, keep_roots: &[String]) -> Result<Self, Error> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
        let text = dir.to_string_lossy();
        if text.contains(',') || text.contains(':') || !text.is_char_boundary(text.len()) {
            return Err(Error::Config(format!(
                "--vm-sandbox {}: the path may not contain ',' or ':' (overlay mount options)",
                dir.display()
            )));
        }
        if let Some(d) = ["/etc", "/var", "/usr/local", "/opt", "/srv"]
            .iter()
            .find(|d| dir.starts_with(d))
        {
            return Err(Error::Config(format!(
                "--vm-sandbox {}: may not be under {d}, which VMs see as an overlay",
                dir.display()
            )));
        }
        stubs::write_all(&dir.join("stubs"))?;
        let vms = dir.join("vms");
        std::fs::create_dir_all(&vms)
            .map_err(|e| Error::io(format!("creating {}", vms.display()), e))?;
        remove_stale_roots(&vms, keep_roots);
        let key = ssh::host_key(&dir.join("ssh_host_ed25519_key"))?;
        let host_public_key = key
            .public_key()
            .to_openssh()
            .map_err(|e| Error::Config(format!("encoding host key: {e}")))?;
        let unshare = find_tool("unshare");
        let unavailable = match &unshare {
            None => Some("the util-linux `unshare` command is not installed".to_string()),
            Some(u) => probe_namespaces(u).err(),
        };
        if let Some(reason) = &unavailable {
            tracing::warn!(%reason, "VM sandboxes cannot run commands");
        }
        let sftp_server = [
            "/usr/lib/openssh/sftp-server",
            "/usr/libexec/openssh/sftp-server",
            "/usr/lib/ssh/sftp-server",
            "/usr/libexec/sftp-server",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
        Ok(Sandbox {
            ssh_config: Arc::new(ssh::config(key)),
            host_public_key,
            unshare: unshare.unwrap_or_else(|| PathBuf::from("unshare")),
            sftp_server,
            unavailable,
            dir,
        })
    }

    /// The sandbox directory (canonical).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the stand-ins are kept on the host (`DIR/stubs`).
    pub fn stubs_dir(&self) -> PathBuf {
        self.dir.join("stubs")
    }

    /// The root directory of a VM (`DIR/vms/<name>-<short id>`), whether or not it exists yet.
    pub fn vm_root(&self, id: &str, name: &str) -> PathBuf {
        self.dir.join("vms").join(vm_root_name(id, name))
    }

    /// The host key's OpenSSH public line (for a known_hosts entry).
    pub fn host_public_key(&self) -> &str {
        &self.host_public_key
    }

    /// Why commands cannot run here (not root, no `unshare`, mounts refused), if so.
    pub fn unavailable(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    /// Creates a VM's root layout (idempotent) and returns it.
    pub fn prepare_root(&self, vm: &VmInfo, home: &str) -> Result<PathBuf, Error> {
        use std::os::unix::fs::PermissionsExt as _;
        let root = self.vm_root(&vm.id, &vm.name);
        let mk = |p: PathBuf| {
            std::fs::create_dir_all(&p)
                .map_err(|e| Error::io(format!("creating {}", p.display()), e))
        };
        for d in OVERLAY_DIRS.iter().chain(BIND_DIRS) {
            let rel = d.trim_start_matches('/');
            mk(root.join("upper").join(rel))?;
            if OVERLAY_DIRS.contains(d) {
                mk(root.join("work").join(rel.replace('/', "-")))?;
            }
        }
        let tmp = root.join("upper/tmp");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))
            .map_err(|e| Error::io(format!("chmod {}", tmp.display()), e))?;
        let home_dir = root.join("upper").join(home.trim_start_matches('/'));
        mk(home_dir.clone())?;
        // What cloud-init does on a real VM: the key pair's public key lets the login user
        // in. Written once, so what the VM later removes stays removed.
        let ssh_dir = home_dir.join(".ssh");
        let keys = ssh_dir.join("authorized_keys");
        if !vm.public_keys.is_empty() && !keys.exists() {
            mk(ssh_dir)?;
            let text: String = vm.public_keys.iter().map(|k| format!("{k}\n")).collect();
            std::fs::write(&keys, text)
                .map_err(|e| Error::io(format!("writing {}", keys.display()), e))?;
        }
        Ok(root)
    }

    /// Serves one forwarded connection to private port 22 with the embedded SSH server.
    pub fn serve_ssh(self: &Arc<Self>, stream: tokio::net::TcpStream, vm: VmInfo) {
        ssh::serve(self.clone(), stream, vm);
    }

    /// Serves one forwarded connection to another private port with a one-line HTTP answer.
    pub fn serve_http(&self, stream: tokio::net::TcpStream, vm: VmInfo, private_port: u16) {
        tokio::spawn(http::answer(stream, vm.name, private_port));
    }
}

fn remove_stale_roots(vms: &Path, keep: &[String]) {
    let Ok(entries) = std::fs::read_dir(vms) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if keep.contains(&name) {
            continue;
        }
        if let Err(e) = std::fs::remove_dir_all(entry.path()) {
            tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove old VM root");
        }
    }
}

/// Finds an executable on the simulator's `PATH` (or the usual system directories).
fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Checks once at start that namespaces and mounts are allowed (root, not a restricted
/// container), so each command can fail with a clear message instead of a mount error.
fn probe_namespaces(unshare: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if uid != 0 {
        return Err(format!("the simulator runs as uid {uid}, not root"));
    }
    let out = std::process::Command::new(unshare)
        .args(exec::UNSHARE_ARGS)
        .args([
            "sh",
            "-c",
            "mount -t tmpfs probe /mnt 2>/dev/null || mount -t tmpfs probe /tmp",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", unshare.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`unshare` cannot create mount namespaces here: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn root_names_and_vm_paths() {
        assert_eq!(
            vm_root_name("5ea72245-fbe5-4646-9a88-277b81facfbe", "master-0"),
            "master-0-5ea72245"
        );
        assert_eq!(vm_root_name("ab-cd", "a b/c"), "a_b_c-abcd");
        let root = Path::new("/s/vms/m-1");
        assert_eq!(
            vm_file(root, "/etc/mesos/zk"),
            Some(PathBuf::from("/s/vms/m-1/upper/etc/mesos/zk"))
        );
        assert_eq!(
            vm_file(root, "/home/ubuntu/x"),
            Some(PathBuf::from("/s/vms/m-1/upper/home/ubuntu/x"))
        );
        assert_eq!(
            vm_file(root, "/usr/local/sbin/configure-node"),
            Some(PathBuf::from(
                "/s/vms/m-1/upper/usr/local/sbin/configure-node"
            ))
        );
        assert_eq!(vm_file(root, "/usr/bin/ls"), None);
        assert_eq!(vm_file(root, "/etc/../usr/bin"), None);
        assert_eq!(vm_file(root, "etc/x"), None);
        assert_eq!(vm_file(root, "/etcetera"), None);
    }

    #[test]
    fn new_keeps_live_roots_and_the_host_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("vms/old-1234/upper")).unwrap();
        std::fs::create_dir_all(dir.path().join("vms/live-5678/upper")).unwrap();
        let a = Sandbox::new(dir.path(), &["live-5678".to_string()]).unwrap();
        assert!(!dir.path().join("vms/old-1234").exists());
        assert!(dir.path().join("vms/live-5678").exists());
        assert!(dir.path().join("stubs/apt-get").is_file());
        let b = Sandbox::new(dir.path(), &[]).unwrap();
        assert_eq!(a.host_public_key(), b.host_public_key());
        assert!(a.host_public_key().starts_with("ssh-ed25519 "));
        assert!(!dir.path().join("vms/live-5678").exists());
    }
}

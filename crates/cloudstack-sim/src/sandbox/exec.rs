//! Running one SSH request (`exec`, `shell`, `sftp`) inside a VM's namespaces, with its
//! stdin, stdout and stderr streamed over the SSH channel.
//!
//! The workspace forbids `unsafe`, so namespaces come from the util-linux `unshare`
//! command rather than `unshare(2)` in a `pre_exec` hook; the mounts are made by a small
//! `sh` set-up script ([`setup_script`]) running first in the new namespaces.

use super::{Sandbox, VmInfo, BIND_DIRS, OVERLAY_DIRS, STUBS_VM_DIR, VM_PATH};
use russh::server::Msg;
use russh::{Channel, ChannelMsg};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;

/// `unshare` flags: private mounts, own host name, IPC, network (only `lo`) and PIDs (the
/// command is PID 1 of its namespace; everything it leaves behind dies with it).
pub const UNSHARE_ARGS: &[&str] = &[
    "--mount",
    "--uts",
    "--ipc",
    "--net",
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    "--propagation",
    "private",
    "--",
];

/// What a channel asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `exec`: run this command with `sh -c`.
    Exec(String),
    /// `shell`: run `sh` reading commands from the channel.
    Shell,
    /// `subsystem sftp`: run OpenSSH's `sftp-server`.
    Sftp,
}

/// Quotes a string for `sh` (single quotes; `'` becomes `'\''`).
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The set-up script run first inside the namespaces; `$1` is the command to run at the end.
///
/// Mounts: overlays (host directory below, `ROOT/upper/<dir>` above) for [`OVERLAY_DIRS`],
/// binds of `ROOT/upper/<dir>` for [`BIND_DIRS`], the stand-ins bound read-only at
/// [`STUBS_VM_DIR`], a fresh `/dev/shm`, then every other mount read-only. The mount that
/// hides the sandbox directory itself (e.g. `/tmp` when DIR is under `/tmp`) comes last.
pub fn setup_script(
    sandbox_dir: &Path,
    root: &Path,
    stubs: &Path,
    hostname: &str,
    request: &Request,
    sftp_server: Option<&Path>,
) -> String {
    let q = |p: &Path| sh_quote(&p.to_string_lossy());
    let mut mounts: Vec<(String, String)> = Vec::new(); // (target, command)
    let mut writable: Vec<String> = Vec::new();
    for d in OVERLAY_DIRS {
        if !Path::new(d).is_dir() {
            continue;
        }
        let rel = d.trim_start_matches('/');
        let upper = root.join("upper").join(rel);
        let work = root.join("work").join(rel.replace('/', "-"));
        let opts = format!(
            "lowerdir={d},upperdir={},workdir={}",
            upper.display(),
            work.display()
        );
        let mut cmd = format!(
            "mount -t overlay overlay -o {} {d} || fail 'overlay on {d}'",
            sh_quote(&opts)
        );
        if *d == "/usr/local" {
            cmd.push_str(&format!(
                "\nmkdir -p {STUBS_VM_DIR} && mount --bind {} {STUBS_VM_DIR} && mount -o remount,bind,ro {STUBS_VM_DIR} || fail 'binding the stand-ins'",
                q(stubs)
            ));
        }
        mounts.push((d.to_string(), cmd));
        writable.push(d.to_string());
    }
    for d in BIND_DIRS {
        if !Path::new(d).is_dir() {
            continue;
        }
        let src = root.join("upper").join(d.trim_start_matches('/'));
        mounts.push((
            d.to_string(),
            format!("mount --bind {} {d} || fail 'bind on {d}'", q(&src)),
        ));
        writable.push(d.to_string());
    }
    // The mount covering the sandbox directory must come last, or later sources vanish.
    mounts.sort_by_key(|(target, _)| sandbox_dir.starts_with(target));
    let mut s = String::from(
        "set -u\nfail() { echo \"cloudstack-sim: VM sandbox set-up failed: $* (VM sandboxes need root for mount namespaces)\" >&2; exit 1; }\n",
    );
    for (_, cmd) in &mounts {
        s.push_str(cmd);
        s.push('\n');
    }
    s.push_str("mount -t tmpfs -o mode=1777 shm /dev/shm 2>/dev/null || true\n");
    s.push_str("mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys || fail 'read-only /proc/sys'\n");
    let mut keep = writable.join("|");
    keep.push_str(&format!("|{STUBS_VM_DIR}|/proc|/proc/*|/dev|/dev/*"));
    s.push_str(&format!(
        "for m in $(awk '{{print $2}}' /proc/self/mounts); do\n  case \"$m\" in {keep}) ;; *) mount -o remount,bind,ro \"$m\" 2>/dev/null || true ;; esac\ndone\n"
    ));
    s.push_str("ip link set lo up 2>/dev/null || true\n");
    s.push_str(&format!(
        "hostname {} 2>/dev/null || true\n",
        sh_quote(hostname)
    ));
    s.push_str(
        "mkdir -p \"$HOME\" /var/log/mesostack-sim 2>/dev/null\ncd \"$HOME\" 2>/dev/null || cd /\n",
    );
    match request {
        Request::Exec(_) => s.push_str("exec /bin/sh -c \"$1\"\n"),
        Request::Shell => s.push_str("exec /bin/sh\n"),
        Request::Sftp => match sftp_server {
            Some(p) => s.push_str(&format!("exec {}\n", q(p))),
            None => s.push_str("echo 'sftp-server is not installed' >&2\nexit 1\n"),
        },
    }
    s
}

/// Runs `request` for `user` on `vm`, streaming over `channel`, then sends exit-status,
/// EOF and close.
pub async fn run(
    sandbox: Arc<Sandbox>,
    vm: VmInfo,
    user: String,
    env: Vec<(String, String)>,
    channel: Channel<Msg>,
    request: Request,
) {
    let (mut reader, writer) = channel.split();
    let finish = |code: u32, message: Option<String>| {
        let writer = &writer;
        async move {
            if let Some(m) = message {
                let _ = writer.extended_data_bytes(1, m.into_bytes()).await;
            }
            let _ = writer.exit_status(code).await;
            let _ = writer.eof().await;
            let _ = writer.close().await;
        }
    };
    if let Some(reason) = sandbox.unavailable() {
        finish(
            1,
            Some(format!(
                "cloudstack-sim: VM sandboxes need root for mount namespaces: {reason}\n"
            )),
        )
        .await;
        return;
    }
    let home = if user == "root" {
        "/root".to_string()
    } else {
        format!("/home/{user}")
    };
    let root = match sandbox.prepare_root(&vm, &home) {
        Ok(r) => r,
        Err(e) => {
            finish(1, Some(format!("cloudstack-sim: {e}\n"))).await;
            return;
        }
    };
    let script = setup_script(
        sandbox.dir(),
        &root,
        &sandbox.stubs_dir(),
        &vm.name,
        &request,
        sandbox.sftp_server.as_deref(),
    );
    let command_text = match &request {
        Request::Exec(c) => c.clone(),
        _ => String::new(),
    };
    let mut command = tokio::process::Command::new(&sandbox.unshare);
    command
        .args(UNSHARE_ARGS)
        .args(["/bin/sh", "-c", &script, "vm-sandbox", &command_text])
        .env_clear()
        .envs(env)
        .env("HOME", &home)
        .env("USER", &user)
        .env("LOGNAME", &user)
        .env("SHELL", "/bin/sh")
        .env("PATH", VM_PATH)
        .env("MESOSTACK_SIM_VM", &vm.name)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            finish(
                1,
                Some(format!(
                    "cloudstack-sim: cannot start the VM sandbox: {e}\n"
                )),
            )
            .await;
            return;
        }
    };
    tracing::info!(vm = %vm.name, %user, request = ?request, "VM sandbox command");
    let mut stdin = child.stdin.take();
    let out = child.stdout.take().map(|mut o| {
        let mut w = writer.make_writer();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut o, &mut w).await;
            let _ = w.shutdown().await;
        })
    });
    let err = child.stderr.take().map(|mut e| {
        let mut w = writer.make_writer_ext(Some(1));
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut e, &mut w).await;
            let _ = w.shutdown().await;
        })
    });
    // Feed the channel's data to stdin; EOF closes stdin; a closed channel or a gone
    // session ends the command.
    let input = async {
        while let Some(msg) = reader.wait().await {
            match msg {
                ChannelMsg::Data { data } => {
                    if let Some(s) = stdin.as_mut() {
                        if s.write_all(&data).await.is_err() {
                            stdin = None;
                        }
                    }
                }
                ChannelMsg::Eof => stdin = None,
                ChannelMsg::Close => break,
                _ => {}
            }
        }
    };
    let status = tokio::select! {
        s = child.wait() => s,
        _ = input => {
            let _ = child.start_kill();
            child.wait().await
        }
    };
    // Bounded: a stray process holding the pipes open must not hold the session.
    for task in [out, err].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let code = match status {
        Ok(s) => s.code().map(|c| c as u32).unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt as _;
            128 + s.signal().unwrap_or(0) as u32
        }),
        Err(_) => 255,
    };
    finish(code, None).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s {}", sh_quote("it's $HOME \"x\""))])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "it's $HOME \"x\"");
    }

    #[test]
    fn the_mount_hiding_the_sandbox_dir_comes_last() {
        let s = setup_script(
            Path::new("/tmp/sbx"),
            Path::new("/tmp/sbx/vms/m-1"),
            Path::new("/tmp/sbx/stubs"),
            "m",
            &Request::Exec("true".into()),
            None,
        );
        let tmp = s.find("/tmp/sbx/vms/m-1/upper/tmp' /tmp").unwrap();
        let etc = s
            .find("lowerdir=/etc,upperdir=/tmp/sbx/vms/m-1/upper/etc")
            .unwrap();
        let home = s.find("upper/home' /home").unwrap();
        assert!(etc < tmp && home < tmp, "{s}");
        assert!(s.contains("exec /bin/sh -c \"$1\""));
        let stubs = s.find(STUBS_VM_DIR).unwrap();
        assert!(s.find("/usr/local ||").unwrap() < stubs);
    }
}

//! The builder's `Communicator` (what Packer's provisioners call) over a real OpenSSH server
//! on loopback: `RemoteCommand` streams and exit status, `FileInfo`'s size and mode. The SSH
//! client itself is tested in `ssh-communicator`.

#![allow(clippy::unwrap_used)]

use std::{os::unix::fs::PermissionsExt, time::Duration};

use mesostack_e2e::{
    require_tool,
    sshd::{keygen, Sshd},
};
use packer_plugin_cloudstack::communicator::SshCommunicator;
use packer_sdk::{CancellationToken, Communicator, FileInfo, RemoteCommand};
use ssh_communicator::{Auth, Endpoint, Retry, Session, Target};
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn provisioner_calls_reach_the_machine() {
    let Some(_) = require_tool("sshd", Sshd::installed().then(|| "sshd".into())) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sshd = Sshd::start(dir.path());
    let key = keygen(dir.path(), "id_ed25519");
    std::fs::copy(key.with_extension("pub"), &sshd.authorized_keys).unwrap();
    let target = Target::new(Endpoint {
        host: "127.0.0.1".into(),
        port: sshd.addr.port(),
        username: sshd.user.clone(),
        auth: vec![Auth::from_key_file(&key).unwrap()],
    });
    let retry = Retry {
        timeout: Duration::from_secs(20),
        max_auth_refusals: 3,
    };
    let session =
        Session::connect_with_retry(&target, retry, &CancellationToken::new(), |_, _| async {})
            .await
            .unwrap();
    let comm = SshCommunicator::new(session);

    let (out_w, mut out_r) = tokio::io::duplex(1 << 16);
    let exit = comm
        .start(RemoteCommand {
            command: "echo out; exit 4".into(),
            stdin: None,
            stdout: Some(Box::new(out_w)),
            stderr: None,
        })
        .await
        .unwrap();
    let mut out = String::new();
    let (code, _) = tokio::join!(exit, out_r.read_to_string(&mut out));
    assert_eq!(code.unwrap(), 4);
    assert_eq!(out, "out\n");

    let path = dir.path().join("uploaded.sh");
    let info = FileInfo {
        name: "uploaded.sh".into(),
        size: 5,
        mode: 0o750,
    };
    comm.upload(path.to_str().unwrap(), &mut &b"hello"[..], Some(info))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"hello");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o750
    );
    let mut back = Vec::new();
    comm.download(path.to_str().unwrap(), &mut back)
        .await
        .unwrap();
    assert_eq!(back, b"hello");
    comm.session().close().await;
}

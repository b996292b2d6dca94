//! The communicator against a real OpenSSH server on loopback (the e2e `Sshd` harness):
//! key login with an RSA PKCS#1 key (what `createSSHKeyPair` returns), exec with separate
//! stdout/stderr and exit status, scp and sftp upload/download of files and directories,
//! a bastion host, the SSH agent, the read/write timeout, and a refused login reported as
//! such within the timeout.

#![allow(clippy::unwrap_used)]

use std::{
    os::unix::fs::PermissionsExt,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use mesostack_e2e::{
    require_tool,
    sshd::{keygen, SshAgent, Sshd},
};
use ssh_communicator::{Auth, Endpoint, Error, Retry, Session, Target, Transfer};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

struct Fixture {
    sshd: Sshd,
    dir: tempfile::TempDir,
    target: Target,
}

/// Starts sshd and authorizes a fresh RSA key in PEM (PKCS#1) form.
fn fixture() -> Option<Fixture> {
    require_tool("sshd", Sshd::installed().then(|| "sshd".into()))?;
    let dir = tempfile::tempdir().unwrap();
    let sshd = Sshd::start_logging(dir.path());
    let key = dir.path().join("id_rsa");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    std::fs::copy(key.with_extension("pub"), &sshd.authorized_keys).unwrap();
    let target = Target::new(Endpoint {
        host: "127.0.0.1".into(),
        port: sshd.addr.port(),
        username: sshd.user.clone(),
        auth: vec![Auth::from_pem(&pem).unwrap()],
    });
    // What ssh_clear_authorized_keys removes: the blob ssh-keygen wrote to the .pub file.
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    assert_eq!(
        ssh_communicator::public_key_blob(&pem).unwrap(),
        public.split_whitespace().nth(1).unwrap()
    );
    Some(Fixture { sshd, dir, target })
}

fn retry(secs: u64, max_auth_refusals: u32) -> Retry {
    Retry {
        timeout: Duration::from_secs(secs),
        max_auth_refusals,
    }
}

async fn connect_to(target: &Target) -> Session {
    Session::connect_with_retry(
        target,
        retry(20, 10),
        &CancellationToken::new(),
        |_, _| async {},
    )
    .await
    .unwrap()
}

async fn connect(f: &Fixture) -> Session {
    connect_to(&f.target).await
}

/// Runs `command`, returning (exit status, stdout, stderr).
async fn exec(comm: &Session, command: &str) -> (i32, String, String) {
    let (out_w, mut out_r) = tokio::io::duplex(1 << 20);
    let (err_w, mut err_r) = tokio::io::duplex(1 << 20);
    let exit = comm
        .exec(command, None, Some(Box::new(out_w)), Some(Box::new(err_w)))
        .await
        .unwrap();
    let reader = tokio::spawn(async move {
        let (mut o, mut e) = (String::new(), String::new());
        out_r.read_to_string(&mut o).await.unwrap();
        err_r.read_to_string(&mut e).await.unwrap();
        (o, e)
    });
    let code = exit.await.unwrap();
    let (o, e) = reader.await.unwrap();
    (code, o, e)
}

#[tokio::test]
async fn exec_streams_output_and_reports_exit_status() {
    let Some(f) = fixture() else { return };
    let comm = connect(&f).await;
    let (code, out, err) = exec(&comm, "echo to-stdout; echo to-stderr >&2; exit 3").await;
    assert_eq!(code, 3);
    assert_eq!(out, "to-stdout\n");
    assert_eq!(err, "to-stderr\n");
    // Large output arrives complete and in order.
    let (code, out, _) = exec(&comm, "seq 1 20000").await;
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 20000);
    assert_eq!(lines[19999], "20000");
    // stdin is fed and closed.
    let in_w = b"fed through stdin\n".to_vec();
    let (out_w, mut out_r) = tokio::io::duplex(1 << 16);
    let exit = comm
        .exec(
            "cat",
            Some(Box::new(std::io::Cursor::new(in_w))),
            Some(Box::new(out_w)),
            None,
        )
        .await
        .unwrap();
    let mut got = String::new();
    let read = async { out_r.read_to_string(&mut got).await.unwrap() };
    let (code, _) = tokio::join!(exit, read);
    assert_eq!(code.unwrap(), 0);
    assert_eq!(got, "fed through stdin\n");
    comm.close().await;
}

/// What the server's log says about the file transfer subsystem.
fn sftp_requests(f: &Fixture) -> usize {
    std::fs::read_to_string(&f.sshd.log)
        .unwrap_or_default()
        .matches("subsystem 'sftp'")
        .count()
}

#[tokio::test]
async fn files_go_up_and_come_back_with_scp() {
    files_round_trip(Transfer::Scp).await;
}

#[tokio::test]
async fn files_go_up_and_come_back_with_sftp() {
    files_round_trip(Transfer::Sftp).await;
}

async fn files_round_trip(transfer: Transfer) {
    let Some(mut f) = fixture() else { return };
    f.target.transfer = transfer;
    let comm = connect(&f).await;
    let remote = f.dir.path().join("remote");
    std::fs::create_dir(&remote).unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let path = remote.join("script.sh");
    comm.upload(
        path.to_str().unwrap(),
        &mut data.as_slice(),
        Some(data.len() as u64),
        Some(0o755),
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), data);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o755
    );

    // Without a size the data is buffered; the default mode applies.
    let plain = remote.join("plain.txt");
    comm.upload(plain.to_str().unwrap(), &mut &b"no info"[..], None, None)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&plain).unwrap(), b"no info");
    assert_eq!(
        std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777,
        0o644
    );
    if transfer == Transfer::Scp {
        scp_checks_the_announced_size(&comm, &remote).await;
    }

    let mut back = Vec::new();
    comm.download(path.to_str().unwrap(), &mut back)
        .await
        .unwrap();
    assert_eq!(back, data);

    // Errors name the problem instead of hanging.
    let err = comm
        .upload("/nonexistent-dir/x", &mut &b"x"[..], None, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nonexistent-dir"), "{err}");
    assert!(
        err.to_string()
            .starts_with("file transfer: uploading /nonexistent-dir/x: "),
        "{err}"
    );
    assert_eq!(err.to_string().matches("file transfer").count(), 1, "{err}");
    let err = comm
        .download("/nonexistent-file", &mut Vec::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nonexistent-file"), "{err}");
    // The method asked for is the one used.
    assert_eq!(
        sftp_requests(&f) > 0,
        transfer == Transfer::Sftp,
        "{}",
        std::fs::read_to_string(&f.sshd.log).unwrap_or_default()
    );
}

/// A source that does not match its announced size fails instead of truncating silently.
async fn scp_checks_the_announced_size(comm: &Session, remote: &Path) {
    let err = comm
        .upload(
            remote.join("w").to_str().unwrap(),
            &mut &b"longer"[..],
            Some(3),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("longer than"), "{err}");
    let err = comm
        .upload(
            remote.join("s").to_str().unwrap(),
            &mut &b"abc"[..],
            Some(10),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("shrank"), "{err}");
}

fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn go(dir: &Path, rel: &str, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = format!("{rel}{}", e.file_name().to_string_lossy());
            if e.path().is_dir() {
                out.push(format!("{name}/"));
                go(&e.path(), &format!("{name}/"), out);
            } else {
                out.push(format!(
                    "{name}={}",
                    std::fs::read_to_string(e.path()).unwrap()
                ));
            }
        }
    }
    go(root, "", &mut out);
    out
}

#[tokio::test]
async fn directories_go_up_and_come_back_with_scp() {
    directories_round_trip(Transfer::Scp).await;
}

#[tokio::test]
async fn directories_go_up_and_come_back_with_sftp() {
    directories_round_trip(Transfer::Sftp).await;
}

async fn directories_round_trip(transfer: Transfer) {
    let Some(mut f) = fixture() else { return };
    f.target.transfer = transfer;
    let comm = connect(&f).await;
    let src = f.dir.path().join("src");
    std::fs::create_dir_all(src.join("sub/deeper")).unwrap();
    std::fs::write(src.join("a.txt"), "A").unwrap();
    std::fs::write(src.join("skip.tmp"), "T").unwrap();
    std::fs::write(src.join("sub/b.txt"), "B").unwrap();
    std::fs::write(src.join("sub/deeper/c.txt"), "C").unwrap();

    // Without a trailing slash, the directory itself is created under dst.
    let dst = f.dir.path().join("up1");
    comm.upload_dir(
        dst.to_str().unwrap(),
        src.to_str().unwrap(),
        &["*.tmp".into()],
    )
    .await
    .unwrap();
    assert_eq!(
        tree(&dst),
        [
            "src/",
            "src/a.txt=A",
            "src/sub/",
            "src/sub/b.txt=B",
            "src/sub/deeper/",
            "src/sub/deeper/c.txt=C"
        ]
    );
    // With a trailing slash, its contents go straight into dst.
    let dst2 = f.dir.path().join("up2");
    comm.upload_dir(dst2.to_str().unwrap(), &format!("{}/", src.display()), &[])
        .await
        .unwrap();
    assert_eq!(
        tree(&dst2)[..2],
        ["a.txt=A".to_string(), "skip.tmp=T".to_string()]
    );

    // Download: the remote directory's contents land in dst.
    let down = f.dir.path().join("down");
    comm.download_dir(
        src.to_str().unwrap(),
        down.to_str().unwrap(),
        &["b.txt".into()],
    )
    .await
    .unwrap();
    assert_eq!(
        tree(&down),
        [
            "a.txt=A",
            "skip.tmp=T",
            "sub/",
            "sub/deeper/",
            "sub/deeper/c.txt=C"
        ]
    );
}

#[tokio::test]
async fn a_refused_key_fails_within_the_timeout_and_says_why() {
    let Some(f) = fixture() else { return };
    std::fs::write(f.sshd.authorized_keys.clone(), "").unwrap();
    let started = std::time::Instant::now();
    let err = Session::connect_with_retry(
        &f.target,
        retry(4, 10),
        &CancellationToken::new(),
        |_, _| async {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        err.contains("authentication") && err.contains("refused"),
        "{err}"
    );
    assert!(err.contains("within 4s"), "{err}");

    // Refused logins stop after ssh_handshake_attempts, well before a long ssh_timeout.
    let started = std::time::Instant::now();
    let err = Session::connect_with_retry(
        &f.target,
        retry(600, 2),
        &CancellationToken::new(),
        |_, _| async {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(started.elapsed() < Duration::from_secs(20), "{err}");
    assert!(err.contains("refused the login 2 times"), "{err}");

    // Cancel stops the retries at once.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = Session::connect_with_retry(&f.target, retry(60, 10), &cancel, |_, _| async {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
}

/// A second sshd that only the bastion key logs in to; its log shows forwarded channels.
fn bastion(f: &Fixture, auth: Auth) -> (Sshd, Endpoint) {
    let dir = f.dir.path().join("bastion");
    std::fs::create_dir(&dir).unwrap();
    let sshd = Sshd::start_logging(&dir);
    let endpoint = Endpoint {
        host: "127.0.0.1".into(),
        port: sshd.addr.port(),
        username: sshd.user.clone(),
        auth: vec![auth],
    };
    (sshd, endpoint)
}

#[tokio::test]
async fn a_bastion_forwards_the_connection_with_its_own_credentials() {
    let Some(mut f) = fixture() else { return };
    let key = keygen(f.dir.path(), "bastion_key");
    let (jump, endpoint) = bastion(&f, Auth::from_key_file(&key).unwrap());
    std::fs::copy(key.with_extension("pub"), &jump.authorized_keys).unwrap();
    f.target.bastion = Some(endpoint.clone());
    let comm = connect(&f).await;
    assert!(comm.through_bastion());
    let (code, out, _) = exec(&comm, "echo through-the-bastion").await;
    assert_eq!((code, out.as_str()), (0, "through-the-bastion\n"));
    comm.close().await;
    // The bastion opened the forward to the machine's address.
    let log = std::fs::read_to_string(&jump.log).unwrap();
    let forward = format!("target 127.0.0.1 port {}", f.sshd.addr.port());
    assert!(
        log.contains(&forward),
        "no {forward:?} in the bastion's log:\n{log}"
    );

    // A bastion that refuses its key is named as the one refusing.
    std::fs::write(&jump.authorized_keys, "").unwrap();
    let err = Session::connect_with_retry(
        &f.target,
        retry(30, 1),
        &CancellationToken::new(),
        |_, _| async {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("bastion") && err.contains("refused"), "{err}");
}

#[tokio::test]
async fn the_agent_logs_in_to_the_machine_and_the_bastion() {
    let Some(mut f) = fixture() else { return };
    if require_tool("ssh-agent", mesostack_e2e::which("ssh-agent")).is_none() {
        return;
    }
    let agent = SshAgent::start(f.dir.path());
    // The only test in this binary that uses the agent sets where it is.
    std::env::set_var("SSH_AUTH_SOCK", &agent.socket);
    f.target.endpoint.auth = vec![Auth::Agent];
    // An empty agent says so, at once: waiting would not fill it.
    let started = Instant::now();
    let err = Session::connect_with_retry(
        &f.target,
        retry(60, 10),
        &CancellationToken::new(),
        |_, _| async {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("the agent holds no keys"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "{err}");

    let key = keygen(f.dir.path(), "agent_key");
    agent.add(&key);
    std::fs::copy(key.with_extension("pub"), &f.sshd.authorized_keys).unwrap();
    let comm = connect(&f).await;
    let (code, out, _) = exec(&comm, "echo agent-login").await;
    assert_eq!((code, out.as_str()), (0, "agent-login\n"));
    comm.close().await;

    // The same agent opens the bastion (ssh_bastion_agent_auth).
    let (jump, endpoint) = bastion(&f, Auth::Agent);
    std::fs::copy(key.with_extension("pub"), &jump.authorized_keys).unwrap();
    f.target.bastion = Some(endpoint);
    let comm = connect(&f).await;
    assert!(comm.through_bastion());
    let (code, _, _) = exec(&comm, "true").await;
    assert_eq!(code, 0);
}

#[tokio::test]
async fn a_silent_connection_is_dropped_after_the_read_write_timeout() {
    let Some(mut f) = fixture() else { return };
    // Keepalives are answered, so a live but quiet command outlasts the timeout.
    f.target.keep_alive_interval = Some(Duration::from_millis(300));
    f.target.read_write_timeout = Some(Duration::from_secs(2));
    let comm = connect(&f).await;
    let (code, out, _) = exec(&comm, "sleep 3; echo still-here").await;
    assert_eq!((code, out.as_str()), (0, "still-here\n"));
    comm.close().await;

    // Without keepalives nothing arrives while the command sleeps: the connection is
    // dropped and the error says why.
    f.target.keep_alive_interval = None;
    let comm = connect(&f).await;
    let started = Instant::now();
    let exit = comm.exec("sleep 30", None, None, None).await.unwrap();
    let err = exit.await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(20), "{err}");
    assert!(matches!(err, Error::Stalled { .. }), "{err:?}");
    assert!(err.to_string().contains("read/write timeout"), "{err}");
}

#[tokio::test]
async fn a_certificate_signed_by_a_trusted_ca_logs_in() {
    let Some(f) = fixture() else { return };
    let dir = f.dir.path().join("ca");
    std::fs::create_dir(&dir).unwrap();
    let ca = keygen(&dir, "ca");
    let key = keygen(&dir, "user");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca)
        .args(["-I", "mesostack-test", "-n", &f.sshd.user])
        .arg(key.with_extension("pub"))
        .status()
        .unwrap();
    assert!(ok.success());
    let cert = dir.join("user-cert.pub");
    let sshd = Sshd::start_trusting_ca(&dir, &ca.with_extension("pub"));
    let endpoint = |auth| Endpoint {
        host: "127.0.0.1".into(),
        port: sshd.addr.port(),
        username: sshd.user.clone(),
        auth: vec![auth],
    };
    let certified = Auth::from_key_and_certificate_files(&key, &cert).unwrap();
    let comm = connect_to(&Target::new(endpoint(certified))).await;
    let (code, out, _) = exec(&comm, "echo certified").await;
    assert_eq!((code, out.as_str()), (0, "certified\n"));
    // The key alone is not in authorized_keys.
    let plain = Auth::from_key_file(&key).unwrap();
    let err = Session::connect(&Target::new(endpoint(plain)))
        .await
        .unwrap_err();
    assert!(err.is_auth_refused(), "{err}");
    // A certificate for another key is refused before connecting.
    let err = Auth::from_key_and_certificate_files(&ca, &cert)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("certifies another key"), "{err}");
}

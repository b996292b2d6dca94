//! The SSH communicator Packer's provisioners use, on `russh`.
//!
//! Commands run in an SSH `exec` channel with stdout/stderr streamed back and the exit
//! status reported. Files move with the classic `scp` protocol against the remote `scp -t`
//! (sink) / `scp -f` (source), which is what Packer's own Go communicator does and what every
//! OpenSSH server has; the protocol is a handful of text records, so it is written here
//! rather than pulling in an SFTP stack.

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use packer_sdk::{
    async_trait, BoxError, CancellationToken, Communicator, ExitFuture, FileInfo, RemoteCommand, Ui,
};
use russh::{
    client,
    keys::{decode_secret_key, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate},
    ChannelMsg, ChannelReadHalf, ChannelWriteHalf,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Error, Result};

/// How long one TCP connect + SSH handshake + authentication may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause between connection attempts.
const RETRY_DELAY: Duration = Duration::from_secs(2);
/// Pause after a refused login (the VM may not have installed its key yet).
const AUTH_RETRY_DELAY: Duration = Duration::from_secs(5);

/// One way to log in. `Debug` never shows the secret.
#[derive(Clone)]
pub enum SshAuth {
    /// A private key (e.g. the PKCS#1 PEM `createSSHKeyPair` returns).
    Key(Arc<PrivateKey>),
    /// A password.
    Password(String),
}

impl std::fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SshAuth::Key(k) => write!(f, "Key({})", k.algorithm()),
            SshAuth::Password(_) => f.write_str("Password(<redacted>)"),
        }
    }
}

impl SshAuth {
    /// Reads a private key in PEM/OpenSSH form (RSA PKCS#1, PKCS#8, OpenSSH, unencrypted).
    pub fn from_pem(pem: &str) -> Result<Self> {
        decode_secret_key(pem, None)
            .map(|k| SshAuth::Key(Arc::new(k)))
            .map_err(|e| Error::Ssh(format!("cannot read the private key: {e}")))
    }

    /// Reads a private key file (`ssh_private_key_file`).
    pub fn from_key_file(path: &Path) -> Result<Self> {
        let pem = std::fs::read_to_string(path)
            .map_err(Error::io(format!("reading ssh_private_key_file {path:?}")))?;
        Self::from_pem(&pem).map_err(|e| Error::Ssh(format!("{path:?}: {e}")))
    }
}

/// The base64 public-key blob (the second field of an `authorized_keys` line) of a
/// private key.
pub fn public_key_blob(pem: &str) -> Result<String> {
    let key = decode_secret_key(pem, None)
        .map_err(|e| Error::Ssh(format!("cannot read the private key: {e}")))?;
    let line = key
        .public_key()
        .to_openssh()
        .map_err(|e| Error::Ssh(format!("cannot encode the public key: {e}")))?;
    line.split_whitespace()
        .nth(1)
        .map(str::to_owned)
        .ok_or_else(|| Error::Ssh("the public key has no base64 part".into()))
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Login name.
    pub username: String,
    /// Methods tried in order until one is accepted.
    pub auth: Vec<SshAuth>,
    /// `ssh_keep_alive_interval` (`None`: no keepalives).
    pub keep_alive_interval: Option<Duration>,
}

/// Accepts any host key: a freshly deployed VM's key is unknown, as in Packer's Go
/// communicator (`InsecureIgnoreHostKey`).
#[derive(Debug)]
struct AnyHostKey;

impl client::Handler for AnyHostKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        Ok(true)
    }
}

/// A connected SSH session serving as Packer's communicator.
pub struct SshCommunicator {
    handle: Arc<client::Handle<AnyHostKey>>,
    target: String,
}

impl std::fmt::Debug for SshCommunicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshCommunicator")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

fn ssh_err(what: &str) -> impl FnOnce(russh::Error) -> Error + '_ {
    move |e| Error::Ssh(format!("{what}: {e}"))
}

impl SshCommunicator {
    /// Connects and authenticates once.
    pub async fn connect(target: &SshTarget) -> Result<Self> {
        let where_ = format!("{}@{}:{}", target.username, target.host, target.port);
        let attempt = async {
            let config = Arc::new(client::Config {
                // Long provisioners are silent; keepalives keep NAT and the server happy.
                keepalive_interval: target.keep_alive_interval,
                keepalive_max: 8,
                inactivity_timeout: None,
                // Every scp record and command start is a small round trip; Nagle plus
                // delayed ACKs would add tens of milliseconds to each.
                nodelay: true,
                ..Default::default()
            });
            let mut handle =
                client::connect(config, (target.host.as_str(), target.port), AnyHostKey)
                    .await
                    .map_err(ssh_err("connect"))?;
            let mut tried = Vec::new();
            for auth in &target.auth {
                let ok = match auth {
                    SshAuth::Key(key) => {
                        tried.push("public key");
                        let hash = handle
                            .best_supported_rsa_hash()
                            .await
                            .map_err(ssh_err("negotiating the RSA signature"))?
                            .flatten();
                        handle
                            .authenticate_publickey(
                                &target.username,
                                PrivateKeyWithHashAlg::new(key.clone(), hash),
                            )
                            .await
                            .map_err(ssh_err("public key authentication"))?
                            .success()
                    }
                    SshAuth::Password(p) => {
                        tried.push("password");
                        handle
                            .authenticate_password(&target.username, p)
                            .await
                            .map_err(ssh_err("password authentication"))?
                            .success()
                    }
                };
                if ok {
                    return Ok(handle);
                }
            }
            Err(Error::AuthRefused(format!(
                "authentication as {:?} refused (tried: {})",
                target.username,
                if tried.is_empty() {
                    "nothing: no key or password configured".to_string()
                } else {
                    tried.join(", ")
                }
            )))
        };
        let handle = tokio::time::timeout(ATTEMPT_TIMEOUT, attempt)
            .await
            .map_err(|_| Error::Ssh(format!("no answer within {ATTEMPT_TIMEOUT:?}")))??;
        Ok(Self {
            handle: Arc::new(handle),
            target: where_,
        })
    }

    /// Connects, retrying every couple of seconds until `timeout` (the VM may still be
    /// booting, or its key not yet installed), but gives up after `max_auth_refusals`
    /// refused logins (`ssh_handshake_attempts`): wrong credentials do not get better.
    /// Progress goes to `ui` when given. Stops early when `cancel` fires.
    pub async fn connect_with_retry(
        target: &SshTarget,
        timeout: Duration,
        max_auth_refusals: u32,
        cancel: &CancellationToken,
        ui: Option<&Ui>,
    ) -> Result<Self> {
        let started = Instant::now();
        let mut attempts = 0u32;
        let mut refusals = 0u32;
        loop {
            attempts += 1;
            let result = tokio::select! {
                r = Self::connect(target) => r,
                () = cancel.cancelled() => return Err(Error::Build("cancelled while waiting for SSH".into())),
            };
            let delay = match result {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::info!(
                        "SSH attempt {attempts} to {}:{} failed: {e}",
                        target.host,
                        target.port
                    );
                    let refused = matches!(e, Error::AuthRefused(_));
                    if refused {
                        refusals += 1;
                        if refusals >= max_auth_refusals.max(1) {
                            return Err(Error::AuthRefused(format!(
                                "{}@{}:{} refused the login {refusals} times \
                                 (ssh_handshake_attempts); last error: {e}. Check ssh_username \
                                 and the key or password",
                                target.username, target.host, target.port
                            )));
                        }
                    }
                    let delay = if refused {
                        AUTH_RETRY_DELAY
                    } else {
                        RETRY_DELAY
                    };
                    if started.elapsed() + delay >= timeout {
                        return Err(Error::Ssh(format!(
                            "could not connect to {}@{}:{} within ssh_timeout {timeout:?} \
                             ({attempts} attempts); last error: {e}. Check that the VM boots, \
                             that the address is reachable from here, and the credentials",
                            target.username, target.host, target.port
                        )));
                    }
                    if let (Some(ui), true) = (ui, attempts % 5 == 1) {
                        ui.message(format!("Waiting for SSH to become available... ({e})"))
                            .await;
                    }
                    delay
                }
            };
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => return Err(Error::Build("cancelled while waiting for SSH".into())),
            }
        }
    }

    /// Ends the session politely.
    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }

    async fn open(
        &self,
        command: &str,
    ) -> Result<(ChannelReadHalf, ChannelWriteHalf<client::Msg>)> {
        let channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(ssh_err("opening a session channel"))?;
        channel
            .exec(true, command.as_bytes())
            .await
            .map_err(ssh_err("starting the command"))?;
        Ok(channel.split())
    }

    /// Runs `command`, returning its exit status and combined output (for small helpers
    /// like `mkdir -p`).
    pub async fn run(&self, command: &str) -> Result<(u32, String)> {
        let (mut read, write) = self.open(command).await?;
        let _ = write.eof().await;
        let mut output = Vec::new();
        let mut code = None;
        while let Some(msg) = read.wait().await {
            match msg {
                ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. } => {
                    output.extend_from_slice(&data)
                }
                ChannelMsg::ExitStatus { exit_status } => code = Some(exit_status),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        drop(write);
        let output = String::from_utf8_lossy(&output).into_owned();
        code.map(|c| (c, output))
            .ok_or_else(|| Error::Ssh(format!("{command:?} ended without an exit status")))
    }
}

/// Quotes `s` for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Matches Packer exclude patterns (`*`, `?`), by relative path or by base name.
fn excluded(rel: &str, patterns: &[String]) -> bool {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    patterns.iter().any(|p| {
        glob_match(p.as_bytes(), rel.as_bytes()) || glob_match(p.as_bytes(), base.as_bytes())
    })
}

fn glob_match(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob_match(&p[1..], s) || (!s.is_empty() && glob_match(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob_match(&p[1..], &s[1..]),
        _ => false,
    }
}

/// One `scp` session: the remote `scp -t`/`-f` on an exec channel.
struct Scp {
    read: ChannelReadHalf,
    write: ChannelWriteHalf<client::Msg>,
    buf: VecDeque<u8>,
    stderr: Vec<u8>,
    exit: Option<u32>,
    closed: bool,
}

impl Scp {
    async fn open(comm: &SshCommunicator, command: &str) -> Result<Self> {
        let (read, write) = comm.open(command).await?;
        Ok(Self {
            read,
            write,
            buf: VecDeque::new(),
            stderr: Vec::new(),
            exit: None,
            closed: false,
        })
    }

    fn remote_said(&self) -> String {
        let s = String::from_utf8_lossy(&self.stderr).trim().to_string();
        if s.is_empty() {
            match self.exit {
                Some(c) => format!("remote scp exited with status {c}"),
                None => "remote scp ended".into(),
            }
        } else {
            s
        }
    }

    /// Waits for more data from the remote; false once the channel is closed.
    async fn fill(&mut self) -> bool {
        while !self.closed {
            match self.read.wait().await {
                Some(ChannelMsg::Data { data }) => {
                    self.buf.extend(data.iter());
                    return true;
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => self.stderr.extend_from_slice(&data),
                Some(ChannelMsg::ExitStatus { exit_status }) => self.exit = Some(exit_status),
                Some(ChannelMsg::Close) | None => self.closed = true,
                Some(_) => {}
            }
        }
        false
    }

    async fn byte(&mut self) -> Result<u8> {
        loop {
            if let Some(b) = self.buf.pop_front() {
                return Ok(b);
            }
            if !self.fill().await {
                return Err(Error::Transfer(self.remote_said()));
            }
        }
    }

    async fn line(&mut self) -> Result<String> {
        let mut out = Vec::new();
        loop {
            match self.byte().await? {
                b'\n' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b => out.push(b),
            }
        }
    }

    /// Reads the remote's answer to a record: 0 = ok, 1/2 + message = warning/error.
    async fn ack(&mut self) -> Result<()> {
        match self.byte().await? {
            0 => Ok(()),
            _ => {
                let msg = self.line().await.unwrap_or_default();
                Err(Error::Transfer(format!("remote scp: {}", msg.trim())))
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.write
            .data(bytes)
            .await
            .map_err(|e| Error::Transfer(format!("sending to remote scp: {e}")))
    }

    /// Sends one file record with its data and waits for the acknowledgements.
    async fn send_file(
        &mut self,
        name: &str,
        mode: u32,
        size: u64,
        data: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<()> {
        self.send(format!("C{:04o} {size} {name}\n", mode & 0o7777).as_bytes())
            .await?;
        self.ack().await?;
        let mut sent = 0u64;
        let mut chunk = vec![0u8; 32 * 1024];
        while sent < size {
            let want =
                usize::try_from((size - sent).min(chunk.len() as u64)).unwrap_or(chunk.len());
            let n = data
                .read(&mut chunk[..want])
                .await
                .map_err(Error::io(format!("reading {name}")))?;
            if n == 0 {
                return Err(Error::Transfer(format!("{name} shrank while uploading")));
            }
            self.send(&chunk[..n]).await?;
            sent += n as u64;
        }
        self.send(&[0]).await?;
        self.ack().await
    }

    /// Reads `size` bytes of file data into `out` (or discards them), then the status byte.
    async fn receive_file(
        &mut self,
        size: u64,
        mut out: Option<&mut (dyn AsyncWrite + Send + Unpin)>,
    ) -> Result<()> {
        let mut left = size;
        while left > 0 {
            if self.buf.is_empty() && !self.fill().await {
                return Err(Error::Transfer(format!(
                    "connection ended {left} bytes before the end of the file: {}",
                    self.remote_said()
                )));
            }
            let take = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            let bytes: Vec<u8> = self.buf.drain(..take).collect();
            if let Some(o) = out.as_mut() {
                o.write_all(&bytes)
                    .await
                    .map_err(Error::io("writing downloaded data"))?;
            }
            left -= take as u64;
        }
        self.ack().await
    }

    /// Closes our side and waits for the remote scp to exit successfully.
    async fn finish(mut self) -> Result<()> {
        let _ = self.write.eof().await;
        while self.fill().await {}
        match self.exit {
            Some(0) => Ok(()),
            _ => Err(Error::Transfer(self.remote_said())),
        }
    }
}

/// A parsed `C`/`D` record: mode, size, name.
fn parse_record(line: &str) -> Result<(u32, u64, String)> {
    let mut parts = line[1..].splitn(3, ' ');
    let bad = || Error::Transfer(format!("unexpected scp record {line:?}"));
    let mode = u32::from_str_radix(parts.next().ok_or_else(bad)?, 8).map_err(|_| bad())?;
    let size = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let name = parts.next().ok_or_else(bad)?.to_string();
    if name.is_empty() || name.contains('/') || name == ".." {
        return Err(bad());
    }
    Ok((mode, size, name))
}

/// One step of a directory upload.
enum Walk {
    Enter(String, u32),
    File(PathBuf, String, u32, u64),
    Leave,
}

fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

/// Lists what to send for `dir` (sorted, excludes applied), depth first.
fn walk(dir: &Path, rel: &str, exclude: &[String], out: &mut Vec<Walk>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(Error::io(format!("listing {dir:?}")))?
        .filter_map(std::result::Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel_name = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if excluded(&rel_name, exclude) {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(Error::io(format!("reading {path:?}")))?;
        if meta.is_dir() {
            out.push(Walk::Enter(name, mode_of(&meta)));
            walk(&path, &rel_name, exclude, out)?;
            out.push(Walk::Leave);
        } else if meta.is_file() {
            out.push(Walk::File(path, name, mode_of(&meta), meta.len()));
        }
    }
    Ok(())
}

fn boxed(e: Error) -> BoxError {
    Box::new(e)
}

#[async_trait]
impl Communicator for SshCommunicator {
    async fn start(&self, cmd: RemoteCommand) -> std::result::Result<ExitFuture, BoxError> {
        let (mut read, write) = self.open(&cmd.command).await.map_err(boxed)?;
        let stdin = cmd.stdin;
        let mut stdout = cmd.stdout;
        let mut stderr = cmd.stderr;
        let feeder = tokio::spawn(async move {
            if let Some(mut input) = stdin {
                let _ = write.data(&mut input).await;
            }
            let _ = write.eof().await;
            // The write half stays alive until the command ends.
            write
        });
        Ok(Box::pin(async move {
            let mut code = None;
            while let Some(msg) = read.wait().await {
                match msg {
                    ChannelMsg::Data { data } => {
                        if let Some(o) = stdout.as_mut() {
                            if o.write_all(&data).await.is_err() {
                                stdout = None;
                            }
                        }
                    }
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        if let Some(e) = stderr.as_mut() {
                            if e.write_all(&data).await.is_err() {
                                stderr = None;
                            }
                        }
                    }
                    ChannelMsg::ExitStatus { exit_status } => {
                        code = Some(i32::try_from(exit_status).unwrap_or(i32::MAX))
                    }
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        tracing::warn!("remote command killed by signal {signal_name:?}");
                        // What a shell reports for a signalled child (128 + n) is unknown
                        // here; any non-zero status fails the provisioner.
                        code = code.or(Some(255));
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            for w in [stdout.as_mut(), stderr.as_mut()].into_iter().flatten() {
                let _ = w.shutdown().await;
            }
            drop(stdout);
            drop(stderr);
            feeder.abort();
            code.ok_or_else(|| {
                BoxError::from(
                    "the SSH connection ended before the command reported an exit status",
                )
            })
        }))
    }

    async fn upload(
        &self,
        path: &str,
        data: &mut (dyn AsyncRead + Send + Unpin),
        info: Option<FileInfo>,
    ) -> std::result::Result<(), BoxError> {
        // scp needs the size first. Packer sends it in FileInfo, so the data streams; a
        // source that does not match it fails the upload. Without FileInfo the data is
        // read into memory first.
        let declared = info.as_ref().and_then(|i| u64::try_from(i.size).ok());
        let mut bytes = Vec::new();
        if declared.is_none() {
            data.read_to_end(&mut bytes)
                .await
                .map_err(|e| boxed(Error::io(format!("reading data for {path}"))(e)))?;
        }
        // The sink writes to the target itself when it is not a directory, so the full
        // path is given (the record's name only matters when the target is a directory).
        let name = path.rsplit('/').next().unwrap_or(path);
        if name.is_empty() {
            return Err(
                format!("upload destination {path:?} names a directory, not a file").into(),
            );
        }
        let mode = info
            .map(|i| i.mode & 0o777)
            .filter(|m| *m != 0)
            .unwrap_or(0o644);
        let mut scp = Scp::open(self, &format!("scp -t -- {}", sh_quote(path)))
            .await
            .map_err(boxed)?;
        let res = async {
            scp.ack().await?;
            match declared {
                Some(size) => {
                    scp.send_file(name, mode, size, data).await?;
                    let mut extra = [0u8; 1];
                    let n = data
                        .read(&mut extra)
                        .await
                        .map_err(Error::io(format!("reading data for {path}")))?;
                    if n > 0 {
                        return Err(Error::Transfer(format!(
                            "the source is longer than the {size} bytes Packer announced"
                        )));
                    }
                    Ok(())
                }
                None => {
                    scp.send_file(name, mode, bytes.len() as u64, &mut bytes.as_slice())
                        .await
                }
            }
        }
        .await;
        match res {
            Ok(()) => scp.finish().await.map_err(boxed),
            Err(e) => Err(boxed(Error::Transfer(format!("uploading {path}: {e}")))),
        }
    }

    async fn upload_dir(
        &self,
        dst: &str,
        src: &str,
        exclude: &[String],
    ) -> std::result::Result<(), BoxError> {
        let src_path = Path::new(src);
        let mut plan = Vec::new();
        if src.ends_with('/') {
            walk(src_path, "", exclude, &mut plan).map_err(boxed)?;
        } else {
            let meta = std::fs::metadata(src_path)
                .map_err(|e| boxed(Error::io(format!("reading {src:?}"))(e)))?;
            let name = src_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "dir".into());
            plan.push(Walk::Enter(name.clone(), mode_of(&meta)));
            walk(src_path, &name, exclude, &mut plan).map_err(boxed)?;
            plan.push(Walk::Leave);
        }
        let (code, out) = self
            .run(&format!("mkdir -p -- {}", sh_quote(dst)))
            .await
            .map_err(boxed)?;
        if code != 0 {
            return Err(format!("creating {dst} on the remote failed: {}", out.trim()).into());
        }
        let mut scp = Scp::open(self, &format!("scp -r -t -- {}", sh_quote(dst)))
            .await
            .map_err(boxed)?;
        let res = async {
            scp.ack().await?;
            for step in plan {
                match step {
                    Walk::Enter(name, mode) => {
                        scp.send(format!("D{:04o} 0 {name}\n", mode).as_bytes())
                            .await?;
                        scp.ack().await?;
                    }
                    Walk::Leave => {
                        scp.send(b"E\n").await?;
                        scp.ack().await?;
                    }
                    Walk::File(path, name, mode, size) => {
                        let mut f = tokio::fs::File::open(&path)
                            .await
                            .map_err(Error::io(format!("opening {path:?}")))?;
                        scp.send_file(&name, mode, size, &mut f).await?;
                    }
                }
            }
            Ok::<(), Error>(())
        }
        .await;
        match res {
            Ok(()) => scp.finish().await.map_err(boxed),
            Err(e) => Err(boxed(Error::Transfer(format!(
                "uploading {src} to {dst}: {e}"
            )))),
        }
    }

    async fn download(
        &self,
        path: &str,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> std::result::Result<(), BoxError> {
        let mut scp = Scp::open(self, &format!("scp -f -- {}", sh_quote(path)))
            .await
            .map_err(boxed)?;
        let res = async {
            scp.send(&[0]).await?;
            loop {
                let kind = scp.byte().await?;
                let rest = scp.line().await?;
                match kind {
                    b'T' => scp.send(&[0]).await?,
                    b'C' => {
                        let (_, size, _) = parse_record(&format!("C{rest}"))?;
                        scp.send(&[0]).await?;
                        scp.receive_file(size, Some(&mut *out)).await?;
                        scp.send(&[0]).await?;
                        return Ok(());
                    }
                    1 | 2 => return Err(Error::Transfer(rest.trim().to_string())),
                    _ => return Err(Error::Transfer(format!("{path} is not a regular file"))),
                }
            }
        }
        .await;
        match res {
            Ok(()) => scp.finish().await.map_err(boxed),
            Err(e) => Err(boxed(Error::Transfer(format!("downloading {path}: {e}")))),
        }
    }

    async fn download_dir(
        &self,
        src: &str,
        dst: &str,
        exclude: &[String],
    ) -> std::result::Result<(), BoxError> {
        let mut scp = Scp::open(self, &format!("scp -r -f -- {}", sh_quote(src)))
            .await
            .map_err(boxed)?;
        let root = PathBuf::from(dst);
        let res = async {
            scp.send(&[0]).await?;
            // `stack` holds the local directory and relative path of each open D record;
            // the top-level record is `src` itself and maps to `dst`.
            let mut stack: Vec<(PathBuf, String)> = Vec::new();
            loop {
                let kind = match scp.byte().await {
                    Ok(b) => b,
                    Err(_) if stack.is_empty() => break,
                    Err(e) => return Err(e),
                };
                let rest = scp.line().await?;
                match kind {
                    b'T' => {}
                    b'D' => {
                        let (_, _, name) = parse_record(&format!("D{rest}"))?;
                        let (dir, rel) = match stack.last() {
                            None => (root.clone(), String::new()),
                            Some((d, r)) if r.is_empty() => (d.join(&name), name.clone()),
                            Some((d, r)) => (d.join(&name), format!("{r}/{name}")),
                        };
                        tokio::fs::create_dir_all(&dir)
                            .await
                            .map_err(Error::io(format!("creating {dir:?}")))?;
                        stack.push((dir, rel));
                    }
                    b'E' => {
                        stack.pop();
                        if stack.is_empty() {
                            scp.send(&[0]).await?;
                            break;
                        }
                    }
                    b'C' => {
                        let (_, size, name) = parse_record(&format!("C{rest}"))?;
                        let (dir, rel) = stack
                            .last()
                            .cloned()
                            .unwrap_or((root.clone(), String::new()));
                        let rel_name = if rel.is_empty() {
                            name.clone()
                        } else {
                            format!("{rel}/{name}")
                        };
                        scp.send(&[0]).await?;
                        if excluded(&rel_name, exclude) {
                            scp.receive_file(size, None).await?;
                        } else {
                            let target = dir.join(&name);
                            let mut f = tokio::fs::File::create(&target)
                                .await
                                .map_err(Error::io(format!("creating {target:?}")))?;
                            scp.receive_file(size, Some(&mut f)).await?;
                            f.flush()
                                .await
                                .map_err(Error::io(format!("writing {target:?}")))?;
                        }
                    }
                    1 | 2 => return Err(Error::Transfer(rest.trim().to_string())),
                    other => {
                        return Err(Error::Transfer(format!(
                            "unexpected scp record type {:?}",
                            char::from(other)
                        )))
                    }
                }
                scp.send(&[0]).await?;
            }
            Ok(())
        }
        .await;
        match res {
            Ok(()) => scp.finish().await.map_err(boxed),
            Err(e) => Err(boxed(Error::Transfer(format!(
                "downloading {src} to {dst}: {e}"
            )))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_globs() {
        assert_eq!(sh_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert!(glob_match(b"*.log", b"x.log"));
        assert!(!glob_match(b"*.log", b"x.log.1"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(excluded("sub/x.tmp", &["*.tmp".into()]));
        assert!(excluded("sub/keep", &["sub/*".into()]));
        assert!(!excluded("keep", &["sub/*".into()]));
    }

    #[test]
    fn records() {
        assert_eq!(
            parse_record("C0644 12 a file").unwrap(),
            (0o644, 12, "a file".to_string())
        );
        assert!(parse_record("C0644 12 ../x").is_err());
        assert!(parse_record("C0644 x y").is_err());
        assert!(parse_record("D0755 0 ..").is_err());
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let p = SshAuth::Password("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(SshAuth::from_pem("not a key").is_err());
    }
}

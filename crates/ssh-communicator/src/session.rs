//! Connecting (directly or through a bastion host), retrying, and running commands.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use russh::{
    client::{self, Handle},
    keys::PublicKeyOrCertificate,
    ChannelMsg, ChannelReadHalf, ChannelWriteHalf,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::{
    auth::{authenticate, Auth},
    error::{ssh_err, Error, Result},
    timeout::TimeoutStream,
};

/// How long one TCP connect + SSH handshake + authentication may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause between connection attempts.
const RETRY_DELAY: Duration = Duration::from_secs(2);
/// Pause after a refused login (the VM may not have installed its key yet).
const AUTH_RETRY_DELAY: Duration = Duration::from_secs(5);

/// A server to log in to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Login name.
    pub username: String,
    /// Methods tried in order until one is accepted.
    pub auth: Vec<Auth>,
}

impl Endpoint {
    fn display(&self) -> String {
        format!("{}@{}:{}", self.username, self.host, self.port)
    }
}

/// How files move.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transfer {
    /// The remote `scp -t`/`-f` (what every OpenSSH server has).
    #[default]
    Scp,
    /// The `sftp` subsystem (for servers without `scp`, e.g. an `internal-sftp` jail).
    Sftp,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// The machine.
    pub endpoint: Endpoint,
    /// A jump host: the machine is reached through a `direct-tcpip` channel opened on it,
    /// so only the bastion needs to reach the machine's address.
    pub bastion: Option<Endpoint>,
    /// Keepalive interval (`None`: no keepalives).
    pub keep_alive_interval: Option<Duration>,
    /// Drop the connection when the machine sends nothing for this long (`None`: never).
    pub read_write_timeout: Option<Duration>,
    /// How files move.
    pub transfer: Transfer,
}

impl Target {
    /// A target reached directly with scp, keepalives every 5 s, no read/write timeout.
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            bastion: None,
            keep_alive_interval: Some(Duration::from_secs(5)),
            read_write_timeout: None,
            transfer: Transfer::Scp,
        }
    }
}

/// How long [`Session::connect_with_retry`] keeps trying.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Give up after this long.
    pub timeout: Duration,
    /// Give up after this many refused logins in a row.
    pub max_auth_refusals: u32,
}

/// Accepts any host key: a freshly deployed machine's key is unknown, as in Packer's Go
/// communicator (`InsecureIgnoreHostKey`).
#[derive(Debug)]
pub(crate) struct AnyHostKey;

impl client::Handler for AnyHostKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        Ok(true)
    }
}

/// Where a command's output goes; dropped (closed) when the command ends.
pub type Output = Box<dyn AsyncWrite + Send + Unpin>;
/// A command's input.
pub type Input = Box<dyn AsyncRead + Send + Unpin>;
/// Resolves to a started command's exit status.
pub type Exit = Pin<Box<dyn Future<Output = Result<i32>> + Send>>;

/// A connected SSH session.
pub struct Session {
    pub(crate) handle: Arc<Handle<AnyHostKey>>,
    /// Kept open while the session tunnels through it.
    bastion: Option<Handle<AnyHostKey>>,
    pub(crate) target: String,
    pub(crate) transfer: Transfer,
    watch: Watch,
}

/// Tells a connection dropped by the read/write timeout from any other lost connection.
#[derive(Debug, Clone)]
struct Watch {
    target: String,
    timeout: Option<Duration>,
    stalled: Arc<AtomicBool>,
}

impl Watch {
    fn lost(&self, otherwise: impl Into<String>) -> Error {
        match self.timeout {
            Some(timeout) if self.stalled.load(Ordering::Relaxed) => Error::Stalled {
                target: self.target.clone(),
                timeout,
            },
            _ => Error::Ssh(otherwise.into()),
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("target", &self.target)
            .field("through_bastion", &self.bastion.is_some())
            .field("transfer", &self.transfer)
            .finish_non_exhaustive()
    }
}

fn client_config(target: &Target) -> Arc<client::Config> {
    Arc::new(client::Config {
        // Long provisioners are silent; keepalives keep NAT and the server happy.
        keepalive_interval: target.keep_alive_interval,
        keepalive_max: 8,
        inactivity_timeout: None,
        // Every scp record and command start is a small round trip; Nagle plus delayed
        // ACKs would add tens of milliseconds to each.
        nodelay: true,
        ..Default::default()
    })
}

/// Opens the SSH connection over `stream`, with the read/write timeout when set.
async fn handshake<S>(
    config: Arc<client::Config>,
    stream: S,
    timeout: Option<Duration>,
    stalled: &Arc<AtomicBool>,
) -> Result<Handle<AnyHostKey>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match timeout {
        Some(t) => client::connect_stream(
            config,
            TimeoutStream::new(stream, t, stalled.clone()),
            AnyHostKey,
        )
        .await
        .map_err(ssh_err("SSH handshake")),
        None => client::connect_stream(config, stream, AnyHostKey)
            .await
            .map_err(ssh_err("SSH handshake")),
    }
}

async fn tcp(host: &str, port: u16) -> Result<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| Error::Ssh(format!("connecting to {host}:{port}: {e}")))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

impl Session {
    /// Connects and authenticates once (through the bastion when there is one).
    pub async fn connect(target: &Target) -> Result<Self> {
        let config = client_config(target);
        let stalled = Arc::new(AtomicBool::new(false));
        let ep = &target.endpoint;
        let attempt = async {
            let (mut handle, bastion) = match &target.bastion {
                None => {
                    let stream = tcp(&ep.host, ep.port).await?;
                    let h = handshake(config, stream, target.read_write_timeout, &stalled).await?;
                    (h, None)
                }
                Some(b) => {
                    let stream = tcp(&b.host, b.port).await?;
                    let mut bh = client::connect_stream(config.clone(), stream, AnyHostKey)
                        .await
                        .map_err(|e| {
                            Error::Ssh(format!("bastion {}: SSH handshake: {e}", b.display()))
                        })?;
                    authenticate(&mut bh, &b.username, &b.auth)
                        .await
                        .map_err(|e| match e {
                            Error::AuthRefused(m) => {
                                Error::AuthRefused(format!("bastion {}: {m}", b.display()))
                            }
                            other => Error::Ssh(format!("bastion {}: {other}", b.display())),
                        })?;
                    let channel = bh
                        .channel_open_direct_tcpip(
                            ep.host.clone(),
                            u32::from(ep.port),
                            "127.0.0.1",
                            0,
                        )
                        .await
                        .map_err(|e| {
                            Error::Ssh(format!(
                                "bastion {} could not open a channel to {}:{}: {e}",
                                b.display(),
                                ep.host,
                                ep.port
                            ))
                        })?;
                    let h = handshake(
                        config,
                        channel.into_stream(),
                        target.read_write_timeout,
                        &stalled,
                    )
                    .await?;
                    (h, Some(bh))
                }
            };
            authenticate(&mut handle, &ep.username, &ep.auth).await?;
            Ok::<_, Error>((handle, bastion))
        };
        let (handle, bastion) = tokio::time::timeout(ATTEMPT_TIMEOUT, attempt)
            .await
            .map_err(|_| Error::Ssh(format!("no answer within {ATTEMPT_TIMEOUT:?}")))??;
        Ok(Self {
            handle: Arc::new(handle),
            bastion,
            target: ep.display(),
            transfer: target.transfer,
            watch: Watch {
                target: ep.display(),
                timeout: target.read_write_timeout,
                stalled,
            },
        })
    }

    /// Connects, retrying every couple of seconds until `retry.timeout` (the machine may
    /// still be booting, or its key not yet installed), but gives up after
    /// `retry.max_auth_refusals` refused logins: wrong credentials do not get better.
    /// `on_wait` hears about each failed attempt (for progress messages). Stops early when
    /// `cancel` fires.
    pub async fn connect_with_retry<F, Fut>(
        target: &Target,
        retry: Retry,
        cancel: &CancellationToken,
        mut on_wait: F,
    ) -> Result<Self>
    where
        F: FnMut(u32, &Error) -> Fut,
        Fut: Future<Output = ()>,
    {
        let started = Instant::now();
        let where_ = target.endpoint.display();
        let mut attempts = 0u32;
        let mut refusals = 0u32;
        loop {
            attempts += 1;
            let result = tokio::select! {
                r = Self::connect(target) => r,
                () = cancel.cancelled() => return Err(Error::Cancelled),
            };
            let e = match result {
                Ok(c) => return Ok(c),
                Err(e) => e,
            };
            tracing::info!("SSH attempt {attempts} to {where_} failed: {e}");
            // A missing agent or an unreadable key does not get better by waiting.
            if matches!(e, Error::Agent(_) | Error::Key(_)) {
                return Err(e);
            }
            let refused = e.is_auth_refused();
            if refused {
                refusals += 1;
                if refusals >= retry.max_auth_refusals.max(1) {
                    return Err(Error::Refused {
                        target: where_,
                        times: refusals,
                        last: Box::new(e),
                    });
                }
            }
            let delay = if refused {
                AUTH_RETRY_DELAY
            } else {
                RETRY_DELAY
            };
            if started.elapsed() + delay >= retry.timeout {
                return Err(Error::GaveUp {
                    target: where_,
                    within: retry.timeout,
                    attempts,
                    last: Box::new(e),
                });
            }
            on_wait(attempts, &e).await;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => return Err(Error::Cancelled),
            }
        }
    }

    /// `user@host:port` of the machine.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Whether the session goes through a bastion host.
    pub fn through_bastion(&self) -> bool {
        self.bastion.is_some()
    }

    /// Ends the session (and the bastion's) politely.
    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
        if let Some(b) = &self.bastion {
            let _ = b
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        }
    }

    /// Why a channel ended without its answer: the read/write timeout when it fired.
    pub(crate) fn lost(&self, otherwise: impl Into<String>) -> Error {
        self.watch.lost(otherwise)
    }

    /// Opens a session channel running `command`.
    pub(crate) async fn open(
        &self,
        command: &str,
    ) -> Result<(ChannelReadHalf, ChannelWriteHalf<client::Msg>)> {
        let channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| self.lost(format!("opening a session channel: {e}")))?;
        channel
            .exec(true, command.as_bytes())
            .await
            .map_err(|e| self.lost(format!("starting the command: {e}")))?;
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
            .ok_or_else(|| self.lost(format!("{command:?} ended without an exit status")))
    }

    /// Starts `command` with its stdin fed from `stdin` and its output streamed to
    /// `stdout`/`stderr`; returns once it runs. The returned future yields the exit status
    /// after the output is written and closed.
    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<Input>,
        mut stdout: Option<Output>,
        mut stderr: Option<Output>,
    ) -> Result<Exit> {
        let (mut read, write) = self.open(command).await?;
        let feeder = tokio::spawn(async move {
            if let Some(mut input) = stdin {
                let _ = write.data(&mut input).await;
            }
            let _ = write.eof().await;
            // The write half stays alive until the command ends.
            write
        });
        let watch = self.watch.clone();
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
                        // here; any non-zero status fails the caller.
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
                watch.lost("the SSH connection ended before the command reported an exit status")
            })
        }))
    }
}

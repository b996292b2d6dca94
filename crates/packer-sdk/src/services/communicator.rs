//! The `Communicator` we serve to Packer's provisioners, over a Rust trait.
//!
//! Wire facts (packer-plugin-sdk `rpc/communicator.go`): Packer calls
//! `Communicator.Start({Command, StdinStreamId, StdoutStreamId, StderrStreamId,
//! ResponseStreamId})`; ids of 0 mean "no such stream". Packer *accepts* those ids, so we
//! dial each, then reply to `Start` as soon as the command runs. When it exits we close
//! stdout/stderr (Packer waits for their EOF) and write the exit status on the response
//! stream as a gob `CommandFinished{ExitStatus int}`, then close it. `Upload({Path,
//! ReaderStreamId, FileInfo})`: we dial the reader stream and read the file until EOF.
//! `Download({Path, WriterStreamId})`: we dial and write the file, then close. `UploadDir`
//! and `DownloadDir({Dst, Src, Exclude})` carry paths only (Src/Dst on the Packer host are
//! local to the plugin too).

use std::{future::Future, pin::Pin, sync::Arc};

use async_trait::async_trait;
use rmpv::Value;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::ui::Ui;
use crate::{
    codec::map_get,
    gob,
    mux_broker::MuxBroker,
    rpc::{Handler, HandlerResult},
    value::{field_str, field_str_list, field_u32},
    BoxError,
};

/// Exit status reported when the command's connection was lost
/// (packer-plugin-sdk's `CmdDisconnect`; the shell provisioner's `expect_disconnect` uses it).
pub const CMD_DISCONNECT: i32 = 2_300_218;

/// How long output may keep flowing after a command's exit status is known.
const OUTPUT_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A readable byte stream handed to a communicator.
pub type ByteReader = Box<dyn AsyncRead + Send + Unpin>;
/// A writable byte stream handed to a communicator.
pub type ByteWriter = Box<dyn AsyncWrite + Send + Unpin>;
/// Resolves to a started command's exit status.
pub type ExitFuture = Pin<Box<dyn Future<Output = Result<i32, BoxError>> + Send>>;

/// A command to run on the machine being built.
pub struct RemoteCommand {
    /// The shell command line, as the provisioner built it.
    pub command: String,
    /// Data for the command's stdin, if Packer provides any.
    pub stdin: Option<ByteReader>,
    /// Where the command's stdout goes (shown in Packer's output). Drop it when done.
    pub stdout: Option<ByteWriter>,
    /// Where the command's stderr goes. Drop it when done.
    pub stderr: Option<ByteWriter>,
}

impl std::fmt::Debug for RemoteCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteCommand")
            .field("command", &self.command)
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .finish()
    }
}

/// File metadata Packer sends with an upload (`os.FileInfo` reduced to name, size, mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// Base name of the source file.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits (permission bits in the low 9).
    pub mode: u32,
}

/// Talks to the machine being built. Implemented by the builder (e.g. over SSH) and served to
/// Packer's provisioners by [`crate::Hook::run_provision`].
#[async_trait]
pub trait Communicator: Send + Sync + 'static {
    /// Starts `cmd` and returns once it runs; the returned future yields its exit status.
    /// Return `Err` only if it could not be started. The future should finish writing and drop
    /// `stdout`/`stderr` before it resolves.
    async fn start(&self, cmd: RemoteCommand) -> Result<ExitFuture, BoxError>;

    /// Writes everything read from `data` to the remote file `path`.
    async fn upload(
        &self,
        path: &str,
        data: &mut (dyn AsyncRead + Send + Unpin),
        info: Option<FileInfo>,
    ) -> Result<(), BoxError>;

    /// Copies the local directory `src` to the remote `dst` (rsync semantics: a `src` without a
    /// trailing slash creates `dst/<basename>`), skipping `exclude` patterns.
    async fn upload_dir(&self, dst: &str, src: &str, exclude: &[String]) -> Result<(), BoxError>;

    /// Writes the remote file `path` into `out`.
    async fn download(
        &self,
        path: &str,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), BoxError>;

    /// Copies the remote directory `src` to the local `dst`.
    async fn download_dir(&self, src: &str, dst: &str, exclude: &[String]) -> Result<(), BoxError>;
}

/// Serves `Communicator.*` on a hook stream and forwards every `Ui*` call (Say, Message,
/// Error, Machine, Ask, NewTrackProgress and the per-upload `Ui<id>.Add/Close` progress
/// calls) to Packer's own Ui, which is what the Go SDK does by registering both on the
/// stream it hands to `Hook.Run`.
pub(crate) struct HookStreamHandler {
    pub(crate) comm: Option<Arc<dyn Communicator>>,
    pub(crate) broker: MuxBroker,
    pub(crate) ui: Ui,
}

fn parse_file_info(v: Option<&Value>) -> Option<FileInfo> {
    let v = v?;
    if v.is_nil() {
        return None;
    }
    Some(FileInfo {
        name: field_str(v, "N"),
        size: map_get(v, "S").and_then(Value::as_i64).unwrap_or(0),
        mode: field_u32(v, "M"),
    })
}

/// Copies a pipe into a brokered stream, then closes the stream (FIN) so Packer sees EOF.
async fn pump<R, W>(mut from: R, mut to: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if let Err(e) = tokio::io::copy(&mut from, &mut to).await {
        tracing::debug!("output stream copy ended: {e}");
    }
    let _ = to.shutdown().await;
}

impl HookStreamHandler {
    fn comm(&self) -> Result<&Arc<dyn Communicator>, String> {
        self.comm
            .as_ref()
            .ok_or_else(|| "this build has no communicator".to_string())
    }

    async fn start(&self, args: Value) -> HandlerResult {
        let comm = self.comm()?.clone();
        let command = field_str(&args, "Command");
        let dial = |key: &str| {
            let id = field_u32(&args, key);
            let broker = self.broker.clone();
            async move {
                if id == 0 {
                    Ok(None)
                } else {
                    broker.dial(id).await.map(Some)
                }
            }
        };
        let err = |e: crate::Error| e.to_string();
        let stdin = dial("StdinStreamId").await.map_err(err)?;
        let stdout = dial("StdoutStreamId").await.map_err(err)?;
        let stderr = dial("StderrStreamId").await.map_err(err)?;
        let mut response = self
            .broker
            .dial(field_u32(&args, "ResponseStreamId"))
            .await
            .map_err(err)?;

        // The command gets pipe ends; the SDK owns the brokered streams so it can close them
        // properly (a dropped yamux stream would be reset, not closed).
        let mut pumps = Vec::new();
        let stdout_w = stdout.map(|s| {
            let (w, r) = tokio::io::duplex(64 * 1024);
            pumps.push(tokio::spawn(pump(r, s)));
            Box::new(w) as ByteWriter
        });
        let stderr_w = stderr.map(|s| {
            let (w, r) = tokio::io::duplex(64 * 1024);
            pumps.push(tokio::spawn(pump(r, s)));
            Box::new(w) as ByteWriter
        });
        let stdin_r = stdin.map(|s| Box::new(s) as ByteReader);
        tracing::info!("communicator: starting {command:?}");
        let exit = comm
            .start(RemoteCommand {
                command,
                stdin: stdin_r,
                stdout: stdout_w,
                stderr: stderr_w,
            })
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let status = match exit.await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("communicator: command failed without exit status: {e}");
                    CMD_DISCONNECT
                }
            };
            // Output still buffered in the pipes drains first; a communicator that keeps its
            // writers alive after exiting must not hang Packer forever.
            for mut p in pumps {
                if tokio::time::timeout(OUTPUT_DRAIN_TIMEOUT, &mut p)
                    .await
                    .is_err()
                {
                    tracing::warn!("communicator kept its output open after the command exited");
                    // Dropping the stream resets it, which ends Packer's copy.
                    p.abort();
                }
            }
            tracing::info!("communicator: command exited with {status}");
            let _ = response.write_all(&gob::command_finished(status)).await;
            let _ = response.shutdown().await;
        });
        Ok(Value::Nil)
    }

    async fn upload(&self, args: Value) -> HandlerResult {
        let comm = self.comm()?.clone();
        let path = field_str(&args, "Path");
        let info = parse_file_info(map_get(&args, "FileInfo"));
        let mut stream = self
            .broker
            .dial(field_u32(&args, "ReaderStreamId"))
            .await
            .map_err(|e| e.to_string())?;
        let res = comm.upload(&path, &mut stream, info).await;
        let _ = stream.shutdown().await;
        res.map(|()| Value::Nil).map_err(|e| e.to_string())
    }

    async fn download(&self, args: Value) -> HandlerResult {
        let comm = self.comm()?.clone();
        let path = field_str(&args, "Path");
        let mut stream = self
            .broker
            .dial(field_u32(&args, "WriterStreamId"))
            .await
            .map_err(|e| e.to_string())?;
        let res = comm.download(&path, &mut stream).await;
        let _ = stream.shutdown().await;
        res.map(|()| Value::Nil).map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Handler for HookStreamHandler {
    async fn call(&self, method: &str, body: Value) -> HandlerResult {
        match method {
            "Communicator.Start" => self.start(body).await,
            "Communicator.Upload" => self.upload(body).await,
            "Communicator.Download" => self.download(body).await,
            "Communicator.UploadDir" => {
                let comm = self.comm()?;
                comm.upload_dir(
                    &field_str(&body, "Dst"),
                    &field_str(&body, "Src"),
                    &field_str_list(&body, "Exclude"),
                )
                .await
                .map(|()| Value::Nil)
                .map_err(|e| e.to_string())
            }
            "Communicator.DownloadDir" => {
                let comm = self.comm()?;
                comm.download_dir(
                    &field_str(&body, "Src"),
                    &field_str(&body, "Dst"),
                    &field_str_list(&body, "Exclude"),
                )
                .await
                .map(|()| Value::Nil)
                .map_err(|e| e.to_string())
            }
            m if m.starts_with("Ui") => match self.ui.client().call(m, body).await {
                Ok(v) => Ok(v),
                Err(crate::Error::Remote { message, .. }) => Err(message),
                Err(e) => Err(e.to_string()),
            },
            other => Err(format!("rpc: can't find method {other}")),
        }
    }
}

//! Packer's `Communicator` (what provisioners call through `packer_provision`) served from
//! an [`ssh_communicator::Session`]: this file only translates between the two.

use packer_sdk::{async_trait, BoxError, Communicator, ExitFuture, FileInfo, RemoteCommand};
use ssh_communicator::Session;
use tokio::io::{AsyncRead, AsyncWrite};

/// The build's SSH session, as Packer's communicator.
#[derive(Debug)]
pub struct SshCommunicator(Session);

impl SshCommunicator {
    /// Serves `session` to Packer.
    pub fn new(session: Session) -> Self {
        Self(session)
    }

    /// The session, for the builder's own commands (e.g. clearing `authorized_keys`).
    pub fn session(&self) -> &Session {
        &self.0
    }
}

fn boxed(e: ssh_communicator::Error) -> BoxError {
    Box::new(e)
}

#[async_trait]
impl Communicator for SshCommunicator {
    async fn start(&self, cmd: RemoteCommand) -> Result<ExitFuture, BoxError> {
        let exit = self
            .0
            .exec(&cmd.command, cmd.stdin, cmd.stdout, cmd.stderr)
            .await
            .map_err(boxed)?;
        Ok(Box::pin(async move { exit.await.map_err(boxed) }))
    }

    async fn upload(
        &self,
        path: &str,
        data: &mut (dyn AsyncRead + Send + Unpin),
        info: Option<FileInfo>,
    ) -> Result<(), BoxError> {
        // Packer sends the size in FileInfo, so the data streams.
        let size = info.as_ref().and_then(|i| u64::try_from(i.size).ok());
        let mode = info.map(|i| i.mode);
        self.0.upload(path, data, size, mode).await.map_err(boxed)
    }

    async fn upload_dir(&self, dst: &str, src: &str, exclude: &[String]) -> Result<(), BoxError> {
        self.0.upload_dir(dst, src, exclude).await.map_err(boxed)
    }

    async fn download(
        &self,
        path: &str,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), BoxError> {
        self.0.download(path, out).await.map_err(boxed)
    }

    async fn download_dir(&self, src: &str, dst: &str, exclude: &[String]) -> Result<(), BoxError> {
        self.0.download_dir(src, dst, exclude).await.map_err(boxed)
    }
}

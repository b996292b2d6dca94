//! An SSH client for the machine being built: what Packer's SSH communicator does, on
//! `russh`, with nothing cloud- or Packer-protocol-specific in it.
//!
//! - [`Session::connect_with_retry`]: connect until the machine answers (or the time is
//!   up, or the login is refused too often), directly or through a bastion host
//!   ([`Target::bastion`], a `direct-tcpip` channel as OpenSSH's `ProxyJump`), with keys,
//!   passwords or the SSH agent ([`Auth`]), keepalives and a read/write timeout that drops
//!   a connection gone silent.
//! - [`Session::exec`]: a command with stdin, streamed stdout/stderr and its exit status.
//! - [`Session::upload`], [`Session::upload_dir`], [`Session::download`],
//!   [`Session::download_dir`]: files and directories with `scp` (the remote `scp -t`/`-f`)
//!   or the `sftp` subsystem ([`Transfer`]), exclude patterns and rsync's trailing-slash
//!   rule for directories.
//!
//! Host keys are not checked: a freshly deployed machine's key is unknown, as in Packer.

mod auth;
mod error;
mod scp;
mod session;
mod sftp;
mod timeout;
mod walk;

use tokio::io::{AsyncRead, AsyncWrite};

pub use auth::{public_key_blob, Auth};
pub use error::{Error, Result};
pub use session::{Endpoint, Exit, Input, Output, Retry, Session, Target, Transfer};

/// The mode of an uploaded file when the caller gives none.
const DEFAULT_MODE: u32 = 0o644;

impl Session {
    /// Writes everything read from `data` to the remote file `path`, with permission bits
    /// `mode` (default 0644). `size`, when known, lets scp stream instead of buffering.
    pub async fn upload(
        &self,
        path: &str,
        data: &mut (dyn AsyncRead + Send + Unpin),
        size: Option<u64>,
        mode: Option<u32>,
    ) -> Result<()> {
        if path.is_empty() || path.ends_with('/') {
            return Err(Error::Transfer(format!(
                "upload destination {path:?} names a directory, not a file"
            )));
        }
        let mode = mode
            .map(|m| m & 0o777)
            .filter(|m| *m != 0)
            .unwrap_or(DEFAULT_MODE);
        match self.transfer {
            Transfer::Scp => scp::upload(self, path, data, size, mode).await,
            Transfer::Sftp => sftp::upload(self, path, data, mode).await,
        }
        .map_err(Error::during(format!("uploading {path}")))
    }

    /// Copies the local directory `src` to the remote `dst`: without a trailing slash `src`
    /// itself lands in `dst`, with one its contents do; `exclude` patterns (`*`, `?`, by
    /// relative path or base name) are skipped.
    pub async fn upload_dir(&self, dst: &str, src: &str, exclude: &[String]) -> Result<()> {
        match self.transfer {
            Transfer::Scp => scp::upload_dir(self, dst, src, exclude).await,
            Transfer::Sftp => sftp::upload_dir(self, dst, src, exclude).await,
        }
        .map_err(Error::during(format!("uploading {src} to {dst}")))
    }

    /// Writes the remote file `path` into `out`.
    pub async fn download(
        &self,
        path: &str,
        out: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<()> {
        match self.transfer {
            Transfer::Scp => scp::download(self, path, out).await,
            Transfer::Sftp => sftp::download(self, path, out).await,
        }
        .map_err(Error::during(format!("downloading {path}")))
    }

    /// Copies the contents of the remote directory `src` into the local `dst`, skipping
    /// `exclude` patterns.
    pub async fn download_dir(&self, src: &str, dst: &str, exclude: &[String]) -> Result<()> {
        match self.transfer {
            Transfer::Scp => scp::download_dir(self, src, dst, exclude).await,
            Transfer::Sftp => sftp::download_dir(self, src, dst, exclude).await,
        }
        .map_err(Error::during(format!("downloading {src} to {dst}")))
    }
}

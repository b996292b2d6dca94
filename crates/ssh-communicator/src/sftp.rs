//! File transfer over the `sftp` subsystem (`ssh_file_transfer_method = "sftp"`), with
//! `russh-sftp`: for machines whose login has no `scp` (an `internal-sftp` jail, a minimal
//! image), and the same semantics as [`crate::scp`] otherwise.

use russh_sftp::{
    client::SftpSession,
    protocol::{FileAttributes, OpenFlags},
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::{
    error::{Error, Result},
    walk::{excluded, plan, Walk},
    Session,
};

fn sftp_err(what: String) -> impl FnOnce(russh_sftp::client::error::Error) -> Error {
    move |e| Error::Transfer(format!("{what}: {e}"))
}

fn with_mode(mode: u32) -> FileAttributes {
    FileAttributes {
        permissions: Some(mode & 0o7777),
        ..FileAttributes::empty()
    }
}

/// Starts the `sftp` subsystem on a new channel.
async fn open(s: &Session) -> Result<SftpSession> {
    let channel = s
        .handle
        .channel_open_session()
        .await
        .map_err(|e| s.lost(format!("opening a session channel: {e}")))?;
    channel
        .request_subsystem(true, "sftp")
        .await
        .map_err(|e| s.lost(format!("starting the sftp subsystem: {e}")))?;
    SftpSession::new(channel.into_stream()).await.map_err(|e| {
        Error::Transfer(format!(
            "{} did not start an sftp server ({e}); is the sftp subsystem enabled in its \
             sshd_config, or use scp",
            s.target
        ))
    })
}

/// Creates `dir` on the remote unless it is already a directory.
async fn mkdir(sftp: &SftpSession, dir: &str, mode: Option<u32>) -> Result<()> {
    if let Ok(meta) = sftp.metadata(dir).await {
        if meta.is_dir() {
            return Ok(());
        }
        return Err(Error::Transfer(format!(
            "{dir} exists and is not a directory"
        )));
    }
    sftp.create_dir(dir)
        .await
        .map_err(sftp_err(format!("creating {dir}")))?;
    if let Some(mode) = mode {
        sftp.set_metadata(dir, with_mode(mode))
            .await
            .map_err(sftp_err(format!("setting the mode of {dir}")))?;
    }
    Ok(())
}

/// `mkdir -p`: every missing component of `dir`.
async fn mkdir_all(sftp: &SftpSession, dir: &str) -> Result<()> {
    let mut path = if dir.starts_with('/') {
        String::from("/")
    } else {
        String::new()
    };
    for part in dir.split('/').filter(|p| !p.is_empty()) {
        if !path.is_empty() && !path.ends_with('/') {
            path.push('/');
        }
        path.push_str(part);
        mkdir(sftp, &path, None).await?;
    }
    Ok(())
}

/// Writes `data` to the remote `path` with permission bits `mode`.
async fn put(
    sftp: &SftpSession,
    path: &str,
    data: &mut (dyn AsyncRead + Send + Unpin),
    mode: u32,
) -> Result<()> {
    let mut file = sftp
        .open_with_flags_and_attributes(
            path,
            OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE,
            with_mode(mode),
        )
        .await
        .map_err(sftp_err(format!("creating {path}")))?;
    tokio::io::copy(data, &mut file)
        .await
        .map_err(|e| Error::Transfer(format!("writing {path}: {e}")))?;
    file.shutdown()
        .await
        .map_err(|e| Error::Transfer(format!("closing {path}: {e}")))?;
    // The server's umask applied at creation; the mode asked for is what counts.
    sftp.set_metadata(path, with_mode(mode))
        .await
        .map_err(sftp_err(format!("setting the mode of {path}")))
}

pub(crate) async fn upload(
    s: &Session,
    path: &str,
    data: &mut (dyn AsyncRead + Send + Unpin),
    mode: u32,
) -> Result<()> {
    let sftp = open(s).await?;
    let res = put(&sftp, path, data, mode).await;
    let _ = sftp.close().await;
    res
}

pub(crate) async fn upload_dir(
    s: &Session,
    dst: &str,
    src: &str,
    exclude: &[String],
) -> Result<()> {
    let plan = plan(src, exclude)?;
    let sftp = open(s).await?;
    let res = async {
        mkdir_all(&sftp, dst).await?;
        let mut dirs = vec![dst.trim_end_matches('/').to_owned()];
        for step in plan {
            let here = dirs.last().cloned().unwrap_or_default();
            match step {
                Walk::Enter(name, mode) => {
                    let dir = format!("{here}/{name}");
                    mkdir(&sftp, &dir, Some(mode)).await?;
                    dirs.push(dir);
                }
                Walk::Leave => {
                    dirs.pop();
                }
                Walk::File(path, name, mode, _) => {
                    let mut f = tokio::fs::File::open(&path)
                        .await
                        .map_err(Error::io(format!("opening {path:?}")))?;
                    put(&sftp, &format!("{here}/{name}"), &mut f, mode).await?;
                }
            }
        }
        Ok::<(), Error>(())
    }
    .await;
    let _ = sftp.close().await;
    res
}

pub(crate) async fn download(
    s: &Session,
    path: &str,
    out: &mut (dyn AsyncWrite + Send + Unpin),
) -> Result<()> {
    let sftp = open(s).await?;
    let res = async {
        let mut file = sftp
            .open(path)
            .await
            .map_err(sftp_err(format!("opening {path}")))?;
        tokio::io::copy(&mut file, out)
            .await
            .map_err(|e| Error::Transfer(format!("reading {path}: {e}")))?;
        Ok::<(), Error>(())
    }
    .await;
    let _ = sftp.close().await;
    res
}

pub(crate) async fn download_dir(
    s: &Session,
    src: &str,
    dst: &str,
    exclude: &[String],
) -> Result<()> {
    let sftp = open(s).await?;
    let res = async {
        // (remote directory, local directory, path relative to src)
        let mut todo = vec![(
            src.trim_end_matches('/').to_owned(),
            std::path::PathBuf::from(dst),
            String::new(),
        )];
        while let Some((remote, local, rel)) = todo.pop() {
            tokio::fs::create_dir_all(&local)
                .await
                .map_err(Error::io(format!("creating {local:?}")))?;
            let entries = sftp
                .read_dir(remote.as_str())
                .await
                .map_err(sftp_err(format!("listing {remote}")))?;
            for entry in entries {
                let name = entry.file_name();
                if name == "." || name == ".." || name.contains('/') {
                    continue;
                }
                let rel_name = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let remote_path = format!("{remote}/{name}");
                let kind = entry.file_type();
                if kind.is_dir() {
                    todo.push((remote_path, local.join(&name), rel_name));
                } else if kind.is_file() && !excluded(&rel_name, exclude) {
                    let target = local.join(&name);
                    let mut out = tokio::fs::File::create(&target)
                        .await
                        .map_err(Error::io(format!("creating {target:?}")))?;
                    let mut file = sftp
                        .open(remote_path.as_str())
                        .await
                        .map_err(sftp_err(format!("opening {remote_path}")))?;
                    tokio::io::copy(&mut file, &mut out)
                        .await
                        .map_err(|e| Error::Transfer(format!("reading {remote_path}: {e}")))?;
                    out.flush()
                        .await
                        .map_err(Error::io(format!("writing {target:?}")))?;
                }
            }
        }
        Ok::<(), Error>(())
    }
    .await;
    let _ = sftp.close().await;
    res
}

//! File transfer with the classic `scp` protocol against the remote `scp -t` (sink) /
//! `scp -f` (source), which is what Packer's Go communicator does by default and what every
//! OpenSSH server has; the protocol is a handful of text records.

use std::{collections::VecDeque, path::PathBuf};

use russh::{client, ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{
    error::{Error, Result},
    walk::{excluded, plan, Walk},
    Session,
};

/// Quotes `s` for a POSIX shell.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// One `scp` session: the remote `scp -t`/`-f` on an exec channel.
#[allow(missing_debug_implementations)]
struct Scp {
    read: ChannelReadHalf,
    write: ChannelWriteHalf<client::Msg>,
    buf: VecDeque<u8>,
    stderr: Vec<u8>,
    exit: Option<u32>,
    closed: bool,
}

impl Scp {
    async fn open(comm: &Session, command: &str) -> Result<Self> {
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

/// Writes `data` to the remote file `path`. With `size` the data streams (a source that
/// does not match it fails); without it the data is read into memory first, since scp
/// announces the size before the bytes.
pub(crate) async fn upload(
    s: &Session,
    path: &str,
    data: &mut (dyn AsyncRead + Send + Unpin),
    size: Option<u64>,
    mode: u32,
) -> Result<()> {
    let mut bytes = Vec::new();
    if size.is_none() {
        data.read_to_end(&mut bytes)
            .await
            .map_err(Error::io(format!("reading data for {path}")))?;
    }
    // The sink writes to the target itself when it is not a directory, so the full path
    // is given (the record's name only matters when the target is a directory).
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut scp = Scp::open(s, &format!("scp -t -- {}", sh_quote(path))).await?;
    let res = async {
        scp.ack().await?;
        match size {
            Some(size) => {
                scp.send_file(name, mode, size, data).await?;
                let mut extra = [0u8; 1];
                let n = data
                    .read(&mut extra)
                    .await
                    .map_err(Error::io(format!("reading data for {path}")))?;
                if n > 0 {
                    return Err(Error::Transfer(format!(
                        "the source is longer than the {size} bytes announced"
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
    res?;
    scp.finish().await
}

/// Copies the local directory `src` into the remote `dst` (see [`plan`]).
pub(crate) async fn upload_dir(
    s: &Session,
    dst: &str,
    src: &str,
    exclude: &[String],
) -> Result<()> {
    let plan = plan(src, exclude)?;
    let (code, out) = s.run(&format!("mkdir -p -- {}", sh_quote(dst))).await?;
    if code != 0 {
        return Err(Error::Transfer(format!(
            "creating {dst} on the remote failed: {}",
            out.trim()
        )));
    }
    let mut scp = Scp::open(s, &format!("scp -r -t -- {}", sh_quote(dst))).await?;
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
    res?;
    scp.finish().await
}

/// Writes the remote file `path` into `out`.
pub(crate) async fn download(
    s: &Session,
    path: &str,
    out: &mut (dyn AsyncWrite + Send + Unpin),
) -> Result<()> {
    let mut scp = Scp::open(s, &format!("scp -f -- {}", sh_quote(path))).await?;
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
    res?;
    scp.finish().await
}

/// Copies the remote directory `src`'s contents into the local `dst`, skipping `exclude`.
pub(crate) async fn download_dir(
    s: &Session,
    src: &str,
    dst: &str,
    exclude: &[String],
) -> Result<()> {
    let mut scp = Scp::open(s, &format!("scp -r -f -- {}", sh_quote(src))).await?;
    let root = PathBuf::from(dst);
    let res = async {
        scp.send(&[0]).await?;
        // `stack` holds the local directory and relative path of each open D record; the
        // top-level record is `src` itself and maps to `dst`.
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
    res?;
    scp.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_records() {
        assert_eq!(sh_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(
            parse_record("C0644 12 a file").ok(),
            Some((0o644, 12, "a file".to_string()))
        );
        assert!(parse_record("C0644 12 ../x").is_err());
        assert!(parse_record("C0644 x y").is_err());
        assert!(parse_record("D0755 0 ..").is_err());
    }
}

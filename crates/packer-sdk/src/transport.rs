//! yamux over the plugin socket, with the plugin as the yamux **server** (Packer dials).
//!
//! rust-yamux's `Connection` only makes progress while it is polled, so one task owns it
//! and polls inbound and outbound together: inbound streams go out on a channel, and
//! requests to open a stream come in on another. hashicorp/yamux interop: stream windows
//! start at 256 KiB on both sides, rust-yamux answers Packer's keepalive pings with a ping
//! ACK echoing the nonce, and sends window updates as the application reads.

use std::{collections::VecDeque, future::poll_fn, task::Poll};

use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::{mpsc, oneshot},
};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

use crate::error::{Error, Result};

/// A yamux stream adapted to tokio's I/O traits.
pub type MuxStream = Compat<yamux::Stream>;

type OpenReply = oneshot::Sender<Result<MuxStream>>;

/// Cheap handle to open outbound streams on the session.
#[derive(Debug, Clone)]
pub struct Session {
    open_tx: mpsc::UnboundedSender<OpenReply>,
}

impl Session {
    /// Opens a new outbound yamux stream.
    pub async fn open(&self) -> Result<MuxStream> {
        let (tx, rx) = oneshot::channel();
        self.open_tx
            .send(tx)
            .map_err(|_| Error::Yamux("session closed".into()))?;
        rx.await
            .map_err(|_| Error::Yamux("session closed".into()))?
    }
}

/// yamux settings that interoperate with hashicorp/yamux's defaults.
fn config() -> yamux::Config {
    // rust-yamux's defaults already use the 256 KiB initial window hashicorp/yamux
    // assumes and grow it with window updates; keep them and only allow many streams
    // (every Ui call, command stream and upload is its own stream).
    let mut cfg = yamux::Config::default();
    cfg.set_max_num_streams(1024);
    cfg
}

/// What starting a side gives: the outbound handle, the receiver of inbound streams (it ends
/// when the connection closes) and the driver task's handle.
pub type Spawned = (
    Session,
    mpsc::UnboundedReceiver<MuxStream>,
    tokio::task::JoinHandle<Result<()>>,
);

/// Starts the yamux server side over `io` (see [`Spawned`] for what it returns).
pub fn spawn_server<T>(io: T) -> Spawned
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    spawn(io, yamux::Mode::Server)
}

/// Starts the yamux client side (what Packer core does); used by tests' scripted peers.
pub fn spawn_client<T>(io: T) -> Spawned
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    spawn(io, yamux::Mode::Client)
}

fn spawn<T>(io: T, mode: yamux::Mode) -> Spawned
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (open_tx, mut open_rx) = mpsc::unbounded_channel::<OpenReply>();
    let (in_tx, in_rx) = mpsc::unbounded_channel();
    let mut conn = yamux::Connection::new(io.compat(), config(), mode);
    let task = tokio::spawn(async move {
        let mut waiting: VecDeque<OpenReply> = VecDeque::new();
        let mut requests_open = true;
        let result = poll_fn(|cx| {
            while requests_open {
                match open_rx.poll_recv(cx) {
                    Poll::Ready(Some(req)) => waiting.push_back(req),
                    Poll::Ready(None) => requests_open = false,
                    Poll::Pending => break,
                }
            }
            while !waiting.is_empty() {
                match conn.poll_new_outbound(cx) {
                    Poll::Ready(Ok(stream)) => {
                        if let Some(reply) = waiting.pop_front() {
                            let _ = reply.send(Ok(stream.compat()));
                        }
                    }
                    Poll::Ready(Err(e)) => {
                        for reply in waiting.drain(..) {
                            let _ = reply.send(Err(Error::Yamux(e.to_string())));
                        }
                        return Poll::Ready(Err(Error::Yamux(e.to_string())));
                    }
                    Poll::Pending => break,
                }
            }
            loop {
                match conn.poll_next_inbound(cx) {
                    Poll::Ready(Some(Ok(stream))) => {
                        // Nobody listening means the plugin is shutting down; drop it.
                        let _ = in_tx.send(stream.compat());
                    }
                    Poll::Ready(Some(Err(e))) => {
                        return Poll::Ready(Err(Error::Yamux(e.to_string())))
                    }
                    Poll::Ready(None) => return Poll::Ready(Ok(())),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await;
        match &result {
            Ok(()) => tracing::debug!("yamux session closed by peer"),
            Err(e) => tracing::debug!("yamux session ended: {e}"),
        }
        result
    });
    (Session { open_tx }, in_rx, task)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A raw hashicorp/yamux frame header: version 0, type, flags, stream id, length.
    fn header(kind: u8, flags: u16, stream: u32, length: u32) -> Vec<u8> {
        let mut h = vec![0, kind];
        h.extend_from_slice(&flags.to_be_bytes());
        h.extend_from_slice(&stream.to_be_bytes());
        h.extend_from_slice(&length.to_be_bytes());
        h
    }

    /// The next ping ACK the session sends, skipping its other frames (rust-yamux sends its
    /// own pings to measure the round trip, and window updates).
    async fn next_ping_ack<R: AsyncRead + Unpin>(rd: &mut R) -> Vec<u8> {
        loop {
            let mut h = [0u8; 12];
            rd.read_exact(&mut h).await.expect("read a frame header");
            let length = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
            match (h[1], u16::from_be_bytes([h[2], h[3]])) {
                (2, flags) if flags & 2 != 0 => return h.to_vec(),
                (0, _) => {
                    let mut payload = vec![0u8; length as usize];
                    rd.read_exact(&mut payload)
                        .await
                        .expect("read a data payload");
                }
                _ => {}
            }
        }
    }

    /// Packer's hashicorp/yamux pings every 30 s and drops the session when a ping goes
    /// unanswered (a long provisioner would die). Instead of waiting for real keep-alives,
    /// speak them byte for byte: a ping SYN with a nonce must come back as a ping ACK with
    /// the same nonce, every time, on an idle session.
    #[tokio::test]
    async fn answers_keepalive_pings_with_their_nonce() {
        const PING: u8 = 2;
        const SYN: u16 = 1;
        const ACK: u16 = 2;
        let (ours, mut packer) = tokio::io::duplex(64 * 1024);
        let (_session, _inbound, _task) = spawn_server(ours);
        for nonce in [1u32, 0xdead_beef, u32::MAX] {
            packer
                .write_all(&header(PING, SYN, 0, nonce))
                .await
                .expect("write ping");
            let ack = tokio::time::timeout(Duration::from_secs(5), next_ping_ack(&mut packer))
                .await
                .expect("a ping ACK within 5 s");
            assert_eq!(ack, header(PING, ACK, 0, nonce), "nonce {nonce:#x}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            /// Whatever bytes the peer sends before hanging up, the session ends (an error or a
            /// clean close), never panics, and opening a stream afterwards is an error.
            #[test]
            fn garbage_ends_the_session_without_a_panic(
                garbage in prop::collection::vec(any::<u8>(), 0..512),
            ) {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let (ours, mut peer) = tokio::io::duplex(1 << 16);
                    let (session, _inbound, task) = spawn_server(ours);
                    let _ = peer.write_all(&garbage).await;
                    drop(peer);
                    tokio::time::timeout(Duration::from_secs(10), task)
                        .await
                        .expect("the session ends when the peer hangs up")
                        .expect("the driver did not panic")
                        .ok();
                    prop_assert!(session.open().await.is_err());
                    Ok(())
                })?;
            }

            /// A ping with any nonce is acknowledged with that nonce.
            #[test]
            fn any_ping_nonce_is_echoed(nonce in any::<u32>()) {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let ack = rt.block_on(async move {
                    let (ours, mut packer) = tokio::io::duplex(1 << 16);
                    let (_session, _inbound, _task) = spawn_server(ours);
                    packer.write_all(&header(2, 1, 0, nonce)).await.expect("write");
                    next_ping_ack(&mut packer).await
                });
                prop_assert_eq!(ack, header(2, 2, 0, nonce));
            }
        }
    }
}

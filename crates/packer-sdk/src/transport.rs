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

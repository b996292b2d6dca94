//! The stream-id broker Packer layers over yamux ("muxBroker" in the Go source).
//!
//! Whoever opens a yamux stream first writes a `u32` little-endian broker id; the side that
//! accepts that id echoes the same 4 bytes as an ack. Id 0 is the main RPC stream; each side
//! hands out its own ids from a counter starting at 1 (ids are only meaningful in the message
//! that announces them, so the two counters never need to agree). A stream that arrives for an
//! id nobody accepts within 5 s is dropped, like the Go broker does.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::{mpsc, oneshot},
};

use crate::{
    error::{Error, Result},
    transport::{MuxStream, Session},
};

/// How long an accept waits for the peer, and an unclaimed inbound stream waits for an accept.
pub const ACCEPT_TIMEOUT: Duration = Duration::from_secs(5);

enum Slot {
    /// Someone called `accept(id)` and waits.
    Waiting(oneshot::Sender<MuxStream>),
    /// The peer dialed `id` before anyone accepted it.
    Arrived(MuxStream),
}

/// Brokers yamux streams by logical id. Cheap to clone.
#[derive(Clone)]
pub struct MuxBroker {
    inner: Arc<Inner>,
}

struct Inner {
    session: Session,
    next_id: AtomicU32,
    slots: Mutex<HashMap<u32, Slot>>,
}

impl std::fmt::Debug for MuxBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MuxBroker")
            .field("next_id", &self.inner.next_id.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl MuxBroker {
    /// Wraps a yamux session; `inbound` is the session's stream of peer-opened streams.
    /// Spawns the task that reads each inbound stream's id.
    pub fn new(session: Session, mut inbound: mpsc::UnboundedReceiver<MuxStream>) -> Self {
        let broker = MuxBroker {
            inner: Arc::new(Inner {
                session,
                next_id: AtomicU32::new(0),
                slots: Mutex::new(HashMap::new()),
            }),
        };
        let b = broker.clone();
        tokio::spawn(async move {
            while let Some(stream) = inbound.recv().await {
                let b = b.clone();
                tokio::spawn(async move { b.route_inbound(stream).await });
            }
        });
        broker
    }

    /// A fresh id from this side's counter (first is 1; 0 is the main stream).
    pub fn next_id(&self) -> u32 {
        self.inner.next_id.fetch_add(1, Ordering::SeqCst) + 1
    }

    async fn route_inbound(&self, mut stream: MuxStream) {
        let mut id = [0u8; 4];
        match tokio::time::timeout(ACCEPT_TIMEOUT, stream.read_exact(&mut id)).await {
            Ok(Ok(_)) => {}
            _ => {
                tracing::debug!("inbound stream closed before sending its broker id");
                return;
            }
        }
        let id = u32::from_le_bytes(id);
        let unclaimed = {
            let mut slots = self.lock_slots();
            match slots.remove(&id) {
                Some(Slot::Waiting(tx)) => match tx.send(stream) {
                    Ok(()) => false,
                    // The acceptor gave up meanwhile; keep the stream for a later accept.
                    Err(stream) => {
                        slots.insert(id, Slot::Arrived(stream));
                        true
                    }
                },
                Some(Slot::Arrived(_old)) => {
                    tracing::warn!("broker id {id} dialed twice; dropping the older stream");
                    slots.insert(id, Slot::Arrived(stream));
                    true
                }
                None => {
                    slots.insert(id, Slot::Arrived(stream));
                    true
                }
            }
        };
        if unclaimed {
            // Expire the unclaimed stream after the timeout.
            let b = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(ACCEPT_TIMEOUT).await;
                let mut slots = b.lock_slots();
                if matches!(slots.get(&id), Some(Slot::Arrived(_))) {
                    tracing::debug!("broker id {id} never accepted; dropping it");
                    slots.remove(&id);
                }
            });
        }
    }

    fn lock_slots(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Slot>> {
        // A poisoned lock only means another task panicked mid-update; the map is still usable.
        self.inner
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits up to 5 s for the peer to dial `id`, then acknowledges it.
    pub async fn accept(&self, id: u32) -> Result<MuxStream> {
        let rx = {
            let mut slots = self.lock_slots();
            match slots.remove(&id) {
                Some(Slot::Arrived(stream)) => Ok(stream),
                Some(Slot::Waiting(_)) | None => {
                    let (tx, rx) = oneshot::channel();
                    slots.insert(id, Slot::Waiting(tx));
                    Err(rx)
                }
            }
        };
        let mut stream = match rx {
            Ok(stream) => stream,
            Err(rx) => match tokio::time::timeout(ACCEPT_TIMEOUT, rx).await {
                Ok(Ok(stream)) => stream,
                _ => {
                    let mut slots = self.lock_slots();
                    if matches!(slots.get(&id), Some(Slot::Waiting(_))) {
                        slots.remove(&id);
                    }
                    return Err(Error::Broker(format!(
                        "timeout waiting for accept of id {id}"
                    )));
                }
            },
        };
        stream.write_all(&id.to_le_bytes()).await?;
        stream.flush().await?;
        Ok(stream)
    }

    /// Opens a stream to the peer's `id` and waits for its ack.
    pub async fn dial(&self, id: u32) -> Result<MuxStream> {
        let mut stream = self.inner.session.open().await?;
        stream.write_all(&id.to_le_bytes()).await?;
        stream.flush().await?;
        let mut ack = [0u8; 4];
        tokio::time::timeout(ACCEPT_TIMEOUT * 2, stream.read_exact(&mut ack))
            .await
            .map_err(|_| Error::Broker(format!("no ack for dial of id {id}")))??;
        let ack = u32::from_le_bytes(ack);
        if ack != id {
            return Err(Error::Broker(format!("bad ack: {ack} (expected {id})")));
        }
        Ok(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport;

    fn pair() -> (MuxBroker, MuxBroker) {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (sa, ia, _) = transport::spawn_server(a);
        let (sb, ib, _) = transport::spawn_client(b);
        (MuxBroker::new(sa, ia), MuxBroker::new(sb, ib))
    }

    #[tokio::test]
    async fn ids_start_at_one() {
        let (a, _b) = pair();
        assert_eq!(a.next_id(), 1);
        assert_eq!(a.next_id(), 2);
    }

    #[tokio::test]
    async fn dial_then_accept_and_accept_then_dial() {
        let (server, client) = pair();
        // Accept first, dial later.
        let acc = tokio::spawn({
            let s = server.clone();
            async move { s.accept(7).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut c = client.dial(7).await.unwrap();
        let mut s = acc.await.unwrap().unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        // Dial first (the stream waits in the broker), accept later.
        let dialer = tokio::spawn({
            let c = client.clone();
            async move { c.dial(9).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut s9 = server.accept(9).await.unwrap();
        let mut c9 = dialer.await.unwrap().unwrap();
        s9.write_all(b"pong").await.unwrap();
        c9.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
    }

    #[tokio::test]
    async fn wire_bytes_are_little_endian_id_and_echo() {
        let (server, client) = pair();
        // Dial id 0x01020304 and look at what the acceptor receives: the broker consumed
        // the id, so check the ack instead by dialing raw through the session.
        let raw = client.inner.session.open().await.unwrap();
        let mut raw = raw;
        raw.write_all(&[4, 3, 2, 1]).await.unwrap();
        let accepted = server.accept(0x0102_0304).await;
        assert!(accepted.is_ok());
        let mut ack = [0u8; 4];
        raw.read_exact(&mut ack).await.unwrap();
        assert_eq!(ack, [4, 3, 2, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn accept_times_out_after_five_seconds() {
        let (server, _client) = pair();
        let started = tokio::time::Instant::now();
        let err = server.accept(42).await.unwrap_err();
        assert!(matches!(err, Error::Broker(_)), "{err}");
        assert!(started.elapsed() >= ACCEPT_TIMEOUT);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(24))]

            /// Any broker id (the 4-byte little-endian prefix) reaches its acceptor, is
            /// acknowledged, and the stream then carries data both ways unchanged.
            #[test]
            fn any_id_round_trips(id in any::<u32>(), payload in prop::collection::vec(any::<u8>(), 1..256)) {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let (there, back) = rt.block_on(async move {
                    let (server, client) = pair();
                    let accepted = tokio::spawn(async move { server.accept(id).await });
                    let mut c = client.dial(id).await.expect("dial");
                    let mut s = accepted.await.expect("no panic").expect("accept");
                    c.write_all(&payload).await.expect("write");
                    let mut there = vec![0u8; payload.len()];
                    s.read_exact(&mut there).await.expect("read");
                    s.write_all(&there).await.expect("echo");
                    let mut back = vec![0u8; payload.len()];
                    c.read_exact(&mut back).await.expect("read echo");
                    (there == payload, back == payload)
                });
                prop_assert!(there && back);
            }

            /// An inbound stream that sends fewer than 4 id bytes and hangs up is dropped
            /// quietly; the broker goes on brokering.
            #[test]
            fn short_ids_are_dropped(short in prop::collection::vec(any::<u8>(), 0..4)) {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let ok = rt.block_on(async move {
                    let (server, client) = pair();
                    let mut raw = client.inner.session.open().await.expect("open");
                    raw.write_all(&short).await.expect("write");
                    raw.shutdown().await.expect("close");
                    drop(raw);
                    let accepted = tokio::spawn({
                        let s = server.clone();
                        async move { s.accept(77).await }
                    });
                    let dialed = client.dial(77).await;
                    dialed.is_ok() && accepted.await.map(|r| r.is_ok()).unwrap_or(false)
                });
                prop_assert!(ok);
            }
        }
    }
}

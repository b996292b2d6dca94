//! Go `net/rpc` over one byte stream: a server that dispatches by `ServiceMethod` and a
//! client that matches replies by `Seq`. Both allow many calls in flight on one stream
//! (Packer sends `Builder.Cancel` while `Builder.Run` is still pending).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use async_trait::async_trait;
use rmpv::Value;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf},
    sync::oneshot,
};

use crate::{
    codec::{self, CodecError, Header},
    error::{Error, Result},
};

/// Reads header+body messages from a byte stream.
struct MessageReader<R> {
    rd: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> MessageReader<R> {
    fn new(rd: R) -> Self {
        Self {
            rd,
            buf: Vec::with_capacity(8 * 1024),
        }
    }

    /// The next message, or `None` at a clean end of stream.
    async fn next(&mut self) -> Result<Option<(Header, Value)>> {
        loop {
            match codec::decode_message(&self.buf) {
                Ok((h, body, used)) => {
                    self.buf.drain(..used);
                    return Ok(Some((h, body)));
                }
                Err(CodecError::Incomplete) => {}
                Err(e) => return Err(e.into()),
            }
            if self.buf.len() > codec::MAX_MESSAGE_BYTES {
                return Err(CodecError::Invalid("message too large".into()).into());
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.rd.read(&mut chunk).await?;
            if n == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(Error::Closed)
                };
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

type SharedWriter<W> = Arc<tokio::sync::Mutex<W>>;

async fn write_all<W: AsyncWrite + Unpin>(w: &SharedWriter<W>, bytes: &[u8]) -> Result<()> {
    let mut w = w.lock().await;
    w.write_all(bytes).await?;
    w.flush().await?;
    Ok(())
}

/// What an RPC handler returns: a reply body, or an error string for the response header.
pub type HandlerResult = std::result::Result<Value, String>;

/// A set of RPC methods served on one stream.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles one call; `method` is the full `Service.Method`.
    async fn call(&self, method: &str, body: Value) -> HandlerResult;
}

/// Serves RPC requests from `io` until the peer closes it. Each request runs in its own task.
pub async fn serve<T, H>(io: T, handler: Arc<H>) -> Result<()>
where
    T: AsyncRead + AsyncWrite + Send + 'static,
    H: Handler + ?Sized,
{
    let (rd, wr) = tokio::io::split(io);
    let writer: SharedWriter<WriteHalf<T>> = Arc::new(tokio::sync::Mutex::new(wr));
    let mut reader = MessageReader::new(rd);
    let mut tasks = tokio::task::JoinSet::new();
    let result = loop {
        let (header, body) = match reader.next().await {
            Ok(Some(m)) => m,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let handler = handler.clone();
        let writer = writer.clone();
        tasks.spawn(async move {
            tracing::debug!(method = %header.service_method, seq = header.seq, "rpc request");
            let reply = handler.call(&header.service_method, body).await;
            let bytes = match &reply {
                Ok(v) => codec::encode_response(&header.service_method, header.seq, "", v),
                Err(msg) => {
                    codec::encode_response(&header.service_method, header.seq, msg, &Value::Nil)
                }
            };
            if let Err(e) = write_all(&writer, &bytes).await {
                tracing::debug!("could not write reply to {}: {e}", header.service_method);
            }
        });
        // Reap finished handlers so the set does not grow without bound.
        while tasks.try_join_next().is_some() {}
    };
    // Let in-flight handlers finish writing their replies.
    while tasks.join_next().await.is_some() {}
    let _ = writer.lock().await.shutdown().await;
    result
}

type Pending = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<HandlerResult>>>>>;

/// Calls RPC methods on the peer over one stream. Cheap to clone; calls may overlap.
pub struct Client<T> {
    writer: SharedWriter<WriteHalf<T>>,
    pending: Pending,
    seq: Arc<AtomicU64>,
    reader_task: Arc<tokio::task::JoinHandle<()>>,
}

impl<T> Clone for Client<T> {
    fn clone(&self) -> Self {
        Self {
            writer: self.writer.clone(),
            pending: self.pending.clone(),
            seq: self.seq.clone(),
            reader_task: self.reader_task.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("rpc::Client")
            .field("next_seq", &self.seq.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn lock_pending(
    p: &Pending,
) -> std::sync::MutexGuard<'_, Option<HashMap<u64, oneshot::Sender<HandlerResult>>>> {
    p.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<T> Client<T>
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    /// Starts a client on `io`; a background task reads the replies.
    pub fn new(io: T) -> Self {
        let (rd, wr) = tokio::io::split(io);
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let p = pending.clone();
        let reader_task = tokio::spawn(async move {
            let mut reader: MessageReader<ReadHalf<T>> = MessageReader::new(rd);
            loop {
                match reader.next().await {
                    Ok(Some((header, body))) => {
                        let tx = lock_pending(&p)
                            .as_mut()
                            .and_then(|m| m.remove(&header.seq));
                        let reply = if header.error.is_empty() {
                            Ok(body)
                        } else {
                            Err(header.error)
                        };
                        match tx {
                            Some(tx) => {
                                let _ = tx.send(reply);
                            }
                            None => tracing::debug!("reply for unknown seq {}", header.seq),
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!("rpc client stream failed: {e}");
                        break;
                    }
                }
            }
            // Fail everything still waiting: dropping the senders wakes them with Closed.
            lock_pending(&p).take();
        });
        Client {
            writer: Arc::new(tokio::sync::Mutex::new(wr)),
            pending,
            seq: Arc::new(AtomicU64::new(0)),
            reader_task: Arc::new(reader_task),
        }
    }

    /// Calls `method` with `arg` and waits for the reply body.
    pub async fn call(&self, method: &str, arg: Value) -> Result<Value> {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        match lock_pending(&self.pending).as_mut() {
            Some(map) => {
                map.insert(seq, tx);
            }
            None => return Err(Error::Closed),
        }
        let bytes = codec::encode_request(method, seq, &arg);
        if let Err(e) = write_all(&self.writer, &bytes).await {
            if let Some(map) = lock_pending(&self.pending).as_mut() {
                map.remove(&seq);
            }
            return Err(e);
        }
        match rx.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(message)) => Err(Error::Remote {
                method: method.to_owned(),
                message,
            }),
            Err(_) => Err(Error::Closed),
        }
    }

    /// Closes the write side so the peer's server loop ends.
    pub async fn close(&self) {
        let _ = self.writer.lock().await.shutdown().await;
    }
}

impl<T> Drop for Client<T> {
    fn drop(&mut self) {
        // The last clone stops the reader task.
        if Arc::strong_count(&self.reader_task) == 1 {
            self.reader_task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Echo;

    #[async_trait]
    impl Handler for Echo {
        async fn call(&self, method: &str, body: Value) -> HandlerResult {
            match method {
                "Test.Echo" => Ok(body),
                "Test.Slow" => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok("slow".into())
                }
                "Test.Fail" => Err("it failed".into()),
                other => Err(format!("rpc: can't find method {other}")),
            }
        }
    }

    #[tokio::test]
    async fn client_and_server_round_trip_with_overlapping_calls() {
        let (a, b) = tokio::io::duplex(1024);
        let server = tokio::spawn(serve(a, Arc::new(Echo)));
        let client = Client::new(b);
        let slow = tokio::spawn({
            let c = client.clone();
            async move { c.call("Test.Slow", Value::Nil).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        // A fast call overtakes the slow one on the same stream.
        let started = tokio::time::Instant::now();
        let echoed = client.call("Test.Echo", "hi".into()).await.unwrap();
        assert_eq!(echoed.as_str(), Some("hi"));
        assert!(started.elapsed() < Duration::from_millis(150));
        assert_eq!(slow.await.unwrap().unwrap().as_str(), Some("slow"));
        let err = client.call("Test.Fail", Value::Nil).await.unwrap_err();
        assert!(matches!(err, Error::Remote { ref message, .. } if message == "it failed"));
        client.close().await;
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn server_replies_match_go_wire_format() {
        // A scripted Packer core writes raw request bytes and reads raw replies.
        let (a, mut peer) = tokio::io::duplex(1024);
        tokio::spawn(serve(a, Arc::new(Echo)));
        peer.write_all(&codec::encode_request("Test.Echo", 5, &Value::from(42)))
            .await
            .unwrap();
        let mut buf = vec![0u8; 256];
        let n = peer.read(&mut buf).await.unwrap();
        let (h, body, used) = codec::decode_message(&buf[..n]).unwrap();
        assert_eq!(used, n);
        assert_eq!(
            (h.service_method.as_str(), h.seq, h.error.as_str()),
            ("Test.Echo", 5, "")
        );
        assert_eq!(body.as_i64(), Some(42));
    }

    #[tokio::test]
    async fn invalid_bytes_end_the_server_with_a_codec_error() {
        let (a, mut peer) = tokio::io::duplex(1024);
        let server = tokio::spawn(serve(a, Arc::new(Echo)));
        peer.write_all(&[0xc1, 0xc1, 0xc1]).await.unwrap();
        let res = server.await.unwrap();
        assert!(
            matches!(res, Err(Error::Codec(CodecError::Invalid(_)))),
            "{res:?}"
        );
    }

    #[tokio::test]
    async fn pending_calls_fail_when_the_stream_closes() {
        let (a, mut peer) = tokio::io::duplex(1024);
        let client = Client::new(a);
        let call = tokio::spawn({
            let c = client.clone();
            async move { c.call("Ui.Ask", "name?".into()).await }
        });
        let mut buf = vec![0u8; 256];
        let _ = peer.read(&mut buf).await.unwrap();
        drop(peer);
        assert!(matches!(call.await.unwrap(), Err(Error::Closed)));
    }

    mod properties {
        use proptest::prelude::*;
        use tokio::io::AsyncWriteExt as _;

        use super::*;

        /// Feeds `frames` to a server, closes the stream, and returns how the server ended.
        fn serve_bytes(frames: Vec<u8>) -> Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let (a, peer) = tokio::io::duplex(1 << 16);
                let server = tokio::spawn(serve(a, Arc::new(Echo)));
                // Replies are read and dropped so the server never blocks on a full pipe.
                let (mut rd, mut wr) = tokio::io::split(peer);
                let drain = tokio::spawn(async move {
                    let mut sink = Vec::new();
                    let _ = rd.read_to_end(&mut sink).await;
                });
                let _ = wr.write_all(&frames).await;
                let _ = wr.shutdown().await;
                let ended = tokio::time::timeout(Duration::from_secs(10), server)
                    .await
                    .expect("the server ends once the stream closes")
                    .expect("the server task did not panic");
                drain.abort();
                ended
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// Garbage frames end the call with an error (or, when they happen to be valid
            /// requests, are served) and never panic the server.
            #[test]
            fn garbage_frames_end_with_an_error_not_a_panic(
                garbage in prop::collection::vec(any::<u8>(), 1..256),
            ) {
                let whole_messages = {
                    let mut rest = &garbage[..];
                    loop {
                        match codec::decode_message(rest) {
                            Ok((_, _, used)) => rest = &rest[used..],
                            Err(_) => break rest.is_empty(),
                        }
                    }
                };
                let ended = serve_bytes(garbage);
                prop_assert_eq!(ended.is_ok(), whole_messages, "{:?}", ended);
            }

            /// A valid request followed by garbage: the request is answered, then the garbage
            /// ends the server with a codec error.
            #[test]
            fn valid_then_garbage(tail in prop::collection::vec(any::<u8>(), 1..64)) {
                let mut frames = codec::encode_request("Test.Echo", 1, &Value::from("hi"));
                frames.push(0xc1);
                frames.extend(tail);
                let ended = serve_bytes(frames);
                prop_assert!(matches!(ended, Err(Error::Codec(CodecError::Invalid(_)))), "{:?}", ended);
            }
        }
    }
}

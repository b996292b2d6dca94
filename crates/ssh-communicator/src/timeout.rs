//! A stream that fails once the peer has sent nothing for a while, as Go's
//! `ssh_read_write_timeout` connection does: a dead VM (a reboot, a hung kernel) ends the
//! session instead of hanging the build.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::{Instant, Sleep},
};

/// Wraps `S`: a read that waits longer than `timeout` for data fails with `TimedOut`, and
/// so does a write the peer does not take within `timeout`. `fired` records it, so the
/// session can say why it ended.
#[derive(Debug)]
pub(crate) struct TimeoutStream<S> {
    inner: S,
    timeout: Duration,
    read_deadline: Pin<Box<Sleep>>,
    write_deadline: Pin<Box<Sleep>>,
    writing: bool,
    fired: Arc<AtomicBool>,
}

impl<S> TimeoutStream<S> {
    pub(crate) fn new(inner: S, timeout: Duration, fired: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            timeout,
            read_deadline: Box::pin(tokio::time::sleep(timeout)),
            write_deadline: Box::pin(tokio::time::sleep(timeout)),
            writing: false,
            fired,
        }
    }

    fn timed_out(&self, what: &str) -> io::Error {
        self.fired.store(true, Ordering::Relaxed);
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what} took longer than {:?}", self.timeout),
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimeoutStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                let next = Instant::now() + this.timeout;
                this.read_deadline.as_mut().reset(next);
                Poll::Ready(r)
            }
            Poll::Pending => match this.read_deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(this.timed_out("waiting for data"))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> TimeoutStream<S> {
    /// Runs one write-side poll under the write deadline (armed when a write first
    /// waits, cleared when it completes).
    fn guarded<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll(Pin::new(&mut self.inner), cx) {
            Poll::Ready(r) => {
                self.writing = false;
                Poll::Ready(r)
            }
            Poll::Pending => {
                if !self.writing {
                    self.writing = true;
                    let next = Instant::now() + self.timeout;
                    self.write_deadline.as_mut().reset(next);
                }
                match self.write_deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(self.timed_out("sending data"))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimeoutStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.guarded(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.guarded(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_silent_peer_times_out_and_a_talking_one_does_not() {
        let (a, mut b) = tokio::io::duplex(64);
        let fired = Arc::new(AtomicBool::new(false));
        let mut s = TimeoutStream::new(a, Duration::from_millis(400), fired.clone());
        // Data every 150 ms keeps the stream alive well past 400 ms.
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            b.write_all(b"x").await.expect("write");
            let mut one = [0u8; 1];
            s.read_exact(&mut one).await.expect("data arrives");
        }
        assert!(!fired.load(Ordering::Relaxed));
        let mut one = [0u8; 1];
        let err = s.read_exact(&mut one).await.expect_err("silence times out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(fired.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn a_peer_that_takes_nothing_times_out_a_write() {
        let (a, _b) = tokio::io::duplex(4);
        let mut s = TimeoutStream::new(a, Duration::from_millis(200), Arc::default());
        let err = s
            .write_all(b"more than four bytes")
            .await
            .expect_err("a full pipe times out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}

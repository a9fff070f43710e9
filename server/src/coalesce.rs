//! Answers to pipelined requests in one write. hyper writes and flushes each response; over WASI
//! sockets, which cannot set TCP_NODELAY, the second small write of a batch then waits for the
//! client's delayed ACK (~40 ms: the Nagle + delayed-ACK stall). hyper's own `pipeline_flush`
//! would coalesce them, but it also drops the error answer (400, 431) to a request it cannot parse:
//! it skips every flush while unparsed bytes are buffered, then closes. So the coalescing is done
//! here, below hyper: writes are kept until the socket has no more input for hyper (a read would
//! block) and this poll of the connection is over, or until it shuts down; then they leave in one
//! write. One request at a time costs one extra poll of the connection's task, no delay.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Written but not yet sent beyond this, a write waits for the socket (back-pressure).
const MAX_PENDING: usize = 64 * 1024;

/// A stream whose writes leave once its reader has run out of input, at shutdown, or at 64 KiB.
pub struct Coalescing<S> {
    inner: S,
    pending: Vec<u8>,
    /// The last read would have blocked with writes pending: send them at the next poll.
    drain_due: bool,
}

impl<S> Coalescing<S> {
    pub fn new(inner: S) -> Self {
        Coalescing {
            inner,
            pending: Vec::new(),
            drain_due: false,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncWrite + Unpin> Coalescing<S> {
    /// Sends everything pending.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Coalescing<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.drain_due {
            ready!(this.poll_drain(cx))?;
            this.drain_due = false;
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            // No more input to answer. The reader may still be answering requests it buffered in
            // this same poll (hyper reads ahead to detect a closed connection), so the answers
            // leave at the next poll, which this wake asks for.
            Poll::Pending if !this.pending.is_empty() => {
                this.drain_due = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalescing<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.len() >= MAX_PENDING {
            ready!(this.poll_drain(cx))?;
        }
        this.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    /// Kept until the next read or shutdown (see the module comment).
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A stream that records each write it is handed.
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
        input: Vec<u8>,
    }

    impl AsyncRead for Recorder {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            if this.input.is_empty() {
                return Poll::Pending;
            }
            buf.put_slice(&this.input);
            this.input.clear();
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.get_mut().writes.push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn read_once(s: &mut Coalescing<Recorder>) -> Poll<io::Result<usize>> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut space = [0u8; 64];
        let mut buf = ReadBuf::new(&mut space);
        Pin::new(s)
            .poll_read(&mut cx, &mut buf)
            .map_ok(|()| buf.filled().len())
    }

    fn write(s: &mut Coalescing<Recorder>, bytes: &[u8]) {
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(
            Pin::new(&mut *s).poll_write(&mut cx, bytes),
            Poll::Ready(Ok(_))
        ));
        assert!(matches!(
            Pin::new(&mut *s).poll_flush(&mut cx),
            Poll::Ready(Ok(()))
        ));
    }

    #[test]
    fn a_pipelined_batch_is_answered_in_one_write() {
        let mut s = Coalescing::new(Recorder::default());
        // Answers 1..15, then hyper reads ahead (nothing there) while answering the 16th.
        for _ in 0..15 {
            write(&mut s, b"answer;");
        }
        assert!(read_once(&mut s).is_pending());
        write(&mut s, b"last;");
        assert!(
            s.get_ref().writes.is_empty(),
            "nothing leaves within the poll"
        );
        // The next poll: everything leaves together, then the read waits for input.
        assert!(read_once(&mut s).is_pending());
        assert_eq!(s.get_ref().writes.len(), 1);
        assert_eq!(s.get_ref().writes[0].len(), 15 * 7 + 5);
        // Input waiting to be read is read first: its answers will join the next write.
        write(&mut s, b"x");
        s.inner.input = b"GET".to_vec();
        assert!(matches!(read_once(&mut s), Poll::Ready(Ok(3))));
        assert_eq!(s.get_ref().writes.len(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_answer_before_closing_leaves_with_the_shutdown() {
        let (client, server) = tokio::io::duplex(1 << 16);
        let mut server = Coalescing::new(server);
        let mut client = client;
        // e.g. 400 to garbage: written, flushed, then the connection is shut down.
        server.write_all(b"HTTP/1.1 400").await.unwrap();
        server.flush().await.unwrap();
        server.shutdown().await.unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"HTTP/1.1 400");
    }
}

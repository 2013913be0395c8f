//! A connection's hard end: past its age (when it was sent `GOAWAY`) and the
//! grace for calls in flight, the connection fails its reads and writes, and the
//! HTTP/2 server drops it — as grpc-go servers do with `MaxConnectionAgeGrace`.
//! (tonic's own grace closes a connection at age + grace *without* the `GOAWAY`
//! at the age; so the server asks tonic for the `GOAWAY` alone and ends the
//! connection here.)

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// A stream that fails once `ends` has passed (never, without an end).
pub(crate) struct Lifetime<T> {
    inner: T,
    ends: Option<Pin<Box<Sleep>>>,
}

impl<T> Lifetime<T> {
    /// `inner`, ending `after` from now (`None`: never).
    pub(crate) fn new(inner: T, after: Option<Duration>) -> Self {
        Lifetime {
            inner,
            ends: after.map(|after| Box::pin(tokio::time::sleep(after))),
        }
    }

    /// Whether the end has come; registers the task to be woken when it does.
    /// Asked only when the inner stream has nothing to do, so a busy connection
    /// pays nothing for it.
    fn ended(&mut self, cx: &mut Context<'_>) -> bool {
        self.ends.as_mut().is_some_and(|ends| ends.as_mut().poll(cx).is_ready())
    }
}

fn past_its_grace() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "connection closed: past its maximum age and the grace for calls in flight",
    )
}

impl<T: AsyncRead + Unpin> AsyncRead for Lifetime<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Pending if self.ended(cx) => Poll::Ready(Err(past_its_grace())),
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Lifetime<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending if self.ended(cx) => Poll::Ready(Err(past_its_grace())),
            other => other,
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending if self.ended(cx) => Poll::Ready(Err(past_its_grace())),
            other => other,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T: tonic::transport::server::Connected> tonic::transport::server::Connected for Lifetime<T> {
    type ConnectInfo = T::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_quiet_stream_fails_at_its_end_and_a_stream_without_one_does_not() {
        let (_client, server) = tokio::io::duplex(64);
        let mut ending = Lifetime::new(server, Some(Duration::from_millis(50)));
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(Duration::from_secs(5), ending.read(&mut buf)).await;
        let error = read.map_err(|_| "no end").and_then(|r| r.err().ok_or("read succeeded"));
        assert_eq!(error.map(|e| e.kind()), Ok(io::ErrorKind::TimedOut));

        let (_client, server) = tokio::io::duplex(64);
        let mut endless = Lifetime::new(server, None);
        let read = tokio::time::timeout(Duration::from_millis(100), endless.read(&mut buf)).await;
        assert!(read.is_err(), "still waiting for data: {read:?}");
    }

    #[tokio::test]
    async fn data_before_the_end_is_read() -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let (mut client, server) = tokio::io::duplex(64);
        let mut stream = Lifetime::new(server, Some(Duration::from_secs(30)));
        client.write_all(b"hello").await?;
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"hello");
        Ok(())
    }
}

//! A connection must start HTTP/2 in time: after its TLS handshake a client has
//! [`Limits::preface_timeout`](super::limits::Limits) to send the 24-byte HTTP/2
//! preface, or the connection is closed. (hyper's HTTP/2 server waits for it
//! forever, so a client that finishes TLS and then says nothing would hold a
//! connection, a task and its buffers indefinitely.) The preface read here is
//! handed on to the HTTP/2 server unchanged.

use super::limits::HTTP2_PREFACE;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// A stream whose first bytes were read already and are given back first.
pub(crate) struct Rewind<T> {
    prefix: &'static [u8],
    inner: T,
}

/// Reads the HTTP/2 preface from `io` within `timeout`; fails on anything else.
pub(crate) async fn expect_preface<T: AsyncRead + Unpin>(mut io: T, timeout: Duration) -> io::Result<Rewind<T>> {
    let mut preface = [0u8; HTTP2_PREFACE.len()];
    match tokio::time::timeout(timeout, io.read_exact(&mut preface)).await {
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no HTTP/2 preface within {} s", timeout.as_secs_f64()),
        )),
        Ok(Err(error)) => Err(error),
        Ok(Ok(_)) if &preface != HTTP2_PREFACE => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the client did not start HTTP/2 (gRPC needs HTTP/2)",
        )),
        Ok(Ok(_)) => Ok(Rewind {
            prefix: HTTP2_PREFACE,
            inner: io,
        }),
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let (given, rest) = self.prefix.split_at(n);
            buf.put_slice(given);
            self.prefix = rest;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn the_preface_is_given_back_first() -> io::Result<()> {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(HTTP2_PREFACE).await?;
        client.write_all(b"frames").await?;
        drop(client);
        let mut rewound = expect_preface(server, Duration::from_secs(1)).await?;
        let mut all = Vec::new();
        rewound.read_to_end(&mut all).await?;
        assert_eq!(all, [HTTP2_PREFACE.as_slice(), b"frames"].concat());
        Ok(())
    }

    #[tokio::test]
    async fn silence_and_other_protocols_are_refused() {
        let (_client, server) = tokio::io::duplex(64);
        let silent = expect_preface(server, Duration::from_millis(20)).await;
        assert_eq!(silent.err().map(|e| e.kind()), Some(io::ErrorKind::TimedOut));

        let (mut client, server) = tokio::io::duplex(64);
        let _ = client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let http1 = expect_preface(server, Duration::from_secs(1)).await;
        assert_eq!(http1.err().map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
    }
}

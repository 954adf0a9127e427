//! Immediate ACKs while a connection logs in.
//!
//! The stock OpenSSH client leaves Nagle's algorithm on until its session is interactive,
//! so a small packet (its key-exchange init, right after its long KEXINIT) waits until the
//! server has acknowledged what it sent before. Linux delays that ACK (up to 40 ms) hoping
//! to carry it on a reply, and the server has no reply to send until that very packet
//! arrives: most logins stalled ~40 ms in key exchange. `TCP_QUICKACK` makes the kernel
//! ACK at once, but it does not stick (the kernel goes back to delaying once data flows
//! both ways), so it is set again after every read and write until the login is over.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TCP stream that asks for immediate ACKs while `on` is set.
pub struct QuickAck {
    inner: TcpStream,
    on: Arc<AtomicBool>,
}

impl QuickAck {
    /// The stream, and the switch that ends quick ACKs (cleared once logged in).
    pub fn new(inner: TcpStream) -> (QuickAck, Arc<AtomicBool>) {
        let on = Arc::new(AtomicBool::new(true));
        let stream = QuickAck {
            inner,
            on: Arc::clone(&on),
        };
        stream.rearm();
        (stream, on)
    }

    #[cfg(test)]
    fn get_ref(&self) -> &TcpStream {
        &self.inner
    }

    fn rearm(&self) {
        if self.on.load(Ordering::Relaxed) {
            // Best effort: an error only costs the stall this avoids.
            let _ = socket2::SockRef::from(&self.inner).set_tcp_quickack(true);
        }
    }
}

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.rearm();
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.rearm();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.rearm();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn quick_acks_are_asked_for_until_switched_off_and_bytes_pass_unchanged() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(b"hello").await.unwrap();
            let mut back = [0u8; 5];
            c.read_exact(&mut back).await.unwrap();
            back
        });
        let (socket, _) = listener.accept().await.unwrap();
        let (mut s, on) = QuickAck::new(socket);
        let quick = |s: &QuickAck| socket2::SockRef::from(s.get_ref()).tcp_quickack().unwrap();
        assert!(quick(&s));
        let mut got = [0u8; 5];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        on.store(false, Ordering::Relaxed);
        s.write_all(b"world").await.unwrap();
        assert_eq!(&client.await.unwrap(), b"world");
    }
}

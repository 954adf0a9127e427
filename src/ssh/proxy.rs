//! The PROXY protocol at the socket: read the header a trusted load balancer sends, and
//! refuse one from anyone else. Parsing is [`crate::gate::proxy`]'s; this is the IO.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::gate::proxy::{self, Header, SIGNATURE};

/// How long to wait between looks at a header that arrived in pieces.
const PIECE_WAIT: Duration = Duration::from_millis(5);

/// Read the PROXY v2 header at the start of `stream`, consuming exactly its bytes.
/// `Ok(None)` when the stream does not start with one (nothing consumed).
pub async fn read_header(stream: &mut TcpStream) -> io::Result<Option<Header>> {
    let mut buf = vec![0u8; proxy::MAX_LEN];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match proxy::parse(&buf[..n]) {
            Ok(header) => {
                stream.read_exact(&mut buf[..header.len]).await?;
                return Ok(Some(header));
            }
            Err(proxy::Error::NotProxy) => return Ok(None),
            // Peek returns what is there at once; give the rest a moment to arrive.
            Err(proxy::Error::Incomplete(_)) => tokio::time::sleep(PIECE_WAIT).await,
            Err(proxy::Error::Malformed(why)) => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, why))
            }
        }
    }
}

/// A stream that fails as soon as its first bytes turn out to be a PROXY header: from a
/// source that is not a trusted proxy, a header is an attempt to choose the address
/// moat believes, and the connection is closed.
pub struct RefuseHeader<S> {
    inner: S,
    /// How many of the first bytes matched the signature so far; `None` once decided.
    matched: Option<usize>,
}

impl<S> RefuseHeader<S> {
    pub fn new(inner: S) -> RefuseHeader<S> {
        RefuseHeader {
            inner,
            matched: Some(0),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for RefuseHeader<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(matched)) = (&polled, this.matched) {
            let fresh = &buf.filled()[before..];
            let want = &SIGNATURE[matched..];
            let n = fresh.len().min(want.len());
            this.matched = if fresh[..n] != want[..n] {
                None
            } else if matched + n == SIGNATURE.len() {
                // Hand none of it on.
                buf.set_filled(before);
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "PROXY header from a source that is not a trusted proxy",
                )));
            } else {
                Some(matched + n)
            };
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RefuseHeader<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
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
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn read_all(bytes: Vec<u8>, chunk: usize) -> io::Result<Vec<u8>> {
        let (mut a, b) = tokio::io::duplex(64);
        tokio::spawn(async move {
            for piece in bytes.chunks(chunk) {
                let _ = tokio::io::AsyncWriteExt::write_all(&mut a, piece).await;
            }
        });
        let mut out = Vec::new();
        RefuseHeader::new(b)
            .read_to_end(&mut out)
            .await
            .map(|_| out)
    }

    #[tokio::test]
    async fn ssh_passes_a_header_fails_even_in_pieces() {
        let ssh = b"SSH-2.0-OpenSSH_9.6\r\nmore".to_vec();
        assert_eq!(read_all(ssh.clone(), 3).await.unwrap(), ssh);
        let mut header =
            proxy::encode("10.0.0.1:1".parse().unwrap(), "10.0.0.2:2".parse().unwrap());
        header.extend_from_slice(b"SSH-2.0-x\r\n");
        for chunk in [1, 5, 64] {
            let err = read_all(header.clone(), chunk).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "chunk {chunk}");
        }
        // A prefix of the signature followed by something else is just data.
        let near = b"\r\n\r\nSSH".to_vec();
        assert_eq!(read_all(near.clone(), 2).await.unwrap(), near);
    }
}

//! The hashing writer for tokio's `AsyncWrite`.

use crate::{Digests, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;

/// Passes writes through to `inner`, hashing exactly the bytes it accepted.
#[derive(Debug)]
pub struct AsyncHashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W> AsyncHashingWriter<W> {
    pub fn new(inner: W) -> Self {
        AsyncHashingWriter {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.hasher.size()
    }

    /// The digests of what was written, and the writer.
    pub fn finish(self) -> (Digests, W) {
        (self.hasher.finish(), self.inner)
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for AsyncHashingWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            this.hasher.update(&buf[..*n]);
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::tests::ABC;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn the_async_writer_hashes_what_it_wrote() {
        let mut writer = AsyncHashingWriter::new(Vec::new());
        writer.write_all(b"ab").await.unwrap();
        writer.write_all(b"c").await.unwrap();
        writer.flush().await.unwrap();
        let (d, sink) = writer.finish();
        assert_eq!(sink, b"abc");
        assert_eq!((d.md5.as_str(), d.sha1.as_str(), d.sha256.as_str()), ABC);
    }
}

//! A reader and a writer that hash what passes through them.

use crate::{Digests, Hasher};
use std::io::{Read, Write};

/// Reads from `inner`, hashing exactly the bytes it returned.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// The digests of what was read, and the reader.
    pub fn finish(self) -> (Digests, R) {
        (self.hasher.finish(), self.inner)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Writes to `inner`, hashing exactly the bytes it accepted.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
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

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::tests::{ABC, EMPTY};

    #[test]
    fn the_reader_hashes_what_it_read() {
        let mut reader = HashingReader::new(&b"abc"[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        let (d, _) = reader.finish();
        assert_eq!((d.md5.as_str(), d.sha1.as_str(), d.sha256.as_str()), ABC);
        assert_eq!(out, b"abc");
    }

    #[test]
    fn the_writer_hashes_only_what_the_sink_accepted() {
        // A sink that takes one byte per write: the hash follows it exactly.
        struct OneByte(Vec<u8>);
        impl Write for OneByte {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.extend_from_slice(&buf[..buf.len().min(1)]);
                Ok(buf.len().min(1))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut writer = HashingWriter::new(OneByte(Vec::new()));
        assert_eq!(writer.write(b"abc").unwrap(), 1);
        writer.write_all(b"bc").unwrap();
        assert_eq!(writer.written(), 3);
        let (d, sink) = writer.finish();
        assert_eq!(sink.0, b"abc");
        assert_eq!(d.sha256, ABC.2);
        let (empty, _) = HashingWriter::new(Vec::<u8>::new()).finish();
        assert_eq!(empty.sha256, EMPTY.2);
    }
}

//! File digests: md5, sha1, sha256 and the size of a file or stream in one
//! read, so a file is never read three times.
//!
//! [`digest_file`] hashes a file from disk; large files are read on one
//! thread and hashed on two more (md5 on one, sha1 and sha256 on the other),
//! fed the same shared blocks, so both cores work. [`Hasher`] is the incremental state
//! behind it; [`HashingReader`] and [`HashingWriter`] hash exactly the bytes
//! that pass through them, and with the `tokio` feature
//! [`AsyncHashingWriter`] does the same for an `AsyncWrite` (a download
//! streamed to disk).
//!
//! This crate knows nothing of VirusTotal, indicators or the network: bytes
//! in, [`Digests`] out.

#[cfg(feature = "tokio")]
mod async_writer;
mod file;
mod io;

#[cfg(feature = "tokio")]
pub use async_writer::AsyncHashingWriter;
pub use file::{digest_file, digest_reader, DigestError, PARALLEL_FROM_BYTES};
pub use io::{HashingReader, HashingWriter};

use md5::Md5;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// md5, sha1 and sha256 (lower-case hex) and the size in bytes of some data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Digests {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub size: u64,
}

impl Digests {
    /// Whether `hash` (an md5, sha1 or sha256 in hex, any case) names this data.
    pub fn matches(&self, hash: &str) -> bool {
        let want = hash.trim();
        [&self.md5, &self.sha1, &self.sha256]
            .iter()
            .any(|got| got.eq_ignore_ascii_case(want))
    }
}

/// The three digests being computed, fed block by block.
#[derive(Debug, Clone, Default)]
pub struct Hasher {
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    size: u64,
}

impl Hasher {
    pub fn new() -> Hasher {
        Hasher::default()
    }

    /// Adds `bytes` to all three digests.
    pub fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.sha1.update(bytes);
        self.sha256.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn finish(self) -> Digests {
        Digests {
            md5: hex::encode(self.md5.finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
            size: self.size,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Published vectors: the empty string and "abc" (RFC 1321, FIPS 180).
    pub(crate) const EMPTY: (&str, &str, &str) = (
        "d41d8cd98f00b204e9800998ecf8427e",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    pub(crate) const ABC: (&str, &str, &str) = (
        "900150983cd24fb0d6963f7d28e17f72",
        "a9993e364706816aba3e25717850c26c9cd0d89d",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );

    fn of(bytes: &[u8]) -> Digests {
        let mut h = Hasher::new();
        h.update(bytes);
        h.finish()
    }

    #[test]
    fn known_vectors_of_empty_and_abc() {
        for (input, (md5, sha1, sha256)) in [(&b""[..], EMPTY), (&b"abc"[..], ABC)] {
            let d = of(input);
            assert_eq!(
                (d.md5.as_str(), d.sha1.as_str(), d.sha256.as_str()),
                (md5, sha1, sha256)
            );
            assert_eq!(d.size, input.len() as u64);
        }
    }

    #[test]
    fn split_updates_equal_one_update() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut h = Hasher::new();
        for chunk in data.chunks(777) {
            h.update(chunk);
        }
        assert_eq!(h.finish(), of(&data));
    }

    #[test]
    fn matches_any_of_the_three_in_any_case() {
        let d = of(b"abc");
        assert!(d.matches(ABC.0));
        assert!(d.matches(&ABC.1.to_uppercase()));
        assert!(d.matches(ABC.2));
        assert!(!d.matches(EMPTY.2));
    }
}

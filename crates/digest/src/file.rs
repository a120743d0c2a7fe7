//! Digests of a whole file or reader, in one pass.

use crate::{Digests, Hasher};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};

/// Files at least this large are hashed on three threads (a reader, md5,
/// the SHAs); below it the hand-over costs more than it saves.
pub const PARALLEL_FROM_BYTES: u64 = 4 * 1024 * 1024;

/// Size of one read.
const BLOCK: usize = 1024 * 1024;
/// Blocks in flight between the reading and the hashing threads.
const BLOCKS_IN_FLIGHT: usize = 8;

/// Why a file could not be hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DigestError {
    /// The underlying I/O error (its kind says e.g. not found or denied).
    pub fn io(&self) -> &std::io::Error {
        match self {
            DigestError::Open { source, .. } | DigestError::Read { source, .. } => source,
        }
    }

    /// Whether the file could not be opened at all (missing, a directory,
    /// no permission): the caller named the wrong thing.
    pub fn is_open_error(&self) -> bool {
        matches!(self, DigestError::Open { .. })
    }
}

/// md5, sha1, sha256 and size of the file at `path`, read once. Blocking:
/// call it from a blocking thread in async code.
pub fn digest_file(path: &Path) -> Result<Digests, DigestError> {
    let open = |source| DigestError::Open {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(open)?;
    let metadata = file.metadata().map_err(open)?;
    if metadata.is_dir() {
        return Err(open(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    let read = |source| DigestError::Read {
        path: path.to_owned(),
        source,
    };
    if metadata.len() >= PARALLEL_FROM_BYTES {
        digest_on_threads(file).map_err(read)
    } else {
        digest_reader(file).map_err(read)
    }
}

/// md5, sha1, sha256 and size of everything `reader` yields, on this thread.
pub fn digest_reader(mut reader: impl Read) -> std::io::Result<Digests> {
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = read_some(&mut reader, &mut buf)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}

fn read_some(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// This thread only reads; md5 and the two SHAs each run on a thread of
/// their own, fed the same blocks (`Arc`-shared, never copied). md5 has no
/// CPU instructions and is the slowest of the three, so it gets a core to
/// itself; sha1 and sha256 (SHA-NI where the CPU has it, which `sha1` and
/// `sha2` detect at run time) together take less than md5 on the other
/// core, and the reads (page-cache copies) fit beside them. A block goes
/// back to the pool when both hashers have dropped their handle, so at
/// most [`BLOCKS_IN_FLIGHT`] are ever allocated.
fn digest_on_threads(mut reader: impl Read) -> std::io::Result<Digests> {
    type Block = Arc<(Vec<u8>, usize)>;
    let (md5_tx, md5_rx) = mpsc::sync_channel::<Block>(BLOCKS_IN_FLIGHT);
    let (sha_tx, sha_rx) = mpsc::sync_channel::<Block>(BLOCKS_IN_FLIGHT);
    // A hasher says here that it let go of a block.
    let (done_tx, done_rx) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let md5_done = done_tx.clone();
        let md5_thread = scope.spawn(move || {
            let mut md5 = Md5::new();
            for block in md5_rx {
                md5.update(&block.0[..block.1]);
                drop(block);
                let _ = md5_done.send(());
            }
            hex::encode(md5.finalize())
        });
        let sha_done = done_tx;
        let sha_thread = scope.spawn(move || {
            let (mut sha1, mut sha256) = (Sha1::new(), Sha256::new());
            for block in sha_rx {
                sha1.update(&block.0[..block.1]);
                sha256.update(&block.0[..block.1]);
                drop(block);
                let _ = sha_done.send(());
            }
            (hex::encode(sha1.finalize()), hex::encode(sha256.finalize()))
        });
        let mut pool: Vec<Block> = Vec::with_capacity(BLOCKS_IN_FLIGHT);
        let mut size = 0u64;
        let stopped = || std::io::Error::other("a hashing thread stopped");
        let outcome = loop {
            // A block neither hasher still holds, else a new one while
            // fewer than BLOCKS_IN_FLIGHT exist, else wait for one.
            let mut block = loop {
                if let Some(i) = pool.iter_mut().position(|b| Arc::get_mut(b).is_some()) {
                    break Some(pool.swap_remove(i));
                }
                if pool.len() < BLOCKS_IN_FLIGHT {
                    break Some(Arc::new((vec![0u8; BLOCK], 0)));
                }
                if done_rx.recv().is_err() {
                    break None;
                }
            };
            let Some(slot) = block.as_mut().and_then(Arc::get_mut) else {
                break Err(stopped());
            };
            let n = match read_some(&mut reader, &mut slot.0) {
                Ok(n) => n,
                Err(e) => break Err(e),
            };
            if n == 0 {
                break Ok(());
            }
            slot.1 = n;
            size += n as u64;
            let Some(block) = block else {
                break Err(stopped());
            };
            if md5_tx.send(Arc::clone(&block)).is_err() || sha_tx.send(Arc::clone(&block)).is_err()
            {
                break Err(stopped());
            }
            pool.push(block);
        };
        drop((md5_tx, sha_tx));
        let md5 = md5_thread
            .join()
            .map_err(|_| std::io::Error::other("the md5 thread panicked"))?;
        let (sha1, sha256) = sha_thread
            .join()
            .map_err(|_| std::io::Error::other("the sha thread panicked"))?;
        outcome?;
        Ok(Digests {
            md5,
            sha1,
            sha256,
            size,
        })
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::tests::ABC;
    use std::io::Write;

    #[test]
    fn a_small_file_has_the_known_digests() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"abc").unwrap();
        let d = digest_file(f.path()).unwrap();
        assert_eq!((d.md5.as_str(), d.sha1.as_str(), d.sha256.as_str()), ABC);
        assert_eq!(d.size, 3);
    }

    #[test]
    fn a_large_file_hashed_on_two_threads_equals_one_thread() {
        let data: Vec<u8> = (0..(PARALLEL_FROM_BYTES as usize * 2 + 12_345))
            .map(|i| (i.wrapping_mul(31) % 253) as u8)
            .collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        let parallel = digest_file(f.path()).unwrap();
        let serial = digest_reader(&data[..]).unwrap();
        assert_eq!(parallel, serial);
        assert_eq!(parallel.size, data.len() as u64);
    }

    #[test]
    fn a_missing_file_or_a_directory_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = digest_file(&dir.path().join("nosuch.bin")).unwrap_err();
        assert!(missing.is_open_error());
        assert_eq!(missing.io().kind(), std::io::ErrorKind::NotFound);
        assert!(digest_file(dir.path()).unwrap_err().is_open_error());
    }
}

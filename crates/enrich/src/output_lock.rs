//! One writer per enrichment output: two runs started at once on the same
//! output (and so the same job) would interleave their lines and journal
//! the same items twice. The output file itself carries an advisory lock
//! (`flock`, released by the kernel when the process ends, SIGKILL
//! included, so a killed run never leaves a stale lock behind); the file is
//! emptied only once the lock is held, so the second run cannot truncate
//! what the first is writing.
//!
//! A front end that writes results elsewhere (a service's job rows) needs
//! no file lock: its job id is its lock.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// Why an output could not be opened for this run alone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputLockError {
    /// Another process holds the output.
    #[error("another vtc is writing {}: wait for it to finish or choose another output", path.display())]
    Busy { path: PathBuf },
    #[error("cannot write output file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Opens `path` for writing, emptied, holding an exclusive advisory lock
/// for as long as the returned file lives. A file held by another process
/// is [`OutputLockError::Busy`] at once (no waiting). Where `flock` does
/// not exist (not Unix) the file is opened without a lock.
pub fn open_exclusive_output(path: &Path) -> Result<File, OutputLockError> {
    let io = |source| OutputLockError::Io {
        path: path.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    lock(&file).map_err(|e| match e {
        Locked::Busy => OutputLockError::Busy {
            path: path.to_owned(),
        },
        Locked::Io(e) => io(e),
    })?;
    // A device (/dev/stdout, /dev/null) cannot be truncated, nor needs to be.
    if file.metadata().map_err(io)?.is_file() {
        file.set_len(0).map_err(io)?;
    }
    Ok(file)
}

enum Locked {
    Busy,
    Io(std::io::Error),
}

#[cfg(unix)]
fn lock(file: &File) -> Result<(), Locked> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(Locked::Busy),
        // A file system without locks (some network mounts): go on unlocked
        // rather than refuse every run.
        Err(e) if e == rustix::io::Errno::NOLCK || e == rustix::io::Errno::NOTSUP => {
            tracing::warn!("the output cannot be locked ({e}): do not start a second run on it");
            Ok(())
        }
        Err(e) => Err(Locked::Io(e.into())),
    }
}

#[cfg(not(unix))]
fn lock(_file: &File) -> Result<(), Locked> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_held_output_is_busy_and_is_not_emptied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.jsonl");
        let mut first = open_exclusive_output(&path).expect("first");
        first.write_all(b"line\n").expect("write");
        let err = open_exclusive_output(&path).expect_err("second");
        assert!(matches!(err, OutputLockError::Busy { .. }), "{err}");
        assert_eq!(std::fs::read(&path).expect("read"), b"line\n");
        drop(first);
        let again = open_exclusive_output(&path).expect("free once closed");
        drop(again);
        assert_eq!(std::fs::read(&path).expect("read"), b"");
    }
}

//! `--log-file PATH` of the long-running commands (`vtc collect`, `vtc
//! serve`): a log file rotated by size, keeping a fixed number of old
//! files (`PATH.1` the newest … `PATH.N` the oldest), as the original
//! connector's log "rolls over".
//!
//! Written here rather than taken from a crate: `tracing-appender` rotates
//! by time only, and `file-rotate` / `rolling-file` would add a dependency
//! (and, for the first, a date library) for sixty lines of renames.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Default size at which the log rolls over.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Default number of rolled-over files kept.
pub const DEFAULT_KEEP: u32 = 5;

/// A log file that rolls over at `max_bytes`.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    file: File,
    written: u64,
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

impl RotatingFile {
    /// Opens (appending, creating it and its folder) the log at `path`.
    pub fn open(path: &Path, max_bytes: u64, keep: u32) -> io::Result<RotatingFile> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let file = open_append(path)?;
        let written = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_owned(),
            max_bytes: max_bytes.max(1024),
            keep,
            file,
            written,
        })
    }

    fn rolled(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn roll_over(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.keep == 0 {
            self.file = OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&self.path)?;
            self.file = open_append(&self.path)?;
        } else {
            let _ = std::fs::remove_file(self.rolled(self.keep));
            for n in (1..self.keep).rev() {
                let from = self.rolled(n);
                if from.exists() {
                    std::fs::rename(&from, self.rolled(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.rolled(1))?;
            self.file = open_append(&self.path)?;
        }
        self.written = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max_bytes {
            self.roll_over()?;
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rolls_over_by_size_and_keeps_a_fixed_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("vtc.log");
        let mut log = RotatingFile::open(&path, 1024, 2).unwrap();
        let line = [b'x'; 100];
        for _ in 0..60 {
            log.write_all(&line).unwrap();
        }
        log.flush().unwrap();
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
        assert!(size(&path).unwrap() <= 1024);
        assert!(size(&dir.path().join("logs/vtc.log.1")).unwrap() <= 1024);
        assert!(size(&dir.path().join("logs/vtc.log.2")).is_some());
        assert!(
            size(&dir.path().join("logs/vtc.log.3")).is_none(),
            "only two kept"
        );
        // Reopened, it appends and keeps counting what is there.
        drop(log);
        let before = size(&path).unwrap();
        let mut log = RotatingFile::open(&path, 1024, 2).unwrap();
        log.write_all(b"y").unwrap();
        assert_eq!(size(&path).unwrap(), before + 1);
    }
}

//! A folder tree: scanned once, or watched (inotify through `notify`,
//! recursive, debounced). A file whose size, modification time and inode
//! are unchanged since it was last hashed is not read again.

use crate::CollectError;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use store::Sighting;

/// Folders deeper than this under the root are not entered (a loop of
/// bind mounts, a hostile tree).
const MAX_DEPTH: usize = 64;

/// What decides whether a file changed without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Signature {
    size: u64,
    mtime_ns: i128,
    inode: u64,
}

impl Signature {
    fn of(m: &std::fs::Metadata) -> Signature {
        Signature {
            size: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            inode: m.ino(),
        }
    }
}

/// The files of one tree and what they were when last hashed.
#[derive(Debug)]
pub struct FolderScanner {
    root: PathBuf,
    host: Option<String>,
    seen: HashMap<PathBuf, Signature>,
    /// Files read (hashed) so far, for tests and the summary.
    pub files_hashed: u64,
}

impl FolderScanner {
    pub fn new(root: &Path) -> Result<FolderScanner, CollectError> {
        let meta = std::fs::metadata(root)
            .map_err(|e| CollectError::Config(format!("cannot watch {}: {e}", root.display())))?;
        if !meta.is_dir() {
            return Err(CollectError::Config(format!(
                "{} is not a folder",
                root.display()
            )));
        }
        Ok(FolderScanner {
            root: root.to_owned(),
            host: super::local_host(),
            seen: HashMap::new(),
            files_hashed: 0,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's name of this source.
    pub fn source_name(&self) -> String {
        format!("folder:{}", self.root.display())
    }

    /// Every new or changed file under the root. Blocking.
    pub fn scan_all(&mut self) -> Vec<Sighting> {
        let root = self.root.clone();
        self.scan_paths(&[root])
    }

    /// New or changed files among `paths` (files, or folders walked
    /// whole). Paths that vanished are forgotten. Blocking.
    pub fn scan_paths(&mut self, paths: &[PathBuf]) -> Vec<Sighting> {
        let mut out = Vec::new();
        let mut stack: Vec<(PathBuf, usize)> = paths.iter().map(|p| (p.clone(), 0)).collect();
        while let Some((path, depth)) = stack.pop() {
            // Never follows a symbolic link: a link out of the tree is not
            // the tree's.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                self.seen.remove(&path);
                continue;
            };
            if meta.is_dir() {
                if depth >= MAX_DEPTH {
                    tracing::warn!(path = %path.display(), "folder too deep, not entered");
                    continue;
                }
                match std::fs::read_dir(&path) {
                    Ok(entries) => {
                        for entry in entries.flatten() {
                            stack.push((entry.path(), depth + 1));
                        }
                    }
                    Err(e) => tracing::warn!(path = %path.display(), "cannot list: {e}"),
                }
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            let signature = Signature::of(&meta);
            if self.seen.get(&path) == Some(&signature) {
                continue;
            }
            match file_digest::digest_file(&path) {
                Ok(d) => {
                    self.files_hashed += 1;
                    self.seen.insert(path.clone(), signature);
                    out.push(Sighting {
                        md5: Some(d.md5),
                        sha1: Some(d.sha1),
                        sha256: Some(d.sha256),
                        size: Some(d.size),
                        file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
                        host: self.host.clone(),
                        path: Some(path.to_string_lossy().into_owned()),
                    });
                }
                Err(e) => tracing::warn!("{e}"),
            }
        }
        out
    }
}

/// Hands a batch of sightings to the store (no checkpoint: a folder's
/// state is its files) and wakes the query loop.
async fn keep(
    store: &std::sync::Arc<dyn store::Store>,
    source: &str,
    sightings: Vec<Sighting>,
    wake: &tokio::sync::Notify,
) -> Result<u64, CollectError> {
    if sightings.is_empty() {
        return Ok(0);
    }
    let n = sightings.len() as u64;
    store
        .collect_sightings(source, &sightings, None, time::OffsetDateTime::now_utc())
        .await?;
    wake.notify_one();
    Ok(n)
}

/// Scans the tree once and keeps what it found; the number of sightings.
pub async fn scan_once(
    scanner: FolderScanner,
    store: &std::sync::Arc<dyn store::Store>,
    wake: &tokio::sync::Notify,
) -> Result<(FolderScanner, u64), CollectError> {
    let source = scanner.source_name();
    let (scanner, found) = tokio::task::spawn_blocking(move || {
        let mut scanner = scanner;
        let found = scanner.scan_all();
        (scanner, found)
    })
    .await
    .map_err(|e| CollectError::Internal(format!("folder scan: {e}")))?;
    let n = keep(store, &source, found, wake).await?;
    Ok((scanner, n))
}

/// Events the watcher may queue before the watch falls back to a full
/// scan (a burst larger than this is cheaper to rescan than to track).
const EVENT_QUEUE: usize = 8192;

/// Watches the tree until `stop` fires: a full scan first, then each
/// changed path once it has been quiet for `debounce`.
pub async fn watch(
    scanner: FolderScanner,
    debounce: std::time::Duration,
    store: std::sync::Arc<dyn store::Store>,
    wake: std::sync::Arc<tokio::sync::Notify>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), CollectError> {
    use notify::Watcher;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<PathBuf>(EVENT_QUEUE);
    let overflow = Arc::new(AtomicBool::new(false));
    let overflowed = overflow.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        match event {
            Ok(event) => {
                for path in event.paths {
                    if tx.try_send(path).is_err() {
                        overflowed.store(true, Ordering::Relaxed);
                    }
                }
            }
            // The kernel's queue overflowed or a watch broke: rescan.
            Err(_) => overflowed.store(true, Ordering::Relaxed),
        }
    })
    .map_err(|e| CollectError::Config(format!("cannot watch {}: {e}", scanner.root().display())))?;
    watcher
        .watch(scanner.root(), notify::RecursiveMode::Recursive)
        .map_err(|e| {
            CollectError::Config(format!("cannot watch {}: {e}", scanner.root().display()))
        })?;
    // Watching before the first scan: nothing written meanwhile is missed.
    let (mut scanner, found) = scan_once(scanner, &store, &wake).await?;
    tracing::info!(folder = %scanner.root().display(), found, "folder scanned; watching");
    let source = scanner.source_name();
    let mut pending: HashMap<PathBuf, tokio::time::Instant> = HashMap::new();
    let tick = (debounce / 2).max(std::time::Duration::from_millis(20));
    // An interval, not a sleep per turn: a steady stream of events must not
    // keep postponing the quiet paths.
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            path = rx.recv() => match path {
                Some(path) => { pending.insert(path, tokio::time::Instant::now()); }
                None => return Ok(()),
            },
            _ = ticker.tick() => {
                let now = tokio::time::Instant::now();
                let mut quiet: Vec<PathBuf> = Vec::new();
                if overflow.swap(false, Ordering::Relaxed) {
                    pending.clear();
                    quiet.push(scanner.root().to_owned());
                } else {
                    pending.retain(|path, at| {
                        if now.duration_since(*at) >= debounce {
                            quiet.push(path.clone());
                            false
                        } else {
                            true
                        }
                    });
                }
                if quiet.is_empty() {
                    continue;
                }
                let (back, found) = tokio::task::spawn_blocking(move || {
                    let mut scanner = scanner;
                    let found = scanner.scan_paths(&quiet);
                    (scanner, found)
                })
                .await
                .map_err(|e| CollectError::Internal(format!("folder scan: {e}")))?;
                scanner = back;
                keep(&store, &source, found, &wake).await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unchanged_files_are_not_read_again_and_changed_ones_are() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a.bin"), b"one").unwrap();
        std::fs::write(dir.path().join("sub/b.bin"), b"two").unwrap();
        let mut s = FolderScanner::new(dir.path()).unwrap();
        assert_eq!(s.scan_all().len(), 2);
        assert!(s.scan_all().is_empty(), "nothing changed");
        assert_eq!(s.files_hashed, 2);
        std::fs::write(dir.path().join("sub/b.bin"), b"three").unwrap();
        let again = s.scan_all();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].size, Some(5));
        assert_eq!(again[0].file_name.as_deref(), Some("b.bin"));
    }

    #[test]
    fn symbolic_links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let mut s = FolderScanner::new(dir.path()).unwrap();
        assert!(s.scan_all().is_empty());
    }
}

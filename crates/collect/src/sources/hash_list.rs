//! A list of hashes: a file (read, then followed as it grows, resuming
//! from its checkpoint: the inode and the offset after the last line
//! kept) or stdin. A line is one hash (md5, sha1 or sha256) or a JSON
//! event `{"hash": …, "file_name": …, "host": …}` (`md5`, `sha1`,
//! `sha256` are taken as keys too). Lines are bounded; a bad line is
//! logged and skipped, never the end of the run.

use crate::CollectError;
use serde::Deserialize;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::Sighting;

/// Longest line kept (a JSON event with a long path fits).
pub const MAX_LINE: usize = 64 * 1024;
/// Bytes read per batch (a batch is one store transaction).
const CHUNK: usize = 1024 * 1024;

#[derive(Deserialize)]
struct Event {
    hash: Option<String>,
    md5: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
    file_name: Option<String>,
    host: Option<String>,
}

/// Puts `hash` (any case, surrounding blanks allowed) in the slot its
/// length says; false when it is not a hex digest.
fn place(hash: &str, s: &mut Sighting) -> bool {
    let h = hash.trim().to_ascii_lowercase();
    if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    match h.len() {
        32 => s.md5 = Some(h),
        40 => s.sha1 = Some(h),
        64 => s.sha256 = Some(h),
        _ => return false,
    }
    true
}

/// One line of a hash list: `Ok(None)` for a blank line or a `#` comment.
pub fn parse_line(line: &str) -> Result<Option<Sighting>, String> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return Ok(None);
    }
    let mut s = Sighting::default();
    if t.starts_with('{') {
        let e: Event = serde_json::from_str(t).map_err(|e| format!("not a JSON event: {e}"))?;
        for h in [&e.hash, &e.md5, &e.sha1, &e.sha256].into_iter().flatten() {
            if !place(h, &mut s) {
                return Err("a hash in the event is not an md5, sha1 or sha256".into());
            }
        }
        if !s.has_hash() {
            return Err("the event has no hash".into());
        }
        s.file_name = e.file_name;
        s.host = e.host;
        return Ok(Some(s));
    }
    if place(t, &mut s) {
        Ok(Some(s))
    } else {
        Err("not an md5, sha1 or sha256".into())
    }
}

/// Splits bytes into bounded lines across reads.
#[derive(Debug, Default)]
struct Lines {
    partial: Vec<u8>,
    /// The current line grew past [`MAX_LINE`]: dropped up to its end.
    skipping: bool,
}

impl Lines {
    /// Feeds `bytes`; calls `line` for each complete line.
    fn feed(&mut self, bytes: &[u8], mut line: impl FnMut(Result<&str, String>)) {
        for chunk in bytes.split_inclusive(|b| *b == b'\n') {
            let complete = chunk.last() == Some(&b'\n');
            let body = if complete {
                &chunk[..chunk.len() - 1]
            } else {
                chunk
            };
            if !self.skipping {
                if self.partial.len() + body.len() > MAX_LINE {
                    self.skipping = true;
                    self.partial.clear();
                } else {
                    self.partial.extend_from_slice(body);
                }
            }
            if complete {
                if self.skipping {
                    line(Err(format!("longer than {MAX_LINE} bytes")));
                } else {
                    match std::str::from_utf8(&self.partial) {
                        Ok(text) => line(Ok(text)),
                        Err(_) => line(Err("not UTF-8".into())),
                    }
                }
                self.partial.clear();
                self.skipping = false;
            }
        }
    }

    /// At the end of the input: the last line even without its newline.
    fn finish(&mut self, line: impl FnMut(Result<&str, String>)) {
        if !self.partial.is_empty() || self.skipping {
            self.feed(b"\n", line);
        }
    }
}

fn collect(result: Result<&str, String>, out: &mut Vec<Sighting>, bad: &mut u64) {
    match result.and_then(parse_line) {
        Ok(Some(s)) => out.push(s),
        Ok(None) => {}
        Err(reason) => {
            *bad += 1;
            tracing::warn!("hash list: a line skipped: {reason}");
        }
    }
}

/// What a read of a hash list kept.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ListRead {
    pub sightings: u64,
    pub bad_lines: u64,
}

/// A hash list file, read from its checkpoint.
#[derive(Debug)]
pub struct HashFile {
    path: PathBuf,
    lines: Lines,
}

impl HashFile {
    pub fn new(path: &Path) -> HashFile {
        HashFile {
            path: path.to_owned(),
            lines: Lines::default(),
        }
    }

    pub fn source_name(&self) -> String {
        let path = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        format!("hashes:{}", path.display())
    }

    /// Reads what was added since the checkpoint, one store transaction
    /// per chunk (with the new checkpoint), until the end of the file. At
    /// the end, a last line without its newline is kept only when `final_`
    /// (a follower waits for the rest of it).
    pub async fn read_new(
        &mut self,
        store: &Arc<dyn store::Store>,
        wake: &tokio::sync::Notify,
        final_: bool,
    ) -> Result<ListRead, CollectError> {
        let source = self.source_name();
        let open = |e: std::io::Error| {
            CollectError::Config(format!("cannot read {}: {e}", self.path.display()))
        };
        let mut total = ListRead::default();
        loop {
            let checkpoint = store.collect_checkpoint(&source).await?;
            let path = self.path.clone();
            let mut lines = std::mem::take(&mut self.lines);
            let read = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
                let mut file = std::fs::File::open(&path)?;
                let meta = file.metadata()?;
                // The checkpoint holds while it names this file (its inode)
                // and the file has not shrunk below it.
                let offset = match checkpoint.as_deref().and_then(parse_checkpoint) {
                    Some((inode, offset)) if inode == meta.ino() && offset <= meta.len() => offset,
                    _ => 0,
                };
                file.seek(SeekFrom::Start(offset))?;
                let mut buf = vec![0u8; CHUNK];
                let n = file.take(CHUNK as u64).read(&mut buf)?;
                buf.truncate(n);
                // Only whole lines move the checkpoint.
                let whole = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                let mut out = Vec::new();
                let mut bad = 0;
                let consumed = if n < CHUNK && final_ {
                    lines.feed(&buf, |l| collect(l, &mut out, &mut bad));
                    lines.finish(|l| collect(l, &mut out, &mut bad));
                    n
                } else if whole == 0 && n == CHUNK {
                    // One line longer than a chunk: dropped whole.
                    lines.feed(&buf, |l| collect(l, &mut out, &mut bad));
                    n
                } else {
                    lines.feed(&buf[..whole], |l| collect(l, &mut out, &mut bad));
                    whole
                };
                let next = offset + consumed as u64;
                Ok((
                    lines,
                    out,
                    bad,
                    format!("{}:{next}", meta.ino()),
                    consumed,
                    n,
                ))
            })
            .await
            .map_err(|e| CollectError::Internal(format!("hash list: {e}")))?
            .map_err(open)?;
            let (lines, sightings, bad, checkpoint, consumed, n) = read;
            self.lines = lines;
            total.bad_lines += bad;
            total.sightings += sightings.len() as u64;
            if consumed > 0 {
                store
                    .collect_sightings(
                        &source,
                        &sightings,
                        Some(&checkpoint),
                        time::OffsetDateTime::now_utc(),
                    )
                    .await?;
                if !sightings.is_empty() {
                    wake.notify_one();
                }
            }
            if n < CHUNK || consumed == 0 {
                return Ok(total);
            }
        }
    }
}

fn parse_checkpoint(text: &str) -> Option<(u64, u64)> {
    let (inode, offset) = text.split_once(':')?;
    Some((inode.parse().ok()?, offset.parse().ok()?))
}

/// Reads hashes from stdin until it ends (no checkpoint: a pipe cannot be
/// read again), keeping them a chunk at a time.
pub async fn read_stdin(
    store: &Arc<dyn store::Store>,
    wake: &tokio::sync::Notify,
) -> Result<ListRead, CollectError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<Sighting>, u64)>(4);
    let reader = std::thread::spawn(move || -> std::io::Result<()> {
        let mut stdin = std::io::stdin().lock();
        let mut lines = Lines::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let (mut out, mut bad) = (Vec::new(), 0);
            if n == 0 {
                lines.finish(|l| collect(l, &mut out, &mut bad));
            } else {
                lines.feed(&buf[..n], |l| collect(l, &mut out, &mut bad));
            }
            if (!out.is_empty() || bad > 0) && tx.blocking_send((out, bad)).is_err() {
                return Ok(());
            }
            if n == 0 {
                return Ok(());
            }
        }
    });
    let mut total = ListRead::default();
    while let Some((sightings, bad)) = rx.recv().await {
        total.bad_lines += bad;
        total.sightings += sightings.len() as u64;
        if !sightings.is_empty() {
            store
                .collect_sightings("stdin", &sightings, None, time::OffsetDateTime::now_utc())
                .await?;
            wake.notify_one();
        }
    }
    match reader.join() {
        Ok(Ok(())) => Ok(total),
        Ok(Err(e)) => Err(CollectError::Config(format!("cannot read stdin: {e}"))),
        Err(_) => Err(CollectError::Internal("the stdin reader panicked".into())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lines_are_hashes_or_json_events() {
        let md5 = "44D88612FEA8A8F36DE82E1278ABB02F";
        let s = parse_line(md5).unwrap().unwrap();
        assert_eq!(s.md5.as_deref(), Some("44d88612fea8a8f36de82e1278abb02f"));
        let e = parse_line(&format!(
            r#"{{"hash": "{}", "file_name": "a.exe", "host": "ws-1"}}"#,
            "a".repeat(64)
        ))
        .unwrap()
        .unwrap();
        assert_eq!(e.sha256.as_deref(), Some("a".repeat(64).as_str()));
        assert_eq!(
            (e.file_name.as_deref(), e.host.as_deref()),
            (Some("a.exe"), Some("ws-1"))
        );
        assert!(parse_line("# comment").unwrap().is_none());
        assert!(parse_line("   ").unwrap().is_none());
        assert!(parse_line("zz").is_err());
        assert!(parse_line(&"g".repeat(32)).is_err());
        assert!(parse_line(r#"{"file_name": "x"}"#).is_err());
        assert!(parse_line("{not json").is_err());
    }

    #[test]
    fn long_lines_are_dropped_across_reads_and_the_next_line_survives() {
        let mut lines = Lines::default();
        let mut got: Vec<Result<String, String>> = Vec::new();
        let long = vec![b'a'; MAX_LINE + 10];
        lines.feed(&long[..MAX_LINE], |l| got.push(l.map(str::to_owned)));
        lines.feed(&long[MAX_LINE..], |l| got.push(l.map(str::to_owned)));
        lines.feed(b"\nabc\nde", |l| got.push(l.map(str::to_owned)));
        lines.finish(|l| got.push(l.map(str::to_owned)));
        assert!(got[0].is_err());
        assert_eq!(got[1].as_deref(), Ok("abc"));
        assert_eq!(got[2].as_deref(), Ok("de"));
        assert_eq!(got.len(), 3);
    }
}

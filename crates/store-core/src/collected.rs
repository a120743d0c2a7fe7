//! What the collector (`vtc collect`) keeps: every binary it has seen, where
//! and when, what VirusTotal said of it, and each source's checkpoint.
//!
//! A binary is one row however it was named: a sighting that shares any of
//! md5, sha1 or sha256 with a kept binary is that binary. Lists (sources,
//! hosts, file names) are bounded to [`MAX_LISTED`] entries of at most
//! [`MAX_LISTED_CHARS`] characters each, so a hostile source cannot grow a
//! row without bound.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Entries kept per list of a binary (sources, hosts, file names).
pub const MAX_LISTED: usize = 32;
/// Characters kept per listed string (longer ones are cut).
pub const MAX_LISTED_CHARS: usize = 512;

/// One sighting of a binary by a source: at least one hash, in lower-case
/// hex (the collector normalises them), and what the source knew beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub file_name: Option<String>,
    pub host: Option<String>,
    /// Where the bytes are on this machine (a folder source), for a deep
    /// scan; the last one seen is kept.
    pub path: Option<String>,
}

impl Sighting {
    /// Whether it names a binary at all.
    pub fn has_hash(&self) -> bool {
        self.md5.is_some() || self.sha1.is_some() || self.sha256.is_some()
    }
}

/// Why a binary is due for VirusTotal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Due {
    /// Never looked up.
    Query,
    /// Its last analysis is older than the rescan window and it was not
    /// rescanned within the window.
    Rescan,
}

/// A kept binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectedBinary {
    /// The store's id of the binary (what [`QueryResult::binary`] names).
    pub id: i64,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub sources: Vec<String>,
    pub hosts: Vec<String>,
    pub file_names: Vec<String>,
    pub path: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// When VirusTotal was last asked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_query: Option<OffsetDateTime>,
    /// VirusTotal's `last_analysis_date` as last read.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_analysis: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub rescanned_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub uploaded_at: Option<OffsetDateTime>,
    /// `bad`, `suspect`, `good`, `unknown` (or `null` before the first query).
    pub verdict: Option<String>,
    pub malicious: u32,
    pub total: u32,
    /// Whether the feeds publish it.
    pub in_feed: bool,
    /// The last enrichment record's JSON (the feeds build their entries
    /// from it), if any.
    pub record: Option<String>,
    /// Why it is due, when [`crate::Store::collect_due`] returned it.
    pub due: Option<Due>,
}

impl CollectedBinary {
    /// Takes in what `other`, a row found to be the same binary, knew:
    /// its sources, hosts and file names (bounded as [`add_listed`] does),
    /// the earlier first and later last sighting, a path if this had none.
    /// Both backends merge rows by it when a hash joins two of them.
    pub fn absorb(&mut self, other: &CollectedBinary) {
        for s in &other.sources {
            add_listed(&mut self.sources, Some(s));
        }
        for h in &other.hosts {
            add_listed(&mut self.hosts, Some(h));
        }
        for n in &other.file_names {
            add_listed(&mut self.file_names, Some(n));
        }
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.path = self.path.take().or_else(|| other.path.clone());
    }

    /// The strongest hash known: sha256, else sha1, else md5.
    pub fn best_hash(&self) -> Option<&str> {
        self.sha256
            .as_deref()
            .or(self.sha1.as_deref())
            .or(self.md5.as_deref())
    }
}

/// What one look-up of a binary found, written back in one transaction
/// with the others of its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResult {
    pub binary: i64,
    pub at: OffsetDateTime,
    /// Hashes VirusTotal gave back (fill in the ones a source lacked).
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub size: Option<u64>,
    pub verdict: String,
    pub malicious: u32,
    pub total: u32,
    pub last_analysis: Option<OffsetDateTime>,
    pub in_feed: bool,
    /// This look-up followed a rescan (POST analyse).
    pub rescanned: bool,
    /// The bytes were uploaded for it (deep scan).
    pub uploaded: bool,
    pub record: Option<String>,
}

/// One source's resume point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceCheckpoint {
    pub source: String,
    pub checkpoint: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Counts of the collector's state (`vtc collect status`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CollectStatus {
    pub binaries: u64,
    pub queried: u64,
    /// Seen but never looked up.
    pub backlog: u64,
    /// Due for a rescan under the window asked about.
    pub rescan_due: u64,
    pub in_feed: u64,
    pub uploaded: u64,
    pub rescanned: u64,
    /// Binaries per verdict (`unqueried` for the backlog).
    pub by_verdict: std::collections::BTreeMap<String, u64>,
    pub sources: Vec<SourceCheckpoint>,
}

/// Cuts a listed string to [`MAX_LISTED_CHARS`] characters.
pub fn bound_listed(s: &str) -> String {
    s.chars().take(MAX_LISTED_CHARS).collect()
}

/// Adds `value` (bounded) to `list` unless there, keeping at most
/// [`MAX_LISTED`] entries (the first ones seen).
pub fn add_listed(list: &mut Vec<String>, value: Option<&str>) {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return;
    };
    let value = bound_listed(value);
    if list.len() < MAX_LISTED && !list.contains(&value) {
        list.push(value);
    }
}

//! Persistence behind one [`Store`] trait: the report cache, the job
//! journal that makes batch runs resumable, and the quota ledger.
//!
//! [`SqliteStore`] is the embedded backend (one file, WAL mode, schema
//! migrations applied on open); a PostgreSQL backend shared by many
//! instances implements the same trait and passes the same test suite
//! (`tests/suite`). Callers hold an `Arc<dyn Store>`.
//!
//! This crate stores opaque JSON under the keys it is given: it knows
//! nothing of VirusTotal's API, verdicts, HTTP or output formats, and it
//! never sees an API key (the ledger is keyed by a prefix the caller picks).

mod sqlite;

pub use sqlite::SqliteStore;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use time::OffsetDateTime;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot create the folder of database {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path} is not a vtc database or is corrupt: {reason}")]
    NotVtcDatabase { path: PathBuf, reason: String },
    #[error(
        "database {path} has schema version {found}, newer than this vtc knows ({known}); \
         upgrade vtc or point --db elsewhere"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("no job {0}")]
    NoSuchJob(JobId),
    #[error("job {0} is finished; open a new job to journal more records")]
    JobFinished(JobId),
    #[error("{what} {value} is too large to store")]
    OutOfRange { what: &'static str, value: u64 },
}

/// A cache hit: a report, or the remembered fact that VirusTotal has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    Found {
        /// The kind given to [`Store::put_report`] (e.g. `file`).
        kind: String,
        json: String,
        fetched_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    },
    NotFound {
        fetched_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    },
}

impl Cached {
    /// When the answer was fetched from VirusTotal.
    pub fn fetched_at(&self) -> OffsetDateTime {
        match self {
            Cached::Found { fetched_at, .. } | Cached::NotFound { fetched_at, .. } => *fetched_at,
        }
    }

    pub fn expires_at(&self) -> OffsetDateTime {
        match self {
            Cached::Found { expires_at, .. } | Cached::NotFound { expires_at, .. } => *expires_at,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Cached::NotFound { .. })
    }
}

/// Identifies one batch job in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(i64);

impl JobId {
    pub fn new(id: i64) -> JobId {
        JobId(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One journalled item of a job: input line `seq`, its dedup `key`, and
/// the finished record as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub seq: u64,
    pub key: String,
    pub record: String,
}

/// Whether a job can still take records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Running, or interrupted and waiting to be resumed.
    Open,
    Finished,
}

/// What [`Store::job_status`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub id: JobId,
    pub fingerprint: String,
    pub state: JobState,
    /// Records journalled so far.
    pub journaled: u64,
    pub created_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// What [`Store::purge`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Expired reports (one per object, however many aliases it had).
    pub reports: u64,
    /// Expired NotFound entries.
    pub not_found: u64,
    /// Ledger rows older than [`LEDGER_RETENTION`].
    pub ledger_rows: u64,
    /// Jobs finished longer than [`FINISHED_JOB_RETENTION`] ago, with
    /// their journals.
    pub jobs: u64,
}

/// How long the quota ledger remembers calls: longer than the longest
/// budget window (a month).
pub const LEDGER_RETENTION: Duration = Duration::from_secs(35 * 24 * 3600);

/// How long a finished job's journal stays readable (unless its
/// fingerprint is reopened first): a journal of a million lines is about
/// half a gigabyte, not worth keeping for ever.
pub const FINISHED_JOB_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Rows [`Store::journal_entries`] reads per page.
const JOURNAL_PAGE: usize = 10_000;

/// Persistence for vtc. Every method is synchronous and may block on disk
/// or network: async callers run them on `tokio::task::spawn_blocking`.
///
/// Times are passed in (never read from a clock) wherever they decide an
/// outcome, so tests and callers control them; backends keep millisecond
/// precision.
pub trait Store: Send + Sync {
    /// Applies pending schema migrations. Backends call it on open; calling
    /// it again is harmless.
    fn migrate(&self) -> Result<(), StoreError>;

    // --- report cache ---------------------------------------------------

    /// The cached answer under `key` (or any alias it was stored with), if
    /// it has not expired at `now`. When a report and a NotFound are both
    /// live, the one fetched last wins.
    fn get_report(&self, key: &str, now: OffsetDateTime) -> Result<Option<Cached>, StoreError>;

    /// Caches a report for `ttl`, reachable by `key` and every alias (a
    /// file's md5, sha1 and sha256): one entry, however it is asked for.
    /// Replaces what any of those keys held before and clears their
    /// NotFound entries.
    fn put_report(
        &self,
        key: &str,
        aliases: &[&str],
        kind: &str,
        json: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Remembers for `ttl` (usually shorter than a report's) that
    /// VirusTotal has nothing under `key`.
    fn put_not_found(
        &self,
        key: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Deletes expired cache entries, ledger rows older than
    /// [`LEDGER_RETENTION`] and jobs finished longer than
    /// [`FINISHED_JOB_RETENTION`] ago. Reads never delete, so this is the only way
    /// storage shrinks; run it now and then (e.g. at start).
    /// Makes the report cached under `key` (and its aliases) expire at `at`
    /// if it would live longer: after a rescan, the fresh report should
    /// replace it soon. No report under `key` is not an error.
    fn expire_report(&self, key: &str, at: OffsetDateTime) -> Result<(), StoreError>;

    fn purge(&self, now: OffsetDateTime) -> Result<Purged, StoreError>;

    // --- job journal ----------------------------------------------------

    /// The open job with this fingerprint, or a new one. A batch derives
    /// the fingerprint from its input and output, so rerunning an
    /// interrupted batch resumes its job. Opening the fingerprint of a
    /// finished job starts afresh and drops that finished job.
    fn open_job(&self, fingerprint: &str) -> Result<JobId, StoreError>;

    /// Journals the record of input line `seq`; durable when this returns
    /// (so a caller journals, then emits). Writing a `seq` again replaces it.
    fn journal_record(
        &self,
        job: JobId,
        seq: u64,
        key: &str,
        record_json: &str,
    ) -> Result<(), StoreError>;

    /// Journals many records in one transaction: all or none. The cheap
    /// way to journal a busy batch.
    fn journal_records(&self, job: JobId, entries: &[JournalEntry]) -> Result<(), StoreError>;

    /// The journalled record of line `seq`, if any.
    fn journaled(&self, job: JobId, seq: u64) -> Result<Option<String>, StoreError>;

    /// Up to `limit` entries with `seq` greater than `after` (from the
    /// first when `None`), in `seq` order: replay a large journal page by
    /// page without holding it all.
    fn journal_page(
        &self,
        job: JobId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError>;

    /// Every entry of the job in `seq` order.
    fn journal_entries(&self, job: JobId) -> Result<Vec<JournalEntry>, StoreError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.journal_page(job, after, JOURNAL_PAGE)?;
            let last = page.last().map(|e| e.seq);
            let full = page.len() == JOURNAL_PAGE;
            all.extend(page);
            match last {
                Some(seq) if full => after = Some(seq),
                _ => return Ok(all),
            }
        }
    }

    /// Marks the job finished: its journal stays readable until the same
    /// fingerprint is opened again or [`Store::purge`] retires it. Finishing twice is harmless.
    fn finish_job(&self, job: JobId) -> Result<(), StoreError>;

    fn job_status(&self, job: JobId) -> Result<JobStatus, StoreError>;

    // --- quota ledger ---------------------------------------------------

    /// Counts one API call made at `at` with the key identified by
    /// `key_prefix` (never the whole key).
    fn record_api_call(&self, key_prefix: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        self.record_api_calls(&[(key_prefix, at)])
    }

    /// Counts several calls at once, in one transaction.
    fn record_api_calls(&self, calls: &[(&str, OffsetDateTime)]) -> Result<(), StoreError>;

    /// Calls recorded for `key_prefix` at or after `since`, so a restarted
    /// process knows what it already spent. Counted per whole second: a
    /// call in the same second as `since` counts, erring towards caution.
    fn api_calls_since(&self, key_prefix: &str, since: OffsetDateTime) -> Result<u64, StoreError>;

    /// The calls recorded for `key_prefix` at or after `since`, per second
    /// (unix seconds, ascending): enough to rebuild a sliding minute window.
    fn api_calls_per_second(
        &self,
        key_prefix: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<(i64, u64)>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync + 'static>() {}

    #[test]
    fn errors_and_stores_cross_threads_and_tasks() {
        shareable::<StoreError>();
        shareable::<SqliteStore>();
        shareable::<std::sync::Arc<dyn Store>>();
    }

    #[test]
    fn cached_accessors_read_either_variant() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let later = t + time::Duration::hours(1);
        let nf = Cached::NotFound {
            fetched_at: t,
            expires_at: later,
        };
        assert!(nf.is_not_found());
        assert_eq!((nf.fetched_at(), nf.expires_at()), (t, later));
        let found = Cached::Found {
            kind: "file".into(),
            json: "{}".into(),
            fetched_at: later,
            expires_at: later,
        };
        assert!(!found.is_not_found());
        assert_eq!(found.fetched_at(), later);
    }
}

//! What every vtc storage backend is: the async [`Store`] trait, its
//! backend-neutral [`StoreError`], the types they exchange, the compact
//! encoding of stored JSON ([`compact`]), and (feature `suite`) the shared
//! test suite every backend runs ([`suite`]).
//!
//! The store keeps the report cache (with aliases, so a file's md5, sha1
//! and sha256 are one entry), the negative cache, the journal that makes
//! batch runs resumable, and the quota ledger. The cache and the ledger are
//! keyed by the API *origin* (scheme, host and port of the API URL) as well
//! as by indicator or key label: an answer from one API is never served
//! for another.
//!
//! Backends live in their own crates (`store-sqlite`, later
//! `store-postgres`); the `store` crate re-exports this one and opens a
//! backend from a URL or path. Callers hold an `Arc<dyn Store>`.
//!
//! This crate stores opaque JSON under the keys it is given: it knows
//! nothing of VirusTotal's API, verdicts, HTTP or output formats, and it
//! never sees an API key (the ledger is keyed by a label the caller picks:
//! a configured name or a fingerprint, never a prefix of the key).

pub mod collected;
pub mod compact;
#[cfg(feature = "suite")]
pub mod suite;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use time::OffsetDateTime;

pub use async_trait::async_trait;
pub use collected::{CollectStatus, CollectedBinary, Due, QueryResult, Sighting, SourceCheckpoint};

/// A backend's own error, kept as the source of a [`StoreError`] without
/// naming the backend's types in this API.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

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
    #[error("cannot open database {location}: {source}")]
    Open {
        location: String,
        #[source]
        source: BackendError,
    },
    #[error("database {location} is not a vtc database or is corrupt: {reason}")]
    NotVtcDatabase { location: String, reason: String },
    #[error(
        "database {location} has schema version {found}, newer than this vtc knows ({known}); \
         upgrade vtc or point --db elsewhere"
    )]
    SchemaTooNew {
        location: String,
        found: i64,
        known: i64,
    },
    /// The location names a backend this build does not have. The
    /// location itself is not repeated: a database URL may hold a password.
    #[error(
        "{backend} databases are not built yet: give --db a SQLite file path (or sqlite://PATH)"
    )]
    BackendNotBuilt { backend: &'static str },
    #[error("database error: {0}")]
    Backend(#[source] BackendError),
    #[error("a stored {what} is unreadable: {reason}")]
    Corrupt { what: &'static str, reason: String },
    /// The backend's worker (thread or connection pool) is gone.
    #[error("the database is closed")]
    Closed,
    #[error("no job {0}")]
    NoSuchJob(JobId),
    #[error("job {0} is finished; open a new job to journal more records")]
    JobFinished(JobId),
    #[error("{what} {value} is too large to store")]
    OutOfRange { what: &'static str, value: u64 },
    /// A service token of that name, or with that digest, is already kept.
    #[error("a token named {name:?} (or with the same digest) already exists")]
    TokenExists { name: String },
}

/// A bearer token of the service, as kept: its sha256, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub name: String,
    /// `reader`, `analyst` or `admin`: the service checks it.
    pub role: String,
    /// Lowercase hex sha256 of the token.
    pub sha256: String,
    pub created_at: OffsetDateTime,
    /// The client's own quota as written (`500/day`); the service parses
    /// and enforces it. `None`: only the VirusTotal budget limits it.
    pub quota: Option<String>,
}

/// Identifies one job of the service's work queue (`POST /v1/enrich`,
/// `/v1/ingest`). Numbered apart from the batch journal's [`JobId`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EnrichJobId(i64);

impl EnrichJobId {
    pub fn new(id: i64) -> EnrichJobId {
        EnrichJobId(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for EnrichJobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which queued work is taken first: every interactive item before any
/// bulk one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueuePriority {
    Interactive,
    Bulk,
}

/// One input of a new job.
#[derive(Debug, Clone, Copy)]
pub struct NewItem<'a> {
    /// The indicator as given (the worker parses it).
    pub input: &'a str,
    /// The policy that queued it (ingest), handed back with the claim.
    pub policy: Option<&'a str>,
}

/// A job to queue: its items, in input order (`seq` 0, 1, ...).
#[derive(Debug, Clone, Copy)]
pub struct NewEnrichJob<'a> {
    /// The token name that made it: only it (and admins) may see it.
    pub owner: &'a str,
    pub priority: QueuePriority,
    pub items: &'a [NewItem<'a>],
}

/// Where one item of a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemState {
    Queued,
    /// Taken by a worker until `lease_until`; after that, anyone's again.
    Leased,
    Done,
    /// The job was cancelled before the item was taken.
    Cancelled,
}

/// A job as [`Store::enrich_job`] reports it, with its items counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrichJob {
    pub id: EnrichJobId,
    pub owner: String,
    pub priority: QueuePriority,
    pub total: u64,
    pub queued: u64,
    pub leased: u64,
    /// Done items, failed ones included.
    pub done: u64,
    /// Done items whose record carries an error.
    pub failed: u64,
    pub cancelled: u64,
    pub created_at: OffsetDateTime,
    pub cancelled_at: Option<OffsetDateTime>,
    /// When the last item was done or, for a cancelled job, the last item
    /// in progress finished.
    pub finished_at: Option<OffsetDateTime>,
}

/// An item a worker leased with [`Store::claim_items`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedItem {
    pub job: EnrichJobId,
    pub seq: u64,
    pub input: String,
    pub policy: Option<String>,
    pub priority: QueuePriority,
}

/// One item of a job as [`Store::job_results_page`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobItem {
    pub seq: u64,
    pub input: String,
    pub state: ItemState,
    pub failed: bool,
    /// The record, once done.
    pub record: Option<String>,
}

/// What [`Store::charge_usage`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageCharge {
    /// Whether the amount was added (it fitted the limit).
    pub granted: bool,
    /// The window's usage after the charge (or, refused, as it stays).
    pub used: u64,
}

/// One application-control decision to keep. The backend indexes the
/// columns it is filtered by and keeps `json` (the whole decision as the
/// policy crate wrote it) opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDecision {
    pub at: OffsetDateTime,
    pub host: String,
    pub user: String,
    /// Lower-case hex; the best hash the request gave when it had no sha256.
    pub sha256: String,
    /// `allow`, `deny`, `audit` or `notify`.
    pub action: String,
    /// Empty when no policy applied.
    pub policy: String,
    pub json: String,
}

/// A kept decision: what was added, with its id (ascending in the order
/// decisions were kept: the paging cursor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDecision {
    pub id: i64,
    pub decision: NewDecision,
}

/// Which decisions [`Store::decisions`] answers: every field given must
/// hold; oldest first, from after the cursor, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecisionQuery {
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub host: Option<String>,
    pub user: Option<String>,
    pub sha256: Option<String>,
    pub action: Option<String>,
    pub policy: Option<String>,
    /// Only decisions with a larger id.
    pub after_id: Option<i64>,
    /// At most this many (backends cap it at [`MAX_DECISION_PAGE`]).
    pub limit: usize,
}

/// Most decisions one [`Store::decisions`] call answers.
pub const MAX_DECISION_PAGE: usize = 10_000;

impl StoreError {
    /// Wraps a backend's error.
    pub fn backend(source: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError::Backend(Box::new(source))
    }
}

/// A cache hit: a report, or the remembered fact that the API has none.
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
    /// When the answer was fetched from the API.
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

/// A report to cache: reachable by `key` and every alias (a file's md5,
/// sha1 and sha256).
#[derive(Debug, Clone, Copy)]
pub struct NewReport<'a> {
    pub key: &'a str,
    pub aliases: &'a [&'a str],
    /// What kind of object it is (e.g. `file`), handed back on a hit.
    pub kind: &'a str,
    pub json: &'a str,
}

/// Where a listing of cached reports goes on from: the last
/// [`CachedReport::cursor`] of a page. Opaque; only the backend that gave
/// it reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReportCursor(pub i64);

/// Which page of cached reports [`Store::cached_reports`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportPage {
    /// Reports after this one (from the first when `None`).
    pub after: Option<ReportCursor>,
    /// Only reports fetched at or after this time.
    pub fetched_since: Option<OffsetDateTime>,
    /// At most this many reports (at least one is asked for).
    pub limit: usize,
}

/// One live cached report, as [`Store::cached_reports`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedReport {
    /// Pass it as [`ReportPage::after`] for the next page.
    pub cursor: ReportCursor,
    /// The kind given to [`Store::put_report`] (e.g. `file`).
    pub kind: String,
    pub json: String,
    /// Every key it answers to (its key and aliases), sorted.
    pub keys: Vec<String>,
    pub fetched_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
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

/// What [`Store::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Expired reports (one per object, however many aliases it had).
    pub reports: u64,
    /// Expired NotFound entries.
    pub not_found: u64,
    /// Ledger rows older than [`LEDGER_RETENTION`] (and usage counters
    /// of windows that started before it).
    pub ledger_rows: u64,
    /// Jobs finished longer than [`FINISHED_JOB_RETENTION`] ago (batch
    /// journals and the service's queued jobs).
    pub jobs: u64,
    /// Journal entries of those jobs (and items of queued jobs).
    pub journal_entries: u64,
    /// False when the time budget ran out first: the rest waits for the
    /// next prune.
    pub complete: bool,
}

impl Pruned {
    /// Rows removed, all kinds together.
    pub fn rows(&self) -> u64 {
        self.reports + self.not_found + self.ledger_rows + self.jobs + self.journal_entries
    }

    fn add(&mut self, step: &Pruned) {
        self.reports += step.reports;
        self.not_found += step.not_found;
        self.ledger_rows += step.ledger_rows;
        self.jobs += step.jobs;
        self.journal_entries += step.journal_entries;
    }
}

/// How much one [`Store::prune`] may do: a bounded prune at start must not
/// hold up the command the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneLimits {
    /// Rows of each kind deleted per transaction, so other writers (a
    /// batch in another process) wait at most one short transaction.
    pub batch_rows: usize,
    /// Stop starting new batches after this long; `None`: until done.
    pub time_budget: Option<Duration>,
}

impl PruneLimits {
    /// At start: a few thousand rows a batch, a quarter of a second in all.
    pub const AT_START: PruneLimits = PruneLimits {
        batch_rows: 5_000,
        time_budget: Some(Duration::from_millis(250)),
    };
    /// `vtc db prune`: everything, in batches.
    pub const ALL: PruneLimits = PruneLimits {
        batch_rows: 5_000,
        time_budget: None,
    };
}

/// One table in [`StoreStats`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableStats {
    pub name: String,
    pub rows: u64,
    /// Space the table and its indexes take, in bytes.
    pub bytes: u64,
}

/// What [`Store::stats`] reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// `sqlite`, later `postgres`.
    pub backend: &'static str,
    /// A path, or a URL without its password.
    pub location: String,
    pub tables: Vec<TableStats>,
    /// The whole database, free space included.
    pub size_bytes: u64,
    /// Space freed by deletes and not yet given back (a compaction does).
    pub free_bytes: u64,
}

/// A key's budget as the shared quota ledger enforces it
/// ([`Store::reserve_api_call`]); `0` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBudget {
    /// Calls in any sliding `window`.
    pub per_minute: u32,
    /// Calls per UTC day.
    pub per_day: u32,
    /// Calls per UTC month.
    pub per_month: u32,
    /// The sliding window of `per_minute` (60 s; shorter only in tests).
    pub window: Duration,
}

/// The calendar window of a refused [`Reservation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarWindow {
    Day,
    Month,
}

impl CalendarWindow {
    /// The start (UTC midnight; the first of the month) of the window
    /// holding `now`.
    pub fn start(self, now: OffsetDateTime) -> OffsetDateTime {
        let now = now.to_offset(time::UtcOffset::UTC);
        let date = match self {
            CalendarWindow::Day => now.date(),
            CalendarWindow::Month => now.date().replace_day(1).unwrap_or(now.date()),
        };
        date.midnight().assume_utc()
    }

    /// When the window holding `now` ends.
    pub fn end(self, now: OffsetDateTime) -> OffsetDateTime {
        let start = self.start(now);
        match self {
            CalendarWindow::Day => start + time::Duration::days(1),
            CalendarWindow::Month => {
                let (year, month) = (start.year(), start.month());
                let (year, month) = if month == time::Month::December {
                    (year + 1, time::Month::January)
                } else {
                    (year, month.next())
                };
                time::Date::from_calendar_date(year, month, 1)
                    .map(|d| d.midnight().assume_utc())
                    .unwrap_or(start + time::Duration::days(31))
            }
        }
    }
}

impl CallBudget {
    /// No limit in any window: nothing to reserve.
    pub fn is_unlimited(&self) -> bool {
        self.per_minute == 0 && self.per_day == 0 && self.per_month == 0
    }
}

/// What the shared quota ledger answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// One unit was booked at `now`: send.
    Granted,
    /// The minute window is full: ask again after this long.
    Wait(Duration),
    /// The day or month is spent until `resets_at`.
    Exhausted {
        window: CalendarWindow,
        resets_at: OffsetDateTime,
    },
}

/// How long the quota ledger remembers calls: the longest budget window is
/// a calendar month, so a month and a day.
pub const LEDGER_RETENTION: Duration = Duration::from_secs(32 * 24 * 3600);

/// How long a finished job's journal stays readable (unless its
/// fingerprint is reopened first).
pub const FINISHED_JOB_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Rows [`Store::journal_entries`] reads per page.
const JOURNAL_PAGE: usize = 10_000;

/// Persistence for vtc.
///
/// Async so that one trait fits an embedded backend (SQLite, whose calls
/// run on a thread of its own and never block the runtime) and a networked
/// one (PostgreSQL through an async driver). Object-safe: callers hold an
/// `Arc<dyn Store>`.
///
/// Times are passed in (never read from a clock) wherever they decide an
/// outcome, so tests and callers control them; backends keep millisecond
/// precision. `origin` is the API's scheme, host and port
/// (`https://www.virustotal.com`): cache entries and ledger rows of one
/// origin are invisible to every other.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Applies pending schema migrations. Backends call it on open; calling
    /// it again is harmless.
    async fn migrate(&self) -> Result<(), StoreError>;

    // --- report cache ---------------------------------------------------

    /// The cached answer from `origin` under `key` (or any alias it was
    /// stored with), if it has not expired at `now`. When a report and a
    /// NotFound are both live, the one fetched last wins.
    async fn get_report(
        &self,
        origin: &str,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Cached>, StoreError>;

    /// Caches a report from `origin` for `ttl`, reachable by its key and
    /// every alias: one entry, however it is asked for. Replaces what any
    /// of those keys held before (for this origin) and clears their
    /// NotFound entries.
    async fn put_report(
        &self,
        origin: &str,
        report: NewReport<'_>,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Remembers for `ttl` (usually shorter than a report's) that `origin`
    /// has nothing under `key`.
    async fn put_not_found(
        &self,
        origin: &str,
        key: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Makes the report cached under `key` (and its aliases) expire at `at`
    /// if it would live longer: after a rescan, the fresh report should
    /// replace it soon. No report under `key` is not an error.
    async fn expire_report(
        &self,
        origin: &str,
        key: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// One page of the reports cached from `origin` and live at `now`, in
    /// a stable order (the order they were first cached): what a feed is
    /// made of. One read per page, so a listing of a large cache holds one
    /// page at a time; a report cached again while the listing runs keeps
    /// its place.
    async fn cached_reports(
        &self,
        origin: &str,
        page: ReportPage,
        now: OffsetDateTime,
    ) -> Result<Vec<CachedReport>, StoreError>;

    // --- growth ---------------------------------------------------------

    /// One transaction of pruning: deletes at most `max_rows` rows of each
    /// kind among expired cache entries, ledger rows older than
    /// [`LEDGER_RETENTION`] and jobs finished longer than
    /// [`FINISHED_JOB_RETENTION`] ago (with their journals). `complete` is
    /// true when nothing of the kind is left to delete.
    async fn prune_step(&self, now: OffsetDateTime, max_rows: usize) -> Result<Pruned, StoreError>;

    /// Prunes in steps of `limits.batch_rows` until nothing is left or the
    /// time budget is spent. Reads never delete, so this is how storage
    /// stops growing; vtc runs it at start and on `vtc db prune`.
    async fn prune(&self, now: OffsetDateTime, limits: PruneLimits) -> Result<Pruned, StoreError> {
        let started = std::time::Instant::now();
        let mut total = Pruned::default();
        loop {
            let step = self.prune_step(now, limits.batch_rows.max(1)).await?;
            total.add(&step);
            if step.complete {
                total.complete = true;
                return Ok(total);
            }
            if limits.time_budget.is_some_and(|b| started.elapsed() >= b) {
                return Ok(total);
            }
        }
    }

    /// Gives the space freed by deletes back to the file system. `full`
    /// may rewrite the whole database (long on a big one: `vtc db prune`
    /// only); otherwise the work is bounded.
    async fn compact(&self, full: bool) -> Result<(), StoreError>;

    /// Rows and bytes per table.
    async fn stats(&self) -> Result<StoreStats, StoreError>;

    // --- job journal ----------------------------------------------------

    /// The open job with this fingerprint, or a new one. A batch derives
    /// the fingerprint from its input, output and origin, so rerunning an
    /// interrupted batch resumes its job. Opening the fingerprint of a
    /// finished job starts afresh and drops that finished job.
    async fn open_job(&self, fingerprint: &str) -> Result<JobId, StoreError>;

    /// Journals the record of input line `seq`; durable when this returns
    /// (so a caller journals, then emits). Writing a `seq` again replaces it.
    async fn journal_record(
        &self,
        job: JobId,
        seq: u64,
        key: &str,
        record_json: &str,
    ) -> Result<(), StoreError> {
        self.journal_records(
            job,
            &[JournalEntry {
                seq,
                key: key.to_owned(),
                record: record_json.to_owned(),
            }],
        )
        .await
    }

    /// Journals many records in one transaction: all or none. The cheap
    /// way to journal a busy batch.
    async fn journal_records(&self, job: JobId, entries: &[JournalEntry])
        -> Result<(), StoreError>;

    /// The journalled record of line `seq`, if any.
    async fn journaled(&self, job: JobId, seq: u64) -> Result<Option<String>, StoreError>;

    /// Up to `limit` entries with `seq` greater than `after` (from the
    /// first when `None`), in `seq` order: replay a large journal page by
    /// page without holding it all.
    async fn journal_page(
        &self,
        job: JobId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError>;

    /// Every entry of the job in `seq` order.
    async fn journal_entries(&self, job: JobId) -> Result<Vec<JournalEntry>, StoreError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.journal_page(job, after, JOURNAL_PAGE).await?;
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
    /// fingerprint is opened again or a prune retires it. Finishing twice
    /// is harmless.
    async fn finish_job(&self, job: JobId) -> Result<(), StoreError>;

    async fn job_status(&self, job: JobId) -> Result<JobStatus, StoreError>;

    // --- service tokens -------------------------------------------------

    /// Keeps a token; [`StoreError::TokenExists`] if its name or digest is
    /// already kept.
    async fn add_token(&self, token: &StoredToken) -> Result<(), StoreError>;

    /// The token whose sha256 is `sha256`, if kept.
    async fn token_by_sha256(&self, sha256: &str) -> Result<Option<StoredToken>, StoreError>;

    /// Every kept token, by name.
    async fn tokens(&self) -> Result<Vec<StoredToken>, StoreError>;

    /// Forgets the token named `name`; whether there was one.
    async fn revoke_token(&self, name: &str) -> Result<bool, StoreError>;

    // --- application-control decision log ----------------------------

    /// Keeps decisions, all in one transaction (the service batches them).
    async fn add_decisions(&self, decisions: &[NewDecision]) -> Result<(), StoreError>;

    /// Kept decisions matching `query`, by ascending id.
    async fn decisions(&self, query: &DecisionQuery) -> Result<Vec<StoredDecision>, StoreError>;

    // --- collector (`vtc collect`) ----------------------------------------

    /// Keeps what `source` saw, in one transaction with its new
    /// `checkpoint` (when given): a binary matching a kept one by any hash
    /// is that one (its lists grow, `last_seen` moves to `now`), others are
    /// new (due for a query). So a collector killed after this call
    /// resumes after these sightings and loses none of them. Sightings
    /// without a hash are skipped. Returns how many binaries were new.
    async fn collect_sightings(
        &self,
        source: &str,
        sightings: &[Sighting],
        checkpoint: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// The checkpoint `source` last wrote, if any.
    async fn collect_checkpoint(&self, source: &str) -> Result<Option<String>, StoreError>;

    /// Up to `limit` binaries due for VirusTotal, oldest first: those
    /// never looked up ([`Due::Query`]), then, when `rescan_before` is
    /// given, those whose last analysis is older than it and that were not
    /// rescanned since it ([`Due::Rescan`]).
    async fn collect_due(
        &self,
        rescan_before: Option<OffsetDateTime>,
        limit: usize,
    ) -> Result<Vec<CollectedBinary>, StoreError>;

    /// Writes look-up results back, all in one transaction. A result's
    /// hashes may show that other kept binaries are the same one (seen by
    /// md5 here, by sha256 there): those are folded into it (lists joined,
    /// times widened) and removed, so it is looked up and published once.
    async fn collect_results(&self, results: &[QueryResult]) -> Result<(), StoreError>;

    /// Every kept binary (only those in the feed when `in_feed_only`), by id.
    async fn collect_binaries(
        &self,
        in_feed_only: bool,
    ) -> Result<Vec<CollectedBinary>, StoreError>;

    /// Counts and checkpoints; `rescan_before` as for [`Store::collect_due`].
    async fn collect_status(
        &self,
        rescan_before: Option<OffsetDateTime>,
    ) -> Result<CollectStatus, StoreError>;

    /// Forgets every binary and checkpoint (`vtc collect --reset`): the
    /// next run starts over. Returns how many binaries were forgotten.
    async fn collect_reset(&self) -> Result<u64, StoreError>;
    // --- the service's work queue ----------------------------------------

    /// Queues a job and all its items (state queued, `seq` from 0 in the
    /// order given) in one transaction.
    async fn create_enrich_job(
        &self,
        job: &NewEnrichJob<'_>,
        now: OffsetDateTime,
    ) -> Result<EnrichJobId, StoreError>;

    /// The job with its items counted by state; `None` if there is none.
    async fn enrich_job(&self, job: EnrichJobId) -> Result<Option<EnrichJob>, StoreError>;

    /// Atomically leases to `worker`, until `now + lease`, up to `n` items
    /// that are queued or whose lease ended, of jobs not cancelled: every
    /// interactive item before any bulk one (bulk only when `bulk`), then
    /// by job and `seq`. Two workers never get the same item while a lease
    /// holds (PostgreSQL: `FOR UPDATE SKIP LOCKED`). In the same
    /// transaction, items of cancelled jobs whose lease ran out are
    /// cancelled (their worker is gone) and those jobs finished.
    async fn claim_items(
        &self,
        worker: &str,
        n: usize,
        lease: Duration,
        bulk: bool,
        now: OffsetDateTime,
    ) -> Result<Vec<ClaimedItem>, StoreError>;

    /// Extends to `until` the leases `worker` holds (a worker calls it
    /// while its items are in progress); how many were extended.
    async fn renew_leases(&self, worker: &str, until: OffsetDateTime) -> Result<u64, StoreError>;

    /// Stores the record of item `seq` and marks it done, only if it is
    /// still leased by `worker` (so no item is completed twice); finishes
    /// the job when nothing of it is queued or leased any more. Whether it
    /// was completed.
    async fn complete_item(
        &self,
        job: EnrichJobId,
        seq: u64,
        worker: &str,
        record_json: &str,
        failed: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Cancels a job: its queued items are never handed out; leased ones
    /// may still complete. False if there is no such job or it is already
    /// finished or cancelled.
    async fn cancel_enrich_job(
        &self,
        job: EnrichJobId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Up to `n` items with `seq` greater than `after` (from the first
    /// when `None`), in `seq` order, with their records once done.
    async fn job_results_page(
        &self,
        job: EnrichJobId,
        after: Option<u64>,
        n: usize,
    ) -> Result<Vec<JobItem>, StoreError>;

    // --- usage counters -------------------------------------------------

    /// Adds `amount` to what `subject` (a client, a source) used in the
    /// window starting at `window_start`, if the total stays within
    /// `limit` (`None`: no limit); check and add are one transaction.
    async fn charge_usage(
        &self,
        subject: &str,
        window_start: OffsetDateTime,
        amount: u64,
        limit: Option<u64>,
    ) -> Result<UsageCharge, StoreError>;

    /// What `subject` used in the window starting at `window_start`.
    async fn usage(&self, subject: &str, window_start: OffsetDateTime) -> Result<u64, StoreError>;

    // --- shared quota ledger and in-flight markers ----------------------

    /// Reserves one call of the key labelled `key_label` at `origin` at
    /// `now` under `budget`, in one atomic step: processes sharing the
    /// database never together exceed the budget. A reservation counts
    /// for the minute window, the day and the month; one whose process
    /// died simply ages out of the window.
    async fn reserve_api_call(
        &self,
        origin: &str,
        key_label: &str,
        budget: &CallBudget,
        now: OffsetDateTime,
    ) -> Result<Reservation, StoreError>;

    /// Moves a reservation [`Store::reserve_api_call`] booked at
    /// `reserved_at` to `answered_at`, when the call's answer came: the
    /// server saw the call at some moment in between, so a reservation held
    /// from the answer on never leaves the window before the server's
    /// count does. No such reservation is not an error.
    async fn settle_api_call(
        &self,
        origin: &str,
        key_label: &str,
        reserved_at: OffsetDateTime,
        answered_at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Marks `key` at `origin` as being fetched by `holder` until
    /// `now + lease`, unless another holder's live marker is there: true
    /// when this holder has it (then it fetches; others wait for the cache).
    async fn begin_fetch(
        &self,
        origin: &str,
        key: &str,
        holder: &str,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Removes `holder`'s marker on `key` (another holder's stays).
    async fn end_fetch(&self, origin: &str, key: &str, holder: &str) -> Result<(), StoreError>;

    // --- quota ledger ---------------------------------------------------

    /// Counts one API call to `origin` made at `at` with the key labelled
    /// `key_label` (a name or fingerprint, never the key or a part of it).
    async fn record_api_call(
        &self,
        origin: &str,
        key_label: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.record_api_calls(origin, &[(key_label, at)]).await
    }

    /// Counts several calls at once, in one transaction.
    async fn record_api_calls(
        &self,
        origin: &str,
        calls: &[(&str, OffsetDateTime)],
    ) -> Result<(), StoreError>;

    /// Calls to `origin` recorded for `key_label` at or after `since`, so
    /// a restarted process knows what it already spent. Counted per whole
    /// second: a call in the same second as `since` counts, erring towards
    /// caution.
    async fn api_calls_since(
        &self,
        origin: &str,
        key_label: &str,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// The calls to `origin` recorded for `key_label` at or after `since`,
    /// per second (unix seconds, ascending): enough to rebuild a sliding
    /// minute window.
    async fn api_calls_per_second(
        &self,
        origin: &str,
        key_label: &str,
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
        shareable::<std::sync::Arc<dyn Store>>();
    }

    #[test]
    fn a_postgres_error_does_not_repeat_the_url() {
        let e = StoreError::BackendNotBuilt {
            backend: "PostgreSQL",
        };
        assert_eq!(
            e.to_string(),
            "PostgreSQL databases are not built yet: give --db a SQLite file path (or sqlite://PATH)"
        );
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

//! The embedded [`Store`] backend: one SQLite file.
//!
//! One connection, owned by a thread of its own: every call is sent to it
//! as a closure and its answer comes back on a oneshot channel. So the
//! async runtime never blocks on disk, calls are serialised as the single
//! connection needs anyway, and the futures need no particular runtime.
//!
//! WAL mode with `synchronous=NORMAL`: a committed write survives vtc being
//! killed or crashing (what resuming a batch needs); an OS crash or power
//! loss may lose the last few commits but never corrupts the file. Writes
//! that span rows run in one `IMMEDIATE` transaction, so two processes
//! sharing a file wait for each other (up to [`BUSY_TIMEOUT`]) instead of
//! failing. Reports and journal records are stored deflated
//! ([`store_core::compact`]); origins are numbered in a table of their own
//! so a row carries a small integer, not a URL. New files use incremental
//! auto-vacuum, so pruned space can be given back without a full rewrite.
//!
//! Knows nothing of VirusTotal; rusqlite stays inside this crate (errors
//! leave it as [`StoreError`]).

mod collected;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use store_core::compact::{pack, unpack};
use store_core::{
    async_trait, Cached, CachedReport, CalendarWindow, CallBudget, ClaimedItem, CollectStatus,
    CollectedBinary, DecisionQuery, EnrichJob, EnrichJobId, ItemState, JobId, JobItem, JobState,
    JobStatus, JournalEntry, NewDecision, NewEnrichJob, NewReport, Pruned, QueryResult,
    QueuePriority, ReportCursor, ReportPage, Reservation, Sighting, Store, StoreError, StoreStats,
    StoredDecision, StoredToken, TableStats, UsageCharge, FINISHED_JOB_RETENTION, LEDGER_RETENTION,
    MAX_DECISION_PAGE,
};
use time::OffsetDateTime;
use tokio::sync::oneshot;

/// How long a statement waits for another process' write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `PRAGMA application_id` of a vtc database ("vtc1"), so vtc refuses
/// another program's SQLite file instead of adding tables to it.
const APPLICATION_ID: i32 = 0x7674_6331;

/// The page size of new files (see `setup`).
const PAGE_SIZE: i64 = 8192;

/// Pages a bounded compaction gives back at most (16 MiB of 8 KiB pages).
const INCREMENTAL_VACUUM_PAGES: u32 = 2048;

/// The schema, one step per entry; `PRAGMA user_version` is how many have
/// been applied. Never edit a released step: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: report cache, job journal, quota ledger.
    "CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        json TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,   -- unix milliseconds, like every time below
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX reports_by_expiry ON reports(expires_at);
    CREATE TABLE report_keys (
        key TEXT PRIMARY KEY,
        report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE
    ) WITHOUT ROWID;
    CREATE INDEX report_keys_by_report ON report_keys(report_id);
    CREATE TABLE not_found (
        key TEXT PRIMARY KEY,
        fetched_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a stale id must not reach a new job
        fingerprint TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        finished_at INTEGER
    );
    CREATE UNIQUE INDEX jobs_one_open_per_fingerprint ON jobs(fingerprint) WHERE finished_at IS NULL;
    CREATE TABLE journal (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        key TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
    );
    CREATE TABLE api_calls (
        key_prefix TEXT NOT NULL,
        second INTEGER NOT NULL,       -- unix seconds
        calls INTEGER NOT NULL,
        PRIMARY KEY (key_prefix, second)
    ) WITHOUT ROWID;",
    // 2: the cache and the ledger keyed by API origin; keys identified by
    // a label, never a prefix of the key; reports stored deflated. The old
    // cache cannot say which API answered and the old ledger holds key
    // prefixes, so both go (the cache refills; the ledger errs towards
    // spending, which the client's back-off absorbs). Journals stay: an
    // interrupted batch still resumes (`record` now holds packed blobs,
    // old rows stay text; both read back).
    "DROP TABLE report_keys;
    DROP TABLE reports;
    DROP TABLE not_found;
    DROP TABLE api_calls;
    CREATE TABLE origins (
        id INTEGER PRIMARY KEY,
        origin TEXT NOT NULL UNIQUE    -- scheme://host:port of the API
    );
    CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        origin_id INTEGER NOT NULL REFERENCES origins(id),
        kind TEXT NOT NULL,
        body BLOB NOT NULL,            -- store_core::compact::pack of the JSON
        fetched_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX reports_by_expiry ON reports(expires_at);
    CREATE TABLE report_keys (
        origin_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        PRIMARY KEY (origin_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX report_keys_by_report ON report_keys(report_id);
    CREATE TABLE not_found (
        origin_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (origin_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX not_found_by_expiry ON not_found(expires_at);
    CREATE TABLE api_calls (
        origin_id INTEGER NOT NULL,
        key_label TEXT NOT NULL,       -- a configured name or key-<sha256 fingerprint>
        second INTEGER NOT NULL,       -- unix seconds
        calls INTEGER NOT NULL,
        PRIMARY KEY (origin_id, key_label, second)
    ) WITHOUT ROWID;
    CREATE INDEX api_calls_by_second ON api_calls(second);",
    // 3: bearer tokens of `vtc serve`, by sha256 (never the token).
    "CREATE TABLE tokens (
        sha256 TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 4: per-client quotas with the tokens, the service's work queue
    // (jobs and their items, leased by workers), usage counters per window.
    "ALTER TABLE tokens ADD COLUMN quota TEXT;
    CREATE TABLE enrich_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a stale id must not reach a new job
        owner TEXT NOT NULL,                   -- the token name
        priority INTEGER NOT NULL,             -- 0 interactive, 1 bulk
        total INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        cancelled_at INTEGER,
        finished_at INTEGER
    );
    CREATE INDEX enrich_jobs_by_finish ON enrich_jobs(finished_at);
    CREATE TABLE enrich_items (
        job_id INTEGER NOT NULL REFERENCES enrich_jobs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        priority INTEGER NOT NULL,             -- the job's, so a claim reads one index
        state INTEGER NOT NULL,                -- 0 queued, 1 leased, 2 done, 3 cancelled
        input TEXT NOT NULL,
        policy TEXT,
        lease_until INTEGER,
        leased_by TEXT,
        failed INTEGER NOT NULL DEFAULT 0,
        record BLOB,                           -- store_core::compact::pack of the record
        PRIMARY KEY (job_id, seq)
    );
    CREATE INDEX enrich_items_to_claim ON enrich_items(state, priority, job_id, seq) WHERE state < 2;
    CREATE TABLE usage_counts (
        subject TEXT NOT NULL,                 -- client:NAME, source:NAME
        window_start INTEGER NOT NULL,         -- unix milliseconds
        used INTEGER NOT NULL,
        PRIMARY KEY (subject, window_start)
    ) WITHOUT ROWID;",
    // 5: the collector (`vtc collect`): binaries seen by its sources, what
    // VirusTotal said of them, and each source's checkpoint. Lists are
    // JSON arrays (bounded by store_core::collected); `record` is packed.
    "CREATE TABLE collected (
        id INTEGER PRIMARY KEY,
        md5 TEXT, sha1 TEXT, sha256 TEXT, size INTEGER,
        sources TEXT NOT NULL, hosts TEXT NOT NULL, file_names TEXT NOT NULL,
        path TEXT,
        first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
        last_query INTEGER, last_analysis INTEGER, rescanned_at INTEGER, uploaded_at INTEGER,
        verdict TEXT, malicious INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0,
        in_feed INTEGER NOT NULL DEFAULT 0,
        record BLOB
    );
    CREATE INDEX collected_by_md5 ON collected(md5);
    CREATE INDEX collected_by_sha1 ON collected(sha1);
    CREATE INDEX collected_by_sha256 ON collected(sha256);
    CREATE INDEX collected_unqueried ON collected(id) WHERE last_query IS NULL;
    CREATE INDEX collected_by_analysis ON collected(last_analysis);
    CREATE TABLE collect_checkpoints (
        source TEXT PRIMARY KEY,
        checkpoint TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 6: the application-control decision log, filtered by time, host,
    // user, hash, action and policy; the decision itself as JSON.
    "CREATE TABLE decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,           -- unix milliseconds
        host TEXT NOT NULL,
        user TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        action TEXT NOT NULL,
        policy TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX decisions_by_time ON decisions(at);
    CREATE INDEX decisions_by_hash ON decisions(sha256, id);",
    // 7: the shared quota ledger (reservations in the sliding minute; day
    // and month counters) and the in-flight markers of lookups shared by
    // several processes.
    "CREATE TABLE quota_slots (
        origin_id INTEGER NOT NULL,
        key_label TEXT NOT NULL,
        at INTEGER NOT NULL                     -- unix milliseconds
    );
    CREATE INDEX quota_slots_by_key ON quota_slots(origin_id, key_label, at);
    CREATE TABLE quota_usage (
        origin_id INTEGER NOT NULL,
        key_label TEXT NOT NULL,
        period TEXT NOT NULL,                   -- day | month
        start INTEGER NOT NULL,                 -- unix milliseconds
        used INTEGER NOT NULL,
        PRIMARY KEY (origin_id, key_label, period)
    ) WITHOUT ROWID;
    CREATE TABLE in_flight (
        origin_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        holder TEXT NOT NULL,
        until INTEGER NOT NULL,
        PRIMARY KEY (origin_id, key)
    ) WITHOUT ROWID;",
];

/// Every table vtc keeps, in the order `stats` lists them.
const TABLES: &[&str] = &[
    "reports",
    "report_keys",
    "not_found",
    "jobs",
    "journal",
    "api_calls",
    "origins",
    "tokens",
    "enrich_jobs",
    "enrich_items",
    "usage_counts",
    "collected",
    "collect_checkpoints",
    "decisions",
    "quota_slots",
    "quota_usage",
    "in_flight",
];

/// A SQLite failure or one of the store's own, inside this crate.
#[derive(Debug)]
enum Failure {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Failure {
        Failure::Sql(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Store(e)
    }
}

impl From<Failure> for StoreError {
    fn from(f: Failure) -> StoreError {
        match f {
            Failure::Sql(e) => StoreError::backend(e),
            Failure::Store(e) => e,
        }
    }
}

type Outcome<T> = Result<T, Failure>;

/// What the database thread owns.
struct Db {
    conn: Connection,
    location: String,
    /// Origin ids already read or created. Origins are never deleted, so
    /// an id once known stays right.
    origins: HashMap<String, i64>,
}

type Task = Box<dyn FnOnce(&mut Db) + Send>;

/// The SQLite [`Store`].
pub struct SqliteStore {
    tasks: Option<std::sync::mpsc::Sender<Task>>,
    worker: Option<std::thread::JoinHandle<()>>,
    location: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .finish()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // The thread finishes what was sent, then closes the connection.
        drop(self.tasks.take());
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl SqliteStore {
    /// Opens (creating it and its folder if needed) the database at `path`
    /// and migrates it to the current schema.
    ///
    /// A file that is not SQLite, is corrupt, or belongs to another program
    /// is [`StoreError::NotVtcDatabase`]; one written by a newer vtc is
    /// [`StoreError::SchemaTooNew`]. Neither is modified.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let location = path.display().to_string();
        SqliteStore::start(location, move || {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                    path: path.clone(),
                    source,
                })?;
            }
            Connection::open(&path).map_err(|source| StoreError::Open {
                location: path.display().to_string(),
                source: Box::new(source),
            })
        })
        .await
    }

    /// A private database in memory, gone when dropped (tests, `vtc demo`).
    pub async fn open_in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::start(":memory:".to_owned(), || {
            Connection::open_in_memory().map_err(|source| StoreError::Open {
                location: ":memory:".into(),
                source: Box::new(source),
            })
        })
        .await
    }

    /// Where the database lives (`:memory:` for an in-memory one).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Starts the database thread, which opens and migrates the database
    /// and then serves calls until the store is dropped.
    async fn start(
        location: String,
        connect: impl FnOnce() -> Result<Connection, StoreError> + Send + 'static,
    ) -> Result<SqliteStore, StoreError> {
        let (ready_tx, ready_rx) = oneshot::channel();
        let (tasks, queue) = std::sync::mpsc::channel::<Task>();
        let thread_location = location.clone();
        let worker = std::thread::Builder::new()
            .name("vtc-sqlite".into())
            .spawn(move || {
                let opened = connect().and_then(|conn| setup(conn, thread_location));
                let mut db = match opened {
                    Ok(db) => {
                        let _ = ready_tx.send(Ok(()));
                        db
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(task) = queue.recv() {
                    // A panic inside one call must not take the database
                    // away from every later one; its open transaction was
                    // rolled back as it unwound.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(&mut db)))
                        .is_err()
                    {
                        tracing::error!("a database call panicked");
                    }
                }
            })
            .map_err(|source| StoreError::Open {
                location: location.clone(),
                source: Box::new(source),
            })?;
        let store = SqliteStore {
            tasks: Some(tasks),
            worker: Some(worker),
            location,
        };
        ready_rx.await.map_err(|_| StoreError::Closed)??;
        tracing::debug!(location = %store.location, "opened database");
        Ok(store)
    }

    /// Runs `f` on the database thread.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Db) -> Outcome<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        let task: Task = Box::new(move |db| {
            let _ = tx.send(f(db).map_err(StoreError::from));
        });
        self.tasks
            .as_ref()
            .ok_or(StoreError::Closed)?
            .send(task)
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// Checks the file is ours (or empty), then sets it up and migrates it.
fn setup(conn: Connection, location: String) -> Result<Db, StoreError> {
    let not_vtc = |reason: String| StoreError::NotVtcDatabase {
        location: location.clone(),
        reason,
    };
    // The first statements read the file header: this is where a file
    // that is not a database shows itself.
    let open_err = |source: rusqlite::Error| match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => not_vtc(source.to_string()),
        _ => StoreError::Open {
            location: location.clone(),
            source: Box::new(source),
        },
    };
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(open_err)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(open_err)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(open_err)?;
    if app_id != 0 && app_id != APPLICATION_ID {
        return Err(not_vtc(format!(
            "it belongs to another program (application_id {app_id:#x})"
        )));
    }
    if app_id == 0 && tables > 0 {
        return Err(not_vtc("it holds tables vtc did not create".to_owned()));
    }
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::SchemaTooNew {
            location,
            found: version,
            known,
        });
    }
    if tables == 0 {
        // Before the first table, and the page size before auto_vacuum
        // (which fixes it). A deflated report is about 2 KiB: two do not
        // fit a 4 KiB page, so half of every page would be wasted; three
        // fit in 8 KiB.
        conn.pragma_update(None, "page_size", PAGE_SIZE)
            .map_err(open_err)?;
        // Pruned pages can then be given back a few at a time (older files
        // are converted by `compact(true)`).
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(open_err)?;
    }
    // In memory the journal mode stays `memory`; that is fine.
    let _mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(open_err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    conn.set_prepared_statement_cache_capacity(64);
    let mut db = Db {
        conn,
        location,
        origins: HashMap::new(),
    };
    migrate(&mut db)?;
    Ok(db)
}

fn migrate(db: &mut Db) -> Outcome<()> {
    let tx = db
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read inside the write lock: another process may have just migrated.
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::SchemaTooNew {
            location: db.location.clone(),
            found: version,
            known,
        }
        .into());
    }
    if version < known {
        // What the old steps drop (key prefixes among them) is overwritten,
        // not left in free pages.
        tx.pragma_update(None, "secure_delete", "ON")?;
    }
    for (step, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.execute_batch(sql)?;
        tracing::info!(location = %db.location, version = step + 1, "migrated database schema");
    }
    if version < known {
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", known)?;
    }
    tx.commit()?;
    if version < known {
        db.conn.pragma_update(None, "secure_delete", "OFF")?;
    }
    Ok(())
}

/// Unix milliseconds.
fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn expiry(now: OffsetDateTime, ttl: Duration) -> i64 {
    millis(now).saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

fn seq_param(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::OutOfRange {
        what: "journal sequence number",
        value: seq,
    })
}

fn limit_param(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A journal record as stored: packed (a blob) or, in rows written before
/// schema 2, plain text.
fn read_record(value: ValueRef<'_>) -> Outcome<String> {
    match value {
        ValueRef::Text(text) => Ok(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => Ok(unpack(bytes, "journal record")?),
        _ => Err(StoreError::Corrupt {
            what: "journal record",
            reason: "it is neither text nor a blob".into(),
        }
        .into()),
    }
}

impl Db {
    /// The id of a known origin; `None` when nothing was ever stored for it.
    fn origin_id(&mut self, origin: &str) -> Outcome<Option<i64>> {
        if let Some(&id) = self.origins.get(origin) {
            return Ok(Some(id));
        }
        let id: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM origins WHERE origin = ?1")?
            .query_row([origin], |r| r.get(0))
            .optional()?;
        if let Some(id) = id {
            self.origins.insert(origin.to_owned(), id);
        }
        Ok(id)
    }

    /// The id of `origin`, numbering it if it is new. Runs outside any
    /// transaction, so a rolled-back write cannot leave a stale id cached.
    fn origin_id_or_insert(&mut self, origin: &str) -> Outcome<i64> {
        if let Some(id) = self.origin_id(origin)? {
            return Ok(id);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO origins (origin) VALUES (?1) ON CONFLICT (origin) DO NOTHING",
            )?
            .execute([origin])?;
        let id: i64 = self
            .conn
            .prepare_cached("SELECT id FROM origins WHERE origin = ?1")?
            .query_row([origin], |r| r.get(0))?;
        self.origins.insert(origin.to_owned(), id);
        Ok(id)
    }
}

/// Fails unless `job` exists and is open.
fn check_open(conn: &Connection, job: JobId) -> Outcome<()> {
    let finished: Option<Option<i64>> = conn
        .prepare_cached("SELECT finished_at FROM jobs WHERE id = ?1")?
        .query_row([job.get()], |r| r.get(0))
        .optional()?;
    match finished {
        None => Err(StoreError::NoSuchJob(job).into()),
        Some(Some(_)) => Err(StoreError::JobFinished(job).into()),
        Some(None) => Ok(()),
    }
}

fn put_report(
    db: &mut Db,
    origin: &str,
    report: Owned,
    ttl: Duration,
    now: OffsetDateTime,
) -> Outcome<()> {
    let origin = db.origin_id_or_insert(origin)?;
    let mut keys: Vec<&str> = Vec::with_capacity(report.aliases.len() + 1);
    for k in std::iter::once(report.key.as_str()).chain(report.aliases.iter().map(String::as_str)) {
        if !k.is_empty() && !keys.contains(&k) {
            keys.push(k);
        }
    }
    let body = &report.body;
    let tx = db
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut previous: Vec<i64> = Vec::new();
    {
        let mut lookup = tx.prepare_cached(
            "SELECT report_id FROM report_keys WHERE origin_id = ?1 AND key = ?2",
        )?;
        for k in &keys {
            if let Some(id) = lookup
                .query_row(params![origin, k], |r| r.get::<_, i64>(0))
                .optional()?
            {
                if !previous.contains(&id) {
                    previous.push(id);
                }
            }
        }
    }
    previous.sort_unstable();
    let (fetched, expires) = (millis(now), expiry(now, ttl));
    let id = match previous.first() {
        Some(&id) => {
            tx.prepare_cached(
                "UPDATE reports SET kind = ?2, body = ?3, fetched_at = ?4, expires_at = ?5 WHERE id = ?1",
            )?
            .execute(params![id, report.kind, body, fetched, expires])?;
            id
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO reports (origin_id, kind, body, fetched_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![origin, report.kind, body, fetched, expires])?;
            tx.last_insert_rowid()
        }
    };
    {
        let mut link = tx.prepare_cached(
            "INSERT INTO report_keys (origin_id, key, report_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (origin_id, key) DO UPDATE SET report_id = excluded.report_id",
        )?;
        let mut forget =
            tx.prepare_cached("DELETE FROM not_found WHERE origin_id = ?1 AND key = ?2")?;
        for k in &keys {
            link.execute(params![origin, k, id])?;
            forget.execute(params![origin, k])?;
        }
        // Reports whose keys all moved to this one are unreachable now.
        let mut orphan = tx.prepare_cached(
            "DELETE FROM reports WHERE id = ?1
             AND NOT EXISTS (SELECT 1 FROM report_keys WHERE report_id = ?1)",
        )?;
        for old in previous.iter().skip(1) {
            orphan.execute([old])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// A [`NewReport`] moved to the database thread.
struct Owned {
    key: String,
    aliases: Vec<String>,
    kind: String,
    /// The packed JSON.
    body: Vec<u8>,
}

fn prune_step(db: &mut Db, now: OffsetDateTime, max_rows: usize) -> Outcome<Pruned> {
    let tx = db
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (at, limit) = (millis(now), limit_param(max_rows));
    // Their keys go with them (ON DELETE CASCADE).
    let reports = tx.execute(
        "DELETE FROM reports WHERE id IN
            (SELECT id FROM reports WHERE expires_at <= ?1 LIMIT ?2)",
        params![at, limit],
    )?;
    let not_found = tx.execute(
        "DELETE FROM not_found WHERE (origin_id, key) IN
            (SELECT origin_id, key FROM not_found WHERE expires_at <= ?1 LIMIT ?2)",
        params![at, limit],
    )?;
    let cutoff = (now - LEDGER_RETENTION).unix_timestamp();
    let ledger_rows = tx.execute(
        "DELETE FROM api_calls WHERE (origin_id, key_label, second) IN
            (SELECT origin_id, key_label, second FROM api_calls WHERE second < ?1 LIMIT ?2)",
        params![cutoff, limit],
    )?;
    let retired = millis(now - FINISHED_JOB_RETENTION);
    let journal_entries = tx.execute(
        "DELETE FROM journal WHERE rowid IN
            (SELECT j.rowid FROM journal j JOIN jobs ON jobs.id = j.job_id
             WHERE jobs.finished_at < ?1 LIMIT ?2)",
        params![retired, limit],
    )?;
    let jobs = tx.execute(
        "DELETE FROM jobs WHERE id IN
            (SELECT id FROM jobs WHERE finished_at < ?1
             AND NOT EXISTS (SELECT 1 FROM journal WHERE job_id = jobs.id) LIMIT ?2)",
        params![retired, limit],
    )?;
    let usage_rows = tx.execute(
        "DELETE FROM usage_counts WHERE (subject, window_start) IN
            (SELECT subject, window_start FROM usage_counts WHERE window_start < ?1 LIMIT ?2)",
        params![millis(now - LEDGER_RETENTION), limit],
    )?;
    let items = tx.execute(
        "DELETE FROM enrich_items WHERE rowid IN
            (SELECT i.rowid FROM enrich_items i JOIN enrich_jobs j ON j.id = i.job_id
             WHERE j.finished_at < ?1 LIMIT ?2)",
        params![retired, limit],
    )?;
    let queue_jobs = tx.execute(
        "DELETE FROM enrich_jobs WHERE id IN
            (SELECT id FROM enrich_jobs WHERE finished_at < ?1
             AND NOT EXISTS (SELECT 1 FROM enrich_items WHERE job_id = enrich_jobs.id) LIMIT ?2)",
        params![retired, limit],
    )?;
    // Reservations out of every window and lapsed markers: no count of
    // their own in `Pruned` (they are bookkeeping, a few rows at most).
    tx.execute(
        "DELETE FROM quota_slots WHERE rowid IN
            (SELECT rowid FROM quota_slots WHERE at < ?1 LIMIT ?2)",
        params![at - 3_600_000, limit],
    )?;
    tx.execute(
        "DELETE FROM in_flight WHERE (origin_id, key) IN
            (SELECT origin_id, key FROM in_flight WHERE until <= ?1 LIMIT ?2)",
        params![at, limit],
    )?;
    tx.commit()?;
    let complete = [
        reports,
        not_found,
        ledger_rows,
        journal_entries,
        jobs,
        usage_rows,
        items,
        queue_jobs,
    ]
    .iter()
    .all(|&n| n < max_rows);
    Ok(Pruned {
        reports: reports as u64,
        not_found: not_found as u64,
        ledger_rows: (ledger_rows + usage_rows) as u64,
        jobs: (jobs + queue_jobs) as u64,
        journal_entries: (journal_entries + items) as u64,
        complete,
    })
}

fn compact(db: &mut Db, full: bool) -> Outcome<()> {
    let conn = &db.conn;
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    const INCREMENTAL: i64 = 2;
    if full {
        if mode != INCREMENTAL {
            // Takes effect with the VACUUM below: later compactions are
            // incremental.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        conn.execute_batch("VACUUM")?;
    } else if mode == INCREMENTAL {
        // Stepped to the end: each step of this pragma frees one page.
        let mut stmt = conn.prepare(&format!(
            "PRAGMA incremental_vacuum({INCREMENTAL_VACUUM_PAGES})"
        ))?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
    }
    // In WAL mode the file shrinks only when the log is written back.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .optional()?;
    Ok(())
}

fn stats(db: &mut Db) -> Outcome<StoreStats> {
    let conn = &db.conn;
    let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
    let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
    // Pages per table, its indexes included (the bundled SQLite has the
    // dbstat table).
    let mut bytes: HashMap<String, i64> = HashMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d
             JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        for row in rows {
            let (table, size) = row?;
            bytes.insert(table, size);
        }
    }
    let mut tables = Vec::with_capacity(TABLES.len());
    for &name in TABLES {
        // The names are this crate's constants, not input.
        let rows: i64 =
            conn.query_row(&format!("SELECT count(*) FROM {name}"), [], |r| r.get(0))?;
        tables.push(TableStats {
            name: name.to_owned(),
            rows: rows.try_into().unwrap_or(0),
            bytes: bytes
                .get(name)
                .copied()
                .unwrap_or(0)
                .try_into()
                .unwrap_or(0),
        });
    }
    Ok(StoreStats {
        backend: "sqlite",
        location: db.location.clone(),
        tables,
        size_bytes: (page_size * pages).try_into().unwrap_or(0),
        free_bytes: (page_size * free).try_into().unwrap_or(0),
    })
}

fn priority_code(p: QueuePriority) -> i64 {
    match p {
        QueuePriority::Interactive => 0,
        QueuePriority::Bulk => 1,
    }
}

fn priority_of(code: i64) -> QueuePriority {
    if code == 0 {
        QueuePriority::Interactive
    } else {
        QueuePriority::Bulk
    }
}

/// Marks `job` finished once none of its items is queued or leased.
fn finish_if_drained(tx: &Connection, job: EnrichJobId, now: OffsetDateTime) -> Outcome<()> {
    tx.prepare_cached(
        "UPDATE enrich_jobs SET finished_at = ?2 WHERE id = ?1 AND finished_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM enrich_items WHERE job_id = ?1 AND state < 2)",
    )?
    .execute(params![job.get(), millis(now)])?;
    Ok(())
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredToken> {
    Ok(StoredToken {
        sha256: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        created_at: from_millis(r.get(3)?),
        quota: r.get(4)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        self.call(migrate).await
    }

    async fn collect_sightings(
        &self,
        source: &str,
        sightings: &[Sighting],
        checkpoint: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let (source, sightings) = (source.to_owned(), sightings.to_vec());
        let checkpoint = checkpoint.map(str::to_owned);
        self.call(move |db| {
            collected::sightings(db, &source, &sightings, checkpoint.as_deref(), now)
        })
        .await
    }

    async fn collect_checkpoint(&self, source: &str) -> Result<Option<String>, StoreError> {
        let source = source.to_owned();
        self.call(move |db| collected::checkpoint(db, &source))
            .await
    }

    async fn collect_due(
        &self,
        rescan_before: Option<OffsetDateTime>,
        limit: usize,
    ) -> Result<Vec<CollectedBinary>, StoreError> {
        self.call(move |db| collected::due(db, rescan_before, limit))
            .await
    }

    async fn collect_results(&self, results: &[QueryResult]) -> Result<(), StoreError> {
        let results = results.to_vec();
        self.call(move |db| collected::results(db, &results)).await
    }

    async fn collect_binaries(
        &self,
        in_feed_only: bool,
    ) -> Result<Vec<CollectedBinary>, StoreError> {
        self.call(move |db| collected::binaries(db, in_feed_only))
            .await
    }

    async fn collect_status(
        &self,
        rescan_before: Option<OffsetDateTime>,
    ) -> Result<CollectStatus, StoreError> {
        self.call(move |db| collected::status(db, rescan_before))
            .await
    }

    async fn collect_reset(&self) -> Result<u64, StoreError> {
        self.call(collected::reset).await
    }

    async fn add_token(&self, token: &StoredToken) -> Result<(), StoreError> {
        let token = token.clone();
        self.call(move |db| {
            let added = db
                .conn
                .prepare_cached(
                    "INSERT INTO tokens (sha256, name, role, created_at, quota)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )?
                .execute(params![
                    token.sha256,
                    token.name,
                    token.role,
                    millis(token.created_at),
                    token.quota
                ])?;
            if added == 0 {
                return Err(StoreError::TokenExists { name: token.name }.into());
            }
            Ok(())
        })
        .await
    }

    async fn token_by_sha256(&self, sha256: &str) -> Result<Option<StoredToken>, StoreError> {
        let sha256 = sha256.to_owned();
        self.call(move |db| {
            Ok(db
                .conn
                .prepare_cached(
                    "SELECT sha256, name, role, created_at, quota FROM tokens WHERE sha256 = ?1",
                )?
                .query_row([sha256], token_row)
                .optional()?)
        })
        .await
    }

    async fn tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        self.call(|db| {
            let mut stmt = db.conn.prepare_cached(
                "SELECT sha256, name, role, created_at, quota FROM tokens ORDER BY name",
            )?;
            let rows = stmt.query_map([], token_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.call(move |db| {
            Ok(db
                .conn
                .prepare_cached("DELETE FROM tokens WHERE name = ?1")?
                .execute([name])?
                > 0)
        })
        .await
    }

    async fn add_decisions(&self, decisions: &[NewDecision]) -> Result<(), StoreError> {
        let decisions = decisions.to_vec();
        self.call(move |db| {
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO decisions (at, host, user, sha256, action, policy, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for d in &decisions {
                    insert.execute(params![
                        millis(d.at),
                        d.host,
                        d.user,
                        d.sha256,
                        d.action,
                        d.policy,
                        d.json
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn decisions(&self, query: &DecisionQuery) -> Result<Vec<StoredDecision>, StoreError> {
        let q = query.clone();
        self.call(move |db| {
            // Unset filters match everything: `?N IS NULL OR column = ?N`.
            let mut stmt = db.conn.prepare_cached(
                "SELECT id, at, host, user, sha256, action, policy, body FROM decisions
                 WHERE id > ?1
                   AND (?2 IS NULL OR at >= ?2) AND (?3 IS NULL OR at < ?3)
                   AND (?4 IS NULL OR host = ?4) AND (?5 IS NULL OR user = ?5)
                   AND (?6 IS NULL OR sha256 = ?6) AND (?7 IS NULL OR action = ?7)
                   AND (?8 IS NULL OR policy = ?8)
                 ORDER BY id LIMIT ?9",
            )?;
            let limit = i64::try_from(q.limit.min(MAX_DECISION_PAGE)).unwrap_or(0);
            let rows = stmt.query_map(
                params![
                    q.after_id.unwrap_or(0),
                    q.since.map(millis),
                    q.until.map(millis),
                    q.host,
                    q.user,
                    q.sha256,
                    q.action,
                    q.policy,
                    limit
                ],
                |r| {
                    Ok(StoredDecision {
                        id: r.get(0)?,
                        decision: NewDecision {
                            at: from_millis(r.get(1)?),
                            host: r.get(2)?,
                            user: r.get(3)?,
                            sha256: r.get(4)?,
                            action: r.get(5)?,
                            policy: r.get(6)?,
                            json: r.get(7)?,
                        },
                    })
                },
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn get_report(
        &self,
        origin: &str,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Cached>, StoreError> {
        let (origin, key) = (origin.to_owned(), key.to_owned());
        let answer = self
            .call(move |db| {
                let Some(origin) = db.origin_id(&origin)? else {
                    return Ok(None);
                };
                let now = millis(now);
                let found = db
                    .conn
                    .prepare_cached(
                        "SELECT r.kind, r.body, r.fetched_at, r.expires_at
                     FROM report_keys k JOIN reports r ON r.id = k.report_id
                     WHERE k.origin_id = ?1 AND k.key = ?2 AND r.expires_at > ?3",
                    )?
                    .query_row(params![origin, key, now], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, Vec<u8>>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    })
                    .optional()?;
                let not_found = db
                    .conn
                    .prepare_cached(
                        "SELECT fetched_at, expires_at FROM not_found
                     WHERE origin_id = ?1 AND key = ?2 AND expires_at > ?3",
                    )?
                    .query_row(params![origin, key, now], |r| {
                        Ok(Cached::NotFound {
                            fetched_at: from_millis(r.get(0)?),
                            expires_at: from_millis(r.get(1)?),
                        })
                    })
                    .optional()?;
                Ok(match (found, not_found) {
                    (Some(f), Some(n)) if n.fetched_at() > from_millis(f.2) => Some(Err(n)),
                    (Some(f), _) => Some(Ok(f)),
                    (None, n) => n.map(Err),
                })
            })
            .await?;
        // Unpacked here, off the database thread.
        Ok(match answer {
            Some(Ok((kind, body, fetched_at, expires_at))) => Some(Cached::Found {
                kind,
                json: unpack(&body, "report")?,
                fetched_at: from_millis(fetched_at),
                expires_at: from_millis(expires_at),
            }),
            Some(Err(not_found)) => Some(not_found),
            None => None,
        })
    }

    async fn cached_reports(
        &self,
        origin: &str,
        page: ReportPage,
        now: OffsetDateTime,
    ) -> Result<Vec<CachedReport>, StoreError> {
        let origin = origin.to_owned();
        let rows = self
            .call(move |db| {
                let Some(origin) = db.origin_id(&origin)? else {
                    return Ok(Vec::new());
                };
                // One read transaction: the page and its keys agree.
                let tx = db.conn.transaction()?;
                let mut rows = Vec::new();
                {
                    let mut list = tx.prepare_cached(
                        "SELECT id, kind, body, fetched_at, expires_at FROM reports
                         WHERE origin_id = ?1 AND id > ?2 AND expires_at > ?3 AND fetched_at >= ?4
                         ORDER BY id LIMIT ?5",
                    )?;
                    let mut keys = tx.prepare_cached(
                        "SELECT key FROM report_keys WHERE report_id = ?1 ORDER BY key",
                    )?;
                    let after = page.after.map_or(i64::MIN, |c| c.0);
                    let since = page.fetched_since.map_or(i64::MIN, millis);
                    let limit = limit_param(page.limit.max(1));
                    let found = list
                        .query_map(params![origin, after, millis(now), since, limit], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, Vec<u8>>(2)?,
                                r.get::<_, i64>(3)?,
                                r.get::<_, i64>(4)?,
                            ))
                        })?
                        .collect::<Result<Vec<_>, _>>()?;
                    for (id, kind, body, fetched, expires) in found {
                        let names = keys
                            .query_map([id], |r| r.get::<_, String>(0))?
                            .collect::<Result<Vec<_>, _>>()?;
                        rows.push((id, kind, body, fetched, expires, names));
                    }
                }
                tx.commit()?;
                Ok(rows)
            })
            .await?;
        // Unpacked here, off the database thread.
        rows.into_iter()
            .map(|(id, kind, body, fetched, expires, keys)| {
                Ok(CachedReport {
                    cursor: ReportCursor(id),
                    kind,
                    json: unpack(&body, "report")?,
                    keys,
                    fetched_at: from_millis(fetched),
                    expires_at: from_millis(expires),
                })
            })
            .collect()
    }

    async fn put_report(
        &self,
        origin: &str,
        report: NewReport<'_>,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let origin = origin.to_owned();
        let owned = Owned {
            key: report.key.to_owned(),
            aliases: report.aliases.iter().map(|a| (*a).to_owned()).collect(),
            kind: report.kind.to_owned(),
            // Packed here, on the caller's thread: the database thread is
            // the one every call waits for.
            body: pack(report.json),
        };
        self.call(move |db| put_report(db, &origin, owned, ttl, now))
            .await
    }

    async fn put_not_found(
        &self,
        origin: &str,
        key: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (origin, key) = (origin.to_owned(), key.to_owned());
        self.call(move |db| {
            let origin = db.origin_id_or_insert(&origin)?;
            db.conn
                .prepare_cached(
                    "INSERT INTO not_found (origin_id, key, fetched_at, expires_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (origin_id, key) DO UPDATE
                     SET fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
                )?
                .execute(params![origin, key, millis(now), expiry(now, ttl)])?;
            Ok(())
        })
        .await
    }

    async fn expire_report(
        &self,
        origin: &str,
        key: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (origin, key) = (origin.to_owned(), key.to_owned());
        self.call(move |db| {
            let Some(origin) = db.origin_id(&origin)? else {
                return Ok(());
            };
            db.conn
                .prepare_cached(
                    "UPDATE reports SET expires_at = MIN(expires_at, ?3)
                     WHERE id = (SELECT report_id FROM report_keys WHERE origin_id = ?1 AND key = ?2)",
                )?
                .execute(params![origin, key, millis(at)])?;
            Ok(())
        })
        .await
    }

    async fn prune_step(&self, now: OffsetDateTime, max_rows: usize) -> Result<Pruned, StoreError> {
        self.call(move |db| prune_step(db, now, max_rows)).await
    }

    async fn compact(&self, full: bool) -> Result<(), StoreError> {
        self.call(move |db| compact(db, full)).await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.call(stats).await
    }

    async fn open_job(&self, fingerprint: &str) -> Result<JobId, StoreError> {
        let fingerprint = fingerprint.to_owned();
        self.call(move |db| {
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let open: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM jobs WHERE fingerprint = ?1 AND finished_at IS NULL",
                )?
                .query_row([&fingerprint], |r| r.get(0))
                .optional()?;
            if let Some(id) = open {
                tx.commit()?;
                tracing::debug!(job = id, "resuming job");
                return Ok(JobId::new(id));
            }
            // A rerun of a finished job supersedes it.
            tx.execute(
                "DELETE FROM journal WHERE job_id IN (SELECT id FROM jobs WHERE fingerprint = ?1)",
                [&fingerprint],
            )?;
            tx.execute("DELETE FROM jobs WHERE fingerprint = ?1", [&fingerprint])?;
            tx.execute(
                "INSERT INTO jobs (fingerprint, created_at) VALUES (?1, ?2)",
                params![fingerprint, millis(OffsetDateTime::now_utc())],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(JobId::new(id))
        })
        .await
    }

    async fn journal_records(
        &self,
        job: JobId,
        entries: &[JournalEntry],
    ) -> Result<(), StoreError> {
        // Packed here, on the caller's thread: the database thread is the
        // one every call waits for.
        let mut packed = Vec::with_capacity(entries.len());
        for e in entries {
            packed.push((seq_param(e.seq)?, e.key.clone(), pack(&e.record)));
        }
        self.call(move |db| {
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            check_open(&tx, job)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO journal (job_id, seq, key, record) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (job_id, seq) DO UPDATE SET key = excluded.key, record = excluded.record",
                )?;
                for (seq, key, record) in &packed {
                    insert.execute(params![job.get(), seq, key, record])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn journaled(&self, job: JobId, seq: u64) -> Result<Option<String>, StoreError> {
        let seq = seq_param(seq)?;
        self.call(move |db| {
            let mut stmt = db
                .conn
                .prepare_cached("SELECT record FROM journal WHERE job_id = ?1 AND seq = ?2")?;
            let mut rows = stmt.query(params![job.get(), seq])?;
            match rows.next()? {
                Some(row) => Ok(Some(read_record(row.get_ref(0)?)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn journal_page(
        &self,
        job: JobId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let after = match after {
            Some(seq) => seq_param(seq)?,
            None => -1,
        };
        let limit = limit_param(limit);
        self.call(move |db| {
            let mut stmt = db.conn.prepare_cached(
                "SELECT seq, key, record FROM journal WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let mut rows = stmt.query(params![job.get(), after, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(JournalEntry {
                    seq: row.get::<_, i64>(0)?.try_into().unwrap_or(0),
                    key: row.get(1)?,
                    record: read_record(row.get_ref(2)?)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn finish_job(&self, job: JobId) -> Result<(), StoreError> {
        self.call(move |db| {
            let changed = db
                .conn
                .prepare_cached(
                    "UPDATE jobs SET finished_at = ?2 WHERE id = ?1 AND finished_at IS NULL",
                )?
                .execute(params![job.get(), millis(OffsetDateTime::now_utc())])?;
            if changed == 0 {
                let exists: Option<i64> = db
                    .conn
                    .prepare_cached("SELECT id FROM jobs WHERE id = ?1")?
                    .query_row([job.get()], |r| r.get(0))
                    .optional()?;
                if exists.is_none() {
                    return Err(StoreError::NoSuchJob(job).into());
                }
            }
            Ok(())
        })
        .await
    }

    async fn job_status(&self, job: JobId) -> Result<JobStatus, StoreError> {
        self.call(move |db| {
            let row: Option<(String, i64, Option<i64>)> = db
                .conn
                .prepare_cached(
                    "SELECT fingerprint, created_at, finished_at FROM jobs WHERE id = ?1",
                )?
                .query_row([job.get()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((fingerprint, created_at, finished_at)) = row else {
                return Err(StoreError::NoSuchJob(job).into());
            };
            let journaled: i64 = db
                .conn
                .prepare_cached("SELECT count(*) FROM journal WHERE job_id = ?1")?
                .query_row([job.get()], |r| r.get(0))?;
            Ok(JobStatus {
                id: job,
                fingerprint,
                state: if finished_at.is_some() {
                    JobState::Finished
                } else {
                    JobState::Open
                },
                journaled: journaled.try_into().unwrap_or(0),
                created_at: from_millis(created_at),
                finished_at: finished_at.map(from_millis),
            })
        })
        .await
    }

    async fn create_enrich_job(
        &self,
        job: &NewEnrichJob<'_>,
        now: OffsetDateTime,
    ) -> Result<EnrichJobId, StoreError> {
        let owner = job.owner.to_owned();
        let priority = priority_code(job.priority);
        let items: Vec<(String, Option<String>)> = job
            .items
            .iter()
            .map(|i| (i.input.to_owned(), i.policy.map(str::to_owned)))
            .collect();
        self.call(move |db| {
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let total = limit_param(items.len());
            tx.prepare_cached(
                "INSERT INTO enrich_jobs (owner, priority, total, created_at, finished_at)
                 VALUES (?1, ?2, ?3, ?4, CASE WHEN ?3 = 0 THEN ?4 END)",
            )?
            .execute(params![owner, priority, total, millis(now)])?;
            let id = tx.last_insert_rowid();
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO enrich_items (job_id, seq, priority, state, input, policy)
                     VALUES (?1, ?2, ?3, 0, ?4, ?5)",
                )?;
                for (seq, (input, policy)) in items.iter().enumerate() {
                    insert.execute(params![id, limit_param(seq), priority, input, policy])?;
                }
            }
            tx.commit()?;
            Ok(EnrichJobId::new(id))
        })
        .await
    }

    async fn enrich_job(&self, job: EnrichJobId) -> Result<Option<EnrichJob>, StoreError> {
        self.call(move |db| {
            type Row = (String, i64, i64, i64, Option<i64>, Option<i64>);
            let row: Option<Row> = db
                .conn
                .prepare_cached(
                    "SELECT owner, priority, total, created_at, cancelled_at, finished_at
                     FROM enrich_jobs WHERE id = ?1",
                )?
                .query_row([job.get()], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .optional()?;
            let Some((owner, priority, total, created_at, cancelled_at, finished_at)) = row else {
                return Ok(None);
            };
            let mut counts = [0u64; 4];
            let mut failed = 0u64;
            {
                let mut stmt = db.conn.prepare_cached(
                    "SELECT state, count(*), sum(failed) FROM enrich_items
                     WHERE job_id = ?1 GROUP BY state",
                )?;
                let mut rows = stmt.query([job.get()])?;
                while let Some(row) = rows.next()? {
                    let state: i64 = row.get(0)?;
                    let n: i64 = row.get(1)?;
                    let f: i64 = row.get(2)?;
                    if let Some(slot) = usize::try_from(state).ok().and_then(|s| counts.get_mut(s))
                    {
                        *slot = n.try_into().unwrap_or(0);
                    }
                    failed += u64::try_from(f).unwrap_or(0);
                }
            }
            Ok(Some(EnrichJob {
                id: job,
                owner,
                priority: priority_of(priority),
                total: total.try_into().unwrap_or(0),
                queued: counts[0],
                leased: counts[1],
                done: counts[2],
                failed,
                cancelled: counts[3],
                created_at: from_millis(created_at),
                cancelled_at: cancelled_at.map(from_millis),
                finished_at: finished_at.map(from_millis),
            }))
        })
        .await
    }

    async fn claim_items(
        &self,
        worker: &str,
        n: usize,
        lease: Duration,
        bulk: bool,
        now: OffsetDateTime,
    ) -> Result<Vec<ClaimedItem>, StoreError> {
        let worker = worker.to_owned();
        let (at, until, limit) = (millis(now), expiry(now, lease), limit_param(n));
        let max_priority = if bulk { 1 } else { 0 };
        self.call(move |db| {
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Items of cancelled jobs whose worker vanished are not taken
            // again: they are cancelled, and their jobs may finish.
            let abandoned: Vec<i64> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT DISTINCT i.job_id FROM enrich_items i
                     JOIN enrich_jobs j ON j.id = i.job_id
                     WHERE i.state = 1 AND i.lease_until <= ?1 AND j.cancelled_at IS NOT NULL",
                )?;
                let rows = stmt.query_map([at], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for job in abandoned {
                tx.prepare_cached(
                    "UPDATE enrich_items SET state = 3, leased_by = NULL, lease_until = NULL
                     WHERE job_id = ?1 AND state = 1 AND lease_until <= ?2",
                )?
                .execute(params![job, at])?;
                finish_if_drained(&tx, EnrichJobId::new(job), now)?;
            }
            let mut claimed = Vec::new();
            {
                let mut select = tx.prepare_cached(
                    "SELECT i.job_id, i.seq, i.input, i.policy, i.priority FROM enrich_items i
                     JOIN enrich_jobs j ON j.id = i.job_id
                     WHERE i.state < 2 AND (i.state = 0 OR i.lease_until <= ?1)
                       AND i.priority <= ?2 AND j.cancelled_at IS NULL
                     ORDER BY i.priority, i.job_id, i.seq LIMIT ?3",
                )?;
                let mut rows = select.query(params![at, max_priority, limit])?;
                while let Some(row) = rows.next()? {
                    claimed.push(ClaimedItem {
                        job: EnrichJobId::new(row.get(0)?),
                        seq: row.get::<_, i64>(1)?.try_into().unwrap_or(0),
                        input: row.get(2)?,
                        policy: row.get(3)?,
                        priority: priority_of(row.get(4)?),
                    });
                }
            }
            {
                let mut lease = tx.prepare_cached(
                    "UPDATE enrich_items SET state = 1, leased_by = ?3, lease_until = ?4
                     WHERE job_id = ?1 AND seq = ?2",
                )?;
                for item in &claimed {
                    lease.execute(params![item.job.get(), seq_param(item.seq)?, worker, until])?;
                }
            }
            tx.commit()?;
            Ok(claimed)
        })
        .await
    }

    async fn renew_leases(&self, worker: &str, until: OffsetDateTime) -> Result<u64, StoreError> {
        let worker = worker.to_owned();
        self.call(move |db| {
            let n = db
                .conn
                .prepare_cached(
                    "UPDATE enrich_items SET lease_until = ?2 WHERE state = 1 AND leased_by = ?1",
                )?
                .execute(params![worker, millis(until)])?;
            Ok(n as u64)
        })
        .await
    }

    async fn complete_item(
        &self,
        job: EnrichJobId,
        seq: u64,
        worker: &str,
        record_json: &str,
        failed: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let seq = seq_param(seq)?;
        let worker = worker.to_owned();
        let record = pack(record_json);
        self.call(move |db| {
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done = tx
                .prepare_cached(
                    "UPDATE enrich_items SET state = 2, record = ?4, failed = ?5,
                         lease_until = NULL
                     WHERE job_id = ?1 AND seq = ?2 AND state = 1 AND leased_by = ?3",
                )?
                .execute(params![job.get(), seq, worker, record, failed])?
                == 1;
            if done {
                finish_if_drained(&tx, job, now)?;
            }
            tx.commit()?;
            Ok(done)
        })
        .await
    }

    async fn cancel_enrich_job(
        &self,
        job: EnrichJobId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.call(move |db| {
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let cancelled = tx
                .prepare_cached(
                    "UPDATE enrich_jobs SET cancelled_at = ?2
                     WHERE id = ?1 AND cancelled_at IS NULL AND finished_at IS NULL",
                )?
                .execute(params![job.get(), millis(now)])?
                == 1;
            if cancelled {
                // Leased items run to the end; expired leases are not taken again.
                tx.prepare_cached(
                    "UPDATE enrich_items SET state = 3, leased_by = NULL, lease_until = NULL
                     WHERE job_id = ?1 AND (state = 0 OR (state = 1 AND lease_until <= ?2))",
                )?
                .execute(params![job.get(), millis(now)])?;
                finish_if_drained(&tx, job, now)?;
            }
            tx.commit()?;
            Ok(cancelled)
        })
        .await
    }

    async fn job_results_page(
        &self,
        job: EnrichJobId,
        after: Option<u64>,
        n: usize,
    ) -> Result<Vec<JobItem>, StoreError> {
        let after = match after {
            Some(seq) => seq_param(seq)?,
            None => -1,
        };
        let limit = limit_param(n);
        self.call(move |db| {
            let mut stmt = db.conn.prepare_cached(
                "SELECT seq, input, state, failed, record FROM enrich_items
                 WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let mut rows = stmt.query(params![job.get(), after, limit])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let record = match row.get_ref(4)? {
                    ValueRef::Null => None,
                    value => Some(read_record(value)?),
                };
                out.push(JobItem {
                    seq: row.get::<_, i64>(0)?.try_into().unwrap_or(0),
                    input: row.get(1)?,
                    state: match row.get::<_, i64>(2)? {
                        0 => ItemState::Queued,
                        1 => ItemState::Leased,
                        2 => ItemState::Done,
                        _ => ItemState::Cancelled,
                    },
                    failed: row.get(3)?,
                    record,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn charge_usage(
        &self,
        subject: &str,
        window_start: OffsetDateTime,
        amount: u64,
        limit: Option<u64>,
    ) -> Result<UsageCharge, StoreError> {
        let subject = subject.to_owned();
        let start = millis(window_start);
        let amount_param = i64::try_from(amount).map_err(|_| StoreError::OutOfRange {
            what: "usage amount",
            value: amount,
        })?;
        self.call(move |db| {
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let used: i64 = tx
                .prepare_cached(
                    "SELECT used FROM usage_counts WHERE subject = ?1 AND window_start = ?2",
                )?
                .query_row(params![subject, start], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            let used = u64::try_from(used).unwrap_or(0);
            if limit.is_some_and(|l| used.saturating_add(amount) > l) {
                return Ok(UsageCharge {
                    granted: false,
                    used,
                });
            }
            tx.prepare_cached(
                "INSERT INTO usage_counts (subject, window_start, used) VALUES (?1, ?2, ?3)
                 ON CONFLICT (subject, window_start) DO UPDATE SET used = used + excluded.used",
            )?
            .execute(params![subject, start, amount_param])?;
            tx.commit()?;
            Ok(UsageCharge {
                granted: true,
                used: used.saturating_add(amount),
            })
        })
        .await
    }

    async fn usage(&self, subject: &str, window_start: OffsetDateTime) -> Result<u64, StoreError> {
        let subject = subject.to_owned();
        let start = millis(window_start);
        self.call(move |db| {
            let used: Option<i64> = db
                .conn
                .prepare_cached(
                    "SELECT used FROM usage_counts WHERE subject = ?1 AND window_start = ?2",
                )?
                .query_row(params![subject, start], |r| r.get(0))
                .optional()?;
            Ok(used.and_then(|u| u64::try_from(u).ok()).unwrap_or(0))
        })
        .await
    }

    async fn record_api_calls(
        &self,
        origin: &str,
        calls: &[(&str, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        let origin = origin.to_owned();
        let calls: Vec<(String, i64)> = calls
            .iter()
            .map(|(label, at)| ((*label).to_owned(), at.unix_timestamp()))
            .collect();
        self.call(move |db| {
            let origin = db.origin_id_or_insert(&origin)?;
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO api_calls (origin_id, key_label, second, calls) VALUES (?1, ?2, ?3, 1)
                     ON CONFLICT (origin_id, key_label, second) DO UPDATE SET calls = calls + 1",
                )?;
                for (label, second) in &calls {
                    insert.execute(params![origin, label, second])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn api_calls_since(
        &self,
        origin: &str,
        key_label: &str,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let (origin, label) = (origin.to_owned(), key_label.to_owned());
        self.call(move |db| {
            let Some(origin) = db.origin_id(&origin)? else {
                return Ok(0);
            };
            let calls: i64 = db
                .conn
                .prepare_cached(
                    "SELECT COALESCE(SUM(calls), 0) FROM api_calls
                     WHERE origin_id = ?1 AND key_label = ?2 AND second >= ?3",
                )?
                .query_row(params![origin, label, since.unix_timestamp()], |r| r.get(0))?;
            Ok(calls.try_into().unwrap_or(0))
        })
        .await
    }

    async fn api_calls_per_second(
        &self,
        origin: &str,
        key_label: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<(i64, u64)>, StoreError> {
        let (origin, label) = (origin.to_owned(), key_label.to_owned());
        self.call(move |db| {
            let Some(origin) = db.origin_id(&origin)? else {
                return Ok(Vec::new());
            };
            let mut stmt = db.conn.prepare_cached(
                "SELECT second, calls FROM api_calls
                 WHERE origin_id = ?1 AND key_label = ?2 AND second >= ?3 ORDER BY second",
            )?;
            let rows = stmt.query_map(params![origin, label, since.unix_timestamp()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (second, calls) = row?;
                out.push((second, calls.try_into().unwrap_or(0)));
            }
            Ok(out)
        })
        .await
    }

    async fn reserve_api_call(
        &self,
        origin: &str,
        key_label: &str,
        budget: &CallBudget,
        now: OffsetDateTime,
    ) -> Result<Reservation, StoreError> {
        if budget.is_unlimited() {
            return Ok(Reservation::Granted);
        }
        let (origin, label, budget) = (origin.to_owned(), key_label.to_owned(), *budget);
        self.call(move |db| {
            let origin = db.origin_id_or_insert(&origin)?;
            let tx = db
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let at = millis(now);
            let window = i64::try_from(budget.window.as_millis()).unwrap_or(i64::MAX);
            if budget.per_minute > 0 {
                tx.prepare_cached(
                    "DELETE FROM quota_slots WHERE origin_id = ?1 AND key_label = ?2 AND at <= ?3",
                )?
                .execute(params![origin, label, at.saturating_sub(window)])?;
                let (used, oldest): (i64, Option<i64>) = tx
                    .prepare_cached(
                        "SELECT count(*), min(at) FROM quota_slots WHERE origin_id = ?1 AND key_label = ?2",
                    )?
                    .query_row(params![origin, label], |r| Ok((r.get(0)?, r.get(1)?)))?;
                if used >= i64::from(budget.per_minute) {
                    let free_at = oldest.unwrap_or(at).saturating_add(window);
                    let wait = u64::try_from(free_at - at).unwrap_or(0).max(1);
                    return Ok(Reservation::Wait(Duration::from_millis(wait)));
                }
            }
            let mut counted = Vec::new();
            for (window, period, limit) in [
                (CalendarWindow::Day, "day", budget.per_day),
                (CalendarWindow::Month, "month", budget.per_month),
            ] {
                if limit == 0 {
                    continue;
                }
                let start = millis(window.start(now));
                let used: i64 = tx
                    .prepare_cached(
                        "SELECT used FROM quota_usage
                         WHERE origin_id = ?1 AND key_label = ?2 AND period = ?3 AND start = ?4",
                    )?
                    .query_row(params![origin, label, period, start], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0);
                if used >= i64::from(limit) {
                    return Ok(Reservation::Exhausted {
                        window,
                        resets_at: window.end(now),
                    });
                }
                counted.push((period, start));
            }
            if budget.per_minute > 0 {
                tx.prepare_cached(
                    "INSERT INTO quota_slots (origin_id, key_label, at) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![origin, label, at])?;
            }
            for (period, start) in counted {
                tx.prepare_cached(
                    "INSERT INTO quota_usage (origin_id, key_label, period, start, used)
                     VALUES (?1, ?2, ?3, ?4, 1)
                     ON CONFLICT (origin_id, key_label, period) DO UPDATE SET
                       used = CASE WHEN start = excluded.start THEN used + 1 ELSE 1 END,
                       start = excluded.start",
                )?
                .execute(params![origin, label, period, start])?;
            }
            tx.commit()?;
            Ok(Reservation::Granted)
        })
        .await
    }

    async fn settle_api_call(
        &self,
        origin: &str,
        key_label: &str,
        reserved_at: OffsetDateTime,
        answered_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (origin, label) = (origin.to_owned(), key_label.to_owned());
        self.call(move |db| {
            let Some(origin) = db.origin_id(&origin)? else {
                return Ok(());
            };
            db.conn
                .prepare_cached(
                    "UPDATE quota_slots SET at = MAX(at, ?4) WHERE rowid =
                       (SELECT rowid FROM quota_slots
                        WHERE origin_id = ?1 AND key_label = ?2 AND at = ?3 LIMIT 1)",
                )?
                .execute(params![
                    origin,
                    label,
                    millis(reserved_at),
                    millis(answered_at)
                ])?;
            Ok(())
        })
        .await
    }

    async fn begin_fetch(
        &self,
        origin: &str,
        key: &str,
        holder: &str,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (origin, key, holder) = (origin.to_owned(), key.to_owned(), holder.to_owned());
        self.call(move |db| {
            let origin = db.origin_id_or_insert(&origin)?;
            let changed = db
                .conn
                .prepare_cached(
                    "INSERT INTO in_flight (origin_id, key, holder, until) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (origin_id, key) DO UPDATE
                     SET holder = excluded.holder, until = excluded.until
                     WHERE in_flight.until <= ?5 OR in_flight.holder = excluded.holder",
                )?
                .execute(params![
                    origin,
                    key,
                    holder,
                    expiry(now, lease),
                    millis(now)
                ])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn end_fetch(&self, origin: &str, key: &str, holder: &str) -> Result<(), StoreError> {
        let (origin, key, holder) = (origin.to_owned(), key.to_owned(), holder.to_owned());
        self.call(move |db| {
            let Some(origin) = db.origin_id(&origin)? else {
                return Ok(());
            };
            db.conn
                .prepare_cached(
                    "DELETE FROM in_flight WHERE origin_id = ?1 AND key = ?2 AND holder = ?3",
                )?
                .execute(params![origin, key, holder])?;
            Ok(())
        })
        .await
    }
}

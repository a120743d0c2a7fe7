//! The embedded backend: one SQLite file.
//!
//! WAL mode with `synchronous=NORMAL`: a committed write survives vtc being
//! killed or crashing (what resuming a batch needs); an OS crash or power
//! loss may lose the last few commits but never corrupts the file. One
//! connection behind a mutex; writes that span rows run in one
//! `IMMEDIATE` transaction, so two processes sharing a file wait for each
//! other (up to [`BUSY_TIMEOUT`]) instead of failing.

use crate::{
    Cached, JobId, JobState, JobStatus, JournalEntry, Purged, Store, StoreError,
    FINISHED_JOB_RETENTION, LEDGER_RETENTION,
};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use time::OffsetDateTime;

/// How long a statement waits for another process' write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `PRAGMA application_id` of a vtc database ("vtc1"), so vtc refuses
/// another program's SQLite file instead of adding tables to it.
const APPLICATION_ID: i32 = 0x7674_6331;

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
];

/// The SQLite [`Store`].
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating it and its folder if needed) the database at `path`
    /// and migrates it to the current schema.
    ///
    /// A file that is not SQLite, is corrupt, or belongs to another program
    /// is [`StoreError::NotVtcDatabase`]; one written by a newer vtc is
    /// [`StoreError::SchemaTooNew`]. Neither is modified.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: path.clone(),
                source,
            })?;
        }
        let conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let store = SqliteStore::setup(conn, path)?;
        tracing::debug!(path = %store.path.display(), "opened database");
        Ok(store)
    }

    /// A private database in memory, gone when dropped (tests, `vtc demo`).
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        SqliteStore::setup(conn, path)
    }

    /// Where the database lives (`:memory:` for an in-memory one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn setup(conn: Connection, path: PathBuf) -> Result<SqliteStore, StoreError> {
        let not_vtc = |reason: String| StoreError::NotVtcDatabase {
            path: path.clone(),
            reason,
        };
        // The first statements read the file header: this is where a file
        // that is not a database shows itself.
        let open_err = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                not_vtc(source.to_string())
            }
            _ => StoreError::Open {
                path: path.clone(),
                source,
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
                path,
                found: version,
                known,
            });
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
        let store = SqliteStore {
            conn: Mutex::new(conn),
            path,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The connection; a panic in another thread mid-statement left it
    /// usable (an open transaction was rolled back when it unwound).
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
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

/// Fails unless `job` exists and is open.
fn check_open(conn: &Connection, job: JobId) -> Result<(), StoreError> {
    let finished: Option<Option<i64>> = conn
        .prepare_cached("SELECT finished_at FROM jobs WHERE id = ?1")?
        .query_row([job.get()], |r| r.get(0))
        .optional()?;
    match finished {
        None => Err(StoreError::NoSuchJob(job)),
        Some(Some(_)) => Err(StoreError::JobFinished(job)),
        Some(None) => Ok(()),
    }
}

fn insert_journal(
    conn: &Connection,
    job: JobId,
    seq: u64,
    key: &str,
    record: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO journal (job_id, seq, key, record) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (job_id, seq) DO UPDATE SET key = excluded.key, record = excluded.record",
    )?
    .execute(params![job.get(), seq_param(seq)?, key, record])?;
    Ok(())
}

impl Store for SqliteStore {
    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read inside the write lock: another process may have just migrated.
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::SchemaTooNew {
                path: self.path.clone(),
                found: version,
                known,
            });
        }
        for (step, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            tx.execute_batch(sql)?;
            tracing::info!(path = %self.path.display(), version = step + 1, "migrated database schema");
        }
        if version < known {
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.pragma_update(None, "user_version", known)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn expire_report(&self, key: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "UPDATE reports SET expires_at = MIN(expires_at, ?2)
                 WHERE id = (SELECT report_id FROM report_keys WHERE key = ?1)",
            )?
            .execute(params![key, millis(at)])?;
        Ok(())
    }

    fn get_report(&self, key: &str, now: OffsetDateTime) -> Result<Option<Cached>, StoreError> {
        let conn = self.conn();
        let now = millis(now);
        let found = conn
            .prepare_cached(
                "SELECT r.kind, r.json, r.fetched_at, r.expires_at
                 FROM report_keys k JOIN reports r ON r.id = k.report_id
                 WHERE k.key = ?1 AND r.expires_at > ?2",
            )?
            .query_row(params![key, now], |r| {
                Ok(Cached::Found {
                    kind: r.get(0)?,
                    json: r.get(1)?,
                    fetched_at: from_millis(r.get(2)?),
                    expires_at: from_millis(r.get(3)?),
                })
            })
            .optional()?;
        let not_found = conn
            .prepare_cached(
                "SELECT fetched_at, expires_at FROM not_found WHERE key = ?1 AND expires_at > ?2",
            )?
            .query_row(params![key, now], |r| {
                Ok(Cached::NotFound {
                    fetched_at: from_millis(r.get(0)?),
                    expires_at: from_millis(r.get(1)?),
                })
            })
            .optional()?;
        Ok(match (found, not_found) {
            (Some(f), Some(n)) if n.fetched_at() > f.fetched_at() => Some(n),
            (Some(f), _) => Some(f),
            (None, n) => n,
        })
    }

    fn put_report(
        &self,
        key: &str,
        aliases: &[&str],
        kind: &str,
        json: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut keys: Vec<&str> = Vec::with_capacity(aliases.len() + 1);
        for k in std::iter::once(key).chain(aliases.iter().copied()) {
            if !k.is_empty() && !keys.contains(&k) {
                keys.push(k);
            }
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut previous: Vec<i64> = Vec::new();
        {
            let mut lookup =
                tx.prepare_cached("SELECT report_id FROM report_keys WHERE key = ?1")?;
            for k in &keys {
                if let Some(id) = lookup.query_row([k], |r| r.get::<_, i64>(0)).optional()? {
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
                tx.prepare_cached("UPDATE reports SET kind = ?2, json = ?3, fetched_at = ?4, expires_at = ?5 WHERE id = ?1")?
                    .execute(params![id, kind, json, fetched, expires])?;
                id
            }
            None => {
                tx.prepare_cached("INSERT INTO reports (kind, json, fetched_at, expires_at) VALUES (?1, ?2, ?3, ?4)")?
                    .execute(params![kind, json, fetched, expires])?;
                tx.last_insert_rowid()
            }
        };
        {
            let mut link = tx.prepare_cached(
                "INSERT INTO report_keys (key, report_id) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET report_id = excluded.report_id",
            )?;
            let mut forget = tx.prepare_cached("DELETE FROM not_found WHERE key = ?1")?;
            for k in &keys {
                link.execute(params![k, id])?;
                forget.execute([k])?;
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

    fn put_not_found(
        &self,
        key: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "INSERT INTO not_found (key, fetched_at, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
            )?
            .execute(params![key, millis(now), expiry(now, ttl)])?;
        Ok(())
    }

    fn purge(&self, now: OffsetDateTime) -> Result<Purged, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let at = millis(now);
        tx.execute(
            "DELETE FROM report_keys WHERE report_id IN (SELECT id FROM reports WHERE expires_at <= ?1)",
            [at],
        )?;
        let reports = tx.execute("DELETE FROM reports WHERE expires_at <= ?1", [at])?;
        let not_found = tx.execute("DELETE FROM not_found WHERE expires_at <= ?1", [at])?;
        let cutoff = (now - LEDGER_RETENTION).unix_timestamp();
        let ledger_rows = tx.execute("DELETE FROM api_calls WHERE second < ?1", [cutoff])?;
        let retired = millis(now - FINISHED_JOB_RETENTION);
        tx.execute(
            "DELETE FROM journal WHERE job_id IN (SELECT id FROM jobs WHERE finished_at < ?1)",
            [retired],
        )?;
        let jobs = tx.execute("DELETE FROM jobs WHERE finished_at < ?1", [retired])?;
        tx.commit()?;
        Ok(Purged {
            reports: reports as u64,
            not_found: not_found as u64,
            ledger_rows: ledger_rows as u64,
            jobs: jobs as u64,
        })
    }

    fn open_job(&self, fingerprint: &str) -> Result<JobId, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let open: Option<i64> = tx
            .prepare_cached("SELECT id FROM jobs WHERE fingerprint = ?1 AND finished_at IS NULL")?
            .query_row([fingerprint], |r| r.get(0))
            .optional()?;
        if let Some(id) = open {
            tx.commit()?;
            tracing::debug!(job = id, "resuming job");
            return Ok(JobId(id));
        }
        // A rerun of a finished job supersedes it.
        tx.execute(
            "DELETE FROM journal WHERE job_id IN (SELECT id FROM jobs WHERE fingerprint = ?1)",
            [fingerprint],
        )?;
        tx.execute("DELETE FROM jobs WHERE fingerprint = ?1", [fingerprint])?;
        tx.execute(
            "INSERT INTO jobs (fingerprint, created_at) VALUES (?1, ?2)",
            params![fingerprint, millis(OffsetDateTime::now_utc())],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(JobId(id))
    }

    fn journal_record(
        &self,
        job: JobId,
        seq: u64,
        key: &str,
        record_json: &str,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        check_open(&conn, job)?;
        insert_journal(&conn, job, seq, key, record_json)
    }

    fn journal_records(&self, job: JobId, entries: &[JournalEntry]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_open(&tx, job)?;
        for e in entries {
            insert_journal(&tx, job, e.seq, &e.key, &e.record)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn journaled(&self, job: JobId, seq: u64) -> Result<Option<String>, StoreError> {
        let record = self
            .conn()
            .prepare_cached("SELECT record FROM journal WHERE job_id = ?1 AND seq = ?2")?
            .query_row(params![job.get(), seq_param(seq)?], |r| r.get(0))
            .optional()?;
        Ok(record)
    }

    fn journal_page(
        &self,
        job: JobId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let after = match after {
            Some(seq) => seq_param(seq)?,
            None => -1,
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, key, record FROM journal WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![job.get(), after, limit], |r| {
            Ok(JournalEntry {
                seq: r.get::<_, i64>(0)?.try_into().unwrap_or(0),
                key: r.get(1)?,
                record: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn finish_job(&self, job: JobId) -> Result<(), StoreError> {
        let conn = self.conn();
        let changed = conn
            .prepare_cached(
                "UPDATE jobs SET finished_at = ?2 WHERE id = ?1 AND finished_at IS NULL",
            )?
            .execute(params![job.get(), millis(OffsetDateTime::now_utc())])?;
        if changed == 0 {
            let exists: Option<i64> = conn
                .prepare_cached("SELECT id FROM jobs WHERE id = ?1")?
                .query_row([job.get()], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Err(StoreError::NoSuchJob(job));
            }
        }
        Ok(())
    }

    fn job_status(&self, job: JobId) -> Result<JobStatus, StoreError> {
        let conn = self.conn();
        let row: Option<(String, i64, Option<i64>)> = conn
            .prepare_cached("SELECT fingerprint, created_at, finished_at FROM jobs WHERE id = ?1")?
            .query_row([job.get()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((fingerprint, created_at, finished_at)) = row else {
            return Err(StoreError::NoSuchJob(job));
        };
        let journaled: i64 = conn
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
    }

    fn record_api_calls(&self, calls: &[(&str, OffsetDateTime)]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO api_calls (key_prefix, second, calls) VALUES (?1, ?2, 1)
                 ON CONFLICT (key_prefix, second) DO UPDATE SET calls = calls + 1",
            )?;
            for (key_prefix, at) in calls {
                insert.execute(params![key_prefix, at.unix_timestamp()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn api_calls_since(&self, key_prefix: &str, since: OffsetDateTime) -> Result<u64, StoreError> {
        let calls: i64 = self
            .conn()
            .prepare_cached("SELECT COALESCE(SUM(calls), 0) FROM api_calls WHERE key_prefix = ?1 AND second >= ?2")?
            .query_row(params![key_prefix, since.unix_timestamp()], |r| r.get(0))?;
        Ok(calls.try_into().unwrap_or(0))
    }

    fn api_calls_per_second(
        &self,
        key_prefix: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<(i64, u64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT second, calls FROM api_calls WHERE key_prefix = ?1 AND second >= ?2 ORDER BY second",
        )?;
        let rows = stmt.query_map(params![key_prefix, since.unix_timestamp()], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (second, calls) = row?;
            out.push((second, calls.try_into().unwrap_or(0)));
        }
        Ok(out)
    }
}

//! The shared [`Store`] backend: one PostgreSQL database that many vtc
//! processes (on many machines) use at once: one cache, one job queue, one
//! quota ledger.
//!
//! `tokio-postgres` without TLS (no OpenSSL in the tree: run the database
//! on a private network or behind a local TLS proxy) and a `deadpool` pool
//! of [`DEFAULT_POOL_SIZE`] connections. Every connection runs with a
//! statement timeout ([`STATEMENT_TIMEOUT`]), so a stuck statement fails
//! instead of holding a request forever. A call that loses its connection
//! (the server restarted, `pg_terminate_backend`) is tried again on a new
//! one, a few times over about two seconds, so a restart mid-job costs a
//! pause, not the job; while the server stays down calls fail with
//! [`StoreError::Backend`] and the pool reconnects when it is back.
//!
//! The schema is versioned ([`MIGRATIONS`], applied at open under an
//! advisory lock so processes starting together migrate once), in the
//! first schema of the connection's `search_path` (`?options=-csearch_path%3Dvtc`
//! in the URL picks one). Times are unix milliseconds, as in SQLite;
//! reports and journal records are stored deflated ([`store_core::compact`]).
//!
//! Claims of queue items use `FOR UPDATE SKIP LOCKED`; a quota reservation
//! runs under a transaction-scoped advisory lock per key, so two processes
//! never both take the last unit of a window.

mod collected;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use std::collections::HashMap;
use std::sync::Mutex;
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
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

/// Connections in the pool (per process) unless [`PostgresStore::open_with`]
/// is told otherwise.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// Longest a statement may run before the server cancels it.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest a call waits for a connection (the pool is busy or the server
/// is down) before it fails.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Attempts of a call whose connection was lost, and the pause before
/// each retry (doubling).
const ATTEMPTS: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// The schema, one step per entry; `vtc_schema` holds how many have been
/// applied. Never edit a released step: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: what SQLite's schema 3 holds: cache, journal, ledger, tokens.
    "CREATE TABLE origins (
        id SERIAL PRIMARY KEY,
        origin TEXT NOT NULL UNIQUE
    );
    CREATE TABLE reports (
        id BIGSERIAL PRIMARY KEY,
        origin_id INTEGER NOT NULL REFERENCES origins(id),
        kind TEXT NOT NULL,
        body BYTEA NOT NULL,
        fetched_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX reports_by_expiry ON reports(expires_at);
    CREATE TABLE report_keys (
        origin_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        report_id BIGINT NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
        PRIMARY KEY (origin_id, key)
    );
    CREATE INDEX report_keys_by_report ON report_keys(report_id);
    CREATE TABLE not_found (
        origin_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        fetched_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (origin_id, key)
    );
    CREATE INDEX not_found_by_expiry ON not_found(expires_at);
    CREATE TABLE jobs (
        id BIGSERIAL PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        finished_at BIGINT
    );
    CREATE UNIQUE INDEX jobs_one_open_per_fingerprint ON jobs(fingerprint) WHERE finished_at IS NULL;
    CREATE TABLE journal (
        job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        key TEXT NOT NULL,
        record BYTEA NOT NULL,
        PRIMARY KEY (job_id, seq)
    );
    CREATE TABLE api_calls (
        origin_id INTEGER NOT NULL,
        key_label TEXT NOT NULL,
        second BIGINT NOT NULL,
        calls BIGINT NOT NULL,
        PRIMARY KEY (origin_id, key_label, second)
    );
    CREATE INDEX api_calls_by_second ON api_calls(second);
    CREATE TABLE tokens (
        sha256 TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );",
    // 2: the shared quota ledger and the in-flight markers.
    "CREATE TABLE quota_slots (
        origin_id INTEGER NOT NULL,
        key_label TEXT NOT NULL,
        at BIGINT NOT NULL
    );
    CREATE INDEX quota_slots_by_key ON quota_slots(origin_id, key_label, at);
    CREATE TABLE quota_usage (
        origin_id INTEGER NOT NULL,
        key_label TEXT NOT NULL,
        period TEXT NOT NULL,
        start BIGINT NOT NULL,
        used BIGINT NOT NULL,
        PRIMARY KEY (origin_id, key_label, period)
    );
    CREATE TABLE in_flight (
        origin_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        holder TEXT NOT NULL,
        until BIGINT NOT NULL,
        PRIMARY KEY (origin_id, key)
    );",
    // 3: what SQLite's step 4 holds: per-client quotas with the tokens,
    // the service's work queue, usage counters per window. `open_items`
    // counts a job's items still queued or leased: every change of an
    // item out of those states takes one from it in the same statement,
    // under the job row's lock, so the last one finishes the job.
    "ALTER TABLE tokens ADD COLUMN quota TEXT;
    CREATE TABLE enrich_jobs (
        id BIGSERIAL PRIMARY KEY,
        owner TEXT NOT NULL,
        priority SMALLINT NOT NULL,             -- 0 interactive, 1 bulk
        total BIGINT NOT NULL,
        open_items BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        cancelled_at BIGINT,
        finished_at BIGINT
    );
    CREATE INDEX enrich_jobs_by_finish ON enrich_jobs(finished_at);
    CREATE TABLE enrich_items (
        job_id BIGINT NOT NULL REFERENCES enrich_jobs(id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        priority SMALLINT NOT NULL,
        state SMALLINT NOT NULL,                -- 0 queued, 1 leased, 2 done, 3 cancelled
        input TEXT NOT NULL,
        policy TEXT,
        lease_until BIGINT,
        leased_by TEXT,
        failed BOOLEAN NOT NULL DEFAULT FALSE,
        record BYTEA,
        PRIMARY KEY (job_id, seq)
    );
    CREATE INDEX enrich_items_to_claim ON enrich_items(priority, job_id, seq) WHERE state < 2;
    CREATE INDEX enrich_items_by_holder ON enrich_items(leased_by) WHERE state = 1;
    CREATE TABLE usage_counts (
        subject TEXT NOT NULL,
        window_start BIGINT NOT NULL,
        used BIGINT NOT NULL,
        PRIMARY KEY (subject, window_start)
    );",
    // 4: what SQLite's step 5 holds: the collector.
    "CREATE TABLE collected (
        id BIGSERIAL PRIMARY KEY,
        md5 TEXT, sha1 TEXT, sha256 TEXT, size BIGINT,
        sources TEXT NOT NULL, hosts TEXT NOT NULL, file_names TEXT NOT NULL,
        path TEXT,
        first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
        last_query BIGINT, last_analysis BIGINT, rescanned_at BIGINT, uploaded_at BIGINT,
        verdict TEXT, malicious BIGINT NOT NULL DEFAULT 0, total BIGINT NOT NULL DEFAULT 0,
        in_feed BOOLEAN NOT NULL DEFAULT FALSE,
        record BYTEA
    );
    CREATE INDEX collected_by_md5 ON collected(md5);
    CREATE INDEX collected_by_sha1 ON collected(sha1);
    CREATE INDEX collected_by_sha256 ON collected(sha256);
    CREATE INDEX collected_unqueried ON collected(id) WHERE last_query IS NULL;
    CREATE INDEX collected_by_analysis ON collected(last_analysis);
    CREATE TABLE collect_checkpoints (
        source TEXT PRIMARY KEY,
        checkpoint TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    );",
    // 5: what SQLite's step 6 holds: the decision log (`user` is a
    // reserved word here: the column is `user_name`).
    "CREATE TABLE decisions (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        host TEXT NOT NULL,
        user_name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        action TEXT NOT NULL,
        policy TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX decisions_by_time ON decisions(at);
    CREATE INDEX decisions_by_hash ON decisions(sha256, id);",
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

/// The advisory lock that serialises migrations ("vtc" + schema).
const MIGRATION_LOCK: i64 = 0x7674_6373_6368_656d;

/// A PostgreSQL failure or one of the store's own, inside this crate.
#[derive(Debug)]
enum Failure {
    Sql(tokio_postgres::Error),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Failure {
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

impl Failure {
    /// Worth another attempt on a fresh connection: the connection was
    /// lost, or the server chose this transaction as a deadlock's victim.
    fn is_transient(&self) -> bool {
        match self {
            Failure::Sql(e) => {
                e.is_closed()
                    || e.code().is_some_and(|c| {
                        c.code().starts_with("08")
                            || *c == SqlState::ADMIN_SHUTDOWN
                            || *c == SqlState::CRASH_SHUTDOWN
                            || *c == SqlState::CANNOT_CONNECT_NOW
                            || *c == SqlState::T_R_DEADLOCK_DETECTED
                            || *c == SqlState::T_R_SERIALIZATION_FAILURE
                    })
                    // An I/O error on the socket has neither.
                    || (e.code().is_none() && e.as_db_error().is_none())
            }
            Failure::Store(StoreError::Closed) => true,
            Failure::Store(_) => false,
        }
    }
}

/// The PostgreSQL [`Store`].
pub struct PostgresStore {
    pool: Pool,
    /// The URL without its password.
    location: String,
    /// Origin ids already read or created (origins are never deleted).
    origins: Mutex<HashMap<String, i32>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .finish()
    }
}

/// `url` without its password, for messages and `stats`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.set_query(None);
            parsed.to_string()
        }
        Err(_) => "a postgres:// URL".to_owned(),
    }
}

/// `url` without vtc's `pool_size=N` parameter (libpq has none such), and N.
fn take_pool_size(url: &str) -> Result<(String, Option<usize>), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut size = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("pool_size=") {
            Some(n) => match n.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => size = Some(n),
                _ => {
                    return Err(format!(
                        "pool_size must be a number from 1 to 1000, got {n:?}"
                    ))
                }
            },
            None => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, size))
}

/// Runs `$body` (which uses `$c`, a pooled connection) and tries again on
/// a fresh connection when the connection was lost.
macro_rules! retrying {
    ($self:ident, $c:ident => $body:block) => {{
        let mut attempt: u32 = 1;
        let mut pause = FIRST_PAUSE;
        loop {
            let result: Outcome<_> = async {
                #[allow(unused_mut)]
                let mut $c = $self.connection().await?;
                $body
            }
            .await;
            match result {
                Err(f) if attempt < ATTEMPTS && f.is_transient() => {
                    tracing::debug!(attempt, "database connection lost, trying again: {f:?}");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                other => break other.map_err(StoreError::from),
            }
        }
    }};
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`,
    /// libpq's URL form) with a pool of [`DEFAULT_POOL_SIZE`] and migrates.
    /// vtc's own URL parameter `pool_size=N` sets the pool's size.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let (url, pool_size) = take_pool_size(url).map_err(|reason| StoreError::Open {
            location: redact(url),
            source: reason.into(),
        })?;
        PostgresStore::open_with(&url, pool_size.unwrap_or(DEFAULT_POOL_SIZE)).await
    }

    /// [`PostgresStore::open`] with a pool of `pool_size` connections.
    pub async fn open_with(url: &str, pool_size: usize) -> Result<PostgresStore, StoreError> {
        let location = redact(url);
        let open_err = |source: StoreError| StoreError::Open {
            location: location.clone(),
            source: Box::new(source),
        };
        let mut config: tokio_postgres::Config =
            url.parse()
                .map_err(|e: tokio_postgres::Error| StoreError::Open {
                    location: location.clone(),
                    source: Box::new(e),
                })?;
        let timeout_ms = STATEMENT_TIMEOUT.as_millis();
        let options = match config.get_options() {
            Some(given) => format!("{given} -c statement_timeout={timeout_ms}"),
            None => format!("-c statement_timeout={timeout_ms}"),
        };
        config.options(&options);
        if config.get_application_name().is_none() {
            // How `pg_stat_activity` shows vtc's connections.
            config.application_name("vtc");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.keepalives(true);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // Fast: a connection whose socket closed is dropped at
                // checkout; one that died unnoticed fails its call, which is
                // tried again (see `retrying!`).
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .timeouts(Timeouts {
                wait: Some(CONNECT_TIMEOUT),
                create: Some(CONNECT_TIMEOUT),
                recycle: Some(CONNECT_TIMEOUT),
            })
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| open_err(StoreError::backend(e)))?;
        let store = PostgresStore {
            pool,
            location: location.clone(),
            origins: Mutex::new(HashMap::new()),
        };
        // The first connection shows whether the server is there at all.
        store.migrate().await.map_err(|e| match e {
            e @ (StoreError::SchemaTooNew { .. } | StoreError::Open { .. }) => e,
            other => open_err(other),
        })?;
        tracing::debug!(location = %store.location, "opened database");
        Ok(store)
    }

    /// Where the database is (its URL without the password).
    pub fn location(&self) -> &str {
        &self.location
    }

    async fn connection(&self) -> Outcome<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => Failure::Sql(e),
            other => Failure::Store(StoreError::Backend(Box::new(Unavailable(
                other.to_string(),
            )))),
        })
    }

    /// Closes every pooled connection now (the next call opens new ones).
    pub fn close_idle(&self) {
        self.pool.retain(|_, _| false);
    }

    fn cached_origin(&self, origin: &str) -> Option<i32> {
        self.origins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(origin)
            .copied()
    }

    /// The id of a known origin; `None` when nothing was ever stored for it.
    async fn origin_id(&self, origin: &str) -> Result<Option<i32>, StoreError> {
        if let Some(id) = self.cached_origin(origin) {
            return Ok(Some(id));
        }
        let id: Option<i32> = retrying!(self, c => {
            let stmt = c.prepare_cached("SELECT id FROM origins WHERE origin = $1").await?;
            Ok(c.query_opt(&stmt, &[&origin]).await?.map(|r| r.get(0)))
        })?;
        if let Some(id) = id {
            self.remember_origin(origin, id);
        }
        Ok(id)
    }

    fn remember_origin(&self, origin: &str, id: i32) {
        self.origins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(origin.to_owned(), id);
    }

    /// The id of `origin`, numbering it if it is new.
    async fn origin_id_or_insert(&self, origin: &str) -> Result<i32, StoreError> {
        if let Some(id) = self.cached_origin(origin) {
            return Ok(id);
        }
        let id: i32 = retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "WITH added AS (INSERT INTO origins (origin) VALUES ($1)
                         ON CONFLICT (origin) DO NOTHING RETURNING id)
                     SELECT id FROM added UNION ALL SELECT id FROM origins WHERE origin = $1",
                )
                .await?;
            Ok(c.query_one(&stmt, &[&origin]).await?.get(0))
        })?;
        self.remember_origin(origin, id);
        Ok(id)
    }
}

/// The pool could not give a connection (timed out, server down).
#[derive(Debug, thiserror::Error)]
#[error("no database connection: {0}")]
struct Unavailable(String);

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

fn count(n: i64) -> u64 {
    n.try_into().unwrap_or(0)
}

/// Fails unless `job` exists and is open (locking its row against a
/// concurrent finish).
async fn check_open(tx: &deadpool_postgres::Transaction<'_>, job: JobId) -> Outcome<()> {
    let stmt = tx
        .prepare_cached("SELECT finished_at FROM jobs WHERE id = $1 FOR SHARE")
        .await?;
    match tx.query_opt(&stmt, &[&job.get()]).await? {
        None => Err(StoreError::NoSuchJob(job).into()),
        Some(row) if row.get::<_, Option<i64>>(0).is_some() => {
            Err(StoreError::JobFinished(job).into())
        }
        Some(_) => Ok(()),
    }
}

fn priority_code(p: QueuePriority) -> i16 {
    match p {
        QueuePriority::Interactive => 0,
        QueuePriority::Bulk => 1,
    }
}

fn priority_of(code: i16) -> QueuePriority {
    if code == 0 {
        QueuePriority::Interactive
    } else {
        QueuePriority::Bulk
    }
}

fn token_row(r: &tokio_postgres::Row) -> StoredToken {
    StoredToken {
        sha256: r.get(0),
        name: r.get(1),
        role: r.get(2),
        created_at: from_millis(r.get(3)),
        quota: r.get(4),
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        let location = self.location.clone();
        retrying!(self, c => {
            let tx = c.transaction().await?;
            // Processes starting together: one migrates, the others wait
            // and then find nothing to do.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
            tx.batch_execute("CREATE TABLE IF NOT EXISTS vtc_schema (version INTEGER NOT NULL)")
                .await?;
            let version: i64 = tx
                .query_one("SELECT COALESCE(MAX(version), 0)::BIGINT FROM vtc_schema", &[])
                .await?
                .get(0);
            let known = MIGRATIONS.len() as i64;
            if version > known {
                return Err(StoreError::SchemaTooNew { location: location.clone(), found: version, known }.into());
            }
            for (step, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
                tx.batch_execute(sql).await?;
                tracing::info!(location = %location, version = step + 1, "migrated database schema");
            }
            if version < known {
                tx.execute("DELETE FROM vtc_schema", &[]).await?;
                tx.execute("INSERT INTO vtc_schema (version) VALUES ($1)", &[&(known as i32)]).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn get_report(
        &self,
        origin: &str,
        key: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Cached>, StoreError> {
        let Some(origin) = self.origin_id(origin).await? else {
            return Ok(None);
        };
        let now = millis(now);
        let row = retrying!(self, c => {
            // One round trip for both caches.
            let stmt = c
                .prepare_cached(
                    "SELECT r.kind, r.body, r.fetched_at, r.expires_at, nf.fetched_at, nf.expires_at
                     FROM (SELECT 1) one
                     LEFT JOIN (report_keys k JOIN reports r ON r.id = k.report_id)
                       ON k.origin_id = $1 AND k.key = $2 AND r.expires_at > $3
                     LEFT JOIN not_found nf
                       ON nf.origin_id = $1 AND nf.key = $2 AND nf.expires_at > $3",
                )
                .await?;
            Ok(c.query_one(&stmt, &[&origin, &key, &now]).await?)
        })?;
        let found: Option<(String, Vec<u8>, i64, i64)> = row
            .get::<_, Option<String>>(0)
            .map(|kind| (kind, row.get(1), row.get(2), row.get(3)));
        let not_found: Option<(i64, i64)> = row
            .get::<_, Option<i64>>(4)
            .map(|fetched| (fetched, row.get(5)));
        let nf = |(fetched, expires): (i64, i64)| Cached::NotFound {
            fetched_at: from_millis(fetched),
            expires_at: from_millis(expires),
        };
        Ok(match (found, not_found) {
            (Some(f), Some(n)) if n.0 > f.2 => Some(nf(n)),
            (Some((kind, body, fetched, expires)), _) => Some(Cached::Found {
                kind,
                json: unpack(&body, "report")?,
                fetched_at: from_millis(fetched),
                expires_at: from_millis(expires),
            }),
            (None, n) => n.map(nf),
        })
    }

    async fn put_report(
        &self,
        origin: &str,
        report: NewReport<'_>,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let origin = self.origin_id_or_insert(origin).await?;
        let mut keys: Vec<&str> = Vec::with_capacity(report.aliases.len() + 1);
        for k in std::iter::once(report.key).chain(report.aliases.iter().copied()) {
            if !k.is_empty() && !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys.sort_unstable();
        let body = pack(report.json);
        let (fetched, expires) = (millis(now), expiry(now, ttl));
        retrying!(self, c => {
            let tx = c.transaction().await?;
            // Writers of the same keys take turns (in key order: no
            // deadlock), so two puts of one object make one report.
            let lock = tx
                .prepare_cached(
                    "SELECT count(pg_advisory_xact_lock(hashtextextended(k, $1)))
                     FROM (SELECT unnest($2::TEXT[]) AS k ORDER BY 1) s",
                )
                .await?;
            tx.query_one(&lock, &[&i64::from(origin), &keys]).await?;
            let lookup = tx
                .prepare_cached(
                    "SELECT DISTINCT report_id FROM report_keys
                     WHERE origin_id = $1 AND key = ANY($2) ORDER BY report_id",
                )
                .await?;
            let previous: Vec<i64> = tx
                .query(&lookup, &[&origin, &keys])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let id: i64 = match previous.first() {
                Some(&id) => {
                    let update = tx
                        .prepare_cached(
                            "UPDATE reports SET kind = $2, body = $3, fetched_at = $4, expires_at = $5
                             WHERE id = $1",
                        )
                        .await?;
                    tx.execute(&update, &[&id, &report.kind, &body, &fetched, &expires]).await?;
                    id
                }
                None => {
                    let insert = tx
                        .prepare_cached(
                            "INSERT INTO reports (origin_id, kind, body, fetched_at, expires_at)
                             VALUES ($1, $2, $3, $4, $5) RETURNING id",
                        )
                        .await?;
                    tx.query_one(&insert, &[&origin, &report.kind, &body, &fetched, &expires])
                        .await?
                        .get(0)
                }
            };
            let link = tx
                .prepare_cached(
                    "INSERT INTO report_keys (origin_id, key, report_id)
                     SELECT $1, k, $3 FROM unnest($2::TEXT[]) AS k
                     ON CONFLICT (origin_id, key) DO UPDATE SET report_id = excluded.report_id",
                )
                .await?;
            tx.execute(&link, &[&origin, &keys, &id]).await?;
            let forget = tx
                .prepare_cached("DELETE FROM not_found WHERE origin_id = $1 AND key = ANY($2)")
                .await?;
            tx.execute(&forget, &[&origin, &keys]).await?;
            if previous.len() > 1 {
                // Reports whose keys all moved to this one are unreachable.
                let orphans: Vec<i64> = previous[1..].to_vec();
                let orphan = tx
                    .prepare_cached(
                        "DELETE FROM reports r WHERE r.id = ANY($1)
                         AND NOT EXISTS (SELECT 1 FROM report_keys k WHERE k.report_id = r.id)",
                    )
                    .await?;
                tx.execute(&orphan, &[&orphans]).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn put_not_found(
        &self,
        origin: &str,
        key: &str,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let origin = self.origin_id_or_insert(origin).await?;
        let (fetched, expires) = (millis(now), expiry(now, ttl));
        retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "INSERT INTO not_found (origin_id, key, fetched_at, expires_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (origin_id, key) DO UPDATE
                     SET fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
                )
                .await?;
            c.execute(&stmt, &[&origin, &key, &fetched, &expires]).await?;
            Ok(())
        })
    }

    async fn expire_report(
        &self,
        origin: &str,
        key: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let Some(origin) = self.origin_id(origin).await? else {
            return Ok(());
        };
        let at = millis(at);
        retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "UPDATE reports SET expires_at = LEAST(expires_at, $3)
                     WHERE id = (SELECT report_id FROM report_keys WHERE origin_id = $1 AND key = $2)",
                )
                .await?;
            c.execute(&stmt, &[&origin, &key, &at]).await?;
            Ok(())
        })
    }

    async fn cached_reports(
        &self,
        origin: &str,
        page: ReportPage,
        now: OffsetDateTime,
    ) -> Result<Vec<CachedReport>, StoreError> {
        let Some(origin) = self.origin_id(origin).await? else {
            return Ok(Vec::new());
        };
        let after = page.after.map_or(i64::MIN, |c| c.0);
        let since = page.fetched_since.map_or(i64::MIN, millis);
        let (now, limit) = (millis(now), limit_param(page.limit.max(1)));
        // One statement: the page and its keys agree.
        let rows = retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "SELECT r.id, r.kind, r.body, r.fetched_at, r.expires_at,
                       ARRAY(SELECT k.key FROM report_keys k WHERE k.report_id = r.id ORDER BY k.key)
                     FROM reports r
                     WHERE r.origin_id = $1 AND r.id > $2 AND r.expires_at > $3 AND r.fetched_at >= $4
                     ORDER BY r.id LIMIT $5",
                )
                .await?;
            Ok(c.query(&stmt, &[&origin, &after, &now, &since, &limit]).await?)
        })?;
        rows.iter()
            .map(|r| {
                Ok(CachedReport {
                    cursor: ReportCursor(r.get(0)),
                    kind: r.get(1),
                    json: unpack(r.get::<_, &[u8]>(2), "report")?,
                    keys: r.get(5),
                    fetched_at: from_millis(r.get(3)),
                    expires_at: from_millis(r.get(4)),
                })
            })
            .collect()
    }

    async fn prune_step(&self, now: OffsetDateTime, max_rows: usize) -> Result<Pruned, StoreError> {
        let (at, limit) = (millis(now), limit_param(max_rows));
        let cutoff = (now - LEDGER_RETENTION).unix_timestamp();
        let retired = millis(now - FINISHED_JOB_RETENTION);
        let counts: [u64; 8] = retrying!(self, c => {
            let tx = c.transaction().await?;
            // Their keys go with them (ON DELETE CASCADE).
            let reports = tx
                .execute(
                    "DELETE FROM reports WHERE id IN
                        (SELECT id FROM reports WHERE expires_at <= $1 LIMIT $2)",
                    &[&at, &limit],
                )
                .await?;
            let not_found = tx
                .execute(
                    "DELETE FROM not_found WHERE ctid IN
                        (SELECT ctid FROM not_found WHERE expires_at <= $1 LIMIT $2)",
                    &[&at, &limit],
                )
                .await?;
            let ledger_rows = tx
                .execute(
                    "DELETE FROM api_calls WHERE ctid IN
                        (SELECT ctid FROM api_calls WHERE second < $1 LIMIT $2)",
                    &[&cutoff, &limit],
                )
                .await?;
            let journal_entries = tx
                .execute(
                    "DELETE FROM journal WHERE ctid IN
                        (SELECT j.ctid FROM journal j JOIN jobs ON jobs.id = j.job_id
                         WHERE jobs.finished_at < $1 LIMIT $2)",
                    &[&retired, &limit],
                )
                .await?;
            let jobs = tx
                .execute(
                    "DELETE FROM jobs WHERE id IN
                        (SELECT id FROM jobs WHERE finished_at < $1
                         AND NOT EXISTS (SELECT 1 FROM journal WHERE job_id = jobs.id) LIMIT $2)",
                    &[&retired, &limit],
                )
                .await?;
            let usage_rows = tx
                .execute(
                    "DELETE FROM usage_counts WHERE ctid IN
                        (SELECT ctid FROM usage_counts WHERE window_start < $1 LIMIT $2)",
                    &[&millis(now - LEDGER_RETENTION), &limit],
                )
                .await?;
            let items = tx
                .execute(
                    "DELETE FROM enrich_items WHERE ctid IN
                        (SELECT i.ctid FROM enrich_items i JOIN enrich_jobs j ON j.id = i.job_id
                         WHERE j.finished_at < $1 LIMIT $2)",
                    &[&retired, &limit],
                )
                .await?;
            let queue_jobs = tx
                .execute(
                    "DELETE FROM enrich_jobs WHERE id IN
                        (SELECT id FROM enrich_jobs WHERE finished_at < $1
                         AND NOT EXISTS (SELECT 1 FROM enrich_items WHERE job_id = enrich_jobs.id)
                         LIMIT $2)",
                    &[&retired, &limit],
                )
                .await?;
            // Reservations out of every window and lapsed markers.
            tx.execute(
                "DELETE FROM quota_slots WHERE ctid IN
                    (SELECT ctid FROM quota_slots WHERE at < $1 LIMIT $2)",
                &[&(at - 3_600_000), &limit],
            )
            .await?;
            tx.execute(
                "DELETE FROM in_flight WHERE ctid IN
                    (SELECT ctid FROM in_flight WHERE until <= $1 LIMIT $2)",
                &[&at, &limit],
            )
            .await?;
            tx.commit().await?;
            Ok([reports, not_found, ledger_rows, journal_entries, jobs, usage_rows, items, queue_jobs])
        })?;
        let [reports, not_found, ledger_rows, journal_entries, jobs, usage_rows, items, queue_jobs] =
            counts;
        let max = max_rows as u64;
        let complete = counts.iter().all(|&n| n < max);
        Ok(Pruned {
            reports,
            not_found,
            ledger_rows: ledger_rows + usage_rows,
            jobs: jobs + queue_jobs,
            journal_entries: journal_entries + items,
            complete,
        })
    }

    async fn compact(&self, full: bool) -> Result<(), StoreError> {
        // The names are this crate's constants, not input.
        let verb = if full {
            "VACUUM (FULL, ANALYZE)"
        } else {
            "VACUUM"
        };
        let sql = format!("{verb} {}", TABLES.join(", "));
        retrying!(self, c => {
            c.batch_execute(&sql).await?;
            Ok(())
        })
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let location = self.location.clone();
        retrying!(self, c => {
            let mut tables = Vec::with_capacity(TABLES.len());
            let mut size = 0u64;
            for &name in TABLES {
                // The names are this crate's constants, not input.
                let row = c
                    .query_one(
                        &format!(
                            "SELECT (SELECT count(*) FROM {name}),
                                    pg_total_relation_size(to_regclass($1))::BIGINT"
                        ),
                        &[&name],
                    )
                    .await?;
                let bytes = count(row.get::<_, Option<i64>>(1).unwrap_or(0));
                size += bytes;
                tables.push(TableStats {
                    name: name.to_owned(),
                    rows: count(row.get(0)),
                    bytes,
                });
            }
            Ok(StoreStats {
                backend: "postgres",
                location: location.clone(),
                tables,
                size_bytes: size,
                // Dead space is the server's (autovacuum) to reuse.
                free_bytes: 0,
            })
        })
    }

    async fn open_job(&self, fingerprint: &str) -> Result<JobId, StoreError> {
        retrying!(self, c => {
            let tx = c.transaction().await?;
            // One opener per fingerprint at a time.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
                &[&fingerprint],
            )
            .await?;
            let open = tx
                .prepare_cached("SELECT id FROM jobs WHERE fingerprint = $1 AND finished_at IS NULL")
                .await?;
            if let Some(row) = tx.query_opt(&open, &[&fingerprint]).await? {
                tx.commit().await?;
                return Ok(JobId::new(row.get(0)));
            }
            // A rerun of a finished job supersedes it (journal and items
            // go with it: ON DELETE CASCADE).
            tx.execute("DELETE FROM jobs WHERE fingerprint = $1", &[&fingerprint]).await?;
            let id: i64 = tx
                .query_one(
                    "INSERT INTO jobs (fingerprint, created_at) VALUES ($1, $2) RETURNING id",
                    &[&fingerprint, &millis(OffsetDateTime::now_utc())],
                )
                .await?
                .get(0);
            tx.commit().await?;
            Ok(JobId::new(id))
        })
    }

    async fn journal_records(
        &self,
        job: JobId,
        entries: &[JournalEntry],
    ) -> Result<(), StoreError> {
        let mut seqs = Vec::with_capacity(entries.len());
        let mut keys = Vec::with_capacity(entries.len());
        let mut records = Vec::with_capacity(entries.len());
        for e in entries {
            seqs.push(seq_param(e.seq)?);
            keys.push(e.key.as_str());
            records.push(pack(&e.record));
        }
        retrying!(self, c => {
            let tx = c.transaction().await?;
            check_open(&tx, job).await?;
            let insert = tx
                .prepare_cached(
                    "INSERT INTO journal (job_id, seq, key, record)
                     SELECT $1, s, k, r FROM unnest($2::BIGINT[], $3::TEXT[], $4::BYTEA[]) AS t(s, k, r)
                     ON CONFLICT (job_id, seq) DO UPDATE SET key = excluded.key, record = excluded.record",
                )
                .await?;
            tx.execute(&insert, &[&job.get(), &seqs, &keys, &records]).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn journaled(&self, job: JobId, seq: u64) -> Result<Option<String>, StoreError> {
        let seq = seq_param(seq)?;
        let body: Option<Vec<u8>> = retrying!(self, c => {
            let stmt = c
                .prepare_cached("SELECT record FROM journal WHERE job_id = $1 AND seq = $2")
                .await?;
            Ok(c.query_opt(&stmt, &[&job.get(), &seq]).await?.map(|r| r.get(0)))
        })?;
        body.map(|b| unpack(&b, "journal record")).transpose()
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
        let rows = retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "SELECT seq, key, record FROM journal WHERE job_id = $1 AND seq > $2
                     ORDER BY seq LIMIT $3",
                )
                .await?;
            Ok(c.query(&stmt, &[&job.get(), &after, &limit]).await?)
        })?;
        rows.iter()
            .map(|r| {
                Ok(JournalEntry {
                    seq: count(r.get(0)),
                    key: r.get(1),
                    record: unpack(r.get::<_, &[u8]>(2), "journal record")?,
                })
            })
            .collect()
    }

    async fn finish_job(&self, job: JobId) -> Result<(), StoreError> {
        let now = millis(OffsetDateTime::now_utc());
        retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "UPDATE jobs SET finished_at = $2 WHERE id = $1 AND finished_at IS NULL",
                )
                .await?;
            if c.execute(&stmt, &[&job.get(), &now]).await? == 0 {
                let exists = c.query_opt("SELECT 1 FROM jobs WHERE id = $1", &[&job.get()]).await?;
                if exists.is_none() {
                    return Err(StoreError::NoSuchJob(job).into());
                }
            }
            Ok(())
        })
    }

    async fn job_status(&self, job: JobId) -> Result<JobStatus, StoreError> {
        let row = retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "SELECT fingerprint, created_at, finished_at,
                       (SELECT count(*) FROM journal WHERE job_id = $1)
                     FROM jobs WHERE id = $1",
                )
                .await?;
            Ok(c.query_opt(&stmt, &[&job.get()]).await?)
        })?;
        let Some(row) = row else {
            return Err(StoreError::NoSuchJob(job));
        };
        let finished_at: Option<i64> = row.get(2);
        Ok(JobStatus {
            id: job,
            fingerprint: row.get(0),
            state: if finished_at.is_some() {
                JobState::Finished
            } else {
                JobState::Open
            },
            journaled: count(row.get(3)),
            created_at: from_millis(row.get(1)),
            finished_at: finished_at.map(from_millis),
        })
    }

    async fn add_token(&self, token: &StoredToken) -> Result<(), StoreError> {
        let created = millis(token.created_at);
        let added = retrying!(self, c => {
            Ok(c.execute(
                "INSERT INTO tokens (sha256, name, role, created_at, quota)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[&token.sha256, &token.name, &token.role, &created, &token.quota],
            )
            .await?)
        })?;
        if added == 0 {
            return Err(StoreError::TokenExists {
                name: token.name.clone(),
            });
        }
        Ok(())
    }

    async fn token_by_sha256(&self, sha256: &str) -> Result<Option<StoredToken>, StoreError> {
        retrying!(self, c => {
            let stmt = c
                .prepare_cached("SELECT sha256, name, role, created_at, quota FROM tokens WHERE sha256 = $1")
                .await?;
            Ok(c.query_opt(&stmt, &[&sha256]).await?.as_ref().map(token_row))
        })
    }

    async fn tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        retrying!(self, c => {
            let rows = c
                .query("SELECT sha256, name, role, created_at, quota FROM tokens ORDER BY name", &[])
                .await?;
            Ok(rows.iter().map(token_row).collect())
        })
    }

    async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        retrying!(self, c => {
            Ok(c.execute("DELETE FROM tokens WHERE name = $1", &[&name]).await? > 0)
        })
    }

    async fn record_api_calls(
        &self,
        origin: &str,
        calls: &[(&str, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        if calls.is_empty() {
            return Ok(());
        }
        let origin = self.origin_id_or_insert(origin).await?;
        // Grouped here: one row per label and second, whatever the batch.
        let mut grouped: HashMap<(&str, i64), i64> = HashMap::new();
        for (label, at) in calls {
            *grouped.entry((label, at.unix_timestamp())).or_default() += 1;
        }
        let mut grouped: Vec<_> = grouped.into_iter().collect();
        grouped.sort_unstable();
        let labels: Vec<&str> = grouped.iter().map(|((l, _), _)| *l).collect();
        let seconds: Vec<i64> = grouped.iter().map(|((_, s), _)| *s).collect();
        let counts: Vec<i64> = grouped.iter().map(|(_, n)| *n).collect();
        retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "INSERT INTO api_calls (origin_id, key_label, second, calls)
                     SELECT $1, l, s, n FROM unnest($2::TEXT[], $3::BIGINT[], $4::BIGINT[]) AS t(l, s, n)
                     ON CONFLICT (origin_id, key_label, second)
                     DO UPDATE SET calls = api_calls.calls + excluded.calls",
                )
                .await?;
            c.execute(&stmt, &[&origin, &labels, &seconds, &counts]).await?;
            Ok(())
        })
    }

    async fn api_calls_since(
        &self,
        origin: &str,
        key_label: &str,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let Some(origin) = self.origin_id(origin).await? else {
            return Ok(0);
        };
        let since = since.unix_timestamp();
        let n: i64 = retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "SELECT COALESCE(SUM(calls), 0)::BIGINT FROM api_calls
                     WHERE origin_id = $1 AND key_label = $2 AND second >= $3",
                )
                .await?;
            Ok(c.query_one(&stmt, &[&origin, &key_label, &since]).await?.get(0))
        })?;
        Ok(count(n))
    }

    async fn api_calls_per_second(
        &self,
        origin: &str,
        key_label: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<(i64, u64)>, StoreError> {
        let Some(origin) = self.origin_id(origin).await? else {
            return Ok(Vec::new());
        };
        let since = since.unix_timestamp();
        let rows = retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "SELECT second, calls FROM api_calls
                     WHERE origin_id = $1 AND key_label = $2 AND second >= $3 ORDER BY second",
                )
                .await?;
            Ok(c.query(&stmt, &[&origin, &key_label, &since]).await?)
        })?;
        Ok(rows.iter().map(|r| (r.get(0), count(r.get(1)))).collect())
    }

    async fn create_enrich_job(
        &self,
        job: &NewEnrichJob<'_>,
        now: OffsetDateTime,
    ) -> Result<EnrichJobId, StoreError> {
        let priority = priority_code(job.priority);
        let inputs: Vec<&str> = job.items.iter().map(|i| i.input).collect();
        let policies: Vec<Option<&str>> = job.items.iter().map(|i| i.policy).collect();
        let total = limit_param(inputs.len());
        let at = millis(now);
        let id: i64 = retrying!(self, c => {
            let tx = c.transaction().await?;
            let insert = tx
                .prepare_cached(
                    "INSERT INTO enrich_jobs (owner, priority, total, open_items, created_at, finished_at)
                     VALUES ($1, $2, $3::BIGINT, $3::BIGINT, $4::BIGINT, CASE WHEN $3::BIGINT = 0 THEN $4::BIGINT END)
                     RETURNING id",
                )
                .await?;
            let id: i64 = tx
                .query_one(&insert, &[&job.owner, &priority, &total, &at])
                .await?
                .get(0);
            let items = tx
                .prepare_cached(
                    "INSERT INTO enrich_items (job_id, seq, priority, state, input, policy)
                     SELECT $1, t.n - 1, $2, 0, t.i, t.p
                     FROM unnest($3::TEXT[], $4::TEXT[]) WITH ORDINALITY AS t(i, p, n)",
                )
                .await?;
            tx.execute(&items, &[&id, &priority, &inputs, &policies]).await?;
            tx.commit().await?;
            Ok(id)
        })?;
        Ok(EnrichJobId::new(id))
    }

    async fn enrich_job(&self, job: EnrichJobId) -> Result<Option<EnrichJob>, StoreError> {
        let row = retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "SELECT j.owner, j.priority, j.total, j.created_at, j.cancelled_at, j.finished_at,
                       count(i.seq) FILTER (WHERE i.state = 0),
                       count(i.seq) FILTER (WHERE i.state = 1),
                       count(i.seq) FILTER (WHERE i.state = 2),
                       count(i.seq) FILTER (WHERE i.state = 3),
                       count(i.seq) FILTER (WHERE i.failed)
                     FROM enrich_jobs j LEFT JOIN enrich_items i ON i.job_id = j.id
                     WHERE j.id = $1 GROUP BY j.id",
                )
                .await?;
            Ok(c.query_opt(&stmt, &[&job.get()]).await?)
        })?;
        Ok(row.map(|r| EnrichJob {
            id: job,
            owner: r.get(0),
            priority: priority_of(r.get(1)),
            total: count(r.get(2)),
            created_at: from_millis(r.get(3)),
            cancelled_at: r.get::<_, Option<i64>>(4).map(from_millis),
            finished_at: r.get::<_, Option<i64>>(5).map(from_millis),
            queued: count(r.get(6)),
            leased: count(r.get(7)),
            done: count(r.get(8)),
            cancelled: count(r.get(9)),
            failed: count(r.get(10)),
        }))
    }

    async fn claim_items(
        &self,
        worker: &str,
        n: usize,
        lease: Duration,
        bulk: bool,
        now: OffsetDateTime,
    ) -> Result<Vec<ClaimedItem>, StoreError> {
        let (at, until, limit) = (millis(now), expiry(now, lease), limit_param(n));
        let max_priority: i16 = if bulk { 1 } else { 0 };
        let rows = retrying!(self, c => {
            // One statement, one round trip: items of cancelled jobs whose
            // worker vanished are cancelled (their jobs finish when that
            // was the last), then items are picked, skipping rows another
            // claimer holds locked, and leased.
            let stmt = c
                .prepare_cached(
                    "WITH gone AS (
                        UPDATE enrich_items i SET state = 3, leased_by = NULL, lease_until = NULL
                        FROM enrich_jobs j
                        WHERE j.id = i.job_id AND j.cancelled_at IS NOT NULL
                          AND i.state = 1 AND i.lease_until <= $1
                        RETURNING i.job_id),
                     per_job AS (SELECT job_id, count(*) AS n FROM gone GROUP BY job_id),
                     drained AS (
                        UPDATE enrich_jobs j SET open_items = j.open_items - p.n,
                          finished_at = CASE WHEN j.open_items - p.n <= 0
                                        THEN COALESCE(j.finished_at, $1) ELSE j.finished_at END
                        FROM per_job p WHERE j.id = p.job_id
                        RETURNING 1),
                     picked AS (
                        SELECT i.job_id, i.seq FROM enrich_items i
                        JOIN enrich_jobs j ON j.id = i.job_id
                        WHERE i.state < 2 AND (i.state = 0 OR i.lease_until <= $1)
                          AND i.priority <= $2 AND j.cancelled_at IS NULL
                        ORDER BY i.priority, i.job_id, i.seq LIMIT $3
                        FOR UPDATE OF i SKIP LOCKED),
                     leased AS (
                        UPDATE enrich_items t SET state = 1, leased_by = $4, lease_until = $5
                        FROM picked WHERE t.job_id = picked.job_id AND t.seq = picked.seq
                        RETURNING t.job_id, t.seq, t.input, t.policy, t.priority)
                     SELECT job_id, seq, input, policy, priority, (SELECT count(*) FROM drained)
                     FROM leased",
                )
                .await?;
            Ok(c.query(&stmt, &[&at, &max_priority, &limit, &worker, &until]).await?)
        })?;
        let mut items: Vec<ClaimedItem> = rows
            .iter()
            .map(|r| ClaimedItem {
                job: EnrichJobId::new(r.get(0)),
                seq: count(r.get(1)),
                input: r.get(2),
                policy: r.get(3),
                priority: priority_of(r.get(4)),
            })
            .collect();
        items.sort_by_key(|i| (i.priority, i.job, i.seq));
        Ok(items)
    }

    async fn renew_leases(&self, worker: &str, until: OffsetDateTime) -> Result<u64, StoreError> {
        let until = millis(until);
        retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "UPDATE enrich_items SET lease_until = $2 WHERE state = 1 AND leased_by = $1",
                )
                .await?;
            Ok(c.execute(&stmt, &[&worker, &until]).await?)
        })
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
        let record = pack(record_json);
        let at = millis(now);
        retrying!(self, c => {
            // One statement: the item is done only while this worker holds
            // it; the job's count of open items drops under its row lock
            // (a concurrent completion waits and reads the new count), so
            // whichever completion takes it to zero finishes the job.
            let stmt = c
                .prepare_cached(
                    "WITH done AS (
                        UPDATE enrich_items SET state = 2, record = $4, failed = $5, lease_until = NULL
                        WHERE job_id = $1 AND seq = $2 AND state = 1 AND leased_by = $3
                        RETURNING 1),
                     counted AS (
                        UPDATE enrich_jobs SET open_items = open_items - 1,
                          finished_at = CASE WHEN open_items - 1 <= 0
                                        THEN COALESCE(finished_at, $6) ELSE finished_at END
                        WHERE id = $1 AND EXISTS (SELECT 1 FROM done)
                        RETURNING 1)
                     SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM counted)",
                )
                .await?;
            let row = c.query_one(&stmt, &[&job.get(), &seq, &worker, &record, &failed, &at]).await?;
            Ok(row.get::<_, i64>(0) == 1)
        })
    }

    async fn cancel_enrich_job(
        &self,
        job: EnrichJobId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let at = millis(now);
        retrying!(self, c => {
            let tx = c.transaction().await?;
            let cancel = tx
                .prepare_cached(
                    "UPDATE enrich_jobs SET cancelled_at = $2
                     WHERE id = $1 AND cancelled_at IS NULL AND finished_at IS NULL",
                )
                .await?;
            if tx.execute(&cancel, &[&job.get(), &at]).await? != 1 {
                return Ok(false);
            }
            // Leased items run to the end; expired leases are not taken again.
            let items = tx
                .prepare_cached(
                    "WITH gone AS (
                        UPDATE enrich_items SET state = 3, leased_by = NULL, lease_until = NULL
                        WHERE job_id = $1 AND (state = 0 OR (state = 1 AND lease_until <= $2))
                        RETURNING 1)
                     UPDATE enrich_jobs SET open_items = open_items - (SELECT count(*) FROM gone),
                       finished_at = CASE WHEN open_items - (SELECT count(*) FROM gone) <= 0
                                     THEN $2 ELSE finished_at END
                     WHERE id = $1",
                )
                .await?;
            tx.execute(&items, &[&job.get(), &at]).await?;
            tx.commit().await?;
            Ok(true)
        })
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
        let rows = retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "SELECT seq, input, state, failed, record FROM enrich_items
                     WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .await?;
            Ok(c.query(&stmt, &[&job.get(), &after, &limit]).await?)
        })?;
        rows.iter()
            .map(|r| {
                let record = match r.get::<_, Option<&[u8]>>(4) {
                    Some(bytes) => Some(unpack(bytes, "job record")?),
                    None => None,
                };
                Ok(JobItem {
                    seq: count(r.get(0)),
                    input: r.get(1),
                    state: match r.get::<_, i16>(2) {
                        0 => ItemState::Queued,
                        1 => ItemState::Leased,
                        2 => ItemState::Done,
                        _ => ItemState::Cancelled,
                    },
                    failed: r.get(3),
                    record,
                })
            })
            .collect()
    }

    async fn charge_usage(
        &self,
        subject: &str,
        window_start: OffsetDateTime,
        amount: u64,
        limit: Option<u64>,
    ) -> Result<UsageCharge, StoreError> {
        let start = millis(window_start);
        let amount = i64::try_from(amount).map_err(|_| StoreError::OutOfRange {
            what: "usage amount",
            value: amount,
        })?;
        let limit: Option<i64> = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let (granted, used) = retrying!(self, c => {
            // Check and add in one statement: the row's lock orders
            // concurrent charges, each reading the count the last one left.
            let charge = c
                .prepare_cached(
                    "INSERT INTO usage_counts (subject, window_start, used)
                     SELECT $1, $2, $3 WHERE $4::BIGINT IS NULL OR $3 <= $4::BIGINT
                     ON CONFLICT (subject, window_start) DO UPDATE
                       SET used = usage_counts.used + excluded.used
                       WHERE $4::BIGINT IS NULL OR usage_counts.used + excluded.used <= $4::BIGINT
                     RETURNING used",
                )
                .await?;
            if let Some(row) = c.query_opt(&charge, &[&subject, &start, &amount, &limit]).await? {
                return Ok((true, row.get::<_, i64>(0)));
            }
            let read = c
                .prepare_cached("SELECT used FROM usage_counts WHERE subject = $1 AND window_start = $2")
                .await?;
            let used = c.query_opt(&read, &[&subject, &start]).await?.map_or(0, |r| r.get(0));
            Ok((false, used))
        })?;
        Ok(UsageCharge {
            granted,
            used: count(used),
        })
    }

    async fn usage(&self, subject: &str, window_start: OffsetDateTime) -> Result<u64, StoreError> {
        let start = millis(window_start);
        let used: Option<i64> = retrying!(self, c => {
            let stmt = c
                .prepare_cached("SELECT used FROM usage_counts WHERE subject = $1 AND window_start = $2")
                .await?;
            Ok(c.query_opt(&stmt, &[&subject, &start]).await?.map(|r| r.get(0)))
        })?;
        Ok(used.map_or(0, count))
    }

    async fn add_decisions(&self, decisions: &[NewDecision]) -> Result<(), StoreError> {
        if decisions.is_empty() {
            return Ok(());
        }
        let at: Vec<i64> = decisions.iter().map(|d| millis(d.at)).collect();
        let col = |f: fn(&NewDecision) -> &str| -> Vec<&str> { decisions.iter().map(f).collect() };
        let (host, user, sha256) = (col(|d| &d.host), col(|d| &d.user), col(|d| &d.sha256));
        let (action, policy, body) = (col(|d| &d.action), col(|d| &d.policy), col(|d| &d.json));
        retrying!(self, c => {
            // One statement: all or none, in the order given (ids ascend).
            let stmt = c
                .prepare_cached(
                    "INSERT INTO decisions (at, host, user_name, sha256, action, policy, body)
                     SELECT a, h, u, s, x, p, b FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[],
                       $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[]) WITH ORDINALITY
                       AS t(a, h, u, s, x, p, b, n)
                     ORDER BY n",
                )
                .await?;
            c.execute(&stmt, &[&at, &host, &user, &sha256, &action, &policy, &body]).await?;
            Ok(())
        })
    }

    async fn decisions(&self, query: &DecisionQuery) -> Result<Vec<StoredDecision>, StoreError> {
        let q = query;
        let after = q.after_id.unwrap_or(0);
        let (since, until) = (q.since.map(millis), q.until.map(millis));
        let limit = limit_param(q.limit.min(MAX_DECISION_PAGE));
        let rows = retrying!(self, c => {
            // Unset filters match everything: `$N IS NULL OR column = $N`.
            let stmt = c
                .prepare_cached(
                    "SELECT id, at, host, user_name, sha256, action, policy, body FROM decisions
                     WHERE id > $1
                       AND ($2::BIGINT IS NULL OR at >= $2) AND ($3::BIGINT IS NULL OR at < $3)
                       AND ($4::TEXT IS NULL OR host = $4) AND ($5::TEXT IS NULL OR user_name = $5)
                       AND ($6::TEXT IS NULL OR sha256 = $6) AND ($7::TEXT IS NULL OR action = $7)
                       AND ($8::TEXT IS NULL OR policy = $8)
                     ORDER BY id LIMIT $9",
                )
                .await?;
            Ok(c.query(
                &stmt,
                &[&after, &since, &until, &q.host, &q.user, &q.sha256, &q.action, &q.policy, &limit],
            )
            .await?)
        })?;
        Ok(rows
            .iter()
            .map(|r| StoredDecision {
                id: r.get(0),
                decision: NewDecision {
                    at: from_millis(r.get(1)),
                    host: r.get(2),
                    user: r.get(3),
                    sha256: r.get(4),
                    action: r.get(5),
                    policy: r.get(6),
                    json: r.get(7),
                },
            })
            .collect())
    }

    async fn collect_sightings(
        &self,
        source: &str,
        sightings: &[Sighting],
        checkpoint: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        retrying!(self, c => {
            collected::sightings(&mut c, source, sightings, checkpoint, now).await
        })
    }

    async fn collect_checkpoint(&self, source: &str) -> Result<Option<String>, StoreError> {
        retrying!(self, c => {
            let stmt = c
                .prepare_cached("SELECT checkpoint FROM collect_checkpoints WHERE source = $1")
                .await?;
            Ok(c.query_opt(&stmt, &[&source]).await?.map(|r| r.get(0)))
        })
    }

    async fn collect_due(
        &self,
        rescan_before: Option<OffsetDateTime>,
        limit: usize,
    ) -> Result<Vec<CollectedBinary>, StoreError> {
        retrying!(self, c => { collected::due(&mut c, rescan_before, limit).await })
    }

    async fn collect_results(&self, results: &[QueryResult]) -> Result<(), StoreError> {
        retrying!(self, c => { collected::results(&mut c, results).await })
    }

    async fn collect_binaries(
        &self,
        in_feed_only: bool,
    ) -> Result<Vec<CollectedBinary>, StoreError> {
        retrying!(self, c => { collected::binaries(&c, in_feed_only).await })
    }

    async fn collect_status(
        &self,
        rescan_before: Option<OffsetDateTime>,
    ) -> Result<CollectStatus, StoreError> {
        retrying!(self, c => { collected::status(&mut c, rescan_before).await })
    }

    async fn collect_reset(&self) -> Result<u64, StoreError> {
        retrying!(self, c => {
            let tx = c.transaction().await?;
            let n = tx.execute("DELETE FROM collected", &[]).await?;
            tx.execute("DELETE FROM collect_checkpoints", &[]).await?;
            tx.commit().await?;
            Ok(n)
        })
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
        let origin = self.origin_id_or_insert(origin).await?;
        let at = millis(now);
        let window = i64::try_from(budget.window.as_millis()).unwrap_or(i64::MAX);
        let (day_start, month_start) = (
            millis(CalendarWindow::Day.start(now)),
            millis(CalendarWindow::Month.start(now)),
        );
        let (per_minute, per_day, per_month) = (
            i64::from(budget.per_minute),
            i64::from(budget.per_day),
            i64::from(budget.per_month),
        );
        // What the one statement below decided.
        let verdict: (String, i64) = retrying!(self, c => {
            let tx = c.transaction().await?;
            // Reservations of one key take turns; other keys do not wait.
            let lock = tx
                .prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($2, $1))")
                .await?;
            tx.execute(&lock, &[&i64::from(origin), &key_label]).await?;
            // Count and book in one statement: the window, the day and the
            // month are read and written under the lock above.
            let stmt = tx
                .prepare_cached(
                    "WITH gone AS (
                        DELETE FROM quota_slots
                        WHERE origin_id = $1::INTEGER AND key_label = $2::TEXT AND at <= $3::BIGINT - $4::BIGINT
                        RETURNING 1),
                     minute AS (
                        SELECT count(*) AS used, min(at) AS oldest FROM quota_slots
                        WHERE origin_id = $1::INTEGER AND key_label = $2::TEXT AND at > $3::BIGINT - $4::BIGINT),
                     day AS (
                        SELECT COALESCE((SELECT used FROM quota_usage WHERE origin_id = $1::INTEGER
                          AND key_label = $2::TEXT AND period = 'day' AND start = $8::BIGINT), 0) AS used),
                     month AS (
                        SELECT COALESCE((SELECT used FROM quota_usage WHERE origin_id = $1::INTEGER
                          AND key_label = $2::TEXT AND period = 'month' AND start = $9::BIGINT), 0) AS used),
                     verdict AS (
                        SELECT CASE
                          WHEN $5::BIGINT > 0 AND minute.used >= $5::BIGINT THEN 'wait'
                          WHEN $6::BIGINT > 0 AND day.used >= $6::BIGINT THEN 'day'
                          WHEN $7::BIGINT > 0 AND month.used >= $7::BIGINT THEN 'month'
                          ELSE 'granted' END AS what,
                          COALESCE(minute.oldest + $4::BIGINT - $3::BIGINT, 0) AS wait_ms
                        FROM minute, day, month),
                     slot AS (
                        INSERT INTO quota_slots (origin_id, key_label, at)
                        SELECT $1::INTEGER, $2::TEXT, $3::BIGINT FROM verdict WHERE what = 'granted' AND $5::BIGINT > 0
                        RETURNING 1),
                     usage AS (
                        INSERT INTO quota_usage (origin_id, key_label, period, start, used)
                        SELECT $1::INTEGER, $2::TEXT, p.period, p.start, 1 FROM verdict,
                          (VALUES ('day', $8::BIGINT, $6::BIGINT), ('month', $9::BIGINT, $7::BIGINT))
                            AS p(period, start, lim)
                        WHERE verdict.what = 'granted' AND p.lim > 0
                        ON CONFLICT (origin_id, key_label, period) DO UPDATE SET
                          used = CASE WHEN quota_usage.start = excluded.start
                                 THEN quota_usage.used + 1 ELSE 1 END,
                          start = excluded.start
                        RETURNING 1)
                     SELECT what, wait_ms::BIGINT,
                       (SELECT count(*) FROM gone) + (SELECT count(*) FROM slot)
                         + (SELECT count(*) FROM usage)
                     FROM verdict",
                )
                .await?;
            let row = tx
                .query_one(
                    &stmt,
                    &[
                        &origin, &key_label, &at, &window, &per_minute, &per_day, &per_month,
                        &day_start, &month_start,
                    ],
                )
                .await?;
            tx.commit().await?;
            Ok((row.get::<_, String>(0), row.get::<_, i64>(1)))
        })?;
        Ok(match verdict.0.as_str() {
            "granted" => Reservation::Granted,
            "wait" => Reservation::Wait(Duration::from_millis(
                u64::try_from(verdict.1).unwrap_or(0).max(1),
            )),
            "day" => Reservation::Exhausted {
                window: CalendarWindow::Day,
                resets_at: CalendarWindow::Day.end(now),
            },
            _ => Reservation::Exhausted {
                window: CalendarWindow::Month,
                resets_at: CalendarWindow::Month.end(now),
            },
        })
    }

    async fn settle_api_call(
        &self,
        origin: &str,
        key_label: &str,
        reserved_at: OffsetDateTime,
        answered_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let Some(origin) = self.origin_id(origin).await? else {
            return Ok(());
        };
        let (reserved, answered) = (millis(reserved_at), millis(answered_at));
        retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "UPDATE quota_slots SET at = GREATEST(at, $4) WHERE ctid =
                       (SELECT ctid FROM quota_slots
                        WHERE origin_id = $1 AND key_label = $2 AND at = $3 LIMIT 1)",
                )
                .await?;
            c.execute(&stmt, &[&origin, &key_label, &reserved, &answered]).await?;
            Ok(())
        })
    }

    async fn begin_fetch(
        &self,
        origin: &str,
        key: &str,
        holder: &str,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let origin = self.origin_id_or_insert(origin).await?;
        let (at, until) = (millis(now), expiry(now, lease));
        retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "INSERT INTO in_flight (origin_id, key, holder, until) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (origin_id, key) DO UPDATE
                     SET holder = excluded.holder, until = excluded.until
                     WHERE in_flight.until <= $5 OR in_flight.holder = excluded.holder",
                )
                .await?;
            Ok(c.execute(&stmt, &[&origin, &key, &holder, &until, &at]).await? > 0)
        })
    }

    async fn end_fetch(&self, origin: &str, key: &str, holder: &str) -> Result<(), StoreError> {
        let Some(origin) = self.origin_id(origin).await? else {
            return Ok(());
        };
        retrying!(self, c => {
            let stmt = c
                .prepare_cached(
                    "DELETE FROM in_flight WHERE origin_id = $1 AND key = $2 AND holder = $3",
                )
                .await?;
            c.execute(&stmt, &[&origin, &key, &holder]).await?;
            // Waiters poll the cache; a notification lets a listener skip
            // the rest of its pause.
            c.execute("SELECT pg_notify('vtc_fetched', $1)", &[&key]).await?;
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_location_never_shows_the_password() {
        let shown = redact("postgres://alice:hunter2@db.example:5432/vtc?sslmode=disable");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db.example"), "{shown}");
        assert_eq!(redact("postgres://[::1"), "a postgres:// URL");
    }

    #[test]
    fn pool_size_is_taken_out_of_the_url() {
        assert_eq!(
            take_pool_size("postgres://h/db?pool_size=4&options=-cx%3Dy").unwrap(),
            ("postgres://h/db?options=-cx%3Dy".to_owned(), Some(4))
        );
        assert_eq!(
            take_pool_size("postgres://h/db").unwrap(),
            ("postgres://h/db".to_owned(), None)
        );
        assert!(take_pool_size("postgres://h/db?pool_size=0").is_err());
    }
}

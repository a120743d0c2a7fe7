//! What only a SQLite file can do wrong (garbage, another program's
//! database, a newer schema, an old schema to migrate) and what only a
//! file shows (WAL, shrinking after a prune). The shared suite runs from
//! the `store` crate, through `store::open`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use std::path::{Path, PathBuf};
use std::time::Duration;
use store_core::{NewReport, PruneLimits, Store, StoreError};
use store_sqlite::SqliteStore;
use time::macros::datetime;
use time::OffsetDateTime;

const T: OffsetDateTime = datetime!(2026-11-20 10:00 UTC);
const O: &str = "https://www.virustotal.com";

/// A database file in its own temporary folder.
struct SqliteFile {
    dir: tempfile::TempDir,
}

impl SqliteFile {
    fn new() -> SqliteFile {
        SqliteFile {
            dir: tempfile::tempdir().expect("temporary folder"),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("nested").join("vtc.db")
    }
}

async fn open_err(path: &Path) -> StoreError {
    match SqliteStore::open(path).await {
        Ok(_) => panic!("{} should not open", path.display()),
        Err(e) => e,
    }
}

#[tokio::test]
async fn in_memory_store_works_for_a_session() {
    let s = SqliteStore::open_in_memory()
        .await
        .expect("in-memory store");
    let report = NewReport {
        key: "k",
        aliases: &[],
        kind: "file",
        json: "v",
    };
    s.put_report(O, report, Duration::from_secs(60), T)
        .await
        .expect("put");
    assert!(s.get_report(O, "k", T).await.expect("get").is_some());
    let job = s.open_job("fp").await.expect("job");
    s.journal_record(job, 0, "k", "{}").await.expect("journal");
    assert_eq!(s.journal_entries(job).await.expect("entries").len(), 1);
}

#[tokio::test]
async fn open_creates_missing_folders_and_uses_wal() {
    let f = SqliteFile::new();
    let s = SqliteStore::open(f.path()).await.expect("open");
    assert_eq!(s.location(), f.path().display().to_string());
    let job = s.open_job("fp").await.expect("job");
    s.journal_record(job, 0, "k", "{}").await.expect("journal");
    let wal = f.path().with_file_name("vtc.db-wal");
    assert!(wal.exists(), "write-ahead log at {}", wal.display());
}

#[tokio::test]
async fn garbage_file_is_a_clear_error_naming_the_path() {
    let f = SqliteFile::new();
    let path = f.dir.path().join("garbage.db");
    let bytes: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &bytes).expect("write garbage");
    let err = open_err(&path).await;
    assert!(matches!(err, StoreError::NotVtcDatabase { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "database {} is not a vtc database or is corrupt: ",
            path.display()
        )),
        "{message}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read back"),
        bytes,
        "the file is left alone"
    );
}

#[tokio::test]
async fn another_programs_database_is_refused() {
    let f = SqliteFile::new();
    let path = f.dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("sqlite");
        conn.execute_batch("CREATE TABLE contacts (name TEXT);")
            .expect("foreign table");
    }
    let err = open_err(&path).await;
    assert!(matches!(err, StoreError::NotVtcDatabase { .. }), "{err:?}");
    assert!(
        err.to_string().contains("tables vtc did not create"),
        "{err}"
    );

    let tagged = f.dir.path().join("tagged.db");
    {
        let conn = rusqlite::Connection::open(&tagged).expect("sqlite");
        conn.pragma_update(None, "application_id", 42)
            .expect("application id");
    }
    let err = open_err(&tagged).await;
    assert!(
        err.to_string().contains("belongs to another program"),
        "{err}"
    );
}

#[tokio::test]
async fn newer_schema_is_refused_untouched() {
    let f = SqliteFile::new();
    drop(SqliteStore::open(f.path()).await.expect("create"));
    {
        let conn = rusqlite::Connection::open(f.path()).expect("sqlite");
        conn.pragma_update(None, "user_version", 99)
            .expect("bump version");
    }
    let err = open_err(&f.path()).await;
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade vtc"), "{err}");
}

#[tokio::test]
async fn unopenable_path_names_the_path() {
    let f = SqliteFile::new();
    let blocker = f.dir.path().join("file");
    std::fs::write(&blocker, b"x").expect("write");
    let err = open_err(&blocker.join("sub").join("vtc.db")).await;
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&blocker.display().to_string()),
        "{err}"
    );
}

/// Every column name and value of every table, as text.
fn every_value(path: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(path).expect("sqlite");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let names: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, name) in names.iter().enumerate() {
                let value = match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Real(x) => x.to_string(),
                    rusqlite::types::ValueRef::Null => String::new(),
                };
                out.push((format!("{table}.{name}"), value));
            }
        }
    }
    out
}

/// A database as the first schema left it: a cached report, a ledger
/// keyed by the key's first 8 characters, an interrupted job.
fn write_schema_1(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("sqlite");
    conn.execute_batch(
        "PRAGMA application_id = 1987339057;
         CREATE TABLE reports (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, json TEXT NOT NULL,
             fetched_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
         CREATE INDEX reports_by_expiry ON reports(expires_at);
         CREATE TABLE report_keys (key TEXT PRIMARY KEY,
             report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE) WITHOUT ROWID;
         CREATE INDEX report_keys_by_report ON report_keys(report_id);
         CREATE TABLE not_found (key TEXT PRIMARY KEY, fetched_at INTEGER NOT NULL,
             expires_at INTEGER NOT NULL) WITHOUT ROWID;
         CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL,
             created_at INTEGER NOT NULL, finished_at INTEGER);
         CREATE UNIQUE INDEX jobs_one_open_per_fingerprint ON jobs(fingerprint) WHERE finished_at IS NULL;
         CREATE TABLE journal (job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
             seq INTEGER NOT NULL, key TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (job_id, seq));
         CREATE TABLE api_calls (key_prefix TEXT NOT NULL, second INTEGER NOT NULL,
             calls INTEGER NOT NULL, PRIMARY KEY (key_prefix, second)) WITHOUT ROWID;
         INSERT INTO reports VALUES (1, 'domain', '{\"id\":\"example.com\"}', 0, 9999999999999);
         INSERT INTO report_keys VALUES ('example.com', 1);
         INSERT INTO api_calls VALUES ('SeCrEtKe', 1700000000, 3);
         INSERT INTO jobs (fingerprint, created_at) VALUES ('fp', 0);
         INSERT INTO journal VALUES (1, 0, 'example.com', '{\"n\":0}');
         PRAGMA user_version = 1;",
    )
    .expect("schema 1");
}

#[tokio::test]
async fn an_old_database_loses_its_key_prefixes_and_unattributed_cache_but_resumes() {
    let f = SqliteFile::new();
    std::fs::create_dir_all(f.path().parent().unwrap()).unwrap();
    write_schema_1(&f.path());
    let s = SqliteStore::open(f.path()).await.expect("migrates");
    assert_eq!(
        s.get_report(O, "example.com", T).await.expect("get"),
        None,
        "a report of unknown origin is not served"
    );
    let job = s.open_job("fp").await.expect("resumes");
    assert_eq!(
        s.journal_entries(job).await.expect("entries")[0].record,
        r#"{"n":0}"#,
        "an interrupted job's text record still reads"
    );
    s.journal_record(job, 1, "k", r#"{"n":1}"#)
        .await
        .expect("journal");
    s.record_api_call(O, "key-0123456789ab", T)
        .await
        .expect("record");
    drop(s);
    let values = every_value(&f.path());
    assert!(
        values.iter().all(|(_, v)| !v.contains("SeCrEtKe")),
        "{values:?}"
    );
    assert!(
        values
            .iter()
            .all(|(column, _)| !column.ends_with("key_prefix")),
        "{values:?}"
    );
    let raw = std::fs::read(f.path()).unwrap();
    assert!(
        !raw.windows(8).any(|w| w == b"SeCrEtKe"),
        "the prefix is not left in free pages either"
    );
}

#[tokio::test]
async fn a_prune_after_the_ttl_shrinks_the_file() {
    let f = SqliteFile::new();
    let s = SqliteStore::open(f.path()).await.expect("open");
    let filler: String = (0..3000)
        .map(|i| format!("{:x}", i * 7919 % 4093))
        .collect();
    for i in 0..300 {
        let json = format!(r#"{{"id":{i},"pad":"{filler}{i}"}}"#);
        let key = format!("k{i}");
        let report = NewReport {
            key: &key,
            aliases: &[],
            kind: "file",
            json: &json,
        };
        s.put_report(O, report, Duration::from_secs(60), T)
            .await
            .expect("put");
    }
    s.compact(false).await.expect("checkpoint");
    let file_size = || std::fs::metadata(f.path()).expect("file").len();
    let before = (file_size(), s.stats().await.expect("stats"));
    let pruned = s
        .prune(T + Duration::from_secs(120), PruneLimits::ALL)
        .await
        .expect("prune");
    assert_eq!(pruned.reports, 300);
    let freed = s.stats().await.expect("stats");
    assert!(freed.free_bytes > 0, "{freed:?}");
    s.compact(false).await.expect("compact");
    let after = (file_size(), s.stats().await.expect("stats"));
    assert!(
        after.0 * 2 < before.0,
        "file {} bytes before, {} after; {before:?} {freed:?} {after:?}",
        before.0,
        after.0
    );
    assert!(after.1.size_bytes < before.1.size_bytes);
    assert_eq!(after.1.free_bytes, 0);
}

/// A database main's vtc made (schema 6: jobs, collector, decision log)
/// takes step 7 (the shared quota ledger, in-flight marks) and keeps what
/// it held.
#[tokio::test]
async fn a_schema_6_database_takes_step_7_and_keeps_its_rows() {
    use store_core::{CallBudget, NewEnrichJob, NewItem, QueuePriority, Reservation};
    let f = SqliteFile::new();
    let s = SqliteStore::open(f.path()).await.expect("open");
    let items = [NewItem {
        input: "example.com",
        policy: None,
    }];
    let job = s
        .create_enrich_job(
            &NewEnrichJob {
                owner: "soar",
                priority: QueuePriority::Interactive,
                items: &items,
            },
            T,
        )
        .await
        .expect("job");
    drop(s);
    // Back to what steps 1 to 6 make, as main's vtc left it.
    let conn = rusqlite::Connection::open(f.path()).unwrap();
    conn.execute_batch(
        "DROP TABLE quota_slots; DROP TABLE quota_usage; DROP TABLE in_flight;
         PRAGMA user_version = 6;",
    )
    .unwrap();
    drop(conn);
    let s = SqliteStore::open(f.path()).await.expect("migrates");
    let version: i64 = rusqlite::Connection::open(f.path())
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 7);
    assert_eq!(
        s.enrich_job(job).await.expect("job").expect("kept").total,
        1
    );
    let budget = CallBudget {
        per_minute: 1,
        per_day: 0,
        per_month: 0,
        window: Duration::from_secs(60),
    };
    assert_eq!(
        s.reserve_api_call(O, "key-1", &budget, T)
            .await
            .expect("reserve"),
        Reservation::Granted
    );
    assert!(s
        .begin_fetch(O, "h", "a", Duration::from_secs(5), T)
        .await
        .expect("mark"));
}

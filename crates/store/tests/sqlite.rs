//! The SQLite backend: the shared suite, plus what only a file can do
//! wrong (garbage, another program's database, a newer schema).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

#[macro_use]
mod suite;

use std::path::PathBuf;
use std::sync::Arc;
use store::{SqliteStore, Store, StoreError};
use suite::Backend;

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

impl Backend for SqliteFile {
    fn open(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(self.path()).expect("open sqlite store"))
    }
}

store_suite!(SqliteFile::new());

#[test]
fn in_memory_store_works_for_a_session() {
    let s = SqliteStore::open_in_memory().expect("in-memory store");
    s.put_report(
        "k",
        &[],
        "file",
        "v",
        std::time::Duration::from_secs(60),
        suite::T,
    )
    .expect("put");
    assert!(s.get_report("k", suite::T).expect("get").is_some());
    let job = s.open_job("fp").expect("job");
    s.journal_record(job, 0, "k", "{}").expect("journal");
    assert_eq!(s.journal_entries(job).expect("entries").len(), 1);
}

#[test]
fn open_creates_missing_folders_and_uses_wal() {
    let f = SqliteFile::new();
    let s = SqliteStore::open(f.path()).expect("open");
    assert_eq!(s.path(), f.path());
    let job = s.open_job("fp").expect("job");
    s.journal_record(job, 0, "k", "{}").expect("journal");
    let wal = f.path().with_file_name("vtc.db-wal");
    assert!(wal.exists(), "write-ahead log at {}", wal.display());
}

fn open_err(path: &std::path::Path) -> StoreError {
    match SqliteStore::open(path) {
        Ok(_) => panic!("{} should not open", path.display()),
        Err(e) => e,
    }
}

#[test]
fn garbage_file_is_a_clear_error_naming_the_path() {
    let f = SqliteFile::new();
    let path = f.dir.path().join("garbage.db");
    let bytes: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, &bytes).expect("write garbage");
    let err = open_err(&path);
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

#[test]
fn another_programs_database_is_refused() {
    let f = SqliteFile::new();
    let path = f.dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("sqlite");
        conn.execute_batch("CREATE TABLE contacts (name TEXT);")
            .expect("foreign table");
    }
    let err = open_err(&path);
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
    let err = open_err(&tagged);
    assert!(
        err.to_string().contains("belongs to another program"),
        "{err}"
    );
}

#[test]
fn newer_schema_is_refused_untouched() {
    let f = SqliteFile::new();
    drop(SqliteStore::open(f.path()).expect("create"));
    {
        let conn = rusqlite::Connection::open(f.path()).expect("sqlite");
        conn.pragma_update(None, "user_version", 99)
            .expect("bump version");
    }
    let err = open_err(&f.path());
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade vtc"), "{err}");
}

#[test]
fn unopenable_path_names_the_path() {
    let f = SqliteFile::new();
    let blocker = f.dir.path().join("file");
    std::fs::write(&blocker, b"x").expect("write");
    let err = open_err(&blocker.join("sub").join("vtc.db"));
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&blocker.display().to_string()),
        "{err}"
    );
}

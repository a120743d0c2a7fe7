//! The shared backend suite (`store_core::suite`) run against SQLite
//! through `store::open`, as a PostgreSQL backend will be: from this
//! crate, not the backend's own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use std::sync::Arc;
use store::Store;
use store_core::suite::Backend;

/// A database file in its own temporary folder, opened by path.
struct SqliteFile {
    dir: tempfile::TempDir,
}

impl SqliteFile {
    fn new() -> SqliteFile {
        SqliteFile {
            dir: tempfile::tempdir().expect("temporary folder"),
        }
    }
}

#[store::async_trait]
impl Backend for SqliteFile {
    async fn open(&self) -> Arc<dyn Store> {
        let path = self.dir.path().join("nested").join("vtc.db");
        store::open(path.to_str().expect("utf-8 path"))
            .await
            .expect("open sqlite store")
    }
}

mod file {
    use super::*;
    store_core::store_suite!(SqliteFile::new());
}

/// The same database through a `sqlite://` URL.
struct SqliteUrl {
    dir: tempfile::TempDir,
}

#[store::async_trait]
impl Backend for SqliteUrl {
    async fn open(&self) -> Arc<dyn Store> {
        let url = format!("sqlite://{}", self.dir.path().join("vtc.db").display());
        store::open(&url).await.expect("open sqlite store")
    }
}

mod url {
    use super::*;
    store_core::store_suite!(SqliteUrl {
        dir: tempfile::tempdir().expect("temporary folder"),
    });
}

//! The shared backend suite (`store_core::suite`) run against PostgreSQL
//! through `store::open`, exactly as SQLite runs it: each test in a schema
//! of its own (named per process and test, dropped afterwards), so tests
//! running in parallel never see each other's rows.
//!
//! The server: `VTC_TEST_POSTGRES` (a URL), else the local one
//! (`postgres://postgres@127.0.0.1:5432/test`, which `.ci/run` starts).
//! Without a server the tests are ignored with the reason; under
//! `CI=true` they run and fail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use std::sync::Arc;
use store::Store;
use store_core::suite::Backend;

fn server_url() -> String {
    std::env::var("VTC_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own on the test server.
struct PgSchema {
    name: String,
}

impl PgSchema {
    fn new() -> PgSchema {
        let name = format!("vtc_suite_{}_{}", std::process::id(), fastrand::u64(..));
        let sql = format!("CREATE SCHEMA {name}");
        run_sql(&sql);
        PgSchema { name }
    }

    fn url(&self) -> String {
        let url = server_url();
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-csearch_path%3D{}", self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        run_sql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

/// Runs `sql` on the test server from a thread of its own (callers may be
/// inside a runtime, or dropping a value).
fn run_sql(sql: &str) {
    let sql = sql.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&server_url(), tokio_postgres::NoTls)
                .await
                .expect("connect to the test PostgreSQL (see .ci/run)");
            let task = tokio::spawn(conn);
            client.batch_execute(&sql).await.expect("test schema");
            drop(client);
            let _ = task.await;
        });
    })
    .join()
    .expect("schema thread");
}

#[store::async_trait]
impl Backend for PgSchema {
    async fn open(&self) -> Arc<dyn Store> {
        store::open(&self.url()).await.expect("open postgres store")
    }
}

#[cfg(not(missing_postgres))]
mod postgres {
    use super::*;
    store_core::store_suite!(PgSchema::new());
}

#[cfg(missing_postgres)]
#[test]
#[ignore = "PostgreSQL is not reachable at 127.0.0.1:5432 (start it, or set VTC_TEST_POSTGRES; .ci/run starts it)"]
fn postgres_suite() {}

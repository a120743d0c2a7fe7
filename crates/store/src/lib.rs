//! The store vtc uses, whatever the backend: the [`Store`] trait and its
//! types (from `store-core`, re-exported) and [`open`], which picks the
//! backend from the `--db` value.
//!
//! This crate is the one place that knows every backend, so that the trait
//! crate depends on none (a backend crate depends on the trait, and this
//! crate on both: no cycle). Callers depend on `store` and hold an
//! `Arc<dyn Store>`; only tests and tools name a backend.

use std::path::Path;
use std::sync::Arc;

pub use store_core::*;
pub use store_postgres::PostgresStore;
pub use store_sqlite::SqliteStore;

/// Which backend a `--db` value names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location<'a> {
    /// A file path, or `sqlite://PATH`.
    Sqlite(&'a Path),
    /// `postgres://` or `postgresql://`: a database shared by instances.
    Postgres,
}

impl<'a> Location<'a> {
    /// Reads a `--db` value: a URL with a known scheme, or else a path.
    pub fn parse(value: &'a str) -> Location<'a> {
        if let Some(path) = value.strip_prefix("sqlite://") {
            return Location::Sqlite(Path::new(path));
        }
        let scheme = value.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Location::Postgres,
            _ => Location::Sqlite(Path::new(value)),
        }
    }
}

/// Opens the database `location` names (see [`Location::parse`]),
/// creating and migrating it as needed.
pub async fn open(location: &str) -> Result<Arc<dyn Store>, StoreError> {
    match Location::parse(location) {
        Location::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path).await?)),
        Location::Postgres => Ok(Arc::new(PostgresStore::open(location).await?)),
    }
}

/// A private database in memory, gone when dropped (`vtc demo`, tests).
pub async fn open_in_memory() -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(SqliteStore::open_in_memory().await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_pick_their_backend() {
        assert_eq!(
            Location::parse("/var/lib/vtc.db"),
            Location::Sqlite(Path::new("/var/lib/vtc.db"))
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x.db"),
            Location::Sqlite(Path::new("/tmp/x.db"))
        );
        assert_eq!(
            Location::parse("relative.sqlite"),
            Location::Sqlite(Path::new("relative.sqlite"))
        );
        assert_eq!(Location::parse("postgres://u:p@db/vtc"), Location::Postgres);
        assert_eq!(Location::parse("PostgreSQL://db/vtc"), Location::Postgres);
    }

    #[tokio::test]
    async fn an_unreachable_postgres_is_a_clear_error_that_hides_the_password() {
        // Port 1 on loopback: nothing listens there.
        let err = open("postgres://alice:hunter2@127.0.0.1:1/vtc")
            .await
            .expect_err("nothing listens");
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("127.0.0.1"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

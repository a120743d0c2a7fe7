//! Keeping the database bounded: the prune every command does at start,
//! and the full one behind `vtc db prune`.

use serde::Serialize;
use store::{PruneLimits, Pruned, Store, StoreError, StoreStats};
use time::OffsetDateTime;

/// Prunes what has expired, within [`PruneLimits::AT_START`], and gives a
/// bounded amount of the freed space back. Failing costs only the space:
/// a warning, never the command.
pub async fn prune_at_start(store: &dyn Store) {
    let pruned = match store
        .prune(OffsetDateTime::now_utc(), PruneLimits::AT_START)
        .await
    {
        Ok(pruned) => pruned,
        Err(e) => {
            tracing::warn!("cannot prune the database: {e}");
            return;
        }
    };
    if pruned.rows() > 0 {
        tracing::debug!(?pruned, "pruned the database at start");
        if let Err(e) = store.compact(false).await {
            tracing::warn!("cannot give pruned space back: {e}");
        }
    }
}

/// What `vtc db prune` did.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub pruned: Pruned,
    pub before: StoreStats,
    pub after: StoreStats,
}

/// Prunes everything that has expired, then compacts the database fully
/// (it may rewrite the whole file).
pub async fn prune_database(store: &dyn Store) -> Result<PruneReport, StoreError> {
    let before = store.stats().await?;
    let pruned = store
        .prune(OffsetDateTime::now_utc(), PruneLimits::ALL)
        .await?;
    store.compact(true).await?;
    let after = store.stats().await?;
    Ok(PruneReport {
        pruned,
        before,
        after,
    })
}

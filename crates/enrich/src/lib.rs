//! Enrichment: indicators in, [`verdict::Record`]s out, spending the API
//! quota as if every call were precious.
//!
//! [`Enricher`] answers one indicator at a time (for `vtc lookup` and the
//! service) from the cache first, sharing one VirusTotal call between
//! concurrent requests for the same indicator. [`Enricher::run_batch`]
//! streams a whole input through it: dedup, bounded concurrency under the
//! client's quota governor, and a journal in the store so a run killed
//! half-way resumes without spending a call on what it already finished.
//!
//! This crate decides *what* to ask and *what to remember*; it does not
//! sleep, retry or count quota itself (the client does), and it writes no
//! output format (the caller's `emit` does). [`cached_records`] reads the
//! cache back as records, for feeds.

mod batch;
mod cached;
mod enricher;
pub mod input;
mod output_lock;
mod queue;
mod spend;
mod ttl;

pub use batch::{BatchObserver, BatchOptions, Progress, Summary};
pub use cached::cached_records;
pub use enricher::{EnrichOptions, Enricher};
pub use output_lock::{open_exclusive_output, OutputLockError};
pub use queue::DISTRIBUTED_OWNER;
pub use spend::{spent_ledger, StoreSharedBudget, StoreSpendLog};
pub use ttl::CacheTtls;

/// Why enrichment stopped. Per-indicator failures are not errors: they
/// become records with an `error`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrichError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot read input")]
    Input(#[source] std::io::Error),
    #[error("cannot write output")]
    Output(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The quota or the key makes going on pointless; what is done is
    /// journalled and a rerun resumes.
    #[error("stopped after {done} indicators")]
    Stopped {
        done: u64,
        #[source]
        source: std::sync::Arc<vt_api::Error>,
    },
    /// A distributed job was cancelled (its submitter stopped, or
    /// `DELETE /v1/jobs/{id}`) before every record came back.
    #[error("job {job} was cancelled after {done} records")]
    Cancelled { job: i64, done: u64 },
}

//! `vtc collect`: binaries gathered from folders (scanned or watched), hash
//! lists (a file or stdin) and the Carbon Black EDR server's API, looked up
//! in VirusTotal by hash (whole binaries only with `submit_full_binaries`),
//! rescanned when their last analysis is older than the rescan window, and
//! kept in the store with their verdict and feed membership, as the Carbon
//! Black – VirusTotal connector did.
//!
//! Main types: [`Collector`] (the query loop and the run), [`CollectConfig`]
//! (the `[collect]` table), [`RescanWindow`], the sources in [`sources`],
//! and [`import_connector_config`] for the original's INI file. The feeds
//! read the state through [`feed_binaries`] (binaries with hashes, hosts
//! and verdicts) or [`feed_records`] (their last enrichment records).
//!
//! This crate knows no clap, terminal or HTTP route: it takes an enricher
//! and a store built by the front end and writes only to the store (and to
//! VirusTotal when the configuration allows uploads). Every state change is
//! one store transaction, so a kill at any point loses at most the look-up
//! under way (whose answer the cache keeps).

mod collector;
mod config;
mod import;
pub mod sources;

pub use collector::{feed_binaries, feed_records, Collector, RunSummary, Sources};
pub use config::{CollectConfig, RescanWindow, DIRECT_UPLOAD_LIMIT, MAX_UPLOAD};
pub use import::{import_connector_config, parse_ini, Imported, IniEntry, MAX_INI_BYTES};

/// Why a collection could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// A bad setting or source (exit 2).
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The Carbon Black server failed or went away; what was kept stays.
    #[error("carbon black: {0}")]
    CarbonBlack(String),
    #[error("carbon black rejected the API token (HTTP {0}): check carbonblack_server_token")]
    CarbonBlackToken(u16),
    /// VirusTotal refused for good (the key, the quota): stopping.
    #[error(transparent)]
    Stopped(#[from] enrich::EnrichError),
    #[error("the binary is larger than the upload cap of {0} bytes")]
    TooLarge(u64),
    #[error("internal error: {0}")]
    Internal(String),
}

impl CollectError {
    /// Whether the user must change a setting (exit 2) rather than retry.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            CollectError::Config(_) | CollectError::CarbonBlackToken(_)
        )
    }
}

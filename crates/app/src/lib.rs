//! The application, built once from flags, environment and the config
//! file (flag > env > file > default): the VirusTotal client with its keys
//! and budgets, the store, the enricher. Every front end (the `vtc`
//! commands today, `vtc serve`, Cortex mode and the collector next) builds
//! what it needs here, so they cannot drift apart in how a key, a budget or
//! a database is chosen.
//!
//! [`Overrides`] is what the front end was told (flags and environment,
//! already merged by its argument parser); [`Settings::resolve`] lays it
//! over the config file ([`FileConfig`]) and the defaults. The `build_*`
//! methods of [`Settings`] make the parts.
//!
//! This crate knows nothing of command-line parsing, terminals or HTTP
//! routes; it reads the config file and opens the database, nothing else.

mod config_file;
mod database;
mod feed;
pub mod log_file;
mod settings;

pub use config_file::{FileConfig, KeyConfig, PolicyConfig, QuotaConfig, ServiceConfig};
pub use database::{prune_at_start, prune_database, PruneReport};
pub use feed::export_feed;
pub use settings::{
    EnricherOptions, KeyBudget, OutputFormat, Overrides, QuotaMode, Settings, DEFAULT_QUOTA_DAY,
    DEFAULT_QUOTA_MINUTE, ENV_VARS,
};

use std::path::PathBuf;

/// Why the application could not be built. Every variant is the user's to
/// fix (a usage or configuration error), except [`AppError::Store`] and
/// [`AppError::Client`], which say why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error("cannot read config file {path}: {source}")]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    InvalidConfig { path: PathBuf, message: String },
    #[error("invalid [feeds] config: {0}")]
    InvalidFeeds(#[from] feeds::intel::FeedConfigError),
    #[error("invalid [verdict] config: {0}")]
    InvalidVerdict(#[from] verdict::ConfigError),
    /// An environment variable that does not parse (its value is not
    /// repeated: it may be a secret).
    #[error("invalid {name} in the environment: {message}")]
    InvalidEnv { name: &'static str, message: String },
    #[error("invalid API key: {0}")]
    InvalidKey(String),
    #[error(
        "no VirusTotal API key: pass --api-key, set VT_API_KEY, or put api_key in the config file"
    )]
    NoApiKey,
    #[error("no data directory: set --db or VTC_DB")]
    NoDataDir,
    #[error("{0}")]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    Client(#[from] vt_api::Error),
}

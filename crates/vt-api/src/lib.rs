//! Typed async client for VirusTotal API v3.
//!
//! [`Client`] (built with [`ClientBuilder`]) looks up files, URLs, domains
//! and IP addresses by their [`ioc`] newtypes, submits and rescans, uploads
//! files streamed from disk, and pages through collections as a `Stream`.
//! Every request goes through one path (the `retry` module): a permit from
//! the quota governor (per-key minute, day and month budgets, pooled over
//! several keys, see [`QuotaBudget`]), then the attempt, then, when the
//! failure is worth it, a jittered exponential backoff ([`RetryPolicy`]).
//! Answers are vt-model's wire types; failures are one [`Error`] whose
//! [`Error::is_retryable`] says whether trying again can help. The
//! [`ApiKey`] is a secret type that never prints.
//!
//! The client knows nothing of storage, policies, verdicts or output
//! formats: it speaks HTTP to VirusTotal (or the emulator) and nothing else.
//! The governor's ledger can be snapshotted and restored ([`QuotaLedger`])
//! so that a store elsewhere can persist it.

mod client;
mod collection;
mod config;
mod error;
mod ids;
mod key;
mod quota;
mod resources;
mod retry;
mod upload;

pub use client::{AnalysisReport, Client, ClientMetrics};
pub use config::{without_credentials, ClientBuilder, DEFAULT_BASE_URL};
pub use error::{ApiCode, Error};
pub use ids::{AnalysisDescriptor, AnalysisId, CommentId, Descriptor};
pub use key::ApiKey;
pub use quota::{
    Clock, HoldReason, KeyLedger, KeyQuotaStatus, LearnBudget, Priority, QuotaBudget, QuotaEvent,
    QuotaLedger, QuotaObserver, QuotaWindow, SharedBudget, SharedGrant, SpendLog, SystemClock,
    WindowUsage, MAX_UNEXPECTED_429_STRIKES,
};
pub use resources::{
    DetectionRatio, PrivateScanOptions, UserId, VoteVerdict, WidgetTheme, WidgetToken, WidgetUrl,
};
pub use retry::RetryPolicy;
pub use upload::{DIRECT_UPLOAD_LIMIT, MAX_UPLOAD_SIZE};
pub use vt_model::ErrorCode;

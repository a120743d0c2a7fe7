//! Wire types of VirusTotal API v3: exactly the JSON the API sends and
//! accepts, nothing more.
//!
//! Both the client (`vt-api`) and the emulator (`vt-emulator`) speak through
//! these types, so the two cannot drift apart. Every struct keeps the
//! attributes it does not name in an `other` map, so no data is dropped on
//! the way through.
//!
//! [`Report`] is a looked-up object read once from the answer's bytes:
//! typed attributes ([`ReportAttributes`], read through the [`Analysed`]
//! trait) beside the JSON as it came, kept for the cache and `--full`.
//!
//! This crate does no I/O and knows nothing of HTTP, storage, verdicts or
//! output formats.

mod analysis;
mod error;
mod object;
mod report;
mod stats;

pub use analysis::{AnalysisAttributes, AnalysisMeta, AnalysisStatus, FileInfo, UrlInfo};
pub use error::{ErrorBody, ErrorCode, ErrorEnvelope};
pub use object::{
    Collection, CollectionLinks, CollectionMeta, DataEnvelope, DomainAttributes, FileAttributes,
    IpAddressAttributes, Links, Object, ObjectType, PopularThreatClassification, ThreatCount,
    UrlAttributes, Votes,
};
pub use report::{Analysed, Report, ReportAttributes, ReportError};
pub use stats::{AnalysisStats, EngineResult};

/// The JSON map used for attributes no struct names.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

//! Application control by VirusTotal rating: the greylisting policies of
//! endpoint privilege managers (Delinea/Thycotic Privilege Manager's
//! VirusTotal Rating Provider, Security Rating Filter and file
//! specification filters), as a small, fast, auditable engine.
//!
//! - [`parse`] reads a policy file (TOML) into a [`PolicySet`], or
//!   [`PolicyError::Invalid`] with every [`Problem`] and its line and column.
//! - [`PolicySet::decide`] is the pure engine: a [`FileRequest`] and what is
//!   known of the file's rating ([`RatingLookup`]) in, a [`Decision`] out;
//!   [`PolicySet::rating_needed`] says whether the rating matters at all.
//! - [`Decider`] is the async layer: it asks the enricher (memory, then the
//!   cache, then VirusTotal) only when a policy needs the rating, within
//!   that policy's deadline, and maps what went wrong to a fallback case.
//! - [`DecisionLog`] keeps every decision in the store, in batches written
//!   behind the answers, flushed before a clean shutdown.
//!
//! Endpoint paths are the endpoint's: a Windows path is a Windows path on
//! a Linux server ([`EndpointPath`]); `std::path` is never used for them.
//! The engine knows nothing of HTTP, terminals or SQL.

mod endpoint;
mod engine;
mod file;
mod log;
mod lookup;
mod report;

pub use endpoint::{
    EndpointPath, FileRequest, Platform, RequestError, MAX_GROUPS, MAX_NAME_CHARS, MAX_PATH_CHARS,
};
pub use engine::{
    Action, Decision, FallbackActions, FallbackCase, FileSpec, Filter, FilterId, FilterKind,
    Pattern, Policy, PolicySet, RatingLookup, Resources, DEFAULT_WAIT,
};
pub use file::{
    parse, PolicyError, Problem, BUILTIN_FILTERS, MAX_MESSAGE_CHARS, MAX_POLICY_BYTES, MAX_WAIT_MS,
};
pub use log::{DecisionLog, LoggedDecision};
pub use lookup::{Decided, Decider, MAX_REMEMBERED, REMEMBER_FOR};
pub use report::{aggregate, file_ratings, MAX_REPORT_DECISIONS};

/// What the docs and `vtc policy check` say about keys: without one, or
/// with a public one, VirusTotal allows 4 lookups a minute.
pub const PUBLIC_KEY_CAVEAT: &str = "without an API key, or with a public one, VirusTotal allows 4 lookups a minute (500 a day): enough to try policies, not for production; use a premium key";

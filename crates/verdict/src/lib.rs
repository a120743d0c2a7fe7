//! Verdicts: a VirusTotal report in, `Good` / `Suspect` / `Bad` / `Unknown`
//! out, with the human reasons behind it.
//!
//! [`assess`] reads the engine tallies, per-engine results, last analysis
//! date and (optionally) the community reputation of any analysed object
//! (file, URL, domain, IP address) and applies the thresholds of a
//! [`VerdictConfig`]. [`Record`] is the one shape every output shares (the
//! "Records" section of design.md): the CLI, the JSONL of a batch, the
//! service and the enrichment journal all carry it.
//!
//! Pure functions only: this crate does no I/O, reads no clock (the caller
//! passes `now`) and knows nothing of HTTP, SQL or output formats.

mod assess;
mod config;
mod detection;
mod record;

pub use assess::{assess, Assessment};
pub use config::{ConfigError, VerdictConfig, MIN_REPUTATION_VOTES, NEGATIVE_REPUTATION_AT};
pub use detection::Detection;
pub use record::{
    EngineDetection, FullObject, Record, RecordError, MAX_DETECTIONS, MAX_DETECTION_CHARS,
};

use serde::{Deserialize, Serialize};
use std::fmt;

/// How dangerous an indicator looks. Ordered by severity:
/// `Good < Unknown < Suspect < Bad` — an indicator VirusTotal has never
/// seen is not known to be good, but nothing has flagged it either.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Analysed, and below every threshold.
    Good,
    /// Not in VirusTotal (or nothing there that any engine assessed).
    Unknown,
    /// Flagged, but not enough to call it bad.
    Suspect,
    /// Over the bad thresholds.
    Bad,
}

impl Verdict {
    /// Every verdict, least severe first.
    pub const ALL: [Verdict; 4] = [
        Verdict::Good,
        Verdict::Unknown,
        Verdict::Suspect,
        Verdict::Bad,
    ];

    /// The wire name: `good`, `unknown`, `suspect` or `bad`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Good => "good",
            Verdict::Unknown => "unknown",
            Verdict::Suspect => "suspect",
            Verdict::Bad => "bad",
        }
    }

    /// 0 (good) to 3 (bad), for thresholds such as `--fail-on`.
    pub fn severity(self) -> u8 {
        match self {
            Verdict::Good => 0,
            Verdict::Unknown => 1,
            Verdict::Suspect => 2,
            Verdict::Bad => 3,
        }
    }

    /// Parses a wire name (case-insensitive).
    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_order_by_severity_and_serialise_lower_case() {
        let mut sorted = vec![
            Verdict::Bad,
            Verdict::Good,
            Verdict::Suspect,
            Verdict::Unknown,
        ];
        sorted.sort();
        assert_eq!(sorted, Verdict::ALL.to_vec());
        for (i, v) in Verdict::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(v.severity()), i);
            let json = serde_json::to_string(&v).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", v.as_str()));
            assert_eq!(serde_json::from_str::<Verdict>(&json).ok(), Some(v));
            assert_eq!(Verdict::parse(&v.as_str().to_uppercase()), Some(v));
        }
        assert_eq!(Verdict::parse("malicious"), None);
    }
}

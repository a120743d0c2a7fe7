//! Per-engine results and their tallies, common to every analysed object.

use serde::{Deserialize, Serialize};

/// `last_analysis_stats` (or an analysis' `stats`): how many engines said what.
///
/// The file-only keys are `Option` so that a URL's stats serialise without
/// them, as the API's do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalysisStats {
    #[serde(default)]
    pub harmless: u32,
    #[serde(default)]
    pub malicious: u32,
    #[serde(default)]
    pub suspicious: u32,
    #[serde(default)]
    pub undetected: u32,
    #[serde(default)]
    pub timeout: u32,
    #[serde(
        rename = "type-unsupported",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub type_unsupported: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<u32>,
    #[serde(
        rename = "confirmed-timeout",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub confirmed_timeout: Option<u32>,
}

impl AnalysisStats {
    /// Sum of every category, the engines that could not scan included (not
    /// the denominator of a detection ratio: that is `verdict::Detection`).
    pub fn total(&self) -> u32 {
        self.harmless
            + self.malicious
            + self.suspicious
            + self.undetected
            + self.timeout
            + self.type_unsupported.unwrap_or(0)
            + self.failure.unwrap_or(0)
            + self.confirmed_timeout.unwrap_or(0)
    }

    /// Engines that gave a verdict on the object (excludes unsupported types,
    /// failures and timeouts), the denominator VirusTotal's GUI shows and
    /// `verdict::Detection` uses.
    pub fn engines_with_verdict(&self) -> u32 {
        self.harmless + self.malicious + self.suspicious + self.undetected
    }

    /// Adds one engine's category to the tally.
    pub fn count(&mut self, category: &str) {
        match category {
            "harmless" => self.harmless += 1,
            "malicious" => self.malicious += 1,
            "suspicious" => self.suspicious += 1,
            "undetected" => self.undetected += 1,
            "timeout" => self.timeout += 1,
            "type-unsupported" => *self.type_unsupported.get_or_insert(0) += 1,
            "failure" => *self.failure.get_or_insert(0) += 1,
            "confirmed-timeout" => *self.confirmed_timeout.get_or_insert(0) += 1,
            _ => {}
        }
    }
}

/// One engine's entry in `last_analysis_results`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineResult {
    pub category: String,
    pub engine_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_update: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The engine's label; `null` on the wire when it found nothing.
    #[serde(default)]
    pub result: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_stats_serialise_without_file_only_keys() {
        let stats = AnalysisStats {
            harmless: 60,
            malicious: 2,
            ..AnalysisStats::default()
        };
        let json = serde_json::to_value(&stats).unwrap_or_default();
        assert!(json.get("type-unsupported").is_none());
        assert_eq!(json["malicious"], 2);
    }

    #[test]
    fn file_stats_keep_hyphenated_keys() {
        let raw = r#"{"harmless":0,"type-unsupported":9,"suspicious":0,"confirmed-timeout":0,
            "timeout":0,"failure":0,"malicious":60,"undetected":8}"#;
        let stats: AnalysisStats = serde_json::from_str(raw).unwrap_or_default();
        assert_eq!(stats.type_unsupported, Some(9));
        assert_eq!(stats.total(), 77);
        assert_eq!(stats.engines_with_verdict(), 68);
    }
}

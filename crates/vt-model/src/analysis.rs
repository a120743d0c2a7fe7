//! The `analysis` object: one scan of a submitted file or URL.

use crate::{AnalysisStats, EngineResult, JsonMap};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an analysis is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnalysisStatus {
    Queued,
    InProgress,
    Completed,
}

impl AnalysisStatus {
    /// The wire name: `queued`, `in-progress` or `completed`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnalysisStatus::Queued => "queued",
            AnalysisStatus::InProgress => "in-progress",
            AnalysisStatus::Completed => "completed",
        }
    }
}

/// Attributes of an `analysis` (and `private_analysis`) object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalysisAttributes {
    #[serde(default)]
    pub date: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AnalysisStatus>,
    #[serde(default)]
    pub stats: AnalysisStats,
    #[serde(default)]
    pub results: BTreeMap<String, EngineResult>,
    #[serde(flatten)]
    pub other: JsonMap,
}

/// The top-level `meta` beside an analysis' `data`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalysisMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_info: Option<FileInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_info: Option<UrlInfo>,
    #[serde(flatten)]
    pub other: JsonMap,
}

/// `meta.file_info` of a file analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub sha256: String,
    #[serde(default)]
    pub sha1: String,
    #[serde(default)]
    pub md5: String,
    #[serde(default)]
    pub size: u64,
}

/// `meta.url_info` of a URL analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlInfo {
    pub id: String,
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_are_the_wire_names() {
        for status in [
            AnalysisStatus::Queued,
            AnalysisStatus::InProgress,
            AnalysisStatus::Completed,
        ] {
            assert_eq!(
                serde_json::to_value(status).expect("serialises"),
                status.as_str()
            );
        }
    }
}

//! VirusTotal objects as actions answer them: the API's object (type, id,
//! attributes as sent) plus, for analysed objects, the one detection ratio
//! of [`verdict::Detection`], so every front end shows the same `M/T`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use verdict::Detection;
use vt_model::{Analysed, AnalysisStats, JsonMap, Object, Report};

/// Engines that flagged an object out of those that gave a verdict (see
/// `verdict::Detection`: type-unsupported, timeouts and failures are not
/// in the denominator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DetectionView {
    pub malicious: u32,
    pub suspicious: u32,
    /// Engines that gave a verdict.
    pub total: u32,
    /// `malicious/total`, e.g. `62/70`.
    pub ratio: String,
}

impl From<Detection> for DetectionView {
    fn from(d: Detection) -> DetectionView {
        DetectionView {
            malicious: d.malicious,
            suspicious: d.suspicious,
            total: d.total,
            ratio: d.to_string(),
        }
    }
}

impl DetectionView {
    /// The detection of a stats map as sent (`last_analysis_stats`, `stats`).
    pub fn of_stats(stats: &Value) -> Option<DetectionView> {
        let stats: AnalysisStats = serde_json::from_value(stats.clone()).ok()?;
        Some(Detection::from_stats(&stats).into())
    }
}

/// An error the API reported for one item of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiErrorBody {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// One VirusTotal object: a report, an analysis (or its descriptor), a
/// comment, a vote, a related object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectOutput {
    /// `file`, `url`, `domain`, `ip_address`, `analysis`, `comment`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<JsonMap>,
    /// The attributes exactly as VirusTotal sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<JsonMap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationships: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_attributes: Option<Value>,
    /// An analysis' `meta` (file_info or url_info).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<JsonMap>,
    /// The item failed on its own (in a collection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiErrorBody>,
    /// The detection ratio of its last analysis (or of this analysis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<DetectionView>,
}

impl ObjectOutput {
    /// Any serialisable API object (typed or raw attributes).
    pub(crate) fn from_api<T: Serialize>(object: &T) -> Result<ObjectOutput, crate::ActionError> {
        let value = serde_json::to_value(object).map_err(internal)?;
        let mut out: ObjectOutput = serde_json::from_value(value).map_err(internal)?;
        out.detection = out.attributes.as_ref().and_then(|a| {
            a.get("last_analysis_stats")
                .or_else(|| a.get("stats"))
                .filter(|s| s.is_object())
                .and_then(DetectionView::of_stats)
        });
        // A queued analysis has all-zero stats: no ratio to show yet.
        if out.kind.ends_with("analysis") {
            let completed = out
                .attributes
                .as_ref()
                .and_then(|a| a.get("status"))
                .and_then(Value::as_str)
                == Some("completed");
            if !completed {
                out.detection = None;
            }
        }
        Ok(out)
    }

    pub(crate) fn from_object(object: &Object) -> Result<ObjectOutput, crate::ActionError> {
        ObjectOutput::from_api(object)
    }

    /// A typed report: its JSON as sent, its ratio from the typed stats.
    pub(crate) fn from_report(report: &Report) -> Result<ObjectOutput, crate::ActionError> {
        let mut out: ObjectOutput =
            serde_json::from_str(report.object_json().get()).map_err(internal)?;
        out.detection = report
            .last_analysis_stats()
            .map(|stats| Detection::from_stats(stats).into());
        Ok(out)
    }
}

fn internal(e: serde_json::Error) -> crate::ActionError {
    crate::ActionError::internal(format!("cannot read the API's object: {e}"))
}

/// A list of objects (a page or several of a collection).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct ObjectList(pub Vec<ObjectOutput>);

impl ObjectList {
    pub(crate) fn from_api<T: Serialize>(items: &[T]) -> Result<ObjectList, crate::ActionError> {
        items
            .iter()
            .map(ObjectOutput::from_api)
            .collect::<Result<Vec<_>, _>>()
            .map(ObjectList)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_report_carries_the_one_detection_ratio() {
        let object: Object = serde_json::from_value(json!({
            "type": "file", "id": "abc",
            "attributes": {"last_analysis_stats": {
                "malicious": 62, "undetected": 8, "type-unsupported": 5, "timeout": 1}}
        }))
        .unwrap();
        let out = ObjectOutput::from_object(&object).unwrap();
        assert_eq!(out.detection.unwrap().ratio, "62/70");
    }

    #[test]
    fn a_queued_analysis_has_no_ratio_yet() {
        let object = json!({"type": "analysis", "id": "u-1",
            "attributes": {"status": "queued", "stats": {"malicious": 0}}});
        assert!(ObjectOutput::from_api(&object).unwrap().detection.is_none());
    }
}

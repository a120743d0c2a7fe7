//! A report: the object VirusTotal holds on a file, URL, domain or IP
//! address, read once from the bytes of the answer into typed attributes,
//! with the JSON kept as it came for the cache and for `--full`.

use crate::{
    AnalysisAttributes, AnalysisStats, DomainAttributes, EngineResult, FileAttributes,
    IpAddressAttributes, JsonMap, UrlAttributes, Votes,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeMap;

/// What every analysed object (file, URL, domain, IP address, analysis)
/// tells about its last analysis and its standing with the community.
pub trait Analysed {
    /// `last_analysis_stats` (an analysis' `stats`).
    fn last_analysis_stats(&self) -> Option<&AnalysisStats>;
    /// `last_analysis_results` (an analysis' `results`), by engine.
    fn last_analysis_results(&self) -> &BTreeMap<String, EngineResult>;
    /// `last_analysis_date` (an analysis' `date`), epoch seconds.
    fn last_analysis_date(&self) -> Option<i64>;
    fn reputation(&self) -> Option<i64>;
    fn total_votes(&self) -> Option<Votes>;
    fn tags(&self) -> &[String];
    /// Whether the object came with attributes at all.
    fn has_attributes(&self) -> bool {
        true
    }
}

impl Analysed for AnalysisAttributes {
    fn last_analysis_stats(&self) -> Option<&AnalysisStats> {
        Some(&self.stats)
    }
    fn last_analysis_results(&self) -> &BTreeMap<String, EngineResult> {
        &self.results
    }
    fn last_analysis_date(&self) -> Option<i64> {
        (self.date != 0).then_some(self.date)
    }
    fn reputation(&self) -> Option<i64> {
        None
    }
    fn total_votes(&self) -> Option<Votes> {
        None
    }
    fn tags(&self) -> &[String] {
        &[]
    }
}

/// The typed attributes of a report, by object type.
// The variants differ in size, but a report is made one at a time and
// lives behind an `Arc`: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ReportAttributes {
    File(FileAttributes),
    Url(UrlAttributes),
    Domain(DomainAttributes),
    IpAddress(IpAddressAttributes),
}

impl ReportAttributes {
    fn inner(&self) -> &dyn Analysed {
        match self {
            ReportAttributes::File(a) => a,
            ReportAttributes::Url(a) => a,
            ReportAttributes::Domain(a) => a,
            ReportAttributes::IpAddress(a) => a,
        }
    }
}

impl Analysed for ReportAttributes {
    fn last_analysis_stats(&self) -> Option<&AnalysisStats> {
        self.inner().last_analysis_stats()
    }
    fn last_analysis_results(&self) -> &BTreeMap<String, EngineResult> {
        self.inner().last_analysis_results()
    }
    fn last_analysis_date(&self) -> Option<i64> {
        self.inner().last_analysis_date()
    }
    fn reputation(&self) -> Option<i64> {
        self.inner().reputation()
    }
    fn total_votes(&self) -> Option<Votes> {
        self.inner().total_votes()
    }
    fn tags(&self) -> &[String] {
        self.inner().tags()
    }
}

/// Why bytes are not a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("not a VirusTotal object: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a {0} object is not a file, URL, domain or IP address report")]
    UnexpectedType(String),
}

/// One file, URL, domain or IP address object.
///
/// The typed [`attributes`](Report::attributes) hold the fields vt-model
/// names (their `other` maps stay empty: nothing is copied twice); the
/// object's JSON, exactly as VirusTotal sent it, is kept once beside them
/// ([`Report::raw`]) for the cache and for whoever wants every attribute.
#[derive(Debug, Clone)]
pub struct Report {
    /// The wire type: `file`, `url`, `domain` or `ip_address`.
    pub kind: String,
    pub id: String,
    /// `None` when the object came without attributes.
    pub attributes: Option<ReportAttributes>,
    raw: Box<RawValue>,
}

/// `{"data": <object>}`, the object left unparsed.
#[derive(Deserialize)]
struct Envelope {
    data: Box<RawValue>,
}

/// The parts of an object a report reads before its attributes.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[serde(default, borrow)]
    attributes: Option<&'a RawValue>,
}

impl Report {
    /// A report from an API answer's body, `{"data": {...}}`.
    pub fn from_envelope(body: &[u8]) -> Result<Report, ReportError> {
        let envelope: Envelope = serde_json::from_slice(body)?;
        Report::from_raw(envelope.data)
    }

    /// A report from the JSON of the object alone (what [`Report::raw`]
    /// gives back, and what a cache keeps).
    pub fn from_object_json(object: &str) -> Result<Report, ReportError> {
        Report::from_raw(RawValue::from_string(object.to_owned())?)
    }

    fn from_raw(raw: Box<RawValue>) -> Result<Report, ReportError> {
        let head: Head<'_> = serde_json::from_str(raw.get())?;
        let attributes = match head.attributes {
            None => None,
            Some(attrs) if attrs.get() == "null" => None,
            Some(attrs) => Some(match head.kind.as_str() {
                "file" => ReportAttributes::File(read(attrs)?),
                "url" => ReportAttributes::Url(read(attrs)?),
                "domain" => ReportAttributes::Domain(read(attrs)?),
                "ip_address" => ReportAttributes::IpAddress(read(attrs)?),
                other => return Err(ReportError::UnexpectedType(other.to_owned())),
            }),
        };
        Ok(Report {
            kind: head.kind,
            id: head.id,
            attributes,
            raw,
        })
    }

    /// The object's JSON exactly as VirusTotal sent it.
    pub fn raw(&self) -> &RawValue {
        &self.raw
    }

    /// The attributes of a file report.
    pub fn file(&self) -> Option<&FileAttributes> {
        match &self.attributes {
            Some(ReportAttributes::File(a)) => Some(a),
            _ => None,
        }
    }
}

/// Serialises as the JSON VirusTotal sent, unchanged.
impl serde::Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

/// Equal when VirusTotal sent the same JSON.
impl PartialEq for Report {
    fn eq(&self, other: &Report) -> bool {
        self.raw.get() == other.raw.get()
    }
}

impl Analysed for Report {
    fn last_analysis_stats(&self) -> Option<&AnalysisStats> {
        self.attributes.as_ref()?.last_analysis_stats()
    }
    fn last_analysis_results(&self) -> &BTreeMap<String, EngineResult> {
        static NONE: BTreeMap<String, EngineResult> = BTreeMap::new();
        match &self.attributes {
            Some(a) => a.last_analysis_results(),
            None => &NONE,
        }
    }
    fn last_analysis_date(&self) -> Option<i64> {
        self.attributes.as_ref()?.last_analysis_date()
    }
    fn reputation(&self) -> Option<i64> {
        self.attributes.as_ref()?.reputation()
    }
    fn total_votes(&self) -> Option<Votes> {
        self.attributes.as_ref()?.total_votes()
    }
    fn tags(&self) -> &[String] {
        match &self.attributes {
            Some(a) => a.tags(),
            None => &[],
        }
    }
    fn has_attributes(&self) -> bool {
        self.attributes.is_some()
    }
}

/// Attribute structs read two ways: straight from the text when every
/// named field has its documented type (the fast path, every real
/// answer), and field by field otherwise, so a malformed field costs that
/// field, not the report.
pub(crate) trait NamedOnly: Sized {
    fn named_only(raw: &str) -> serde_json::Result<Self>;
    fn lenient(map: JsonMap) -> Self;
}

fn read<T: NamedOnly>(attrs: &RawValue) -> Result<T, ReportError> {
    match T::named_only(attrs.get()) {
        Ok(typed) => Ok(typed),
        Err(_) => {
            let map: JsonMap = serde_json::from_str(attrs.get())?;
            Ok(T::lenient(map))
        }
    }
}

/// `name` from `map` if it has the right type; dropped otherwise.
pub(crate) fn lenient_field<T: DeserializeOwned>(map: &mut JsonMap, name: &str) -> Option<T> {
    serde_json::from_value(map.remove(name)?).ok()
}

/// Stats whose counts are each read if they are counts.
pub(crate) fn lenient_stats(v: &Value) -> Option<AnalysisStats> {
    let map = v.as_object()?;
    let count = |k: &str| {
        map.get(k)
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    Some(AnalysisStats {
        harmless: count("harmless").unwrap_or(0),
        malicious: count("malicious").unwrap_or(0),
        suspicious: count("suspicious").unwrap_or(0),
        undetected: count("undetected").unwrap_or(0),
        timeout: count("timeout").unwrap_or(0),
        type_unsupported: count("type-unsupported"),
        failure: count("failure"),
        confirmed_timeout: count("confirmed-timeout"),
    })
}

/// The engine results that parse; the others are dropped.
pub(crate) fn lenient_results(v: Value) -> BTreeMap<String, EngineResult> {
    let Value::Object(map) = v else {
        return BTreeMap::new();
    };
    map.into_iter()
        .filter_map(|(engine, result)| Some((engine, serde_json::from_value(result).ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{"data":{"type":"file","id":"275a","links":{"self":"x"},"attributes":{
        "md5":"44d8","size":68,"meaningful_name":"eicar.com","sandbox_verdicts":{"a":1},
        "popular_threat_classification":{"suggested_threat_label":"virus.eicar/test"},
        "last_analysis_date":1700000000,"tags":["text"],"reputation":-5,
        "last_analysis_stats":{"malicious":3,"harmless":1,"suspicious":0,"undetected":2,"timeout":0},
        "last_analysis_results":{"A":{"category":"malicious","engine_name":"A","result":"EICAR"}}}}}"#;

    #[test]
    fn a_report_is_typed_and_keeps_its_json_as_sent() {
        let report = Report::from_envelope(FILE.as_bytes()).expect("report");
        assert_eq!((report.kind.as_str(), report.id.as_str()), ("file", "275a"));
        let file = report.file().expect("file attributes");
        assert_eq!(file.size, Some(68));
        assert_eq!(file.meaningful_name.as_deref(), Some("eicar.com"));
        assert_eq!(
            file.popular_threat_classification
                .as_ref()
                .and_then(|p| p.suggested_threat_label.as_deref()),
            Some("virus.eicar/test")
        );
        assert_eq!(report.last_analysis_stats().map(|s| s.malicious), Some(3));
        assert_eq!(
            report.last_analysis_results()["A"].result.as_deref(),
            Some("EICAR")
        );
        assert_eq!(report.reputation(), Some(-5));
        assert_eq!(report.tags(), ["text".to_owned()]);
        assert!(report.raw().get().contains("sandbox_verdicts"));
        let again = Report::from_object_json(report.raw().get()).expect("cached form");
        assert_eq!(again, report);
        assert_eq!(again.file(), report.file());
    }

    #[test]
    fn a_malformed_field_costs_that_field_not_the_report() {
        let raw = r#"{"type":"domain","id":"a.test","attributes":{"reputation":"bad",
            "last_analysis_stats":{"malicious":"many","harmless":10},"tags":["x"],
            "last_analysis_results":{"A":{"category":"harmless","engine_name":"A"},"B":7}}}"#;
        let report = Report::from_object_json(raw).expect("lenient");
        assert_eq!(report.reputation(), None);
        let stats = report.last_analysis_stats().expect("stats");
        assert_eq!((stats.malicious, stats.harmless), (0, 10));
        assert_eq!(report.last_analysis_results().len(), 1);
        assert_eq!(report.tags(), ["x".to_owned()]);
    }

    #[test]
    fn objects_without_attributes_or_of_other_types() {
        let bare = Report::from_object_json(r#"{"type":"url","id":"u"}"#).expect("bare");
        assert!(!bare.has_attributes());
        assert!(bare.last_analysis_stats().is_none());
        let comment = Report::from_object_json(r#"{"type":"comment","id":"c","attributes":{}}"#);
        assert!(matches!(comment, Err(ReportError::UnexpectedType(t)) if t == "comment"));
    }
}

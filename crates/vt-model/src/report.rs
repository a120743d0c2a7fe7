//! A report: the object VirusTotal holds on a file, URL, domain or IP
//! address, read once from the bytes of the answer into typed attributes,
//! with the JSON kept as it came for the cache and for `--full`.

use crate::{
    AnalysisAttributes, AnalysisStats, DomainAttributes, EngineResult, FileAttributes,
    IpAddressAttributes, JsonMap, PopularThreatClassification, UrlAttributes, Votes,
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
/// Read in one pass from the answer's bytes: the typed
/// [`attributes`](Report::attributes) hold the fields vt-model names (their
/// `other` maps stay empty: nothing is copied twice), and the answer's text,
/// exactly as VirusTotal sent it, is kept once beside them
/// ([`Report::json`]) for the cache and for whoever wants every attribute.
#[derive(Debug, Clone)]
pub struct Report {
    /// The wire type: `file`, `url`, `domain` or `ip_address`.
    pub kind: String,
    pub id: String,
    /// `None` when the object came without attributes.
    pub attributes: Option<ReportAttributes>,
    /// `{"data": {...}}` as it came; valid JSON, since it parsed.
    json: String,
}

/// `{"data": <object>}`, the object typed in one pass.
#[derive(Deserialize)]
struct Body {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    #[serde(default)]
    attributes: Option<AnyAttributes>,
}

/// Every attribute the four report types name, read before the type is
/// known (`type` may come after `attributes`); no two types give one name
/// different meanings. serde skips the attributes it does not name while
/// it reads, without buffering them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct AnyAttributes {
    // file
    md5: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
    size: Option<u64>,
    type_description: Option<String>,
    type_tag: Option<String>,
    meaningful_name: Option<String>,
    names: Option<Vec<String>>,
    magic: Option<String>,
    popular_threat_classification: Option<PopularThreatClassification>,
    // file and url
    times_submitted: Option<u64>,
    first_submission_date: Option<i64>,
    last_submission_date: Option<i64>,
    // url
    url: Option<String>,
    last_final_url: Option<String>,
    title: Option<String>,
    last_http_response_code: Option<u16>,
    // url and domain
    categories: Option<BTreeMap<String, String>>,
    // domain
    creation_date: Option<i64>,
    registrar: Option<String>,
    tld: Option<String>,
    // domain and ip address
    whois: Option<String>,
    // ip address
    asn: Option<u64>,
    as_owner: Option<String>,
    country: Option<String>,
    continent: Option<String>,
    network: Option<String>,
    regional_internet_registry: Option<String>,
    // every type
    last_analysis_date: Option<i64>,
    last_analysis_stats: Option<AnalysisStats>,
    last_analysis_results: BTreeMap<String, EngineResult>,
    last_modification_date: Option<i64>,
    reputation: Option<i64>,
    total_votes: Option<Votes>,
    tags: Vec<String>,
}

impl AnyAttributes {
    fn of_type(self, kind: &str) -> Result<ReportAttributes, ReportError> {
        let AnyAttributes {
            md5,
            sha1,
            sha256,
            size,
            type_description,
            type_tag,
            meaningful_name,
            names,
            magic,
            popular_threat_classification,
            times_submitted,
            first_submission_date,
            last_submission_date,
            url,
            last_final_url,
            title,
            last_http_response_code,
            categories,
            creation_date,
            registrar,
            tld,
            whois,
            asn,
            as_owner,
            country,
            continent,
            network,
            regional_internet_registry,
            last_analysis_date,
            last_analysis_stats,
            last_analysis_results,
            last_modification_date,
            reputation,
            total_votes,
            tags,
        } = self;
        macro_rules! common {
            ($name:ident { $($field:ident),* }) => {
                $name {
                    $($field,)*
                    last_analysis_date,
                    last_analysis_stats,
                    last_analysis_results,
                    last_modification_date,
                    reputation,
                    total_votes,
                    tags,
                    other: JsonMap::new(),
                }
            };
        }
        Ok(match kind {
            "file" => ReportAttributes::File(common!(FileAttributes {
                md5,
                sha1,
                sha256,
                size,
                type_description,
                type_tag,
                meaningful_name,
                names,
                magic,
                times_submitted,
                first_submission_date,
                last_submission_date,
                popular_threat_classification
            })),
            "url" => ReportAttributes::Url(common!(UrlAttributes {
                url,
                last_final_url,
                title,
                categories,
                last_http_response_code,
                times_submitted,
                first_submission_date,
                last_submission_date
            })),
            "domain" => ReportAttributes::Domain(common!(DomainAttributes {
                categories,
                creation_date,
                registrar,
                tld,
                whois
            })),
            "ip_address" => ReportAttributes::IpAddress(common!(IpAddressAttributes {
                asn,
                as_owner,
                country,
                continent,
                network,
                regional_internet_registry,
                whois
            })),
            other => return Err(ReportError::UnexpectedType(other.to_owned())),
        })
    }
}

/// `{"data": <object>}` with the object's text left as it is.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    data: &'a RawValue,
}

impl Report {
    /// A report from an API answer's body, `{"data": {...}}`.
    pub fn from_body(body: &[u8]) -> Result<Report, ReportError> {
        let json = std::str::from_utf8(body)
            .map_err(<serde_json::Error as serde::de::Error>::custom)?
            .to_owned();
        Report::from_json(json)
    }

    /// A report from what [`Report::json`] gave, as a cache keeps it; the
    /// bare object (`{"type", "id", "attributes"}`, how caches before the
    /// typed report kept it) is read too.
    pub fn from_cached(json: &str) -> Result<Report, ReportError> {
        match Report::from_json(json.to_owned()) {
            Err(ReportError::Json(_)) if !json.trim_start().starts_with(r#"{"data""#) => {
                Report::from_json(format!(r#"{{"data":{json}}}"#))
            }
            other => other,
        }
    }

    fn from_json(json: String) -> Result<Report, ReportError> {
        let (kind, id, attributes) = match serde_json::from_str::<Body>(&json) {
            Ok(Body { data }) => {
                let attributes = match data.attributes {
                    Some(a) => Some(a.of_type(&data.kind)?),
                    None => None,
                };
                (data.kind, data.id, attributes)
            }
            // A field of the wrong type: read field by field instead.
            Err(e) if e.is_data() => lenient_object(&json)?,
            Err(e) => return Err(e.into()),
        };
        Ok(Report {
            kind,
            id,
            attributes,
            json,
        })
    }

    /// The answer as VirusTotal sent it, `{"data": {...}}`.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The object alone (the answer's `data`), as VirusTotal sent it.
    pub fn object_json(&self) -> Box<RawValue> {
        match serde_json::from_str::<Envelope<'_>>(&self.json) {
            Ok(envelope) => envelope.data.to_owned(),
            // Unreachable: the text parsed as an envelope when it was read.
            Err(_) => RawValue::NULL.to_owned(),
        }
    }

    /// The attributes of a file report.
    pub fn file(&self) -> Option<&FileAttributes> {
        match &self.attributes {
            Some(ReportAttributes::File(a)) => Some(a),
            _ => None,
        }
    }
}

/// The object of a body whose typed read failed, read field by field.
fn lenient_object(json: &str) -> Result<(String, String, Option<ReportAttributes>), ReportError> {
    let body: Value = serde_json::from_str(json)?;
    let data = body
        .get("data")
        .ok_or_else(|| <serde_json::Error as serde::de::Error>::custom("the answer has no data"))?;
    let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(kind), Some(id)) = (text("type"), text("id")) else {
        return Err(<serde_json::Error as serde::de::Error>::custom(
            "the object has no type or id",
        )
        .into());
    };
    let attributes = match data.get("attributes") {
        Some(Value::Object(map)) => Some(match kind.as_str() {
            "file" => ReportAttributes::File(Lenient::lenient(map.clone())),
            "url" => ReportAttributes::Url(Lenient::lenient(map.clone())),
            "domain" => ReportAttributes::Domain(Lenient::lenient(map.clone())),
            "ip_address" => ReportAttributes::IpAddress(Lenient::lenient(map.clone())),
            other => return Err(ReportError::UnexpectedType(other.to_owned())),
        }),
        _ => None,
    };
    Ok((kind, id, attributes))
}

/// Serialises as the object VirusTotal sent (the answer's `data`), unchanged.
impl serde::Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<Envelope<'_>>(&self.json) {
            Ok(envelope) => envelope.data.serialize(serializer),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}

/// Equal when VirusTotal sent the same JSON.
impl PartialEq for Report {
    fn eq(&self, other: &Report) -> bool {
        self.json == other.json
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

/// Attribute structs read field by field, for an answer whose typed read
/// failed: a malformed field costs that field, not the report.
pub(crate) trait Lenient: Sized {
    fn lenient(map: JsonMap) -> Self;
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
        let report = Report::from_body(FILE.as_bytes()).expect("report");
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
        assert_eq!(report.json(), FILE);
        assert!(report
            .object_json()
            .get()
            .starts_with(r#"{"type":"file","id":"275a""#));
        let again = Report::from_cached(report.json()).expect("cached form");
        assert_eq!(again, report);
        assert_eq!(again.file(), report.file());
        let old_cache = Report::from_cached(report.object_json().get()).expect("object form");
        assert_eq!(old_cache.file(), report.file());
        assert_eq!(
            serde_json::to_string(&report).expect("serialises"),
            report.object_json().get()
        );
    }

    #[test]
    fn a_malformed_field_costs_that_field_not_the_report() {
        let raw = r#"{"type":"domain","id":"a.test","attributes":{"reputation":"bad",
            "last_analysis_stats":{"malicious":"many","harmless":10},"tags":["x"],
            "last_analysis_results":{"A":{"category":"harmless","engine_name":"A"},"B":7}}}"#;
        let report = Report::from_cached(raw).expect("lenient");
        assert_eq!(report.reputation(), None);
        let stats = report.last_analysis_stats().expect("stats");
        assert_eq!((stats.malicious, stats.harmless), (0, 10));
        assert_eq!(report.last_analysis_results().len(), 1);
        assert_eq!(report.tags(), ["x".to_owned()]);
    }

    #[test]
    fn objects_without_attributes_or_of_other_types() {
        let bare = Report::from_cached(r#"{"type":"url","id":"u"}"#).expect("bare");
        assert!(!bare.has_attributes());
        assert!(bare.last_analysis_stats().is_none());
        let comment = Report::from_cached(r#"{"type":"comment","id":"c","attributes":{}}"#);
        assert!(matches!(comment, Err(ReportError::UnexpectedType(t)) if t == "comment"));
    }
}

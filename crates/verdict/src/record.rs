//! The record: one enrichment result, the same in every output.

use crate::{Assessment, Detection, Verdict};
use ioc::{Indicator, IndicatorKind};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use vt_model::{Analysed, Report};

/// One enrichment result, as design.md's "Records" section shows it; the
/// field order here is the JSON key order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Record {
    /// The normalised indicator; empty when the input did not parse.
    pub indicator: String,
    /// The line as given.
    pub input: String,
    /// `null` when the input is not an indicator of any kind.
    #[serde(rename = "type")]
    #[schemars(with = "Option<KindName>")]
    pub kind: Option<IndicatorKind>,
    /// The VirusTotal object id; `null` when VirusTotal has no such object
    /// or the lookup failed.
    pub id: Option<String>,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub malicious: u32,
    pub suspicious: u32,
    pub total: u32,
    /// The engines that flagged it (malicious first, then suspicious), at
    /// most [`MAX_DETECTIONS`]; left out when none did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detections: Vec<EngineDetection>,
    /// RFC 3339 in UTC, e.g. `2026-11-20T10:00:00Z`.
    pub last_analysis_date: Option<String>,
    pub stale: bool,
    /// The answer came from the local cache, not from VirusTotal.
    pub cached: bool,
    /// The object in VirusTotal's web interface.
    pub link: Option<String>,
    /// Set when the item failed for good; the record still has its row.
    pub error: Option<RecordError>,
    // What the report says beyond the verdict, for feeds and policies,
    // read from the typed report once so that nobody parses its JSON
    // again. Each is left out of the JSON when VirusTotal did not say it,
    // so records without them read as before.
    /// Community score: positive is trusted, negative distrusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reputation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Files only, like the fields after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// VirusTotal's file type tag, e.g. `peexe`, `pdf`, `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meaningful_name: Option<String>,
    /// RFC 3339 in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_submission_date: Option<String>,
    /// `popular_threat_classification.suggested_threat_label`, e.g.
    /// `trojan.emotet/zusy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub popular_threat_label: Option<String>,
    /// The full VirusTotal object, with `--full`, exactly as it came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<FullObject>,
}

/// A VirusTotal object's JSON as it came: written out as it is, never
/// parsed again.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct FullObject(
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")] pub Box<RawValue>,
);

/// [`IndicatorKind`] as the JSON says it (the schema of `type`; `ioc`
/// stays free of schema code).
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum KindName {
    File,
    Url,
    Domain,
    Ip,
}

impl FullObject {
    /// The object of a report.
    pub fn of(report: &Report) -> FullObject {
        FullObject(report.object_json())
    }
}

/// Equal when the JSON text is.
impl PartialEq for FullObject {
    fn eq(&self, other: &FullObject) -> bool {
        self.0.get() == other.0.get()
    }
}

/// Most engines a record names: enough to triage, and a bound on what one
/// hostile report can add to every output.
pub const MAX_DETECTIONS: usize = 10;

/// Longest engine name, category or label kept, in characters: these
/// strings come from VirusTotal's engines, i.e. from whoever named the malware.
pub const MAX_DETECTION_CHARS: usize = 80;

/// One engine that flagged the object, and what it called it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EngineDetection {
    pub engine: String,
    /// `malicious` or `suspicious`.
    pub category: String,
    /// The engine's label (`Trojan.Win32.X`), or the category when it gave none.
    pub result: String,
}

impl EngineDetection {
    /// The engines of a report's `last_analysis_results` (or an analysis'
    /// `results`) that flagged it: malicious before suspicious, by engine
    /// name within each, at most [`MAX_DETECTIONS`], every string bounded
    /// and on one line.
    pub fn top(results: &BTreeMap<String, vt_model::EngineResult>) -> Vec<EngineDetection> {
        let mut flagged: Vec<(u8, EngineDetection)> = results
            .iter()
            .filter_map(|(key, r)| {
                let rank = match r.category.as_str() {
                    "malicious" => 0,
                    "suspicious" => 1,
                    _ => return None,
                };
                let engine = if r.engine_name.trim().is_empty() {
                    key
                } else {
                    &r.engine_name
                };
                let result = r
                    .result
                    .as_deref()
                    .filter(|l| !l.trim().is_empty())
                    .unwrap_or(&r.category);
                Some((
                    rank,
                    EngineDetection {
                        engine: one_line_bounded(engine),
                        category: one_line_bounded(&r.category),
                        result: one_line_bounded(result),
                    },
                ))
            })
            .collect();
        flagged.sort_by(|a, b| (a.0, &a.1.engine).cmp(&(b.0, &b.1.engine)));
        flagged
            .into_iter()
            .take(MAX_DETECTIONS)
            .map(|(_, d)| d)
            .collect()
    }
}

/// At most [`MAX_DETECTION_CHARS`] characters (the cut marked `…`), control
/// characters turned into spaces.
fn one_line_bounded(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(MAX_DETECTION_CHARS + 1)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if out.chars().count() > MAX_DETECTION_CHARS {
        out = out.chars().take(MAX_DETECTION_CHARS - 1).collect();
        out.push('…');
    }
    out
}

/// Why an item has no verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecordError {
    /// An API error code (`NotFoundError`, `QuotaExceededError`, …) or a
    /// vtc one (`InvalidIndicator`).
    pub code: String,
    pub message: String,
}

impl Record {
    /// The record of a lookup that got an answer: a report (`id` set) or
    /// NotFound ([`Assessment::unknown`], `id` `None`).
    pub fn from_assessment(
        indicator: &Indicator,
        input: &str,
        id: Option<String>,
        assessment: &Assessment,
        cached: bool,
    ) -> Record {
        Record {
            indicator: indicator.to_string(),
            input: input.to_owned(),
            kind: Some(indicator.kind()),
            id,
            verdict: assessment.verdict,
            reasons: assessment.reasons.clone(),
            malicious: assessment.detection.malicious,
            suspicious: assessment.detection.suspicious,
            total: assessment.detection.total,
            detections: Vec::new(),
            last_analysis_date: assessment.last_analysis_date.and_then(rfc3339_utc),
            stale: assessment.stale,
            cached,
            link: Some(indicator.gui_link()),
            error: None,
            reputation: None,
            tags: Vec::new(),
            md5: None,
            sha1: None,
            sha256: None,
            size: None,
            type_tag: None,
            meaningful_name: None,
            first_submission_date: None,
            popular_threat_label: None,
            full: None,
        }
    }

    /// The record of a report and its assessment: the object's id and the
    /// report's reputation, tags and (for files) hashes, size, type, name,
    /// first submission and threat label besides what
    /// [`Record::from_assessment`] fills in.
    pub fn from_report(
        indicator: &Indicator,
        input: &str,
        report: &Report,
        assessment: &Assessment,
        cached: bool,
    ) -> Record {
        let mut record = Record::from_assessment(
            indicator,
            input,
            Some(report.id.clone()),
            assessment,
            cached,
        );
        record.detections = EngineDetection::top(report.last_analysis_results());
        record.reputation = report.reputation();
        record.tags = report.tags().to_vec();
        if let Some(file) = report.file() {
            record.md5 = file.md5.clone();
            record.sha1 = file.sha1.clone();
            record.sha256 = file.sha256.clone();
            record.size = file.size;
            record.type_tag = file.type_tag.clone();
            record.meaningful_name = file.meaningful_name.clone();
            record.first_submission_date = file
                .first_submission_date
                .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
                .and_then(rfc3339_utc);
            record.popular_threat_label = file
                .popular_threat_classification
                .as_ref()
                .and_then(|p| p.suggested_threat_label.clone());
        }
        record
    }

    /// Malicious and suspicious engines out of the engines that gave a
    /// verdict: the ratio every table and report shows.
    pub fn detection(&self) -> Detection {
        Detection {
            malicious: self.malicious,
            suspicious: self.suspicious,
            total: self.total,
        }
    }

    /// The record of an item that failed for good: unparseable input (`kind`
    /// `None`) or a lookup error. Its verdict is `Unknown`; add the parsed
    /// indicator with [`Record::with_indicator`] when there is one.
    pub fn failed(input: &str, kind: Option<IndicatorKind>, code: &str, message: &str) -> Record {
        Record {
            indicator: String::new(),
            input: input.to_owned(),
            kind,
            id: None,
            verdict: Verdict::Unknown,
            reasons: Vec::new(),
            malicious: 0,
            suspicious: 0,
            total: 0,
            detections: Vec::new(),
            last_analysis_date: None,
            stale: false,
            cached: false,
            link: None,
            error: Some(RecordError {
                code: code.to_owned(),
                message: message.to_owned(),
            }),
            reputation: None,
            tags: Vec::new(),
            md5: None,
            sha1: None,
            sha256: None,
            size: None,
            type_tag: None,
            meaningful_name: None,
            first_submission_date: None,
            popular_threat_label: None,
            full: None,
        }
    }

    /// Names the engines that flagged it, from the report's per-engine results.
    pub fn with_detections(mut self, results: &BTreeMap<String, vt_model::EngineResult>) -> Record {
        self.detections = EngineDetection::top(results);
        self
    }

    /// Fills in the normalised indicator, its kind and its link.
    pub fn with_indicator(mut self, indicator: &Indicator) -> Record {
        self.indicator = indicator.to_string();
        self.kind = Some(indicator.kind());
        self.link = Some(indicator.gui_link());
        self
    }

    /// The last analysis date back as a time, if it parses.
    pub fn last_analysis_time(&self) -> Option<OffsetDateTime> {
        let s = self.last_analysis_date.as_deref()?;
        OffsetDateTime::parse(s, &Rfc3339).ok()
    }
}

/// `2026-11-20T10:00:00Z`; `None` for a date RFC 3339 cannot hold (years
/// before 0 or after 9999 — a corrupt report, not a real analysis).
fn rfc3339_utc(t: OffsetDateTime) -> Option<String> {
    t.to_offset(UtcOffset::UTC).format(&Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const KEYS_IN_ORDER: [&str; 15] = [
        "indicator",
        "input",
        "type",
        "id",
        "verdict",
        "reasons",
        "malicious",
        "suspicious",
        "total",
        "last_analysis_date",
        "stale",
        "cached",
        "link",
        "error",
        "full",
    ];

    fn bad_assessment() -> Assessment {
        Assessment {
            verdict: Verdict::Bad,
            reasons: vec!["12 of 70 engines flagged it malicious (>= 5)".to_owned()],
            detection: Detection {
                malicious: 12,
                suspicious: 1,
                total: 70,
            },
            last_analysis_date: Some(datetime!(2026-11-20 11:00 +01:00)),
            stale: false,
        }
    }

    #[test]
    fn record_json_keeps_design_field_order() {
        let ind = Indicator::parse("hxxp://evil[.]test/x").expect("url");
        let mut record = Record::from_assessment(
            &ind,
            "hxxp://evil[.]test/x",
            Some(ind.vt_id()),
            &bad_assessment(),
            true,
        );
        let json = serde_json::to_string(&record).expect("serialises");
        let positions: Vec<usize> = KEYS_IN_ORDER[..14]
            .iter()
            .map(|k| {
                json.find(&format!("\"{k}\":"))
                    .unwrap_or_else(|| panic!("{k} missing in {json}"))
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
        assert!(
            !json.contains("\"full\""),
            "full is left out unless set: {json}"
        );

        record.full = Some(FullObject(
            RawValue::from_string(r#"{"type":"url"}"#.to_owned()).expect("json"),
        ));
        let json = serde_json::to_string(&record).expect("serialises");
        assert!(
            json.ends_with(r#""error":null,"full":{"type":"url"}}"#),
            "{json}"
        );
    }

    #[test]
    fn record_from_assessment_fills_every_field() {
        let ind = Indicator::parse("44D88612FEA8A8F36DE82E1278ABB02F").expect("md5");
        let record = Record::from_assessment(
            &ind,
            "44D88612FEA8A8F36DE82E1278ABB02F",
            Some("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f".into()),
            &bad_assessment(),
            false,
        );
        let v = serde_json::to_value(&record).expect("serialises");
        assert_eq!(v["indicator"], "44d88612fea8a8f36de82e1278abb02f");
        assert_eq!(v["input"], "44D88612FEA8A8F36DE82E1278ABB02F");
        assert_eq!(v["type"], "file");
        assert_eq!(v["verdict"], "bad");
        assert_eq!(v["malicious"], 12);
        assert_eq!(v["suspicious"], 1);
        assert_eq!(v["total"], 70);
        assert_eq!(v["last_analysis_date"], "2026-11-20T10:00:00Z");
        assert_eq!(v["stale"], false);
        assert_eq!(v["cached"], false);
        assert_eq!(
            v["link"],
            "https://www.virustotal.com/gui/file/44d88612fea8a8f36de82e1278abb02f"
        );
        assert!(v["error"].is_null());
        assert_eq!(
            record.last_analysis_time(),
            Some(datetime!(2026-11-20 10:00 UTC))
        );
    }

    #[test]
    fn a_file_record_carries_what_feeds_need_and_full_is_the_json_as_sent() {
        let raw = r#"{"type":"file","id":"275a","attributes":{"md5":"44d8","sha1":"3395",
            "sha256":"275a","size":68,"type_tag":"text","meaningful_name":"eicar.com",
            "first_submission_date":1148301722,"reputation":3500,"tags":["text"],
            "popular_threat_classification":{"suggested_threat_label":"virus.eicar/test"},
            "last_analysis_stats":{"malicious":62,"undetected":6,"type-unsupported":2}}}"#;
        let report = Report::from_cached(raw).expect("report");
        let ind = Indicator::parse("44D88612FEA8A8F36DE82E1278ABB02F").expect("md5");
        let mut record = Record::from_report(&ind, "44D8…", &report, &bad_assessment(), false);
        record.full = Some(FullObject::of(&report));
        let v = serde_json::to_value(&record).expect("serialises");
        assert_eq!(v["id"], "275a");
        assert_eq!(
            (v["md5"].as_str(), v["sha1"].as_str()),
            (Some("44d8"), Some("3395"))
        );
        assert_eq!(v["sha256"], "275a");
        assert_eq!(v["size"], 68);
        assert_eq!(v["type_tag"], "text");
        assert_eq!(v["meaningful_name"], "eicar.com");
        assert_eq!(v["first_submission_date"], "2006-05-22T12:42:02Z");
        assert_eq!(v["popular_threat_label"], "virus.eicar/test");
        assert_eq!(v["reputation"], 3500);
        assert_eq!(v["tags"], serde_json::json!(["text"]));
        assert_eq!(v["full"]["attributes"]["size"], 68);
        let json = serde_json::to_string(&record).expect("serialises");
        assert!(json.ends_with(&format!(r#","full":{raw}}}"#)), "{json}");
        let back: Record = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, record);
    }

    #[test]
    fn records_without_report_facts_keep_the_old_keys_only() {
        let ind = Indicator::parse("example.com").expect("domain");
        let record =
            Record::from_assessment(&ind, "example.com", None, &Assessment::unknown(), false);
        let v = serde_json::to_value(&record).expect("serialises");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, KEYS_IN_ORDER[..14].to_vec());
    }

    #[test]
    fn failed_record_keeps_its_row_and_round_trips() {
        let unparsed = Record::failed("not an ioc", None, "InvalidIndicator", "not a hash");
        let v = serde_json::to_value(&unparsed).expect("serialises");
        assert!(v["type"].is_null());
        assert_eq!(v["verdict"], "unknown");
        assert_eq!(v["error"]["code"], "InvalidIndicator");
        assert_eq!(v["error"]["message"], "not a hash");
        let back: Record = serde_json::from_value(v).expect("deserialises");
        assert_eq!(back, unparsed);

        let ind = Indicator::parse("8.8.8.8").expect("ip");
        let failed = Record::failed("8.8.8.8", Some(ind.kind()), "QuotaExceededError", "quota")
            .with_indicator(&ind);
        assert_eq!(failed.indicator, "8.8.8.8");
        assert_eq!(failed.kind, Some(IndicatorKind::Ip));
        assert_eq!(
            failed.link.as_deref(),
            Some("https://www.virustotal.com/gui/ip-address/8.8.8.8")
        );
        assert!(failed.error.is_some());
    }

    #[test]
    fn not_found_record_is_unknown_without_id() {
        let ind = Indicator::parse("unknown-domain.test").expect("domain");
        let record = Record::from_assessment(
            &ind,
            "unknown-domain.test",
            None,
            &Assessment::unknown(),
            true,
        );
        assert_eq!(record.verdict, Verdict::Unknown);
        assert_eq!(record.id, None);
        assert_eq!(record.reasons, vec!["not found in VirusTotal".to_owned()]);
        assert_eq!(record.last_analysis_date, None);
        assert!(record.cached);
    }

    fn engine(name: &str, category: &str, result: Option<&str>) -> vt_model::EngineResult {
        vt_model::EngineResult {
            category: category.to_owned(),
            engine_name: name.to_owned(),
            engine_version: None,
            engine_update: None,
            method: None,
            result: result.map(str::to_owned),
        }
    }

    #[test]
    fn detections_name_malicious_engines_first_bounded_and_omitted_when_none() {
        let mut results = BTreeMap::new();
        results.insert("Zeta".into(), engine("Zeta", "suspicious", None));
        results.insert("Beta".into(), engine("Beta", "undetected", None));
        results.insert(
            "Alpha".into(),
            engine("Alpha", "malicious", Some("Trojan.X")),
        );
        let hostile = format!("Evil\n\x1b[31m{}", "A".repeat(5_000));
        results.insert("Mu".into(), engine("Mu", "malicious", Some(&hostile)));
        for i in 0..20 {
            results.insert(
                format!("S{i:02}"),
                engine(&format!("S{i:02}"), "suspicious", Some("")),
            );
        }
        let ind = Indicator::parse("8.8.8.8").expect("ip");
        let record = Record::from_assessment(&ind, "8.8.8.8", None, &bad_assessment(), false)
            .with_detections(&results);
        assert_eq!(record.detections.len(), MAX_DETECTIONS);
        let first = &record.detections[0];
        assert_eq!(
            (
                first.engine.as_str(),
                first.category.as_str(),
                first.result.as_str()
            ),
            ("Alpha", "malicious", "Trojan.X")
        );
        let second = &record.detections[1];
        assert_eq!(second.engine, "Mu");
        assert_eq!(second.result.chars().count(), MAX_DETECTION_CHARS);
        assert!(
            !second.result.chars().any(char::is_control),
            "{:?}",
            second.result
        );
        assert!(record.detections[2..]
            .iter()
            .all(|d| d.category == "suspicious"));
        // An engine without a label is shown with its category.
        assert_eq!(record.detections[2].result, "suspicious");
        assert!(!record.detections.iter().any(|d| d.engine == "Beta"));
        let json = serde_json::to_value(&record).expect("serialises");
        assert_eq!(json["detections"][0]["engine"], "Alpha");

        let clean = Record::from_assessment(&ind, "8.8.8.8", None, &bad_assessment(), false)
            .with_detections(&BTreeMap::new());
        let json = serde_json::to_string(&clean).expect("serialises");
        assert!(!json.contains("detections"), "{json}");
    }
}

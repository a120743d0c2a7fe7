//! What a successful job answers, in Cortex's shape: `summary.taxonomies`
//! (`level`, `namespace` "VT", `predicate`, `value`), `artifacts` (the
//! observables found in the report, with their data types), `operations`
//! and `full` (the report itself).
//!
//! Pure functions of the objects the flavours fetched: no I/O here.

use crate::input::{Config, Flavour};
use actions::ObjectOutput;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The taxonomy namespace of every vtc analyzer, as the originals use.
pub const NAMESPACE: &str = "VT";
/// Most artifacts one report lists.
const MAX_ARTIFACTS: usize = 500;
/// Longest artifact value taken (a URL, a rule name).
const MAX_ARTIFACT_LEN: usize = 8 * 1024;

/// Cortex's four levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Safe,
    Suspicious,
    Malicious,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taxonomy {
    pub level: Level,
    pub namespace: &'static str,
    pub predicate: String,
    pub value: String,
}

impl Taxonomy {
    fn new(level: Level, predicate: &str, value: String) -> Taxonomy {
        Taxonomy {
            level,
            namespace: NAMESPACE,
            predicate: predicate.to_owned(),
            value,
        }
    }
}

/// One extracted observable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    #[serde(rename = "dataType")]
    pub data_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// A file artifact: its name under `JOBDIR/output/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Artifact {
    pub fn observable(data_type: &str, data: &str, tags: Vec<String>) -> Artifact {
        Artifact {
            data_type: data_type.to_owned(),
            data: Some(data.to_owned()),
            file: None,
            filename: None,
            tags,
        }
    }

    pub fn file(file: &str, filename: &str, tags: Vec<String>) -> Artifact {
        Artifact {
            data_type: "file".into(),
            data: None,
            file: Some(file.to_owned()),
            filename: Some(filename.to_owned()),
            tags,
        }
    }
}

/// What the flavour fetched.
pub struct Findings<'a> {
    pub flavour: Flavour,
    pub config: &'a Config,
    /// The observable as given (left out of the artifacts).
    pub observable: &'a str,
    /// The object's report (with its embedded relationships), if fetched.
    pub object: Option<&'a ObjectOutput>,
    /// The completed analysis of a scan or rescan.
    pub analysis: Option<&'a ObjectOutput>,
    /// A downloaded sample: its artifact and its description for `full`.
    pub sample: Option<(Artifact, Value)>,
    /// Why an optional step (a download) did not happen.
    pub notes: Vec<String>,
}

/// The whole success document.
pub fn success(findings: Findings<'_>) -> Value {
    let taxonomies = taxonomies(&findings);
    let mut artifacts = artifacts(&findings);
    if let Some((artifact, _)) = &findings.sample {
        artifacts.insert(0, artifact.clone());
    }
    json!({
        "success": true,
        "summary": {"taxonomies": taxonomies},
        "artifacts": artifacts,
        "operations": [],
        "full": full(&findings),
    })
}

/// Stats and per-engine results the main verdict reads: the analysis'
/// (scan, rescan) or else the report's last analysis.
fn verdict_source<'a>(f: &Findings<'a>) -> Option<(&'a ObjectOutput, &'a str, &'a str)> {
    if let Some(analysis) = f.analysis {
        return Some((analysis, "stats", "results"));
    }
    f.object
        .map(|o| (o, "last_analysis_stats", "last_analysis_results"))
}

fn attribute<'a>(object: &'a ObjectOutput, name: &str) -> Option<&'a Value> {
    object.attributes.as_ref().and_then(|a| a.get(name))
}

/// The main taxonomy, the relationship counts, and one per highlighted
/// engine that did not detect the observable.
pub fn taxonomies(f: &Findings<'_>) -> Vec<Taxonomy> {
    let mut out = Vec::new();
    if f.flavour == Flavour::DownloadSample {
        return out;
    }
    let predicate = f.flavour.predicate();
    let source = verdict_source(f);
    if let Some(detection) = source.and_then(|(o, _, _)| o.detection.as_ref()) {
        let level = if detection.malicious > 0 {
            Level::Malicious
        } else if detection.suspicious > 0 {
            Level::Suspicious
        } else if detection.total == 0 {
            Level::Info
        } else {
            Level::Safe
        };
        out.push(Taxonomy::new(level, predicate, detection.ratio.clone()));
    }
    if let Some(object) = f.object {
        for (relationship, noun) in [
            ("contacted_domains", "contacted domain(s)"),
            ("resolutions", "resolution(s)"),
            ("downloaded_files", "downloaded file(s)"),
        ] {
            if let Some(count) = relationship_count(object, relationship) {
                let level = match count {
                    0 => Level::Safe,
                    1..=4 => Level::Suspicious,
                    _ => Level::Malicious,
                };
                out.push(Taxonomy::new(level, predicate, format!("{count} {noun}")));
            }
        }
    }
    if let Some((object, _, results)) = source {
        let results = attribute(object, results);
        for engine in &f.config.highlighted_antivirus {
            if !detected_by(results, engine) {
                out.push(Taxonomy::new(Level::Info, engine, "Not detected!".into()));
            }
        }
    }
    out
}

/// Whether `engine` flagged the object (malicious or suspicious) in a
/// `last_analysis_results` / `results` map.
pub(crate) fn detected_by(results: Option<&Value>, engine: &str) -> bool {
    let category = results
        .and_then(|r| r.get(engine))
        .and_then(|r| r.get("category"))
        .and_then(Value::as_str);
    matches!(category, Some("malicious" | "suspicious"))
}

/// `meta.count` of an embedded relationship (the whole count, not the
/// page); a one-to-one relationship counts 0 or 1.
fn relationship_count(object: &ObjectOutput, name: &str) -> Option<u64> {
    let relationship = object.relationships.as_ref()?.get(name)?;
    if let Some(count) = relationship.pointer("/meta/count").and_then(Value::as_u64) {
        return Some(count);
    }
    match relationship.get("data")? {
        Value::Array(items) => Some(items.len() as u64),
        Value::Null => Some(0),
        _ => Some(1),
    }
}

/// The descriptors of an embedded relationship.
fn descriptors<'a>(object: &'a ObjectOutput, name: &str) -> Vec<&'a Value> {
    let Some(data) = object
        .relationships
        .as_ref()
        .and_then(|r| r.get(name))
        .and_then(|r| r.get("data"))
    else {
        return Vec::new();
    };
    match data {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![data],
        _ => Vec::new(),
    }
}

/// Contacted domains, IPs and URLs, resolutions, related files, and the
/// YARA and IDS rule names, each once, without the observable itself.
pub fn artifacts(f: &Findings<'_>) -> Vec<Artifact> {
    let mut out: Vec<Artifact> = Vec::new();
    let mut push = |data_type: &str, data: &str, tags: Vec<String>| {
        let data = data.trim();
        if data.is_empty()
            || data.len() > MAX_ARTIFACT_LEN
            || data.eq_ignore_ascii_case(f.observable.trim())
            || out.len() >= MAX_ARTIFACTS
            || out
                .iter()
                .any(|a| a.data_type == data_type && a.data.as_deref() == Some(data))
        {
            return;
        }
        out.push(Artifact::observable(data_type, data, tags));
    };
    let Some(object) = f.object else {
        return out;
    };
    let id = |d: &Value| d.get("id").and_then(Value::as_str).map(str::to_owned);
    for (relationship, data_type) in [
        ("contacted_domains", "domain"),
        ("contacted_ips", "ip"),
        ("last_serving_ip_address", "ip"),
        ("downloaded_files", "hash"),
        ("referrer_files", "hash"),
    ] {
        for d in descriptors(object, relationship) {
            if let Some(value) = id(d) {
                push(data_type, &value, vec![tag(relationship)]);
            }
        }
    }
    // URLs are named by sha256; the URL itself comes in context_attributes.
    for relationship in ["contacted_urls", "urls", "embedded_urls"] {
        for d in descriptors(object, relationship) {
            if let Some(url) = d.pointer("/context_attributes/url").and_then(Value::as_str) {
                push("url", url, vec![tag(relationship)]);
            }
        }
    }
    // A resolution's id is the IP address followed by the host name.
    for d in descriptors(object, "resolutions") {
        let Some(resolution) = id(d) else { continue };
        match object.kind.as_str() {
            "domain" => {
                if let Some(ip) = resolution.strip_suffix(object.id.as_str()) {
                    push("ip", ip, vec![tag("resolutions")]);
                }
            }
            "ip_address" => {
                if let Some(host) = resolution.strip_prefix(object.id.as_str()) {
                    push("domain", host, vec![tag("resolutions")]);
                }
            }
            _ => {}
        }
    }
    if let Some(Value::Array(rules)) = attribute(object, "crowdsourced_yara_results") {
        for rule in rules {
            let Some(name) = rule.get("rule_name").and_then(Value::as_str) else {
                continue;
            };
            let mut tags = vec!["detection:YARA".to_owned()];
            if let Some(ruleset) = rule.get("ruleset_name").and_then(Value::as_str) {
                tags.push(format!("ruleset:{}", bounded(ruleset)));
            }
            push("other", name, tags);
        }
    }
    if let Some(Value::Array(rules)) = attribute(object, "crowdsourced_ids_results") {
        for rule in rules {
            let Some(message) = rule.get("rule_msg").and_then(Value::as_str) else {
                continue;
            };
            let mut tags = vec!["detection:IDS".to_owned()];
            if let Some(source) = rule.get("rule_source").and_then(Value::as_str) {
                tags.push(format!("rule-src:{}", bounded(source)));
            }
            if let Some(id) = rule.get("rule_id").and_then(Value::as_str) {
                tags.push(format!("rule-id:{}", bounded(id)));
            }
            push("other", message, tags);
        }
    }
    out
}

fn tag(relationship: &str) -> String {
    format!("vt:{relationship}")
}

fn bounded(s: &str) -> String {
    s.chars().take(256).collect()
}

/// `full`: the object and what was found about it, for Cortex's long
/// report template and for people reading the raw JSON.
fn full(f: &Findings<'_>) -> Value {
    let mut full = Map::new();
    full.insert("analyzer".into(), json!(f.flavour.analyzer()));
    if let Some(object) = f.object {
        full.insert("type".into(), json!(object.kind));
        full.insert("id".into(), json!(object.id));
        if let Some(detection) = &object.detection {
            full.insert("detection".into(), json!(detection));
        }
        let attrs = object.attributes.clone().unwrap_or_default();
        // The qualitative summary VirusTotal itself gives.
        let mut verdicts = Map::new();
        for name in [
            "popular_threat_classification",
            "crowdsourced_yara_results",
            "crowdsourced_ids_results",
            "crowdsourced_ids_stats",
            "sandbox_verdicts",
            "sigma_analysis_stats",
            "reputation",
            "total_votes",
            "last_analysis_date",
            "categories",
        ] {
            if let Some(value) = attrs.get(name) {
                verdicts.insert(name.into(), value.clone());
            }
        }
        full.insert("highlights".into(), Value::Object(verdicts));
        let mut relations = Map::new();
        if let Some(Value::Object(embedded)) = &object.relationships {
            for name in embedded.keys() {
                let ids: Vec<Value> = descriptors(object, name)
                    .into_iter()
                    .map(|d| {
                        let mut item = json!({"type": d.get("type"), "id": d.get("id")});
                        if let Some(context) = d.get("context_attributes") {
                            item["context_attributes"] = context.clone();
                        }
                        item
                    })
                    .collect();
                let count = relationship_count(object, name).unwrap_or(0);
                relations.insert(name.clone(), json!({"count": count, "items": ids}));
            }
        }
        full.insert("relations".into(), Value::Object(relations));
        full.insert("attributes".into(), Value::Object(attrs));
        if let Some(links) = &object.links {
            full.insert("links".into(), Value::Object(links.clone()));
        }
    }
    if let Some(analysis) = f.analysis {
        full.insert("analysis".into(), json!(analysis));
    }
    if let Some((_, sample)) = &f.sample {
        full.insert("sample".into(), sample.clone());
    }
    if !f.notes.is_empty() {
        full.insert("notes".into(), json!(f.notes));
    }
    Value::Object(full)
}

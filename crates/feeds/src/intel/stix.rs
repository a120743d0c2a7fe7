//! A STIX 2.1 bundle: for each entry, the observable (a `file`,
//! `url`, `domain-name`, `ipv4-addr` or `ipv6-addr` object), an
//! `indicator` with its STIX pattern, and one `malware-analysis` that
//! summarises VirusTotal's engines (the verdict as `result`, the threat
//! label or top engine label as `result_name`), tied by a `derived-from`
//! relationship (the indicator was derived from the analysis). An entry
//! with a threat label also gets the `malware` it names (one per label,
//! shared), which its indicator `indicates` and its analysis is an
//! `analysis-of`.
//!
//! One summarised analysis per entry rather than one per engine: a record
//! keeps at most ten engines' labels, and seventy near-identical objects
//! per hash would drown the indicator in every platform that imports it.
//!
//! Ids: observables use STIX's own UUIDv5 rule (namespace
//! `00abedb4-aa42-466c-9c01-fed23315a9b7` over the canonical JSON of the
//! id-contributing properties); every other object is a UUIDv5 of its kind
//! and the indicator in vtc's namespace, so a re-export of the same
//! entries gives the same ids (a changed analysis is a new `modified` of
//! the same object, as STIX versions objects).

use super::{bounded, utc_millis, uuid5, FeedConfig, FeedEntry, VTC_NAMESPACE};
use ioc::{FileHash, IndicatorKind};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use verdict::Verdict;

/// STIX 2.1's namespace for observables' ids (section 2.9).
const SCO_NAMESPACE: [u8; 16] = [
    0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7,
];

/// When vtc's identity object was first written: fixed, so it never changes.
const IDENTITY_CREATED: &str = "2026-01-01T00:00:00.000Z";

/// The bundle of `entries`.
pub fn bundle(config: &FeedConfig, entries: &[&FeedEntry]) -> Value {
    let identity_id = format!(
        "identity--{}",
        uuid5(&VTC_NAMESPACE, &format!("identity:{}", config.name))
    );
    let mut objects = vec![json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": identity_id,
        "created": IDENTITY_CREATED,
        "modified": IDENTITY_CREATED,
        "name": config.display_name,
        "identity_class": "system",
        "description": config.summary,
    })];
    // Malware by label, created at the earliest analysis that names it.
    let mut malware: BTreeMap<String, (String, OffsetDateTime)> = BTreeMap::new();
    let mut relationships = Vec::new();
    for entry in entries {
        let Some(observed) = observable(entry) else {
            continue;
        };
        let record = &entry.record;
        let identity = entry.identity();
        let dated = utc_millis(entry.dated());
        let indicator_id = format!(
            "indicator--{}",
            uuid5(&VTC_NAMESPACE, &format!("indicator:{identity}"))
        );
        let analysis_id = format!(
            "malware-analysis--{}",
            uuid5(&VTC_NAMESPACE, &format!("malware-analysis:{identity}"))
        );
        let detection = record.detection();
        let label = record
            .popular_threat_label
            .as_deref()
            .map(|l| bounded(l, 120))
            .filter(|l| !l.trim().is_empty());
        let what = match record.kind {
            Some(IndicatorKind::File) => "file",
            Some(IndicatorKind::Url) => "URL",
            Some(IndicatorKind::Domain) => "domain",
            Some(IndicatorKind::Ip) | None => "IP address",
        };
        let mut description = format!(
            "VirusTotal: {detection} engines flag this {what} malicious ({} suspicious); verdict {}",
            detection.suspicious,
            record.verdict.as_str()
        );
        if let Some(label) = &label {
            description.push_str(&format!("; threat label {label}"));
        }
        let mut external = json!([{"source_name": "VirusTotal"}]);
        if let Some(link) = &record.link {
            external[0]["url"] = json!(link);
        }
        objects.push(observed.object.clone());
        objects.push(json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": indicator_id,
            "created_by_ref": identity_id,
            "created": dated,
            "modified": dated,
            "name": format!("{} {what} {}", verdict_word(record.verdict), bounded(&record.indicator, 200)),
            "description": description,
            "indicator_types": [indicator_type(record.verdict)],
            "pattern": observed.pattern,
            "pattern_type": "stix",
            "pattern_version": "2.1",
            "valid_from": dated,
            "labels": ["virustotal", record.verdict.as_str()],
            "external_references": external,
        }));
        let mut analysis = json!({
            "type": "malware-analysis",
            "spec_version": "2.1",
            "id": analysis_id,
            "created_by_ref": identity_id,
            "created": dated,
            "modified": dated,
            "product": "virustotal",
            "result": analysis_result(record.verdict),
            "analysis_sco_refs": [observed.id],
            "analysis_ended": dated,
        });
        let result_name = label
            .clone()
            .or_else(|| record.detections.first().map(|d| bounded(&d.result, 120)));
        if let Some(name) = result_name {
            analysis["result_name"] = json!(name);
        }
        if record.kind == Some(IndicatorKind::File) {
            analysis["sample_ref"] = json!(observed.id);
        }
        objects.push(analysis);
        relationships.push(relationship(
            &identity_id,
            "derived-from",
            &indicator_id,
            &analysis_id,
            &dated,
        ));
        if let Some(label) = label {
            let malware_id = format!(
                "malware--{}",
                uuid5(&VTC_NAMESPACE, &format!("malware:{label}"))
            );
            let slot = malware
                .entry(label)
                .or_insert_with(|| (malware_id.clone(), entry.dated()));
            slot.1 = slot.1.min(entry.dated());
            relationships.push(relationship(
                &identity_id,
                "indicates",
                &indicator_id,
                &malware_id,
                &dated,
            ));
            relationships.push(relationship(
                &identity_id,
                "analysis-of",
                &analysis_id,
                &malware_id,
                &dated,
            ));
        }
    }
    for (label, (id, first)) in malware {
        let first = utc_millis(first);
        objects.push(json!({
            "type": "malware",
            "spec_version": "2.1",
            "id": id,
            "created_by_ref": identity_id,
            "created": first,
            "modified": first,
            "name": label,
            "is_family": true,
        }));
    }
    objects.extend(relationships);
    let ids: Vec<&str> = objects
        .iter()
        .filter_map(|o| o.get("id").and_then(Value::as_str))
        .collect();
    let bundle_id = format!(
        "bundle--{}",
        uuid5(&VTC_NAMESPACE, &format!("bundle:{}", ids.join(",")))
    );
    json!({"type": "bundle", "id": bundle_id, "objects": objects})
}

fn relationship(identity: &str, kind: &str, source: &str, target: &str, dated: &str) -> Value {
    json!({
        "type": "relationship",
        "spec_version": "2.1",
        "id": format!("relationship--{}", uuid5(&VTC_NAMESPACE, &format!("relationship:{kind}:{source}:{target}"))),
        "created_by_ref": identity,
        "created": dated,
        "modified": dated,
        "relationship_type": kind,
        "source_ref": source,
        "target_ref": target,
    })
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Bad => "Malicious",
        Verdict::Suspect => "Suspicious",
        Verdict::Good => "Benign",
        Verdict::Unknown => "Unknown",
    }
}

/// STIX's indicator-type vocabulary.
fn indicator_type(v: Verdict) -> &'static str {
    match v {
        Verdict::Bad => "malicious-activity",
        Verdict::Suspect => "anomalous-activity",
        Verdict::Good => "benign",
        Verdict::Unknown => "unknown",
    }
}

/// STIX's malware-result vocabulary.
fn analysis_result(v: Verdict) -> &'static str {
    match v {
        Verdict::Bad => "malicious",
        Verdict::Suspect => "suspicious",
        Verdict::Good => "benign",
        Verdict::Unknown => "unknown",
    }
}

struct Observed {
    id: String,
    object: Value,
    pattern: String,
}

/// The observable of an entry and the pattern that matches it.
fn observable(entry: &FeedEntry) -> Option<Observed> {
    let record = &entry.record;
    let value = record.indicator.as_str();
    let (kind, object, pattern, contributing) = match record.kind? {
        IndicatorKind::File => {
            let mut hashes = Map::new();
            let well_formed = |h: &Option<String>, len| {
                h.as_deref()
                    .and_then(FileHash::parse)
                    .map(|h| h.as_str().to_owned())
                    .filter(|h| h.len() == len)
            };
            let given = FileHash::parse(value).map(|h| h.as_str().to_owned());
            let by_len = |len| given.clone().filter(|h| h.len() == len);
            for (name, hash) in [
                ("MD5", well_formed(&record.md5, 32).or_else(|| by_len(32))),
                (
                    "SHA-1",
                    well_formed(&record.sha1, 40).or_else(|| by_len(40)),
                ),
                (
                    "SHA-256",
                    well_formed(&record.sha256, 64).or_else(|| by_len(64)),
                ),
            ] {
                if let Some(hash) = hash {
                    hashes.insert(name.to_owned(), Value::String(hash));
                }
            }
            if hashes.is_empty() {
                return None;
            }
            let pattern = hashes
                .iter()
                .map(|(name, hash)| {
                    format!(
                        "file:hashes.'{name}' = '{}'",
                        hash.as_str().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(" OR ");
            let mut object = json!({"hashes": hashes});
            if let Some(size) = record.size {
                object["size"] = json!(size);
            }
            // STIX ids a file by one hash (MD5 first, as its reference
            // library picks) and its name.
            let one = ["MD5", "SHA-1", "SHA-256"]
                .into_iter()
                .find_map(|n| hashes.get(n).map(|h| (n, h.clone())))?;
            let mut contributing = Map::new();
            contributing.insert("hashes".into(), json!({one.0: one.1}));
            if let Some(name) = record.meaningful_name.as_deref().filter(|n| !n.is_empty()) {
                let name = bounded(name, 255);
                object["name"] = json!(name);
                contributing.insert("name".into(), json!(name));
            }
            (
                "file",
                object,
                format!("[{pattern}]"),
                Value::Object(contributing),
            )
        }
        IndicatorKind::Url => (
            "url",
            json!({"value": value}),
            format!("[url:value = '{}']", pattern_literal(value)),
            json!({"value": value}),
        ),
        IndicatorKind::Domain => (
            "domain-name",
            json!({"value": value}),
            format!("[domain-name:value = '{}']", pattern_literal(value)),
            json!({"value": value}),
        ),
        IndicatorKind::Ip => {
            let kind = if value.contains(':') {
                "ipv6-addr"
            } else {
                "ipv4-addr"
            };
            (
                kind,
                json!({"value": value}),
                format!("[{kind}:value = '{}']", pattern_literal(value)),
                json!({"value": value}),
            )
        }
    };
    // Built with its keys in sorted order (serde_json keeps insertion
    // order here) and nothing to escape but what JSON escapes: the
    // canonical form (RFC 8785) STIX hashes.
    let id = format!(
        "{kind}--{}",
        uuid5(&SCO_NAMESPACE, &contributing.to_string())
    );
    let mut object = object;
    object["type"] = json!(kind);
    object["spec_version"] = json!("2.1");
    object["id"] = json!(id);
    Some(Observed {
        id,
        object,
        pattern,
    })
}

/// A string literal inside a STIX pattern: `\` and `'` escaped.
fn pattern_literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_literals_escape_quotes_and_backslashes() {
        assert_eq!(
            pattern_literal(r"http://x.test/a'b\c"),
            r"http://x.test/a\'b\\c"
        );
    }

    #[test]
    fn observable_ids_follow_stix_own_rule() {
        // Python: uuid.uuid5(UUID("00abedb4-aa42-466c-9c01-fed23315a9b7"),
        //                    '{"value":"https://example.com/"}')
        let id = uuid5(&SCO_NAMESPACE, r#"{"value":"https://example.com/"}"#);
        assert_eq!(id, "be22e93a-5e33-5678-b19f-8b4ea06df0bd");
    }
}

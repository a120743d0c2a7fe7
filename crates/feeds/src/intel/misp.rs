//! A MISP event: one object per entry (a `file` object with the hashes,
//! size and name; a `url` object; a `domain-ip` object for a domain or an
//! address), each attribute tagged with the verdict and, when VirusTotal
//! gives one, the threat label; plus one `link` attribute per entry to its
//! VirusTotal report (category External analysis, not for IDS).
//!
//! Tags: `vtc:verdict="bad"` (or `suspect`, …) and
//! `vtc:threat-label="trojan.emotet/zusy"` on the attributes, and
//! `vtc:feed="NAME"` on the event. Uuids are UUIDv5 of the feed name and
//! the indicator, so an event re-imported replaces its attributes instead
//! of duplicating them.

use super::{bounded, FeedConfig, FeedEntry, VTC_NAMESPACE};
use ioc::{FileHash, IndicatorKind};
use serde_json::{json, Value};
use time::OffsetDateTime;
use verdict::Verdict;

/// The MISP object templates used (misp-objects: uuid and version).
const FILE_TEMPLATE: (&str, &str) = ("688c46fb-5edb-40a3-8273-1af7923e2215", "25");
const URL_TEMPLATE: (&str, &str) = ("60efb77b-40b5-4c46-871b-ed1ed999fce5", "10");
const DOMAIN_IP_TEMPLATE: (&str, &str) = ("43b3b146-77eb-4931-b4cc-b66c60f28734", "11");

/// The event of `entries`.
pub fn event(config: &FeedConfig, entries: &[&FeedEntry], now: OffsetDateTime) -> Value {
    let uuid = |name: &str| super::uuid5(&VTC_NAMESPACE, &format!("misp:{}:{name}", config.name));
    let latest = entries.iter().map(|e| e.dated()).max().unwrap_or(now);
    let mut attributes = Vec::new();
    let mut objects = Vec::new();
    for entry in entries {
        let record = &entry.record;
        let identity = entry.identity();
        let timestamp = entry.dated().unix_timestamp().to_string();
        let mut tags = vec![tag(&format!("vtc:verdict=\"{}\"", record.verdict.as_str()))];
        if let Some(label) = record
            .popular_threat_label
            .as_deref()
            .filter(|l| !l.trim().is_empty())
        {
            tags.push(tag(&format!(
                "vtc:threat-label=\"{}\"",
                bounded(label, 120).replace('"', "'")
            )));
        }
        let to_ids = record.verdict == Verdict::Bad;
        let attribute = |relation: &str, kind: &str, category: &str, value: String, ids: bool| {
            json!({
                "uuid": uuid(&format!("{identity}:{relation}")),
                "object_relation": relation,
                "type": kind,
                "category": category,
                "value": value,
                "to_ids": ids,
                "timestamp": timestamp,
                "Tag": tags,
            })
        };
        let (template, name, meta, object_attributes) = match record.kind {
            Some(IndicatorKind::File) => {
                let hash = |h: &Option<String>, len: usize| {
                    h.as_deref()
                        .and_then(FileHash::parse)
                        .map(|h| h.as_str().to_owned())
                        .filter(|h| h.len() == len)
                        .or_else(|| {
                            FileHash::parse(&record.indicator)
                                .map(|h| h.as_str().to_owned())
                                .filter(|h| h.len() == len)
                        })
                };
                let mut list = Vec::new();
                for (relation, value) in [
                    ("md5", hash(&record.md5, 32)),
                    ("sha1", hash(&record.sha1, 40)),
                    ("sha256", hash(&record.sha256, 64)),
                ] {
                    if let Some(value) = value {
                        list.push(attribute(
                            relation,
                            relation,
                            "Payload delivery",
                            value,
                            to_ids,
                        ));
                    }
                }
                if list.is_empty() {
                    continue;
                }
                if let Some(size) = record.size {
                    list.push(attribute(
                        "size-in-bytes",
                        "size-in-bytes",
                        "Other",
                        size.to_string(),
                        false,
                    ));
                }
                if let Some(file_name) = record.meaningful_name.as_deref().filter(|n| !n.is_empty())
                {
                    list.push(attribute(
                        "filename",
                        "filename",
                        "Payload delivery",
                        bounded(file_name, 255),
                        false,
                    ));
                }
                (FILE_TEMPLATE, "file", "file", list)
            }
            Some(IndicatorKind::Url) => (
                URL_TEMPLATE,
                "url",
                "network",
                vec![attribute(
                    "url",
                    "url",
                    "Network activity",
                    record.indicator.clone(),
                    to_ids,
                )],
            ),
            Some(IndicatorKind::Domain) => (
                DOMAIN_IP_TEMPLATE,
                "domain-ip",
                "network",
                vec![attribute(
                    "domain",
                    "domain",
                    "Network activity",
                    record.indicator.clone(),
                    to_ids,
                )],
            ),
            Some(IndicatorKind::Ip) => (
                DOMAIN_IP_TEMPLATE,
                "domain-ip",
                "network",
                vec![attribute(
                    "ip",
                    "ip-dst",
                    "Network activity",
                    record.indicator.clone(),
                    to_ids,
                )],
            ),
            None => continue,
        };
        let detection = record.detection();
        let comment = bounded(
            &format!(
                "VirusTotal: {detection} engines flag it malicious ({} suspicious); verdict {}",
                detection.suspicious,
                record.verdict.as_str()
            ),
            250,
        );
        objects.push(json!({
            "uuid": uuid(&format!("{identity}:object")),
            "name": name,
            "meta-category": meta,
            "template_uuid": template.0,
            "template_version": template.1,
            "description": format!("{name} seen by VirusTotal"),
            "comment": comment,
            "timestamp": timestamp,
            "distribution": "5",
            "Attribute": object_attributes,
        }));
        if let Some(link) = &record.link {
            attributes.push(json!({
                "uuid": uuid(&format!("{identity}:link")),
                "type": "link",
                "category": "External analysis",
                "value": link,
                "to_ids": false,
                "comment": comment,
                "timestamp": timestamp,
                "Tag": tags,
            }));
        }
    }
    let any_bad = entries.iter().any(|e| e.record.verdict == Verdict::Bad);
    json!({"Event": {
        "uuid": uuid("event"),
        "info": bounded(&format!("{}: indicators VirusTotal flags", config.display_name), 250),
        "date": latest.date().to_string(),
        "timestamp": latest.unix_timestamp().to_string(),
        "published": false,
        // 1 high, 2 medium; 2 "completed" analysis; 0 "your organisation only".
        "threat_level_id": if any_bad { "1" } else { "2" },
        "analysis": "2",
        "distribution": "0",
        "Tag": [tag(&format!("vtc:feed=\"{}\"", config.name))],
        "Attribute": attributes,
        "Object": objects,
    }})
}

fn tag(name: &str) -> Value {
    json!({"name": name})
}

//! The threat-intelligence feeds: what each format carries, the filters,
//! stable ids, hostile strings, and each document validated by the
//! consuming platform's own code (cbfeeds, stix2-validator, pymisp).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use feeds::intel::{carbon_black, render, FeedConfig, FeedEntry, FeedFilter, FeedFormat};
use feeds::MinVerdict;
use ioc::{Indicator, IndicatorKind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use time::macros::datetime;
use time::OffsetDateTime;
use verdict::{Assessment, Detection, Record, Verdict};

const NOW: OffsetDateTime = datetime!(2026-11-20 10:00 UTC);
const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
const EICAR_SHA1: &str = "3395856ce81f2b7382dee72602f798b642f14140";
const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

fn record(input: &str, verdict: Verdict, malicious: u32, total: u32) -> Record {
    let indicator = Indicator::parse(input).unwrap();
    let assessment = Assessment {
        verdict,
        reasons: vec![],
        detection: Detection {
            malicious,
            suspicious: 1,
            total,
        },
        last_analysis_date: Some(datetime!(2026-11-19 08:00 UTC)),
        stale: false,
    };
    Record::from_assessment(
        &indicator,
        input,
        Some(indicator.vt_id()),
        &assessment,
        true,
    )
}

fn entry(record: Record, updated_at: OffsetDateTime) -> FeedEntry {
    FeedEntry {
        record,
        sources: vec!["enrich".into()],
        updated_at,
    }
}

fn engine(name: &str, category: &str, result: &str) -> vt_model::EngineResult {
    serde_json::from_value(serde_json::json!({
        "category": category, "engine_name": name, "result": result
    }))
    .unwrap()
}

/// A bad EICAR, a suspect and a clean file, a bad URL with a quote in it,
/// a bad domain, a bad IPv4 and IPv6 address, an unknown hash, a failed
/// lookup, and a bad file whose name and label are hostile.
fn entries() -> Vec<FeedEntry> {
    let mut eicar = record(EICAR_SHA256, Verdict::Bad, 62, 68);
    eicar.md5 = Some(EICAR_MD5.into());
    eicar.sha1 = Some(EICAR_SHA1.into());
    eicar.sha256 = Some(EICAR_SHA256.into());
    eicar.size = Some(68);
    eicar.meaningful_name = Some("eicar.com".into());
    eicar.popular_threat_label = Some("virus.eicar/test".into());
    let mut results = BTreeMap::new();
    results.insert(
        "Alpha".into(),
        engine("Alpha", "malicious", "EICAR-Test-File"),
    );
    let eicar = eicar.with_detections(&results);

    let suspect_md5 = "0123456789abcdef0123456789abcdef";
    let mut suspect = record(suspect_md5, Verdict::Suspect, 2, 70);
    suspect.md5 = Some(suspect_md5.into());
    let clean = record("ffffffffffffffffffffffffffffffff", Verdict::Good, 0, 70);
    let url = record("http://evil.test/a'b?x=1", Verdict::Bad, 9, 90);
    let domain = record("evil.test", Verdict::Bad, 7, 90);
    let ip4 = record("198.51.100.7", Verdict::Bad, 5, 90);
    let ip6 = record("2001:db8::7", Verdict::Bad, 5, 90);
    let unknown = record(
        "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
        Verdict::Unknown,
        0,
        0,
    );
    let failed = Record::failed(
        "8.8.8.8",
        Some(IndicatorKind::Ip),
        "QuotaExceededError",
        "q",
    )
    .with_indicator(&Indicator::parse("8.8.8.8").unwrap());

    let hostile_sha256 = "a".repeat(64);
    let mut hostile = record(&hostile_sha256, Verdict::Bad, 40, 70);
    hostile.md5 = Some("b".repeat(32));
    hostile.sha256 = Some(hostile_sha256);
    hostile.meaningful_name = Some(format!(
        "inv\u{1b}[31moice\n\"'<x>.exe{}",
        "A".repeat(5_000)
    ));
    hostile.popular_threat_label = Some(format!("trojan\"/{}", "z".repeat(1_000)));
    hostile.size = Some(1 << 40);

    let t = datetime!(2026-11-19 09:00 UTC);
    vec![
        entry(eicar, t),
        entry(suspect, t),
        entry(clean, t),
        entry(url, t),
        entry(domain, datetime!(2026-11-01 00:00 UTC)),
        entry(ip4, t),
        entry(ip6, t),
        entry(unknown, t),
        entry(failed, t),
        entry(hostile, t),
    ]
}

fn doc(format: FeedFormat, filter: &FeedFilter) -> Value {
    let bytes = render(format, &FeedConfig::default(), &entries(), filter, NOW).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn the_carbon_black_feed_lists_malicious_binaries_only_with_their_score() {
    let feed = doc(FeedFormat::CarbonBlack, &FeedFilter::default());
    let info = &feed["feedinfo"];
    assert_eq!(info["name"], "vtc");
    for key in [
        "display_name",
        "provider_url",
        "summary",
        "tech_data",
        "icon",
        "category",
    ] {
        assert!(
            info[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key}: {info}"
        );
    }
    let reports = feed["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2, "the bad binaries only: {feed:#}");
    let eicar = &reports[0];
    assert_eq!(eicar["id"], format!("vtc-{EICAR_SHA256}"));
    assert_eq!(eicar["score"], 91, "62/68 rounded down");
    assert_eq!(eicar["iocs"]["md5"], serde_json::json!([EICAR_MD5]));
    assert_eq!(eicar["iocs"]["sha256"], serde_json::json!([EICAR_SHA256]));
    assert_eq!(
        eicar["link"],
        format!("https://www.virustotal.com/gui/file/{EICAR_SHA256}")
    );
    assert_eq!(
        eicar["timestamp"],
        datetime!(2026-11-19 08:00 UTC).unix_timestamp(),
        "the last analysis"
    );
    let title = eicar["title"].as_str().unwrap();
    assert!(
        title.contains("[62/68]") && title.contains("eicar.com"),
        "{title}"
    );
    let hostile = reports[1]["title"].as_str().unwrap();
    assert!(hostile.chars().count() <= 200, "bounded: {hostile}");
    assert!(!hostile.chars().any(char::is_control), "{hostile:?}");
    assert_eq!(reports[1]["score"], 57);

    let with_suspect = doc(
        FeedFormat::CarbonBlack,
        &FeedFilter {
            min_verdict: MinVerdict::Suspect,
            ..FeedFilter::default()
        },
    );
    let ids: Vec<&str> = with_suspect["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(
        ids.contains(&"vtc-0123456789abcdef0123456789abcdef"),
        "an md5-only file ids by md5"
    );
    assert_eq!(
        carbon_black::score(Detection {
            malicious: 2,
            suspicious: 0,
            total: 70
        }),
        2
    );
}

#[test]
fn filters_choose_by_verdict_time_type_and_source() {
    let count = |filter: FeedFilter| {
        let bundle = doc(FeedFormat::Stix, &filter);
        bundle["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["type"] == "indicator")
            .count()
    };
    assert_eq!(
        count(FeedFilter::default()),
        6,
        "bad ones: 2 files, url, domain, 2 ips"
    );
    assert_eq!(
        count(FeedFilter {
            min_verdict: MinVerdict::Suspect,
            ..FeedFilter::default()
        }),
        7
    );
    assert_eq!(
        count(FeedFilter {
            since: Some(datetime!(2026-11-10 00:00 UTC)),
            ..FeedFilter::default()
        }),
        5,
        "the domain was updated before"
    );
    assert_eq!(
        count(FeedFilter {
            kinds: vec![IndicatorKind::Ip, IndicatorKind::Url],
            ..FeedFilter::default()
        }),
        3
    );
    assert_eq!(
        count(FeedFilter {
            sources: vec!["carbonblack".into()],
            ..FeedFilter::default()
        }),
        0
    );
    assert_eq!(
        count(FeedFilter {
            sources: vec!["carbonblack".into(), "enrich".into()],
            ..FeedFilter::default()
        }),
        6
    );
}

#[test]
fn stix_indicators_carry_patterns_and_ids_derived_from_the_indicator() {
    let bundle = doc(FeedFormat::Stix, &FeedFilter::default());
    let objects = bundle["objects"].as_array().unwrap();
    let patterns: Vec<&str> = objects
        .iter()
        .filter(|o| o["type"] == "indicator")
        .map(|o| o["pattern"].as_str().unwrap())
        .collect();
    assert!(patterns.contains(&format!(
        "[file:hashes.'MD5' = '{EICAR_MD5}' OR file:hashes.'SHA-1' = '{EICAR_SHA1}' OR file:hashes.'SHA-256' = '{EICAR_SHA256}']"
    ).as_str()), "{patterns:#?}");
    assert!(
        patterns.contains(&r"[url:value = 'http://evil.test/a\'b?x=1']"),
        "{patterns:#?}"
    );
    assert!(patterns.contains(&"[domain-name:value = 'evil.test']"));
    assert!(patterns.contains(&"[ipv4-addr:value = '198.51.100.7']"));
    assert!(patterns.contains(&"[ipv6-addr:value = '2001:db8::7']"));
    let of_type = |t: &str| objects.iter().filter(|o| o["type"] == t).count();
    assert_eq!(of_type("malware-analysis"), 6, "one summary per indicator");
    assert_eq!(of_type("malware"), 2, "one per threat label");
    assert_eq!(of_type("relationship"), 6 + 2 * 2);
    let analysis = objects
        .iter()
        .find(|o| o["type"] == "malware-analysis" && o["result_name"] == "virus.eicar/test")
        .unwrap();
    assert_eq!(analysis["result"], "malicious");
    assert!(analysis["sample_ref"]
        .as_str()
        .unwrap()
        .starts_with("file--"));

    // The same entries exported again: the same document, ids and all.
    let again = doc(FeedFormat::Stix, &FeedFilter::default());
    assert_eq!(bundle, again);
    // A filter that drops others keeps the ids of those left.
    let ips = doc(
        FeedFormat::Stix,
        &FeedFilter {
            kinds: vec![IndicatorKind::Ip],
            ..FeedFilter::default()
        },
    );
    let id_of = |doc: &Value, pattern: &str| {
        doc["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["pattern"] == pattern)
            .map(|o| o["id"].clone())
            .unwrap()
    };
    let p = "[ipv4-addr:value = '198.51.100.7']";
    assert_eq!(id_of(&bundle, p), id_of(&ips, p));
}

#[test]
fn the_misp_event_has_objects_attributes_and_tags() {
    let event = doc(FeedFormat::Misp, &FeedFilter::default());
    let event = &event["Event"];
    let objects = event["Object"].as_array().unwrap();
    let names: Vec<&str> = objects
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["file", "url", "domain-ip", "domain-ip", "domain-ip", "file"]
    );
    let file = &objects[0];
    let relations: BTreeMap<&str, &str> = file["Attribute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["object_relation"].as_str().unwrap(),
                a["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(relations["md5"], EICAR_MD5);
    assert_eq!(relations["sha1"], EICAR_SHA1);
    assert_eq!(relations["sha256"], EICAR_SHA256);
    assert_eq!(relations["size-in-bytes"], "68");
    assert_eq!(relations["filename"], "eicar.com");
    let tags: Vec<&str> = file["Attribute"][0]["Tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags,
        [
            "vtc:verdict=\"bad\"",
            "vtc:threat-label=\"virus.eicar/test\""
        ]
    );
    assert_eq!(
        event["Attribute"].as_array().unwrap().len(),
        6,
        "a link per entry"
    );
    assert_eq!(event["Tag"][0]["name"], "vtc:feed=\"vtc\"");
    assert_eq!(event["threat_level_id"], "1");
}

/// Writes each format to a file and runs the platform's validator on it.
fn validate(kind: &str, format: FeedFormat, filter: &FeedFilter) -> String {
    let dir = std::env::temp_dir().join(format!("vtc-feed-{kind}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("feed.json");
    let bytes = render(format, &FeedConfig::default(), &entries(), filter, NOW).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/validate_feed.py");
    let out = Command::new("python3")
        .args([script, kind, path.to_str().unwrap()])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{kind} validation failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

fn suspect_too() -> FeedFilter {
    FeedFilter {
        min_verdict: MinVerdict::Suspect,
        ..FeedFilter::default()
    }
}

#[cfg_attr(
    missing_cbfeeds,
    ignore = "cbfeeds is not installed (pip install cbfeeds-fork, then touch crates/feeds/build.rs)"
)]
#[test]
fn carbon_black_own_feed_library_accepts_the_feed() {
    let out = validate("cb", FeedFormat::CarbonBlack, &suspect_too());
    assert!(out.contains("cb feed valid: 3 reports"), "{out}");
    assert!(
        out.contains(&format!("report vtc-{EICAR_SHA256} 91 {EICAR_MD5}")),
        "{out}"
    );
}

#[cfg_attr(
    missing_stix2_validator,
    ignore = "stix2-validator is not installed (pip install stix2-validator, then touch crates/feeds/build.rs)"
)]
#[test]
fn the_stix_validator_finds_no_error_in_the_bundle() {
    let out = validate("stix", FeedFormat::Stix, &suspect_too());
    assert!(out.contains("stix feed valid:"), "{out}");
    assert!(out.contains("\"indicator\": 7"), "{out}");
}

#[cfg_attr(
    missing_pymisp,
    ignore = "pymisp is not installed (pip install pymisp, then touch crates/feeds/build.rs)"
)]
#[test]
fn pymisp_loads_the_event_with_objects_attributes_and_tags_intact() {
    let out = validate("misp", FeedFormat::Misp, &FeedFilter::default());
    assert!(out.contains("misp feed valid:"), "{out}");
    assert!(out.contains("event tags ['vtc:feed=\"vtc\"']"), "{out}");
    assert!(
        out.contains(&format!(
            "object file 688c46fb-5edb-40a3-8273-1af7923e2215 filename=eicar.com;md5={EICAR_MD5};sha1={EICAR_SHA1};sha256={EICAR_SHA256};size-in-bytes=68 | vtc:threat-label=\"virus.eicar/test\";vtc:verdict=\"bad\""
        )),
        "{out}"
    );
    assert!(
        out.contains("object domain-ip 43b3b146-77eb-4931-b4cc-b66c60f28734 domain=evil.test"),
        "{out}"
    );
    assert!(
        out.contains(
            "object url 60efb77b-40b5-4c46-871b-ed1ed999fce5 url=http://evil.test/a'b?x=1"
        ),
        "{out}"
    );
    assert!(out.contains("ip=198.51.100.7"), "{out}");
    assert!(
        out.contains(&format!(
            "attribute link https://www.virustotal.com/gui/file/{EICAR_SHA256}"
        )),
        "{out}"
    );
}

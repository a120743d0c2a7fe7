//! The verdict rules over small hand-built reports (edges of every
//! threshold) and over realistic reports in `tests/fixtures/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use verdict::{assess, Assessment, Verdict, VerdictConfig};
use vt_model::{AnalysisAttributes, Report};

/// (case, config, stats, results, verdict, highlighted reason)
type HighlightCase<'a> = (
    &'a str,
    &'a VerdictConfig,
    &'a Value,
    &'a Value,
    Verdict,
    Option<&'a str>,
);
/// (case, config, stats, extra attributes, verdict, reputation reason)
type ReputationCase<'a> = (
    &'a str,
    &'a VerdictConfig,
    &'a Value,
    Value,
    Verdict,
    Option<&'a str>,
);
/// (fixture, config, verdict, malicious, suspicious, total, stale, a reason it must give)
type FixtureCase<'a> = (
    &'a str,
    VerdictConfig,
    Verdict,
    u32,
    u32,
    u32,
    bool,
    &'a str,
);

const NOW: OffsetDateTime = datetime!(2026-11-20 10:00 UTC);

/// A report whose `last_analysis_stats` is `stats`, plus `extra` attributes.
fn report(stats: Value, extra: Value) -> Report {
    let mut attrs = json!({
        "last_analysis_stats": stats,
        "last_analysis_date": NOW.unix_timestamp() - 3600,
    });
    if let (Some(a), Some(e)) = (attrs.as_object_mut(), extra.as_object()) {
        a.extend(e.clone());
    }
    object(attrs)
}

fn object(attrs: Value) -> Report {
    Report::from_cached(&json!({"type": "file", "id": "abc", "attributes": attrs}).to_string())
        .expect("test report is a valid object")
}

fn engine(name: &str, category: &str, label: Option<&str>) -> (String, Value) {
    (
        name.to_owned(),
        json!({"engine_name": name, "category": category, "result": label, "method": "blacklist"}),
    )
}

fn results(entries: &[(&str, &str, Option<&str>)]) -> Value {
    let map: serde_json::Map<String, Value> =
        entries.iter().map(|(n, c, l)| engine(n, c, *l)).collect();
    Value::Object(map)
}

fn fixture(name: &str) -> Report {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Report::from_body(raw.as_bytes()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn count_ratio_and_suspicious_weight_rules_at_their_edges() {
    let d = VerdictConfig::default;
    // (case, config, stats, verdict, first reason)
    let cases: Vec<(&str, VerdictConfig, Value, Verdict, &str)> = vec![
        (
            "clean",
            d(),
            json!({"harmless": 10, "undetected": 60, "malicious": 0, "suspicious": 0}),
            Verdict::Good,
            "none of 70 engines flagged it",
        ),
        (
            "one detection is the suspect edge",
            d(),
            json!({"harmless": 10, "undetected": 59, "malicious": 1}),
            Verdict::Suspect,
            "1 of 70 engines flagged it malicious (>= 1)",
        ),
        (
            "one suspicious engine counts half",
            d(),
            json!({"undetected": 69, "suspicious": 1}),
            Verdict::Good,
            "1 of 70 engines flagged it suspicious, score 0.5 (< 1)",
        ),
        (
            "two suspicious engines reach the suspect edge",
            d(),
            json!({"undetected": 68, "suspicious": 2}),
            Verdict::Suspect,
            "2 of 70 engines flagged it suspicious, score 1 (>= 1)",
        ),
        (
            "count and ratio exactly at the bad edge",
            d(),
            json!({"undetected": 45, "malicious": 5}),
            Verdict::Bad,
            "5 of 50 engines flagged it malicious (>= 5)",
        ),
        (
            "count at the edge, ratio just below",
            d(),
            json!({"undetected": 46, "malicious": 5}),
            Verdict::Suspect,
            "5 of 51 engines flagged it malicious (>= 5)",
        ),
        (
            "ratio high, count one short",
            d(),
            json!({"undetected": 6, "malicious": 4}),
            Verdict::Suspect,
            "4 of 10 engines flagged it malicious (>= 1)",
        ),
        (
            "suspicious engines complete the bad score",
            d(),
            json!({"undetected": 44, "malicious": 4, "suspicious": 2}),
            Verdict::Bad,
            "4 of 50 engines flagged it malicious and 2 suspicious, score 5 (>= 5)",
        ),
        (
            "half a detection short of bad",
            d(),
            json!({"undetected": 45, "malicious": 4, "suspicious": 1}),
            Verdict::Suspect,
            "4 of 50 engines flagged it malicious and 1 suspicious, score 4.5 (>= 1)",
        ),
        (
            "suspicious weight 1 counts them as malicious",
            VerdictConfig {
                suspicious_weight: 1.0,
                ..d()
            },
            json!({"undetected": 45, "malicious": 4, "suspicious": 1}),
            Verdict::Bad,
            "4 of 50 engines flagged it malicious and 1 suspicious, score 5 (>= 5)",
        ),
        (
            "suspicious weight 0 ignores them",
            VerdictConfig {
                suspicious_weight: 0.0,
                ..d()
            },
            json!({"undetected": 60, "suspicious": 10}),
            Verdict::Good,
            "10 of 70 engines flagged it suspicious, score 0 (< 1)",
        ),
        (
            "unsupported types and timeouts leave the ratio denominator",
            d(),
            json!({"undetected": 45, "malicious": 5, "type-unsupported": 15, "timeout": 3, "failure": 2}),
            Verdict::Bad,
            "5 of 50 engines flagged it malicious (>= 5)",
        ),
        (
            "ratio rule off",
            VerdictConfig {
                bad_min_ratio: 0.0,
                ..d()
            },
            json!({"harmless": 60, "undetected": 25, "malicious": 5}),
            Verdict::Bad,
            "5 of 90 engines flagged it malicious (>= 5)",
        ),
        (
            "stricter suspect threshold",
            VerdictConfig {
                suspect_min_malicious: 2,
                ..d()
            },
            json!({"undetected": 69, "malicious": 1}),
            Verdict::Good,
            "1 of 70 engines flagged it malicious (< 2)",
        ),
    ];
    for (case, config, stats, verdict, reason) in cases {
        assert_eq!(config.validate(), Ok(()), "{case}");
        let a = assess(&report(stats, json!({})), &config, NOW);
        assert_eq!(a.verdict, verdict, "{case}: {:?}", a.reasons);
        assert_eq!(
            a.reasons.first().map(String::as_str),
            Some(reason),
            "{case}"
        );
    }
}

#[test]
fn bad_reasons_state_the_ratio_and_near_misses_say_why_not() {
    let config = VerdictConfig::default();
    let bad = assess(
        &report(json!({"undetected": 61, "malicious": 7}), json!({})),
        &config,
        NOW,
    );
    assert_eq!(
        bad.reasons,
        vec![
            "7 of 68 engines flagged it malicious (>= 5)".to_owned(),
            "10.2% of engines with a verdict (>= 10%)".to_owned(),
        ]
    );
    let near = assess(
        &report(json!({"undetected": 46, "malicious": 5}), json!({})),
        &config,
        NOW,
    );
    assert_eq!(
        near.reasons[1],
        "but only 9.8% of engines with a verdict (< 10% for bad)"
    );
}

/// The one detection rule (`verdict::Detection`): engines that could not
/// scan, timed out or failed are not in the denominator, nor are
/// categories vtc does not know.
#[test]
fn total_counts_the_engines_that_gave_a_verdict() {
    let a = assess(
        &report(
            json!({"harmless": 1, "undetected": 8, "malicious": 60, "suspicious": 2,
                   "type-unsupported": 9, "timeout": 1, "confirmed-timeout": 1, "failure": 1,
                   "some-future-category": 2}),
            json!({}),
        ),
        &VerdictConfig::default(),
        NOW,
    );
    let d = a.detection;
    assert_eq!((d.malicious, d.suspicious, d.total), (60, 2, 71));
}

#[test]
fn highlighted_engines_raise_to_suspect_or_when_configured_bad() {
    let highlighted = VerdictConfig {
        highlighted_engines: vec!["kaspersky".into(), "Sophos".into()],
        ..VerdictConfig::default()
    };
    let makes_bad = VerdictConfig {
        highlighted_makes_bad: true,
        ..highlighted.clone()
    };
    let kaspersky_hit = results(&[
        ("Kaspersky", "malicious", Some("Trojan.Win32.X")),
        ("Sophos", "undetected", None),
        ("Avast", "undetected", None),
    ]);
    let other_hit = results(&[
        ("Kaspersky", "undetected", None),
        ("Avast", "malicious", Some("Win32:Evil")),
    ]);
    let suspicious_only = results(&[("Kaspersky", "suspicious", Some("heur"))]);
    let plain = VerdictConfig::default();
    let stats_clean = json!({"undetected": 70});
    let stats_one = json!({"undetected": 69, "malicious": 1});
    // (case, config, stats, results, verdict, highlighted reason)
    let cases: Vec<HighlightCase> = vec![
        (
            "highlighted detection alone makes suspect",
            &highlighted,
            &stats_clean,
            &kaspersky_hit,
            Verdict::Suspect,
            Some("highlighted engine Kaspersky: Trojan.Win32.X"),
        ),
        (
            "highlighted detection makes bad when configured",
            &makes_bad,
            &stats_one,
            &kaspersky_hit,
            Verdict::Bad,
            Some("highlighted engine Kaspersky: Trojan.Win32.X"),
        ),
        (
            "other engines' detections are not highlighted",
            &makes_bad,
            &stats_one,
            &other_hit,
            Verdict::Suspect,
            None,
        ),
        (
            "a suspicious result is not a detection",
            &makes_bad,
            &stats_clean,
            &suspicious_only,
            Verdict::Good,
            None,
        ),
        (
            "no highlighted engines configured",
            &plain,
            &stats_clean,
            &kaspersky_hit,
            Verdict::Good,
            None,
        ),
    ];
    for (case, config, stats, res, verdict, reason) in cases {
        let r = report(stats.clone(), json!({"last_analysis_results": res}));
        let a = assess(&r, config, NOW);
        assert_eq!(a.verdict, verdict, "{case}: {:?}", a.reasons);
        let found = a
            .reasons
            .iter()
            .find(|r| r.starts_with("highlighted engine"));
        assert_eq!(found.map(String::as_str), reason, "{case}");
    }
}

#[test]
fn highlighted_labels_are_bounded_and_missing_labels_say_malicious() {
    let config = VerdictConfig {
        highlighted_engines: vec!["Kaspersky".into(), "ESET-NOD32".into()],
        ..VerdictConfig::default()
    };
    let long = "X".repeat(1000);
    let r = report(
        json!({"undetected": 68, "malicious": 2}),
        json!({"last_analysis_results": results(&[
            ("Kaspersky", "malicious", Some(long.as_str())),
            ("ESET-NOD32", "malicious", None),
        ])}),
    );
    let a = assess(&r, &config, NOW);
    assert!(
        a.reasons.iter().all(|r| r.chars().count() < 200),
        "{:?}",
        a.reasons
    );
    assert!(a
        .reasons
        .contains(&"highlighted engine ESET-NOD32: malicious".to_owned()));
}

#[test]
fn staleness_starts_after_the_configured_days() {
    let d = VerdictConfig::default;
    let thirty = NOW - Duration::days(30);
    // (case, config, last analysis, stale)
    let cases: Vec<(&str, VerdictConfig, OffsetDateTime, bool)> = vec![
        ("fresh", d(), NOW - Duration::hours(1), false),
        ("exactly the limit is not stale", d(), thirty, false),
        (
            "one second past the limit",
            d(),
            thirty - Duration::seconds(1),
            true,
        ),
        ("a year old", d(), NOW - Duration::days(365), true),
        (
            "in the future (clock skew)",
            d(),
            NOW + Duration::days(2),
            false,
        ),
        (
            "staleness off",
            VerdictConfig {
                stale_after_days: 0,
                ..d()
            },
            NOW - Duration::days(3650),
            false,
        ),
        (
            "short window",
            VerdictConfig {
                stale_after_days: 1,
                ..d()
            },
            NOW - Duration::days(2),
            true,
        ),
    ];
    for (case, config, date, stale) in cases {
        let r = report(
            json!({"undetected": 70}),
            json!({"last_analysis_date": date.unix_timestamp()}),
        );
        let a = assess(&r, &config, NOW);
        assert_eq!(a.stale, stale, "{case}");
        assert_eq!(a.last_analysis_date, Some(date), "{case}");
        assert_eq!(
            a.verdict,
            Verdict::Good,
            "{case}: staleness never changes the verdict"
        );
        assert_eq!(
            a.reasons.iter().any(|r| r.starts_with("last analysed")),
            stale,
            "{case}: {:?}",
            a.reasons
        );
    }
    let old = report(
        json!({"undetected": 70}),
        json!({"last_analysis_date": (NOW - Duration::days(45)).unix_timestamp()}),
    );
    let a = assess(&old, &d(), NOW);
    assert_eq!(
        a.reasons.last().map(String::as_str),
        Some("last analysed 45 days ago (stale after 30 days)")
    );
}

#[test]
fn reputation_raises_good_to_suspect_only_when_enabled() {
    let off = VerdictConfig::default();
    let on = VerdictConfig {
        use_reputation: true,
        ..VerdictConfig::default()
    };
    let clean = json!({"undetected": 70});
    let bad = json!({"undetected": 60, "malicious": 10});
    // (case, config, stats, extra attributes, verdict, reputation reason)
    let cases: Vec<ReputationCase> = vec![
        (
            "ignored when off",
            &off,
            &clean,
            json!({"reputation": -80}),
            Verdict::Good,
            None,
        ),
        (
            "strongly negative",
            &on,
            &clean,
            json!({"reputation": -80}),
            Verdict::Suspect,
            Some("community reputation -80 (<= -10)"),
        ),
        (
            "at the threshold",
            &on,
            &clean,
            json!({"reputation": -10}),
            Verdict::Suspect,
            Some("community reputation -10 (<= -10)"),
        ),
        (
            "just above the threshold",
            &on,
            &clean,
            json!({"reputation": -9}),
            Verdict::Good,
            None,
        ),
        (
            "majority of enough malicious votes",
            &on,
            &clean,
            json!({"total_votes": {"harmless": 2, "malicious": 3}}),
            Verdict::Suspect,
            Some("3 of 5 community votes say malicious"),
        ),
        (
            "too few votes",
            &on,
            &clean,
            json!({"total_votes": {"harmless": 0, "malicious": 2}}),
            Verdict::Good,
            None,
        ),
        (
            "votes tied",
            &on,
            &clean,
            json!({"total_votes": {"harmless": 4, "malicious": 4}}),
            Verdict::Good,
            None,
        ),
        (
            "never lowers bad",
            &on,
            &bad,
            json!({"reputation": 500}),
            Verdict::Bad,
            None,
        ),
    ];
    for (case, config, stats, extra, verdict, reason) in cases {
        let a = assess(&report(stats.clone(), extra), config, NOW);
        assert_eq!(a.verdict, verdict, "{case}: {:?}", a.reasons);
        let found = a
            .reasons
            .iter()
            .find(|r| r.starts_with("community") || r.contains("community votes"));
        assert_eq!(found.map(String::as_str), reason, "{case}");
    }
}

#[test]
fn unknown_when_virustotal_has_nothing_to_judge() {
    let config = VerdictConfig::default();
    let unknown = Assessment::unknown();
    assert_eq!(unknown.verdict, Verdict::Unknown);
    assert_eq!(unknown.reasons, vec!["not found in VirusTotal".to_owned()]);
    assert_eq!(
        (
            unknown.detection.malicious,
            unknown.detection.total,
            unknown.stale
        ),
        (0, 0, false)
    );

    let no_attributes = Report::from_cached(r#"{"type": "file", "id": "abc"}"#).expect("object");
    let no_stats = object(json!({"reputation": -100, "last_analysis_date": NOW.unix_timestamp()}));
    let no_verdicts = report(json!({"type-unsupported": 70, "timeout": 2}), json!({}));
    // (case, report, first reason)
    let cases: Vec<(&str, Report, &str)> = vec![
        (
            "no attributes",
            no_attributes,
            "VirusTotal returned no attributes for it",
        ),
        (
            "missing stats and results",
            no_stats,
            "VirusTotal holds no analysis of it",
        ),
        (
            "no engine gave a verdict",
            no_verdicts,
            "no engine gave a verdict (72 timed out, failed or could not scan it)",
        ),
    ];
    for (case, r, reason) in cases {
        let a = assess(&r, &config, NOW);
        assert_eq!(a.verdict, Verdict::Unknown, "{case}");
        assert_eq!(
            a.reasons.first().map(String::as_str),
            Some(reason),
            "{case}"
        );
    }
}

#[test]
fn missing_stats_are_counted_from_the_engine_results() {
    let r = object(json!({
        "last_analysis_results": results(&[
            ("A", "malicious", Some("x")), ("B", "malicious", Some("x")), ("C", "malicious", Some("x")),
            ("D", "malicious", Some("x")), ("E", "malicious", Some("x")), ("F", "undetected", None),
            ("G", "type-unsupported", None),
        ]),
    }));
    let a = assess(&r, &VerdictConfig::default(), NOW);
    assert_eq!((a.detection.malicious, a.detection.total), (5, 6));
    assert_eq!(a.verdict, Verdict::Bad, "{:?}", a.reasons);
    assert_eq!(a.last_analysis_date, None);
    assert!(!a.stale);
}

#[test]
fn malformed_fields_never_fail_the_assessment() {
    let r = object(json!({
        "last_analysis_stats": {"malicious": "many", "undetected": -3, "harmless": 10},
        "last_analysis_date": "yesterday",
        "last_analysis_results": [1, 2],
        "reputation": "bad",
        "total_votes": 7,
    }));
    let config = VerdictConfig {
        use_reputation: true,
        highlighted_engines: vec!["A".into()],
        ..VerdictConfig::default()
    };
    let a = assess(&r, &config, NOW);
    assert_eq!(a.verdict, Verdict::Good);
    assert_eq!((a.detection.malicious, a.detection.total), (0, 10));
    assert_eq!(a.last_analysis_date, None);
}

#[test]
fn analysis_objects_are_judged_by_their_stats() {
    let r: AnalysisAttributes = serde_json::from_value(json!({
        "status": "completed", "date": NOW.unix_timestamp(),
        "stats": {"malicious": 9, "undetected": 50, "harmless": 10},
        "results": {}
    }))
    .expect("analysis attributes");
    let a = assess(&r, &VerdictConfig::default(), NOW);
    assert_eq!(a.verdict, Verdict::Bad);
    assert_eq!(a.last_analysis_date, Some(NOW));
}

#[test]
fn realistic_reports_from_fixtures() {
    let d = VerdictConfig::default;
    let highlighted_bad = VerdictConfig {
        highlighted_engines: vec!["Kaspersky".into()],
        highlighted_makes_bad: true,
        ..d()
    };
    let reputation = VerdictConfig {
        use_reputation: true,
        ..d()
    };
    // (fixture, config, verdict, malicious, suspicious, total, stale, a reason it must give)
    let cases: Vec<FixtureCase> = vec![
        (
            "file_eicar.json",
            d(),
            Verdict::Bad,
            60,
            0,
            68,
            false,
            "60 of 68 engines flagged it malicious (>= 5)",
        ),
        (
            "url_phishing_low.json",
            d(),
            Verdict::Suspect,
            3,
            1,
            89,
            false,
            "3 of 89 engines flagged it malicious and 1 suspicious, score 3.5 (>= 1)",
        ),
        (
            "url_phishing_low.json",
            highlighted_bad,
            Verdict::Bad,
            3,
            1,
            89,
            false,
            "highlighted engine Kaspersky: phishing",
        ),
        (
            "domain_clean_old.json",
            d(),
            Verdict::Good,
            0,
            0,
            89,
            true,
            "last analysed 94 days ago (stale after 30 days)",
        ),
        (
            "ip_voted_malicious.json",
            d(),
            Verdict::Good,
            0,
            0,
            89,
            false,
            "none of 89 engines flagged it",
        ),
        (
            "ip_voted_malicious.json",
            reputation,
            Verdict::Suspect,
            0,
            0,
            89,
            false,
            "community reputation -31 (<= -10)",
        ),
    ];
    for (name, config, verdict, malicious, suspicious, total, stale, reason) in cases {
        let a = assess(&fixture(name), &config, NOW);
        assert_eq!(a.verdict, verdict, "{name}: {:?}", a.reasons);
        assert_eq!(
            (
                a.detection.malicious,
                a.detection.suspicious,
                a.detection.total,
                a.stale
            ),
            (malicious, suspicious, total, stale),
            "{name}"
        );
        assert!(
            a.reasons.iter().any(|r| r == reason),
            "{name}: {:?}",
            a.reasons
        );
    }
}

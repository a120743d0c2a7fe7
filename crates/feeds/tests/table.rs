//! The terminal table and CSV: what an analyst reads, and the columns they choose.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use feeds::{Field, Format, RecordWriter};
use ioc::Indicator;
use std::collections::BTreeMap;
use verdict::{Assessment, Record, Verdict};

fn engine(name: &str, category: &str, result: &str) -> vt_model::EngineResult {
    serde_json::from_value(serde_json::json!({
        "category": category, "engine_name": name, "result": result
    }))
    .expect("engine result")
}

fn stale_bad_record() -> Record {
    let ind = Indicator::parse("evil.test").expect("domain");
    let assessment = Assessment {
        verdict: Verdict::Bad,
        reasons: vec!["7 of 70 engines flagged it malicious (>= 5)".into()],
        detection: verdict::Detection {
            malicious: 7,
            suspicious: 0,
            total: 70,
        },
        last_analysis_date: None,
        stale: true,
    };
    let mut results = BTreeMap::new();
    for (i, name) in ["Alpha", "Bravo", "Charlie", "Delta"].iter().enumerate() {
        results.insert(
            (*name).to_owned(),
            engine(name, "malicious", &format!("Phish.{i}")),
        );
    }
    Record::from_assessment(
        &ind,
        "evil[.]test",
        Some("evil.test".into()),
        &assessment,
        false,
    )
    .with_detections(&results)
}

fn render(format: Format, fields: Option<&[Field]>, records: &[Record]) -> String {
    let mut w = RecordWriter::with_fields(Vec::new(), format, fields).expect("writer");
    for r in records {
        w.write(r).expect("write");
    }
    String::from_utf8(w.finish().expect("finish")).expect("utf-8")
}

#[test]
fn table_shows_reasons_stale_flag_and_top_detections() {
    let out = render(Format::Table, None, &[stale_bad_record()]);
    let mut lines = out.lines();
    let header = lines.next().expect("header");
    for col in ["VERDICT", "STALE", "DETECTIONS", "REASONS"] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().expect("row");
    assert!(row.starts_with("bad"), "{row}");
    assert!(row.contains("stale"), "{row}");
    assert!(
        row.contains("Alpha: Phish.0, Bravo: Phish.1, +5 more"),
        "{row}"
    );
    assert!(
        row.contains("7 of 70 engines flagged it malicious"),
        "{row}"
    );
}

#[test]
fn an_invalid_line_has_the_same_verdict_in_table_csv_and_json() {
    let invalid = Record::failed("mailto:x", None, "InvalidIndicator", "not an indicator");
    let json: serde_json::Value =
        serde_json::from_str(render(Format::Jsonl, None, std::slice::from_ref(&invalid)).trim())
            .expect("json");
    let verdict = json["verdict"].as_str().expect("verdict");
    let table = render(Format::Table, None, std::slice::from_ref(&invalid));
    let row = table.lines().nth(1).expect("row");
    assert_eq!(row.split_whitespace().next(), Some(verdict), "{row}");
    assert!(row.contains("InvalidIndicator: not an indicator"), "{row}");
    let csv = render(
        Format::Csv,
        Some(&[Field::Verdict, Field::Error]),
        &[invalid],
    );
    assert_eq!(
        csv,
        format!("verdict,error\n{verdict},InvalidIndicator: not an indicator\n")
    );
}

#[test]
fn fields_choose_the_columns_of_table_and_csv() {
    let fields = Field::parse_list("indicator,detected,detections").expect("fields");
    let table = render(Format::Table, Some(&fields), &[stale_bad_record()]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["INDICATOR", "DETECTED", "DETECTIONS"]);
    let csv = render(Format::Csv, Some(&fields), &[stale_bad_record()]);
    assert_eq!(
        csv,
        "indicator,detected,detections\nevil.test,7/70,Alpha: Phish.0; Bravo: Phish.1; Charlie: Phish.2; Delta: Phish.3\n"
    );
}

//! One detection rule: the EICAR test file shows the same `malicious/total`
//! in every place vtc shows a ratio — `lookup`, `enrich`, `scan file`,
//! `widget` and the HTML report (issue 9: they used to count differently).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::{emulator, run, stderr, stdout, vtc, EICAR_SHA256};
use serde_json::Value;
use vt_emulator::EmulatorConfig;

/// The EICAR test file, byte for byte (68 bytes, no newline).
const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "vtc failed: {}", stderr(out));
    serde_json::from_str(stdout(out).trim()).expect("one JSON document")
}

/// `M/T` of a record (lookup and enrich print records).
fn record_ratio(record: &Value) -> String {
    format!("{}/{}", record["malicious"], record["total"])
}

#[tokio::test(flavor = "multi_thread")]
async fn eicar_has_one_ratio_in_lookup_enrich_scan_widget_and_the_report() {
    let emu = emulator(EmulatorConfig::default()).await;
    let api = emu.base_url();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vtc.sqlite");
    let sample = dir.path().join("eicar.com");
    std::fs::write(&sample, EICAR).unwrap();
    let hashes = dir.path().join("hashes.txt");
    std::fs::write(&hashes, format!("{EICAR_SHA256}\n")).unwrap();
    let report = dir.path().join("report.html");
    let key = ["--api-key", "one-ratio-key", "--quota-minute", "0"];

    let mut cmd = vtc(&api, &db);
    cmd.args(["lookup", "--format", "json"])
        .args(key)
        .arg(EICAR_SHA256);
    let lookup = json(&run(cmd).await);
    let lookup = lookup.as_array().map_or(&lookup, |a| &a[0]).clone();
    let expected = record_ratio(&lookup);
    assert_ne!(lookup["malicious"], 0, "EICAR is detected: {lookup}");
    // The rule: engines that gave a verdict, not every engine listed.
    assert!(
        lookup["total"].as_u64().unwrap() < 70,
        "type-unsupported engines are not in the denominator: {lookup}"
    );

    let mut cmd = vtc(&api, &db);
    cmd.args(["enrich", "--format", "jsonl", "--report"])
        .arg(&report)
        .args(key)
        .arg(&hashes);
    let out = run(cmd).await;
    let enrich = json(&out);
    assert_eq!(record_ratio(&enrich), expected, "enrich: {enrich}");

    let mut cmd = vtc(&api, &db);
    cmd.args(["scan", "file", "--wait", "--format", "json"])
        .args(key)
        .arg(&sample);
    let scan = json(&run(cmd).await);
    assert_eq!(
        scan["detection"]["ratio"],
        expected.as_str(),
        "scan: {scan}"
    );

    let mut cmd = vtc(&api, &db);
    cmd.args(["widget", "--format", "json"])
        .args(key)
        .arg(EICAR_SHA256);
    let widget = json(&run(cmd).await);
    assert_eq!(
        widget["detection"]["ratio"],
        expected.as_str(),
        "widget: {widget}"
    );

    let html = std::fs::read_to_string(&report).expect("enrich wrote the report");
    let (malicious, total) = expected.split_once('/').unwrap();
    let cell = format!("<b>{malicious}</b>/{total}");
    assert!(
        html.contains(&cell),
        "the report shows {expected} as {cell}"
    );
    emu.shutdown().await;
}

//! Fault injection end to end: `vtc lookup` and `vtc enrich` against an
//! emulator that fails a share of requests in each of its ways (503, 500,
//! connection reset, truncated body, malformed JSON, an answer slower than
//! the client's timeout, a server that never answers). Every item ends with
//! the fault-free run's result or an explicit error record; nothing is lost
//! or duplicated; retries stay within the quota the server enforces.
//!
//! The 429 kind pauses the key for the quota window (60 s for `vtc`), so it
//! is exercised here by the enrich library with a short window
//! (`crates/enrich/tests/faults.rs`) and by `scripts/soak.sh` end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use vt_emulator::{EmulatorConfig, FaultKind};

/// `n` distinct indicators of the four kinds (some unknown to the world,
/// so 404 answers get faults too).
fn indicators(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 4 {
            0 => format!("{:064x}", 0xfa17_0000_u64 + i as u64),
            1 => format!("host{i}.faults-{i}.test"),
            2 => format!("10.7.{}.{}", i / 256 % 256, i % 256),
            _ => format!("http://site{i}.faults.test/p/{i}"),
        })
        .collect()
}

/// A record without what legitimately differs between two runs: whether it
/// came from the cache and the dates (the synthetic world's are relative
/// to now).
fn comparable(mut record: serde_json::Value) -> serde_json::Value {
    if let Some(map) = record.as_object_mut() {
        map.retain(|k, _| k != "cached" && !k.ends_with("_date"));
    }
    record
}

/// Records by indicator; panics on a duplicate.
fn by_indicator(records: Vec<serde_json::Value>) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for r in records {
        let key = r["indicator"].as_str().expect("indicator").to_owned();
        let before = out.insert(key.clone(), comparable(r));
        assert!(before.is_none(), "duplicated record for {key}");
    }
    out
}

/// The client's own count of requests, from the summary line.
fn api_calls(stderr: &str) -> u64 {
    stderr
        .split("API calls ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no API calls in the summary: {stderr}"))
}

fn jsonl(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

/// A config file with a short request timeout, so `slow` and `hang` cost
/// a second per attempt.
fn config_with_timeout(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, "timeout = 1\n").expect("config");
    path
}

async fn enrich(
    config: EmulatorConfig,
    input: &[String],
    budget_day: u32,
) -> (
    std::process::Output,
    Vec<serde_json::Value>,
    serde_json::Value,
) {
    let emu = emulator(config).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let input_path = dir.path().join("in.txt");
    std::fs::write(&input_path, input.join("\n") + "\n").expect("input");
    let out_path = dir.path().join("out.jsonl");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.arg("--config")
        .arg(config_with_timeout(dir.path()))
        .args(["--api-key", "fault-key", "--quota-minute", "0"])
        .args(["--quota-day", &budget_day.to_string()])
        .arg("enrich")
        .arg(&input_path)
        .arg("-o")
        .arg(&out_path)
        .args(["--concurrency", "8"]);
    let out = run(cmd).await;
    let records = jsonl(&std::fs::read_to_string(&out_path).unwrap_or_default());
    let stats = emu.emulator().stats();
    (out, records, stats)
}

async fn fault_free(input: &[String]) -> BTreeMap<String, serde_json::Value> {
    let (out, records, _) = enrich(EmulatorConfig::default(), input, 0).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let records = by_indicator(records);
    assert_eq!(records.len(), input.len());
    records
}

fn faulty(kinds: &[FaultKind], rate: f64, seed: u64) -> EmulatorConfig {
    EmulatorConfig {
        fault_rate: rate,
        fault_seed: seed,
        fault_kinds: kinds.to_vec(),
        // Above the client's one-second timeout.
        fault_delay: Duration::from_secs(3),
        ..EmulatorConfig::default()
    }
}

const SURVIVABLE: [FaultKind; 7] = [
    FaultKind::Transient,
    FaultKind::PlainServerError,
    FaultKind::ConnectionReset,
    FaultKind::TruncatedBody,
    FaultKind::MalformedJson,
    FaultKind::Slow,
    FaultKind::Hang,
];

#[tokio::test(flavor = "multi_thread")]
async fn enrich_under_each_fault_kind_ends_with_the_fault_free_results() {
    let input = indicators(24);
    let expected = fault_free(&input).await;
    for (i, kind) in SURVIVABLE.into_iter().enumerate() {
        // A quarter of requests fail; the server's daily quota equals the
        // client's budget, so a retry the budget did not count would be a 429.
        let budget = 24 * 3;
        let mut config = faulty(&[kind], 0.25, 100 + i as u64);
        config.quota_day = Some(budget);
        let (out, records, stats) = enrich(config, &input, budget).await;
        assert!(out.status.success(), "{kind:?}: stderr: {}", stderr(&out));
        let got = by_indicator(records);
        assert_eq!(
            got, expected,
            "{kind:?}: results differ from a fault-free run"
        );
        assert_eq!(
            stats["by_status"]["429"],
            serde_json::Value::Null,
            "{kind:?}: {stats}"
        );
        // The emulator counts an answer when it is sent, so a slow one the
        // client gave up on is not counted yet: the client's count tells.
        let calls = api_calls(&stderr(&out));
        assert!(
            calls > input.len() as u64,
            "{kind:?}: no fault was injected ({calls} calls)"
        );
        assert!(calls <= u64::from(budget), "{kind:?}: {calls} calls");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lookup_under_every_fault_kind_ends_with_the_fault_free_results() {
    let input = indicators(16);
    let expected = fault_free(&input).await;
    let emu = emulator(faulty(&SURVIVABLE, 0.2, 7)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.arg("--config")
        .arg(config_with_timeout(dir.path()))
        .args([
            "--api-key",
            "fault-key",
            "--quota-minute",
            "0",
            "--quota-day",
            "0",
        ])
        .args(["lookup", "--format", "jsonl"])
        .args(&input);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let got = by_indicator(jsonl(&stdout(&out)));
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn items_that_never_get_an_answer_end_as_error_records() {
    let input = indicators(6);
    for kind in [
        FaultKind::Transient,
        FaultKind::Hang,
        FaultKind::MalformedJson,
    ] {
        let (out, records, stats) = enrich(faulty(&[kind], 1.0, 1), &input, 0).await;
        assert_eq!(
            out.status.code(),
            Some(4),
            "{kind:?}: failed items are a partial failure: {}",
            stderr(&out)
        );
        let got = by_indicator(records);
        assert_eq!(got.len(), input.len(), "{kind:?}: lost items");
        for (indicator, record) in &got {
            let error = &record["error"];
            assert!(
                error["code"].is_string() && error["message"].is_string(),
                "{kind:?}: {indicator} has no explicit error: {record}"
            );
        }
        // Bounded retries: five attempts per item at most.
        let calls = api_calls(&stderr(&out));
        assert!(calls <= 5 * input.len() as u64, "{kind:?}: {calls} calls");
        let answered = stats["requests_total"].as_u64().unwrap_or(0);
        assert!(answered <= calls, "{kind:?}: {answered} > {calls}");
    }
}

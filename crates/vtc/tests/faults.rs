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
/// two seconds per attempt. (One second failed a fault-free answer now and
/// then on a machine loaded eightfold: an item ran out of attempts.)
fn config_with_timeout(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, "timeout = 2\n").expect("config");
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
        // Above the client's two-second timeout.
        fault_delay: Duration::from_secs(4),
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

// --- collect ---------------------------------------------------------------

/// What `vtc collect` kept of each binary, by sha256: the verdict and counts
/// VirusTotal's answer gave (`None` while it is still due). Panics on two
/// rows for one binary.
async fn collected(db: &Path) -> BTreeMap<String, serde_json::Value> {
    let store = store::open(db.to_str().unwrap()).await.expect("store");
    let mut out = BTreeMap::new();
    for b in store.collect_binaries(false).await.expect("binaries") {
        let key = b.sha256.clone().or(b.md5.clone()).expect("a hash");
        let seen = serde_json::json!({
            "md5": b.md5, "sha1": b.sha1, "verdict": b.verdict,
            "malicious": b.malicious, "total": b.total, "in_feed": b.in_feed,
        });
        assert!(
            out.insert(key.clone(), seen).is_none(),
            "two rows for {key}"
        );
    }
    out
}

/// `vtc collect --once SOURCE` with a one-second request timeout; the
/// run's summary (stdout) and what the database holds after it.
async fn collect_once(
    emu: &vt_emulator::RunningEmulator,
    dir: &Path,
    db: &Path,
    source: &[&str],
) -> (
    std::process::Output,
    serde_json::Value,
    BTreeMap<String, serde_json::Value>,
) {
    let config = dir.join("collect.toml");
    std::fs::write(&config, "timeout = 1\n[collect]\nquick_scan_threads = 4\n").expect("config");
    let mut cmd = vtc(&emu.base_url(), db);
    cmd.arg("--config")
        .arg(&config)
        .args([
            "--api-key",
            "fault-key",
            "--quota-minute",
            "0",
            "--quota-day",
            "0",
        ])
        .args(["collect", "--once", "--format", "json"])
        .args(source);
    let out = run(cmd).await;
    let summary = serde_json::from_str(stdout(&out).trim()).unwrap_or(serde_json::Value::Null);
    let kept = collected(db).await;
    (out, summary, kept)
}

/// `collect --once` over a hash list and over a folder under each fault
/// kind: every binary is one row; each looked up ends with the fault-free
/// verdict, and one whose look-up failed for good stays due (counted as
/// failed, reported on stderr) and a later run completes it. Never a hang
/// or a crash.
#[tokio::test(flavor = "multi_thread")]
async fn collect_under_each_fault_kind_keeps_every_binary_once_with_the_fault_free_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hashes: Vec<String> = (0..16)
        .map(|i| {
            use sha2::{Digest, Sha256};
            hex::encode(Sha256::digest(format!("collect-fault-{i}").as_bytes()))
        })
        .collect();
    let list = dir.path().join("hashes.txt");
    std::fs::write(&list, hashes.join("\n") + "\n").expect("list");
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).expect("folder");
    std::fs::write(folder.join("eicar.com"), vt_emulator::EICAR).expect("eicar");
    std::fs::write(folder.join("empty"), b"").expect("empty");
    for i in 0..6u8 {
        std::fs::write(
            folder.join(format!("f{i}.bin")),
            vec![i; 100 + usize::from(i)],
        )
        .expect("file");
    }
    let sources: [(&str, Vec<&str>, usize); 2] = [
        ("hash list", vec!["--hashes", list.to_str().unwrap()], 16),
        ("folder", vec!["--path", folder.to_str().unwrap()], 8),
    ];
    for (name, source, items) in &sources {
        let clean = emulator(EmulatorConfig::default()).await;
        let clean_db = dir.path().join(format!("clean-{}.sqlite", items));
        let (out, summary, expected) = collect_once(&clean, dir.path(), &clean_db, source).await;
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(summary["failed"], 0, "{name}: {summary}");
        assert_eq!(expected.len(), *items, "{name}: {expected:?}");
        assert!(expected.values().all(|b| b["verdict"].is_string()));
        for (i, kind) in SURVIVABLE.into_iter().enumerate() {
            let emu = emulator(faulty(&[kind], 0.25, 300 + i as u64)).await;
            let db = dir.path().join(format!("faulty-{items}-{i}.sqlite"));
            let (out, summary, got) = collect_once(&emu, dir.path(), &db, source).await;
            assert!(out.status.success(), "{name} {kind:?}: {}", stderr(&out));
            assert_eq!(got.len(), *items, "{name} {kind:?}: lost binaries");
            let due: Vec<&String> = got
                .iter()
                .filter(|(_, b)| b["verdict"].is_null())
                .map(|(k, _)| k)
                .collect();
            for (hash, b) in &got {
                if !b["verdict"].is_null() {
                    assert_eq!(Some(b), expected.get(hash), "{name} {kind:?}: {hash}");
                }
            }
            if !due.is_empty() {
                // Failed for now: said so, and the next run completes them.
                assert!(summary["failed"].as_u64() >= Some(1), "{summary}");
                assert!(stderr(&out).contains("look-up failed"), "{}", stderr(&out));
                let again = emulator(EmulatorConfig::default()).await;
                let (out, _, got) = collect_once(&again, dir.path(), &db, source).await;
                assert!(out.status.success(), "{}", stderr(&out));
                assert_eq!(got, expected, "{name} {kind:?}: after the next run");
            } else {
                assert_eq!(got, expected, "{name} {kind:?}");
            }
            let calls = emu.emulator().stats()["requests_total"]
                .as_u64()
                .unwrap_or(0);
            println!(
                "collect {name} {kind:?} at 25 %: {items} binaries, lost 0, duplicated 0, {} due after the run, {calls} answered requests",
                due.len()
            );
        }
    }
}

// --- cortex ----------------------------------------------------------------

/// A Cortex job directory for `service` on one observable.
fn cortex_job(api: &str, service: &str, data_type: &str, data: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = serde_json::json!({
        "dataType": data_type, "data": data, "tlp": 2, "pap": 2,
        "message": "", "parameters": {},
        "config": {
            "service": service, "key": "fault-key", "api_url": api,
            "polling_interval": 0.05, "polling_timeout": 30,
            "check_tlp": true, "max_tlp": 2, "check_pap": true, "max_pap": 2,
            "auto_extract_artifacts": false, "jobTimeout": 60,
        },
    });
    std::fs::create_dir_all(dir.path().join("input")).expect("input dir");
    std::fs::write(dir.path().join("input/input.json"), input.to_string()).expect("input");
    dir
}

/// `vtc cortex JOBDIR` with a one-second request timeout: the exit code and
/// output/output.json.
async fn cortex_run(
    api: &str,
    service: &str,
    data_type: &str,
    data: &str,
) -> (Option<i32>, serde_json::Value) {
    let dir = cortex_job(api, service, data_type, data);
    let config = config_with_timeout(dir.path());
    let mut cmd = vtc(api, &db_in(&dir));
    cmd.arg("--config")
        .arg(config)
        .args(["--quota-minute", "0", "--quota-day", "0", "cortex"])
        .arg(dir.path());
    let out = run(cmd).await;
    let text = std::fs::read_to_string(dir.path().join("output/output.json"))
        .unwrap_or_else(|e| panic!("no output.json ({e}): {}", stderr(&out)));
    let report = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (out.status.code(), report)
}

/// What must match between a faulty and a clean Cortex report.
fn cortex_essence(report: &serde_json::Value) -> serde_json::Value {
    serde_json::json!([report["success"], report["summary"], report["artifacts"]])
}

/// GetReport on a hash and a domain, Scan of a URL, under each fault kind:
/// each job ends with the fault-free report or `{"success": false,
/// "errorMessage": …}` and exit 1; never a hang, a crash or no output.
#[tokio::test(flavor = "multi_thread")]
async fn cortex_jobs_under_each_fault_kind_give_the_fault_free_report_or_a_json_failure() {
    let jobs = [
        ("get", "hash", EICAR_SHA256),
        ("get", "domain", "example.com"),
        ("scan", "url", "http://cortex-fault.example/landing"),
    ];
    let clean = emulator(EmulatorConfig::default()).await;
    let mut expected = Vec::new();
    for (service, data_type, data) in jobs {
        let (code, report) = cortex_run(&clean.base_url(), service, data_type, data).await;
        assert_eq!(code, Some(0), "{service} {data_type}: {report}");
        assert_eq!(report["success"], true, "{report}");
        expected.push(cortex_essence(&report));
    }
    for (i, kind) in SURVIVABLE.into_iter().enumerate() {
        let emu = emulator(faulty(&[kind], 0.25, 500 + i as u64)).await;
        let (mut right, mut failed) = (0, 0);
        for ((service, data_type, data), want) in jobs.iter().zip(&expected) {
            let (code, report) = cortex_run(&emu.base_url(), service, data_type, data).await;
            if report["success"] == true {
                assert_eq!(code, Some(0), "{kind:?} {service}: {report}");
                assert_eq!(
                    &cortex_essence(&report),
                    want,
                    "{kind:?} {service} {data_type}"
                );
                right += 1;
            } else {
                assert_eq!(report["success"], false, "{kind:?}: {report}");
                assert!(
                    report["errorMessage"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty()),
                    "{kind:?}: {report}"
                );
                assert_eq!(code, Some(1), "{kind:?}: {report}");
                println!(
                    "cortex {kind:?}: {service} {data_type} failed: {}",
                    report["errorMessage"]
                );
                failed += 1;
            }
        }
        println!("cortex {kind:?} at 25 %: {right} fault-free reports, {failed} JSON failures");
    }
}

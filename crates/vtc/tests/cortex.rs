//! `vtc cortex JOBDIR` end to end: job directories built as Cortex builds
//! them (input/input.json with dataType, data or file, tlp, pap and the
//! analyzer's config), each flavour against the emulator, the Cortex
//! output shape, taxonomies, artifacts, refusals, and the API calls each
//! flavour spends (from the emulator's stats). The reports are also read
//! back through cortexutils (PyPI), the library Cortex analyzers are built
//! on; and the analyzer definitions in integrations/cortex/ are checked
//! against the options the crate reads.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use vt_emulator::{world_class, EmulatorConfig, RunningEmulator, WorldClass, EICAR};

const PREMIUM: &str = "cccccccc00000000000000000000000000000000000000000000000000000007";
const PUBLIC: &str = "dddddddd00000000000000000000000000000000000000000000000000000008";

async fn keyed_emulator() -> RunningEmulator {
    emulator(EmulatorConfig {
        premium_keys: vec![PREMIUM.into()],
        public_keys: vec![PUBLIC.into()],
        ..EmulatorConfig::default()
    })
    .await
}

/// The input.json Cortex writes for `service`, with the given observable
/// fields and config entries laid over the defaults.
fn cortex_input(emu: &RunningEmulator, service: &str, observable: Value, config: Value) -> Value {
    let mut input = json!({
        "tlp": 2, "pap": 2, "message": "", "parameters": {},
        "config": {
            "service": service, "key": PREMIUM, "api_url": emu.base_url(),
            "polling_interval": 0.05, "polling_timeout": 30,
            "check_tlp": true, "max_tlp": 2, "check_pap": true, "max_pap": 2,
            "auto_extract_artifacts": false, "jobTimeout": 30,
            "proxy": {"http": null, "https": null}, "cacerts": null,
        },
    });
    for (k, v) in observable.as_object().unwrap() {
        input[k] = v.clone();
    }
    for (k, v) in config.as_object().unwrap() {
        input["config"][k] = v.clone();
    }
    input
}

/// A job directory: input/input.json and the given input files.
fn job_dir(input: &Value, files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("input")).unwrap();
    std::fs::write(dir.path().join("input/input.json"), input.to_string()).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join("input").join(name), bytes).unwrap();
    }
    dir
}

struct Run {
    out: Output,
    report: Value,
    text: String,
    /// Requests by route this job made.
    calls: serde_json::Map<String, Value>,
    total: u64,
}

fn by_route(emu: &RunningEmulator) -> serde_json::Map<String, Value> {
    emu.emulator().stats()["by_route"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// `vtc cortex JOBDIR`; the report read from output/output.json.
async fn run_job(emu: &RunningEmulator, dir: &tempfile::TempDir) -> Run {
    let before = by_route(emu);
    let total_before = requests(emu);
    let mut cmd = vtc(&emu.base_url(), &db_in(dir));
    cmd.args(["--quota-minute", "0", "cortex"]).arg(dir.path());
    let out = run(cmd).await;
    let text = std::fs::read_to_string(dir.path().join("output/output.json"))
        .unwrap_or_else(|e| panic!("no output.json ({e}): {}", stderr(&out)));
    let report: Value = serde_json::from_str(&text).unwrap();
    let mut calls = serde_json::Map::new();
    for (route, n) in by_route(emu) {
        let was = before.get(&route).and_then(Value::as_u64).unwrap_or(0);
        let now = n.as_u64().unwrap_or(0);
        if now > was {
            calls.insert(route, json!(now - was));
        }
    }
    let total = requests(emu) - total_before;
    assert!(
        !text.contains(PREMIUM) && !text.contains(PUBLIC),
        "key in {text}"
    );
    assert!(!stderr(&out).contains(PREMIUM), "key on stderr");
    check_with_cortexutils(dir);
    Run {
        out,
        report,
        text,
        calls,
        total,
    }
}

/// The report as cortexutils reads it (see tests/cortex/cortexutils_harness.py).
fn check_with_cortexutils(dir: &tempfile::TempDir) {
    if cfg!(missing_cortexutils) {
        return; // the test below is ignored with the reason; here just skip
    }
    let harness = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/cortex/cortexutils_harness.py"
    );
    let out = Command::new("python3")
        .arg(harness)
        .arg(dir.path())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success() && stdout(&out).trim() == "ok",
        "cortexutils disagrees: {}{}",
        stdout(&out),
        stderr(&out)
    );
}

fn calls(run: &Run, route: &str) -> u64 {
    run.calls.get(route).and_then(Value::as_u64).unwrap_or(0)
}

/// Checks the Cortex success shape: success, summary.taxonomies with the
/// four fields, artifacts with their data types, operations, full.
fn assert_cortex_success(run: &Run, predicate: &str) -> Vec<Value> {
    let r = &run.report;
    assert_eq!(r["success"], true, "{}: {}", run.text, stderr(&run.out));
    assert!(run.out.status.success(), "{}", stderr(&run.out));
    assert!(r["full"].is_object(), "{r}");
    assert!(r["operations"].is_array(), "{r}");
    let taxonomies = r["summary"]["taxonomies"].as_array().expect("taxonomies");
    for t in taxonomies {
        let t = t.as_object().unwrap();
        assert_eq!(t.len(), 4, "{t:?}");
        assert!(["info", "safe", "suspicious", "malicious"].contains(&t["level"].as_str().unwrap()));
        assert_eq!(t["namespace"], "VT");
        assert!(
            t["predicate"].is_string() && t["value"].is_string(),
            "{t:?}"
        );
    }
    if predicate != "DownloadSample" {
        assert_eq!(taxonomies[0]["predicate"], predicate, "{r}");
    }
    for a in r["artifacts"].as_array().expect("artifacts") {
        let data_type = a["dataType"].as_str().expect("dataType");
        if data_type == "file" {
            assert!(a["file"].is_string() && a["filename"].is_string(), "{a}");
        } else {
            assert!(
                ["domain", "ip", "url", "hash", "other"].contains(&data_type),
                "{a}"
            );
            assert!(a["data"].as_str().is_some_and(|d| !d.is_empty()), "{a}");
        }
    }
    taxonomies.clone()
}

fn assert_cortex_failure(run: &Run, wanted: &str) {
    let r = &run.report;
    assert_eq!(r["success"], false, "{r}");
    let message = r["errorMessage"].as_str().expect("errorMessage");
    assert!(message.contains(wanted), "{message}");
    assert_eq!(run.out.status.code(), Some(1), "{}", stderr(&run.out));
    if let Some(config) = r["input"]["config"].as_object() {
        assert_eq!(config["key"], "REMOVED", "{r}");
    }
}

fn synthetic_hash(class: WorldClass, seed: &str) -> String {
    use sha2::{Digest, Sha256};
    (0u32..)
        .map(|i| hex::encode(Sha256::digest(format!("{seed}{i}"))))
        .find(|h| world_class(ioc::IndicatorKind::File, h) == class)
        .unwrap()
}

#[cfg_attr(
    missing_cortexutils,
    ignore = "cortexutils is not installed (python3 -m pip install cortexutils)"
)]
#[tokio::test(flavor = "multi_thread")]
async fn get_report_answers_each_data_type_in_one_call_with_the_cortex_shape() {
    let emu = keyed_emulator().await;
    let malicious = synthetic_hash(WorldClass::Malicious, "cortex-get");
    let cases = [
        ("hash", json!({"dataType": "hash", "data": EICAR_SHA256})),
        ("hash", json!({"dataType": "hash", "data": malicious})),
        (
            "domain",
            json!({"dataType": "domain", "data": "example.com"}),
        ),
        (
            "fqdn",
            json!({"dataType": "fqdn", "data": "www.example.com"}),
        ),
        ("ip", json!({"dataType": "ip", "data": "8.8.8.8"})),
        (
            "url",
            json!({"dataType": "url", "data": "http://example.com/"}),
        ),
    ];
    for (kind, observable) in cases {
        let dir = job_dir(
            &cortex_input(&emu, "get", observable.clone(), json!({})),
            &[],
        );
        let run = run_job(&emu, &dir).await;
        let taxonomies = assert_cortex_success(&run, "GetReport");
        assert_eq!(run.total, 1, "{kind}: one call, got {:?}", run.calls);
        assert!(
            taxonomies[0]["value"].as_str().unwrap().contains('/'),
            "{taxonomies:?}"
        );
        match kind {
            "hash" | "url" => assert!(
                taxonomies.iter().any(|t| t["value"]
                    .as_str()
                    .unwrap()
                    .ends_with("contacted domain(s)")),
                "{observable}: {taxonomies:?}"
            ),
            _ => assert!(
                taxonomies
                    .iter()
                    .any(|t| t["value"].as_str().unwrap().ends_with("resolution(s)")),
                "{observable}: {taxonomies:?}"
            ),
        }
    }
    // EICAR is malicious, with its YARA rule as an artifact.
    let dir = job_dir(
        &cortex_input(
            &emu,
            "get",
            json!({"dataType": "hash", "data": EICAR_SHA256}),
            json!({}),
        ),
        &[],
    );
    let run = run_job(&emu, &dir).await;
    let taxonomies = assert_cortex_success(&run, "GetReport");
    assert_eq!(taxonomies[0]["level"], "malicious");
    let artifacts = run.report["artifacts"].as_array().unwrap();
    assert!(
        artifacts.iter().any(|a| a["dataType"] == "other"
            && a["data"] == "EICAR_Test_File"
            && a["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == "detection:YARA")),
        "{artifacts:?}"
    );
    assert!(run.report["full"]["highlights"]["crowdsourced_yara_results"].is_array());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_observable_is_hashed_locally_and_looked_up_once() {
    let emu = keyed_emulator().await;
    let input = cortex_input(
        &emu,
        "get",
        json!({"dataType": "file", "file": "attachment", "filename": "eicar.com"}),
        json!({}),
    );
    let dir = job_dir(&input, &[("attachment", EICAR)]);
    let run = run_job(&emu, &dir).await;
    assert_cortex_success(&run, "GetReport");
    assert_eq!(run.total, 1, "{:?}", run.calls);
    assert_eq!(run.report["full"]["id"], EICAR_SHA256);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malicious_files_give_contacted_hosts_urls_yara_and_ids_artifacts() {
    let emu = keyed_emulator().await;
    let hash = synthetic_hash(WorldClass::Malicious, "cortex-artifacts");
    let dir = job_dir(
        &cortex_input(
            &emu,
            "get",
            json!({"dataType": "hash", "data": hash}),
            json!({}),
        ),
        &[],
    );
    let run = run_job(&emu, &dir).await;
    assert_cortex_success(&run, "GetReport");
    let artifacts = run.report["artifacts"].as_array().unwrap();
    let has = |data_type: &str, tag: &str| {
        artifacts.iter().any(|a| {
            a["dataType"] == data_type
                && a["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t.as_str().unwrap().starts_with(tag)))
        })
    };
    let full = &run.report["full"];
    let count = |rel: &str| full["relations"][rel]["count"].as_u64().unwrap_or(0);
    if count("contacted_domains") > 0 {
        assert!(has("domain", "vt:contacted_domains"), "{artifacts:?}");
    }
    if count("contacted_ips") > 0 {
        assert!(has("ip", "vt:contacted_ips"), "{artifacts:?}");
    }
    if count("contacted_urls") > 0 {
        assert!(has("url", "vt:contacted_urls"), "{artifacts:?}");
    }
    assert!(
        count("contacted_domains") + count("contacted_ips") > 0,
        "a malicious file contacts something: {full}"
    );
    assert!(has("other", "detection:YARA"), "{artifacts:?}");
    assert!(has("other", "detection:IDS"), "{artifacts:?}");
    assert!(full["highlights"]["sandbox_verdicts"].is_object(), "{full}");
    // Each artifact once; never the observable itself.
    for (i, a) in artifacts.iter().enumerate() {
        assert_ne!(a["data"], hash.as_str());
        assert!(!artifacts[..i].contains(a), "{a} twice");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_highlighted_engine_is_not_detected_only_when_it_did_not_detect() {
    let emu = keyed_emulator().await;
    // Which engines flagged EICAR and which did not, from the report itself.
    let dir = job_dir(
        &cortex_input(
            &emu,
            "get",
            json!({"dataType": "hash", "data": EICAR_SHA256}),
            json!({}),
        ),
        &[],
    );
    let run = run_job(&emu, &dir).await;
    let results = run.report["full"]["attributes"]["last_analysis_results"]
        .as_object()
        .unwrap();
    let engine = |detected: bool| {
        results
            .iter()
            .find(|(_, r)| {
                matches!(r["category"].as_str(), Some("malicious" | "suspicious")) == detected
            })
            .map(|(name, _)| name.clone())
            .unwrap()
    };
    let (hit, miss) = (engine(true), engine(false));
    let dir = job_dir(
        &cortex_input(
            &emu,
            "get",
            json!({"dataType": "hash", "data": EICAR_SHA256}),
            json!({"highlighted_antivirus": [hit, miss, "NoSuchEngine"]}),
        ),
        &[],
    );
    let run = run_job(&emu, &dir).await;
    let taxonomies = assert_cortex_success(&run, "GetReport");
    let not_detected: Vec<&str> = taxonomies
        .iter()
        .filter(|t| t["value"] == "Not detected!")
        .map(|t| t["predicate"].as_str().unwrap())
        .collect();
    assert_eq!(
        not_detected,
        [miss.as_str(), "NoSuchEngine"],
        "{taxonomies:?}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tlp_and_pap_above_the_maximum_are_refused_before_any_call() {
    let emu = keyed_emulator().await;
    for (field, message) in [
        ("tlp", "TLP is higher than allowed."),
        ("pap", "PAP is higher than allowed."),
    ] {
        let mut input = cortex_input(
            &emu,
            "get",
            json!({"dataType": "hash", "data": EICAR_SHA256}),
            json!({}),
        );
        input[field] = json!(3);
        let dir = job_dir(&input, &[]);
        let run = run_job(&emu, &dir).await;
        assert_cortex_failure(&run, message);
        assert_eq!(run.total, 0, "{:?}", run.calls);
    }
    // Unchecked, the same level goes through.
    let mut input = cortex_input(
        &emu,
        "get",
        json!({"dataType": "hash", "data": EICAR_SHA256}),
        json!({"check_tlp": false}),
    );
    input["tlp"] = json!(3);
    let run = run_job(&emu, &job_dir(&input, &[])).await;
    assert_cortex_success(&run, "GetReport");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_report_is_rescanned_and_a_recent_one_is_not() {
    let emu = keyed_emulator().await;
    let observable = json!({"dataType": "hash", "data": EICAR_SHA256});
    // Far newer than 100 years: no rescan, one call.
    let dir = job_dir(
        &cortex_input(
            &emu,
            "get",
            observable.clone(),
            json!({"rescan_hash_older_than_days": 36500}),
        ),
        &[],
    );
    let run = run_job(&emu, &dir).await;
    assert_cortex_success(&run, "GetReport");
    assert_eq!(run.total, 1, "{:?}", run.calls);
    assert_eq!(calls(&run, "POST /files/{id}/analyse"), 0);
    // Older than 0 days: rescanned, the taxonomy from the fresh analysis.
    let dir = job_dir(
        &cortex_input(
            &emu,
            "get",
            observable,
            json!({"rescan_hash_older_than_days": 0}),
        ),
        &[],
    );
    let run = run_job(&emu, &dir).await;
    assert_cortex_success(&run, "GetReport");
    assert_eq!(
        calls(&run, "POST /files/{id}/analyse"),
        1,
        "{:?}",
        run.calls
    );
    assert_eq!(calls(&run, "GET /files/{id}"), 1, "{:?}", run.calls);
    assert!(calls(&run, "GET /analyses/{id}") >= 1, "{:?}", run.calls);
    assert_eq!(
        run.report["full"]["analysis"]["attributes"]["status"],
        "completed"
    );
    assert!(run.report["full"]["notes"][0]
        .as_str()
        .unwrap()
        .contains("rescanned"));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_uploads_a_file_or_submits_a_url_and_reads_relations_from_its_own_collection() {
    let emu = keyed_emulator().await;
    let input = cortex_input(
        &emu,
        "scan",
        json!({"dataType": "file", "file": "sample.bin", "filename": "sample.bin"}),
        json!({"highlighted_antivirus": ["Avast"]}),
    );
    let dir = job_dir(
        &input,
        &[("sample.bin", b"a sample nobody has seen, for cortex")],
    );
    let run = run_job(&emu, &dir).await;
    assert_cortex_success(&run, "Scan");
    assert_eq!(calls(&run, "POST /files"), 1, "{:?}", run.calls);
    assert_eq!(calls(&run, "GET /files/{id}"), 1, "{:?}", run.calls);
    let polls = calls(&run, "GET /analyses/{id}");
    assert!(polls >= 1);
    assert_eq!(run.total, 2 + polls, "{:?}", run.calls);

    let input = cortex_input(
        &emu,
        "scan",
        json!({"dataType": "url", "data": "http://cortex-scan.example/landing"}),
        json!({}),
    );
    let run = run_job(&emu, &job_dir(&input, &[])).await;
    assert_cortex_success(&run, "Scan");
    assert_eq!(calls(&run, "POST /urls"), 1, "{:?}", run.calls);
    assert_eq!(calls(&run, "GET /urls/{id}"), 1, "{:?}", run.calls);
    assert!(
        !run.calls.keys().any(|r| r.contains("/files")),
        "a URL's relations come from /urls/: {:?}",
        run.calls
    );
    assert_eq!(run.report["full"]["type"], "url");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rescan_analyses_the_hash_again_and_reports_the_fresh_verdict() {
    let emu = keyed_emulator().await;
    let input = cortex_input(
        &emu,
        "rescan",
        json!({"dataType": "hash", "data": EICAR_SHA256}),
        json!({}),
    );
    let run = run_job(&emu, &job_dir(&input, &[])).await;
    let taxonomies = assert_cortex_success(&run, "Rescan");
    assert_eq!(taxonomies[0]["level"], "malicious", "{taxonomies:?}");
    assert_eq!(
        calls(&run, "POST /files/{id}/analyse"),
        1,
        "{:?}",
        run.calls
    );
    assert_eq!(calls(&run, "GET /files/{id}"), 1, "{:?}", run.calls);
    let polls = calls(&run, "GET /analyses/{id}");
    assert_eq!(run.total, 2 + polls, "{:?}", run.calls);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn download_sample_is_a_file_artifact_and_a_public_key_a_json_failure() {
    let emu = keyed_emulator().await;
    let input = cortex_input(
        &emu,
        "download",
        json!({"dataType": "hash", "data": EICAR_SHA256}),
        json!({}),
    );
    let dir = job_dir(&input, &[]);
    let run = run_job(&emu, &dir).await;
    assert_cortex_success(&run, "DownloadSample");
    assert_eq!(run.total, 1, "{:?}", run.calls);
    assert!(run.report["summary"]["taxonomies"]
        .as_array()
        .unwrap()
        .is_empty());
    let artifact = &run.report["artifacts"][0];
    assert_eq!(artifact["dataType"], "file");
    let saved = dir
        .path()
        .join("output")
        .join(artifact["file"].as_str().unwrap());
    assert_eq!(std::fs::read(saved).unwrap(), EICAR);
    assert_eq!(run.report["full"]["sample"]["sha256"], EICAR_SHA256);

    let mut input = input;
    input["config"]["key"] = json!(PUBLIC);
    let dir = job_dir(&input, &[]);
    let run = run_job(&emu, &dir).await;
    assert_cortex_failure(&run, "premium");
    assert!(!dir.path().join("output").join(EICAR_SHA256).exists());

    // download_sample on GetReport with a public key: the report, and a note.
    let input = json!({"dataType": "hash", "data": EICAR_SHA256});
    let mut input = cortex_input(&emu, "get", input, json!({"download_sample": true}));
    input["config"]["key"] = json!(PUBLIC);
    let run = run_job(&emu, &job_dir(&input, &[])).await;
    assert_cortex_success(&run, "GetReport");
    assert!(run.report["full"]["notes"][0]
        .as_str()
        .unwrap()
        .contains("not downloaded"));
    // ... and with a premium key, the sample comes along.
    input["config"]["key"] = json!(PREMIUM);
    let dir = job_dir(&input, &[]);
    let run = run_job(&emu, &dir).await;
    assert_cortex_success(&run, "GetReport");
    assert_eq!(run.report["artifacts"][0]["dataType"], "file");
    assert_eq!(run.total, 2, "{:?}", run.calls);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_jobs_are_json_failures_never_crashes_or_false_successes() {
    let emu = keyed_emulator().await;
    let unknown = synthetic_hash(WorldClass::Unknown, "cortex-unknown");
    let cases = [
        (
            json!({"dataType": "hash", "data": unknown}),
            json!({}),
            "Not found",
        ),
        (
            json!({"dataType": "hash", "data": "nope"}),
            json!({}),
            "not an md5",
        ),
        (
            json!({"dataType": "mail", "data": "a@b.c"}),
            json!({}),
            "not supported",
        ),
        (
            json!({"dataType": "file", "file": "../../etc/passwd", "filename": "x"}),
            json!({}),
            "not a file name inside",
        ),
        (
            json!({"dataType": "file", "filename": "x"}),
            json!({}),
            "file is missing",
        ),
        (
            json!({"dataType": "hash", "data": EICAR_SHA256}),
            json!({"service": "explode"}),
            "config.service",
        ),
        (
            json!({"dataType": "hash", "data": EICAR_SHA256}),
            json!({"polling_interval": "often"}),
            "config.polling_interval",
        ),
        (
            json!({"dataType": "url", "data": "http://x.example/"}),
            json!({"service": "rescan"}),
            "not supported by VirusTotal_Rescan",
        ),
    ];
    for (observable, config, wanted) in cases {
        let dir = job_dir(&cortex_input(&emu, "get", observable, config), &[]);
        let run = run_job(&emu, &dir).await;
        assert_cortex_failure(&run, wanted);
    }
    // Not JSON at all: still a failure document.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("input")).unwrap();
    std::fs::write(dir.path().join("input/input.json"), "{not json").unwrap();
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.arg("cortex").arg(dir.path());
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("output/output.json")).unwrap())
            .unwrap();
    assert_eq!(report["success"], false);
    // No job at all is a usage error.
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.arg("cortex").arg(dir.path().join("missing"));
    assert_eq!(run(cmd).await.status.code(), Some(2));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_older_form_reads_stdin_and_writes_stdout() {
    let emu = keyed_emulator().await;
    let input = cortex_input(
        &emu,
        "get",
        json!({"dataType": "ip", "data": "8.8.8.8"}),
        json!({}),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--quota-minute", "0", "cortex"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["success"], true, "{report}");
    assert_eq!(report["full"]["type"], "ip_address");
    emu.shutdown().await;
}

/// integrations/cortex/*.json parse as Cortex analyzer definitions, and
/// their configurationItems are exactly the options the crate reads.
#[test]
fn the_analyzer_definitions_match_the_options_the_crate_reads() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../../integrations/cortex");
    for flavour in cortex::Flavour::ALL {
        let path = format!("{folder}/{}.json", flavour.analyzer());
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let def: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(def["name"], flavour.analyzer(), "{path}");
        for field in [
            "version",
            "author",
            "url",
            "license",
            "description",
            "command",
            "baseConfig",
        ] {
            assert!(
                def[field].as_str().is_some_and(|s| !s.is_empty()),
                "{path}: {field}"
            );
        }
        assert_eq!(def["config"]["service"], flavour.service(), "{path}");
        let data_types: Vec<&str> = def["dataTypeList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(data_types, flavour.data_types(), "{path}");
        let items = def["configurationItems"].as_array().unwrap();
        let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
        assert_eq!(names, flavour.options(), "{path}");
        for item in items {
            assert!(
                ["string", "number", "boolean"].contains(&item["type"].as_str().unwrap()),
                "{path}: {item}"
            );
            assert!(
                item["multi"].is_boolean() && item["required"].is_boolean(),
                "{item}"
            );
            assert!(item["description"].is_string(), "{item}");
            if let Some(default) = item.get("defaultValue") {
                let wanted = match item["type"].as_str().unwrap() {
                    "number" => default.is_number(),
                    "boolean" => default.is_boolean(),
                    _ => default.is_string(),
                };
                assert!(wanted, "{path}: {item}");
            }
        }
        // Each default is what the crate takes when the item is left out.
        let mut config = serde_json::Map::new();
        config.insert("service".into(), json!(flavour.service()));
        for item in items {
            if let Some(default) = item.get("defaultValue") {
                config.insert(item["name"].as_str().unwrap().into(), default.clone());
            }
        }
        let with_defaults = json!({"dataType": "hash", "config": config}).to_string();
        let bare =
            json!({"dataType": "hash", "config": {"service": flavour.service()}}).to_string();
        let a = cortex::parse_input(with_defaults.as_bytes())
            .unwrap()
            .config;
        let b = cortex::parse_input(bare.as_bytes()).unwrap().config;
        assert_eq!(a.polling_interval, b.polling_interval, "{path}");
        assert_eq!(a.polling_timeout, b.polling_timeout, "{path}");
        assert_eq!(a.download_sample, b.download_sample, "{path}");
    }
}

//! The service over a faulty VirusTotal (every fault kind of the
//! emulator): `GET /v1/observables` answers the record a fault-free run
//! answers, or a JSON 502/503/504 (429 for VirusTotal's own 429s) — never
//! a hang, never a wrong record, never another status. A key backed off
//! after a 429 is a 429 with `Retry-After` at the lookup timeout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use support::{start_with_file, Service};
use vt_emulator::{EmulatorConfig, FaultKind};

/// Indicators the same in every run (the emulator's world is a function
/// of the id), so the faulty run can be compared with the clean one.
fn indicators() -> Vec<String> {
    use sha2::{Digest, Sha256};
    let mut out: Vec<String> = (0..6)
        .map(|i| hex_of(&Sha256::digest(format!("serve-fault-{i}").as_bytes())))
        .collect();
    out.push(support::EICAR_SHA256.to_owned());
    out.push("example.com".to_owned());
    out.push("8.8.8.8".to_owned());
    out
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A one-second client timeout, so `slow` and `hang` cost seconds.
async fn service(config: EmulatorConfig) -> Service {
    let file: app::FileConfig = toml::from_str("timeout = 1\n").unwrap();
    let limits = server::Limits {
        lookup_timeout: Duration::from_secs(8),
        ..server::Limits::default()
    };
    start_with_file(config, limits, file).await
}

/// What must match between a faulty and a clean run.
fn essence(record: &Value) -> Value {
    serde_json::json!([
        record["indicator"],
        record["type"],
        record["id"],
        record["verdict"],
        record["malicious"],
        record["suspicious"],
        record["total"],
        record["error"],
    ])
}

/// Status, JSON body and `Retry-After` of one lookup, within 90 s.
async fn lookup(svc: &Service, indicator: &str, kind: &str) -> (StatusCode, Value, Option<String>) {
    let path = format!("/v1/observables/{indicator}");
    let resp = tokio::time::timeout(
        Duration::from_secs(90),
        svc.send(server::Verb::Get, &path, Some(&svc.tokens.analyst), None),
    )
    .await
    .unwrap_or_else(|_| panic!("{kind}: {indicator}: no answer within 90 s"));
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = support::answer(resp).await;
    (status, body, retry_after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_gives_the_right_record_or_a_json_gateway_error() {
    let clean = service(EmulatorConfig::default()).await;
    let mut expected = Vec::new();
    for indicator in indicators() {
        let (status, record, _) = lookup(&clean, &indicator, "none").await;
        assert_eq!(status, StatusCode::OK, "{indicator}: {record}");
        expected.push(essence(&record));
    }
    clean.stop().await;

    let runs = FaultKind::ALL.iter().map(|(name, kind)| {
        let expected = expected.clone();
        async move {
            let svc = service(EmulatorConfig {
                fault_rate: 0.5,
                fault_seed: 7,
                fault_kinds: vec![*kind],
                fault_delay: Duration::from_secs(3),
                ..EmulatorConfig::default()
            })
            .await;
            let (mut right, mut refused) = (0, 0);
            for (indicator, expected) in indicators().iter().zip(&expected) {
                let (status, body, retry_after) = lookup(&svc, indicator, name).await;
                match status {
                    StatusCode::OK => {
                        assert_eq!(
                            &essence(&body),
                            expected,
                            "{name}: {indicator}: a wrong record"
                        );
                        right += 1;
                    }
                    StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT => {
                        assert!(body["error"]["code"].is_string(), "{name}: {body}");
                        refused += 1;
                    }
                    StatusCode::TOO_MANY_REQUESTS if *kind == FaultKind::RateLimited => {
                        assert_eq!(
                            body["error"]["code"], "QuotaExceededError",
                            "{name}: {body}"
                        );
                        let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
                        assert!((1..=120).contains(&seconds), "{seconds}");
                        refused += 1;
                    }
                    other => panic!("{name}: {indicator}: {other} {body}"),
                }
            }
            svc.stop().await;
            (*name, right, refused)
        }
    });
    let results = futures_util::future::join_all(runs).await;
    for (name, right, refused) in &results {
        println!("fault {name}: {right} right records, {refused} JSON errors");
    }
    let total_right: usize = results.iter().map(|r| r.1).sum();
    assert!(
        total_right > 0,
        "retries should carry most lookups through: {results:?}"
    );
}

/// The service's records of a batch job, by sequence number, once it ends
/// (bounded: 120 s).
async fn job_records(svc: &Service, inputs: &[String]) -> (Value, Vec<Value>) {
    let token = Some(svc.tokens.analyst.as_str());
    let body = serde_json::to_string(inputs).unwrap();
    let resp = svc
        .send(server::Verb::Post, "/v1/enrich", token, Some(&body))
        .await;
    let (status, job) = support::answer(resp).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let job = loop {
        let (status, job) = svc.get(&format!("/v1/jobs/{id}"), token).await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if !job["finished_at"].is_null() {
            break job;
        }
        assert!(std::time::Instant::now() < deadline, "never ended: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (status, page) = svc
        .get(&format!("/v1/jobs/{id}/results?limit=1000"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = page["data"].as_array().unwrap().clone();
    (job, items)
}

/// A batch job (`POST /v1/enrich`) over a VirusTotal failing 10 % of
/// requests in every way but 429 ends with exactly the records of a
/// fault-free run: each item once, in order, none failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_job_at_a_ten_percent_fault_rate_ends_with_the_fault_free_results() {
    use sha2::{Digest, Sha256};
    let mut inputs: Vec<String> = (0..96)
        .map(|i| hex_of(&Sha256::digest(format!("serve-job-fault-{i}").as_bytes())))
        .collect();
    inputs.extend(["example.com", "8.8.8.8", "http://job-fault.example/x"].map(String::from));
    inputs.push(support::EICAR_SHA256.to_owned());

    let clean = service(EmulatorConfig::default()).await;
    let (job, expected) = job_records(&clean, &inputs).await;
    assert_eq!(job["state"], "done", "{job}");
    clean.stop().await;
    assert_eq!(expected.len(), inputs.len());

    let kinds: Vec<FaultKind> = FaultKind::ALL
        .iter()
        .map(|(_, k)| *k)
        .filter(|k| *k != FaultKind::RateLimited)
        .collect();
    let svc = service(EmulatorConfig {
        fault_rate: 0.1,
        fault_seed: 10,
        fault_kinds: kinds,
        fault_delay: Duration::from_secs(3),
        ..EmulatorConfig::default()
    })
    .await;
    let (job, got) = job_records(&svc, &inputs).await;
    let requests = svc.emulator_requests();
    svc.stop().await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["items"]["done"], inputs.len(), "{job}");
    assert_eq!(job["items"]["failed"], 0, "{job}");
    assert_eq!(got.len(), inputs.len(), "lost or duplicated items");
    for (i, (got, want)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(got["seq"], i, "{got}");
        assert_eq!(got["input"], inputs[i], "{got}");
        assert_eq!(
            essence(&got["record"]),
            essence(&want["record"]),
            "item {i} differs from the fault-free run"
        );
    }
    println!(
        "job at 10 % faults: {} items, lost 0, duplicated 0, differing 0, {requests} answered requests",
        inputs.len()
    );
}

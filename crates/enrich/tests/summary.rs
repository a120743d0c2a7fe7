//! What a batch reports about its lines: each line counted once, and the
//! engines behind a verdict named in its record.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use enrich::{BatchOptions, EnrichOptions, Enricher};
use std::sync::Arc;
use verdict::{Record, Verdict};
use vt_api::{ApiKey, Client, QuotaBudget};
use vt_emulator::{Emulator, EmulatorConfig};

/// EICAR's sha256: the emulator's world has it flagged by most engines.
const EICAR: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

async fn run(lines: &[&str]) -> (enrich::Summary, Vec<Record>) {
    let emu = Emulator::new(EmulatorConfig::default())
        .expect("emulator config")
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator listens");
    let client = Client::builder()
        .api_key(ApiKey::new("summary-test-key").expect("key"))
        .base_url(emu.base_url())
        .quota_budget(QuotaBudget::UNLIMITED)
        .build()
        .expect("client");
    let store = Arc::new(store::SqliteStore::open_in_memory().await.expect("store"));
    let enricher = Enricher::new(client, store, EnrichOptions::default());
    let input: Vec<std::io::Result<String>> = lines.iter().map(|l| Ok((*l).to_owned())).collect();
    let mut records = Vec::new();
    let summary = enricher
        .run_batch(
            futures_util::stream::iter(input),
            &BatchOptions {
                concurrency: 4,
                job: None,
            },
            |r| {
                records.push(r.clone());
                Ok(())
            },
            &(),
        )
        .await
        .expect("batch runs");
    emu.shutdown().await;
    (summary, records)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_line_counts_once_as_invalid_and_never_as_failed() {
    let (summary, records) = run(&["mailto:someone", "example.com", "not an indicator"]).await;
    assert_eq!(records.len(), 3);
    assert_eq!(summary.records, 3);
    assert_eq!(summary.invalid, 2, "{summary:?}");
    assert_eq!(
        summary.failed, 0,
        "an invalid line is not a failed lookup: {summary:?}"
    );
    let verdicts: u64 = summary.by_verdict.values().sum();
    assert_eq!(
        verdicts + summary.invalid + summary.failed,
        summary.records,
        "every record counted exactly once: {summary:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flagged_report_names_its_top_engines_in_the_record() {
    let (_, records) = run(&[EICAR, "example.com"]).await;
    let bad = &records[0];
    assert_eq!(bad.verdict, Verdict::Bad, "{bad:?}");
    assert!(!bad.detections.is_empty(), "{bad:?}");
    assert!(bad.detections.len() <= verdict::MAX_DETECTIONS);
    assert_eq!(bad.detections[0].category, "malicious");
    assert!(bad
        .detections
        .iter()
        .all(|d| !d.engine.is_empty() && !d.result.is_empty()));
    let json = serde_json::to_value(bad).expect("serialises");
    assert!(json["detections"][0]["engine"].is_string(), "{json}");
}

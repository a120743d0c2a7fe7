//! A batch that stops after thousands of records resumes from its journal,
//! page by page, without spending a call on what it finished.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use enrich::{BatchOptions, EnrichError, EnrichOptions, Enricher};
use std::collections::HashSet;
use vt_api::{ApiKey, Client, QuotaBudget};
use vt_emulator::{Emulator, EmulatorConfig};

const LINES: usize = 3000;
const STOP_AFTER: usize = 2500;

fn input() -> Vec<std::io::Result<String>> {
    (0..LINES)
        .map(|i| Ok(format!("10.{}.{}.{}", i / 65536, i / 256 % 256, i % 256)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_stopped_after_thousands_of_records_resumes_without_repeating_them() {
    let emu = Emulator::new(EmulatorConfig::default())
        .expect("emulator config")
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator listens");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db.sqlite");
    let store = store::open(db.to_str().expect("utf-8 path"))
        .await
        .expect("store");
    let client = Client::builder()
        .api_key(ApiKey::new("resume-test-key").expect("key"))
        .base_url(emu.base_url())
        .quota_budget(QuotaBudget::UNLIMITED)
        .build()
        .expect("client");
    let enricher = Enricher::new(client, store, EnrichOptions::default());
    let options = BatchOptions {
        concurrency: 32,
        job: Some("the-same-input-and-output".into()),
    };

    // The first run's output fails after STOP_AFTER records, as a full disk
    // or a killed reader would make it.
    let mut first = Vec::new();
    let stopped = enricher
        .run_batch(
            futures_util::stream::iter(input()),
            &options,
            |record| {
                if first.len() == STOP_AFTER {
                    return Err(EnrichError::Output("disk full".into()));
                }
                first.push(record.indicator.clone());
                Ok(())
            },
            &(),
        )
        .await;
    assert!(stopped.is_err(), "the first run stops");
    // Requests the stopped run left in flight may still reach the server.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let calls_first = emu.emulator().stats()["requests_total"]
        .as_u64()
        .unwrap_or(0);

    let mut second = Vec::new();
    let summary = enricher
        .run_batch(
            futures_util::stream::iter(input()),
            &options,
            |record| {
                second.push(record.indicator.clone());
                Ok(())
            },
            &(),
        )
        .await
        .expect("the second run finishes");
    let calls = emu.emulator().stats()["requests_total"]
        .as_u64()
        .unwrap_or(0);

    // At least what the first run emitted was journalled, over more than
    // two replay pages.
    assert!(summary.replayed as usize >= STOP_AFTER, "{summary:?}");
    assert_eq!(second.len(), LINES, "every line once");
    assert_eq!(second.iter().collect::<HashSet<_>>().len(), LINES);
    assert_eq!(&second[..STOP_AFTER], &first[..], "replayed in order");
    // Lookups the first run finished but had not journalled come from the
    // cache now, so the second run spends at most one call per line it had
    // to redo, and none for a journalled one.
    assert!(
        calls - calls_first <= (LINES as u64) - summary.replayed,
        "{} calls for {} lines to redo",
        calls - calls_first,
        (LINES as u64) - summary.replayed
    );
    emu.shutdown().await;
}

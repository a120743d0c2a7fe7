//! Measures the SQLite store on the paths a big batch leans on:
//! journalling (one by one and in batches), replaying, and the cache.
//!
//! `cargo run --release -p store-sqlite --example store_throughput [LINES]`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use std::time::{Duration, Instant};
use store_core::{JournalEntry, NewReport, Store};
use store_sqlite::SqliteStore;
use time::OffsetDateTime;

const ORIGIN: &str = "https://www.virustotal.com";

fn record(seq: u64) -> String {
    // About the size of a real record without `full`.
    format!(
        r#"{{"indicator":"{seq:064x}","input":"{seq:064x}","type":"file","id":"{seq:064x}","verdict":"bad","reasons":["7 of 68 engines flagged it malicious (>= 5)","10.2% of engines with a verdict (>= 10%)"],"malicious":7,"suspicious":0,"total":77,"last_analysis_date":"2026-11-20T10:00:00Z","stale":false,"cached":false,"link":"https://www.virustotal.com/gui/file/{seq:064x}","error":null}}"#
    )
}

fn rate(n: u64, d: Duration) -> String {
    format!("{n} in {:.2?} ({:.0}/s)", d, n as f64 / d.as_secs_f64())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lines: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("bench.db")).await?;
    let now = OffsetDateTime::now_utc();

    let job = store.open_job("single").await?;
    let single = lines.min(20_000);
    let t = Instant::now();
    for seq in 0..single {
        store
            .journal_record(job, seq, &format!("k{seq}"), &record(seq))
            .await?;
    }
    println!(
        "journal_record, one per call:       {}",
        rate(single, t.elapsed())
    );

    let job = store.open_job("batched").await?;
    let t = Instant::now();
    let mut batch = Vec::with_capacity(256);
    for seq in 0..lines {
        batch.push(JournalEntry {
            seq,
            key: format!("k{seq}"),
            record: record(seq),
        });
        if batch.len() == 256 {
            store.journal_records(job, &batch).await?;
            batch.clear();
        }
    }
    store.journal_records(job, &batch).await?;
    println!(
        "journal_records, 256 per call:      {}",
        rate(lines, t.elapsed())
    );

    let t = Instant::now();
    let mut after = None;
    let mut replayed = 0u64;
    loop {
        let page = store.journal_page(job, after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        replayed += page.len() as u64;
    }
    println!(
        "journal_page replay, 10k per page:  {}",
        rate(replayed, t.elapsed())
    );

    let t = Instant::now();
    let mut hits = 0u64;
    for seq in (0..lines).step_by(97) {
        hits += u64::from(store.journaled(job, seq).await?.is_some());
    }
    println!(
        "journaled(seq) lookups:             {}",
        rate(hits, t.elapsed())
    );

    let reports = lines.min(50_000);
    let json = record(0);
    let t = Instant::now();
    for i in 0..reports {
        let (md5, sha1, sha256) = (
            format!("{i:032x}"),
            format!("{i:040x}"),
            format!("{i:064x}"),
        );
        let report = NewReport {
            key: &sha256,
            aliases: &[&md5, &sha1],
            kind: "file",
            json: &json,
        };
        store
            .put_report(ORIGIN, report, Duration::from_secs(3600), now)
            .await?;
    }
    println!(
        "put_report with 2 aliases:          {}",
        rate(reports, t.elapsed())
    );
    let t = Instant::now();
    let mut found = 0u64;
    for i in 0..reports {
        found += u64::from(
            store
                .get_report(ORIGIN, &format!("{i:032x}"), now)
                .await?
                .is_some(),
        );
    }
    println!(
        "get_report by alias:                {}",
        rate(found, t.elapsed())
    );

    let t = Instant::now();
    for _ in 0..10_000 {
        store
            .record_api_call(ORIGIN, "key-0123456789ab", OffsetDateTime::now_utc())
            .await?;
    }
    let spent = store
        .api_calls_since(ORIGIN, "key-0123456789ab", now - time::Duration::days(1))
        .await?;
    println!(
        "record_api_call:                    {}",
        rate(spent, t.elapsed())
    );
    let size = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .map(|m| m.len() as f64 / 1048576.0)
            .unwrap_or(0.0)
    };
    println!(
        "database size:                      {:.0} MiB (+ {:.0} MiB WAL)",
        size("bench.db"),
        size("bench.db-wal")
    );
    Ok(())
}

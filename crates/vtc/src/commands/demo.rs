//! `vtc demo`: the README's first command. Runs the emulator in-process,
//! enriches a bundled sample list through the real client, cache and
//! journal code, prints the verdict table and writes the HTML report.

use super::enrich::{open_report, summary_lines, write_report};
use crate::cli::{DemoArgs, OutputFormat};
use crate::exit::Exit;
use crate::output::record_writer;
use anyhow::Context;
use enrich::{BatchOptions, EnrichOptions, Enricher};
use std::path::PathBuf;
use vt_emulator::{Emulator, EmulatorConfig};

/// A few hundred mixed indicators, some defanged, some repeated, two invalid.
const SAMPLES: &str = include_str!("../../demo/samples.txt");

pub async fn run(args: DemoArgs, format: Option<OutputFormat>) -> anyhow::Result<Exit> {
    let path = args
        .report
        .clone()
        .unwrap_or_else(|| PathBuf::from("vtc-demo-report.html"));
    // Before the demo runs: a report that cannot be written is the user's
    // to fix, and should not cost them the whole run to find out.
    let report_file = open_report(&path)?;
    let format = format.unwrap_or(OutputFormat::Table);
    let mut writer = record_writer(std::io::stdout().lock(), format, args.fields.as_ref())?;

    let emulator = Emulator::new(EmulatorConfig::default())?
        .spawn(([127, 0, 0, 1], 0).into())
        .await
        .context("cannot start the in-process emulator")?;
    eprintln!("emulator listening on {}", emulator.base_url());

    // The demo key has no budget limit: the emulator has none either.
    let client = vt_api::Client::builder()
        .api_key_with_budget(
            vt_api::ApiKey::new("vtc-demo-key")?,
            vt_api::QuotaBudget::UNLIMITED,
        )
        .base_url(emulator.api_url())
        .build()?;
    let store = store::open_in_memory().await?;
    let enricher = Enricher::new(client, store, EnrichOptions::default());

    let lines = futures_util::stream::iter(SAMPLES.lines().map(|l| Ok(l.to_owned())));
    let mut report = feeds::html::ReportBuilder::new();
    let options = BatchOptions {
        concurrency: 16,
        job: None,
    };
    let summary = enricher
        .run_batch(
            lines,
            &options,
            |record| {
                report.add(record);
                writer
                    .write(record)
                    .map_err(|e| enrich::EnrichError::Output(Box::new(e)))
            },
            &(),
        )
        .await?;
    let _stdout = writer.finish()?;

    let stats = emulator.emulator().stats();
    let mut lines = summary_lines(&summary);
    lines.push((
        "Emulator requests".to_owned(),
        stats["requests_total"].to_string(),
    ));
    write_report(report_file, &path, report, "vtc demo: verdicts", &lines)?;

    // Each record counted once: a verdict, invalid or failed.
    let mut statuses: Vec<String> = summary
        .by_verdict
        .iter()
        .map(|(v, n)| format!("{v} {n}"))
        .collect();
    statuses.push(format!("invalid {}", summary.invalid));
    if summary.failed > 0 {
        statuses.push(format!("failed {}", summary.failed));
    }
    eprintln!(
        "\n{} records from {} lines ({} duplicates): {}; {} API calls, {} answered 429",
        summary.records,
        summary.lines,
        summary.duplicates,
        statuses.join(", "),
        summary.api_calls,
        summary.responses_429
    );
    eprintln!(
        "HTML report: {}",
        std::fs::canonicalize(&path).unwrap_or(path).display()
    );
    emulator.shutdown().await;
    Ok(Exit::Success)
}

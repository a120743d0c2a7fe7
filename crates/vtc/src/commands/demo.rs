//! `vtc demo`: the README's first command. Runs the emulator in-process,
//! enriches a bundled sample list through the real client, cache and
//! journal code, prints the verdict table and writes the HTML report.

use crate::cli::{DemoArgs, OutputFormat};
use crate::exit::Exit;
use crate::output::feed_format;
use anyhow::Context;
use enrich::{BatchOptions, EnrichOptions, Enricher};
use std::path::PathBuf;
use std::sync::Arc;
use vt_emulator::{Emulator, EmulatorConfig};

/// A few hundred mixed indicators, some defanged, some repeated, two invalid.
const SAMPLES: &str = include_str!("../../demo/samples.txt");

pub async fn run(args: DemoArgs, format: Option<OutputFormat>) -> anyhow::Result<Exit> {
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
    let store = store::SqliteStore::open_in_memory()?;
    let enricher = Enricher::new(client, Arc::new(store), EnrichOptions::default());

    let lines = futures_util::stream::iter(SAMPLES.lines().map(|l| Ok(l.to_owned())));
    let format = format.unwrap_or(OutputFormat::Table);
    let mut writer = feeds::RecordWriter::new(std::io::stdout().lock(), feed_format(format))?;
    let mut records = Vec::new();
    let options = BatchOptions {
        concurrency: 16,
        job: None,
    };
    let summary = enricher
        .run_batch(
            lines,
            &options,
            |record| {
                records.push(record.clone());
                writer
                    .write(record)
                    .map_err(|e| enrich::EnrichError::Output(Box::new(e)))
            },
            &(),
        )
        .await?;
    let _stdout = writer.finish()?;

    let stats = emulator.emulator().stats();
    let mut lines = vec![
        ("Input lines".to_owned(), summary.lines.to_string()),
        ("Indicators".to_owned(), summary.records.to_string()),
        (
            "Duplicates skipped".to_owned(),
            summary.duplicates.to_string(),
        ),
        ("Invalid lines".to_owned(), summary.invalid.to_string()),
    ];
    for (verdict, n) in &summary.by_verdict {
        lines.push((format!("Verdict {verdict}"), n.to_string()));
    }
    lines.push(("API calls".to_owned(), summary.api_calls.to_string()));
    lines.push((
        "Responses 429".to_owned(),
        summary.responses_429.to_string(),
    ));
    lines.push((
        "Emulator requests".to_owned(),
        stats["requests_total"].to_string(),
    ));

    let generated = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let html = feeds::html::report_page("vtc demo: verdicts", &generated, &lines, &records);
    let path = args
        .report
        .unwrap_or_else(|| PathBuf::from("vtc-demo-report.html"));
    std::fs::write(&path, html)
        .with_context(|| format!("cannot write the report to {}", path.display()))?;

    let verdicts: Vec<String> = summary
        .by_verdict
        .iter()
        .map(|(v, n)| format!("{v} {n}"))
        .collect();
    eprintln!(
        "\n{} indicators from {} lines ({} duplicates, {} invalid): {}; {} API calls, {} answered 429",
        summary.records,
        summary.lines,
        summary.duplicates,
        summary.invalid,
        verdicts.join(", "),
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

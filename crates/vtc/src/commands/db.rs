//! `vtc db stats` and `vtc db prune`: print what the application crate
//! reports about the database.

use crate::cli::{DbAction, OutputFormat};
use crate::config::Settings;
use crate::exit::Exit;
use std::io::Write;
use store::StoreStats;

pub async fn run(action: DbAction, settings: &Settings) -> anyhow::Result<Exit> {
    let store = settings.open_database().await?;
    let mut out = std::io::stdout().lock();
    match action {
        DbAction::Stats => {
            let stats = store.stats().await?;
            match settings.format {
                OutputFormat::Table => write_table(&mut out, &stats)?,
                OutputFormat::Csv => write_csv(&mut out, &stats)?,
                OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&stats)?)?,
                OutputFormat::Jsonl => writeln!(out, "{}", serde_json::to_string(&stats)?)?,
            }
        }
        DbAction::Prune => {
            let report = app::prune_database(store.as_ref()).await?;
            match settings.format {
                OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
                OutputFormat::Jsonl | OutputFormat::Csv => {
                    writeln!(out, "{}", serde_json::to_string(&report)?)?
                }
                OutputFormat::Table => {
                    let p = &report.pruned;
                    writeln!(
                        out,
                        "pruned {} reports, {} not-found entries, {} ledger rows, {} jobs ({} journal entries)",
                        p.reports, p.not_found, p.ledger_rows, p.jobs, p.journal_entries
                    )?;
                    writeln!(
                        out,
                        "database {}: {} before, {} after",
                        report.after.location,
                        size(report.before.size_bytes),
                        size(report.after.size_bytes)
                    )?;
                }
            }
        }
    }
    Ok(Exit::Success)
}

fn write_table(out: &mut impl Write, stats: &StoreStats) -> std::io::Result<()> {
    writeln!(
        out,
        "database {} ({}): {}, of which {} free",
        stats.location,
        stats.backend,
        size(stats.size_bytes),
        size(stats.free_bytes)
    )?;
    writeln!(out, "{:<12} {:>12} {:>12}", "TABLE", "ROWS", "SIZE")?;
    for t in &stats.tables {
        writeln!(out, "{:<12} {:>12} {:>12}", t.name, t.rows, size(t.bytes))?;
    }
    Ok(())
}

fn write_csv(out: &mut impl Write, stats: &StoreStats) -> std::io::Result<()> {
    writeln!(out, "table,rows,bytes")?;
    for t in &stats.tables {
        writeln!(out, "{},{},{}", t.name, t.rows, t.bytes)?;
    }
    Ok(())
}

/// Bytes for people: `12.3 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

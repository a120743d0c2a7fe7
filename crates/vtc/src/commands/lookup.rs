//! `vtc lookup IOC... | -`: look indicators up and print one record each.

use crate::cli::LookupArgs;
use crate::config::Settings;
use crate::exit::Exit;
use crate::output::{record_writer, ExitTracker};
use futures_util::StreamExt;

/// Lookups in flight at once; the quota governor still sets the pace.
const CONCURRENCY: usize = 8;

pub async fn run(args: LookupArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let inputs = read_inputs(&args.indicators)?;
    let enricher =
        super::enrich::enricher(settings, args.refresh, None, args.full, args.rescan_stale).await?;
    let mut records = futures_util::stream::iter(inputs)
        .map(|input| {
            let enricher = enricher.clone();
            async move { enricher.try_enrich_line(&input).await }
        })
        .buffered(CONCURRENCY);
    let mut writer = record_writer(
        std::io::stdout().lock(),
        settings.format,
        args.fields.as_ref(),
    )?;
    let mut exit = ExitTracker::new(args.fail_on);
    while let Some(record) = records.next().await {
        let record = record?;
        exit.see(&record);
        writer.write(&record)?;
        if let Some(error) = &record.error {
            // The row says it too, but a script reading stdout may not look.
            eprintln!(
                "vtc: {}: {}: {}",
                bounded(&record.input),
                error.code,
                error.message
            );
        }
    }
    let _stdout = writer.finish()?;
    Ok(exit.exit())
}

/// The arguments, with `-` replaced by the non-blank lines of stdin.
fn read_inputs(args: &[String]) -> anyhow::Result<Vec<String>> {
    let mut inputs = Vec::new();
    for arg in args {
        if arg == "-" {
            let mut failed = None;
            enrich::input::read_lines(Box::new(std::io::stdin()), |line| match line {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        inputs.push(line);
                    }
                    true
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            });
            if let Some(e) = failed {
                return Err(anyhow::Error::new(e).context("cannot read stdin"));
            }
        } else {
            inputs.push(arg.clone());
        }
    }
    Ok(inputs)
}

/// An input as quoted in a message: attacker-controlled, so bounded.
fn bounded(input: &str) -> String {
    const MAX_CHARS: usize = 120;
    let mut shown: String = input.chars().take(MAX_CHARS).collect();
    if input.chars().count() > MAX_CHARS {
        shown.push('…');
    }
    format!("{shown:?}")
}

//! `vtc collect`: builds the collector (the `collect` crate) from the
//! settings and the `[collect]` table, runs it once or as a daemon, and
//! prints its status; `--reset` and `--import-config` as the connector's
//! troubleshooting and migration steps.

use crate::cli::{CollectAction, CollectArgs, OutputFormat};
use crate::config::Settings;
use crate::exit::{usage, Exit};
use collect::{CollectConfig, CollectError, Collector, RescanWindow, Sources};
use std::io::Write;
use std::path::Path;

/// A collector's error as the binary reports it: a setting to fix is a
/// usage error (exit 2); VirusTotal refusing keeps its own exit code.
fn mapped(e: CollectError) -> anyhow::Error {
    match e {
        e if e.is_config() => usage(e.to_string()),
        CollectError::Stopped(inner) => inner.into(),
        e => e.into(),
    }
}

pub fn import(conf: &Path, output: Option<&Path>) -> anyhow::Result<Exit> {
    let meta = std::fs::metadata(conf)
        .map_err(|e| usage(format!("cannot read {}: {e}", conf.display())))?;
    if meta.len() > collect::MAX_INI_BYTES as u64 {
        return Err(usage(format!(
            "{} is too large for a connector config",
            conf.display()
        )));
    }
    let text = std::fs::read_to_string(conf)
        .map_err(|e| usage(format!("cannot read {}: {e}", conf.display())))?;
    let imported = collect::import_connector_config(&text)
        .map_err(|e| usage(format!("{}: {e}", conf.display())))?;
    let header = format!(
        "# vtc config imported from {} by `vtc collect --import-config`.\n",
        conf.display()
    );
    match output {
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path).map_err(|e| {
                usage(format!(
                    "cannot create {} (it must not exist yet): {e}",
                    path.display()
                ))
            })?;
            file.write_all(header.as_bytes())?;
            file.write_all(imported.toml.as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(header.as_bytes())?;
            out.write_all(imported.toml.as_bytes())?;
            out.flush()?;
        }
    }
    for (key, why) in &imported.unmapped {
        eprintln!("not mapped: {key} ({why})");
    }
    Ok(Exit::Success)
}

fn config(settings: &Settings, window: Option<&str>) -> anyhow::Result<CollectConfig> {
    let mut config = CollectConfig::from_table(settings.collect.as_ref()).map_err(mapped)?;
    if let Some(w) = window {
        RescanWindow::parse(w).map_err(mapped)?;
        config.rescan_window = w.to_owned();
    }
    Ok(config)
}

pub async fn run(args: CollectArgs, settings: &Settings) -> anyhow::Result<Exit> {
    if let Some(CollectAction::Status(status)) = &args.action {
        let window = status
            .rescan_window
            .as_deref()
            .or(args.rescan_window.as_deref());
        let config = config(settings, window)?;
        return print_status(settings, &config).await;
    }
    let config = config(settings, args.rescan_window.as_deref())?;
    let store = settings.open_store().await?;
    if args.reset {
        let n = store.collect_reset().await?;
        println!("forgot {n} binaries and every source's checkpoint; the next run starts over (re-publish the feed after it)");
        return Ok(Exit::Success);
    }
    let given = !args.paths.is_empty() || args.hashes.is_some() || args.carbonblack;
    let sources = if given {
        Sources {
            folders: args.paths.clone(),
            hashes: args.hashes.clone(),
            carbonblack: args.carbonblack,
        }
    } else {
        Sources {
            folders: config.paths.clone(),
            hashes: config.hashes.clone(),
            carbonblack: config.carbonblack_server_url.is_some(),
        }
    };
    if sources.folders.is_empty() && sources.hashes.is_none() && !sources.carbonblack {
        return Err(usage(
            "nothing to collect: give --path DIR, --hashes FILE|- or --carbonblack (or set paths, hashes or carbonblack_server_url in [collect])",
        ));
    }
    let client = settings.client_sharing(&store).await?;
    let options = |refresh| enrich::EnrichOptions {
        verdict: settings.verdict.clone(),
        ttl: settings.cache,
        refresh,
        ..enrich::EnrichOptions::default()
    };
    let enricher = enrich::Enricher::new(client.clone(), store.clone(), options(false));
    let refresher = enrich::Enricher::new(client, store.clone(), options(true));
    let collector = Collector::new(enricher, refresher, store, config).map_err(mapped)?;
    let summary = if args.once {
        collector.run_once(&sources).await.map_err(mapped)?
    } else {
        collector
            .run(&sources, server::shutdown_signal())
            .await
            .map_err(mapped)?
    };
    let mut out = std::io::stdout().lock();
    match settings.format {
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?,
        OutputFormat::Jsonl | OutputFormat::Csv => writeln!(out, "{}", serde_json::to_string(&summary)?)?,
        OutputFormat::Table => writeln!(
            out,
            "{} sightings, {} looked up ({} rescanned, {} uploaded), {} failed for now, {} in the feed",
            summary.sightings, summary.queried, summary.rescanned, summary.uploaded, summary.failed, summary.in_feed
        )?,
    }
    out.flush()?;
    Ok(Exit::Success)
}

async fn print_status(settings: &Settings, config: &CollectConfig) -> anyhow::Result<Exit> {
    let store = settings.open_store().await?;
    let window = config.rescan().map_err(mapped)?;
    let status = store
        .collect_status(window.cutoff(time::OffsetDateTime::now_utc()))
        .await?;
    let mut out = std::io::stdout().lock();
    match settings.format {
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?,
        OutputFormat::Jsonl | OutputFormat::Csv => {
            writeln!(out, "{}", serde_json::to_string(&status)?)?
        }
        OutputFormat::Table => {
            let rows = [
                ("binaries", status.binaries),
                ("queried", status.queried),
                ("backlog", status.backlog),
                ("in feed", status.in_feed),
                ("rescan due", status.rescan_due),
                ("rescanned", status.rescanned),
                ("uploaded", status.uploaded),
            ];
            for (name, n) in rows {
                writeln!(out, "{name:<12} {n:>10}")?;
            }
            let verdicts: Vec<String> = status
                .by_verdict
                .iter()
                .map(|(v, n)| format!("{v} {n}"))
                .collect();
            writeln!(out, "{:<12} {}", "verdicts", verdicts.join(", "))?;
            writeln!(out, "{:<12} {}", "rescan", config.rescan_window)?;
            for s in &status.sources {
                writeln!(
                    out,
                    "source       {}  checkpoint {}  at {}",
                    crate::object_view::cell(&s.source, 200),
                    crate::object_view::cell(&s.checkpoint, 80),
                    s.updated_at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                )?;
            }
        }
    }
    out.flush()?;
    Ok(Exit::Success)
}

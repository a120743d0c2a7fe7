//! `vtc worker --db postgres://...`: works the shared job queue until
//! Ctrl-C or SIGTERM (or `--idle-exit-secs`, `--max-items`); the library
//! (`enrich::Enricher::run_worker`) does the rest.

use crate::cli::WorkerArgs;
use crate::config::Settings;
use crate::exit::{usage, Exit};
use std::time::Duration;

pub async fn run(args: WorkerArgs, settings: &Settings) -> anyhow::Result<Exit> {
    if !(1..=1024).contains(&args.concurrency) {
        return Err(usage("--concurrency must be between 1 and 1024"));
    }
    if args.lease_secs == 0 {
        return Err(usage("--lease-secs must be at least 1"));
    }
    let enricher = super::enrich::enricher(settings, false, None, false, false).await?;
    let mut options = enrich::WorkerOptions {
        concurrency: args.concurrency,
        lease: Duration::from_secs(args.lease_secs),
        idle_exit: args.idle_exit_secs.map(Duration::from_secs),
        max_items: args.max_items,
        ..enrich::WorkerOptions::default()
    };
    if let Some(name) = args.name {
        if name.is_empty() || name.len() > 200 {
            return Err(usage("--name must be 1 to 200 characters"));
        }
        options.name = name;
    }
    eprintln!("worker {}: working the job queue", options.name);
    let summary = enricher
        .run_worker(&options, super::enrich::stop_signal())
        .await;
    enricher.flush_cache_writes().await;
    let summary = summary?;
    eprintln!(
        "worker {}: {} items completed, {} taken over by another worker, {} lookups retried",
        options.name, summary.completed, summary.taken_over, summary.retried
    );
    Ok(Exit::Success)
}

//! `vtc worker --db postgres://...`: the job worker every `vtc serve` runs,
//! without the HTTP routes, until Ctrl-C or SIGTERM. It works the shared
//! job queue (`POST /v1/enrich`, `/v1/ingest`, `vtc enrich --distributed`);
//! the `server` crate does the rest.

use crate::cli::WorkerArgs;
use crate::config::Settings;
use crate::exit::{usage, Exit};
use std::time::Duration;

pub async fn run(args: WorkerArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let mut jobs = server::JobSettings::from_config(&settings.service);
    if let Some(n) = args.concurrency {
        if !(1..=64).contains(&n) {
            return Err(usage("--concurrency must be between 1 and 64"));
        }
        jobs.workers = n;
    }
    if let Some(secs) = args.lease_secs {
        if secs == 0 {
            return Err(usage("--lease-secs must be at least 1"));
        }
        jobs.lease = Duration::from_secs(secs);
    }
    if let Some(name) = &args.name {
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(usage(
                "--name must be 1 to 200 characters, none of them control characters",
            ));
        }
    }
    let options = server::ServiceOptions {
        jobs: Some(jobs),
        ..server::ServiceOptions::default()
    };
    let state = server::AppState::build_with(settings, options).await?;
    let summary = server::work(
        state,
        args.name,
        |name| eprintln!("worker {name}: working the job queue"),
        server::shutdown_signal(),
    )
    .await;
    eprintln!(
        "worker: {} items completed, {} taken over by another worker",
        summary.completed, summary.taken_over
    );
    Ok(Exit::Success)
}

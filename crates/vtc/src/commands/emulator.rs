//! `vtc emulator`: serve the local VirusTotal API v3 emulator.

use crate::cli::EmulatorArgs;
use crate::exit::{usage, Exit};
use anyhow::Context;
use std::io::Write;
use std::time::Duration;
use vt_emulator::{Emulator, EmulatorConfig};

pub async fn run(args: EmulatorArgs) -> anyhow::Result<Exit> {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(usage(format!(
            "--fault-rate must be between 0 and 1, got {}",
            args.fault_rate
        )));
    }
    let config = EmulatorConfig {
        quota_minute: args.quota_minute,
        quota_day: args.quota_day,
        quota_month: args.quota_month,
        latency: Duration::from_millis(args.latency_ms),
        fault_rate: args.fault_rate,
        fault_seed: args.fault_seed,
        fixtures: args.fixtures,
        analysis_delay: Duration::from_millis(args.analysis_delay_ms),
        public_keys: args.public_keys,
        premium_keys: args.premium_keys,
    };
    let emulator = Emulator::new(config).map_err(|e| usage(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    {
        // The first stdout line is a contract: scripts wait for it.
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }
    tokio::select! {
        served = emulator.serve(listener) => served?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(Exit::Success)
}

//! `vtc emulator`: serve the local VirusTotal API v3 emulator.

use crate::cli::EmulatorArgs;
use crate::exit::{usage, Exit};
use std::io::Write;
use std::time::Duration;
use vt_emulator::{Emulator, EmulatorConfig, RecordConfig, WorldMode};

pub async fn run(args: EmulatorArgs) -> anyhow::Result<Exit> {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(usage(format!(
            "--fault-rate must be between 0 and 1, got {}",
            args.fault_rate
        )));
    }
    if !(0.0..=1.0).contains(&args.known_files) {
        return Err(usage(format!(
            "--known-files must be between 0 and 1, got {}",
            args.known_files
        )));
    }
    let world = if args.world == "empty" {
        WorldMode::Empty
    } else {
        WorldMode::Synthetic
    };
    let config = EmulatorConfig {
        quota_minute: args.quota_minute,
        quota_window: Duration::from_secs(args.quota_window_secs),
        quota_day: args.quota_day,
        quota_month: args.quota_month,
        latency: Duration::from_millis(args.latency_ms),
        fault_rate: args.fault_rate,
        fault_seed: args.fault_seed,
        fault_kinds: args.fault_kinds,
        fault_delay: Duration::from_millis(args.fault_delay_ms),
        fixtures: args.fixtures,
        analysis_delay: Duration::from_millis(args.analysis_delay_ms),
        public_keys: args.public_keys,
        premium_keys: args.premium_keys,
        known_files: args.known_files,
        world,
        record: match (args.record, args.upstream) {
            (Some(dir), Some(upstream)) => Some(RecordConfig { upstream, dir }),
            _ => None,
        },
    };
    let emulator = Emulator::new(config).map_err(|e| usage(e.to_string()))?;
    let listener = bind(&args.listen).await?;
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

/// Binds `listen` (HOST:PORT, a host name resolved): the first of its
/// addresses that can be bound. A malformed address is a usage error.
async fn bind(listen: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .map_err(|e| {
            usage(format!(
                "--listen {listen:?} is not an address to listen on (HOST:PORT, e.g. 127.0.0.1:8080 or localhost:8080): {e}"
            ))
        })?
        .collect();
    let mut last = None;
    for addr in &addrs {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some((addr, e)),
        }
    }
    Err(match last {
        Some((addr, e)) => anyhow::anyhow!("cannot listen on {addr} ({listen}): {e}"),
        None => usage(format!("--listen {listen:?} resolves to no address")),
    })
}

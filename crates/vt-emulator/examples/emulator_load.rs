//! Pushes N lookups at concurrency C through a spawned emulator over loopback
//! and prints the throughput: the emulator's side of the enrichment benchmark.
//!
//! `cargo run --release -p vt-emulator --example emulator_load -- [N] [C] [LATENCY_MS]`
//! (defaults 10000, 64, 50).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use futures_util::stream::{self, StreamExt};
use std::time::{Duration, Instant};
use vt_emulator::{Emulator, EmulatorConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(10_000) as usize;
    let concurrency = args.get(1).copied().unwrap_or(64) as usize;
    let latency = Duration::from_millis(args.get(2).copied().unwrap_or(50));
    let running = Emulator::new(EmulatorConfig {
        latency,
        ..EmulatorConfig::default()
    })?
    .spawn("127.0.0.1:0".parse()?)
    .await?;
    let client = reqwest::Client::new();
    let api = running.api_url();
    let started = Instant::now();
    let statuses: Vec<u16> = stream::iter(0..total)
        .map(|i| {
            let client = client.clone();
            let url = match i % 4 {
                0 => format!("{api}/files/{:064x}", i as u128 * 7_919),
                1 => format!("{api}/files/{:032x}", i as u128 * 104_729),
                2 => format!("{api}/domains/host{i}.example"),
                _ => format!(
                    "{api}/ip_addresses/10.{}.{}.{}",
                    i / 65_536 % 256,
                    i / 256 % 256,
                    i % 256
                ),
            };
            async move {
                match client.get(url).header("x-apikey", "load").send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let _ = response.bytes().await;
                        status
                    }
                    Err(_) => 0,
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let not_found = statuses.iter().filter(|s| **s == 404).count();
    let failed = statuses.iter().filter(|s| **s == 0).count();
    println!(
        "{total} lookups, concurrency {concurrency}, latency {latency:?}: {:.2} s, {:.0} req/s \
         (200: {ok}, 404: {not_found}, transport errors: {failed}; floor {:.2} s)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        (total as f64 / concurrency as f64) * latency.as_secs_f64(),
    );
    running.shutdown().await;
    Ok(())
}

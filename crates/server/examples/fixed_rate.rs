//! A fixed-rate (open-loop) load generator for the service benchmarks
//! (docs/BENCHMARKS.md, scripts/bench-serve.sh, scripts/bench-decide.sh).
//!
//! `hey -q` on this 2-core machine adds milliseconds of its own to every
//! answer (its median at 2,000 requests/s is 1.6 ms against a handler that
//! needs 50 µs). This one runs on one thread and sends each request at
//! its scheduled moment over keep-alive connections. The latency is
//! measured from the send; how late each send was against its schedule
//! (tokio's timer has a 1 ms resolution, and a lane waits for its previous
//! answer) is reported beside it as the lag, so a stall shows either in the
//! latency or in the lag, never nowhere.
//!
//!   cargo run --release -p server --example fixed_rate -- \
//!       URL RATE SECONDS CONNECTIONS [--header 'Name: value']... [--post BODY_FILE]
//!
//! Prints one line: sent, answered by status, achieved rate, p50, p90,
//! p99, p99.9, max, the p99 and max lag, and the generator's own CPU per
//! request.

use std::time::{Duration, Instant};

struct Args {
    url: String,
    rate: f64,
    seconds: f64,
    connections: usize,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: fixed_rate URL RATE SECONDS CONNECTIONS [--header 'N: v']... [--post FILE]";
    let url = args.next().ok_or(usage)?;
    let number = |s: Option<String>| -> Result<f64, String> {
        s.ok_or(usage.to_owned())?
            .parse::<f64>()
            .map_err(|e| format!("{usage}: {e}"))
    };
    let rate = number(args.next())?;
    let seconds = number(args.next())?;
    let connections = number(args.next())? as usize;
    let mut headers = Vec::new();
    let mut body = None;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--header" => {
                let h = args.next().ok_or(usage)?;
                let (name, value) = h.split_once(':').ok_or("a header is 'Name: value'")?;
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "--post" => {
                let path = args.next().ok_or(usage)?;
                body = Some(std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?);
            }
            other => return Err(format!("{usage}: unknown {other}")),
        }
    }
    if rate <= 0.0 || seconds <= 0.0 || connections == 0 {
        return Err(format!(
            "{usage}: RATE, SECONDS and CONNECTIONS are positive"
        ));
    }
    Ok(Args {
        url,
        rate,
        seconds,
        connections,
        headers,
        body,
    })
}

/// User + system CPU of this process, from /proc (Linux).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces), from field 3.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (indexes 11 and 12 from field
    // 3), in ticks of USER_HZ, 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no runtime: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let client = match reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("no client: {e}");
            std::process::exit(1);
        }
    };
    let total = (args.rate * args.seconds).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let cpu_before = cpu_seconds();
    let start = Instant::now() + Duration::from_millis(50);
    // One task per connection, each taking every CONNECTIONS-th slot of
    // the schedule: in flight at once stays near CONNECTIONS.
    let tasks: Vec<_> = (0..args.connections)
        .map(|lane| {
            let client = client.clone();
            let url = args.url.clone();
            let headers = args.headers.clone();
            let body = args.body.clone();
            let connections = args.connections;
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut lags = Vec::new();
                let mut statuses: std::collections::BTreeMap<u16, u64> = Default::default();
                let mut slot = lane;
                while slot < total {
                    let due = start + interval * slot as u32;
                    tokio::time::sleep_until(due.into()).await;
                    let sent_at = Instant::now();
                    lags.push(sent_at.saturating_duration_since(due));
                    let mut request = match &body {
                        Some(b) => client.post(&url).body(b.clone()),
                        None => client.get(&url),
                    };
                    for (name, value) in &headers {
                        request = request.header(name, value);
                    }
                    let status = match request.send().await {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            // Read the whole answer: that is the latency.
                            match resp.bytes().await {
                                Ok(_) => status,
                                Err(_) => 0,
                            }
                        }
                        Err(_) => 0,
                    };
                    latencies.push(sent_at.elapsed());
                    *statuses.entry(status).or_default() += 1;
                    slot += connections;
                }
                (latencies, lags, statuses)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(total);
    let mut lags = Vec::with_capacity(total);
    let mut statuses: std::collections::BTreeMap<u16, u64> = Default::default();
    for task in tasks {
        if let Ok((l, g, s)) = task.await {
            latencies.extend(l);
            lags.extend(g);
            for (k, v) in s {
                *statuses.entry(k).or_default() += v;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    latencies.sort_unstable();
    lags.sort_unstable();
    let by_status: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}:{n}")).collect();
    println!(
        "sent {} answered {} rate {:.0}/s p50 {:.3} ms p90 {:.3} ms p99 {:.3} ms p99.9 {:.3} ms max {:.3} ms lag p99 {:.3} ms max {:.3} ms generator CPU {:.1} us/req",
        latencies.len(),
        by_status.join(","),
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 99.9),
        latencies.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
        percentile(&lags, 99.0),
        lags.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
        cpu / latencies.len().max(1) as f64 * 1e6,
    );
}

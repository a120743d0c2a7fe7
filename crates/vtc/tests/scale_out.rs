//! Several vtc processes on one PostgreSQL act as one (issue 14): workers
//! and a service share one job of the service's queue and one key's
//! budget without a 429, a worker killed mid-job loses nothing (its items
//! are taken again when their lease runs out), the database's connections
//! killed mid-job cost nothing, two instances asked for one new hash at
//! once make one call, and a service whose database goes away answers 503
//! and recovers.
//!
//! Real processes (`vtc worker`, `vtc serve`, `vtc enrich --distributed`, `vtc lookup`)
//! against the in-process emulator and the PostgreSQL at 127.0.0.1:5432
//! (`VTC_TEST_POSTGRES` overrides), each test in a schema of its own.
//! Without PostgreSQL these tests are ignored with the reason; under
//! `CI=true` they run and fail.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::{emulator, responses_with_status};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vt_emulator::{EmulatorConfig, RunningEmulator};

const KEY: &str = "scale-out-test-key";

fn server_url() -> String {
    std::env::var("VTC_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own on the test server; its connections carry its name
/// as their application name, so the test can find (and kill) them.
struct Schema {
    name: String,
}

impl Schema {
    async fn new(test: &str) -> Schema {
        let name = format!(
            "vtc_{test}_{}_{:08x}",
            std::process::id(),
            fastrand::u32(..)
        );
        sql(&format!("CREATE SCHEMA {name}")).await;
        Schema { name }
    }

    fn url(&self) -> String {
        let url = server_url();
        let sep = if url.contains('?') { '&' } else { '?' };
        format!(
            "{url}{sep}options=-csearch_path%3D{0}&application_name={0}",
            self.name
        )
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let drop_it = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(sql(&drop_it));
        })
        .join()
        .unwrap();
    }
}

/// Runs `query` on the test server; the first column of each row, as text.
async fn sql(query: &str) -> Vec<String> {
    let (client, conn) = tokio_postgres::connect(&server_url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL (.ci/run starts it)");
    let task = tokio::spawn(conn);
    let rows = client.simple_query(query).await.expect(query);
    drop(client);
    let _ = task.await;
    rows.into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// `vtc ARGS --api-url API --db URL` with the test's key, no config file
/// and nothing from the environment.
fn vtc(dir: &Path, api: &str, db: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vtc"));
    cmd.env_remove("VT_API_KEY")
        .env_remove("VTC_API_URL")
        .env_remove("VTC_DB")
        .env_remove("VTC_QUOTA_MINUTE")
        .env_remove("VTC_QUOTA_DAY")
        .env_remove("VTC_CONFIG")
        .env_remove("HTTPS_PROXY")
        .env("XDG_CONFIG_HOME", dir)
        .args(args)
        .args(["--api-url", api, "--db", db, "--api-key", KEY])
        .stdin(Stdio::null());
    cmd
}

/// A `vtc worker` process; its stderr goes to a file (a pipe nobody reads
/// would fill and stall it), read back by [`stop`].
struct Worker {
    child: Child,
    log: std::path::PathBuf,
}

fn worker(dir: &Path, api: &str, db: &str, extra: &[&str]) -> Worker {
    worker_in(dir, api, db, extra, &[])
}

/// A `vtc worker` with more environment (`VTC_QUOTA_WINDOW_SECONDS`).
fn worker_in(dir: &Path, api: &str, db: &str, extra: &[&str], env: &[(&str, &str)]) -> Worker {
    let mut args = vec!["worker", "--quota", "fixed", "--quota-day", "0"];
    args.extend_from_slice(extra);
    let log = dir.join(format!("worker-{:08x}.log", fastrand::u32(..)));
    let child = vtc(dir, api, db, &args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("vtc worker starts");
    Worker { child, log }
}

/// A `vtc serve` process: its job worker shares the queue with the
/// `vtc worker`s. Stopped (and its log read) like a worker. `env`: more
/// environment (`VTC_QUOTA_WINDOW_SECONDS`).
fn service_in(dir: &Path, api: &str, db: &str, extra: &[&str], env: &[(&str, &str)]) -> Worker {
    let mut args = vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--quota",
        "fixed",
        "--quota-day",
        "0",
    ];
    args.extend_from_slice(extra);
    let log = dir.join(format!("serve-{:08x}.log", fastrand::u32(..)));
    let child = vtc(dir, api, db, &args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("vtc serve starts");
    Worker { child, log }
}

/// Done items per worker name (the lease holder that completed each).
async fn done_by(schema: &Schema) -> Vec<(String, u64)> {
    sql(&format!(
        "SELECT leased_by || ' ' || count(*) FROM {}.enrich_items WHERE state = 2
         GROUP BY leased_by ORDER BY 1",
        schema.name
    ))
    .await
    .iter()
    .map(|row| {
        let (name, n) = row.rsplit_once(' ').unwrap();
        (name.to_owned(), n.parse().unwrap())
    })
    .collect()
}

/// Runs `query` from a thread of its own (for the sync `during` closures).
fn sql_now(query: String) -> Vec<String> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(sql(&query))
    })
    .join()
    .unwrap()
}

/// Distinct file hashes nobody looked up before.
fn hashes(n: usize) -> Vec<String> {
    let salt = fastrand::u64(..);
    (0..n)
        .map(|i| format!("{salt:016x}{:048x}", i + 1))
        .collect()
}

/// Submits `input` with `vtc enrich --distributed` and waits for it,
/// checking every `tick` (while it runs) with `during`.
async fn submit(
    dir: &Path,
    api: &str,
    db: &str,
    input: &[String],
    limit: Duration,
    mut during: impl FnMut(Duration),
) -> Vec<serde_json::Value> {
    let path = dir.join("input.txt");
    std::fs::write(&path, input.join("\n") + "\n").unwrap();
    let out = dir.join("out.jsonl");
    let mut child = vtc(
        dir,
        api,
        db,
        &[
            "enrich",
            path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--distributed",
            "--format",
            "jsonl",
            "--quota",
            "fixed",
        ],
    )
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(dir.join("submit.log")).unwrap())
    .spawn()
    .expect("vtc enrich starts");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let err = std::fs::read_to_string(dir.join("submit.log")).unwrap_or_default();
            assert!(status.success(), "vtc enrich --distributed failed: {err}");
            break;
        }
        if started.elapsed() >= limit {
            let _ = child.kill();
            let logs: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                .map(|e| {
                    let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(15).collect();
                    format!("{}: {tail:?}", e.path().display())
                })
                .collect();
            panic!("the distributed job did not finish within {limit:?}: {logs:#?}");
        }
        during(started.elapsed());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record per line"))
        .collect()
}

/// Each input exactly once, in input order.
fn assert_each_once_in_order(records: &[serde_json::Value], input: &[String]) {
    let got: Vec<&str> = records
        .iter()
        .map(|r| r["input"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = input.iter().map(String::as_str).collect();
    assert_eq!(got.len(), want.len(), "one record per item");
    assert_eq!(got, want, "records in input order, each once");
    let unique: HashSet<&str> = got.iter().copied().collect();
    assert_eq!(unique.len(), input.len());
}

fn stop(worker: Worker) -> String {
    let Worker { mut child, log } = worker;
    // SIGTERM: the worker finishes what it holds and says what it did.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(log).unwrap_or_default()
}

fn minute_spend(emu: &RunningEmulator) -> u64 {
    let stats = emu.emulator().stats();
    stats["quota"]
        .as_object()
        .map(|keys| {
            keys.values()
                .map(|k| k["minute"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

/// 3 processes working one queue (2 workers and a service), one key of 60
/// a "minute", a job of 500 items: nine windows' budget, so each window
/// must wait for the last. The minute is 6 s here (the emulator's
/// `quota_window`, the clients' `VTC_QUOTA_WINDOW_SECONDS`), so the nine
/// windows take about 50 s instead of over 8 minutes; the 60-second
/// version runs in scripts/bench-workers.sh (QUOTA_RUN=1).
#[cfg_attr(
    missing_postgres,
    ignore = "PostgreSQL is not reachable at 127.0.0.1:5432 (start it, or set VTC_TEST_POSTGRES; .ci/run starts it)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_and_a_service_share_one_key_of_60_a_minute_without_a_429() {
    let schema = Schema::new("quota").await;
    let db = schema.url();
    let dir = tempfile::tempdir().unwrap();
    const ITEMS: usize = 500;
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(60),
        quota_window: Duration::from_secs(6),
        ..EmulatorConfig::default()
    })
    .await;
    let api = emu.base_url();
    let window = [("VTC_QUOTA_WINDOW_SECONDS", "6")];
    let input = hashes(ITEMS);
    let mut workers: Vec<Worker> = (0..2)
        .map(|i| {
            worker_in(
                dir.path(),
                &api,
                &db,
                &[
                    "--quota-minute",
                    "60",
                    "--concurrency",
                    "4",
                    "--name",
                    &format!("w-{i}"),
                ],
                &window,
            )
        })
        .collect();
    workers.push(service_in(
        dir.path(),
        &api,
        &db,
        &["--quota-minute", "60"],
        &window,
    ));
    let mut highest = 0;
    let records = submit(
        dir.path(),
        &api,
        &db,
        &input,
        Duration::from_secs(150),
        |_| highest = highest.max(minute_spend(&emu)),
    )
    .await;
    let logs: Vec<String> = workers.into_iter().map(stop).collect();
    assert_each_once_in_order(&records, &input);
    assert_eq!(
        responses_with_status(&emu, 429),
        0,
        "no 429 at all: {logs:?}"
    );
    assert!(highest <= 60, "the minute's spend reached {highest}");
    assert_eq!(
        common::requests(&emu),
        ITEMS as u64,
        "one call per item, none repeated"
    );
    let worked = done_by(&schema).await;
    assert_eq!(
        worked.iter().map(|(_, n)| n).sum::<u64>(),
        ITEMS as u64,
        "each item done once: {worked:?}"
    );
    assert!(worked.len() >= 2, "the work is shared: {worked:?}");
    let reported: u64 = logs
        .iter()
        .filter_map(|l| {
            l.lines()
                .find(|line| line.contains("items completed"))?
                .split(": ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    let by_service = worked
        .iter()
        .filter(|(name, _)| !name.starts_with("w-"))
        .map(|(_, n)| n)
        .sum::<u64>();
    assert_eq!(
        reported + by_service,
        ITEMS as u64,
        "the workers' own counts agree: {worked:?} {logs:?}"
    );
}

/// A worker SIGKILLed mid-job and every database connection killed
/// (`pg_terminate_backend`) mid-job: the job still completes, each item
/// exactly once.
#[cfg_attr(
    missing_postgres,
    ignore = "PostgreSQL is not reachable at 127.0.0.1:5432 (start it, or set VTC_TEST_POSTGRES; .ci/run starts it)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_and_killed_connections_lose_nothing() {
    let schema = Schema::new("kill").await;
    let db = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(EmulatorConfig {
        latency: Duration::from_millis(200),
        ..EmulatorConfig::default()
    })
    .await;
    let api = emu.base_url();
    let input = hashes(300);
    let extra = [
        "--quota-minute",
        "0",
        "--concurrency",
        "2",
        "--lease-secs",
        "3",
    ];
    let mut workers: Vec<Option<Worker>> = (0..3)
        .map(|i| {
            let name = if i == 0 {
                "victim".to_owned()
            } else {
                format!("w-{i}")
            };
            let mut args = extra.to_vec();
            args.extend(["--name", &name]);
            Some(worker(dir.path(), &api, &db, &args))
        })
        .collect();
    let mut terminated = 0;
    let mut killed = false;
    // The items the victim held when it was killed.
    let mut held: Vec<String> = Vec::new();
    let held_by_victim = format!(
        "SELECT seq::TEXT FROM {}.enrich_items WHERE state = 1 AND leased_by = 'victim'",
        schema.name
    );
    let records = submit(
        dir.path(),
        &api,
        &db,
        &input,
        Duration::from_secs(100),
        |elapsed| {
            if !killed && elapsed > Duration::from_millis(1500) {
                let mut victim = workers[0].take().unwrap().child;
                victim.kill().unwrap();
                victim.wait().unwrap();
                killed = true;
                held = sql_now(held_by_victim.clone());
            }
            if terminated == 0 && elapsed > Duration::from_millis(3000) {
                let name = schema.name.clone();
                terminated = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(sql(&format!(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                         WHERE application_name = '{name}'"
                    )))
                })
                .join()
                .unwrap()[0]
                    .parse::<u32>()
                    .unwrap();
            }
        },
    )
    .await;
    for w in workers.into_iter().flatten() {
        stop(w);
    }
    assert!(killed, "the job outlived the kill");
    assert!(terminated > 0, "connections were killed mid-job");
    assert_each_once_in_order(&records, &input);
    assert!(!held.is_empty(), "the victim held items when it was killed");
    let retaken = sql(&format!(
        "SELECT count(*) FROM {}.enrich_items WHERE state = 2 AND leased_by <> 'victim'
         AND seq IN ({})",
        schema.name,
        held.join(", ")
    ))
    .await;
    assert_eq!(
        retaken[0],
        held.len().to_string(),
        "every item the killed worker held was done by another: {held:?}"
    );
    let done = sql(&format!(
        "SELECT count(*) FROM {0}.enrich_items WHERE state = 2",
        schema.name
    ))
    .await;
    assert_eq!(done[0], "300");
}

/// Two instances asked for the same new hash at once: one call.
#[cfg_attr(
    missing_postgres,
    ignore = "PostgreSQL is not reachable at 127.0.0.1:5432 (start it, or set VTC_TEST_POSTGRES; .ci/run starts it)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_asked_for_one_new_hash_make_one_call() {
    let schema = Schema::new("coalesce").await;
    let db = schema.url();
    let dir = tempfile::tempdir().unwrap();
    // Long enough that both ask while the first call is under way.
    let emu = emulator(EmulatorConfig {
        latency: Duration::from_millis(800),
        ..EmulatorConfig::default()
    })
    .await;
    let api = emu.base_url();
    // Both open the database first (its schema is made once).
    let warm_hash = &hashes(1)[0];
    let warm = vtc(
        dir.path(),
        &api,
        &db,
        &["lookup", warm_hash, "--quota", "fixed"],
    )
    .output()
    .unwrap();
    assert!(warm.status.success(), "{warm:?}");
    for round in 0..2 {
        let before = common::requests(&emu);
        let hash = &hashes(1)[0];
        let lookups: Vec<Child> = (0..2)
            .map(|_| {
                vtc(
                    dir.path(),
                    &api,
                    &db,
                    &["lookup", hash, "--format", "jsonl", "--quota", "fixed"],
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
            })
            .collect();
        for l in lookups {
            let out = l.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(hash.as_str()), "round {round}: {out:?}");
        }
        assert_eq!(
            common::requests(&emu) - before,
            1,
            "round {round}: one call for two instances"
        );
    }
}

/// A TCP relay to the test PostgreSQL that the test can take down (every
/// connection cut, new ones refused) and bring back on the same port: the
/// database "restarting" without touching the server other tests share.
struct Relay {
    port: u16,
    up: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start() -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watch) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let mut watch = watch.clone();
                if !*watch.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watch.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Relay { port, up }
    }

    fn url(&self, schema: &Schema) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/test?options=-csearch_path%3D{1}&application_name={1}",
            self.port, schema.name
        )
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

async fn get(url: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let client = reqwest::Client::new();
    let mut request = client.get(url).timeout(Duration::from_secs(30));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the service answers");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// The database goes away under `vtc serve`: routes that need it answer
/// 503 with a JSON error and /readyz fails; when it is back the service
/// recovers without a restart.
#[cfg_attr(
    missing_postgres,
    ignore = "PostgreSQL is not reachable at 127.0.0.1:5432 (start it, or set VTC_TEST_POSTGRES; .ci/run starts it)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_503_while_the_database_is_down_and_recovers() {
    if std::env::var_os("VTC_TEST_POSTGRES").is_some() {
        eprintln!("SKIPPED: the relay reaches 127.0.0.1:5432 only");
        return;
    }
    let schema = Schema::new("serve").await;
    let relay = Relay::start().await;
    let db = relay.url(&schema);
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(EmulatorConfig::default()).await;
    let api = emu.base_url();
    let made = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .env("XDG_CONFIG_HOME", dir.path())
        .env_remove("VTC_DB")
        .env_remove("VTC_CONFIG")
        .args([
            "--db", &db, "token", "create", "--name", "soar", "--role", "reader",
        ])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let token = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    let mut serve = vtc(
        dir.path(),
        &api,
        &db,
        &["serve", "--listen", "127.0.0.1:0", "--quota", "fixed"],
    )
    .stdout(Stdio::piped())
    .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap())
    .spawn()
    .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(serve.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let quota = format!("{base}/v1/quota");
    let ready = format!("{base}/readyz");
    assert_eq!(get(&ready, None).await.0, 200);
    assert_eq!(get(&quota, Some(&token)).await.0, 200);

    relay.set(false);
    let (status, body) = get(&ready, None).await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = get(&quota, Some(&token)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "DatabaseUnavailable", "{body}");
    assert_eq!(get(&format!("{base}/healthz"), None).await.0, 200);

    relay.set(true);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (r, q) = (get(&ready, None).await.0, get(&quota, Some(&token)).await.0);
        if (r, q) == (200, 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not recovered: readyz {r}, quota {q}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = serve.kill();
    let _ = serve.wait();
}

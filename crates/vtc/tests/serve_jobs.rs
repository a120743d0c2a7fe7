//! A batch job of `vtc serve` survives the service being SIGKILLed half
//! way: the restarted service takes the unfinished items again (their
//! leases run out) and finishes the job with each item done exactly once.
//! Also `vtc token create --quota` as a user runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Kills the service when dropped, passed or not.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `vtc serve` and answers its base URL once it listens.
async fn serve(api: &str, db: &Path, config: &Path) -> (Running, String) {
    let mut cmd = common::vtc(api, db);
    cmd.arg("--config")
        .arg(config)
        .args(["--api-key", "k", "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Running(cmd.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_owned();
    (child, base)
}

async fn job(http: &reqwest::Client, base: &str, id: &Value, token: &str) -> Value {
    let resp = http
        .get(format!("{base}/v1/jobs/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_job_interrupted_by_sigkill_finishes_after_a_restart_each_item_once() {
    const ITEMS: usize = 30;
    let emu = common::emulator(vt_emulator::EmulatorConfig {
        latency: Duration::from_millis(150),
        quota_minute: Some(0),
        quota_day: Some(0),
        quota_month: Some(0),
        ..vt_emulator::EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let db = common::db_in(&dir);
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[quota]\nminute = 0\nday = 0\n\n[service]\nworkers = 2\nlease_seconds = 2\n",
    )
    .unwrap();

    let mut create = common::vtc(&emu.api_url(), &db);
    create.args([
        "token", "create", "--name", "soar", "--role", "analyst", "--quota", "1000/day",
    ]);
    let out = common::run(create).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("quota 1000/day"),
        "{}",
        common::stderr(&out)
    );
    let token = common::stdout(&out).trim().to_owned();
    let mut bad = common::vtc(&emu.api_url(), &db);
    bad.args([
        "token",
        "create",
        "--name",
        "x",
        "--role",
        "reader",
        "--quota",
        "5/fortnight",
    ]);
    let out = common::run(bad).await;
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("quota \"5/fortnight\""),
        "{}",
        common::stderr(&out)
    );
    let mut list = common::vtc(&emu.api_url(), &db);
    list.args(["token", "list"]);
    let listed = common::stdout(&common::run(list).await);
    assert!(listed.trim_end().ends_with("\t1000/day"), "{listed}");

    let inputs: Vec<String> = (0..ITEMS)
        .map(|i| format!("{:064x}", 0x5e1f_0000_u64 + i as u64))
        .collect();
    let http = reqwest::Client::new();
    let (service, base) = serve(&emu.api_url(), &db, &config).await;
    let resp = http
        .post(format!("{base}/v1/enrich"))
        .bearer_auth(&token)
        .json(&json!(inputs))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let id = resp.json::<Value>().await.unwrap()["id"].clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = job(&http, &base, &id, &token).await;
        if status["items"]["done"].as_u64() >= Some(5) {
            break;
        }
        assert!(Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(service); // SIGKILL, mid-job
    let before_restart = common::requests(&emu);

    let (_service, base) = serve(&emu.api_url(), &db, &config).await;
    let status = job(&http, &base, &id, &token).await;
    assert!(
        status["items"]["done"].as_u64() < Some(ITEMS as u64),
        "killed before the end: {status}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        let status = job(&http, &base, &id, &token).await;
        if !status["finished_at"].is_null() {
            break status;
        }
        assert!(Instant::now() < deadline, "never finished: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(finished["state"], "done", "{finished}");
    assert_eq!(finished["items"]["done"], ITEMS, "{finished}");

    let resp = http
        .get(format!("{base}/v1/jobs/{id}/results?limit=1000"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let page: Value = resp.json().await.unwrap();
    let items = page["data"].as_array().unwrap();
    assert_eq!(items.len(), ITEMS);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["seq"], i, "{item}");
        assert_eq!(item["state"], "done", "{item}");
        assert_eq!(item["record"]["indicator"], inputs[i], "{item}");
    }
    // The client's usage (the batch's items) is kept across the restart.
    let quota: Value = http
        .get(format!("{base}/v1/quota"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(quota["clients"][0]["used"], ITEMS, "{quota}");
    assert_eq!(quota["clients"][0]["quota"], "1000/day", "{quota}");
    // Each item looked up once, give or take those in flight at the kill
    // (two slots per priority) whose answer never reached the cache.
    let lookups = emu.emulator().stats()["by_route"]["GET /files/{id}"]
        .as_u64()
        .unwrap();
    assert!(
        (ITEMS as u64..=ITEMS as u64 + 4).contains(&lookups),
        "{lookups} lookups for {ITEMS} items ({before_restart} requests before the restart)"
    );
}

fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).expect("the database opens");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .expect("integrity check runs")
}

/// A job's results, once it ends (bounded: 90 s): `(seq, input, state,
/// essence of the record)` per item.
async fn finished_results(
    http: &reqwest::Client,
    base: &str,
    id: &Value,
    token: &str,
) -> (Value, Vec<Value>) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        let status = job(http, base, id, token).await;
        if !status["finished_at"].is_null() {
            break status;
        }
        assert!(Instant::now() < deadline, "never finished: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let page: Value = http
        .get(format!("{base}/v1/jobs/{id}/results?limit=1000"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let r = &item["record"];
            json!([
                item["seq"],
                item["input"],
                item["state"],
                r["indicator"],
                r["type"],
                r["id"],
                r["verdict"],
                r["malicious"],
                r["suspicious"],
                r["total"],
                r["error"]
            ])
        })
        .collect();
    (status, items)
}

async fn analyst_token(api: &str, db: &Path) -> String {
    let mut create = common::vtc(api, db);
    create.args(["token", "create", "--name", "soar", "--role", "analyst"]);
    let out = common::run(create).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    common::stdout(&out).trim().to_owned()
}

async fn submit(http: &reqwest::Client, base: &str, token: &str, inputs: &[String]) -> Value {
    let resp = http
        .post(format!("{base}/v1/enrich"))
        .bearer_auth(token)
        .json(&json!(inputs))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    resp.json::<Value>().await.unwrap()["id"].clone()
}

/// `vtc serve` running a batch job, SIGKILLed twenty times at random
/// moments and restarted each time: after every kill the database passes
/// the integrity check; the job ends with exactly the results of an
/// uninterrupted service's run, each item once, in order.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_through_twenty_sigkills_of_serve_ends_as_an_uninterrupted_run() {
    const ITEMS: usize = 300;
    const KILLS: usize = 20;
    let emu = common::emulator(vt_emulator::EmulatorConfig {
        latency: Duration::from_millis(60),
        quota_minute: Some(0),
        quota_day: Some(0),
        quota_month: Some(0),
        ..vt_emulator::EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[quota]\nminute = 0\nday = 0\n\n[service]\nworkers = 2\nlease_seconds = 1\n",
    )
    .unwrap();
    let inputs: Vec<String> = (0..ITEMS)
        .map(|i| match i % 3 {
            0 => format!("{:064x}", 0x4b11_0000_u64 + i as u64),
            1 => format!("host{i}.serve-crash.test"),
            _ => format!("10.11.{}.{}", i / 256, i % 256),
        })
        .collect();
    let http = reqwest::Client::new();

    // The uninterrupted run, on its own database.
    let clean_db = dir.path().join("clean.sqlite");
    let token = analyst_token(&emu.api_url(), &clean_db).await;
    let (service, base) = serve(&emu.api_url(), &clean_db, &config).await;
    let id = submit(&http, &base, &token, &inputs).await;
    let (status, expected) = finished_results(&http, &base, &id, &token).await;
    drop(service);
    assert_eq!(status["state"], "done", "{status}");
    assert_eq!(expected.len(), ITEMS);

    let before_killed = common::requests(&emu);
    let db = dir.path().join("killed.sqlite");
    let token = analyst_token(&emu.api_url(), &db).await;
    let (mut service, mut base) = serve(&emu.api_url(), &db, &config).await;
    let id = submit(&http, &base, &token, &inputs).await;
    let mut rng = fastrand::Rng::with_seed(16);
    let mut mid_job = 0;
    let started = Instant::now();
    for round in 0..KILLS {
        let delay = Duration::from_millis(rng.u64(100..600));
        tokio::time::sleep(delay).await;
        let before = job(&http, &base, &id, &token).await;
        if before["finished_at"].is_null() {
            mid_job += 1;
        }
        drop(service); // SIGKILL
        assert_eq!(integrity(&db), "ok", "round {round}: after {delay:?}");
        (service, base) = serve(&emu.api_url(), &db, &config).await;
    }
    let kills_took = started.elapsed();
    let (status, got) = finished_results(&http, &base, &id, &token).await;
    drop(service);
    assert_eq!(status["state"], "done", "{status}");
    assert_eq!(status["items"]["done"], ITEMS, "{status}");
    assert!(mid_job >= KILLS / 2, "only {mid_job} kills came mid-job");
    let spent = common::requests(&emu) - before_killed;
    assert_eq!(
        got, expected,
        "the results differ from an uninterrupted run's"
    );
    assert_eq!(integrity(&db), "ok");
    // Resumed, not redone: each item asked for once, give or take those in
    // flight at each kill (two workers, two slots per priority).
    assert!(
        spent <= (ITEMS + 4 * KILLS) as u64,
        "{spent} requests for {ITEMS} items"
    );
    eprintln!(
        "crash safety (serve): {KILLS} SIGKILLs in {kills_took:?}, {mid_job} mid-job; {ITEMS} results equal; {spent} requests"
    );
}

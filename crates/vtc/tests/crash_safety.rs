//! Crash safety of `vtc enrich`: SIGKILLed twenty times at random moments,
//! the database still opens and passes SQLite's integrity check, each run
//! resumes, and the final output holds exactly the lines of an
//! uninterrupted run (sorted: a resumed run writes replayed records first).
//! Two runs started at once on the same input, output and database: one
//! works, the other refuses with one line and exit 2.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use vt_emulator::EmulatorConfig;

const ITEMS: usize = 600;
const KILLS: usize = 20;

fn input(dir: &Path) -> std::path::PathBuf {
    let lines: Vec<String> = (0..ITEMS)
        .map(|i| match i % 3 {
            0 => format!("{:064x}", 0xc4a5_0000_u64 + i as u64),
            1 => format!("host{i}.crash.test"),
            _ => format!("10.9.{}.{}", i / 256, i % 256),
        })
        .collect();
    let path = dir.join("in.txt");
    std::fs::write(&path, lines.join("\n") + "\n").expect("input");
    path
}

fn enrich_cmd(api: &str, db: &Path, input: &Path, out: &Path) -> Command {
    let mut cmd = vtc(api, db);
    cmd.args([
        "--api-key",
        "crash-key",
        "--quota-minute",
        "0",
        "--quota-day",
        "0",
    ])
    .arg("enrich")
    .arg(input)
    .arg("-o")
    .arg(out)
    .args(["--concurrency", "2"])
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    cmd
}

/// The output's lines, sorted, without `cached` (an item redone after a
/// kill may be answered from the cache its first attempt filled).
fn sorted_lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .expect("output")
        .lines()
        .map(|l| {
            let mut v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("torn line {l:?}: {e}"));
            v.as_object_mut().expect("object").remove("cached");
            v.to_string()
        })
        .collect();
    lines.sort();
    lines
}

fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open(db).expect("the database opens");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .expect("integrity check runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_sigkills_at_random_moments_lose_and_repeat_nothing() {
    let emu = emulator(EmulatorConfig {
        latency: Duration::from_millis(15),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = input(dir.path());

    let clean_out = dir.path().join("clean.jsonl");
    let clean = enrich_cmd(
        &emu.base_url(),
        &dir.path().join("clean.sqlite"),
        &input,
        &clean_out,
    );
    let out = run(clean).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = sorted_lines(&clean_out);
    assert_eq!(expected.len(), ITEMS);

    let db = dir.path().join("killed.sqlite");
    let killed_out = dir.path().join("killed.jsonl");
    let mut rng = fastrand::Rng::with_seed(16);
    let mut survived = 0;
    for round in 0..KILLS {
        let mut child = enrich_cmd(&emu.base_url(), &db, &input, &killed_out)
            .spawn()
            .expect("vtc starts");
        let delay = Duration::from_millis(rng.u64(40..400));
        tokio::time::sleep(delay).await;
        if child.try_wait().expect("status").is_none() {
            child.kill().expect("SIGKILL");
            survived += 1;
        }
        child.wait().expect("reaped");
        assert_eq!(integrity(&db), "ok", "round {round}: after {delay:?}");
    }
    assert!(
        survived >= KILLS / 2,
        "only {survived} kills hit a running vtc"
    );

    let last = enrich_cmd(&emu.base_url(), &db, &input, &killed_out);
    let out = run(last).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("resumed"), "{}", stderr(&out));
    assert_eq!(sorted_lines(&killed_out), expected);
    eprintln!("crash safety: {survived} of {KILLS} SIGKILLs hit a running vtc; output equal");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_on_the_same_output_refuses_and_the_first_finishes() {
    let emu = emulator(EmulatorConfig {
        latency: Duration::from_millis(10),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = input(dir.path());
    let db = db_in(&dir);
    let out_path = dir.path().join("out.jsonl");
    let first = enrich_cmd(&emu.base_url(), &db, &input, &out_path)
        .spawn()
        .expect("first");
    let second = enrich_cmd(&emu.base_url(), &db, &input, &out_path)
        .spawn()
        .expect("second");
    let (a, b) = tokio::task::spawn_blocking(move || {
        (
            first.wait_with_output().expect("first ends"),
            second.wait_with_output().expect("second ends"),
        )
    })
    .await
    .expect("join");
    let (ok, refused) = match (a.status.code(), b.status.code()) {
        (Some(0), Some(2)) => (a, b),
        (Some(2), Some(0)) => (b, a),
        other => panic!(
            "one run works, one refuses: {other:?}\n{}\n{}",
            stderr(&a),
            stderr(&b)
        ),
    };
    let message = stderr(&refused);
    assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    assert!(message.contains("another vtc is writing"), "{message}");
    assert!(stderr(&ok).contains("enriched 600"), "{}", stderr(&ok));
    let lines = sorted_lines(&out_path);
    assert_eq!(lines.len(), ITEMS, "a whole output, each item once");
    let mut dedup = lines.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), ITEMS);
}

// --- collect ---------------------------------------------------------------

/// What `vtc collect` kept, one line per binary, sorted (ids and times
/// left out: they differ between two runs). Panics on two rows for a hash.
async fn collected_lines(db: &Path) -> Vec<String> {
    let store = store::open(db.to_str().unwrap()).await.expect("store");
    let mut seen = std::collections::BTreeSet::new();
    let mut lines: Vec<String> = store
        .collect_binaries(false)
        .await
        .expect("binaries")
        .into_iter()
        .map(|b| {
            let key = b.sha256.clone().expect("sha256");
            assert!(seen.insert(key), "two rows for one binary");
            serde_json::json!({
                "md5": b.md5, "sha1": b.sha1, "sha256": b.sha256,
                "verdict": b.verdict, "malicious": b.malicious, "total": b.total,
                "in_feed": b.in_feed, "sources": b.sources, "queried": b.last_query.is_some(),
            })
            .to_string()
        })
        .collect();
    lines.sort();
    lines
}

fn collect_cmd(api: &str, db: &Path, config: &Path, list: &Path) -> Command {
    let mut cmd = vtc(api, db);
    cmd.arg("--config")
        .arg(config)
        .args([
            "--api-key",
            "crash-key",
            "--quota-minute",
            "0",
            "--quota-day",
            "0",
        ])
        .args(["collect", "--once", "--hashes"])
        .arg(list)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// `vtc collect --once --hashes LIST` (checkpointed) SIGKILLed twenty
/// times at random moments: the database passes the integrity check after
/// each kill, the next run resumes from the checkpoint, and in the end the
/// database holds exactly what an uninterrupted run's holds, each binary
/// once and looked up.
#[tokio::test(flavor = "multi_thread")]
async fn collect_over_a_hash_list_survives_twenty_sigkills_and_ends_as_an_uninterrupted_run() {
    const BINARIES: usize = 400;
    let emu = emulator(EmulatorConfig {
        latency: Duration::from_millis(15),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("collect.toml");
    std::fs::write(&config, "[collect]\nquick_scan_threads = 2\n").expect("config");
    let list = dir.path().join("hashes.txt");
    let hashes: String = (0..BINARIES)
        .map(|i| {
            use sha2::{Digest, Sha256};
            hex::encode(Sha256::digest(format!("collect-crash-{i}").as_bytes())) + "\n"
        })
        .collect();
    std::fs::write(&list, hashes).expect("list");

    let clean_db = dir.path().join("clean.sqlite");
    let out = run(collect_cmd(&emu.base_url(), &clean_db, &config, &list)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = collected_lines(&clean_db).await;
    assert_eq!(expected.len(), BINARIES);

    let lookups = |emu: &vt_emulator::RunningEmulator| {
        emu.emulator().stats()["by_route"]["GET /files/{id}"]
            .as_u64()
            .unwrap_or(0)
    };
    let before = lookups(&emu);
    let db = dir.path().join("killed.sqlite");
    let mut rng = fastrand::Rng::with_seed(16);
    let mut survived = 0;
    for round in 0..KILLS {
        let mut child = collect_cmd(&emu.base_url(), &db, &config, &list)
            .spawn()
            .expect("vtc starts");
        let delay = Duration::from_millis(rng.u64(40..400));
        tokio::time::sleep(delay).await;
        if child.try_wait().expect("status").is_none() {
            child.kill().expect("SIGKILL");
            survived += 1;
        }
        child.wait().expect("reaped");
        assert_eq!(integrity(&db), "ok", "round {round}: after {delay:?}");
    }
    assert!(
        survived >= KILLS / 2,
        "only {survived} kills hit a running vtc"
    );
    let out = run(collect_cmd(&emu.base_url(), &db, &config, &list)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(collected_lines(&db).await, expected);
    // Each run resumed where the last was killed: each binary looked up
    // once, give or take the two in flight at each kill.
    let spent = lookups(&emu) - before;
    assert!(
        spent <= (BINARIES + 2 * KILLS) as u64,
        "{spent} look-ups for {BINARIES} binaries"
    );
    eprintln!("crash safety (collect): {survived} of {KILLS} SIGKILLs hit a running vtc; database equal; {spent} look-ups for {BINARIES} binaries");
}

//! `vtc collect` end to end: a watched folder, the rescan window, the
//! Carbon Black EDR API (through the stand-in in `cb_standin`), a SIGKILL
//! between two polls, uploads only on opt-in, the connector config import.
//! VirusTotal is the emulator with an empty world (only EICAR, the empty
//! file and what is uploaded exist), so the malicious binaries are exactly
//! the EICAR ones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cb_standin;
mod common;

use cb_standin::{CbBinary, Standin};
use common::{emulator, run, stderr, stdout, vtc, EICAR_SHA256};
use md5::{Digest, Md5};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vt_emulator::{EmulatorConfig, RunningEmulator, WorldMode, EICAR, EICAR_MD5};

const FEED_SECRET: &str = "collect-feed-secret-0123456789";

/// The md5 IOCs of a Carbon Black feed, sorted.
fn cb_feed_md5s(feed: &serde_json::Value) -> Vec<String> {
    let mut md5s: Vec<String> = feed["reports"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["iocs"]["md5"].as_array().unwrap().clone())
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    md5s.sort();
    md5s
}

/// `/feeds/cb.json` of a `vtc serve` on the same database, read with the
/// feed secret as an EDR server subscribes.
async fn served_cb_feed(emu: &RunningEmulator, db: &Path, config: &Path) -> serde_json::Value {
    let mut cmd = vtc(&emu.base_url(), db);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        "test-key",
        "--config",
    ])
    .arg(config)
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        line
    })
    .await
    .unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let url = format!("{base}/feeds/cb.json?secret={FEED_SECRET}");
    let body = reqwest::get(&url).await.unwrap();
    assert!(body.status().is_success(), "{}", body.status());
    let feed = body.json().await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
    feed
}

const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

async fn empty_world() -> RunningEmulator {
    emulator(EmulatorConfig {
        world: WorldMode::Empty,
        ..EmulatorConfig::default()
    })
    .await
}

/// `vtc collect ARGS` against the emulator, with its own database and config.
fn collect(emu: &RunningEmulator, db: &Path, config: &Path, args: &[&str]) -> Command {
    let mut cmd = vtc(&emu.base_url(), db);
    cmd.args([
        "collect",
        "--api-key",
        "test-key",
        "--quota-minute",
        "0",
        "--quota-day",
        "0",
    ])
    .arg("--config")
    .arg(config)
    .args(args);
    cmd
}

fn status(db: &Path, config: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .env("XDG_CONFIG_HOME", db.parent().unwrap())
        .arg("--db")
        .arg(db)
        .args(["collect", "status", "--format", "json", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(out.status.success(), "status: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

async fn wait_exit(mut child: Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "vtc collect did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn route(emu: &RunningEmulator, route: &str) -> u64 {
    emu.emulator().stats()["by_route"][route]
        .as_u64()
        .unwrap_or(0)
}

fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n).map(|_| rng.u8(..)).collect()
}

async fn feed_sha256s(db: &Path) -> Vec<String> {
    let store = store::open(db.to_str().unwrap()).await.unwrap();
    let mut feed: Vec<String> = collect::feed_binaries(store.as_ref())
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.sha256.unwrap_or_default())
        .collect();
    feed.sort();
    feed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_folder_of_fifty_files_is_looked_up_by_hash_only_and_the_feed_is_the_eicar_ones()
{
    let emu = empty_world().await;
    let dir = tempfile::tempdir().unwrap();
    let (db, config, log) = (
        dir.path().join("vtc.sqlite"),
        dir.path().join("config.toml"),
        dir.path().join("logs/collect.log"),
    );
    std::fs::write(
        &config,
        format!("[collect]\ndebounce_ms = 200\n[feeds]\nsecret = \"{FEED_SECRET}\"\n"),
    )
    .unwrap();
    let watched = dir.path().join("watched");
    std::fs::create_dir_all(watched.join("early")).unwrap();
    // Two files there before the start (the first scan finds them).
    std::fs::write(watched.join("early/eicar-0.com"), EICAR).unwrap();
    std::fs::write(watched.join("early/random-0.bin"), random_bytes(0, 3000)).unwrap();
    let child = spawn(collect(
        &emu,
        &db,
        &config,
        &[
            "--path",
            watched.to_str().unwrap(),
            "--log-file",
            log.to_str().unwrap(),
        ],
    ));
    wait_for("the watch to start", Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("watching"))
    })
    .await;
    // 48 more while it watches, some in a folder made after the start.
    std::fs::create_dir_all(watched.join("later/deeper")).unwrap();
    for i in 1..10 {
        std::fs::write(watched.join(format!("later/deeper/eicar-{i}.com")), EICAR).unwrap();
    }
    for i in 1..40u64 {
        let sub = if i % 2 == 0 { "later" } else { "" };
        let bytes = random_bytes(i, 1000 + i as usize * 37);
        std::fs::write(watched.join(sub).join(format!("random-{i}.bin")), bytes).unwrap();
    }
    // 10 EICAR copies are one binary; 40 random files are 40.
    wait_for("41 binaries looked up", Duration::from_secs(60), || {
        let s = status(&db, &config);
        s["binaries"] == 41 && s["backlog"] == 0
    })
    .await;
    signal(&child, "-TERM");
    let out = wait_exit(child).await;
    assert!(
        out.status.success(),
        "SIGTERM stops it cleanly: {}",
        stderr(&out)
    );
    let s = status(&db, &config);
    assert_eq!(s["in_feed"], 1);
    assert_eq!(s["by_verdict"]["bad"], 1);
    assert_eq!(s["by_verdict"]["unknown"], 40);
    // Hash-only: nothing uploaded, each binary looked up once.
    let stats = emu.emulator().stats();
    assert_eq!(stats["uploads_total"], 0, "{stats}");
    assert_eq!(route(&emu, "POST /files"), 0);
    assert_eq!(route(&emu, "GET /files/{id}"), 41, "{stats}");
    // The feed is exactly the EICAR binary, seen under ten names.
    assert_eq!(feed_sha256s(&db).await, [EICAR_SHA256]);
    let store = store::open(db.to_str().unwrap()).await.unwrap();
    let eicar = collect::feed_binaries(store.as_ref())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(eicar.file_names.len(), 10);
    assert_eq!(eicar.md5.as_deref(), Some(EICAR_MD5));
    let records = collect::feed_records(store.as_ref()).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].verdict, verdict::Verdict::Bad);
    assert_eq!(records[0].sha256.as_deref(), Some(EICAR_SHA256));
    assert!(records[0].malicious > 0);
    drop(store);
    // The Carbon Black feed lists exactly the malicious binary, in the
    // export and at /feeds/cb.json alike.
    let mut export = Command::new(env!("CARGO_BIN_EXE_vtc"));
    export
        .env("XDG_CONFIG_HOME", dir.path())
        .args([
            "feed",
            "export",
            "--format",
            "cb",
            "--api-url",
            &emu.base_url(),
            "--db",
        ])
        .arg(&db)
        .arg("--config")
        .arg(&config);
    let exported = run(export).await;
    assert!(exported.status.success(), "{}", stderr(&exported));
    let feed: serde_json::Value = serde_json::from_slice(&exported.stdout).unwrap();
    assert_eq!(cb_feed_md5s(&feed), [EICAR_MD5], "{feed}");
    let served = served_cb_feed(&emu, &db, &config).await;
    assert_eq!(cb_feed_md5s(&served), [EICAR_MD5]);
    assert_eq!(
        served["reports"], feed["reports"],
        "the URL serves the same feed"
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("stopped; every source's checkpoint is in the database"));
    assert!(
        !log_text.contains("test-key"),
        "the key never reaches the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_rescan_window_aged_entries_are_rescanned_exactly_once() {
    let emu = empty_world().await;
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = (
        dir.path().join("vtc.sqlite"),
        dir.path().join("config.toml"),
    );
    std::fs::write(&config, "").unwrap();
    let folder = dir.path().join("files");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("eicar.com"), EICAR).unwrap();
    std::fs::write(folder.join("empty"), b"").unwrap();
    for i in 0..3 {
        std::fs::write(folder.join(format!("r{i}")), random_bytes(100 + i, 500)).unwrap();
    }
    let path = folder.to_str().unwrap();
    let first = run(collect(&emu, &db, &config, &["--once", "--path", path])).await;
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        route(&emu, "POST /files/{id}/analyse"),
        0,
        "NEVER is the default"
    );
    // EICAR and the empty file are known, with analyses older than 30
    // minutes: due. The three unknown files have no analysis to age.
    assert_eq!(status(&db, &config)["rescan_due"], 0);
    let due = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .env("XDG_CONFIG_HOME", dir.path())
        .arg("--db")
        .arg(&db)
        .args([
            "collect",
            "status",
            "--rescan-window",
            "30M",
            "--format",
            "json",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    let due: serde_json::Value = serde_json::from_slice(&due.stdout).unwrap();
    assert_eq!(due["rescan_due"], 2, "{due}");
    for _ in 0..3 {
        let again = run(collect(
            &emu,
            &db,
            &config,
            &["--once", "--path", path, "--rescan-window", "30M"],
        ))
        .await;
        assert!(again.status.success(), "{}", stderr(&again));
    }
    assert_eq!(
        route(&emu, "POST /files/{id}/analyse"),
        2,
        "each aged entry once"
    );
    let s = status(&db, &config);
    assert_eq!(s["rescanned"], 2);
    assert_eq!(s["in_feed"], 1, "EICAR stays in the feed after its rescan");
    assert_eq!(feed_sha256s(&db).await, [EICAR_SHA256]);
    // The first look-up of each of the 5, and one refreshed look-up per rescan.
    assert_eq!(route(&emu, "GET /files/{id}"), 7);
}

fn md5_hex(bytes: &[u8]) -> String {
    hex_lower(&Md5::digest(bytes))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn cb_binary(i: u64, bytes: Vec<u8>) -> CbBinary {
    CbBinary {
        md5: md5_hex(&bytes),
        added: format!("2026-11-20T10:{:02}:00.000Z", i),
        host: format!("WS-{}", i % 3),
        name: format!("tool-{i}.exe"),
        bytes,
    }
}

fn cb_config(dir: &Path, cb: &Standin, token: &str, extra: &str) -> PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[collect]\ncarbonblack_server_url = \"{}\"\ncarbonblack_server_token = \"{token}\"\n\
             carbonblack_poll_seconds = 1\ncarbonblack_page_rows = 3\n\
             binary_filter_query = \"is_executable_image:true\"\n{extra}",
            cb.url
        ),
    )
    .unwrap();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carbon_black_binaries_across_two_polls_are_each_queried_once_and_the_checkpoint_survives_a_kill(
) {
    let emu = empty_world().await;
    let cb = Standin::start("cb-token").await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vtc.sqlite");
    let config = cb_config(dir.path(), &cb, "cb-token", "");
    // First batch: EICAR, the empty file and five unknown binaries.
    cb.add(cb_binary(1, EICAR.to_vec()));
    cb.add(cb_binary(2, Vec::new()));
    for i in 3..8 {
        cb.add(cb_binary(i, random_bytes(i, 700)));
    }
    let first = spawn(collect(&emu, &db, &config, &["--carbonblack"]));
    wait_for("the first seven binaries", Duration::from_secs(60), || {
        let s = status(&db, &config);
        s["queried"] == 7
    })
    .await;
    // Killed without a chance to write anything more.
    signal(&first, "-KILL");
    let killed = wait_exit(first).await;
    assert!(!killed.status.success());
    let s = status(&db, &config);
    let checkpoint = s["sources"][0]["checkpoint"].as_str().unwrap().to_owned();
    assert_eq!(checkpoint, "2026-11-20T10:07:00.000Z", "{s}");
    // Second batch, added while the collector was down.
    for i in 8..13 {
        cb.add(cb_binary(i, random_bytes(i, 900)));
    }
    let polls_before = cb.queries().len();
    let second = spawn(collect(&emu, &db, &config, &["--carbonblack"]));
    wait_for("all twelve binaries", Duration::from_secs(60), || {
        let s = status(&db, &config);
        s["queried"] == 12 && s["backlog"] == 0
    })
    .await;
    signal(&second, "-TERM");
    let out = wait_exit(second).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // The restarted collector asked from the checkpoint, not from the start.
    let after_restart = &cb.queries()[polls_before];
    assert!(
        after_restart["q"].starts_with(&format!("server_added_timestamp:[{checkpoint} TO *]")),
        "{after_restart:?}"
    );
    assert!(after_restart["q"].ends_with("is_executable_image:true"));
    assert_eq!(after_restart["sort"], "server_added_timestamp asc");
    // Each binary asked of VirusTotal once, hash only.
    assert_eq!(
        route(&emu, "GET /files/{id}"),
        12,
        "{}",
        emu.emulator().stats()
    );
    assert_eq!(emu.emulator().stats()["uploads_total"], 0);
    assert_eq!(cb.downloads(), 0, "no deep scan unless asked");
    let s = status(&db, &config);
    assert_eq!(
        (s["binaries"].as_u64(), s["in_feed"].as_u64()),
        (Some(12), Some(1))
    );
    assert_eq!(feed_sha256s(&db).await, [EICAR_SHA256]);
    let store = store::open(db.to_str().unwrap()).await.unwrap();
    let eicar = collect::feed_binaries(store.as_ref())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(eicar.hosts, ["WS-1"]);
    assert_eq!(eicar.file_names, ["tool-1.exe"]);
    let _ = EMPTY_MD5;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_carbon_black_token_is_a_configuration_error() {
    let emu = empty_world().await;
    let cb = Standin::start("right-token").await;
    cb.add(cb_binary(1, EICAR.to_vec()));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vtc.sqlite");
    let config = cb_config(dir.path(), &cb, "wrong-token", "");
    let out = run(collect(&emu, &db, &config, &["--once", "--carbonblack"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("carbon black rejected the API token (HTTP 401)"),
        "{err}"
    );
    assert!(!err.contains("wrong-token"), "the token is never shown");
    // The daemon stops on it too, rather than polling a door that stays shut.
    let daemon = run(collect(&emu, &db, &config, &["--carbonblack"])).await;
    assert_eq!(daemon.status.code(), Some(2), "{}", stderr(&daemon));
    assert_eq!(emu.emulator().stats()["requests_total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_going_away_mid_poll_keeps_the_pages_read_and_the_next_run_resumes() {
    let emu = empty_world().await;
    let cb = Standin::start("t").await;
    cb.add(cb_binary(1, EICAR.to_vec()));
    for i in 2..8 {
        cb.add(cb_binary(i, random_bytes(i + 50, 600)));
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vtc.sqlite");
    let config = cb_config(dir.path(), &cb, "t", "");
    // Pages of three: the second page fails.
    cb.fail_pages_from(Some(1));
    let cut = run(collect(&emu, &db, &config, &["--once", "--carbonblack"])).await;
    assert_eq!(cut.status.code(), Some(1), "{}", stderr(&cut));
    assert!(
        stderr(&cut).contains("carbon black: the server answered HTTP 503"),
        "{}",
        stderr(&cut)
    );
    let s = status(&db, &config);
    assert_eq!(s["binaries"], 3, "the first page is kept: {s}");
    assert_eq!(s["sources"][0]["checkpoint"], "2026-11-20T10:03:00.000Z");
    cb.fail_pages_from(None);
    let resumed = run(collect(&emu, &db, &config, &["--once", "--carbonblack"])).await;
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let s = status(&db, &config);
    assert_eq!(
        (s["binaries"].as_u64(), s["backlog"].as_u64()),
        (Some(7), Some(0))
    );
    assert_eq!(route(&emu, "GET /files/{id}"), 7, "none asked twice");
    let last = cb.queries().last().cloned().unwrap();
    assert!(
        last["q"].contains("[2026-11-20T10:03:00.000Z TO *]"),
        "{last:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_binaries_go_only_on_opt_in_unknown_ones_only_and_within_the_cap() {
    let emu = empty_world().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vtc.sqlite");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[collect]\nsubmit_full_binaries = true\ndeep_scan_threads = 2\nmax_upload_bytes = 100000\n",
    )
    .unwrap();
    let folder = dir.path().join("files");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("eicar.com"), EICAR).unwrap();
    for i in 0..3 {
        std::fs::write(
            folder.join(format!("small{i}")),
            random_bytes(200 + i, 2000),
        )
        .unwrap();
    }
    std::fs::write(folder.join("big"), random_bytes(9, 200_000)).unwrap();
    let out = run(collect(
        &emu,
        &db,
        &config,
        &["--once", "--path", folder.to_str().unwrap()],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("submit_full_binaries is on: whole binaries"),
        "the warning that binaries leave the machine: {}",
        stderr(&out)
    );
    // EICAR is known (never uploaded), "big" is over the cap: three uploads.
    assert_eq!(
        emu.emulator().stats()["uploads_total"],
        3,
        "{}",
        emu.emulator().stats()
    );
    let s = status(&db, &config);
    assert_eq!(s["uploaded"], 3);
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(summary["uploaded"], 3);
}

/// The shape of the original connector's connector.conf (its documented
/// keys; values made up).
const CONNECTOR_CONF: &str = "[bridge]\nlistener_port=4000\nlistener_address=0.0.0.0\n\
    feed_host=127.0.0.1\nbinary_filter_query=is_executable_image:true\n\
    virustotal_api_token=0000111122223333\nvirustotal_url=https://www.virustotal.com/vtapi/v2/file/\n\
    carbonblack_server_url=https://127.0.0.1/\ncarbonblack_server_token=abcd\n\
    carbonblack_server_sslverify=0\nrescan_window=12H\nsubmit_full_binaries=0\n\
    virustotal_deep_scan_threads=0\n;virustotal_quick_scan_threads=2\nlegacy_feed_directory=/x\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_config_imports_into_a_config_vtc_runs_with() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("connector.conf");
    std::fs::write(&conf, CONNECTOR_CONF).unwrap();
    let out_path = dir.path().join("vtc.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .args(["collect", "--import-config"])
        .arg(&conf)
        .arg("-o")
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("not mapped: virustotal_url"), "{err}");
    assert!(err.contains("not mapped: legacy_feed_directory"), "{err}");
    let text = std::fs::read_to_string(&out_path).unwrap();
    assert!(text.contains("rescan_window = \"12H\""), "{text}");
    assert!(text.contains("feed_listen = \"0.0.0.0:4000\""), "{text}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "it holds keys");
    // vtc reads it: status under its window.
    let db = dir.path().join("vtc.sqlite");
    let status = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .env("XDG_CONFIG_HOME", dir.path())
        .args([
            "--db",
            db.to_str().unwrap(),
            "collect",
            "status",
            "--config",
        ])
        .arg(&out_path)
        .args(["--format", "table"])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(
        stdout(&status).contains("rescan       12H"),
        "{}",
        stdout(&status)
    );
    // Never over an existing file; a broken file is a usage error.
    let again = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .args(["collect", "--import-config"])
        .arg(&conf)
        .arg("-o")
        .arg(&out_path)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    std::fs::write(&conf, "[bridge]\nrescan_window=soon\n").unwrap();
    let bad = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .args(["collect", "--import-config"])
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("rescan_window"), "{}", stderr(&bad));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_list_resumes_from_its_checkpoint() {
    let emu = empty_world().await;
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = (
        dir.path().join("vtc.sqlite"),
        dir.path().join("config.toml"),
    );
    std::fs::write(&config, "").unwrap();
    let list = dir.path().join("hashes.txt");
    std::fs::write(&list, format!("{EICAR_MD5}\nnot a hash\n")).unwrap();
    let first = run(collect(
        &emu,
        &db,
        &config,
        &["--once", "--hashes", list.to_str().unwrap()],
    ))
    .await;
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("a line skipped"),
        "{}",
        stderr(&first)
    );
    assert_eq!(status(&db, &config)["binaries"], 1);
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&list)
        .unwrap();
    writeln!(
        f,
        "{{\"hash\": \"{EICAR_SHA256}\", \"host\": \"ws-9\", \"file_name\": \"e.com\"}}"
    )
    .unwrap();
    writeln!(f, "{EMPTY_MD5}").unwrap();
    drop(f);
    let second = run(collect(
        &emu,
        &db,
        &config,
        &["--once", "--hashes", list.to_str().unwrap()],
    ))
    .await;
    assert!(second.status.success(), "{}", stderr(&second));
    let summary: serde_json::Value = serde_json::from_str(stdout(&second).trim()).unwrap();
    assert_eq!(
        summary["sightings"], 2,
        "only the new lines were read: {summary}"
    );
    // EICAR by its sha256 is the binary already looked up by md5.
    assert_eq!(status(&db, &config)["binaries"], 2);
    assert_eq!(route(&emu, "GET /files/{id}"), 2);
    let store = store::open(db.to_str().unwrap()).await.unwrap();
    let eicar = collect::feed_binaries(store.as_ref())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(eicar.hosts, ["ws-9"]);
    drop(store);
    // --reset starts over: the whole list is read and looked up again
    // (from the cache, so VirusTotal is not asked again).
    let reset = run(collect(&emu, &db, &config, &["--reset"])).await;
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert_eq!(status(&db, &config)["binaries"], 0);
    let third = run(collect(
        &emu,
        &db,
        &config,
        &["--once", "--hashes", list.to_str().unwrap()],
    ))
    .await;
    assert!(third.status.success(), "{}", stderr(&third));
    assert_eq!(status(&db, &config)["binaries"], 2);
}

/// The systemd units start commands that exist, with flags vtc accepts
/// (`--help` after them makes clap check every flag without running).
#[test]
fn the_systemd_units_start_real_commands() {
    let units = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../integrations/systemd");
    for unit in ["vtc-collect.service", "vtc-serve.service"] {
        let text = std::fs::read_to_string(units.join(unit)).unwrap();
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap_or_else(|| panic!("{unit} has an ExecStart"));
        let mut words = exec.split_whitespace();
        assert_eq!(words.next(), Some("/usr/local/bin/vtc"));
        let out = Command::new(env!("CARGO_BIN_EXE_vtc"))
            .args(words)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{unit}: {}", stderr(&out));
        assert!(text.contains("KillSignal=SIGTERM"), "{unit}");
    }
}

/// SIGTERM while look-ups are slow: no new one starts, the one under way
/// finishes and is written, the process exits 0 promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_slow_look_ups_stops_cleanly_and_keeps_what_finished() {
    let emu = emulator(EmulatorConfig {
        world: WorldMode::Empty,
        latency: Duration::from_millis(1500),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (db, config) = (
        dir.path().join("vtc.sqlite"),
        dir.path().join("config.toml"),
    );
    std::fs::write(&config, "[collect]\nquick_scan_threads = 1\n").unwrap();
    let list = dir.path().join("hashes.txt");
    let hashes: String = (0..20u32).map(|i| format!("{i:032x}\n")).collect();
    std::fs::write(&list, hashes).unwrap();
    let child = spawn(collect(
        &emu,
        &db,
        &config,
        &["--hashes", list.to_str().unwrap()],
    ));
    wait_for(
        "the first look-up to start",
        Duration::from_secs(30),
        || route(&emu, "GET /files/{id}") >= 1,
    )
    .await;
    let asked = Instant::now();
    signal(&child, "-TERM");
    let out = wait_exit(child).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        asked.elapsed() < Duration::from_secs(12),
        "stopped in {:?}",
        asked.elapsed()
    );
    let s = status(&db, &config);
    assert_eq!(s["binaries"], 20);
    let looked_up = route(&emu, "GET /files/{id}");
    assert!(looked_up < 20, "it stopped taking new ones ({looked_up})");
    assert_eq!(
        s["queried"].as_u64(),
        Some(looked_up),
        "each one asked was written: {s}"
    );
    assert_eq!(
        s["sources"][0]["checkpoint"]
            .as_str()
            .map(|c| c.ends_with(":660")),
        Some(true),
        "{s}"
    );
}

//! `vtc scan`, `vtc analysis` and `vtc rescan` end to end against the
//! emulator, and the memory bound of a large upload.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use ioc::IndicatorKind;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use vt_emulator::{world_class, EmulatorConfig, WorldClass};

/// A `vtc` against the emulator with key `k` and no local minute budget,
/// so polling is not held back by the public API's 4 a minute.
fn vtc_k(emu: &vt_emulator::RunningEmulator, dir: &tempfile::TempDir) -> Command {
    let mut cmd = vtc(&emu.base_url(), &db_in(dir));
    cmd.args(["--api-key", "k", "--quota-minute", "0"]);
    cmd
}

/// Bytes whose sha256 the synthetic world does not know, so a scan uploads.
fn unknown_content(tag: &str) -> Vec<u8> {
    (0u32..)
        .map(|i| format!("{tag} sample {i}\n").into_bytes())
        .find(|bytes| {
            let sha = hex::encode(Sha256::digest(bytes));
            world_class(IndicatorKind::File, &sha) == WorldClass::Unknown
        })
        .expect("some content is unknown")
}

fn count(emu: &vt_emulator::RunningEmulator, route: &str) -> u64 {
    emu.emulator().stats()["by_route"][route]
        .as_u64()
        .unwrap_or(0)
}

fn uploads(emu: &vt_emulator::RunningEmulator) -> u64 {
    emu.emulator().stats()["uploads_total"]
        .as_u64()
        .unwrap_or(0)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

#[tokio::test(flavor = "multi_thread")]
async fn scanning_a_known_file_prints_its_report_without_uploading() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("eicar.com");
    std::fs::write(&path, vt_emulator::EICAR).expect("write");
    let mut cmd = vtc_k(&emu, &dir);
    cmd.args(["--format", "json", "scan", "file"]).arg(&path);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["type"], "file");
    assert_eq!(report["id"], EICAR_SHA256);
    assert_eq!(uploads(&emu), 0, "a known file is not uploaded");
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));

    let mut cmd = vtc_k(&emu, &dir);
    cmd.args(["--format", "json", "scan", "file", "--force"])
        .arg(&path);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)["type"], "analysis");
    assert_eq!(uploads(&emu), 1, "--force uploads");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scanning_an_unknown_file_uploads_and_waits_for_the_completed_analysis() {
    let emu = emulator(EmulatorConfig {
        analysis_delay: Duration::from_millis(300),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("new.bin");
    let content = unknown_content("scan-wait");
    std::fs::write(&path, &content).expect("write");
    let mut cmd = vtc_k(&emu, &dir);
    cmd.args(["--format", "json", "scan", "file", "--wait"])
        .args(["--poll-interval-ms", "50", "--timeout", "20"])
        .arg(&path);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let analysis = json(&out);
    assert_eq!(analysis["type"], "analysis");
    assert_eq!(analysis["attributes"]["status"], "completed", "{analysis}");
    assert_eq!(
        analysis["meta"]["file_info"]["sha256"],
        hex::encode(Sha256::digest(&content))
    );
    assert_eq!(uploads(&emu), 1);
    assert!(
        count(&emu, "GET /analyses/{id}") >= 2,
        "polled while queued: {}",
        emu.emulator().stats()
    );
    // Not a terminal: no spinner on stderr.
    assert!(!stderr(&out).contains('\r'), "{:?}", stderr(&out));

    // The same analysis, by id, with `vtc analysis`.
    let id = analysis["id"].as_str().expect("id").to_owned();
    let mut cmd = vtc_k(&emu, &dir);
    cmd.args(["--format", "table", "analysis", &id]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("TYPE"), "{table}");
    assert!(
        table.contains(&id) && table.contains("completed"),
        "{table}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_past_the_timeout_is_a_clear_error_with_exit_code_1() {
    let emu = emulator(EmulatorConfig {
        analysis_delay: Duration::from_secs(60),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc_k(&emu, &dir);
    cmd.args(["scan", "url", "http://slow.example/x", "--wait"])
        .args(["--poll-interval-ms", "200", "--timeout", "1"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("still") && err.contains("vtc analysis u-"),
        "{err}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_url_queues_and_rescan_takes_a_hash_or_a_url() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc_k(&emu, &dir);
    cmd.args(["--format", "json", "scan", "url", "hxxp://evil[.]example/x"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let queued = json(&out);
    assert_eq!(queued["type"], "analysis");
    assert!(
        queued["id"].as_str().unwrap_or("").starts_with("u-"),
        "{queued}"
    );

    for id in [EICAR_SHA256, "http://evil.example/x"] {
        let mut cmd = vtc_k(&emu, &dir);
        cmd.args(["--format", "json", "rescan", id]);
        let out = run(cmd).await;
        assert!(out.status.success(), "{id}: {}", stderr(&out));
        assert_eq!(json(&out)["type"], "analysis", "{id}");
    }
    assert_eq!(count(&emu, "POST /files/{id}/analyse"), 1);
    assert_eq!(count(&emu, "POST /urls/{id}/analyse"), 1);

    // A domain cannot be rescanned: a usage error before any call.
    let before = requests(&emu);
    let mut cmd = vtc_k(&emu, &dir);
    cmd.args(["rescan", "example.com"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(requests(&emu), before);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_fail_with_one_line_and_exit_code_2_before_any_call() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Larger than VirusTotal accepts: refused before hashing or uploading (sparse, so instant).
    let big = dir.path().join("huge.bin");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(651 * 1024 * 1024))
        .expect("sparse file");
    let missing = dir.path().join("missing.bin");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (args(&["scan", "file"], &big), "650 MB"),
        (args(&["scan", "file"], &missing), "cannot read"),
        (args(&["scan", "file"], dir.path()), "not a regular file"),
        (strings(&["scan", "url", "not a url"]), "not"),
        (strings(&["analysis", "has space"]), "not an analysis id"),
    ];
    for (argv, want) in cases {
        let mut cmd = vtc_k(&emu, &dir);
        cmd.args(&argv);
        let out = run(cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{argv:?}: {err}");
        assert!(err.contains(want), "{argv:?}: {err}");
    }
    assert_eq!(requests(&emu), 0, "nothing was sent");
    emu.shutdown().await;
}

fn strings(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

fn args(parts: &[&str], path: &Path) -> Vec<String> {
    let mut v = strings(parts);
    v.push(path.display().to_string());
    v
}

/// The peak resident memory (VmHWM) of a running process, in kB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_40_mb_upload_goes_through_the_upload_url_in_under_64_mb_of_memory() {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("no /proc: the memory bound is checked on Linux only");
        return;
    }
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.bin");
    {
        use std::io::Write;
        let mut file = std::io::BufWriter::new(std::fs::File::create(&big).expect("create"));
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut block = vec![0u8; 1024 * 1024];
        for _ in 0..40 {
            for chunk in block.chunks_mut(8) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                chunk.copy_from_slice(&rng.to_le_bytes()[..chunk.len()]);
            }
            file.write_all(&block).expect("write");
        }
    }
    let mut cmd = vtc_k(&emu, &dir);
    cmd.args(["--format", "json", "scan", "file", "--force"])
        .arg(&big)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (out, peak_kb) = tokio::task::spawn_blocking(move || {
        let child = cmd.spawn().expect("spawn");
        let pid = child.id();
        let mut peak = 0;
        // Sample until the process is gone (bounded: 2 minutes).
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let mut child = child;
        while child.try_wait().expect("wait").is_none() && std::time::Instant::now() < deadline {
            if let Some(kb) = peak_rss_kb(pid) {
                peak = peak.max(kb);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (child.wait_with_output().expect("output"), peak)
    })
    .await
    .expect("join");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)["type"], "analysis");
    let stats = emu.emulator().stats();
    assert_eq!(count(&emu, "GET /files/upload_url"), 1, "{stats}");
    assert_eq!(
        count(&emu, "POST /files"),
        0,
        "not a direct upload: {stats}"
    );
    assert!(peak_kb > 0, "VmHWM was sampled");
    eprintln!("peak resident memory of `vtc scan file` (40 MB): {peak_kb} kB");
    assert!(
        peak_kb < 64 * 1024,
        "VmHWM {peak_kb} kB is over 64 MB for a 40 MB upload"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_on_a_terminal_shows_the_analysis_status() {
    let emu = emulator(EmulatorConfig {
        analysis_delay: Duration::from_millis(1500),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "--api-key",
        "k",
        "--quota-minute",
        "0",
        "scan",
        "url",
        "http://evil.example/slow",
        "--wait",
        "--poll-interval-ms",
        "100",
    ];
    let Some(cmd) = vtc_on_terminal(&emu.base_url(), &db_in(&dir), &args) else {
        return;
    };
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let screen = stdout(&out);
    assert!(screen.contains(": queued"), "{screen:?}");
    assert!(screen.contains(": in-progress"), "{screen:?}");
    assert!(screen.contains("completed"), "{screen:?}");
}

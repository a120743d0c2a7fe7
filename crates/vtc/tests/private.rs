//! `vtc private …` end to end: a private file is its uploader's alone.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::process::Command;
use std::time::Duration;
use vt_emulator::{EmulatorConfig, RunningEmulator};

const KEY_A: &str = "aaaaaaaa00000000000000000000000000000000000000000000000000000001";
const KEY_B: &str = "bbbbbbbb00000000000000000000000000000000000000000000000000000002";

fn vtc_as(emu: &RunningEmulator, dir: &tempfile::TempDir, key: &str) -> Command {
    let mut cmd = vtc(&emu.base_url(), &db_in(dir));
    cmd.args(["--api-key", key, "--quota-minute", "0"]);
    cmd
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_file_is_visible_to_its_key_and_not_to_another() {
    let emu = emulator(EmulatorConfig {
        premium_keys: vec![KEY_A.into(), KEY_B.into()],
        analysis_delay: Duration::from_millis(300),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("private.bin");
    let content = b"a private sample only key A may see\n";
    std::fs::write(&path, content).expect("write");
    let sha256 = hex::encode(Sha256::digest(content));

    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["--format", "json", "private", "scan-file", "--wait"])
        .args(["--poll-interval-ms", "50", "--timeout", "20"])
        .arg(&path);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let analysis = json(&out);
    assert_eq!(analysis["type"], "private_analysis");
    assert_eq!(analysis["attributes"]["status"], "completed", "{analysis}");
    let analysis_id = analysis["id"].as_str().expect("id").to_owned();

    // Key A sees the file, lists it and can read its analysis.
    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["--format", "json", "private", "file", &sha256]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)["id"], sha256.as_str());

    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["--format", "jsonl", "private", "list"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains(&sha256), "{}", stdout(&out));

    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["--format", "json", "private", "analysis", &analysis_id]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));

    // Key B sees none of it.
    let mut cmd = vtc_as(&emu, &dir, KEY_B);
    cmd.args(["private", "file", &sha256]);
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no private file") && err.contains("404"),
        "{err}"
    );

    let mut cmd = vtc_as(&emu, &dir, KEY_B);
    cmd.args(["--format", "jsonl", "private", "list"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(!stdout(&out).contains(&sha256), "{}", stdout(&out));

    let mut cmd = vtc_as(&emu, &dir, KEY_B);
    cmd.args(["private", "analysis", &analysis_id]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // Key A rescans, then deletes; afterwards the file is gone for A too.
    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["--format", "json", "private", "rescan", &sha256]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)["type"], "private_analysis");

    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["--format", "json", "private", "delete", &sha256]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)["deleted"], sha256.as_str());

    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["private", "file", &sha256]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_url_scan_is_queued_under_a_private_analysis() {
    let emu = emulator(EmulatorConfig {
        premium_keys: vec![KEY_A.into()],
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args([
        "--format",
        "json",
        "private",
        "scan-url",
        "http://private.example/x",
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let queued = json(&out);
    assert_eq!(queued["type"], "private_analysis", "{queued}");

    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["private", "file", "not-a-sha256"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    emu.shutdown().await;
}

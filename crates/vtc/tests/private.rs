//! `vtc private …` end to end: a private file is its uploader's alone.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

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

/// Runs `vtc action NAME` as `key` with `input` on stdin.
async fn action_as(
    emu: &RunningEmulator,
    dir: &tempfile::TempDir,
    key: &str,
    name: &str,
    input: String,
) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = vtc_as(emu, dir, key);
    cmd.args(["action", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("output")
    })
    .await
    .expect("join")
}

fn pages_served(emu: &RunningEmulator, route: &str) -> u64 {
    emu.emulator().stats()["by_route"][route]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn private_relationships_page_past_the_first_page_for_the_uploader_only() {
    let emu = emulator(EmulatorConfig {
        premium_keys: vec![KEY_A.into(), KEY_B.into()],
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The EICAR file is detected, so it has five or more related objects.
    let path = dir.path().join("eicar.com");
    std::fs::write(&path, vt_emulator::EICAR).expect("write");
    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["--format", "json", "private", "scan-file"])
        .arg(&path);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));

    let objects_route = "GET /private/files/{id}/{relationship}";
    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["--format", "json", "private", "relationships", EICAR_SHA256])
        .args(["contacted_domains", "--limit", "50", "--page-size", "2"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let objects = json(&out);
    let objects = objects.as_array().expect("an array");
    assert!(objects.len() >= 5, "{objects:?}");
    assert!(objects.iter().all(|o| o["type"] == "domain"));
    assert_eq!(
        pages_served(&emu, objects_route),
        objects.len().div_ceil(2) as u64
    );

    // Descriptors, cut at --limit in the middle of the second page.
    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args([
        "--format",
        "jsonl",
        "private",
        "relationships",
        EICAR_SHA256,
    ])
    .args(["contacted_domains", "--descriptors", "--limit", "3"])
    .args(["--page-size", "2"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    for (line, object) in lines.iter().zip(objects) {
        assert_eq!(line["id"], object["id"]);
    }
    assert_eq!(
        pages_served(&emu, "GET /private/files/{id}/relationships/{relationship}"),
        2
    );

    let out = action_as(
        &emu,
        &dir,
        KEY_A,
        "private_get_relationships",
        format!(r#"{{"sha256": "{EICAR_SHA256}", "relationship": "contacted_ips", "limit": 3}}"#),
    )
    .await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let data = &json(&out)["data"];
    assert_eq!(data.as_array().map(Vec::len), Some(3), "{data}");
    assert_eq!(data[0]["type"], "ip_address");

    // Key B cannot see key A's private file's relationships.
    let before = pages_served(&emu, objects_route);
    let mut cmd = vtc_as(&emu, &dir, KEY_B);
    cmd.args([
        "private",
        "relationships",
        EICAR_SHA256,
        "contacted_domains",
    ]);
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("no private file {EICAR_SHA256} for this key"))
            && err.contains("404"),
        "{err}"
    );
    assert_eq!(pages_served(&emu, objects_route), before + 1);

    let out = action_as(
        &emu,
        &dir,
        KEY_B,
        "private_get_relationships",
        format!(r#"{{"sha256": "{EICAR_SHA256}", "relationship": "contacted_ips"}}"#),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json(&out)["error"]["code"], "NotFoundError");

    // Bad input is refused before any call.
    for (sha256, relationship) in [("not-a-sha256", "contacted_ips"), (EICAR_SHA256, "../x")] {
        let mut cmd = vtc_as(&emu, &dir, KEY_A);
        cmd.args(["private", "relationships", sha256, relationship]);
        let out = run(cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_url_report_is_the_submitting_keys_only() {
    let emu = emulator(EmulatorConfig {
        premium_keys: vec![KEY_A.into(), KEY_B.into()],
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = "http://private-report.example/landing";
    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["--format", "json", "private", "scan-url", url]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));

    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["--format", "json", "private", "url", url]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["type"], "private_url", "{report}");
    assert_eq!(report["attributes"]["url"], url);

    let out = action_as(
        &emu,
        &dir,
        KEY_A,
        "private_url_report",
        format!(r#"{{"url": "{url}"}}"#),
    )
    .await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)["data"]["id"], report["id"]);

    let mut cmd = vtc_as(&emu, &dir, KEY_B);
    cmd.args(["private", "url", url]);
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no private URL report") && err.contains("404"),
        "{err}"
    );

    let mut cmd = vtc_as(&emu, &dir, KEY_A);
    cmd.args(["private", "url", "not a url"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    emu.shutdown().await;
}

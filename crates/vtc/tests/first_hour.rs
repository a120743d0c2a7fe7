//! What a newcomer typed in their first hour (issue 17) and what vtc must
//! do with it: usage errors exit 2 with one clear line, bare hosts are
//! URLs, downloads land where asked and never replace a file silently.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::process::Command;
use vt_emulator::{EmulatorConfig, RunningEmulator, EICAR};

fn vtc_in(emu: &RunningEmulator, dir: &tempfile::TempDir) -> Command {
    let mut cmd = vtc(&emu.base_url(), &db_in(dir));
    cmd.args(["--api-key", "k-first-hour", "--quota-minute", "0"])
        .current_dir(dir.path());
    cmd
}

/// Exit code 2 and exactly one line on stderr; returns that line.
fn usage_error(out: &std::process::Output) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn hashing_a_missing_file_is_a_usage_error_like_scanning_it() {
    let dir = tempfile::tempdir().unwrap();
    let hash = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vtc"));
        cmd.args(["hash", "nosuch.bin"]);
        cmd
    };
    let scan = || {
        let mut cmd = vtc("http://127.0.0.1:9", &db_in(&dir));
        cmd.args(["--api-key", "k", "scan", "file", "nosuch.bin"]);
        cmd
    };
    for (args, mut cmd) in [("hash", hash()), ("scan file", scan())] {
        let out = cmd.current_dir(dir.path()).output().unwrap();
        let err = usage_error(&out);
        assert!(err.contains("nosuch.bin"), "{args:?}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_relationship_is_a_usage_error_listing_the_valid_names() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let before = requests(&emu);
    let mut cmd = vtc_in(&emu, &dir);
    cmd.args(["relationships", "example.com", "contacted_planets"]);
    let err = usage_error(&run(cmd).await);
    assert!(err.contains("contacted_planets"), "{err}");
    assert!(
        err.contains("resolutions") && err.contains("subdomains"),
        "{err}"
    );
    assert_eq!(requests(&emu), before, "refused before any API call");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zero_limit_is_a_usage_error_not_an_empty_answer() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 3] = [
        &[
            "relationships",
            "example.com",
            "resolutions",
            "--limit",
            "0",
        ],
        &["search", "example.com", "--limit", "0"],
        &["comments", "example.com", "--limit", "0"],
    ];
    for args in cases {
        let mut cmd = vtc_in(&emu, &dir);
        cmd.args(args);
        let out = run(cmd).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_url_takes_a_bare_host_as_an_http_url() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = vtc_in(&emu, &dir);
    cmd.args(["--format", "json", "scan", "url", "example.com", "--wait"])
        .args(["--poll-interval-ms", "20", "--timeout", "20"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let analysis: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        analysis["meta"]["url_info"]["url"], "http://example.com/",
        "{analysis}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_url_of_not_a_url_says_its_reason_once() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = vtc_in(&emu, &dir);
    cmd.args(["scan", "url", "not a url"]);
    let err = usage_error(&run(cmd).await);
    assert_eq!(err.matches("not a url").count(), 1, "{err}");
    assert_eq!(err.matches("is not").count(), 1, "{err}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn download_into_a_directory_saves_inside_it_named_by_sha256() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    let mut cmd = vtc_in(&emu, &dir);
    cmd.args(["--format", "json", "download", EICAR_SHA256, "-o"])
        .arg(&samples);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let saved = samples.join(format!("{EICAR_SHA256}.zip"));
    assert!(saved.is_file(), "{}", stdout(&out));

    let mut cmd = vtc_in(&emu, &dir);
    cmd.args(["--format", "json", "download", EICAR_SHA256, "--raw", "-o"])
        .arg(&samples);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(samples.join(EICAR_SHA256)).unwrap(), EICAR);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn download_refuses_to_overwrite_an_existing_file_unless_forced() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("sample.zip");
    std::fs::write(&target, b"my notes, not a sample").unwrap();
    for args in [
        &["download", EICAR_SHA256, "-o", "sample.zip"][..],
        // Asked by md5: the name is known only after the download.
        &["download", vt_emulator::EICAR_MD5, "-o", "sample.zip"],
    ] {
        let mut cmd = vtc_in(&emu, &dir);
        cmd.args(args);
        let err = usage_error(&run(cmd).await);
        assert!(
            err.contains("already exists") && err.contains("--force"),
            "{err}"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"my notes, not a sample");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".vtc-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let mut cmd = vtc_in(&emu, &dir);
    cmd.args(["download", EICAR_SHA256, "-o", "sample.zip", "--force"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(std::fs::read(&target).unwrap(), b"my notes, not a sample");
    emu.shutdown().await;
}

/// `scan file`, its table and `widget` all show the one detection rule's
/// ratio (`verdict::Detection`) of the file's `last_analysis_stats`.
#[tokio::test(flavor = "multi_thread")]
async fn scan_file_and_widget_show_the_one_detection_rules_ratio_for_eicar() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("eicar.com"), EICAR).unwrap();
    let json_of = |out: &std::process::Output| -> serde_json::Value {
        assert!(out.status.success(), "{}", stderr(out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let mut cmd = vtc_in(&emu, &dir);
    cmd.args(["--format", "json", "scan", "file", "eicar.com"]);
    let report = json_of(&run(cmd).await);
    let stats: vt_model::AnalysisStats =
        serde_json::from_value(report["attributes"]["last_analysis_stats"].clone()).unwrap();
    let want = verdict::Detection::from_stats(&stats).to_string();
    assert!(
        stats.type_unsupported.unwrap_or(0) > 0,
        "the case that differs: {stats:?}"
    );
    assert_eq!(report["detection"]["ratio"], want.as_str());

    let mut cmd = vtc_in(&emu, &dir);
    cmd.args(["--format", "table", "scan", "file", "eicar.com"]);
    let out = run(cmd).await;
    assert!(
        stdout(&out).contains(&format!("{want} malicious")),
        "{}",
        stdout(&out)
    );

    let mut cmd = vtc_in(&emu, &dir);
    cmd.args(["--format", "json", "widget", EICAR_SHA256]);
    let widget = json_of(&run(cmd).await);
    assert_eq!(widget["detection"]["ratio"], want.as_str(), "{widget}");

    let mut cmd = vtc_in(&emu, &dir);
    cmd.args(["--format", "table", "widget", EICAR_SHA256]);
    let out = run(cmd).await;
    assert!(
        stdout(&out).contains(&format!("detections {want}")),
        "{}",
        stdout(&out)
    );
    emu.shutdown().await;
}

//! `vtc lookup` end to end, against the emulator on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use vt_emulator::EmulatorConfig;

#[tokio::test(flavor = "multi_thread")]
async fn lookup_prints_one_row_per_indicator_of_each_kind() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "--format", "json", "lookup"])
        .args([
            EICAR_SHA256,
            "example.com",
            "8.8.8.8",
            "hxxp://evil[.]test/x",
        ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let records = records.as_array().expect("an array");
    assert_eq!(records.len(), 4);
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["file", "domain", "ip", "url"]);
    assert_eq!(
        records[0]["verdict"], "bad",
        "EICAR is detected: {}",
        records[0]
    );
    assert!(records[0]["malicious"].as_u64().unwrap_or(0) >= 30);
    assert_eq!(records[3]["indicator"], "http://evil.test/x");
    assert!(records[0]["link"]
        .as_str()
        .unwrap_or("")
        .starts_with("https://www.virustotal.com/gui/file/"));
}

#[tokio::test(flavor = "multi_thread")]
async fn lookup_table_has_a_header_and_four_rows() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "--format", "table", "lookup"])
        .args([
            EICAR_SHA256,
            "example.com",
            "8.8.8.8",
            "hxxp://evil[.]test/x",
        ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.lines().next().unwrap_or("").starts_with("VERDICT"));
}

#[tokio::test(flavor = "multi_thread")]
async fn lookup_reads_stdin_and_reports_bad_lines_without_stopping() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "--format", "jsonl", "lookup", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("spawn");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"example.com\nnot an indicator\n8[.]8[.]4[.]4\n\xff\xfe binary\n")
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    })
    .await
    .expect("join");
    assert_eq!(
        out.status.code(),
        Some(4),
        "partial failure exit code; stderr: {}",
        stderr(&out)
    );
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["error"]["code"], "InvalidIndicator");
    assert_eq!(lines[2]["indicator"], "8.8.4.4");
    assert_eq!(lines[3]["error"]["code"], "InvalidIndicator", "not UTF-8");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_lookup_is_answered_from_the_cache() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    for expect_cached in [false, true] {
        let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
        cmd.args([
            "--api-key",
            "k",
            "--format",
            "jsonl",
            "lookup",
            "example.org",
        ]);
        let out = run(cmd).await;
        let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(record["cached"], expect_cached);
    }
    // One lookup (besides the one-time read of the key's allowances).
    assert_eq!(
        emu.emulator().stats()["by_route"]["GET /domains/{id}"],
        1,
        "{}",
        emu.emulator().stats()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_key_is_one_line_and_exit_code_2() {
    let emu = emulator(EmulatorConfig {
        public_keys: vec!["good-key".into()],
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "wrong-key-123456", "lookup", "example.com"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("WrongCredentialsError"), "{err}");
    assert!(!err.contains("wrong-key-123456"), "the key leaked: {err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_one_line_and_exit_code_1() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc(&format!("http://127.0.0.1:{port}"), &db_in(&dir));
    cmd.args(["--api-key", "k", "lookup", "example.com"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&port.to_string()) || err.contains("connect"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_key_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc("http://127.0.0.1:9", &db_in(&dir));
    cmd.args(["lookup", "example.com"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("VT_API_KEY"));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_malformed_indicators_exit_4_with_an_error_row_each() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args([
        "--api-key",
        "k",
        "--format",
        "csv",
        "lookup",
        "not-an-ioc",
        "12345",
    ]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(4));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 3, "header and two rows: {text}");
    assert!(text.contains("InvalidIndicator"));
    let err = stderr(&out);
    assert_eq!(
        err.trim().lines().count(),
        2,
        "one line per bad input: {err}"
    );
    assert!(
        err.contains("\"not-an-ioc\"") && err.contains("\"12345\""),
        "{err}"
    );
    assert_eq!(requests(&emu), 0, "nothing malformed reaches the API");
}

#[test]
fn the_emulator_command_prints_its_address_first() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn emulator");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read first line");
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .map(str::to_owned);
    let result = addr.as_deref().map(|a| {
        let dir = tempfile::tempdir().expect("tempdir");
        vtc(&format!("http://{a}"), &db_in(&dir))
            .args([
                "--api-key",
                "k",
                "--format",
                "jsonl",
                "lookup",
                EICAR_SHA256,
            ])
            .output()
            .expect("lookup runs")
    });
    let _ = child.kill();
    let _ = child.wait();
    let out = result.unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    assert!(out.status.success(), "{}", stderr(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(record["verdict"], "bad");
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_reports_are_rescanned_only_when_asked() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Enough hashes that some are stale (one object in ten in the world).
    let hashes: Vec<String> = (0..60u64)
        .map(|i| format!("{:064x}", 0xabc0_0000 + i))
        .collect();
    let lookup = |extra: &[&str]| {
        let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
        cmd.args(["--api-key", "k", "--quota-minute", "0", "--quota-day", "0"])
            .args(["--format", "json", "lookup"])
            .args(extra)
            .args(&hashes);
        cmd
    };
    let rescans = || {
        emu.emulator().stats()["by_route"]["POST /files/{id}/analyse"]
            .as_u64()
            .unwrap_or(0)
    };

    let out = run(lookup(&[])).await;
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let stale = records
        .as_array()
        .expect("array")
        .iter()
        .filter(|r| r["stale"] == true)
        .count();
    assert!(stale > 0, "the world has stale reports");
    assert_eq!(rescans(), 0, "no rescan unless asked");

    let out = run(lookup(&["--rescan-stale"])).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let mut asked = 0;
    for r in records.as_array().expect("array") {
        let rescanned = r["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|x| x.as_str().unwrap_or("").starts_with("rescan requested"));
        assert_eq!(rescanned, r["stale"] == true, "{r}");
        asked += usize::from(rescanned);
    }
    assert_eq!(asked, stale);
    assert_eq!(rescans(), stale as u64, "one rescan per stale report");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_day_budget_counts_what_earlier_runs_spent() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lookup = |indicators: &[&str]| {
        let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
        cmd.args([
            "--api-key",
            "k",
            "--quota-day",
            "2",
            "--format",
            "json",
            "lookup",
        ])
        .args(indicators);
        cmd
    };
    let out = run(lookup(&["8.8.8.8", "1.1.1.1"])).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(requests(&emu), 2);

    // A new process: the two calls of the first count against its day.
    let out = run(lookup(&["9.9.9.9"])).await;
    assert_eq!(out.status.code(), Some(1), "stdout: {}", stdout(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("daily API quota is spent"), "{err}");
    assert_eq!(requests(&emu), 2, "no request beyond the day's budget");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_in_the_config_file_pool_their_budgets() {
    // Each key may make 2 requests a minute, on both sides: 4 lookups need
    // both keys, and neither may see a 429.
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(2),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[[keys]]\nkey = \"aaaaaaaa-first-key\"\nminute = 2\n\n\
         [[keys]]\nkey = \"bbbbbbbb-second-key\"\nminute = 2\n",
    )
    .expect("write config");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.arg("--config")
        .arg(&config)
        .args(["--format", "jsonl", "lookup"])
        .args(["8.8.8.8", "1.1.1.1", "9.9.9.9", "8.8.4.4"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 4);
    let stats = emu.emulator().stats();
    assert_eq!(responses_with_status(&emu, 429), 0, "{stats}");
    assert_eq!(
        stats["quota"][vt_emulator::key_fingerprint("aaaaaaaa-first-key")]["minute"],
        2,
        "{stats}"
    );
    assert_eq!(
        stats["quota"][vt_emulator::key_fingerprint("bbbbbbbb-second-key")]["minute"],
        2,
        "{stats}"
    );
}

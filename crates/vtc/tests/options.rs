//! Which options each command takes, where they come from, and the
//! emulator's own options: what a user types, checked end to end.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use vt_emulator::EmulatorConfig;

/// `vtc ARGS` with no configuration from the environment.
fn bare_vtc(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vtc"));
    for name in app::ENV_VARS {
        cmd.env_remove(name);
    }
    cmd.env("XDG_CONFIG_HOME", dir).env("XDG_DATA_HOME", dir);
    cmd
}

fn help_of(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = bare_vtc(dir.path())
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn each_command_help_shows_only_the_options_it_uses() {
    let api_options = [
        "--api-key",
        "--api-url",
        "--quota-minute",
        "--quota-day",
        "--proxy",
        "--db",
    ];
    for command in [&["hash"][..], &["demo"], &["emulator"]] {
        let text = help_of(command);
        for option in api_options {
            if command == ["emulator"] && option.starts_with("--quota") {
                continue; // the emulator's own budgets, described as such
            }
            assert!(
                !text.contains(option),
                "{command:?} help offers {option}:\n{text}"
            );
        }
    }
    assert!(!help_of(&["emulator"]).contains("--format"));
    // Help offers what this build does: SQLite and PostgreSQL.
    for command in [&["lookup"][..], &["enrich"], &["worker"]] {
        let text = help_of(command);
        assert!(text.contains("postgres://"), "{command:?}:\n{text}");
    }
    for command in [
        &["lookup"][..],
        &["enrich"],
        &["scan", "file"],
        &["private", "list"],
        &["quota"],
    ] {
        let text = help_of(command);
        for option in api_options {
            assert!(
                text.contains(option),
                "{command:?} help lacks {option}:\n{text}"
            );
        }
    }
}

#[test]
fn hash_and_demo_refuse_api_options_instead_of_ignoring_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.txt");
    std::fs::write(&file, b"x").unwrap();
    let report = dir.path().join("r.html");
    let cases: Vec<Vec<String>> = vec![
        vec![
            "hash".into(),
            "--api-key".into(),
            "k".into(),
            file.display().to_string(),
        ],
        vec![
            "--api-key".into(),
            "k".into(),
            "hash".into(),
            file.display().to_string(),
        ],
        vec![
            "--quota-minute".into(),
            "0".into(),
            "hash".into(),
            file.display().to_string(),
        ],
        vec![
            "--api-url".into(),
            "http://127.0.0.1:1".into(),
            "demo".into(),
        ],
        vec!["demo".into(), "--quota-day".into(), "0".into()],
        vec!["emulator".into(), "--api-key".into(), "k".into()],
        vec!["--format".into(), "json".into(), "emulator".into()],
    ];
    for args in cases {
        let out = bare_vtc(dir.path())
            .args(&args)
            .arg("--report")
            .arg(&report)
            .output()
            .unwrap();
        // `--report` is demo's; elsewhere it is one more refusal reason.
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!report.exists(), "{args:?}: the demo ran");
    }
    let out = bare_vtc(dir.path())
        .args(["--format", "json", "hash"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "--format before hash still works: {out:?}"
    );
}

#[test]
fn usage_lines_do_not_list_options_set_in_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = bare_vtc(dir.path())
        .env("VTC_QUOTA_MINUTE", "5")
        .env("VTC_QUOTA_DAY", "100")
        .env("VT_API_KEY", "SeCrEtKeY0123456789")
        .arg("lookup")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let usage = err
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap_or_else(|| panic!("a usage line: {err}"));
    assert_eq!(usage, "Usage: vtc lookup <INDICATORS>...", "{err}");
    assert!(!err.contains("SeCrEtKe"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn options_after_the_command_beat_those_before_it_and_the_environment() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bare_vtc(dir.path());
    cmd.env("VTC_API_URL", "http://127.0.0.1:1")
        .env("VTC_QUOTA_MINUTE", "not a number")
        .args(["--api-url", "http://127.0.0.1:1", "--format", "table"])
        .arg("lookup")
        .args(["--api-url", &emu.base_url(), "--api-key", "k"])
        .args(["--quota-minute", "0", "--format", "jsonl", "--db"])
        .arg(db_in(&dir))
        .arg("example.com");
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let record: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(record["indicator"], "example.com");

    // A variable that does not parse is a usage error naming the variable.
    let mut cmd = bare_vtc(dir.path());
    cmd.env("VTC_QUOTA_DAY", "-3")
        .args(["lookup", "--api-key", "k", "--api-url", &emu.base_url()])
        .arg("example.com");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("VTC_QUOTA_DAY"), "{}", stderr(&out));
}

/// Starts `vtc emulator ARGS` and reads its first line: `listening on URL`.
fn start_emulator(args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bare_vtc(dir.path());
    cmd.arg("emulator").args(args).stdout(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_owned();
    (child, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_takes_its_own_options_only_and_zero_means_unlimited() {
    // The environment a user set for the client must not reach the
    // emulator: a 1-a-minute client budget would make it refuse the 2nd call.
    let (mut child, url) = start_emulator(
        &[
            "--listen",
            "localhost:0",
            "--quota-minute",
            "0",
            "--quota-day",
            "0",
        ],
        &[("VTC_QUOTA_MINUTE", "1"), ("VTC_QUOTA_DAY", "1")],
    );
    assert!(
        url.starts_with("http://127.0.0.1:") || url.starts_with("http://[::1]:"),
        "{url}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = vtc(&url, &db_in(&dir));
    cmd.args([
        "--api-key",
        "k",
        "--quota-minute",
        "0",
        "--format",
        "jsonl",
        "lookup",
    ])
    .args([
        "example.com",
        "example.org",
        "8.8.8.8",
        "1.1.1.1",
        "9.9.9.9",
    ]);
    let out = run(cmd).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|r| r["error"].is_null()), "{lines:?}");
}

#[test]
fn an_emulator_listen_address_that_is_not_one_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = bare_vtc(dir.path())
        .args(["emulator", "--listen", "no port here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_with_two_configured_keys_runs_twice_in_a_minute() {
    // Each run makes 2 calls for the first key; at 2 a minute the second
    // run finds that key's minute spent. Its calls name that key's user, so
    // they must wait for it (about a minute) rather than go with the other
    // key, which the API answers with 404 "User not found".
    let emu = emulator(EmulatorConfig {
        quota_day: Some(500),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[[keys]]\nkey = \"first-key-0123456789\"\nminute = 2\n\n\
         [[keys]]\nkey = \"second-key-9876543210\"\nminute = 2\n",
    )
    .unwrap();
    for run_number in 1..=2 {
        let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
        cmd.env("RUST_BACKTRACE", "1")
            .arg("-vv")
            .arg("--config")
            .arg(&config)
            .args(["--format", "json", "quota"]);
        let out = run(cmd).await;
        let err = stderr(&out);
        assert!(out.status.success(), "run {run_number}: {err}");
        let quota: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(quota["day"]["allowed"], 500, "run {run_number}: {quota}");
        assert!(
            !err.to_lowercase().contains("backtrace"),
            "run {run_number}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_configured_budget_the_keys_allowances_are_learnt_from_the_api() {
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(7),
        quota_day: Some(70),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "--format", "json", "quota"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let quota: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(quota["minute"]["allowed"], 7, "{quota}");
    assert_eq!(quota["day"]["allowed"], 70, "{quota}");

    let lookup = |extra: &[&str]| {
        let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
        cmd.args(["-v", "--format", "jsonl", "lookup"])
            .args(extra)
            .args(["--refresh", "example.com", "example.org", "8.8.8.8"]);
        cmd
    };
    let before = requests(&emu);
    let out = run(lookup(&["--api-key", "k"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("per_minute=7"), "{}", stderr(&out));
    assert_eq!(
        requests(&emu) - before,
        4,
        "one quota call, then the lookups"
    );

    // A configured budget is used as it is: nothing to learn. (Another
    // key: this one's minute is spent, on both sides.)
    let before = requests(&emu);
    let out = run(lookup(&["--api-key", "k2", "--quota-minute", "5"])).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("budget learnt"), "{}", stderr(&out));
    assert_eq!(requests(&emu) - before, 3);
    assert_eq!(responses_with_status(&emu, 429), 0);
}

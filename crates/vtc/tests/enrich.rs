//! `vtc enrich` end to end: dedup, cache, quota, resume after SIGKILL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use vt_emulator::EmulatorConfig;

/// `unique` distinct indicators of all four kinds, then repeats of them
/// (some in another form: upper-case hashes, defanged domains) until the
/// input has `lines` lines.
fn input_with_duplicates(unique: usize, lines: usize) -> (String, Vec<String>) {
    let mut distinct = Vec::new();
    for i in 0..unique {
        distinct.push(match i % 4 {
            0 => format!("{:064x}", 0xfeed_0000_u64 + i as u64),
            1 => format!("host{i}.example-{i}.test"),
            2 => format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256),
            _ => format!("http://site{i}.test/path/{i}"),
        });
    }
    let mut out: Vec<String> = distinct.clone();
    let mut k = 0;
    while out.len() < lines {
        let d = &distinct[(k * 7919) % unique];
        out.push(match k % 3 {
            // A URL's path is case-sensitive: only its host may change case.
            0 if d.starts_with("http://") => d.replacen("site", "SITE", 1),
            0 => d.to_uppercase(),
            1 => d.replace('.', "[.]"),
            _ => d.clone(),
        });
        k += 1;
    }
    (out.join("\n") + "\n", distinct)
}

fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_cost_no_call_and_a_second_run_costs_none() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, distinct) = input_with_duplicates(700, 1000);
    let input_path = dir.path().join("in.txt");
    std::fs::write(&input_path, input).expect("write input");
    let out_path = dir.path().join("out.jsonl");

    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args([
        "--api-key",
        "k",
        "--quota-minute",
        "0",
        "--quota-day",
        "0",
        "enrich",
    ])
    .arg(&input_path)
    .arg("-o")
    .arg(&out_path)
    .args(["--concurrency", "16"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let records = read_jsonl(&out_path);
    assert_eq!(
        records.len(),
        distinct.len(),
        "one record per distinct indicator"
    );
    assert_eq!(
        requests(&emu),
        distinct.len() as u64,
        "one call per distinct indicator"
    );
    assert_eq!(responses_with_status(&emu, 429), 0);
    assert!(
        stderr(&out).contains("duplicates 300"),
        "summary: {}",
        stderr(&out)
    );

    // Same input to a new output: every answer comes from the cache.
    let out2_path = dir.path().join("out2.jsonl");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "enrich"])
        .arg(&input_path)
        .arg("-o")
        .arg(&out2_path);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(
        requests(&emu),
        distinct.len() as u64,
        "the second run spent calls"
    );
    let again = read_jsonl(&out2_path);
    assert_eq!(again.len(), distinct.len());
    assert!(again
        .iter()
        .all(|r| r["cached"] == true || r["error"].is_object()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_killed_mid_run_resumes_without_spending_calls_on_done_items() {
    let emu = emulator(EmulatorConfig {
        latency: Duration::from_millis(25),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, distinct) = input_with_duplicates(240, 240);
    let input_path = dir.path().join("in.txt");
    std::fs::write(&input_path, input).expect("write input");
    let out_path = dir.path().join("out.jsonl");
    let enrich = |emu_url: &str| {
        let mut cmd = vtc(emu_url, &db_in(&dir));
        cmd.args([
            "--api-key",
            "k",
            "--quota-minute",
            "0",
            "--quota-day",
            "0",
            "enrich",
        ])
        .arg(&input_path)
        .arg("-o")
        .arg(&out_path)
        .args(["--concurrency", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        cmd
    };

    let mut child = enrich(&emu.base_url()).spawn().expect("spawn enrich");
    // Kill it once a good part, but not all, of the output is written.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let written = read_jsonl_prefix(&out_path);
        if written >= 60 || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let done_before_kill = read_jsonl_prefix(&out_path) as u64;
    let calls_first_run = requests(&emu);
    assert!(done_before_kill >= 60, "the first run made progress");
    assert!(
        calls_first_run < distinct.len() as u64,
        "the kill came before the end ({calls_first_run} calls)"
    );

    let out = run(enrich(&emu.base_url())).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let calls_second_run = requests(&emu) - calls_first_run;
    assert!(
        calls_second_run <= distinct.len() as u64 - done_before_kill,
        "resume spent {calls_second_run} calls; {done_before_kill} of {} were already done",
        distinct.len()
    );
    let records = read_jsonl(&out_path);
    let indicators: Vec<String> = records
        .iter()
        .map(|r| r["indicator"].as_str().unwrap_or("").to_owned())
        .collect();
    let unique: HashSet<&String> = indicators.iter().collect();
    assert_eq!(unique.len(), indicators.len(), "no indicator twice");
    assert_eq!(indicators.len(), distinct.len(), "every indicator once");
}

/// Complete lines in a file that may be mid-write.
fn read_jsonl_prefix(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.matches('\n').count()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quota_governor_keeps_a_limited_key_free_of_429s() {
    // The emulator and the client agree on 4 calls a minute: six distinct
    // lookups must wait for the window rather than provoke a 429.
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(4),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args([
        "--api-key",
        "k",
        "--quota-minute",
        "4",
        "--format",
        "jsonl",
        "lookup",
    ])
    .args([
        "a1.example.com",
        "a2.example.com",
        "a3.example.com",
        "a4.example.com",
        "a5.example.com",
        "a6.example.com",
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 6);
    assert_eq!(
        responses_with_status(&emu, 429),
        0,
        "stats: {}",
        emu.emulator().stats()
    );
    assert_eq!(requests(&emu), 6);
    // The minute-long wait was explained, once (stderr is a pipe here).
    let err = stderr(&out);
    assert_eq!(
        err.matches("for a quota slot").count(),
        1,
        "one line says why the run waits: {err}"
    );
    assert!(
        err.contains("4 requests a minute") && err.contains("--quota-minute"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_and_outputs_are_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = emulator(EmulatorConfig::default()).await;

    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "enrich", "/nonexistent/input.txt"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/input.txt"),
        "{}",
        stderr(&out)
    );

    let input = dir.path().join("in.txt");
    std::fs::write(&input, "example.com\n").expect("write");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "enrich"])
        .arg(&input)
        .args(["-o", "/nonexistent-dir/out.jsonl"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent-dir/out.jsonl"),
        "{}",
        stderr(&out)
    );

    let corrupt = dir.path().join("corrupt.sqlite");
    std::fs::write(&corrupt, vec![0x42u8; 8192]).expect("write");
    let mut cmd = vtc(&emu.base_url(), &corrupt);
    cmd.args(["--api-key", "k", "enrich"]).arg(&input);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("corrupt.sqlite"), "{err}");

    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "enrich", "--concurrency", "0"])
        .arg(&input);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--concurrency"), "{}", stderr(&out));

    let csv = dir.path().join("in.csv");
    std::fs::write(&csv, "indicator,note\nexample.com,x\n").expect("write");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "enrich", "--column", "3"])
        .arg(&csv);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no column \"3\""), "{err}");
    assert_eq!(requests(&emu), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_binary_or_huge_line_is_one_error_row_and_the_rest_goes_through() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.txt");
    let mut bytes = b"8.8.8.8\r\n\xff\xfe\x00garbage\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'a', 300 * 1024));
    bytes.extend(b"\n1.1.1.1\n");
    std::fs::write(&input, bytes).expect("write");
    let out_path = dir.path().join("out.jsonl");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "--quota-minute", "0", "enrich"])
        .arg(&input)
        .arg("-o")
        .arg(&out_path);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(4), "stderr: {}", stderr(&out));
    let records = read_jsonl(&out_path);
    assert_eq!(records.len(), 4, "{records:?}");
    let good: Vec<&str> = records
        .iter()
        .filter(|r| r["error"].is_null())
        .map(|r| r["indicator"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(good, ["8.8.8.8", "1.1.1.1"]);
    let longest = records
        .iter()
        .map(|r| r["input"].as_str().unwrap_or("").len())
        .max()
        .unwrap_or(0);
    assert!(longest <= 64 * 1024, "an input of {longest} bytes was kept");
    assert_eq!(requests(&emu), 2);
}

/// On a terminal (a pseudo-terminal from util-linux `script`), enrich draws
/// a progress bar with the counts and the minute's quota; piped, it does
/// not (every other test here reads a clean stderr).
#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_gets_a_progress_bar_with_the_quota() {
    let emu = emulator(EmulatorConfig {
        latency: Duration::from_millis(20),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = input_with_duplicates(30, 30);
    let input_path = dir.path().join("in.txt");
    std::fs::write(&input_path, input).expect("write input");
    let (input, output) = (
        input_path.display().to_string(),
        dir.path().join("out.jsonl").display().to_string(),
    );
    let args = [
        "--api-key",
        "k",
        "--quota-minute",
        "1000",
        "enrich",
        &input,
        "-o",
        &output,
        "--concurrency",
        "2",
    ];
    let Some(cmd) = vtc_on_terminal(&emu.base_url(), &db_in(&dir), &args) else {
        return;
    };
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let screen = stdout(&out);
    assert!(screen.contains("/30 done"), "no progress bar: {screen:?}");
    assert!(screen.contains("left this minute"), "{screen:?}");
    assert!(screen.contains("enriched 30 indicators"), "{screen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn enrich_by_a_csv_column_keeps_the_other_columns_and_appends_vtcs() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("assets.csv");
    std::fs::write(
        &input,
        "owner,indicator,note\n\
         \"Smith, John\",example.com,\"said \"\"hi\"\"\"\n\
         Jane,8.8.8.8,plain\n\
         Dup,example.com,again\n\
         Last,1.1.1.1,\n",
    )
    .expect("write");
    let read_csv = |path: &std::path::Path| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(path)
            .expect("csv")
            .records()
            .map(|r| r.expect("row").iter().map(str::to_owned).collect())
            .collect()
    };
    let from_file = dir.path().join("out.csv");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "--quota-minute", "0", "enrich"])
        .arg(&input)
        .args(["--column", "indicator", "-o"])
        .arg(&from_file);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // The same from stdin (another reader of the rows).
    let from_stdin = dir.path().join("stdin.csv");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "--quota-minute", "0", "enrich"])
        .args(["--column", "2", "-o"])
        .arg(&from_stdin)
        .stdin(std::fs::File::open(&input).expect("open"));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    for path in [&from_file, &from_stdin] {
        let rows = read_csv(path);
        assert_eq!(
            rows[0][..5],
            ["owner", "indicator", "note", "indicator", "input"],
            "{rows:?}"
        );
        // One row per indicator (the repeat has none), input columns intact.
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert_eq!(
            rows[1][..4],
            ["Smith, John", "example.com", "said \"hi\"", "example.com"]
        );
        assert_eq!(rows[2][..4], ["Jane", "8.8.8.8", "plain", "8.8.8.8"]);
        assert_eq!(rows[3][..4], ["Last", "1.1.1.1", "", "1.1.1.1"]);
        assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{rows:?}");
    }
    // JSON lines carry the row as a `columns` object.
    let jsonl = dir.path().join("out.jsonl");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "--quota-minute", "0", "enrich"])
        .arg(&input)
        .args(["--column", "indicator", "-o"])
        .arg(&jsonl);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let records = read_jsonl(&jsonl);
    assert_eq!(records[0]["columns"]["owner"], "Smith, John");
    assert_eq!(records[0]["indicator"], "example.com");
}

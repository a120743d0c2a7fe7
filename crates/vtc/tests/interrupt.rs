//! Ctrl-C during `vtc enrich`: whole lines only, a message saying how to
//! resume, exit 130; the same command then finishes the job.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};
use vt_emulator::EmulatorConfig;

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_finishes_the_line_says_how_to_resume_and_exits_130() {
    let emu = emulator(EmulatorConfig {
        latency: Duration::from_millis(20),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..400)
        .map(|i| format!("{:064x}", 0xc0ffee_u64 + i))
        .collect();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let output = dir.path().join("out.jsonl");
    let enrich = |cmd: &mut std::process::Command| {
        cmd.args(["--api-key", "k", "--quota-minute", "0", "--quota-day", "0"])
            .arg("enrich")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .args(["--concurrency", "2"]);
    };
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    enrich(&mut cmd);
    let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    // Interrupt once some records are out, long before all 400 are.
    let started = Instant::now();
    while std::fs::read_to_string(&output)
        .unwrap_or_default()
        .lines()
        .count()
        < 10
    {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    let err = stderr(&out);
    assert!(err.contains("interrupted"), "{err}");
    assert!(err.contains("run the same command to resume"), "{err}");
    let partial = std::fs::read_to_string(&output).unwrap();
    assert!(partial.ends_with('\n'), "the last line is whole");
    let done = partial.lines().count();
    assert!(done < 400, "interrupted before the end ({done} lines)");
    for line in partial.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("every line is whole JSON");
    }

    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    enrich(&mut cmd);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let full = std::fs::read_to_string(&output).unwrap();
    let indicators: Vec<String> = full
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["indicator"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        indicators, lines,
        "the resumed run has every line once, in order"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_csv_enrichment_keeps_every_rows_columns() {
    let emu = emulator(EmulatorConfig {
        latency: Duration::from_millis(5),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    // More rows than vtc reads ahead, so the replay reaches past them.
    let hashes: Vec<String> = (0..1500)
        .map(|i| format!("{:064x}", 0xbeef_u64 + i))
        .collect();
    let mut text = String::from("owner,sha256\n");
    for (i, h) in hashes.iter().enumerate() {
        text.push_str(&format!("\"owner {i}, team\",{h}\n"));
    }
    let input = dir.path().join("in.csv");
    std::fs::write(&input, text).unwrap();
    let output = dir.path().join("out.csv");
    let enrich = |cmd: &mut std::process::Command| {
        cmd.args(["--api-key", "k", "--quota-minute", "0", "--quota-day", "0"])
            .arg("enrich")
            .arg(&input)
            .args(["--column", "sha256", "-o"])
            .arg(&output)
            .args(["--concurrency", "4"]);
    };
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    enrich(&mut cmd);
    let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let started = Instant::now();
    while std::fs::read_to_string(&output)
        .unwrap_or_default()
        .lines()
        .count()
        < 1200
    {
        assert!(started.elapsed() < Duration::from_secs(120), "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");

    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    enrich(&mut cmd);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("resumed 0"), "{}", stderr(&out));
    let rows: Vec<Vec<String>> = csv::Reader::from_path(&output)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), hashes.len());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], format!("owner {i}, team"), "row {i}: {row:?}");
        assert_eq!(row[1], hashes[i], "row {i}");
        assert_eq!(row[2], hashes[i], "vtc's indicator follows, row {i}");
    }
}

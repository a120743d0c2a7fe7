//! `vtc serve` and `vtc token create` as a user runs them: a token made by
//! the command, put in the config file, accepted by the running service.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// Kills the service when the test ends, passed or not.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_created_token_opens_the_service() {
    let emu = common::emulator(vt_emulator::EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = common::db_in(&dir);

    let out = common::run({
        // `token` takes no API options: run it bare.
        let mut bare = std::process::Command::new(env!("CARGO_BIN_EXE_vtc"));
        bare.args([
            "token",
            "create",
            "--name",
            "soar \"one\"",
            "--role",
            "analyst",
        ]);
        bare
    })
    .await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let token = common::stdout(&out).trim().to_owned();
    assert!(token.starts_with("vtc_") && token.len() == 68, "{token}");
    let entry = common::stderr(&out);
    let toml_start = entry.find("[[tokens]]").expect("a [[tokens]] entry");
    let entry = &entry[toml_start..];
    assert!(!entry.contains(&token), "the config keeps the hash only");

    let config = dir.path().join("config.toml");
    std::fs::write(&config, entry).unwrap();
    let mut cmd = common::vtc(&emu.api_url(), &db);
    cmd.args(["--api-key", "k", "--config"])
        .arg(&config)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Running(cmd.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_owned();

    let http = reqwest::Client::new();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let path = format!("{base}/v1/observables/{}", common::EICAR_SHA256);
    let refused = http.get(&path).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let answer = http.get(&path).bearer_auth(&token).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let record: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(record["verdict"], "bad");
    drop(child);
}

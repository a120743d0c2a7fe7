//! `vtc serve` and `vtc token` as a user runs them: a token made by the
//! command is accepted by the running service until it is revoked (and
//! refused within a second of `vtc token revoke`).

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

    let token_cmd = |args: &[&str]| {
        let mut cmd = common::vtc(&emu.api_url(), &db);
        cmd.arg("token").args(args);
        cmd
    };
    let out = common::run(token_cmd(&[
        "create", "--name", "soar", "--role", "analyst",
    ]))
    .await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let token = common::stdout(&out).trim().to_owned();
    assert!(token.starts_with("vtc_") && token.len() == 68, "{token}");
    let again = common::run(token_cmd(&["create", "--name", "soar", "--role", "admin"])).await;
    assert_eq!(again.status.code(), Some(2), "{}", common::stderr(&again));
    let other = common::run(token_cmd(&["create", "--name", "tip", "--role", "reader"])).await;
    assert!(other.status.success());
    let list = common::run(token_cmd(&["list"])).await;
    let listed = common::stdout(&list);
    assert!(listed.starts_with("soar\tanalyst\t"), "{listed}");
    assert!(listed.contains("\ntip\treader\t"), "{listed}");
    assert!(!listed.contains(&token), "a token is shown once only");
    let wal = db.with_extension("sqlite-wal");
    for file in [&db, &wal] {
        let bytes = std::fs::read(file).unwrap_or_default();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "{}: the database keeps the digest, not the token",
            file.display()
        );
    }

    let mut cmd = common::vtc(&emu.api_url(), &db);
    cmd.args(["--api-key", "k", "serve", "--listen", "127.0.0.1:0"])
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

    // Revoked by another process while the service runs: refused within
    // the service's recheck of remembered tokens (`server::TOKEN_RECHECK`).
    let out = common::run(token_cmd(&["revoke", "soar"])).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let revoked_at = std::time::Instant::now();
    loop {
        let answer = http.get(&path).bearer_auth(&token).send().await.unwrap();
        if answer.status() == 401 {
            break;
        }
        assert_eq!(answer.status(), 200);
        assert!(
            revoked_at.elapsed() < server::TOKEN_RECHECK * 3,
            "still admitted {:?} after `vtc token revoke`",
            revoked_at.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let missing = common::run(token_cmd(&["revoke", "soar"])).await;
    assert_eq!(missing.status.code(), Some(2));
    drop(child);
}

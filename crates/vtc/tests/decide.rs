//! Application control end to end over the emulator, as a user and an
//! endpoint agent drive it: `vtc policy check`, `vtc decide` with the
//! documented example (docs/policies/privilege-manager.toml), `vtc
//! decisions`, and `vtc serve --policy` with `POST /v1/decide` and `GET
//! /v1/decisions` under the agent and reader roles.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use vt_emulator::{EmulatorConfig, WorldMode};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const MESSAGE_START: &str = "VirusTotal rates this application as malicious.";

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policies/privilege-manager.toml")
}

/// Only built-ins, fixtures and uploads exist: EICAR is Bad, the empty
/// file Good, every other hash unknown.
fn empty_world() -> EmulatorConfig {
    EmulatorConfig {
        world: WorldMode::Empty,
        ..EmulatorConfig::default()
    }
}

async fn decide(api: &str, db: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut cmd = common::vtc(api, db);
    // The emulator has no minute budget; the public key's 4 would make
    // the fifth lookup wait (the budget-spent case).
    cmd.args([
        "--api-key",
        "k",
        "--quota-minute",
        "0",
        "--format",
        "json",
        "decide",
        "--policy",
    ])
    .arg(example())
    .args(args);
    let out = common::run(cmd).await;
    let json = serde_json::from_str(&common::stdout(&out)).unwrap_or(Value::Null);
    (out.status.code(), json, common::stderr(&out))
}

#[tokio::test]
async fn policy_check_accepts_the_example_and_points_at_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db_in(&dir);
    let mut cmd = common::vtc("http://127.0.0.1:9", &db);
    cmd.args(["policy", "check"]).arg(example());
    let out = common::run(cmd).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stdout(&out).contains(": ok (1 policies, 1 enabled)"));
    assert!(
        common::stderr(&out).contains("4 lookups a minute")
            && common::stderr(&out).contains("not for production"),
        "no key: the caveat is said: {}",
        common::stderr(&out)
    );

    let broken = dir.path().join("broken.toml");
    let text = std::fs::read_to_string(example())
        .unwrap()
        .replace(r"downloads\\'", r"downloads\\(' ")
        .replace(
            "members = [\"User Downloads Folder\", \"User Temp Folder\"]",
            "members = [\"User Downloads Folder\", \"Tmp\"]",
        )
        .replace("action = \"deny\"", "action = \"block\"");
    std::fs::write(&broken, text).unwrap();
    let mut cmd = common::vtc("http://127.0.0.1:9", &db);
    cmd.args(["policy", "check"]).arg(&broken);
    let out = common::run(cmd).await;
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    let shown = broken.display().to_string();
    for want in [
        format!("{shown}:14:8: bad path regular expression"),
        format!("{shown}:26:37: unknown filter \"Tmp\" in a collection"),
        format!("{shown}:41:10: unknown action \"block\""),
    ] {
        assert!(err.contains(&want), "missing {want:?} in {err}");
    }
    assert_eq!(
        err.lines().filter(|l| l.starts_with(&shown)).count(),
        3,
        "{err}"
    );
}

#[tokio::test]
async fn the_documented_example_end_to_end() {
    let emu = common::emulator(empty_world()).await;
    let api = emu.api_url();
    let dir = tempfile::tempdir().unwrap();
    let db = common::db_in(&dir);

    // The EICAR test file, hashed here, run from a user's Downloads: denied.
    let eicar = dir.path().join("eicar.com");
    std::fs::write(&eicar, vt_emulator::EICAR).unwrap();
    let eicar = eicar.display().to_string();
    let downloads = r"C:\Users\bob\Downloads\eicar.com";
    let (code, d, err) = decide(
        &api,
        &db,
        &[
            "--file",
            &eicar,
            "--path",
            downloads,
            "--user",
            r"CORP\bob",
            "--host",
            "WS-17",
        ],
    )
    .await;
    assert_eq!(code, Some(3), "denied is exit 3: {err}");
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["allowed"], false);
    assert_eq!(d["rating"], "bad");
    assert_eq!(d["policy"], "Allow Applications – VirusTotal Rating");
    assert!(
        d["message"].as_str().unwrap().starts_with(MESSAGE_START),
        "{d}"
    );
    assert_eq!(d["sha256"], common::EICAR_SHA256);
    assert!(d["malicious"].as_u64().unwrap() > 0);
    let asked = common::requests(&emu);
    assert!(asked >= 1);

    // The same file anywhere else: allowed, and VirusTotal is not asked.
    let (code, d, _) = decide(
        &api,
        &db,
        &[
            "--sha256",
            common::EICAR_SHA256,
            "--path",
            r"C:\Tools\eicar.com",
        ],
    )
    .await;
    assert_eq!(code, Some(0));
    assert_eq!(d["decision"], "allow");
    assert_eq!(d["policy"], Value::Null);
    assert_eq!(d["rating"], Value::Null, "not needed, not asked");
    assert_eq!(common::requests(&emu), asked);

    // Again in Downloads (Temp this time, forward slashes): from the cache.
    let (code, d, _) = decide(
        &api,
        &db,
        &[
            "--sha256",
            common::EICAR_SHA256,
            "--path",
            "c:/users/bob/appdata/local/temp/eicar.com",
        ],
    )
    .await;
    assert_eq!((code, d["decision"].as_str()), (Some(3), Some("deny")));
    assert_eq!(d["cached"], true);
    assert_eq!(
        common::requests(&emu),
        asked,
        "a cached rating costs no call"
    );

    // A Good file (the empty file) in Downloads: allowed.
    let (code, d, _) = decide(
        &api,
        &db,
        &[
            "--sha256",
            EMPTY_SHA256,
            "--path",
            r"C:\Users\ann\Downloads\empty.exe",
        ],
    )
    .await;
    assert_eq!(code, Some(0));
    assert_eq!(
        (d["decision"].as_str(), d["rating"].as_str()),
        (Some("allow"), Some("good"))
    );
    assert_eq!(d["fallback"], Value::Null);

    // A file VirusTotal does not know: the unknown fallback (audit).
    let unknown = "ab".repeat(32);
    let (code, d, _) = decide(
        &api,
        &db,
        &[
            "--sha256",
            &unknown,
            "--path",
            r"C:\Users\ann\Downloads\new.exe",
        ],
    )
    .await;
    assert_eq!(code, Some(0));
    assert_eq!(
        (d["decision"].as_str(), d["fallback"].as_str()),
        (Some("audit"), Some("unknown"))
    );

    // Every decision is in the log.
    let mut cmd = common::vtc(&api, &db);
    cmd.args(["decisions", "--format", "jsonl"]);
    let out = common::run(cmd).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let logged: Vec<Value> = common::stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = logged
        .iter()
        .map(|d| d["decision"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["deny", "allow", "deny", "allow", "audit"]);
    assert_eq!(logged[0]["host"], "WS-17");
    assert_eq!(logged[0]["path"], downloads);
    let mut cmd = common::vtc(&api, &db);
    cmd.args([
        "decisions",
        "--format",
        "csv",
        "--since",
        "1h",
        "--action",
        "deny",
    ]);
    let out = common::run(cmd).await;
    let csv = common::stdout(&out);
    assert!(
        csv.starts_with("time,host,user,path,file_name,sha256,rating"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3, "header and the two denials: {csv}");

    // VirusTotal gone: the network-failure fallback, within the deadline.
    drop(emu);
    let started = Instant::now();
    let (code, d, err) = decide(
        &api,
        &db,
        &[
            "--sha256",
            &"cd".repeat(32),
            "--path",
            r"C:\Users\ann\Downloads\x.exe",
        ],
    )
    .await;
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        (d["decision"].as_str(), d["fallback"].as_str()),
        (Some("allow"), Some("unreachable")),
        "{d}"
    );
    // The policy waits 3 s at most; the process' start and end come on top.
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// Kills the service when the test ends, passed or not.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn token(api: &str, db: &Path, name: &str, role: &str) -> String {
    let mut cmd = common::vtc(api, db);
    cmd.args(["token", "create", "--name", name, "--role", role]);
    let out = common::run(cmd).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    common::stdout(&out).trim().to_owned()
}

#[tokio::test]
async fn decide_over_http_with_the_agent_role() {
    let emu = common::emulator(empty_world()).await;
    let api = emu.api_url();
    let dir = tempfile::tempdir().unwrap();
    let db = common::db_in(&dir);
    let agent = token(&api, &db, "endpoint", "agent").await;
    let reader = token(&api, &db, "soc", "reader").await;

    let mut cmd = common::vtc(&api, &db);
    cmd.args([
        "--api-key",
        "k",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--policy",
    ])
    .arg(example())
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
        .unwrap()
        .to_owned();
    let http = reqwest::Client::new();
    let post = |token: &str, body: Value| {
        http.post(format!("{base}/v1/decide"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };

    let one = serde_json::json!({
        "sha256": common::EICAR_SHA256, "path": r"C:\Users\bob\Downloads\eicar.com",
        "user": r"CORP\bob", "groups": ["Staff"], "host": "WS-17", "platform": "windows"
    });
    let answer = post(&agent, one.clone()).await.unwrap();
    assert_eq!(answer.status(), 200);
    let d: Value = answer.json().await.unwrap();
    assert_eq!(
        (d["decision"].as_str(), d["rating"].as_str()),
        (Some("deny"), Some("bad")),
        "{d}"
    );
    assert!(d["message"].as_str().unwrap().starts_with(MESSAGE_START));
    assert_eq!(d["policy"], "Allow Applications – VirusTotal Rating");

    // The batch form: one answer per file, in order; the cached EICAR
    // costs no call.
    let calls = common::requests(&emu);
    let batch = serde_json::json!({"files": [
        one,
        {"md5": "44d88612fea8a8f36de82e1278abb02f", "path": "C:/Program Files/x/eicar.com"},
        {"sha256": EMPTY_SHA256, "path": r"C:\Users\bob\Downloads\empty.exe"},
    ]});
    let answer = post(&agent, batch).await.unwrap();
    assert_eq!(answer.status(), 200);
    let b: Value = answer.json().await.unwrap();
    let got: Vec<&str> = b["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["decision"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["deny", "allow", "allow"], "{b}");
    assert_eq!(b["decisions"][0]["cached"], true);
    assert_eq!(
        common::requests(&emu),
        calls + 1,
        "only the empty file was asked for"
    );

    // Roles: a reader may not decide, an agent may not read the log.
    assert_eq!(
        post(&reader, serde_json::json!({"sha256": EMPTY_SHA256}))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post("vtc_nope", serde_json::json!({"sha256": EMPTY_SHA256}))
            .await
            .unwrap()
            .status(),
        401
    );
    let log = |token: &str, query: &str| {
        http.get(format!("{base}/v1/decisions{query}"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(log(&agent, "").await.unwrap().status(), 403);
    assert_eq!(
        http.get(format!("{base}/v1/observables/{EMPTY_SHA256}"))
            .bearer_auth(&agent)
            .send()
            .await
            .unwrap()
            .status(),
        403,
        "an agent may only decide"
    );
    // Bad input is a JSON 400.
    let bad = post(&agent, serde_json::json!({"sha256": "xyz"}))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad: Value = bad.json().await.unwrap();
    assert!(
        bad["error"]["message"].as_str().unwrap().contains("sha256"),
        "{bad}"
    );

    // The log, by cursor pages of 2, filtered by host and action. The log
    // is written behind the answers: wait for it (bounded).
    let mut all = Vec::new();
    for _ in 0..50 {
        let page: Value = log(&reader, "?limit=10")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all = page["decisions"].as_array().unwrap().clone();
        if all.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(all.len(), 4);
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = log(&reader, &format!("?limit=2{cursor}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        paged.extend(page["decisions"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(paged, all);
    let denied: Value = log(&reader, "?host=WS-17&action=deny")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(denied["decisions"].as_array().unwrap().len(), 2);
    assert_eq!(
        log(&reader, "?since=yesterday").await.unwrap().status(),
        400
    );
    drop(child);
}

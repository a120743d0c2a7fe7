//! `vtc action NAME` (JSON in, JSON out) and `vtc action --list`, end to
//! end against the emulator; and docs/actions.md kept in step with the list.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use vt_emulator::{EmulatorConfig, RunningEmulator, EICAR_MD5};

const PREMIUM: &str = "eeeeeeee00000000000000000000000000000000000000000000000000000005";
const PUBLIC: &str = "ffffffff00000000000000000000000000000000000000000000000000000006";

async fn keyed_emulator() -> RunningEmulator {
    emulator(EmulatorConfig {
        premium_keys: vec![PREMIUM.into()],
        public_keys: vec![PUBLIC.into()],
        ..EmulatorConfig::default()
    })
    .await
}

/// A sha256 the synthetic world answers 404 for.
fn unknown_sha256() -> String {
    use sha2::{Digest, Sha256};
    (0u32..)
        .map(|i| hex::encode(Sha256::digest(i.to_le_bytes())))
        .find(|h| {
            vt_emulator::world_class(ioc::IndicatorKind::File, h)
                == vt_emulator::WorldClass::Unknown
        })
        .expect("some hash is unknown")
}

/// Runs `vtc action NAME` with `input` on stdin; returns the output and
/// its one JSON line.
async fn action(
    emu: &RunningEmulator,
    dir: &tempfile::TempDir,
    key: &str,
    name: &str,
    input: &str,
) -> (Output, serde_json::Value) {
    let mut cmd = vtc(&emu.base_url(), &db_in(dir));
    cmd.args(["--api-key", key, "--quota-minute", "0", "action", name])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let input = input.to_owned();
    let out = tokio::task::spawn_blocking(move || {
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
    .expect("join");
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (out, value)
}

fn list_json() -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .args(["--format", "json", "action", "--list"])
        .env_remove("VTC_CONFIG")
        .output()
        .expect("vtc runs");
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON list")
}

#[test]
fn the_list_names_every_capability_with_its_api_call_and_inputs() {
    let list = list_json();
    let actions = list.as_array().expect("array");
    let names: Vec<&str> = actions.iter().filter_map(|a| a["name"].as_str()).collect();
    for want in [
        "lookup",
        "file_report",
        "url_report",
        "domain_report",
        "ip_report",
        "scan_file",
        "scan_url",
        "rescan",
        "get_analysis",
        "download_file",
        "get_relationships",
        "search",
        "get_comments",
        "add_comment",
        "get_votes",
        "add_vote",
        "get_widget",
        "private_scan_file",
        "private_scan_url",
        "private_file_report",
        "private_list_files",
        "private_delete_file",
        "private_rescan",
        "private_get_analysis",
        "get_quota",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for a in actions {
        assert!(a["api"].as_str().is_some_and(|s| s.contains('/')), "{a}");
        assert!(a["inputs"].is_array(), "{a}");
    }
}

#[test]
fn docs_describe_every_action_and_input_in_the_list() {
    let docs_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/actions.md");
    let docs = std::fs::read_to_string(docs_path).expect("docs/actions.md exists");
    for a in list_json().as_array().expect("array") {
        let name = a["name"].as_str().expect("name");
        let heading = format!("### `{name}`");
        let section = docs
            .split(&heading)
            .nth(1)
            .unwrap_or_else(|| panic!("docs/actions.md has no {heading}"));
        let section = section.split("\n### ").next().unwrap_or("");
        let api = a["api"].as_str().expect("api");
        assert!(
            section.contains(api),
            "{name}: docs lack the API call {api}"
        );
        for field in a["inputs"].as_array().expect("inputs") {
            let field = field["name"].as_str().expect("field name");
            assert!(
                section.contains(&format!("`{field}`")),
                "{name}: docs lack input {field}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn report_actions_answer_data_and_failures_answer_an_error_object() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (out, value) = action(
        &emu,
        &dir,
        PREMIUM,
        "file_report",
        &format!(r#"{{"hash": "{EICAR_MD5}"}}"#),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value["data"]["id"], EICAR_SHA256);

    let (out, value) = action(
        &emu,
        &dir,
        PREMIUM,
        "lookup",
        r#"{"indicator": "8[.]8[.]8[.]8"}"#,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value["data"]["type"], "ip_address");

    let (out, value) = action(
        &emu,
        &dir,
        PREMIUM,
        "get_relationships",
        &format!(r#"{{"id": "{EICAR_SHA256}", "relationship": "contacted_domains", "limit": 3}}"#),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value["data"].as_array().map(Vec::len), Some(3), "{value}");

    // Failures: bad input (2), refused key (2), unknown object (1).
    let before = requests(&emu);
    let cases = [
        ("file_report", r#"{"hash": "nope"}"#, 2, "InvalidInput"),
        ("file_report", r#"{"sha": "x"}"#, 2, "InvalidInput"),
        ("file_report", r#"{}"#, 2, "InvalidInput"),
        ("file_report", "not json", 2, "InvalidInput"),
        (
            "add_vote",
            r#"{"id": "example.com", "verdict": "meh"}"#,
            2,
            "InvalidInput",
        ),
        ("no_such_action", "{}", 2, "InvalidInput"),
    ];
    for (name, input, code, error) in cases {
        let (out, value) = action(&emu, &dir, PREMIUM, name, input).await;
        assert_eq!(out.status.code(), Some(code), "{name} {input}: {value}");
        assert_eq!(value["error"]["code"], error, "{name} {input}: {value}");
        assert!(value["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(requests(&emu), before, "bad input costs no API call");

    let (out, value) = action(
        &emu,
        &dir,
        PUBLIC,
        "download_file",
        &format!(r#"{{"hash": "{EICAR_SHA256}"}}"#),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{value}");
    assert_eq!(value["error"]["code"], "ForbiddenError", "{value}");

    let (out, value) = action(
        &emu,
        &dir,
        PREMIUM,
        "file_report",
        &format!(r#"{{"hash": "{}"}}"#, unknown_sha256()),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{value}");
    assert_eq!(value["error"]["code"], "NotFoundError", "{value}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn submission_download_community_and_quota_actions_work_end_to_end() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("eicar.com"), vt_emulator::EICAR).expect("write");

    let (out, value) = action(&emu, &dir, PREMIUM, "scan_file", r#"{"path": "eicar.com"}"#).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value["data"]["type"], "file", "known: no upload");

    let (out, value) = action(
        &emu,
        &dir,
        PREMIUM,
        "scan_url",
        r#"{"url": "http://action.example/x", "wait": true, "poll_interval_ms": 50, "timeout_s": 20}"#,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        value["data"]["attributes"]["status"], "completed",
        "{value}"
    );
    let id = value["data"]["id"].as_str().expect("id").to_owned();

    let (out, value) = action(
        &emu,
        &dir,
        PREMIUM,
        "get_analysis",
        &format!(r#"{{"id": "{id}"}}"#),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value["data"]["id"], id.as_str());

    let (out, value) = action(
        &emu,
        &dir,
        PREMIUM,
        "download_file",
        &format!(r#"{{"hash": "{EICAR_SHA256}", "output": "sample.zip"}}"#),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value["data"]["password"], "infected");
    assert!(dir.path().join("sample.zip").exists());

    let (out, _) = action(
        &emu,
        &dir,
        PREMIUM,
        "add_comment",
        r#"{"id": "commented.example.com", "text": "seen in a campaign #c2"}"#,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let (out, value) = action(
        &emu,
        &dir,
        PREMIUM,
        "get_comments",
        r#"{"id": "commented.example.com"}"#,
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value["data"].as_array().map(Vec::len), Some(1), "{value}");

    let (out, value) = action(&emu, &dir, PREMIUM, "get_quota", "").await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(value["data"]["day"].is_object(), "{value}");
    emu.shutdown().await;
}

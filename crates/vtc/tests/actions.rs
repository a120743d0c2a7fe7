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
    action_with(emu, dir, key, &[name], input).await
}

/// `vtc action ARGS...` (the name and any flags) with `input` on stdin.
async fn action_with(
    emu: &RunningEmulator,
    dir: &tempfile::TempDir,
    key: &str,
    args: &[&str],
    input: &str,
) -> (Output, serde_json::Value) {
    let mut cmd = vtc(&emu.base_url(), &db_in(dir));
    cmd.args(["--api-key", key, "--quota-minute", "0", "action"])
        .args(args)
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
        r#"{"url": "http://action.example/x", "wait": true, "poll_interval_ms": 50, "timeout": 20}"#,
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

    // Where the sample goes is the caller's flag, never a path in the input.
    let (out, value) = action_with(
        &emu,
        &dir,
        PREMIUM,
        &["download_file", "-o", "sample.zip"],
        &format!(r#"{{"hash": "{EICAR_SHA256}"}}"#),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value["data"]["password"], "infected");
    assert!(dir.path().join("sample.zip").exists());
    let (out, value) = action(
        &emu,
        &dir,
        PREMIUM,
        "download_file",
        &format!(r#"{{"hash": "{EICAR_SHA256}", "output": "/tmp/elsewhere.zip"}}"#),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{value}");
    assert!(
        value["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("output")),
        "{value}"
    );

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

/// A domain and a URL the synthetic world knows (clean, so every route answers).
fn known_domain_and_url() -> (String, String) {
    use vt_emulator::{world_class, WorldClass};
    let domain = (0..10_000)
        .map(|i| format!("schema{i}.example"))
        .find(|d| world_class(ioc::IndicatorKind::Domain, d) == WorldClass::Clean)
        .expect("a clean domain");
    let url = (0..10_000)
        .map(|i| format!("http://schema{i}.example/page"))
        .find(|u| world_class(ioc::IndicatorKind::Url, &ioc::url_sha256(u)) == WorldClass::Clean)
        .expect("a clean URL");
    (domain, url)
}

/// `vtc action --schema NAME`: `{"input": …, "output": …}`.
fn schemas_of(name: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .args(["action", "--schema", name])
        .env_remove("VTC_CONFIG")
        .output()
        .expect("vtc runs");
    assert!(out.status.success(), "{name}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("JSON schemas")
}

/// Checks `instance` against the JSON Schema `schema` (draft 2020-12).
fn validate(name: &str, schema: &serde_json::Value, instance: &serde_json::Value) {
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let url = format!("urn:vtc:{name}");
    compiler
        .add_resource(&url, schema.clone())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let index = compiler
        .compile(&url, &mut schemas)
        .unwrap_or_else(|e| panic!("{name}: the schema does not compile: {e}"));
    if let Err(e) = schemas.validate(instance, index) {
        panic!("{name}: output does not match its schema: {e:#}\n{instance}");
    }
}

#[test]
fn the_schema_flag_prints_the_input_and_output_schemas() {
    let schemas = schemas_of("get_relationships");
    let input = &schemas["input"];
    assert_eq!(input["type"], "object");
    assert!(input["properties"]["relationship"].is_object(), "{input}");
    let required = input["required"].as_array().expect("required");
    assert!(required.iter().any(|r| r == "id"), "{input}");
    assert_eq!(schemas["output"]["type"], "array", "{schemas}");
    let out = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .args(["action", "--schema", "no_such_action"])
        .env_remove("VTC_CONFIG")
        .output()
        .expect("vtc runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// Every action in `--list`, run over the emulator in an order where each
/// finds what it needs (an analysis id from a scan, a private file from a
/// private scan); each answer must validate against the action's published
/// output schema.
#[tokio::test(flavor = "multi_thread")]
async fn every_actions_output_validates_against_its_published_schema() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("eicar.com"), vt_emulator::EICAR).expect("write");
    std::fs::write(
        dir.path().join("fresh.bin"),
        b"a file nobody has seen before 9",
    )
    .expect("write");
    let (domain, url) = known_domain_and_url();
    let listed: Vec<String> = list_json()
        .as_array()
        .expect("array")
        .iter()
        .map(|a| a["name"].as_str().expect("name").to_owned())
        .collect();
    // (action, extra args, input); `{analysis}` and `{private_analysis}`
    // stand for the ids earlier scans answered.
    let cases: Vec<(&str, Vec<&str>, String)> = vec![
        ("lookup", vec![], r#"{"indicator": "8[.]8[.]8[.]8"}"#.into()),
        (
            "file_report",
            vec![],
            format!(r#"{{"hash": "{EICAR_MD5}"}}"#),
        ),
        ("url_report", vec![], format!(r#"{{"url": "{url}"}}"#)),
        (
            "domain_report",
            vec![],
            format!(r#"{{"domain": "{domain}"}}"#),
        ),
        ("ip_report", vec![], r#"{"ip": "8.8.8.8"}"#.into()),
        ("scan_file", vec![], r#"{"path": "eicar.com"}"#.into()),
        ("scan_url", vec![], r#"{"url": "example.org"}"#.into()),
        ("get_analysis", vec![], r#"{"id": "{analysis}"}"#.into()),
        (
            "rescan",
            vec![],
            format!(
                r#"{{"id": "{EICAR_SHA256}", "wait": true, "poll_interval_ms": 20, "timeout": 20}}"#
            ),
        ),
        (
            "download_file",
            vec!["-o", "."],
            format!(r#"{{"hash": "{EICAR_SHA256}"}}"#),
        ),
        (
            "get_download_url",
            vec![],
            format!(r#"{{"hash": "{EICAR_SHA256}"}}"#),
        ),
        (
            "get_relationships",
            vec![],
            format!(r#"{{"id": "{domain}", "relationship": "resolutions", "limit": 3}}"#),
        ),
        (
            "search",
            vec![],
            format!(r#"{{"query": "{EICAR_SHA256}"}}"#),
        ),
        (
            "add_comment",
            vec![],
            format!(r##"{{"id": "{domain}", "text": "#schema check"}}"##),
        ),
        (
            "get_comments",
            vec![],
            format!(r#"{{"id": "{domain}", "limit": 5}}"#),
        ),
        (
            "add_vote",
            vec![],
            format!(r#"{{"id": "{domain}", "verdict": "harmless"}}"#),
        ),
        ("get_votes", vec![], format!(r#"{{"id": "{domain}"}}"#)),
        (
            "get_widget",
            vec![],
            format!(r#"{{"id": "{domain}", "html": true}}"#),
        ),
        (
            "get_widget_html",
            vec![],
            r#"{"url": "{widget_url}"}"#.into(),
        ),
        ("get_upload_url", vec![], r#"{"private": true}"#.into()),
        (
            "get_relationship_descriptors",
            vec![],
            format!(r#"{{"id": "{EICAR_SHA256}", "relationship": "contacted_ips", "limit": 2}}"#),
        ),
        (
            "private_scan_file",
            vec![],
            r#"{"path": "eicar.com"}"#.into(),
        ),
        (
            "private_get_analysis",
            vec![],
            r#"{"id": "{private_analysis}"}"#.into(),
        ),
        (
            "private_file_report",
            vec![],
            format!(r#"{{"sha256": "{EICAR_SHA256}"}}"#),
        ),
        (
            "private_get_relationships",
            vec![],
            format!(
                r#"{{"sha256": "{EICAR_SHA256}", "relationship": "contacted_ips", "limit": 2}}"#
            ),
        ),
        (
            "private_rescan",
            vec![],
            format!(r#"{{"sha256": "{EICAR_SHA256}"}}"#),
        ),
        ("private_list_files", vec![], r#"{"limit": 5}"#.into()),
        (
            "private_scan_url",
            vec![],
            r#"{"url": "http://private-schema.example/"}"#.into(),
        ),
        (
            "private_url_report",
            vec![],
            r#"{"url": "http://private-schema.example/"}"#.into(),
        ),
        (
            "private_delete_file",
            vec![],
            format!(r#"{{"sha256": "{EICAR_SHA256}"}}"#),
        ),
        ("get_quota", vec![], "{}".into()),
    ];
    let covered: Vec<&str> = cases.iter().map(|c| c.0).collect();
    for name in &listed {
        assert!(
            covered.contains(&name.as_str()),
            "{name} is not in the table"
        );
    }
    let (mut analysis, mut private_analysis) = (String::new(), String::new());
    let mut widget_url = String::new();
    for (name, extra, input) in &cases {
        let input = input
            .replace("{widget_url}", &widget_url)
            .replace("{analysis}", &analysis)
            .replace("{private_analysis}", &private_analysis);
        let mut args = vec![*name];
        args.extend(extra.iter().copied());
        let (out, value) = action_with(&emu, &dir, PREMIUM, &args, &input).await;
        assert!(
            out.status.success(),
            "{name} {input}: {value} {}",
            stderr(&out)
        );
        let data = &value["data"];
        validate(name, &schemas_of(name)["output"], data);
        match *name {
            "scan_url" => analysis = data["id"].as_str().expect("analysis id").to_owned(),
            "get_widget" => widget_url = data["url"].as_str().expect("widget url").to_owned(),
            "get_relationship_descriptors" => {
                assert!(data
                    .as_array()
                    .expect("list")
                    .iter()
                    .all(|d| d["attributes"].is_null()))
            }
            "private_scan_file" => {
                private_analysis = data["id"].as_str().expect("analysis id").to_owned()
            }
            _ => {}
        }
    }
    emu.shutdown().await;
}

/// For every action: an input field it does not take, and (where it has
/// one) a required field of the wrong type, are refused with exit 2 and a
/// message naming the field, before any API call.
#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_to_any_action_gets_an_error_naming_the_field() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let before = requests(&emu);
    for listed in list_json().as_array().expect("array") {
        let name = listed["name"].as_str().expect("name");
        let (out, value) = action(&emu, &dir, PREMIUM, name, r#"{"bogus_field": 1}"#).await;
        assert_eq!(out.status.code(), Some(2), "{name}: {value}");
        assert_eq!(value["error"]["code"], "InvalidInput", "{name}: {value}");
        let message = value["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains("bogus_field"), "{name}: {message}");

        let required: Vec<&str> = listed["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .filter(|f| f["required"] == true)
            .filter_map(|f| f["name"].as_str())
            .collect();
        if let Some(first) = required.first() {
            // Every required field present, the first one a number.
            let mut input = serde_json::Map::new();
            for field in &required {
                input.insert((*field).to_owned(), serde_json::json!("x"));
            }
            input.insert((*first).to_owned(), serde_json::json!(12345));
            let input = serde_json::Value::Object(input).to_string();
            let (out, value) = action(&emu, &dir, PREMIUM, name, &input).await;
            assert_eq!(out.status.code(), Some(2), "{name} {input}: {value}");
            let message = value["error"]["message"].as_str().unwrap_or("");
            assert!(message.contains(first), "{name} {input}: {message}");
        }
    }
    assert_eq!(requests(&emu), before, "bad input costs no API call");
    emu.shutdown().await;
}

/// The SOAR connectors' action names run the same actions: every alias in
/// the list answers as its action does, and the manifest command prints
/// the committed manifest.
#[tokio::test(flavor = "multi_thread")]
async fn connector_action_names_are_accepted_as_aliases() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let list = list_json();
    let aliases: Vec<(String, String)> = list
        .as_array()
        .expect("array")
        .iter()
        .flat_map(|a| {
            let name = a["name"].as_str().expect("name").to_owned();
            a["aliases"]
                .as_array()
                .expect("aliases")
                .iter()
                .map(move |x| (x.as_str().expect("alias").to_owned(), name.clone()))
        })
        .collect();
    assert!(aliases.len() >= 20, "{aliases:?}");
    for (alias, action) in &aliases {
        // The same bad field is refused in the action's own words.
        let (out, value) =
            action_with(&emu, &dir, PREMIUM, &[alias], r#"{"bogus_field": 1}"#).await;
        assert_eq!(out.status.code(), Some(2), "{alias}: {value}");
        let message = value["error"]["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with(&format!("{action}:")),
            "{alias} -> {action}: {message}"
        );
    }
    let (out, value) = action(
        &emu,
        &dir,
        PREMIUM,
        "Get a file report",
        &format!(r#"{{"hash": "{EICAR_MD5}"}}"#),
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(value["data"]["id"], EICAR_SHA256);
    let (out, value) = action(
        &emu,
        &dir,
        PREMIUM,
        "reanalyse_url",
        r#"{"id": "http://alias.example/x"}"#,
    )
    .await;
    assert!(out.status.success(), "{value} {}", stderr(&out));
    assert_eq!(value["data"]["type"], "analysis");

    let out = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .args(["action", "--manifest"])
        .env_remove("VTC_CONFIG")
        .output()
        .expect("vtc runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let kept = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../integrations/soar/manifest.json"
    ))
    .expect("manifest");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&kept)
    );
    emu.shutdown().await;
}

//! Hostile input end to end: NUL bytes, invalid UTF-8 and huge lines cost
//! one error record each and the run goes on (plain lines and a CSV
//! column); a VirusTotal object whose every string carries markup, and
//! URLs that do, reach the HTML report only as escaped text.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::io::Write;
use std::process::Stdio;
use vt_emulator::EmulatorConfig;

fn jsonl(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

/// The hostile lines: NUL inside and around an indicator, bytes that are
/// not UTF-8, a 1 MiB line, a line of NULs only.
fn hostile_lines() -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend(b"8.8.8.8\n");
    bytes.extend(b"example\x00.com\n");
    bytes.extend(b"\x00\x00\x00\x00\n");
    bytes.extend(b"1.1.1.1\x00\n");
    bytes.extend(b"\xc3\x28\xff\xfeexample.org\n");
    bytes.extend(std::iter::repeat_n(b'7', 1024 * 1024));
    bytes.extend(b"\n9.9.9.9\n");
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn lookup_from_stdin_gives_each_hostile_line_one_error_record() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "--quota-minute", "0"])
        .args(["lookup", "--format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("vtc");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&hostile_lines())
            .unwrap();
        child.wait_with_output().expect("vtc ends")
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let records = jsonl(&out.stdout);
    assert_eq!(records.len(), 7, "one record per line: {records:?}");
    let good: Vec<&str> = records
        .iter()
        .filter(|r| r["error"].is_null())
        .map(|r| r["indicator"].as_str().unwrap())
        .collect();
    assert_eq!(good, ["8.8.8.8", "9.9.9.9"]);
    for r in records.iter().filter(|r| !r["error"].is_null()) {
        assert_eq!(r["error"]["code"], "InvalidIndicator", "{r}");
        let input = r["input"].as_str().unwrap();
        assert!(
            input.len() <= 64 * 1024,
            "an input of {} bytes",
            input.len()
        );
    }
    assert_eq!(requests(&emu), 2, "only the two indicators reached the API");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_csv_column_with_bad_bytes_fails_that_row_only() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.csv");
    let mut bytes = b"name,ioc\nfirst,8.8.8.8\n".to_vec();
    bytes.extend(b"bad\xff\xfe,1.1.1.1\xc3\x28\n");
    bytes.extend(b"nul,exa\x00mple.com\n");
    bytes.extend(b"last,9.9.9.9\n");
    std::fs::write(&input, bytes).unwrap();
    let out_path = dir.path().join("out.jsonl");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "--quota-minute", "0", "enrich"])
        .arg(&input)
        .args(["--column", "ioc", "-o"])
        .arg(&out_path);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let records = jsonl(&std::fs::read(&out_path).unwrap());
    assert_eq!(records.len(), 4, "{records:?}");
    let good: Vec<&str> = records
        .iter()
        .filter(|r| r["error"].is_null())
        .map(|r| r["indicator"].as_str().unwrap())
        .collect();
    assert_eq!(good, ["8.8.8.8", "9.9.9.9"]);
    // The input's columns come along for the rows after the bad one too.
    let last = records
        .iter()
        .find(|r| r["indicator"] == "9.9.9.9")
        .unwrap();
    assert_eq!(last["columns"]["name"], "last", "{last}");
}

const MARKUP: &str = r#"<script>alert("x")</script><img src=x onerror=alert(1)>"#;

#[tokio::test(flavor = "multi_thread")]
async fn markup_in_virustotal_fields_and_urls_is_escaped_in_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures = dir.path().join("fixtures");
    std::fs::create_dir(&fixtures).unwrap();
    let sha256 = "ab".repeat(32);
    let object = serde_json::json!({"data": {
        "type": "file", "id": sha256,
        "attributes": {
            "sha256": sha256, "md5": "cd".repeat(16), "sha1": "ef".repeat(20),
            "meaningful_name": format!("invoice{MARKUP}.exe"),
            "names": [MARKUP], "tags": [MARKUP, "peexe"], "type_tag": MARKUP,
            "type_description": MARKUP,
            "popular_threat_classification": {"suggested_threat_label": MARKUP},
            "last_analysis_date": 1792000000,
            "last_analysis_stats": {"malicious": 2, "suspicious": 0, "undetected": 1,
                "harmless": 0, "timeout": 0, "failure": 0, "type-unsupported": 0,
                "confirmed-timeout": 0},
            "last_analysis_results": {
                MARKUP: {"category": "malicious", "engine_name": MARKUP,
                    "result": MARKUP, "method": "blacklist"},
                "Engine2": {"category": "malicious", "engine_name": "Engine2",
                    "result": format!("Trojan{MARKUP}"), "method": "blacklist"},
                "Engine3": {"category": "undetected", "engine_name": "Engine3",
                    "result": null, "method": "blacklist"}
            }
        }
    }});
    std::fs::write(fixtures.join("hostile.json"), object.to_string()).unwrap();
    let emu = emulator(EmulatorConfig {
        fixtures: Some(fixtures),
        ..EmulatorConfig::default()
    })
    .await;
    let input = dir.path().join("in.txt");
    std::fs::write(
        &input,
        format!(
            "{sha256}\nhttp://evil.test/<script>alert(2)</script>\nhttp://evil.test/\"><img src=x onerror=alert(3)>\n"
        ),
    )
    .unwrap();
    let report = dir.path().join("report.html");
    let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
    cmd.args(["--api-key", "k", "--quota-minute", "0", "enrich"])
        .arg(&input)
        .arg("-o")
        .arg(dir.path().join("out.jsonl"))
        .arg("--report")
        .arg(&report);
    let out = run(cmd).await;
    assert!(out.status.code() == Some(0), "{}", stderr(&out));
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains(&sha256), "the hostile file is in the report");
    assert!(
        page.contains("evil.test"),
        "the hostile URLs are in the report"
    );
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the page's own script"
    );
    for raw in [
        "<img",
        "alert(\"x\")</script>",
        "onerror=alert(1)>",
        "\"><img",
    ] {
        assert!(!page.contains(raw), "unescaped {raw:?} in the report");
    }
    assert!(
        page.contains("&lt;script&gt;") || page.contains("&lt;img"),
        "escaped text shown"
    );
}

/// A download's name comes from the hash asked for, never from the input
/// or the server: a "hash" that is a path is refused before any request.
#[tokio::test(flavor = "multi_thread")]
async fn a_download_hash_that_is_a_path_is_refused() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let samples = dir.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    for hash in [
        "../../../../tmp/evil",
        "..%2f..%2fevil",
        "/etc/passwd",
        &format!("../{EICAR_SHA256}"),
    ] {
        let mut cmd = vtc(&emu.base_url(), &db_in(&dir));
        cmd.args(["--api-key", "k", "download", hash, "-o"])
            .arg(&samples);
        let out = run(cmd).await;
        assert_eq!(out.status.code(), Some(2), "{hash}: {}", stderr(&out));
        let mut action = vtc(&emu.base_url(), &db_in(&dir));
        action
            .args(["--api-key", "k", "action", "download_file", "-o"])
            .arg(&samples)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let body = serde_json::json!({ "hash": hash }).to_string();
        let out = tokio::task::spawn_blocking(move || {
            let mut child = action.spawn().expect("vtc");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(body.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(out.status.code(), Some(2), "{hash}: {}", stderr(&out));
    }
    assert_eq!(std::fs::read_dir(&samples).unwrap().count(), 0);
    assert_eq!(requests(&emu), 0);
}

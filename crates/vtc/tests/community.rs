//! `vtc download`, `relationships`, `search`, `comments`, `vote`/`votes`,
//! `widget` and `quota` end to end against the emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::process::Command;
use vt_emulator::{EmulatorConfig, RunningEmulator, EICAR, EICAR_MD5};

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

fn vtc_as(emu: &RunningEmulator, dir: &tempfile::TempDir, key: &str) -> Command {
    let mut cmd = vtc(&emu.base_url(), &db_in(dir));
    cmd.args(["--api-key", key, "--quota-minute", "0"])
        .current_dir(dir.path());
    cmd
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

fn count(emu: &RunningEmulator, route: &str) -> u64 {
    emu.emulator().stats()["by_route"][route]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn download_writes_an_encrypted_zip_named_by_sha256_that_unzips_to_the_sample() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Asked by md5: the entry is still named by the sha256.
    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "json", "download", EICAR_MD5]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let result = json(&out);
    assert_eq!(result["format"], "zip");
    assert_eq!(result["sha256"], EICAR_SHA256);
    let path = dir.path().join(format!("{EICAR_SHA256}.zip"));
    assert!(path.exists(), "{result}");

    let file = std::fs::File::open(&path).expect("zip exists");
    let mut archive = zip::ZipArchive::new(file).expect("a zip");
    assert_eq!(archive.len(), 1);
    assert!(
        archive.by_index(0).is_err(),
        "the entry cannot be read without the password"
    );
    let mut entry = archive
        .by_index_decrypt(0, b"infected")
        .expect("password infected opens it");
    assert_eq!(entry.name(), EICAR_SHA256);
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).expect("read entry");
    assert_eq!(bytes, EICAR);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), EICAR_SHA256);
    assert_eq!(hex::encode(md5::Md5::digest(&bytes)), EICAR_MD5);
    assert_not_executable(&path);
    // The field's tools open it too (Info-ZIP, where installed).
    if let Ok(unzipped) = std::process::Command::new("unzip")
        .args(["-P", "infected", "-p"])
        .arg(&path)
        .output()
    {
        assert!(unzipped.status.success(), "{unzipped:?}");
        assert_eq!(unzipped.stdout, EICAR);
    }
    // No temporary files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".vtc-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    emu.shutdown().await;
}

#[cfg(unix)]
fn assert_not_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644, "{mode:o}");
}

#[cfg(not(unix))]
fn assert_not_executable(_path: &std::path::Path) {}

#[tokio::test(flavor = "multi_thread")]
async fn raw_download_warns_and_writes_the_bare_sample() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("sample.bin");
    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "json", "download", EICAR_SHA256, "--raw", "-o"])
        .arg(&target);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("warning"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&target).expect("written"), EICAR);
    assert_not_executable(&target);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn premium_only_commands_say_so_with_a_public_key_and_exit_2() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    for argv in [
        vec!["download", EICAR_SHA256],
        vec!["search", "--intelligence", "positives:5+"],
        vec!["private", "list"],
    ] {
        let mut cmd = vtc_as(&emu, &dir, PUBLIC);
        cmd.args(&argv);
        let out = run(cmd).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{argv:?}: {err}");
        assert!(err.contains("needs a premium API key"), "{argv:?}: {err}");
        assert!(!err.contains(PUBLIC), "the key never shows: {err}");
    }
    // Nothing was written for the refused download.
    assert!(!dir.path().join(format!("{EICAR_SHA256}.zip")).exists());

    // An object VirusTotal does not know: exit 1, named in the message.
    let unknown = "0".repeat(64);
    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["download", &unknown]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not know"), "{}", stderr(&out));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn relationships_page_past_the_first_page_up_to_the_limit() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "jsonl", "relationships", EICAR_SHA256])
        .args(["contacted_domains", "--limit", "5", "--page-size", "2"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 5, "{}", stdout(&out));
    assert!(lines.iter().all(|o| o["type"] == "domain"));
    assert_eq!(
        count(&emu, "GET /files/{id}/{relationship}"),
        3,
        "three pages of two for five objects"
    );

    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "json", "relationships", EICAR_SHA256])
        .args(["contacted_domains", "--descriptors", "--limit", "3"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let descriptors = json(&out);
    let descriptors = descriptors.as_array().expect("array");
    assert_eq!(descriptors.len(), 3);
    assert_eq!(descriptors[0]["id"], lines[0]["id"]);
    assert!(descriptors[0].get("attributes").is_none());

    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["relationships", EICAR_SHA256, "../etc"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_an_indicator_and_intelligence_search_pages() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "table", "search", EICAR_SHA256]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let table = stdout(&out);
    assert_eq!(table.lines().count(), 2, "{table}");
    assert!(
        table.contains(EICAR_SHA256) && table.contains("malicious"),
        "{table}"
    );

    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args([
        "--format",
        "jsonl",
        "search",
        "--intelligence",
        "positives:1+",
    ])
    .args(["--limit", "7", "--page-size", "3"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 7);
    assert_eq!(count(&emu, "GET /intelligence/search"), 3);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn comments_and_votes_are_added_then_listed_and_a_second_vote_is_refused() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let domain = "commented.example.com";
    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "json", "comments", domain, "--add"])
        .arg("phishing kit #phishing \u{1b}[31m");
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)["type"], "comment");

    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "table", "comments", domain]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("phishing kit #phishing"), "{table}");
    assert!(
        !table.contains('\u{1b}'),
        "no escape reaches the terminal: {table:?}"
    );

    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "json", "vote", domain, "malicious"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(json(&out)["attributes"]["verdict"], "malicious");

    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["vote", domain, "harmless"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("already voted"), "{}", stderr(&out));

    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "json", "votes", domain]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let votes = json(&out);
    assert_eq!(votes.as_array().map(Vec::len), Some(1), "{votes}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn widget_gives_a_url_and_with_html_the_page() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "json", "widget", EICAR_SHA256]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let widget = json(&out);
    assert!(
        widget["url"]
            .as_str()
            .unwrap_or("")
            .contains("/widget/html/"),
        "{widget}"
    );
    assert!(
        widget["detection_ratio"]["detections"]
            .as_u64()
            .unwrap_or(0)
            > 30
    );

    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "table", "widget", EICAR_SHA256, "--html"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains("<html") || stdout(&out).contains("<!"),
        "{}",
        stdout(&out)
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_shows_used_and_allowed_per_window() {
    let emu = emulator(EmulatorConfig {
        quota_day: Some(500),
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "json", "quota"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let quota = json(&out);
    assert_eq!(quota["day"]["allowed"], 500, "{quota}");
    assert!(quota["day"]["used"].as_u64().is_some(), "{quota}");
    assert!(
        quota["month"].is_object() && quota["minute"].is_object(),
        "{quota}"
    );
    assert!(!stdout(&out).contains(PREMIUM), "the key never shows");

    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "table", "quota"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("WINDOW"), "{table}");
    for window in ["minute", "hour", "day", "month"] {
        assert!(table.contains(window), "{table}");
    }
    emu.shutdown().await;
}

/// GET over plain HTTP/1.0, no key: the body.
fn fetch_without_key(url: &str) -> Vec<u8> {
    use std::io::Write;
    let rest = url.strip_prefix("http://").expect("an http link");
    let (host, path) = rest.split_at(rest.find('/').expect("a path"));
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read");
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    assert!(answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200"));
    answer[split + 4..].to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn download_url_is_a_link_that_needs_no_key_for_premium_keys_only() {
    let emu = keyed_emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = vtc_as(&emu, &dir, PREMIUM);
    cmd.args(["--format", "json", "download", EICAR_MD5, "--url"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let url = json(&out)["url"].as_str().expect("url").to_owned();
    assert!(!url.contains(PREMIUM), "the key is not in the link");
    let body = tokio::task::spawn_blocking(move || fetch_without_key(&url))
        .await
        .expect("join");
    assert_eq!(body, EICAR);

    let mut cmd = vtc_as(&emu, &dir, PUBLIC);
    cmd.args(["download", EICAR_MD5, "--url"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("premium"), "{}", stderr(&out));
}

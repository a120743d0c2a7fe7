//! The File Security Rating Details page as a browser gets it from `vtc
//! serve`: headless Chromium loads `/reports/file-ratings` under its
//! Content-Security-Policy; the rows, a sort, the filters and a details
//! view are read back from the DOM after the page's script ran; a file
//! named `<script>alert(1)</script>.exe` is text, never markup; and a
//! screenshot is saved. `vtc report file-ratings -o` writes the same page.
//!
//! Where Chromium is missing the browser test is ignored with the reason
//! (build.rs probes for it); under `CI=true` it runs and fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use vt_emulator::{EmulatorConfig, WorldMode};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const HOSTILE: &str = "<script>alert(1)</script>.exe";

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

/// (id, rating, name, hidden, details open) of each row, in DOM order.
fn rows(dom: &str) -> Vec<(String, String, String, bool, bool)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!(" {name}=\"");
        let start = tag.find(&key)? + key.len();
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].to_owned())
    };
    let mut out = Vec::new();
    for chunk in dom.split("<tbody ").skip(1) {
        let tag = format!(" {}", &chunk[..chunk.find('>').unwrap()]);
        let Some(id) = attr(&tag, "id") else { continue };
        let Some(i) = chunk.find("<tr class=\"details\"") else {
            continue;
        };
        let details = &chunk[i..i + chunk[i..].find('>').unwrap()];
        out.push((
            id,
            attr(&tag, "data-verdict").unwrap(),
            attr(&tag, "data-name").unwrap(),
            attr(&tag, "hidden").is_some(),
            attr(details, "hidden").is_none(),
        ));
    }
    out
}

#[tokio::test]
#[cfg_attr(
    missing_chromium,
    ignore = "headless chromium is not installed (apt-get install chromium); CI=true runs it"
)]
async fn the_served_file_ratings_page_works_in_headless_chromium() {
    let emu = common::emulator(EmulatorConfig {
        world: WorldMode::Empty,
        ..EmulatorConfig::default()
    })
    .await;
    let api = emu.api_url();
    let dir = tempfile::tempdir().unwrap();
    let db = common::db_in(&dir);
    let agent = token(&api, &db, "endpoint", "agent").await;
    let reader = token(&api, &db, "soc", "reader").await;
    let policy =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policies/privilege-manager.toml");
    let mut cmd = common::vtc(&api, &db);
    cmd.args([
        "--api-key",
        "k",
        "--quota-minute",
        "0",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--policy",
    ])
    .arg(&policy)
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

    let files = json!({"files": [
        {"sha256": common::EICAR_SHA256, "path": r"C:\Users\bob\Downloads\eicar.com", "user": r"CORP\bob", "host": "WS-17"},
        {"sha256": common::EICAR_SHA256, "path": r"C:\Users\ann\AppData\Local\Temp\eicar.com", "user": r"CORP\ann", "host": "WS-18"},
        {"sha256": EMPTY_SHA256, "path": r"C:\Users\bob\Downloads\empty.exe", "user": r"CORP\bob", "host": "WS-17"},
        // `/` separates Windows paths, so the agent sends such a name apart.
        {"sha256": "ab".repeat(32), "path": r"C:\Users\eve\Downloads\payload.exe", "name": HOSTILE, "user": r"CORP\eve", "host": "WS-66"},
        {"sha256": "ef".repeat(32), "path": r"C:\Program Files\Tool\tool.exe", "user": r"CORP\bob", "host": "WS-17"},
    ]});
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{base}/v1/decide"))
        .bearer_auth(&agent)
        .json(&files)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    let got: Vec<&str> = answer["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["decision"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["deny", "deny", "allow", "audit", "allow"]);

    // The page is for readers, with a CSP header and no inline handlers.
    let url = format!("{base}/reports/file-ratings?token={reader}");
    assert_eq!(
        http.get(format!("{base}/reports/file-ratings"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        http.get(format!("{base}/reports/file-ratings?token={agent}"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'sha256-"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(
        !html.contains(" onclick=") && !html.contains(" onerror=") && !html.contains(" onload=")
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.exe"));

    let profile = dir.path().join("profile");
    let dom = common::browse(&profile, &url, &["--dump-dom"]);
    assert!(
        dom.contains("data-ready=\"true\""),
        "the script ran under the CSP"
    );
    let all = rows(&dom);
    assert_eq!(all.len(), 4, "one row per file: {all:?}");
    let ratings: Vec<&str> = all.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        ratings,
        ["bad", "unknown", "good", "not rated"],
        "most severe first"
    );
    assert!(dom.contains("WS-17, WS-18"), "hosts that ran EICAR");
    // The hostile name is text: shown escaped, and no script element came
    // from it (attribute values may serialise `<` as it is; text never does).
    let text = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    assert!(all.iter().any(|r| text(&r.2) == HOSTILE), "{all:?}");
    assert!(
        dom.contains(">&lt;script&gt;alert(1)&lt;/script&gt;.exe<"),
        "shown as text"
    );
    assert!(
        !dom.contains("><script>alert(1)</script>"),
        "never an element"
    );
    assert_eq!(
        dom.matches("<script>\"use strict\"").count(),
        1,
        "the page's own script"
    );

    // Sorted by file name.
    let dom = common::browse(
        &profile,
        &format!("{url}#sort=name&dir=asc"),
        &["--dump-dom"],
    );
    let names: Vec<String> = rows(&dom)
        .into_iter()
        .map(|r| text(&r.2).to_lowercase())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(dom.contains("data-col=\"name\" aria-sort=\"ascending\""));

    // Filtered by rating, and by text.
    let dom = common::browse(&profile, &format!("{url}#verdict=bad"), &["--dump-dom"]);
    let shown: Vec<_> = rows(&dom).into_iter().filter(|r| !r.3).collect();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].1, "bad");
    let dom = common::browse(&profile, &format!("{url}#q=ws-66"), &["--dump-dom"]);
    let shown: Vec<_> = rows(&dom).into_iter().filter(|r| !r.3).collect();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].1, "unknown");

    // The details view of EICAR: engines, decisions, the VirusTotal link.
    let dom = common::browse(&profile, &format!("{url}#open=r0"), &["--dump-dom"]);
    let open: Vec<String> = rows(&dom)
        .into_iter()
        .filter(|r| r.4)
        .map(|r| r.0)
        .collect();
    assert_eq!(open, ["r0"]);
    let r0 = &dom[dom.find("id=\"r0-d\"").unwrap()..];
    let r0 = &r0[..r0.find("<tbody id=\"r1\"").unwrap_or(r0.len())];
    assert!(r0.contains("Engines that flagged it"), "{r0}");
    assert!(r0.contains("https://www.virustotal.com/gui/"), "{r0}");
    assert!(r0.contains("WS-18") && r0.contains("deny"), "{r0}");

    // A picture of it, with EICAR's details open.
    let shot = dir.path().join("file-ratings.png");
    common::browse(
        &profile,
        &format!("{url}#open=r0"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,1100",
        ],
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000);
    if std::env::var_os("VTC_UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/img/file-ratings.png");
        std::fs::create_dir_all(docs.parent().unwrap()).unwrap();
        std::fs::write(&docs, &png).unwrap();
    }
    drop(child);

    // The same page, written statically from the same log.
    let out_file = dir.path().join("report.html");
    let mut cmd = common::vtc(&api, &db);
    cmd.args(["report", "file-ratings", "-o"]).arg(&out_file);
    let out = common::run(cmd).await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let written = std::fs::read_to_string(&out_file).unwrap();
    assert!(written.contains("File Security Rating Details"));
    assert_eq!(written.matches("<tbody id=").count(), 4);
    assert!(written.contains(&csp), "the same CSP in its meta tag");
}

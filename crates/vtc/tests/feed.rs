//! `vtc feed export` as a user runs it: lookups fill the cache, the export
//! writes the feed of what they found, filtered, without calling the API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ioc::IndicatorKind;
use serde_json::Value;
use std::path::Path;
use vt_emulator::{world_class, WorldClass};

const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

fn export(api_url: &str, db: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vtc"));
    cmd.env_remove("VT_API_KEY")
        .env_remove("VTC_API_URL")
        .env_remove("VTC_DB")
        .env_remove("VTC_CONFIG")
        .env("XDG_CONFIG_HOME", db.parent().unwrap())
        .args(["feed", "export", "--api-url", api_url, "--db"])
        .arg(db)
        .args(args);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_carries_what_lookups_found_malicious_and_calls_no_api() {
    let emu = common::emulator(vt_emulator::EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = common::db_in(&dir);
    let pick = |kind, class, prefix: &str| {
        (0..10_000)
            .map(|i| format!("{prefix}{i}.test"))
            .find(|v| world_class(kind, v) == class)
            .unwrap()
    };
    let bad = pick(IndicatorKind::Domain, WorldClass::Malicious, "bad");
    let suspect = pick(IndicatorKind::Domain, WorldClass::Suspicious, "odd");
    let clean = pick(IndicatorKind::Domain, WorldClass::Clean, "fine");
    let mut lookup = common::vtc(&emu.api_url(), &db);
    lookup.args([
        "--api-key",
        "k",
        "--quota-minute",
        "0",
        "lookup",
        "--format",
        "jsonl",
        EICAR_MD5,
        &bad,
        &suspect,
        &clean,
    ]);
    let out = common::run(lookup).await;
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 3),
        "{}",
        common::stderr(&out)
    );
    let before = common::requests(&emu);

    let feed_file = dir.path().join("feeds").join("cb.json");
    std::fs::create_dir_all(feed_file.parent().unwrap()).unwrap();
    let out = common::run(export(
        &emu.api_url(),
        &db,
        &["--format", "cb", "-o", feed_file.to_str().unwrap()],
    ))
    .await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stdout(&out).is_empty());
    let cb: Value = serde_json::from_slice(&std::fs::read(&feed_file).unwrap()).unwrap();
    let reports = cb["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1, "the malicious binary only: {cb}");
    assert_eq!(reports[0]["id"], format!("vtc-{EICAR_SHA256}"));
    assert!(reports[0]["score"].as_u64().unwrap() > 50, "{cb}");
    let leftovers: Vec<_> = std::fs::read_dir(feed_file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");

    let stix = |args: &[&str]| {
        let mut all = vec!["--format", "stix"];
        all.extend_from_slice(args);
        export(&emu.api_url(), &db, &all)
    };
    let patterns = |out: &std::process::Output| -> Vec<String> {
        let bundle: Value = serde_json::from_slice(&out.stdout).unwrap();
        bundle["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["pattern"].as_str().map(str::to_owned))
            .collect()
    };
    let all_bad = common::run(stix(&[])).await;
    assert!(all_bad.status.success(), "{}", common::stderr(&all_bad));
    let found = patterns(&all_bad);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.contains(&format!("[domain-name:value = '{bad}']")));
    let with_suspect = patterns(&common::run(stix(&["--min-verdict", "suspect"])).await);
    assert_eq!(with_suspect.len(), 3, "{with_suspect:?}");
    assert!(!with_suspect.iter().any(|p| p.contains(&clean)));
    let files = patterns(&common::run(stix(&["--type", "file"])).await);
    assert_eq!(files.len(), 1, "{files:?}");
    let none = patterns(&common::run(stix(&["--since", "2999-01-01"])).await);
    assert!(none.is_empty());
    let recent = patterns(&common::run(stix(&["--since", "1H", "--source", "enrich"])).await);
    assert_eq!(recent.len(), 2);

    let misp = common::run(export(&emu.api_url(), &db, &["--format", "misp"])).await;
    let event: Value = serde_json::from_slice(&misp.stdout).unwrap();
    let mut objects: Vec<&str> = event["Event"]["Object"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    objects.sort_unstable();
    assert_eq!(
        objects,
        ["domain-ip", "file"],
        "in the order the lookups cached them"
    );

    assert_eq!(common::requests(&emu), before, "an export calls no API");

    // Another API's cache is another feed.
    let elsewhere = common::run(export("http://127.0.0.1:9", &db, &["--format", "cb"])).await;
    let cb: Value = serde_json::from_slice(&elsewhere.stdout).unwrap();
    assert_eq!(cb["reports"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn bad_options_are_one_clear_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::db_in(&dir);
    for (args, expected) in [
        (vec!["--format", "csv"], "cb, stix or misp"),
        (vec!["--format", "cb", "--since", "yesterday"], "7D"),
        (
            vec!["--format", "cb", "--type", "email"],
            "file, url, domain or ip",
        ),
        (
            vec!["--format", "cb", "--min-verdict", "good"],
            "bad or suspect",
        ),
    ] {
        let out = common::run(export("http://127.0.0.1:9", &db, &args)).await;
        let stderr = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let mut before = std::process::Command::new(env!("CARGO_BIN_EXE_vtc"));
    before.args(["--db", "x.sqlite", "feed", "export", "--format", "cb"]);
    let out = common::run(before).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("after `vtc feed export`"));
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[feeds]\nname = \"vt feed\"\n").unwrap();
    let out = common::run(export(
        "http://127.0.0.1:9",
        &db,
        &["--format", "cb", "--config", config.to_str().unwrap()],
    ))
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = common::stderr(&out);
    assert!(
        stderr.contains("[feeds]") && stderr.contains("letters and digits"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

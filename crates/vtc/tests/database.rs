//! The database as a user sees it through `vtc`: answers kept per API
//! origin, keys never stored (not even a part), `vtc db stats` and
//! `vtc db prune` after the TTLs run out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::path::Path;
use vt_emulator::EmulatorConfig;

const KEY: &str = "5eC7e1Ab0c2d4e6f8a9b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f";

/// `vtc lookup INDICATOR --format json` against `api_url`; the records and
/// the process' output.
async fn lookup(api_url: &str, db: &Path, indicator: &str) -> std::process::Output {
    let mut cmd = vtc(api_url, db);
    cmd.args(["--api-key", KEY, "--quota-minute", "0", "--quota-day", "0"])
        .args(["--format", "json", "lookup", indicator]);
    run(cmd).await
}

fn records(out: &std::process::Output) -> Vec<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON records ({e}): {}", stdout(out)))
        .as_array()
        .expect("an array")
        .clone()
}

/// An address on loopback where nothing listens.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_cached_from_one_api_is_never_served_for_another() {
    let first = emulator(EmulatorConfig::default()).await;
    let second = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);

    let out = lookup(&first.base_url(), &db, EICAR_SHA256).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(records(&out)[0]["cached"], false);
    // The cache works: the same API again answers from it.
    let before = requests(&first);
    let out = lookup(&first.base_url(), &db, EICAR_SHA256).await;
    assert_eq!(records(&out)[0]["cached"], true, "{}", stdout(&out));
    assert_eq!(requests(&first), before, "no request for a cached answer");

    // Another API with the same database is asked, not the cache.
    assert_eq!(requests(&second), 0);
    let out = lookup(&second.base_url(), &db, EICAR_SHA256).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let record = &records(&out)[0];
    assert_eq!(record["cached"], false, "{record}");
    assert_eq!(record["verdict"], "bad");
    assert!(
        second.emulator().stats()["by_route"]["GET /files/{id}"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "the second emulator answered: {}",
        second.emulator().stats()
    );

    // An API that cannot be reached fails; the cache does not answer for it.
    let out = lookup(&closed_port_url(), &db, EICAR_SHA256).await;
    assert!(
        !out.status.success(),
        "an unreachable API is a failure: {}",
        stdout(&out)
    );
    assert!(
        !stdout(&out).contains("\"cached\": true") && !stdout(&out).contains("\"cached\":true"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("127.0.0.1"),
        "says where: {}",
        stderr(&out)
    );
}

/// Every value of every column of every table, as text (blobs also
/// unpacked as the store packs them).
fn every_value(db: &Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(db).expect("sqlite");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let names: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, name) in names.iter().enumerate() {
                let column = format!("{table}.{name}");
                match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) => {
                        out.push((column, String::from_utf8_lossy(t).into_owned()))
                    }
                    rusqlite::types::ValueRef::Blob(b) => {
                        out.push((column.clone(), String::from_utf8_lossy(b).into_owned()));
                        if let Ok(text) = store::compact::unpack(b, "value") {
                            out.push((column, text));
                        }
                    }
                    other => out.push((column, format!("{other:?}"))),
                }
            }
        }
    }
    out
}

fn assert_no_part_of_the_key(db: &Path) -> Vec<(String, String)> {
    let values = every_value(db);
    assert!(
        values.iter().any(|(c, _)| c == "api_calls.key_label"),
        "the ledger was written: {values:?}"
    );
    for (column, value) in &values {
        for start in 0..=KEY.len() - 8 {
            let part = &KEY[start..start + 8];
            assert!(
                !value.to_lowercase().contains(&part.to_lowercase()),
                "{column} holds {part:?} of the key: {value:?}"
            );
        }
    }
    values
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_holds_no_part_of_the_key() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    let out = lookup(&emu.base_url(), &db, "example.com").await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let input = dir.path().join("input.txt");
    std::fs::write(&input, format!("{EICAR_SHA256}\n8.8.8.8\nexample.net\n")).unwrap();
    let mut cmd = vtc(&emu.base_url(), &db);
    cmd.args(["--api-key", KEY, "--quota-minute", "0", "--quota-day", "0"])
        .args(["enrich", input.to_str().unwrap(), "-o"])
        .arg(dir.path().join("out.jsonl"));
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let values = assert_no_part_of_the_key(&db);
    let label = values
        .iter()
        .find(|(c, _)| c == "api_calls.key_label")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(label.starts_with("key-") && label.len() == 16, "{label}");

    // A key named in the config goes by its name.
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[[keys]]\nkey = \"{KEY}\"\nname = \"team-a\"\nminute = 0\nday = 0\n"),
    )
    .unwrap();
    let mut cmd = vtc(&emu.base_url(), &db);
    cmd.arg("--config")
        .arg(&config)
        .args(["--format", "json", "lookup", "example.org"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let values = assert_no_part_of_the_key(&db);
    assert!(
        values
            .iter()
            .any(|(c, v)| c == "api_calls.key_label" && v == "team-a"),
        "{values:?}"
    );
}

/// `vtc db stats --format json`.
async fn db_stats(db: &Path) -> serde_json::Value {
    let mut cmd = vtc("http://127.0.0.1:9", db);
    cmd.args(["--format", "json", "db", "stats"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("stats JSON")
}

fn rows(stats: &serde_json::Value, table: &str) -> u64 {
    stats["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == table)
        .unwrap_or_else(|| panic!("{table} in {stats}"))["rows"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn db_prune_after_the_ttls_run_out_shrinks_the_database() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    // Reports expire as soon as they are written.
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[cache]\nfile_hours = 0\nurl_hours = 0\ndomain_hours = 0\nip_hours = 0\nnot_found_hours = 0\n",
    )
    .unwrap();
    let input = dir.path().join("hashes.txt");
    let hashes: String = (0..300u32)
        .map(|i| format!("{:064x}\n", u64::from(i) * 7_919 + 1))
        .collect();
    std::fs::write(&input, hashes).unwrap();
    let mut cmd = vtc(&emu.base_url(), &db);
    cmd.arg("--config")
        .arg(&config)
        .args(["--api-key", KEY, "--quota-minute", "0", "--quota-day", "0"])
        .args(["enrich", input.to_str().unwrap(), "-o"])
        .arg(dir.path().join("out.jsonl"));
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));

    let before = db_stats(&db).await;
    let cached = rows(&before, "reports") + rows(&before, "not_found");
    assert_eq!(
        cached, 300,
        "every answer is cached (some as NotFound): {before}"
    );
    assert!(rows(&before, "report_keys") >= 300, "{before}");
    let file_before = std::fs::metadata(&db).unwrap().len() + wal_size(&db);

    let mut cmd = vtc("http://127.0.0.1:9", &db);
    cmd.args(["--format", "json", "db", "prune"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("prune JSON");
    let pruned = &report["pruned"];
    let gone = pruned["reports"].as_u64().unwrap() + pruned["not_found"].as_u64().unwrap();
    assert_eq!(gone, 300, "{report}");

    let after = db_stats(&db).await;
    assert_eq!(rows(&after, "reports"), 0, "{after}");
    assert_eq!(rows(&after, "report_keys"), 0, "{after}");
    assert_eq!(rows(&after, "not_found"), 0, "{after}");
    assert!(
        after["size_bytes"].as_u64() < before["size_bytes"].as_u64(),
        "{before} then {after}"
    );
    let file_after = std::fs::metadata(&db).unwrap().len() + wal_size(&db);
    assert!(
        file_after * 2 < file_before,
        "the file shrinks: {file_before} bytes, then {file_after}"
    );

    // The table on a terminal-less run: one line per table.
    let mut cmd = vtc("http://127.0.0.1:9", &db);
    cmd.args(["--format", "table", "db", "stats"]);
    let out = run(cmd).await;
    let text = stdout(&out);
    assert!(text.contains("TABLE") && text.contains("reports"), "{text}");
}

fn wal_size(db: &Path) -> u64 {
    std::fs::metadata(db.with_extension("sqlite-wal")).map_or(0, |m| m.len())
}

//! The API key never leaves as text: `vtc lookup`, `enrich` (with its HTML
//! report), `action`, `scan`, `download`, `quota` and a wrong-key error,
//! each with `-vv` (and once with `VTC_LOG=trace`), under injected faults
//! so error paths run too. No 8-character piece of the key may appear in
//! stdout, stderr, the output, the report, a downloaded file, the database
//! (every file of it, raw and inflated, and every value of every table) or
//! the emulator's stats.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use vt_emulator::EmulatorConfig;

const KEY: &str = "RecognisableSecretKey-0123456789-QwErTyUiOpAsDf";

fn pieces() -> Vec<&'static [u8]> {
    KEY.as_bytes().windows(8).collect()
}

/// Panics naming `what` if any 8-byte piece of the key is in `bytes`.
fn assert_clean(what: &str, bytes: &[u8]) {
    for piece in pieces() {
        if bytes.windows(piece.len()).any(|w| w == piece) {
            panic!(
                "{what} holds {:?} of the key:\n{}",
                String::from_utf8_lossy(piece),
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

/// A stored value and, when it is deflated (the store's compact form: a
/// tag byte, then raw deflate or zlib), what it inflates to.
fn inflated(blob: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for start in 0..blob.len().min(2) {
        let mut raw = Vec::new();
        if flate2::read::DeflateDecoder::new(&blob[start..])
            .read_to_end(&mut raw)
            .is_ok()
        {
            out.push(raw);
        }
        let mut z = Vec::new();
        if flate2::read::ZlibDecoder::new(&blob[start..])
            .read_to_end(&mut z)
            .is_ok()
        {
            out.push(z);
        }
    }
    out
}

fn assert_database_clean(db: &Path) {
    let conn = rusqlite::Connection::open(db).expect("database");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!tables.is_empty());
    let mut values = 0;
    for table in &tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for c in 0..columns {
                let bytes = match row.get_ref(c).unwrap() {
                    rusqlite::types::ValueRef::Text(t) => t.to_vec(),
                    rusqlite::types::ValueRef::Blob(b) => b.to_vec(),
                    _ => continue,
                };
                values += 1;
                let what = format!("table {table} column {c}");
                assert_clean(&what, &bytes);
                for inner in inflated(&bytes) {
                    assert_clean(&format!("{what} (inflated)"), &inner);
                }
            }
        }
    }
    assert!(values > 0, "the database holds values");
    drop(conn);
    // Every file of the database, raw: main file, WAL, shared memory.
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", db.display());
        if let Ok(bytes) = std::fs::read(&path) {
            assert_clean(&path, &bytes);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_piece_of_the_key_appears_anywhere_at_any_verbosity() {
    let emu = emulator(EmulatorConfig {
        fault_rate: 0.2,
        fault_seed: 5,
        ..EmulatorConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    let input = dir.path().join("in.txt");
    std::fs::write(
        &input,
        format!("{EICAR_SHA256}\nexample.com\n8.8.8.8\nhttp://x.test/\nnot an indicator\n"),
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let report = dir.path().join("report.html");
    let samples = dir.path().join("samples");
    std::fs::create_dir(&samples).unwrap();

    let mut runs: Vec<(Vec<String>, Option<&str>, Option<&str>)> = vec![
        (
            vec!["lookup".into(), EICAR_SHA256.into(), "example.com".into()],
            None,
            None,
        ),
        (
            vec![
                "enrich".into(),
                input.display().to_string(),
                "-o".into(),
                out.display().to_string(),
                "--report".into(),
                report.display().to_string(),
                "--full".into(),
            ],
            None,
            None,
        ),
        (
            vec!["action".into(), "file_report".into()],
            Some(r#"{"hash": "44d88612fea8a8f36de82e1278abb02f"}"#),
            None,
        ),
        (
            vec![
                "scan".into(),
                "url".into(),
                "http://x.test/a".into(),
                "--wait".into(),
            ],
            None,
            None,
        ),
        (
            vec![
                "download".into(),
                EICAR_SHA256.into(),
                "-o".into(),
                samples.display().to_string(),
            ],
            None,
            None,
        ),
        (vec!["quota".into()], None, None),
        (
            vec!["lookup".into(), "example.org".into()],
            None,
            Some("trace"),
        ),
    ];
    // The key once by flag, once from the environment, once from a config file.
    let config = dir.path().join("config.toml");
    std::fs::write(&config, format!("api_key = \"{KEY}\"\n")).unwrap();
    for (i, (args, stdin, log)) in runs.drain(..).enumerate() {
        let mut cmd = vtc(&emu.base_url(), &db);
        match i % 3 {
            0 => {
                cmd.args(["--api-key", KEY]);
            }
            1 => {
                cmd.env("VT_API_KEY", KEY);
            }
            _ => {
                cmd.arg("--config").arg(&config);
            }
        }
        cmd.args(["-vv", "--quota-minute", "0", "--quota-day", "0"])
            .args(&args);
        if let Some(level) = log {
            cmd.env("VTC_LOG", level);
        }
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let output = tokio::task::spawn_blocking(move || {
            let mut child = cmd
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("vtc");
            if let Some(text) = stdin {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
            }
            child.wait_with_output().expect("vtc ends")
        })
        .await
        .unwrap();
        assert!(
            !output.stderr.is_empty(),
            "{args:?}: -vv says something on stderr"
        );
        assert_clean(&format!("stdout of {args:?}"), &output.stdout);
        assert_clean(&format!("stderr of {args:?}"), &output.stderr);
    }

    // A key the server does not accept: the refusal names no piece of it.
    let strict = emulator(EmulatorConfig {
        public_keys: vec!["another-key".into()],
        ..EmulatorConfig::default()
    })
    .await;
    let mut cmd = vtc(&strict.base_url(), &db);
    cmd.args(["-vv", "--api-key", KEY, "lookup", "example.com"]);
    let refused = run(cmd).await;
    assert!(!refused.status.success());
    assert_clean("stderr of a wrong key", &refused.stderr);
    assert_clean("stdout of a wrong key", &refused.stdout);

    for file in [&out, &report] {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(!bytes.is_empty());
        assert_clean(&file.display().to_string(), &bytes);
    }
    for entry in std::fs::read_dir(&samples).unwrap() {
        let path = entry.unwrap().path();
        assert_clean(&path.display().to_string(), &std::fs::read(&path).unwrap());
    }
    assert_database_clean(&db);
    for running in [&emu, &strict] {
        let stats = running.emulator().stats().to_string();
        assert!(stats.contains("requests_total"));
        assert_clean("the emulator's stats", stats.as_bytes());
    }
    assert!(requests(&emu) > 10, "the commands reached the emulator");
}

#[test]
fn a_config_file_with_a_key_readable_by_others_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    let config = dir.path().join("config.toml");
    std::fs::write(&config, format!("api_key = \"{KEY}\"\n")).unwrap();
    let hash = |mode: u32| {
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).unwrap();
        // Any command that reads the config; `db stats` needs no server.
        let mut cmd = vtc("http://127.0.0.1:9", &db);
        cmd.arg("--config").arg(&config).args(["db", "stats"]);
        let out = cmd.output().expect("vtc");
        assert_clean("stderr", &out.stderr);
        stderr(&out)
    };
    let open = hash(0o644);
    assert!(
        open.contains("readable by group or others") && open.contains("chmod 600"),
        "{open}"
    );
    let private = hash(0o600);
    assert!(!private.contains("readable by group"), "{private}");
    // Without a key there is nothing to protect.
    std::fs::write(&config, "format = \"json\"\n").unwrap();
    let keyless = hash(0o644);
    assert!(!keyless.contains("readable by group"), "{keyless}");
}

#[test]
#[should_panic(expected = "of the key")]
fn the_check_catches_a_middle_piece_of_the_key() {
    assert_clean(
        "a message",
        format!("user {} voted", &KEY[10..18]).as_bytes(),
    );
}

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

/// The first `len`-byte window of `bytes` that is a `len`-byte piece of
/// one of `secrets` (one pass over `bytes`, whatever the number of pieces).
fn find_piece<'a>(bytes: &'a [u8], secrets: &[&[u8]], len: usize) -> Option<&'a [u8]> {
    let pieces: std::collections::HashSet<&[u8]> =
        secrets.iter().flat_map(|s| s.windows(len)).collect();
    bytes.windows(len).find(|w| pieces.contains(w))
}

/// Panics naming `what` if any 8-byte piece of the key is in `bytes`.
fn assert_clean(what: &str, bytes: &[u8]) {
    if let Some(piece) = find_piece(bytes, &[KEY.as_bytes()], 8) {
        panic!(
            "{what} holds {:?} of the key:\n{}",
            String::from_utf8_lossy(piece),
            String::from_utf8_lossy(bytes)
        );
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

/// Panics naming `what` if any 16-character piece of one of the service
/// tokens is in `bytes` (16, not 8: a token is hex, and 8 hex digits turn
/// up by chance among the database's hashes).
fn assert_no_token(what: &str, bytes: &[u8], tokens: &[String]) {
    let secrets: Vec<&[u8]> = tokens.iter().map(|t| t.as_bytes()).collect();
    if let Some(piece) = find_piece(bytes, &secrets, 16) {
        panic!(
            "{what} holds {:?} of a token:\n{}",
            String::from_utf8_lossy(piece),
            String::from_utf8_lossy(bytes)
        );
    }
}

/// Neither the key nor a token.
fn assert_secret_free(what: &str, bytes: &[u8], tokens: &[String]) {
    assert_clean(what, bytes);
    assert_no_token(what, bytes, tokens);
}

fn assert_database_clean(db: &Path) {
    assert_database_free_of(db, &[]);
}

/// No piece of the key or of `tokens` in any value of any table (raw and
/// inflated) or in any file of the database.
fn assert_database_free_of(db: &Path, tokens: &[String]) {
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
                assert_secret_free(&what, &bytes, tokens);
                for inner in inflated(&bytes) {
                    assert_secret_free(&format!("{what} (inflated)"), &inner, tokens);
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
            assert_secret_free(&path, &bytes, tokens);
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

/// Runs `cmd` with `stdin` (if any) written to it; the whole output.
async fn run_with_stdin(
    mut cmd: std::process::Command,
    stdin: Option<String>,
) -> std::process::Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("vtc");
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
    .unwrap()
}

/// A Cortex job's input: the key in the analyzer's config, as Cortex
/// writes it.
fn cortex_input(api: &str, service: &str, data_type: &str, data: &str, tlp: u8) -> String {
    serde_json::json!({
        "dataType": data_type, "data": data, "tlp": tlp, "pap": 2,
        "message": "", "parameters": {},
        "config": {
            "service": service, "key": KEY, "api_url": api,
            "polling_interval": 0.05, "polling_timeout": 30,
            "check_tlp": true, "max_tlp": 2, "check_pap": true, "max_pap": 2,
            "auto_extract_artifacts": true, "jobTimeout": 60,
        },
    })
    .to_string()
}

/// `cortex`, `collect`, `decide`, `feed export` and `serve` at `-vv` (and
/// `serve` at `VTC_LOG=trace`), under injected faults: no piece of the key
/// in stdout, stderr, Cortex's output.json (success and failure), the
/// feeds, the service's answers (records, job results, `/metrics`,
/// `/v1/quota`, a refusal) or the database; no piece of a service token
/// anywhere either, and the database holds only the tokens' sha256.
#[tokio::test(flavor = "multi_thread")]
async fn no_piece_of_the_key_or_a_token_leaves_cortex_collect_decide_feeds_or_serve() {
    let emu = emulator(EmulatorConfig {
        fault_rate: 0.2,
        fault_seed: 9,
        ..EmulatorConfig::default()
    })
    .await;
    let api = emu.base_url();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("api_key = \"{KEY}\"\n[feeds]\nsecret = \"feed-secret-0123456789abcdef\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let policy =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policies/privilege-manager.toml");
    let base_cmd = |i: usize| {
        let mut cmd = vtc(&api, &db);
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
        cmd.args(["-vv", "--quota-minute", "0", "--quota-day", "0"]);
        cmd
    };

    // Tokens first: printed once, kept hashed.
    let mut tokens = Vec::new();
    for (name, role) in [
        ("soar", "analyst"),
        ("tip", "reader"),
        ("ep", "agent"),
        ("ops", "admin"),
    ] {
        let mut cmd = vtc(&api, &db);
        cmd.args(["token", "create", "--name", name, "--role", role]);
        let out = run(cmd).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert_clean("token create's stderr", &out.stderr);
        tokens.push(stdout(&out).trim().to_owned());
    }

    // Cortex: a job directory (success, and a refusal that echoes the
    // input), and the older stdin/stdout form.
    for (i, (service, data_type, data, tlp)) in [
        ("get", "hash", EICAR_SHA256, 2),
        ("scan", "url", "http://secrets.example/x", 2),
        ("get", "domain", "example.com", 3),
    ]
    .into_iter()
    .enumerate()
    {
        let job = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(job.path().join("input")).unwrap();
        std::fs::write(
            job.path().join("input/input.json"),
            cortex_input(&api, service, data_type, data, tlp),
        )
        .unwrap();
        let mut cmd = base_cmd(i);
        cmd.arg("cortex").arg(job.path());
        let out = run_with_stdin(cmd, None).await;
        let what = format!("cortex {service} {data_type}");
        assert_secret_free(&format!("stdout of {what}"), &out.stdout, &tokens);
        assert_secret_free(&format!("stderr of {what}"), &out.stderr, &tokens);
        let report = std::fs::read(job.path().join("output/output.json")).expect("output.json");
        assert_secret_free(&format!("output.json of {what}"), &report, &tokens);
        for entry in walk(&job.path().join("output")) {
            assert_clean(
                &entry.display().to_string(),
                &std::fs::read(&entry).unwrap(),
            );
        }
    }
    let mut cmd = base_cmd(1);
    cmd.arg("cortex");
    let out = run_with_stdin(cmd, Some(cortex_input(&api, "get", "ip", "8.8.8.8", 2))).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a report");
    assert!(report["success"].is_boolean(), "{report}");
    assert_clean("stdout of cortex (stdin form)", &out.stdout);
    assert_clean("stderr of cortex (stdin form)", &out.stderr);

    // collect over a hash list and a folder; decide; every feed.
    let list = dir.path().join("hashes.txt");
    std::fs::write(&list, format!("{EICAR_SHA256}\n{:064x}\n", 0x5ec2e7)).unwrap();
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("eicar.com"), vt_emulator::EICAR).unwrap();
    let feed_dir = dir.path().join("feeds");
    std::fs::create_dir(&feed_dir).unwrap();
    let mut runs: Vec<Vec<String>> = vec![
        vec![
            "collect".into(),
            "--once".into(),
            "--hashes".into(),
            list.display().to_string(),
        ],
        vec![
            "collect".into(),
            "--once".into(),
            "--path".into(),
            folder.display().to_string(),
        ],
        vec!["collect".into(), "status".into()],
        vec![
            "decide".into(),
            "--policy".into(),
            policy.display().to_string(),
            "--sha256".into(),
            EICAR_SHA256.into(),
            "--path".into(),
            r"C:\Users\bob\Downloads\eicar.com".into(),
        ],
        vec!["decisions".into()],
    ];
    for format in ["cb", "stix", "misp"] {
        runs.push(vec![
            "feed".into(),
            "export".into(),
            "--format".into(),
            format.into(),
            "-o".into(),
            feed_dir
                .join(format!("{format}.json"))
                .display()
                .to_string(),
        ]);
    }
    for (i, args) in runs.into_iter().enumerate() {
        let mut cmd = base_cmd(i);
        cmd.args(&args);
        let out = run_with_stdin(cmd, None).await;
        assert_secret_free(&format!("stdout of {args:?}"), &out.stdout, &tokens);
        assert_secret_free(&format!("stderr of {args:?}"), &out.stderr, &tokens);
    }
    for entry in walk(&feed_dir) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!bytes.is_empty(), "{}", entry.display());
        assert_secret_free(&entry.display().to_string(), &bytes, &tokens);
    }

    // serve at -vv and trace: every answer, then its stderr.
    let log = dir.path().join("serve.log");
    let mut cmd = vtc(&api, &db);
    cmd.arg("--config")
        .arg(&config)
        .args(["-vv", "--quota-minute", "0", "--quota-day", "0"])
        .args(["serve", "--listen", "127.0.0.1:0", "--policy"])
        .arg(&policy)
        .env("VTC_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().expect("serve");
    let first = {
        let stdout = child.stdout.take().unwrap();
        tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .unwrap();
            line
        })
        .await
        .unwrap()
    };
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .expect("listening")
        .to_owned();
    let http = reqwest::Client::new();
    let (analyst, reader, agent, admin) = (&tokens[0], &tokens[1], &tokens[2], &tokens[3]);
    let mut answers: Vec<(String, Vec<u8>)> = Vec::new();
    let get = |path: String, token: Option<String>| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let mut req = http.get(&url);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            (path, status, resp.bytes().await.unwrap().to_vec())
        }
    };
    for (path, token) in [
        (
            format!("/v1/observables/{EICAR_SHA256}?full=true"),
            Some(analyst.clone()),
        ),
        (
            "/v1/observables/example.com".to_owned(),
            Some(analyst.clone()),
        ),
        ("/v1/quota".to_owned(), Some(reader.clone())),
        ("/v1/quota".to_owned(), Some(admin.clone())),
        ("/metrics".to_owned(), None),
        ("/v1/decisions".to_owned(), Some(reader.clone())),
        ("/feeds/cb.json".to_owned(), Some(reader.clone())),
        ("/reports/file-ratings".to_owned(), Some(reader.clone())),
        // A wrong token (the analyst's, one digit changed): the refusal
        // must not echo it.
        (
            "/v1/quota".to_owned(),
            Some(format!("{}0", &analyst[..analyst.len() - 1])),
        ),
    ] {
        let (path, _, body) = get(path, token).await;
        answers.push((path, body));
    }
    let decide = http
        .post(format!("{base}/v1/decide"))
        .bearer_auth(agent)
        .json(&serde_json::json!({"sha256": EICAR_SHA256, "path": r"C:\Users\bob\Downloads\e.com"}))
        .send()
        .await
        .unwrap();
    answers.push((
        "POST /v1/decide".into(),
        decide.bytes().await.unwrap().to_vec(),
    ));
    let job: serde_json::Value = http
        .post(format!("{base}/v1/enrich"))
        .bearer_auth(analyst)
        .json(&serde_json::json!([
            EICAR_SHA256,
            "example.org",
            "8.8.4.4",
            "not an indicator"
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = job["id"].clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, _, body) = get(format!("/v1/jobs/{id}"), Some(analyst.clone())).await;
        let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if !status["finished_at"].is_null() {
            answers.push(("GET /v1/jobs/{id}".into(), body));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job never ended: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (_, _, results) = get(format!("/v1/jobs/{id}/results"), Some(analyst.clone())).await;
    let parsed: serde_json::Value = serde_json::from_slice(&results).unwrap();
    assert_eq!(parsed["data"].as_array().map(Vec::len), Some(4), "{parsed}");
    answers.push(("job results".into(), results));
    let (_, _, metrics) = get("/metrics".into(), None).await;
    answers.push(("/metrics after the job".into(), metrics));
    let _ = child.kill();
    let _ = child.wait();
    for (what, body) in &answers {
        assert!(!body.is_empty(), "{what}");
        assert_secret_free(&format!("the service's answer to {what}"), body, &tokens);
    }
    let log_bytes = std::fs::read(&log).unwrap();
    assert!(
        log_bytes.len() > 1000,
        "trace says a lot: {} bytes",
        log_bytes.len()
    );
    assert_secret_free("serve's stderr at trace", &log_bytes, &tokens);

    // The database: no piece of the key or of a token; each token's
    // sha256 is there, as it is kept.
    assert_database_free_of(&db, &tokens);
    let dump: Vec<u8> = std::fs::read(&db).unwrap();
    let wal = std::fs::read(format!("{}-wal", db.display())).unwrap_or_default();
    for token in &tokens {
        let digest = {
            use sha2::{Digest, Sha256};
            hex::encode(Sha256::digest(token.as_bytes()))
        };
        let held = |bytes: &[u8]| bytes.windows(digest.len()).any(|w| w == digest.as_bytes());
        assert!(held(&dump) || held(&wal), "the token is kept as its sha256");
    }
    let stats = emu.emulator().stats().to_string();
    assert_secret_free("the emulator's stats", stats.as_bytes(), &tokens);
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
#[should_panic(expected = "of a token")]
fn the_check_catches_a_middle_piece_of_a_token() {
    let token = format!("vtc_{}", "0123456789abcdef".repeat(4));
    assert_no_token(
        "a log line",
        format!("bearer …{}…", &token[20..36]).as_bytes(),
        &[token],
    );
}

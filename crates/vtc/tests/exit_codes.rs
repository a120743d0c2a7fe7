//! The README's exit-code table, case by case: every documented code has
//! cases here, and every case exits as the table says (issue 17: `hash
//! nosuch.bin`, an unknown relationship and a report path that cannot be
//! written used to exit 1 although the table says 2).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::{emulator, not_virustotal, run, stderr, vtc, EICAR_SHA256};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use vt_emulator::EmulatorConfig;

/// One documented case: what is run and the code the README promises.
struct Case {
    what: &'static str,
    code: i32,
    cmd: Command,
}

/// `vtc` with no API options (for commands that take none).
fn bare_vtc(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vtc"));
    cmd.env_remove("VT_API_KEY")
        .env_remove("VTC_CONFIG")
        .env("XDG_CONFIG_HOME", dir)
        .env("XDG_DATA_HOME", dir)
        .current_dir(dir);
    cmd
}

/// The codes of the README's "Exit codes" table.
fn documented_codes() -> BTreeSet<i32> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let table = readme
        .split("### Exit codes")
        .nth(1)
        .expect("README has an exit-code table");
    table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.trim_start_matches('|').split('|').next())
        .filter_map(|code| code.trim().parse().ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_exit_code_is_what_its_cases_exit_with() {
    let emu = emulator(EmulatorConfig {
        premium_keys: vec!["exit-code-key".into()],
        ..EmulatorConfig::default()
    })
    .await;
    let api = emu.base_url();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vtc.sqlite");
    let sample = dir.path().join("sample.txt");
    std::fs::write(&sample, "hello\n").unwrap();
    let mixed = dir.path().join("mixed.txt");
    std::fs::write(&mixed, "example.com\nnot an indicator at all\n").unwrap();
    let key = ["--api-key", "exit-code-key", "--quota-minute", "0"];
    let api_vtc = |args: &[&str]| {
        let mut cmd = vtc(&api, &db);
        cmd.args(key).args(args).current_dir(dir.path());
        cmd
    };

    let mut cases = vec![
        Case {
            what: "a lookup that works",
            code: 0,
            cmd: api_vtc(&["lookup", "--format", "json", "example.com"]),
        },
        Case {
            what: "hash of a file",
            code: 0,
            cmd: {
                let mut c = bare_vtc(dir.path());
                c.arg("hash").arg(&sample);
                c
            },
        },
        Case {
            what: "an API nobody listens on",
            code: 1,
            cmd: {
                let mut c = vtc("http://127.0.0.1:9", &db);
                c.args(key)
                    .args(["lookup", "--format", "json", "example.org"]);
                c
            },
        },
        Case {
            what: "downloading a file VirusTotal does not know",
            code: 1,
            cmd: api_vtc(&[
                "download",
                "-o",
                "out.bin",
                "0000000000000000000000000000000000000000000000000000000000000001",
            ]),
        },
        Case {
            what: "hash of a missing file",
            code: 2,
            cmd: {
                let mut c = bare_vtc(dir.path());
                c.args(["hash", "nosuch.bin"]);
                c
            },
        },
        Case {
            what: "scan of a missing file",
            code: 2,
            cmd: api_vtc(&["scan", "file", "nosuch.bin"]),
        },
        Case {
            what: "an unknown relationship",
            code: 2,
            cmd: api_vtc(&["relationships", EICAR_SHA256, "no_such_relationship"]),
        },
        Case {
            what: "a zero limit",
            code: 2,
            cmd: api_vtc(&[
                "relationships",
                "--limit",
                "0",
                EICAR_SHA256,
                "contacted_domains",
            ]),
        },
        Case {
            what: "a negative budget",
            code: 2,
            cmd: {
                let mut c = vtc(&api, &db);
                c.args(["lookup", "--quota-minute", "-1", "example.com"]);
                c
            },
        },
        Case {
            what: "a key the API rejects",
            code: 2,
            cmd: {
                let mut c = vtc(&api, &db);
                // Not an indicator the cache holds: the key must be asked.
                c.args(["--api-key", "not-a-known-key", "--quota-minute", "0"])
                    .args(["lookup", "--format", "json", "example.net"]);
                c
            },
        },
        Case {
            what: "an API URL that leads to another server",
            code: 2,
            cmd: {
                let mut c = vtc(&not_virustotal(4), &db);
                c.args(key)
                    .args(["lookup", "--format", "json", "example.org"]);
                c
            },
        },
        Case {
            what: "an unreadable input",
            code: 2,
            cmd: api_vtc(&["enrich", "nosuch-input.txt"]),
        },
        Case {
            what: "an output that cannot be written",
            code: 2,
            cmd: api_vtc(&["enrich", "-o", "/nonexistent/dir/out.jsonl", "-"]),
        },
        Case {
            what: "a report path that cannot be written (before the demo runs)",
            code: 2,
            cmd: {
                let mut c = bare_vtc(dir.path());
                c.args(["demo", "--report", "/nonexistent/x.html"]);
                c
            },
        },
        Case {
            what: "--fail-on bad with a bad verdict",
            code: 3,
            cmd: api_vtc(&[
                "lookup",
                "--format",
                "json",
                "--fail-on",
                "bad",
                EICAR_SHA256,
            ]),
        },
        Case {
            what: "a batch with a line that is not an indicator",
            code: 4,
            cmd: {
                let mut c = api_vtc(&["enrich", "--format", "jsonl"]);
                c.arg(&mixed);
                c
            },
        },
    ];
    if Path::new("/dev/full").exists() {
        cases.push(Case {
            what: "an output on a full disk",
            code: 2,
            cmd: api_vtc(&["enrich", "-o", "/dev/full", "--format", "jsonl"]),
        });
        if let Some(last) = cases.last_mut() {
            last.cmd.arg(&mixed);
        }
    }

    // 130 (interrupted) needs a signal mid-run: tests/interrupt.rs sends it.
    let covered: BTreeSet<i32> = cases.iter().map(|c| c.code).chain([130]).collect();
    assert_eq!(
        covered,
        documented_codes(),
        "each code in the README's table has a case here, and no other"
    );

    let mut wrong = Vec::new();
    for case in cases {
        let Case {
            what,
            code,
            mut cmd,
        } = case;
        cmd.stdin(std::process::Stdio::null());
        let out = run(cmd).await;
        let got = out.status.code();
        if got != Some(code) {
            wrong.push(format!(
                "{what}: exit {got:?}, documented {code}; stderr: {}",
                stderr(&out).trim()
            ));
        } else if code != 0 && code != 3 && code != 4 {
            // An error is one line, never a panic or a backtrace.
            let err = stderr(&out);
            assert!(
                !err.contains("panicked") && !err.contains("stack backtrace"),
                "{what}: {err}"
            );
            // Ours start `vtc: error:`, clap's usage errors `error:`.
            assert!(
                err.contains("vtc: ") || err.starts_with("error: "),
                "{what} says why: {err}"
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_stops_reading_is_not_an_error() {
    let emu = emulator(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = vtc(&emu.base_url(), &dir.path().join("vtc.sqlite"));
    // A pretty --full object is written line by line, so vtc is still
    // inside the JSON document when the reader leaves.
    let addresses = ["10.0.0.1"];
    cmd.args(["--api-key", "k", "--quota-minute", "0"])
        .args(["lookup", "--format", "json", "--full"])
        .args(addresses)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("vtc runs");
        // `vtc lookup ... | head -c 16`.
        let mut first = [0u8; 16];
        let mut stdout = child.stdout.take().expect("piped");
        std::io::Read::read_exact(&mut stdout, &mut first).expect("output starts");
        drop(stdout);
        child.wait_with_output().expect("vtc ends")
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "nothing worth a word");
    emu.shutdown().await;
}

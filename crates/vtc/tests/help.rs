//! What `--help` shows: options grouped, and never an environment value.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .args(args)
        .env("HTTPS_PROXY", "http://bob:hunter2@proxy.invalid:3128")
        .env("VT_API_KEY", "SeCrEtKeY0123456789")
        .env("VTC_DB", "/secret/place.sqlite")
        .output()
        .expect("vtc runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_never_prints_environment_values() {
    for args in [
        &["--help"][..],
        &["lookup", "--help"],
        &["enrich", "--help"],
    ] {
        let text = help(args);
        for secret in ["hunter2", "bob:", "SeCrEtKe", "/secret/place"] {
            assert!(
                !text.contains(secret),
                "{args:?} help shows {secret}:\n{text}"
            );
        }
        assert!(
            text.contains("HTTPS_PROXY"),
            "the variable's name is still shown"
        );
    }
}

#[test]
fn global_options_have_their_own_heading() {
    let text = help(&["lookup", "--help"]);
    assert!(text.contains("Global options:"), "{text}");
}

#[test]
fn a_negative_budget_is_a_usage_error_that_says_why() {
    let out = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .args(["--quota-minute", "-1", "lookup", "example.com"])
        .output()
        .expect("vtc runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("0 or more"), "{err}");
    assert!(!err.contains("unexpected argument"), "{err}");
}

#[test]
fn logs_into_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vtc"))
        .args(["-vv", "--api-key", "k", "--api-url", "http://127.0.0.1:1"])
        .arg("--db")
        .arg(dir.path().join("db.sqlite"))
        .env("XDG_CONFIG_HOME", dir.path())
        .env_remove("VTC_LOG")
        .args(["lookup", "example.com"])
        .output()
        .expect("vtc runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DEBUG") || err.contains("INFO"),
        "-vv logs: {err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "ANSI escape in piped logs: {err:?}"
    );
}

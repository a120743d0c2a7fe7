//! Errors that say what is wrong: another server is not VirusTotal, a
//! dead proxy is the proxy, and neither a key nor a proxy's credentials
//! are ever printed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use std::net::TcpListener;

#[tokio::test(flavor = "multi_thread")]
async fn another_servers_404_says_it_is_not_a_virustotal_api() {
    let server = not_virustotal(8);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = vtc(&server, &db_in(&dir));
    cmd.args(["--api-key", "k", "--quota-minute", "0", "quota"]);
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a wrong --api-url is configuration"
    );
    assert!(
        err.contains(&format!("the server at {server} is not a VirusTotal API")),
        "{err}"
    );
    assert!(err.contains("text/html"), "{err}");
    assert!(!err.contains("virustotal answered"), "{err}");
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_proxy_is_named_as_the_proxy_without_its_credentials() {
    let port = closed_port();
    let dir = tempfile::tempdir().unwrap();
    // The API host is never reached: every connection goes to the proxy,
    // which is a closed port on loopback.
    let mut cmd = vtc("http://vt.invalid", &db_in(&dir));
    cmd.env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env(
            "HTTPS_PROXY",
            format!("http://bob:hunter2@127.0.0.1:{port}"),
        )
        .args(["-vv", "--api-key", "k", "--quota-minute", "0", "quota"]);
    let out = run(cmd).await;
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        err.contains(&format!(
            "cannot connect to the proxy http://127.0.0.1:{port}"
        )),
        "{err}"
    );
    for secret in ["hunter2", "bob:", "bob@"] {
        assert!(!err.contains(secret), "{secret} in: {err}");
    }
    assert!(!stdout(&out).contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ordinary_error_under_vv_lists_its_causes_and_no_backtrace() {
    let server = not_virustotal(8);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = vtc(&server, &db_in(&dir));
    cmd.env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .args(["-vv", "--api-key", "k", "--quota-minute", "0", "quota"]);
    let out = run(cmd).await;
    let err = stderr(&out);
    // Another server at --api-url is a configuration error.
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("vtc: error: "), "{err}");
    assert!(!err.to_lowercase().contains("backtrace"), "{err}");
}

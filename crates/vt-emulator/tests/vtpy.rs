//! The official Python client, vt-py, works against the emulator unmodified.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use ioc::IndicatorKind;
use sha2::Digest;
use std::process::Command;
use vt_emulator::{world_class, Emulator, EmulatorConfig, WorldClass};

fn vtpy_available() -> bool {
    Command::new("python3")
        .args(["-c", "import vt"])
        .output()
        .is_ok_and(|o| o.status.success())
}

// Ignored (and so counted as skipped) where the build found no vt-py;
// under CI=true it always runs, and a missing vt-py fails it.
#[cfg_attr(
    missing_vtpy,
    ignore = "vt-py is not installed (pip install vt-py, then touch crates/vt-emulator/build.rs)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vtpy_client_works_against_the_emulator() {
    assert!(
        vtpy_available(),
        "python3 cannot import vt: install vt-py (pip install vt-py; .ci/run does)"
    );
    let running = Emulator::new(EmulatorConfig {
        fixtures: Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")),
        ..EmulatorConfig::default()
    })
    .expect("emulator starts")
    .spawn("127.0.0.1:0".parse().expect("addr"))
    .await
    .expect("binds");
    let unknown = (0..10_000)
        .map(|i| hex::encode(sha2::Sha256::digest(format!("vtpy unknown {i}").as_bytes())))
        .find(|h| world_class(IndicatorKind::File, h) == WorldClass::Unknown)
        .expect("an unknown hash exists");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vtpy_check.py");
    let base_url = running.base_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([script, &base_url, "vtpy-test-key", &unknown])
            .output()
    })
    .await
    .expect("join")
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "vt-py check failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("vt-py check passed"));
    let stats = running.emulator().stats();
    assert!(
        stats["requests_total"].as_u64().unwrap_or(0) >= 9,
        "{stats}"
    );
    assert_eq!(stats["uploads_total"], 1);
    running.shutdown().await;
}

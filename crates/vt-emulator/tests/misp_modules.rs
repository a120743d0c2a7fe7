//! The MISP `virustotal` and `virustotal_public` expansion modules
//! (misp-modules from PyPI, unmodified; `.ci/run` installs it) return
//! results for every attribute type they take, and the module's not-found
//! message for an unknown hash, with only the API host pointed at the
//! emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::{domain_of_class, file_hash_of_class, url_of_class};
use std::process::Command;
use vt_emulator::{Emulator, EmulatorConfig, WorldClass};

const PREMIUM: &str = "misp-premium-key";
const PUBLIC: &str = "misp-public-key";

fn misp_modules_available() -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import vt; from misp_modules.modules.expansion import virustotal, virustotal_public",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

// Ignored (and so counted as skipped) where the build found no
// misp-modules; under CI=true it always runs, and a missing package fails it.
#[cfg_attr(
    missing_misp_modules,
    ignore = "misp-modules is not installed (python3 -m pip install misp-modules, then touch crates/vt-emulator/build.rs)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misp_virustotal_modules_work_against_the_emulator() {
    assert!(
        misp_modules_available(),
        "python3 cannot import misp_modules' virustotal modules: python3 -m pip install misp-modules (.ci/run does)"
    );
    let running = Emulator::new(EmulatorConfig {
        premium_keys: vec![PREMIUM.into()],
        public_keys: vec![PUBLIC.into()],
        ..EmulatorConfig::default()
    })
    .expect("emulator starts")
    .spawn("127.0.0.1:0".parse().expect("addr"))
    .await
    .expect("binds");
    let (url, _) = url_of_class(WorldClass::Malicious);
    let domain = domain_of_class(WorldClass::Malicious);
    let cases = serde_json::json!({
        "md5": file_hash_of_class(WorldClass::Malicious, 32),
        "sha1": file_hash_of_class(WorldClass::Suspicious, 40),
        "sha256": file_hash_of_class(WorldClass::Malicious, 64),
        "domain": domain,
        "hostname": "www.example.com",
        "ip-src": "185.220.101.4",
        "ip-dst|port": "8.8.8.8|53",
        "url": url,
        "unknown_sha256": file_hash_of_class(WorldClass::Unknown, 64),
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/misp_check.py");
    let base_url = running.base_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([script, &base_url, PREMIUM, PUBLIC, &cases.to_string()])
            .output()
    })
    .await
    .expect("join")
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "misp-modules check failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    println!("{stdout}");
    assert!(stdout.contains("misp-modules check passed"), "{stdout}");
    let stats = running.emulator().stats();
    assert!(
        stats["requests_total"].as_u64().unwrap_or(0) >= 30,
        "{stats}"
    );
    running.shutdown().await;
}

//! Probes for PostgreSQL (the scale-out tests), cortexutils (the Cortex job
//! test's harness) and headless Chromium, which the HTML report's browser test
//! drives, so that test is reported as *ignored* (with the reason) where
//! Chromium is missing instead of passing silently. Under `CI=true` nothing
//! is ignored: the test runs and fails, since CI must install what its
//! tests need (`.ci/run` installs Debian's `chromium`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(missing_chromium)");
    println!("cargo::rustc-check-cfg=cfg(missing_cortexutils)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=CHROMIUM");
    // Probe again once it is installed.
    println!("cargo::rerun-if-changed=/usr/bin");
    if chromium().is_none() && std::env::var("CI").as_deref() != Ok("true") {
        println!("cargo::rustc-cfg=missing_chromium");
    }
    // The scale-out tests need the PostgreSQL that `.ci/run` starts.
    println!("cargo::rustc-check-cfg=cfg(missing_postgres)");
    println!("cargo::rerun-if-env-changed=VTC_TEST_POSTGRES");
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], 5432).into();
    let postgres = std::env::var_os("VTC_TEST_POSTGRES").is_some()
        || std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1)).is_ok();
    if !postgres && std::env::var("CI").as_deref() != Ok("true") {
        println!("cargo::rustc-cfg=missing_postgres");
    }
    // cortexutils (PyPI), whose Analyzer reads the Cortex job outputs back.
    let cortexutils = std::process::Command::new("python3")
        .args(["-c", "import cortexutils.analyzer"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !cortexutils && std::env::var("CI").as_deref() != Ok("true") {
        println!("cargo::rustc-cfg=missing_cortexutils");
    }
}

/// `$CHROMIUM`, else `chromium` (Debian) or `chromium-browser` on the PATH.
fn chromium() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
}

//! Probes for the prerequisites of this crate's compatibility tests, so a
//! test whose prerequisite is missing is reported as *ignored* (with the
//! reason) in the test summary instead of passing silently. Under
//! `CI=true` nothing is ignored: the test runs and fails, since CI must
//! install what its tests need.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(missing_vtpy)");
    println!("cargo::rustc-check-cfg=cfg(missing_misp_modules)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    let importable = |module: &str| {
        Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if !importable("misp_modules.modules.expansion.virustotal") {
        if let Some(dir) = site_packages() {
            println!("cargo::rerun-if-changed={dir}");
        }
        if !ci {
            println!("cargo::rustc-cfg=missing_misp_modules");
        }
    }
    let vtpy = importable("vt");
    if !vtpy {
        // Probe again once a package is installed where pip puts them.
        if let Some(dir) = site_packages() {
            println!("cargo::rerun-if-changed={dir}");
        }
        if std::env::var("CI").as_deref() != Ok("true") {
            println!("cargo::rustc-cfg=missing_vtpy");
        }
    }
}

fn site_packages() -> Option<String> {
    let out = Command::new("python3")
        .args(["-c", "import site; print(site.getsitepackages()[0])"])
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    let dir = dir.trim();
    (!dir.is_empty() && std::path::Path::new(dir).is_dir()).then(|| dir.to_owned())
}

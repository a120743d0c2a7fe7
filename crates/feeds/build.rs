//! Probes for the platforms' own code that the feed tests validate with
//! (cbfeeds, stix2-validator, pymisp), so a test whose validator is
//! missing is reported as *ignored* with the reason instead of passing
//! silently. Under `CI=true` nothing is ignored: the test runs and fails,
//! since CI must install what its tests need (`.ci/run` does).

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let mut any_missing = false;
    for (cfg, module) in [
        ("missing_cbfeeds", "cbfeeds"),
        ("missing_stix2_validator", "stix2validator"),
        ("missing_pymisp", "pymisp"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        // cbfeeds' package cannot be imported under Python 3 (its code is
        // Python 2): find it without running it.
        let probe = format!(
            "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('{module}') else 1)"
        );
        let found = Command::new("python3")
            .args(["-c", &probe])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            any_missing = true;
            if !ci {
                println!("cargo::rustc-cfg={cfg}");
            }
        }
    }
    if any_missing {
        // Probe again once a package is installed where pip puts them.
        if let Some(dir) = site_packages() {
            println!("cargo::rerun-if-changed={dir}");
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

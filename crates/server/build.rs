//! Probes for the Python packages the compatibility tests run (the OpenAPI
//! validator, Prometheus' exposition parser), so a test whose prerequisite
//! is missing is reported as *ignored* with the reason. Under `CI=true`
//! nothing is ignored: the test runs and fails, since CI must install what
//! its tests need (`.ci/run` does).

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(missing_openapi_spec_validator)");
    println!("cargo::rustc-check-cfg=cfg(missing_prometheus_client)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    let ci = std::env::var("CI").as_deref() == Ok("true");
    for (module, cfg) in [
        ("openapi_spec_validator", "missing_openapi_spec_validator"),
        ("prometheus_client.parser", "missing_prometheus_client"),
    ] {
        let importable = Command::new("python3")
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !importable {
            if let Some(dir) = site_packages() {
                // Probe again once a package is installed where pip puts them.
                println!("cargo::rerun-if-changed={dir}");
            }
            if !ci {
                println!("cargo::rustc-cfg={cfg}");
            }
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

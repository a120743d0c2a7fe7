//! Probes for the PostgreSQL server the `suite_postgres` tests use, so
//! that without one they are reported as *ignored* (with the reason)
//! instead of passing silently. Under `CI=true` nothing is ignored: the
//! tests run and fail, since CI must start what its tests need (`.ci/run`
//! starts PostgreSQL).

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(missing_postgres)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=VTC_TEST_POSTGRES");
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let addr: SocketAddr = ([127, 0, 0, 1], 5432).into();
    let reachable = std::env::var_os("VTC_TEST_POSTGRES").is_some()
        || TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok();
    if !reachable && !ci {
        println!("cargo::rustc-cfg=missing_postgres");
    }
}

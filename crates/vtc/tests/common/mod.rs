//! Helpers shared by the binary's end-to-end tests: an emulator on
//! loopback and a way to run `vtc` against it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vt_emulator::{Emulator, EmulatorConfig, RunningEmulator};

pub const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

pub async fn emulator(config: EmulatorConfig) -> RunningEmulator {
    Emulator::new(config)
        .expect("emulator config")
        .spawn(([127, 0, 0, 1], 0).into())
        .await
        .expect("emulator starts on loopback")
}

/// A `vtc` command pointed at the emulator, with its own database and no
/// config file or API key from the environment.
pub fn vtc(api_url: &str, db: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vtc"));
    cmd.env_remove("VT_API_KEY")
        .env_remove("VTC_API_URL")
        .env_remove("VTC_DB")
        .env_remove("VTC_QUOTA_MINUTE")
        .env_remove("VTC_QUOTA_DAY")
        .env_remove("VTC_CONFIG")
        .env_remove("HTTPS_PROXY")
        // No user config file: the default location is the test's own dir.
        .env("XDG_CONFIG_HOME", db.parent().unwrap_or(db))
        .arg("--api-url")
        .arg(api_url)
        .arg("--db")
        .arg(db);
    cmd
}

/// Runs a command on a blocking thread so the in-process emulator keeps serving.
pub async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("vtc runs"))
        .await
        .expect("join")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("vtc.sqlite")
}

/// API requests the emulator has answered so far.
pub fn requests(emu: &RunningEmulator) -> u64 {
    emu.emulator().stats()["requests_total"]
        .as_u64()
        .unwrap_or(0)
}

pub fn responses_with_status(emu: &RunningEmulator, status: u16) -> u64 {
    emu.emulator().stats()["by_status"][status.to_string()]
        .as_u64()
        .unwrap_or(0)
}

/// `vtc --api-url API_URL --db DB ARGS...` run on a pseudo-terminal
/// (util-linux `script`), with no config file or key from the environment;
/// its screen is the output's stdout. `None` (after saying so) where
/// `script` is not installed.
pub fn vtc_on_terminal(api_url: &str, db: &Path, args: &[&str]) -> Option<Command> {
    if Command::new("script").arg("--version").output().is_err() {
        // CI installs what the tests need: there a missing prerequisite fails.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "util-linux `script` is missing under CI=true"
        );
        eprintln!("SKIPPED: util-linux `script` is not installed, no pseudo-terminal");
        return None;
    }
    // No user config file: the default location is the test's own dir.
    let home = db.parent().unwrap_or(db).to_path_buf();
    let db = db.display().to_string();
    let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
    let line: Vec<String> = [env!("CARGO_BIN_EXE_vtc"), "--api-url", api_url, "--db", &db]
        .into_iter()
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line.join(" "), "/dev/null"])
        .env_remove("VT_API_KEY")
        .env_remove("VTC_CONFIG")
        .env_remove("HTTPS_PROXY")
        .env("XDG_CONFIG_HOME", home)
        .stdin(std::process::Stdio::null());
    Some(cmd)
}

/// A web server that is not VirusTotal: every request gets an HTML 404.
/// Serves at most `count` connections, then its thread ends.
pub fn not_virustotal(count: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "<html><body><h1>404 Not Found</h1></body></html>";
            let _ = write!(
                stream,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

/// `$CHROMIUM`, else `chromium` or `chromium-browser` on the PATH.
pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return p.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
        .find(|p| p.is_file())
        .expect("chromium is installed (apt-get install chromium; .ci/run does)")
}

/// Runs headless Chromium on `url` with `args`, bounded to a minute;
/// returns its stdout (the DOM with `--dump-dom`).
pub fn browse(profile: &Path, url: &str, args: &[&str]) -> String {
    use std::time::{Duration, Instant};
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("stdout piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).map(|_| out)
    });
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took longer than a minute on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = reader.join().expect("reader").expect("chromium stdout");
    String::from_utf8_lossy(&out).into_owned()
}

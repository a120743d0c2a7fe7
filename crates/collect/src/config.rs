//! The collector's settings: the `[collect]` table of vtc's config file,
//! read here (the `app` crate hands it over raw, so it need not know the
//! collector), and the rescan window in the original connector's format.

use crate::CollectError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// VirusTotal's limit for a direct upload (`POST /files`); above it the
/// client asks for an upload URL.
pub const DIRECT_UPLOAD_LIMIT: u64 = 32 * 1024 * 1024;
/// VirusTotal's limit for any upload.
pub const MAX_UPLOAD: u64 = 650 * 1024 * 1024;

/// The `[collect]` table. Every field has a default, so an empty table (or
/// none) is a hash-only collector with no sources of its own.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CollectConfig {
    /// Folders watched (or scanned once with `--once`), recursively.
    pub paths: Vec<PathBuf>,
    /// A file of hashes (one a line, or JSON events), read and followed.
    pub hashes: Option<PathBuf>,
    /// The Carbon Black EDR server, e.g. `https://cb.example.org/`.
    pub carbonblack_server_url: Option<String>,
    /// Its API token (header `X-Auth-Token`); a secret.
    pub carbonblack_server_token: Option<String>,
    /// Verify the Carbon Black server's TLS certificate.
    pub carbonblack_sslverify: bool,
    /// Extra query terms for the binary search, as the original's.
    pub binary_filter_query: Option<String>,
    /// Seconds between two polls of the Carbon Black server.
    pub carbonblack_poll_seconds: u64,
    /// Binaries asked for per page of the search (`rows`).
    pub carbonblack_page_rows: u32,
    /// `NEVER` or a duration such as `30M`, `12H`, `7D`, `2W`.
    pub rescan_window: String,
    /// Send whole binaries VirusTotal does not know (off by default: only
    /// hashes leave the machine).
    pub submit_full_binaries: bool,
    /// Uploads in flight at once when `submit_full_binaries` is on.
    pub deep_scan_threads: usize,
    /// Hash look-ups in flight at once.
    pub quick_scan_threads: usize,
    /// No binary larger than this is uploaded (bytes; at most 650 MB).
    pub max_upload_bytes: u64,
    /// Milliseconds a watched file must stay quiet before it is hashed.
    pub debounce_ms: u64,
    /// Where the original served its feed (`listener_address:listener_port`);
    /// `vtc serve --listen` takes it.
    pub feed_listen: Option<String>,
    /// The address the EDR server reaches the feed at (`feed_host`).
    pub feed_host: Option<String>,
}

impl Default for CollectConfig {
    fn default() -> CollectConfig {
        CollectConfig {
            paths: Vec::new(),
            hashes: None,
            carbonblack_server_url: None,
            carbonblack_server_token: None,
            carbonblack_sslverify: true,
            binary_filter_query: None,
            carbonblack_poll_seconds: 60,
            carbonblack_page_rows: 100,
            rescan_window: "NEVER".to_owned(),
            submit_full_binaries: false,
            deep_scan_threads: 1,
            quick_scan_threads: 4,
            max_upload_bytes: DIRECT_UPLOAD_LIMIT,
            debounce_ms: 500,
            feed_listen: None,
            feed_host: None,
        }
    }
}

/// Never shows the Carbon Black token.
impl std::fmt::Debug for CollectConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectConfig")
            .field("paths", &self.paths)
            .field("hashes", &self.hashes)
            .field("carbonblack_server_url", &self.carbonblack_server_url)
            .field(
                "carbonblack_server_token",
                &self.carbonblack_server_token.as_ref().map(|_| "[redacted]"),
            )
            .field("rescan_window", &self.rescan_window)
            .field("submit_full_binaries", &self.submit_full_binaries)
            .field("deep_scan_threads", &self.deep_scan_threads)
            .field("quick_scan_threads", &self.quick_scan_threads)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .finish_non_exhaustive()
    }
}

impl CollectConfig {
    /// Reads the `[collect]` table (absent: the defaults) and checks it.
    pub fn from_table(table: Option<&toml::Table>) -> Result<CollectConfig, CollectError> {
        let config = match table {
            None => CollectConfig::default(),
            Some(t) => CollectConfig::deserialize(toml::Value::Table(t.clone()))
                .map_err(|e| CollectError::Config(format!("[collect]: {}", e.message().trim())))?,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the values a run depends on.
    pub fn validate(&self) -> Result<(), CollectError> {
        RescanWindow::parse(&self.rescan_window)?;
        if self.quick_scan_threads == 0 || self.quick_scan_threads > 256 {
            return Err(CollectError::Config(
                "quick_scan_threads must be between 1 and 256".into(),
            ));
        }
        if self.deep_scan_threads > 64 {
            return Err(CollectError::Config(
                "deep_scan_threads must be at most 64".into(),
            ));
        }
        if self.max_upload_bytes > MAX_UPLOAD {
            return Err(CollectError::Config(format!(
                "max_upload_bytes must be at most {MAX_UPLOAD} (VirusTotal's 650 MB limit)"
            )));
        }
        if !(1..=10_000).contains(&self.carbonblack_page_rows) {
            return Err(CollectError::Config(
                "carbonblack_page_rows must be between 1 and 10000".into(),
            ));
        }
        if let Some(url) = &self.carbonblack_server_url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Err(CollectError::Config(
                        "carbonblack_server_url must be an http(s) URL".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    /// The parsed rescan window.
    pub fn rescan(&self) -> Result<RescanWindow, CollectError> {
        RescanWindow::parse(&self.rescan_window)
    }
}

/// How old a binary's last analysis may grow before it is rescanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RescanWindow {
    Never,
    After(Duration),
}

impl RescanWindow {
    /// `NEVER` (any case), or a whole number followed by `S`, `M`
    /// (minutes), `H`, `D` or `W`: the original connector's format.
    pub fn parse(text: &str) -> Result<RescanWindow, CollectError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("never") || t.is_empty() {
            return Ok(RescanWindow::Never);
        }
        let bad = || {
            CollectError::Config(format!(
                "rescan_window {:?} is not NEVER or a duration such as 30M, 12H, 7D, 2W",
                t.chars().take(40).collect::<String>()
            ))
        };
        let unit = t.chars().last().ok_or_else(bad)?;
        let seconds = match unit.to_ascii_uppercase() {
            'S' => 1,
            'M' => 60,
            'H' => 3600,
            'D' => 86_400,
            'W' => 7 * 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = t[..t.len() - unit.len_utf8()]
            .trim()
            .parse()
            .map_err(|_| bad())?;
        // Ten years at most: beyond it a window means never.
        if n == 0 || n.saturating_mul(seconds) > 10 * 365 * 86_400 {
            return Err(bad());
        }
        Ok(RescanWindow::After(Duration::from_secs(n * seconds)))
    }

    /// The analysis date before which a binary is due for a rescan at `now`.
    pub fn cutoff(self, now: time::OffsetDateTime) -> Option<time::OffsetDateTime> {
        match self {
            RescanWindow::Never => None,
            RescanWindow::After(d) => Some(now - d),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rescan_windows_in_the_original_format() {
        let cases = [
            ("NEVER", Some(RescanWindow::Never)),
            ("never", Some(RescanWindow::Never)),
            ("30M", Some(RescanWindow::After(Duration::from_secs(1800)))),
            (
                "12H",
                Some(RescanWindow::After(Duration::from_secs(43_200))),
            ),
            (
                "7d",
                Some(RescanWindow::After(Duration::from_secs(604_800))),
            ),
            (
                "2W",
                Some(RescanWindow::After(Duration::from_secs(1_209_600))),
            ),
            ("45S", Some(RescanWindow::After(Duration::from_secs(45)))),
            ("0D", None),
            ("D", None),
            ("7Y", None),
            ("-1D", None),
            ("99999999W", None),
            ("7é", None),
        ];
        for (text, want) in cases {
            assert_eq!(RescanWindow::parse(text).ok(), want, "{text}");
        }
    }

    #[test]
    fn the_collect_table_is_checked() {
        let table: toml::Table =
            toml::from_str("rescan_window = \"2W\"\nquick_scan_threads = 8").unwrap();
        let c = CollectConfig::from_table(Some(&table)).unwrap();
        assert_eq!(c.quick_scan_threads, 8);
        assert!(!c.submit_full_binaries, "hash-only by default");
        let bad: toml::Table = toml::from_str("rescan_windw = \"2W\"").unwrap();
        let e = CollectConfig::from_table(Some(&bad))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rescan_windw"), "{e}");
        let big: toml::Table = toml::from_str("max_upload_bytes = 999999999999").unwrap();
        assert!(CollectConfig::from_table(Some(&big)).is_err());
    }

    #[test]
    fn debug_hides_the_carbon_black_token() {
        let c = CollectConfig {
            carbonblack_server_token: Some("s3cr3t-token".into()),
            ..CollectConfig::default()
        };
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }
}

//! The Carbon Black EDR (Response) server's REST API, as the original
//! connector uses it: the token in the `X-Auth-Token` header; the binary
//! search `GET /api/v1/binary?q=…&start=…&rows=…&sort=…` polled for
//! binaries added since the checkpoint (`server_added_timestamp:[X TO *]`,
//! plus the configured `binary_filter_query`); and, for a deep scan only,
//! `GET /api/v1/binary/{md5}`, a zip holding the binary as `filedata`.
//!
//! Pages are kept one store transaction each, with the checkpoint of the
//! page's last binary (results sorted by `server_added_timestamp`
//! ascending), so a poll cut short by a kill or by the server going away
//! resumes after the last page kept. The bound `[X TO *]` includes X: the
//! binaries at the checkpoint come again and are merged, never queried
//! twice.

use crate::CollectError;
use serde::Deserialize;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use store::Sighting;

/// Pages one poll reads at most (the rest waits for the next poll).
pub const MAX_PAGES_PER_POLL: u32 = 1000;
/// The store's name of this source.
pub const SOURCE: &str = "carbonblack";

/// The Carbon Black API token: never shown.
#[derive(Clone)]
pub struct CbToken(String);

impl std::fmt::Debug for CbToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CbToken([redacted])")
    }
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    results: Vec<CbBinary>,
    #[serde(default)]
    total_results: u64,
}

#[derive(Debug, Deserialize)]
struct CbBinary {
    md5: String,
    #[serde(default)]
    server_added_timestamp: Option<String>,
    #[serde(default)]
    observed_filename: Vec<String>,
    /// `HOSTNAME|sensor id` per endpoint that ran it.
    #[serde(default)]
    endpoint: Vec<String>,
    #[serde(default)]
    orig_mod_len: Option<u64>,
}

/// A client of one Carbon Black server.
#[derive(Debug, Clone)]
pub struct CarbonBlack {
    http: reqwest::Client,
    base: url::Url,
    token: CbToken,
    filter: Option<String>,
    rows: u32,
}

/// What one poll kept.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollSummary {
    pub pages: u32,
    pub binaries: u64,
    pub new_binaries: u64,
}

impl CarbonBlack {
    pub fn new(
        url: &str,
        token: &str,
        filter: Option<&str>,
        rows: u32,
        verify_tls: bool,
    ) -> Result<CarbonBlack, CollectError> {
        let mut base = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                CollectError::Config("carbonblack_server_url must be an http(s) URL".into())
            })?;
        if token.trim().is_empty() {
            return Err(CollectError::Config(
                "carbonblack_server_token is empty: set it in [collect] (the API token of a Carbon Black user)".into(),
            ));
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        if !verify_tls {
            tracing::warn!("the carbon black server's TLS certificate is not verified (carbonblack_sslverify = false)");
        }
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(!verify_tls)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| CollectError::CarbonBlack(format!("cannot build the HTTP client: {e}")))?;
        Ok(CarbonBlack {
            http,
            base,
            token: CbToken(token.trim().to_owned()),
            filter: filter.map(str::to_owned).filter(|f| !f.trim().is_empty()),
            rows: rows.max(1),
        })
    }

    fn endpoint(&self, path: &str) -> Result<url::Url, CollectError> {
        self.base
            .join(path)
            .map_err(|e| CollectError::CarbonBlack(format!("bad URL: {e}")))
    }

    /// The search query for binaries added since `checkpoint`.
    pub fn query(&self, checkpoint: Option<&str>) -> String {
        let since = checkpoint.unwrap_or("*");
        let mut q = format!("server_added_timestamp:[{since} TO *]");
        if let Some(filter) = &self.filter {
            q.push(' ');
            q.push_str(filter);
        }
        q
    }

    async fn get(&self, url: url::Url) -> Result<reqwest::Response, CollectError> {
        let response = self
            .http
            .get(url)
            .header("X-Auth-Token", &self.token.0)
            .send()
            .await
            .map_err(|e| CollectError::CarbonBlack(describe(&e)))?;
        match response.status().as_u16() {
            200..=299 => Ok(response),
            401 | 403 => Err(CollectError::CarbonBlackToken(response.status().as_u16())),
            status => Err(CollectError::CarbonBlack(format!(
                "the server answered HTTP {status}"
            ))),
        }
    }

    /// One poll: every page of binaries added since the checkpoint, each
    /// kept with its checkpoint as it arrives.
    pub async fn poll(
        &self,
        store: &Arc<dyn store::Store>,
        wake: &tokio::sync::Notify,
    ) -> Result<PollSummary, CollectError> {
        let mut summary = PollSummary::default();
        let checkpoint = store.collect_checkpoint(SOURCE).await?;
        let query = self.query(checkpoint.as_deref());
        let mut start: u64 = 0;
        while summary.pages < MAX_PAGES_PER_POLL {
            let mut url = self.endpoint("api/v1/binary")?;
            url.query_pairs_mut()
                .append_pair("q", &query)
                .append_pair("start", &start.to_string())
                .append_pair("rows", &self.rows.to_string())
                .append_pair("sort", "server_added_timestamp asc");
            let response = self.get(url).await?;
            let page: SearchPage = response.json().await.map_err(|e| {
                CollectError::CarbonBlack(format!("a search page is unreadable: {}", describe(&e)))
            })?;
            summary.pages += 1;
            if page.results.is_empty() {
                break;
            }
            let count = page.results.len() as u64;
            let last = page
                .results
                .iter()
                .rev()
                .find_map(|b| b.server_added_timestamp.clone());
            let sightings: Vec<Sighting> =
                page.results.into_iter().flat_map(sightings_of).collect();
            summary.binaries += count;
            summary.new_binaries += store
                .collect_sightings(
                    SOURCE,
                    &sightings,
                    last.as_deref().filter(|t| valid_timestamp(t)),
                    time::OffsetDateTime::now_utc(),
                )
                .await?;
            wake.notify_one();
            start += count;
            if start >= page.total_results {
                break;
            }
        }
        Ok(summary)
    }

    /// Downloads binary `md5` into `dir` and returns the path of its bytes
    /// (the zip's `filedata`), reading at most `cap` bytes of it: more is
    /// [`CollectError::TooLarge`].
    pub async fn download(
        &self,
        md5: &str,
        dir: &Path,
        cap: u64,
    ) -> Result<tempfile::NamedTempFile, CollectError> {
        if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CollectError::CarbonBlack("not an md5".into()));
        }
        let url = self.endpoint(&format!("api/v1/binary/{}", md5.to_ascii_uppercase()))?;
        let mut response = self.get(url).await?;
        let mut zipped = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| CollectError::Internal(format!("temporary file: {e}")))?;
        let mut written: u64 = 0;
        // A zip is a little larger than its contents at worst.
        let zip_cap = cap.saturating_add(cap / 8).saturating_add(64 * 1024);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| CollectError::CarbonBlack(describe(&e)))?
        {
            written += chunk.len() as u64;
            if written > zip_cap {
                return Err(CollectError::TooLarge(cap));
            }
            zipped
                .write_all(&chunk)
                .map_err(|e| CollectError::Internal(format!("temporary file: {e}")))?;
        }
        let dir = dir.to_owned();
        tokio::task::spawn_blocking(move || unzip_filedata(zipped, &dir, cap))
            .await
            .map_err(|e| CollectError::Internal(format!("unzip: {e}")))?
    }
}

fn unzip_filedata(
    zipped: tempfile::NamedTempFile,
    dir: &Path,
    cap: u64,
) -> Result<tempfile::NamedTempFile, CollectError> {
    let bad = |e: &dyn std::fmt::Display| {
        CollectError::CarbonBlack(format!("the binary's zip is unreadable: {e}"))
    };
    let file = zipped.reopen().map_err(|e| bad(&e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(&e))?;
    let mut entry = archive.by_name("filedata").map_err(|e| bad(&e))?;
    let mut out = tempfile::NamedTempFile::new_in(dir).map_err(|e| bad(&e))?;
    let copied = std::io::copy(&mut (&mut entry).take(cap + 1), &mut out).map_err(|e| bad(&e))?;
    if copied > cap {
        return Err(CollectError::TooLarge(cap));
    }
    Ok(out)
}

/// One sighting per endpoint that ran the binary (one without a host if
/// none is named).
fn sightings_of(b: CbBinary) -> Vec<Sighting> {
    let md5 = b.md5.trim().to_ascii_lowercase();
    if md5.len() != 32 || !md5.bytes().all(|c| c.is_ascii_hexdigit()) {
        tracing::warn!("carbon black: a binary without a valid md5 is skipped");
        return Vec::new();
    }
    let base = Sighting {
        md5: Some(md5),
        size: b.orig_mod_len,
        file_name: b.observed_filename.first().map(|n| {
            // A Windows path: the name is after the last separator.
            n.rsplit(['\\', '/']).next().unwrap_or(n).to_owned()
        }),
        ..Sighting::default()
    };
    let hosts: Vec<String> = b
        .endpoint
        .iter()
        .map(|e| e.split('|').next().unwrap_or(e).to_owned())
        .filter(|h| !h.is_empty())
        .take(store::collected::MAX_LISTED)
        .collect();
    if hosts.is_empty() {
        return vec![base];
    }
    hosts
        .into_iter()
        .map(|host| Sighting {
            host: Some(host),
            ..base.clone()
        })
        .collect()
}

/// A checkpoint goes into a query: only a timestamp's characters.
fn valid_timestamp(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 40
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'.' | b'+'))
}

/// A reqwest error without its URL's query (which holds nothing secret,
/// but is long) and never a header.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_decode() {
        "unreadable answer"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_query_carries_the_checkpoint_and_the_filter() {
        let cb = CarbonBlack::new(
            "https://cb.example.org",
            "t",
            Some("is_executable_image:true"),
            10,
            true,
        )
        .unwrap();
        assert_eq!(
            cb.query(None),
            "server_added_timestamp:[* TO *] is_executable_image:true"
        );
        assert_eq!(
            cb.query(Some("2026-11-20T10:00:00Z")),
            "server_added_timestamp:[2026-11-20T10:00:00Z TO *] is_executable_image:true"
        );
        assert!(format!("{cb:?}").contains("[redacted]"));
        assert!(CarbonBlack::new("https://cb", " ", None, 10, true).is_err());
        assert!(CarbonBlack::new("file:///x", "t", None, 10, true).is_err());
    }

    #[test]
    fn a_binary_is_one_sighting_per_endpoint() {
        let b: CbBinary = serde_json::from_value(serde_json::json!({
            "md5": "44D88612FEA8A8F36DE82E1278ABB02F",
            "server_added_timestamp": "2026-11-20T10:00:00Z",
            "observed_filename": ["c:\\windows\\temp\\evil.exe"],
            "endpoint": ["WS-1|3", "WS-2|4"],
            "orig_mod_len": 68
        }))
        .unwrap();
        let s = sightings_of(b);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].md5.as_deref(),
            Some("44d88612fea8a8f36de82e1278abb02f")
        );
        assert_eq!(s[0].file_name.as_deref(), Some("evil.exe"));
        assert_eq!(s[1].host.as_deref(), Some("WS-2"));
        assert!(!valid_timestamp("x] OR *:*"));
    }
}

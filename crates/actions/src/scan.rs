//! Submissions and analyses: `scan_file` (no upload when VirusTotal knows
//! the file), `scan_url`, `rescan`, `get_analysis`, and waiting for an
//! analysis to complete.

use crate::parse::{self, shown};
use crate::reports::api_error;
use crate::{ActionError, Context, ErrorKind, ObjectOutput};
use ioc::Indicator;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use vt_api::{AnalysisDescriptor, AnalysisReport, MAX_UPLOAD_SIZE};
use vt_model::AnalysisStatus;

/// Default milliseconds between polls while waiting.
const DEFAULT_POLL_INTERVAL_MS: u64 = 20_000;
/// Default seconds to wait.
const DEFAULT_TIMEOUT_S: u64 = 600;

/// How to wait for an analysis: poll every `interval`, give up after `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    pub interval: Duration,
    pub timeout: Duration,
}

impl WaitOptions {
    /// From the `wait`, `poll_interval_ms` and `timeout` fields (and flags).
    pub fn from_fields(
        wait: bool,
        poll_interval_ms: Option<u64>,
        timeout: Option<u64>,
    ) -> Option<WaitOptions> {
        wait.then(|| WaitOptions {
            interval: Duration::from_millis(
                poll_interval_ms.unwrap_or(DEFAULT_POLL_INTERVAL_MS).max(1),
            ),
            timeout: Duration::from_secs(timeout.unwrap_or(DEFAULT_TIMEOUT_S).max(1)),
        })
    }
}

/// A local file: VirusTotal's report if it knows the file, else an upload.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanFileRequest {
    /// The local file to scan (at most 650 MB).
    pub path: PathBuf,
    /// Upload even if VirusTotal knows the file (default false).
    #[serde(default)]
    pub force: bool,
    /// Wait for the analysis to complete (default false).
    #[serde(default)]
    pub wait: bool,
    /// Milliseconds between polls while waiting (default 20000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub poll_interval_ms: Option<u64>,
    /// Give up waiting after this many seconds (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanUrlRequest {
    /// The URL; a bare host means `http://host/`.
    pub url: String,
    /// Wait for the analysis to complete (default false).
    #[serde(default)]
    pub wait: bool,
    /// Milliseconds between polls while waiting (default 20000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub poll_interval_ms: Option<u64>,
    /// Give up waiting after this many seconds (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RescanRequest {
    /// A file hash or a URL VirusTotal knows.
    pub id: String,
    /// Wait for the analysis to complete (default false).
    #[serde(default)]
    pub wait: bool,
    /// Milliseconds between polls while waiting (default 20000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub poll_interval_ms: Option<u64>,
    /// Give up waiting after this many seconds (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRequest {
    /// The analysis id a scan or rescan answered.
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadUrlRequest {
    /// A URL for private scanning (premium) instead (default false).
    #[serde(default)]
    pub private: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UploadUrlOutput {
    /// A single-use URL to POST one file of 32 to 650 MB to (multipart, field `file`).
    pub url: String,
}

/// A URL for uploading one large file (`GET /files/upload_url`, or
/// `/private/files/upload_url`), for callers that send the bytes themselves.
pub async fn upload_url(
    ctx: &Context,
    req: UploadUrlRequest,
) -> Result<UploadUrlOutput, ActionError> {
    let url = if req.private {
        ctx.client.private_upload_url().await
    } else {
        ctx.client.upload_url().await
    }
    .map_err(|e| crate::download::premium_if(req.private, "private upload URLs", e))?;
    Ok(UploadUrlOutput { url })
}

/// Size and regular-file checks before anything is read or sent; and
/// whether this front end reads local files at all.
pub(crate) fn check_upload(ctx: &Context, path: &Path) -> Result<u64, ActionError> {
    if !ctx.read_local_files {
        return Err(ActionError::invalid(
            "path: this front end reads no local files; upload through the command line",
        ));
    }
    let metadata = std::fs::metadata(path)
        .map_err(|e| ActionError::invalid(format!("path: cannot read {}: {e}", path.display())))?;
    if !metadata.is_file() {
        return Err(ActionError::invalid(format!(
            "path: {} is not a regular file",
            path.display()
        )));
    }
    if metadata.len() > MAX_UPLOAD_SIZE {
        return Err(ActionError::new(
            ErrorKind::TooLarge,
            format!(
                "{} is {} bytes; virustotal accepts files up to {} MB",
                path.display(),
                metadata.len(),
                MAX_UPLOAD_SIZE / (1024 * 1024)
            ),
        ));
    }
    Ok(metadata.len())
}

pub async fn scan_file(ctx: &Context, req: ScanFileRequest) -> Result<ObjectOutput, ActionError> {
    let wait = WaitOptions::from_fields(req.wait, req.poll_interval_ms, req.timeout);
    let path = req.path;
    let size = check_upload(ctx, &path)?;
    if !req.force {
        let owned = path.clone();
        let digests = tokio::task::spawn_blocking(move || file_digest::digest_file(&owned))
            .await
            .map_err(|e| ActionError::internal(format!("hashing stopped: {e}")))?
            .map_err(|e| ActionError::invalid(format!("path: {e}")))?;
        let hash = parse::file_hash("path", &digests.sha256)?;
        match ctx.client.file(&hash).await {
            Ok(report) => {
                tracing::info!(sha256 = %digests.sha256, "virustotal knows the file; not uploading");
                ctx.progress.upload_skipped(&path, &digests.sha256);
                return ObjectOutput::from_api(&report);
            }
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(ActionError::api(err, None)),
        }
    }
    ctx.progress.note(&format!(
        "uploading {} ({size} bytes) to virustotal",
        path.display()
    ));
    let descriptor = ctx
        .client
        .upload_file(&path)
        .await
        .map_err(|e| ActionError::api(e, Some(format!("cannot upload {}", path.display()))))?;
    finish(ctx, descriptor, wait, false).await
}

pub async fn scan_url(ctx: &Context, req: ScanUrlRequest) -> Result<ObjectOutput, ActionError> {
    let wait = WaitOptions::from_fields(req.wait, req.poll_interval_ms, req.timeout);
    let url = parse::url("url", &req.url)?;
    let descriptor = ctx
        .client
        .submit_url(&url)
        .await
        .map_err(|e| ActionError::api(e, None))?;
    finish(ctx, descriptor, wait, false).await
}

pub async fn rescan(ctx: &Context, req: RescanRequest) -> Result<ObjectOutput, ActionError> {
    let wait = WaitOptions::from_fields(req.wait, req.poll_interval_ms, req.timeout);
    let object = parse::indicator("id", &req.id)?;
    let descriptor = match &object {
        Indicator::File(hash) => ctx.client.rescan_file(hash).await,
        Indicator::Url(url) => ctx.client.rescan_url(url).await,
        _ => {
            return Err(ActionError::invalid(format!(
                "id: {} is neither a file hash nor a URL; only those can be rescanned",
                shown(&req.id)
            )))
        }
    }
    .map_err(|e| api_error(e, &object))?;
    finish(ctx, descriptor, wait, false).await
}

pub async fn analysis(ctx: &Context, req: AnalysisRequest) -> Result<ObjectOutput, ActionError> {
    let id = parse::analysis_id("id", &req.id)?;
    let report = ctx
        .client
        .analysis(&id)
        .await
        .map_err(|e| ActionError::api(e, None))?;
    analysis_output(&report)
}

/// An analysis report as one object: `data`, with the API's top-level
/// `meta` (file_info / url_info) kept as its `meta` member.
pub(crate) fn analysis_output(report: &AnalysisReport) -> Result<ObjectOutput, ActionError> {
    let mut out = ObjectOutput::from_api(&report.data)?;
    if let Some(meta) = &report.meta {
        out.meta = serde_json::to_value(meta)
            .ok()
            .and_then(|v| v.as_object().cloned());
    }
    Ok(out)
}

/// The descriptor as it is, or (with `wait`) the completed analysis.
pub(crate) async fn finish(
    ctx: &Context,
    descriptor: AnalysisDescriptor,
    wait: Option<WaitOptions>,
    private: bool,
) -> Result<ObjectOutput, ActionError> {
    let Some(wait) = wait else {
        return ObjectOutput::from_api(&descriptor);
    };
    let id = descriptor.id.to_string();
    ctx.progress.analysis_status(&id, "queued");
    let show = |report: &AnalysisReport| {
        let status = report.data.attributes.as_ref().and_then(|a| a.status);
        ctx.progress
            .analysis_status(&id, status.map_or("queued", AnalysisStatus::as_str));
    };
    let client = &ctx.client;
    let report = if private {
        client
            .wait_for_private_analysis_observed(&descriptor.id, wait.interval, wait.timeout, show)
            .await
    } else {
        client
            .wait_for_analysis_observed(&descriptor.id, wait.interval, wait.timeout, show)
            .await
    };
    ctx.progress.wait_finished();
    let report = report.map_err(|e| ActionError::api(e, None))?;
    let status = report.data.attributes.as_ref().and_then(|a| a.status);
    if status != Some(AnalysisStatus::Completed) {
        let private = if private { "private " } else { "" };
        return Err(ActionError::new(
            ErrorKind::WaitTimeout,
            format!(
                "analysis {id} is still {} after {} s; see it later with `vtc {private}analysis {id}`",
                status.map_or("queued", AnalysisStatus::as_str),
                wait.timeout.as_secs(),
            ),
        ));
    }
    analysis_output(&report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn a_context_that_reads_no_local_files_refuses_to_scan_one() {
        let key = vt_api::ApiKey::new("k".repeat(64)).unwrap();
        let client = vt_api::Client::builder()
            .api_key(key)
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        let ctx = Context::new(client);
        let request = ScanFileRequest {
            path: PathBuf::from("/etc/passwd"),
            force: true,
            wait: false,
            poll_interval_ms: None,
            timeout: None,
        };
        let err = scan_file(&ctx, request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.message().contains("reads no local files"), "{err}");
    }
}

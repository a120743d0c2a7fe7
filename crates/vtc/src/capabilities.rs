//! What vtc can ask VirusTotal beyond lookups: one async function per
//! capability, taking typed arguments and returning the API's objects as
//! JSON. The commands (`vtc scan`, `vtc download`, ...) print the answers
//! for people; `vtc action` prints them for playbooks. Both go through
//! these functions, so the two cannot drift apart.

use crate::exit::usage;
use crate::object_view::Answer;
use anyhow::Context;
use futures_util::{Stream, StreamExt, TryStreamExt};
use ioc::{FileHash, Indicator, Sha256};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vt_api::{AnalysisId, Client, PrivateScanOptions, UserId, VoteVerdict, MAX_UPLOAD_SIZE};

/// The zip password every malware exchange uses.
pub const ZIP_PASSWORD: &str = "infected";

/// Largest page the API serves for most collections.
pub const MAX_PAGE_SIZE: usize = 40;

/// How to wait for an analysis: poll every `interval`, give up after `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct WaitSpec {
    pub interval: Duration,
    pub timeout: Duration,
}

impl WaitSpec {
    pub fn from_args(args: &crate::cli::WaitArgs) -> Option<WaitSpec> {
        args.wait.then(|| WaitSpec {
            interval: Duration::from_millis(args.poll_interval_ms),
            timeout: Duration::from_secs(args.timeout),
        })
    }
}

/// An analysis that did not complete in time: a runtime failure (exit 1),
/// the analysis itself goes on.
#[derive(Debug)]
pub struct WaitTimeout {
    pub id: String,
    pub status: String,
    pub waited: Duration,
}

impl std::fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "analysis {} is still {} after {} s; see it later with `vtc analysis {}`",
            self.id,
            self.status,
            self.waited.as_secs(),
            self.id
        )
    }
}

impl std::error::Error for WaitTimeout {}

/// Parses what a user typed as an object: hash, URL, domain or IP address.
pub fn indicator(input: &str) -> anyhow::Result<Indicator> {
    Indicator::parse(input).map_err(|e| {
        usage(format!(
            "{:?} is not a file hash, URL, domain or IP address: {e}",
            crate::object_view::cell(input, 100)
        ))
    })
}

pub fn file_hash(input: &str) -> anyhow::Result<FileHash> {
    FileHash::parse(input.trim())
        .ok_or_else(|| usage(format!("{:?} is not an md5, sha1 or sha256", short(input))))
}

pub fn sha256(input: &str) -> anyhow::Result<Sha256> {
    Sha256::parse(input.trim()).ok_or_else(|| usage(format!("{:?} is not a sha256", short(input))))
}

pub fn url(input: &str) -> anyhow::Result<ioc::Url> {
    match indicator(input)? {
        Indicator::Url(url) => Ok(url),
        _ => Err(usage(format!("{:?} is not a URL", short(input)))),
    }
}

pub fn analysis_id(input: &str) -> anyhow::Result<AnalysisId> {
    AnalysisId::parse(input.trim())
        .ok_or_else(|| usage(format!("{:?} is not an analysis id", short(input))))
}

fn short(s: &str) -> String {
    crate::object_view::cell(s, 100)
}

/// Says what a 403 means for a call only premium keys may make; other
/// errors pass through unchanged.
fn premium(what: &'static str) -> impl Fn(vt_api::Error) -> anyhow::Error {
    move |err| {
        if err.status() == Some(403) {
            anyhow::Error::new(err).context(format!("{what} needs a premium API key"))
        } else {
            err.into()
        }
    }
}

/// `GET /{collection}/{id}` for any indicator.
pub async fn lookup(client: &Client, object: &Indicator) -> anyhow::Result<Answer> {
    let found = client
        .lookup(object)
        .await
        .map_err(|e| not_found(e, object))?;
    Ok(Answer::One(serde_json::to_value(found)?))
}

fn not_found(err: vt_api::Error, object: &dyn std::fmt::Display) -> anyhow::Error {
    if err.is_not_found() {
        anyhow::Error::new(err).context(format!("virustotal does not know {object}"))
    } else {
        err.into()
    }
}

/// Size and regular-file checks before anything is read or sent.
fn check_upload(path: &Path) -> anyhow::Result<u64> {
    let metadata = std::fs::metadata(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    if !metadata.is_file() {
        return Err(usage(format!("{} is not a regular file", path.display())));
    }
    if metadata.len() > MAX_UPLOAD_SIZE {
        return Err(usage(format!(
            "{} is {} bytes; virustotal accepts files up to {} MB",
            path.display(),
            metadata.len(),
            MAX_UPLOAD_SIZE / (1024 * 1024)
        )));
    }
    Ok(metadata.len())
}

/// `vtc scan file`: hashes the file, and answers VirusTotal's report when
/// it has one (no upload, unless `force`); otherwise uploads it and,
/// with `wait`, waits for the analysis.
pub async fn scan_file(
    client: &Client,
    path: &Path,
    force: bool,
    wait: Option<WaitSpec>,
) -> anyhow::Result<Answer> {
    let size = check_upload(path)?;
    if !force {
        let owned = path.to_owned();
        let hashes =
            tokio::task::spawn_blocking(move || crate::commands::hash_file(&owned)).await??;
        let hash = file_hash(&hashes.sha256)?;
        match client.file(&hash).await {
            Ok(report) => {
                tracing::info!(sha256 = %hashes.sha256, "virustotal knows the file; not uploading");
                eprintln!(
                    "vtc: virustotal already knows {} (sha256 {}); not uploading (--force uploads anyway)",
                    path.display(),
                    hashes.sha256
                );
                return Ok(Answer::One(serde_json::to_value(report)?));
            }
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(err.into()),
        }
    }
    eprintln!(
        "vtc: uploading {} ({size} bytes) to virustotal",
        path.display()
    );
    let descriptor = client
        .upload_file(path)
        .await
        .with_context(|| format!("cannot upload {}", path.display()))?;
    finish_analysis(client, descriptor, wait, false).await
}

/// `POST /urls`, then optionally wait.
pub async fn scan_url(
    client: &Client,
    url: &ioc::Url,
    wait: Option<WaitSpec>,
) -> anyhow::Result<Answer> {
    let descriptor = client.submit_url(url).await?;
    finish_analysis(client, descriptor, wait, false).await
}

/// `POST /files/{hash}/analyse` or `POST /urls/{id}/analyse`.
pub async fn rescan(
    client: &Client,
    object: &Indicator,
    wait: Option<WaitSpec>,
) -> anyhow::Result<Answer> {
    let descriptor = match object {
        Indicator::File(hash) => client.rescan_file(hash).await,
        Indicator::Url(url) => client.rescan_url(url).await,
        _ => return Err(usage("only files (by hash) and URLs can be rescanned")),
    }
    .map_err(|e| not_found(e, object))?;
    finish_analysis(client, descriptor, wait, false).await
}

/// `GET /analyses/{id}` (or the private one).
pub async fn analysis(client: &Client, id: &AnalysisId, private: bool) -> anyhow::Result<Answer> {
    let report = if private {
        client
            .private_analysis(id)
            .await
            .map_err(premium("private scanning"))?
    } else {
        client.analysis(id).await?
    };
    Ok(Answer::One(analysis_value(report)?))
}

/// An analysis report as one object: `data`, with the API's top-level
/// `meta` (file_info / url_info) kept as its `meta` member.
fn analysis_value(report: vt_api::AnalysisReport) -> anyhow::Result<Value> {
    let mut object = serde_json::to_value(&report.data)?;
    if let (Some(meta), Some(map)) = (report.meta, object.as_object_mut()) {
        map.insert("meta".into(), serde_json::to_value(meta)?);
    }
    Ok(object)
}

async fn finish_analysis(
    client: &Client,
    descriptor: vt_api::AnalysisDescriptor,
    wait: Option<WaitSpec>,
    private: bool,
) -> anyhow::Result<Answer> {
    let Some(wait) = wait else {
        if std::io::stderr().is_terminal() {
            let private = if private { "private " } else { "" };
            eprintln!(
                "vtc: queued; `vtc {private}analysis {}` shows it",
                descriptor.id
            );
        }
        return Ok(Answer::One(serde_json::to_value(descriptor)?));
    };
    let spinner = spinner(&format!("analysis {}: queued", descriptor.id));
    let show = |report: &vt_api::AnalysisReport| {
        if let Some(spinner) = &spinner {
            let status = report.data.attributes.as_ref().and_then(|a| a.status);
            spinner.set_message(format!(
                "analysis {}: {}",
                descriptor.id,
                status.map_or("queued", vt_model::AnalysisStatus::as_str)
            ));
        }
    };
    let report = if private {
        client
            .wait_for_private_analysis_observed(&descriptor.id, wait.interval, wait.timeout, show)
            .await
    } else {
        client
            .wait_for_analysis_observed(&descriptor.id, wait.interval, wait.timeout, show)
            .await
    };
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    let report = report?;
    let status = report.data.attributes.as_ref().and_then(|a| a.status);
    if status != Some(vt_model::AnalysisStatus::Completed) {
        return Err(WaitTimeout {
            id: descriptor.id.to_string(),
            status: status
                .map_or("queued", vt_model::AnalysisStatus::as_str)
                .to_owned(),
            waited: wait.timeout,
        }
        .into());
    }
    Ok(Answer::One(analysis_value(report)?))
}

/// A spinner on stderr, only when stderr is a terminal.
fn spinner(message: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

/// Collects at most `limit` items of a paginated stream.
async fn take<T, S>(stream: S, limit: usize) -> Result<Vec<T>, vt_api::Error>
where
    S: Stream<Item = Result<T, vt_api::Error>>,
{
    stream.take(limit).try_collect().await
}

fn values<T: serde::Serialize>(items: Vec<T>) -> anyhow::Result<Answer> {
    let items = items
        .into_iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Answer::Many(items))
}

/// Page size for `limit` items: no bigger than needed, never above the API's cap.
pub fn page_size(limit: usize, page_size: Option<usize>) -> u32 {
    let size = page_size.unwrap_or(limit).clamp(1, MAX_PAGE_SIZE);
    u32::try_from(size).unwrap_or(10)
}

/// A relationship name as typed: letters, digits and `_` only.
fn relationship_name(input: &str) -> anyhow::Result<&str> {
    let name = input.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(usage(format!(
            "{:?} is not a relationship name (letters, digits and _)",
            short(name)
        )));
    }
    Ok(name)
}

/// `GET /{collection}/{id}/{relationship}` (or `/relationships/...` for
/// descriptors), page after page, up to `limit` items.
pub async fn relationships(
    client: &Client,
    object: &Indicator,
    relationship: &str,
    limit: usize,
    page: u32,
    descriptors: bool,
) -> anyhow::Result<Answer> {
    let relationship = relationship_name(relationship)?;
    let context = || format!("cannot list {relationship} of {object}");
    if descriptors {
        let items = take(
            client.relationship_descriptors(object, relationship, page),
            limit,
        )
        .await
        .map_err(|e| not_found(e, object))
        .with_context(context)?;
        values(items)
    } else {
        let items = take(client.relationship(object, relationship, page), limit)
            .await
            .map_err(|e| not_found(e, object))
            .with_context(context)?;
        values(items)
    }
}

/// `GET /search` or, premium, `GET /intelligence/search`.
pub async fn search(
    client: &Client,
    query: &str,
    limit: usize,
    page: u32,
    intelligence: bool,
) -> anyhow::Result<Answer> {
    if query.trim().is_empty() {
        return Err(usage("the search query is empty"));
    }
    let items = if intelligence {
        take(client.intelligence_search(query, None, false, page), limit)
            .await
            .map_err(premium("intelligence search"))?
    } else {
        take(client.search(query, page), limit).await?
    };
    values(items)
}

pub async fn comments(client: &Client, object: &Indicator, limit: usize) -> anyhow::Result<Answer> {
    let items = take(client.comments(object, page_size(limit, None)), limit)
        .await
        .map_err(|e| not_found(e, object))?;
    values(items)
}

pub async fn add_comment(
    client: &Client,
    object: &Indicator,
    text: &str,
) -> anyhow::Result<Answer> {
    if text.trim().is_empty() {
        return Err(usage("the comment is empty"));
    }
    let comment = client
        .add_comment(object, text)
        .await
        .map_err(|e| not_found(e, object))?;
    Ok(Answer::One(serde_json::to_value(comment)?))
}

pub async fn votes(client: &Client, object: &Indicator, limit: usize) -> anyhow::Result<Answer> {
    let items = take(client.votes(object, page_size(limit, None)), limit)
        .await
        .map_err(|e| not_found(e, object))?;
    values(items)
}

pub async fn add_vote(
    client: &Client,
    object: &Indicator,
    verdict: VoteVerdict,
) -> anyhow::Result<Answer> {
    let vote = client.add_vote(object, verdict).await.map_err(|err| {
        if err.status() == Some(409) {
            anyhow::Error::new(err).context(format!("this key has already voted on {object}"))
        } else {
            not_found(err, object)
        }
    })?;
    Ok(Answer::One(serde_json::to_value(vote)?))
}

/// `GET /widget/url`, and with `html` the page itself (untrusted HTML).
pub async fn widget(client: &Client, object: &Indicator, html: bool) -> anyhow::Result<Answer> {
    let widget = client.widget_url(object, None).await?;
    let mut value = serde_json::to_value(&widget)?;
    if html {
        let token = widget
            .token()
            .ok_or_else(|| anyhow::anyhow!("the widget URL has no usable token"))?;
        let page = client.widget_html(&token).await?;
        if let Some(map) = value.as_object_mut() {
            map.insert("html".into(), Value::String(page));
        }
    }
    Ok(Answer::One(value))
}

/// Where a download goes and in what form.
#[derive(Debug, Clone)]
pub struct DownloadSpec {
    pub output: Option<PathBuf>,
    pub raw: bool,
}

/// `GET /files/{hash}/download`, streamed to a temporary file beside the
/// output while hashed, checked against the asked hash, then either moved
/// into place (`raw`) or packed into a ZipCrypto zip (password `infected`)
/// holding one entry named by the sample's sha256. Never executable.
pub async fn download(
    client: &Client,
    hash: &FileHash,
    spec: &DownloadSpec,
) -> anyhow::Result<Answer> {
    let dir = match spec.output.as_deref().and_then(Path::parent) {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let part = tempfile::Builder::new()
        .prefix(".vtc-download-")
        .tempfile_in(&dir)
        .map_err(|e| usage(format!("cannot write in {}: {e}", dir.display())))?;
    let file = tokio::fs::File::from_std(part.as_file().try_clone()?);
    let mut writer = crate::sample_file::HashingWriter::new(file);
    let size = client.download(hash, &mut writer).await.map_err(|e| {
        if e.is_not_found() {
            not_found(e, hash)
        } else {
            premium("downloading samples")(e)
        }
    })?;
    let digests = writer.finish();
    if !digests.matches(hash) {
        anyhow::bail!(
            "the download does not match {hash} (got sha256 {}); nothing written",
            digests.sha256
        );
    }
    let output = spec.output.clone().unwrap_or_else(|| {
        PathBuf::from(if spec.raw {
            digests.sha256.clone()
        } else {
            format!("{}.zip", digests.sha256)
        })
    });
    let entry = digests.sha256.clone();
    let target = output.clone();
    let raw = spec.raw;
    tokio::task::spawn_blocking(move || {
        if raw {
            crate::sample_file::persist_raw(part, &target)
        } else {
            crate::sample_file::write_zip(part, &entry, ZIP_PASSWORD, &target)
        }
    })
    .await??;
    let mut result = json!({
        "path": output.display().to_string(),
        "format": if spec.raw { "raw" } else { "zip" },
        "sha256": digests.sha256,
        "sha1": digests.sha1,
        "md5": digests.md5,
        "size": size,
    });
    if !spec.raw {
        if let Some(map) = result.as_object_mut() {
            map.insert("password".into(), json!(ZIP_PASSWORD));
            map.insert("encryption".into(), json!("ZipCrypto"));
        }
    }
    Ok(Answer::One(result))
}

/// `GET /files/{hash}/download_url`: a signed, short-lived link that
/// fetches the sample without the key (premium).
pub async fn download_url(client: &Client, hash: &FileHash) -> anyhow::Result<Answer> {
    let url = client.download_url(hash).await.map_err(|e| {
        if e.is_not_found() {
            not_found(e, hash)
        } else {
            premium("download links")(e)
        }
    })?;
    Ok(Answer::One(json!({ "url": url })))
}

/// `POST /private/files` (through an upload URL above 32 MB).
pub async fn private_scan_file(
    client: &Client,
    path: &Path,
    options: &PrivateScanOptions,
    wait: Option<WaitSpec>,
) -> anyhow::Result<Answer> {
    let size = check_upload(path)?;
    eprintln!(
        "vtc: uploading {} ({size} bytes) for private scanning",
        path.display()
    );
    let descriptor = client
        .private_upload_file(path, options)
        .await
        .map_err(premium("private scanning"))?;
    finish_analysis(client, descriptor, wait, true).await
}

pub async fn private_scan_url(
    client: &Client,
    url: &ioc::Url,
    wait: Option<WaitSpec>,
) -> anyhow::Result<Answer> {
    let descriptor = client
        .private_submit_url(url)
        .await
        .map_err(premium("private scanning"))?;
    finish_analysis(client, descriptor, wait, true).await
}

pub async fn private_file(client: &Client, sha256: &Sha256) -> anyhow::Result<Answer> {
    let file = client
        .private_file(sha256)
        .await
        .map_err(|e| private_not_found(e, sha256))?;
    Ok(Answer::One(serde_json::to_value(file)?))
}

fn private_not_found(err: vt_api::Error, sha256: &Sha256) -> anyhow::Error {
    if err.is_not_found() {
        anyhow::Error::new(err).context(format!("no private file {sha256} for this key"))
    } else {
        premium("private scanning")(err)
    }
}

/// `GET /private/files/{sha256}/{relationship}` (or `/relationships/...`
/// for descriptors), page after page, up to `limit` items; only the key
/// that uploaded the file sees them.
pub async fn private_relationships(
    client: &Client,
    sha256: &Sha256,
    relationship: &str,
    limit: usize,
    page: u32,
    descriptors: bool,
) -> anyhow::Result<Answer> {
    let relationship = relationship_name(relationship)?;
    let context = || format!("cannot list {relationship} of private file {sha256}");
    if descriptors {
        let items = take(
            client.private_relationship_descriptors(sha256, relationship, page),
            limit,
        )
        .await
        .map_err(|e| private_not_found(e, sha256))
        .with_context(context)?;
        values(items)
    } else {
        let items = take(
            client.private_relationship(sha256, relationship, page),
            limit,
        )
        .await
        .map_err(|e| private_not_found(e, sha256))
        .with_context(context)?;
        values(items)
    }
}

/// `GET /private/urls/{id}`: the report of a URL this key submitted privately.
pub async fn private_url(client: &Client, url: &ioc::Url) -> anyhow::Result<Answer> {
    let report = client.private_url(url).await.map_err(|err| {
        if err.is_not_found() {
            anyhow::Error::new(err).context(format!(
                "no private URL report of {} for this key (submit it with `vtc private scan-url`)",
                short(url.as_str())
            ))
        } else {
            premium("private scanning")(err)
        }
    })?;
    Ok(Answer::One(serde_json::to_value(report)?))
}

pub async fn private_list(client: &Client, limit: usize) -> anyhow::Result<Answer> {
    let items = take(client.private_files(page_size(limit, None)), limit)
        .await
        .map_err(premium("private scanning"))?;
    values(items)
}

pub async fn private_delete(
    client: &Client,
    sha256: &Sha256,
    only_from_storage: bool,
) -> anyhow::Result<Answer> {
    client
        .delete_private_file(sha256, only_from_storage)
        .await
        .map_err(|e| private_not_found(e, sha256))?;
    Ok(Answer::One(
        json!({"deleted": sha256.as_str(), "only_from_storage": only_from_storage}),
    ))
}

pub async fn private_rescan(
    client: &Client,
    sha256: &Sha256,
    wait: Option<WaitSpec>,
) -> anyhow::Result<Answer> {
    let descriptor = client
        .private_rescan(sha256, &PrivateScanOptions::default())
        .await
        .map_err(|e| private_not_found(e, sha256))?;
    finish_analysis(client, descriptor, wait, true).await
}

/// The key's quotas: allowance and use per hour, day and month from
/// `/users/{key}/overall_quotas`, today's calls from `/api_usage`, and the
/// per-minute budget vtc itself keeps (the API reports none).
pub async fn quota(
    client: &Client,
    key: &vt_api::ApiKey,
    minute_budget: u32,
) -> anyhow::Result<Answer> {
    let user = UserId::of_key(key);
    let overall = client.overall_quotas(&user).await?;
    let today = time::OffsetDateTime::now_utc().date();
    let usage = client.api_usage(&user, today, today).await?;
    let window = |name: &str| {
        let user = &overall
            .get(name)
            .map(|q| q["user"].clone())
            .unwrap_or(Value::Null);
        json!({"used": user["used"], "allowed": user["allowed"]})
    };
    let used_today: u64 = usage
        .get("total")
        .and_then(Value::as_object)
        .map(|t| t.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    let minute_used: u64 = client
        .quota_status()
        .first()
        .map(|s| u64::from(s.minute.used))
        .unwrap_or(0);
    Ok(Answer::One(json!({
        "minute": {
            "used": minute_used,
            "allowed": if minute_budget == 0 { Value::Null } else { json!(minute_budget) },
            "source": "vtc's own budget (--quota-minute) and its governor's count; the API reports no minute quota",
        },
        "hour": window("api_requests_hourly"),
        "day": window("api_requests_daily"),
        "month": window("api_requests_monthly"),
        "today_by_endpoint": usage.get("total").cloned().unwrap_or(Value::Null),
        "today_total": used_today,
        "overall_quotas": Value::Object(overall),
    })))
}

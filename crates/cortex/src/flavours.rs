//! The four analyzers. Each spends the calls its job needs and no more:
//!
//! - GetReport: one `GET` of the object with its relationships embedded
//!   (`?relationships=`); a rescan (`POST .../analyse` and polls) only when
//!   `rescan_hash_older_than_days` says the report is old; a download only
//!   when `download_sample` (or `download_sample_if_highlighted`) asks.
//! - Scan: the upload or URL submission and its polls, then one `GET` of
//!   the scanned object (from `/urls/` for a URL) with its relationships.
//! - Rescan: `POST /files/{hash}/analyse` and its polls, then one `GET`.
//! - DownloadSample: one `GET /files/{hash}/download`.
//!
//! Every call goes through the action library (and so the client's
//! retries and quota governor).

use crate::input::{Flavour, Input};
use crate::job::Job;
use crate::report::{detected_by, success, Artifact, Findings};
use actions::{
    ActionError, Context, DownloadRequest, ObjectOutput, RescanRequest, ScanFileRequest,
    ScanUrlRequest,
};
use ioc::{FileHash, Indicator};
use serde_json::{json, Value};
use std::time::Duration;

/// A failure, as the `errorMessage` Cortex shows.
pub(crate) type Failure = String;

fn action_failure(err: ActionError) -> Failure {
    err.cortex_message()
}

/// Relationships embedded in a report's one `GET`, by object type: what
/// the original analyzer fetched with a call each, plus the resolutions
/// its summary fetched apart.
fn relationships_of(indicator: &Indicator) -> &'static [&'static str] {
    match indicator {
        Indicator::File(_) => &["contacted_domains", "contacted_ips", "contacted_urls"],
        Indicator::Url(_) => &[
            "contacted_domains",
            "contacted_ips",
            "last_serving_ip_address",
        ],
        Indicator::Domain(_) => &["resolutions", "downloaded_files", "referrer_files", "urls"],
        Indicator::Ip(_) => &["resolutions", "downloaded_files", "referrer_files", "urls"],
    }
}

fn wait_fields(input: &Input) -> (Option<u64>, Option<u64>) {
    let c = &input.config;
    let interval = u64::try_from(c.polling_interval.as_millis()).unwrap_or(u64::MAX);
    (
        Some(interval.max(1)),
        Some(c.polling_timeout.as_secs().max(1)),
    )
}

/// The observable as an indicator of the type Cortex says it is.
async fn observable(job: &Job, input: &Input) -> Result<(Indicator, String), Failure> {
    let data = || {
        input
            .data
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .ok_or_else(|| "missing data field".to_owned())
    };
    let wrong =
        |what: &str, value: &str| format!("data: {:?} is not {what}", crate::input::bounded(value));
    match input.data_type.as_str() {
        "file" => {
            let path = input_file(job, input)?;
            let owned = path.clone();
            let digests = tokio::task::spawn_blocking(move || file_digest::digest_file(&owned))
                .await
                .map_err(|e| format!("hashing stopped: {e}"))?
                .map_err(|e| format!("cannot read the file observable: {e}"))?;
            let hash = FileHash::parse(&digests.sha256)
                .ok_or_else(|| "internal: the file's sha256 is not a hash".to_owned())?;
            let shown = input
                .filename
                .clone()
                .unwrap_or_else(|| digests.sha256.clone());
            Ok((Indicator::File(hash), shown))
        }
        "hash" => {
            let d = data()?;
            let hash = FileHash::parse(d).ok_or_else(|| wrong("an md5, sha1 or sha256", d))?;
            Ok((Indicator::File(hash), d.to_owned()))
        }
        "domain" | "fqdn" => {
            let d = data()?;
            let domain = ioc::Domain::parse(d).ok_or_else(|| wrong("a domain name", d))?;
            Ok((Indicator::Domain(domain), d.to_owned()))
        }
        "ip" => {
            let d = data()?;
            let ip = d.parse().map_err(|_| wrong("an IP address", d))?;
            Ok((Indicator::Ip(ip), d.to_owned()))
        }
        "url" => {
            let d = data()?;
            match actions::indicator("data", d).map_err(action_failure)? {
                Indicator::Url(url) => Ok((Indicator::Url(url), d.to_owned())),
                _ => Err(wrong("a URL", d)),
            }
        }
        other => Err(unsupported(input.config.flavour, other)),
    }
}

fn unsupported(flavour: Flavour, data_type: &str) -> Failure {
    format!(
        "this datatype is not supported by {}: {:?} (it takes {})",
        flavour.analyzer(),
        crate::input::bounded(data_type),
        flavour.data_types().join(", ")
    )
}

fn input_file(job: &Job, input: &Input) -> Result<std::path::PathBuf, Failure> {
    let file = input
        .file
        .as_deref()
        .ok_or_else(|| "file is missing (the file observable's name under input/)".to_owned())?;
    job.input_file(file)
}

pub(crate) async fn run(ctx: &Context, job: &Job, input: &Input) -> Result<Value, Failure> {
    let flavour = input.config.flavour;
    if !flavour.data_types().contains(&input.data_type.as_str()) {
        return Err(unsupported(flavour, &input.data_type));
    }
    match flavour {
        Flavour::GetReport => get_report(ctx, job, input).await,
        Flavour::Scan => scan(ctx, job, input).await,
        Flavour::Rescan => rescan(ctx, job, input).await,
        Flavour::DownloadSample => download_sample(ctx, job, input).await,
    }
}

async fn get_report(ctx: &Context, job: &Job, input: &Input) -> Result<Value, Failure> {
    let (indicator, shown) = observable(job, input).await?;
    let object = actions::report_with_relationships(ctx, &indicator, relationships_of(&indicator))
        .await
        .map_err(action_failure)?;
    let mut analysis = None;
    let mut notes = Vec::new();
    if let (Some(older_than), Indicator::File(_)) = (input.config.rescan_older_than, &indicator) {
        if report_age(&object).is_some_and(|age| age > older_than) {
            let (poll_interval_ms, timeout) = wait_fields(input);
            let fresh = actions::rescan(
                ctx,
                RescanRequest {
                    id: object.id.clone(),
                    wait: true,
                    poll_interval_ms,
                    timeout,
                },
            )
            .await
            .map_err(action_failure)?;
            notes.push(format!(
                "the last analysis was older than rescan_hash_older_than_days ({} days): rescanned",
                older_than.as_secs_f64() / 86_400.0
            ));
            analysis = Some(fresh);
        }
    }
    let sample = maybe_download(
        ctx,
        job,
        input,
        &indicator,
        &object,
        analysis.as_ref(),
        &mut notes,
    )
    .await;
    Ok(success(Findings {
        flavour: Flavour::GetReport,
        config: &input.config,
        observable: &shown,
        object: Some(&object),
        analysis: analysis.as_ref(),
        sample,
        notes,
    }))
}

/// How long ago the object's last analysis was.
fn report_age(object: &ObjectOutput) -> Option<Duration> {
    let date = object
        .attributes
        .as_ref()?
        .get("last_analysis_date")?
        .as_i64()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    u64::try_from(now.checked_sub(date)?)
        .ok()
        .map(Duration::from_secs)
}

/// The sample, when `download_sample` asks for it, or
/// `download_sample_if_highlighted` and a highlighted engine missed what
/// others flagged. A failed download is a note, not a failed job: the
/// report is still worth having.
async fn maybe_download(
    ctx: &Context,
    job: &Job,
    input: &Input,
    indicator: &Indicator,
    object: &ObjectOutput,
    analysis: Option<&ObjectOutput>,
    notes: &mut Vec<String>,
) -> Option<(Artifact, Value)> {
    let Indicator::File(_) = indicator else {
        return None;
    };
    let c = &input.config;
    let source = analysis.unwrap_or(object);
    let results_field = if analysis.is_some() {
        "results"
    } else {
        "last_analysis_results"
    };
    let results = source
        .attributes
        .as_ref()
        .and_then(|a| a.get(results_field));
    let flagged = source.detection.as_ref().is_some_and(|d| d.malicious > 0);
    let missed = c
        .highlighted_antivirus
        .iter()
        .any(|engine| !detected_by(results, engine));
    let wanted = c.download_sample || (c.download_sample_if_highlighted && flagged && missed);
    if !wanted {
        return None;
    }
    if job.dir().is_none() {
        notes.push("the sample was not downloaded: file artifacts need a job directory".into());
        return None;
    }
    match fetch_sample(ctx, &object.id).await {
        Ok(sample) => Some(sample),
        Err(message) => {
            notes.push(format!("the sample was not downloaded: {message}"));
            None
        }
    }
}

/// `GET /files/{hash}/download` into `JOBDIR/output/<sha256>` (the sink
/// the context was built with); the artifact that names it.
async fn fetch_sample(ctx: &Context, hash: &str) -> Result<(Artifact, Value), Failure> {
    let kept = actions::download(
        ctx,
        DownloadRequest {
            hash: hash.to_owned(),
            raw: true,
        },
    )
    .await
    .map_err(action_failure)?;
    let file = std::path::Path::new(&kept.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| kept.sha256.clone());
    let artifact = Artifact::file(&file, &kept.sha256, vec!["autoImport:true".into()]);
    let description = json!({
        "message": "file downloaded",
        "file": file,
        "sha256": kept.sha256,
        "sha1": kept.sha1,
        "md5": kept.md5,
        "size": kept.size,
    });
    Ok((artifact, description))
}

async fn scan(ctx: &Context, job: &Job, input: &Input) -> Result<Value, Failure> {
    let (poll_interval_ms, timeout) = wait_fields(input);
    let (analysis, indicator, shown) = if input.data_type == "file" {
        let path = input_file(job, input)?;
        let analysis = actions::scan_file(
            ctx,
            ScanFileRequest {
                path,
                force: true,
                wait: true,
                poll_interval_ms,
                timeout,
            },
        )
        .await
        .map_err(action_failure)?;
        let sha256 = analysis
            .meta
            .as_ref()
            .and_then(|m| m.get("file_info"))
            .and_then(|i| i.get("sha256"))
            .and_then(Value::as_str)
            .and_then(FileHash::parse)
            .ok_or_else(|| "the analysis names no file (meta.file_info.sha256)".to_owned())?;
        let shown = input.filename.clone().unwrap_or_else(|| sha256.to_string());
        (analysis, Indicator::File(sha256), shown)
    } else {
        let (indicator, shown) = observable(job, input).await?;
        let Indicator::Url(url) = &indicator else {
            return Err(unsupported(Flavour::Scan, &input.data_type));
        };
        let analysis = actions::scan_url(
            ctx,
            ScanUrlRequest {
                url: url.as_str().to_owned(),
                wait: true,
                poll_interval_ms,
                timeout,
            },
        )
        .await
        .map_err(action_failure)?;
        (analysis, indicator, shown)
    };
    // The scanned object's relations, from its own collection (the original
    // asked /files/ for a URL's).
    let object = actions::report_with_relationships(ctx, &indicator, relationships_of(&indicator))
        .await
        .map_err(action_failure)?;
    Ok(success(Findings {
        flavour: Flavour::Scan,
        config: &input.config,
        observable: &shown,
        object: Some(&object),
        analysis: Some(&analysis),
        sample: None,
        notes: Vec::new(),
    }))
}

async fn rescan(ctx: &Context, job: &Job, input: &Input) -> Result<Value, Failure> {
    let (indicator, shown) = observable(job, input).await?;
    let (poll_interval_ms, timeout) = wait_fields(input);
    let analysis = actions::rescan(
        ctx,
        RescanRequest {
            id: shown.clone(),
            wait: true,
            poll_interval_ms,
            timeout,
        },
    )
    .await
    .map_err(action_failure)?;
    let object = actions::report_with_relationships(ctx, &indicator, relationships_of(&indicator))
        .await
        .map_err(action_failure)?;
    let mut notes = Vec::new();
    let sample = maybe_download(
        ctx,
        job,
        input,
        &indicator,
        &object,
        Some(&analysis),
        &mut notes,
    )
    .await;
    Ok(success(Findings {
        flavour: Flavour::Rescan,
        config: &input.config,
        observable: &shown,
        object: Some(&object),
        analysis: Some(&analysis),
        sample,
        notes,
    }))
}

async fn download_sample(ctx: &Context, job: &Job, input: &Input) -> Result<Value, Failure> {
    let (indicator, shown) = observable(job, input).await?;
    if job.dir().is_none() {
        return Err(
            "VirusTotal_DownloadSample needs a job directory: the sample is a file artifact".into(),
        );
    }
    let Indicator::File(hash) = &indicator else {
        return Err(unsupported(Flavour::DownloadSample, &input.data_type));
    };
    let sample = fetch_sample(ctx, hash.as_str()).await?;
    Ok(success(Findings {
        flavour: Flavour::DownloadSample,
        config: &input.config,
        observable: &shown,
        object: None,
        analysis: None,
        sample: Some(sample),
        notes: Vec::new(),
    }))
}

//! Private scanning (premium): files and URLs only the uploading key sees.

use crate::download::premium;
use crate::parse::{self, shown};
use crate::relationships::{relationship_name, take, PRIVATE_FILE_RELATIONSHIPS};
use crate::scan::{analysis_output, check_upload, finish, WaitOptions};
use crate::{ActionError, Context, ObjectList, ObjectOutput};
use ioc::Sha256;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use vt_api::PrivateScanOptions;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateScanFileRequest {
    /// The local file to scan (at most 650 MB).
    pub path: PathBuf,
    /// Password of an encrypted zip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Keep the file 1 to 28 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 28))]
    pub retention_days: Option<u32>,
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
pub struct PrivateScanUrlRequest {
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
pub struct PrivateFileRequest {
    /// The file's sha256.
    pub sha256: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateListRequest {
    /// At most this many items (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateDeleteRequest {
    /// The file's sha256.
    pub sha256: String,
    /// Keep the reports, delete the sample (default false).
    #[serde(default)]
    pub only_from_storage: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PrivateDeleteOutput {
    /// The sha256 deleted.
    pub deleted: String,
    pub only_from_storage: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateRescanRequest {
    /// The file's sha256.
    pub sha256: String,
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
pub struct PrivateAnalysisRequest {
    /// The private analysis id.
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateRelationshipsRequest {
    /// The file's sha256.
    pub sha256: String,
    /// e.g. contacted_ips, contacted_domains, contacted_urls, dropped_files.
    pub relationship: String,
    /// At most this many items (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
    /// Items per API call, 1 to 40 (default: limit, at most 40).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 40))]
    pub page_size: Option<u32>,
    /// Type and id only (default false).
    #[serde(default)]
    pub descriptors: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivateUrlRequest {
    /// The URL, as submitted for private scanning.
    pub url: String,
}

fn not_found(err: vt_api::Error, sha256: &Sha256) -> ActionError {
    if err.is_not_found() {
        ActionError::api(err, Some(format!("no private file {sha256} for this key")))
    } else {
        premium("private scanning", err)
    }
}

pub async fn private_scan_file(
    ctx: &Context,
    req: PrivateScanFileRequest,
) -> Result<ObjectOutput, ActionError> {
    let wait = WaitOptions::from_fields(req.wait, req.poll_interval_ms, req.timeout);
    if let Some(days) = req.retention_days.filter(|d| !(1..=28).contains(d)) {
        return Err(ActionError::invalid(format!(
            "retention_days: {days} is not 1 to 28"
        )));
    }
    let size = check_upload(ctx, &req.path)?;
    ctx.progress.note(&format!(
        "uploading {} ({size} bytes) for private scanning",
        req.path.display()
    ));
    let options = PrivateScanOptions {
        password: req.password,
        retention_period_days: req.retention_days,
        ..PrivateScanOptions::default()
    };
    let descriptor = ctx
        .client
        .private_upload_file(&req.path, &options)
        .await
        .map_err(|e| premium("private scanning", e))?;
    finish(ctx, descriptor, wait, true).await
}

pub async fn private_scan_url(
    ctx: &Context,
    req: PrivateScanUrlRequest,
) -> Result<ObjectOutput, ActionError> {
    let wait = WaitOptions::from_fields(req.wait, req.poll_interval_ms, req.timeout);
    let url = parse::url("url", &req.url)?;
    let descriptor = ctx
        .client
        .private_submit_url(&url)
        .await
        .map_err(|e| premium("private scanning", e))?;
    finish(ctx, descriptor, wait, true).await
}

pub async fn private_file(
    ctx: &Context,
    req: PrivateFileRequest,
) -> Result<ObjectOutput, ActionError> {
    let sha256 = parse::sha256("sha256", &req.sha256)?;
    let file = ctx
        .client
        .private_file(&sha256)
        .await
        .map_err(|e| not_found(e, &sha256))?;
    ObjectOutput::from_object(&file)
}

pub async fn private_list(
    ctx: &Context,
    req: PrivateListRequest,
) -> Result<ObjectList, ActionError> {
    let limit = parse::limit("limit", req.limit)?;
    let items = take(
        ctx.client.private_files(parse::page_size(limit, None)),
        limit,
    )
    .await
    .map_err(|e| premium("private scanning", e))?;
    ObjectList::from_api(&items)
}

pub async fn private_delete(
    ctx: &Context,
    req: PrivateDeleteRequest,
) -> Result<PrivateDeleteOutput, ActionError> {
    let sha256 = parse::sha256("sha256", &req.sha256)?;
    ctx.client
        .delete_private_file(&sha256, req.only_from_storage)
        .await
        .map_err(|e| not_found(e, &sha256))?;
    Ok(PrivateDeleteOutput {
        deleted: sha256.as_str().to_owned(),
        only_from_storage: req.only_from_storage,
    })
}

pub async fn private_rescan(
    ctx: &Context,
    req: PrivateRescanRequest,
) -> Result<ObjectOutput, ActionError> {
    let wait = WaitOptions::from_fields(req.wait, req.poll_interval_ms, req.timeout);
    let sha256 = parse::sha256("sha256", &req.sha256)?;
    let descriptor = ctx
        .client
        .private_rescan(&sha256, &PrivateScanOptions::default())
        .await
        .map_err(|e| not_found(e, &sha256))?;
    finish(ctx, descriptor, wait, true).await
}

pub async fn private_analysis(
    ctx: &Context,
    req: PrivateAnalysisRequest,
) -> Result<ObjectOutput, ActionError> {
    let id = parse::analysis_id("id", &req.id)?;
    let report = ctx
        .client
        .private_analysis(&id)
        .await
        .map_err(|e| premium("private scanning", e))?;
    analysis_output(&report)
}

pub async fn private_relationships(
    ctx: &Context,
    req: PrivateRelationshipsRequest,
) -> Result<ObjectList, ActionError> {
    let sha256 = parse::sha256("sha256", &req.sha256)?;
    let relationship = relationship_name(
        "relationship",
        &req.relationship,
        "a private file",
        PRIVATE_FILE_RELATIONSHIPS,
    )?;
    let limit = parse::limit("limit", req.limit)?;
    let page = parse::page_size(limit, parse::asked_page_size("page_size", req.page_size)?);
    let failed = |e| {
        not_found(e, &sha256).context(format!(
            "cannot list {relationship} of private file {sha256}"
        ))
    };
    if req.descriptors {
        let items = take(
            ctx.client
                .private_relationship_descriptors(&sha256, relationship, page),
            limit,
        )
        .await
        .map_err(failed)?;
        ObjectList::from_api(&items)
    } else {
        let items = take(
            ctx.client.private_relationship(&sha256, relationship, page),
            limit,
        )
        .await
        .map_err(failed)?;
        ObjectList::from_api(&items)
    }
}

pub async fn private_url(
    ctx: &Context,
    req: PrivateUrlRequest,
) -> Result<ObjectOutput, ActionError> {
    let url = parse::url("url", &req.url)?;
    let report = ctx.client.private_url(&url).await.map_err(|err| {
        if err.is_not_found() {
            ActionError::api(
                err,
                Some(format!(
                    "no private URL report of {} for this key (submit it for private scanning first)",
                    shown(url.as_str())
                )),
            )
        } else {
            premium("private scanning", err)
        }
    })?;
    ObjectOutput::from_object(&report)
}

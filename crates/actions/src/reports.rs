//! Reports: `GET /files/{id}`, `/urls/{id}`, `/domains/{domain}`,
//! `/ip_addresses/{ip}`.

use crate::parse::{self, shown};
use crate::{ActionError, Context, ObjectOutput};
use ioc::Indicator;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Any indicator; its type is detected and defanged forms are accepted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    /// A file hash, URL, domain or IP address (`hxxp`, `[.]` accepted).
    pub indicator: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileReportRequest {
    /// The file's md5, sha1 or sha256.
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UrlReportRequest {
    /// The URL.
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainReportRequest {
    /// The domain name.
    pub domain: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IpReportRequest {
    /// An IPv4 or IPv6 address.
    pub ip: String,
}

/// "virustotal does not know X" for a 404, else the error as it is.
pub(crate) fn api_error(err: vt_api::Error, object: &dyn std::fmt::Display) -> ActionError {
    let what = err
        .is_not_found()
        .then(|| format!("virustotal does not know {object}"));
    ActionError::api(err, what)
}

/// The report on `object`.
pub(crate) async fn report(ctx: &Context, object: &Indicator) -> Result<ObjectOutput, ActionError> {
    let found = ctx
        .client
        .lookup(object)
        .await
        .map_err(|e| api_error(e, object))?;
    ObjectOutput::from_report(&found)
}

/// The report on `object` with the first page of descriptors of each
/// named relationship (`relationships` of the answer), in one call; for
/// front ends (Cortex) that want a report and its neighbours at the cost of
/// one request.
pub async fn report_with_relationships(
    ctx: &Context,
    object: &Indicator,
    relationships: &[&str],
) -> Result<ObjectOutput, ActionError> {
    let found = ctx
        .client
        .lookup_with(object, relationships)
        .await
        .map_err(|e| api_error(e, object))?;
    ObjectOutput::from_report(&found)
}

pub async fn lookup(ctx: &Context, req: LookupRequest) -> Result<ObjectOutput, ActionError> {
    report(ctx, &parse::indicator("indicator", &req.indicator)?).await
}

pub async fn file_report(
    ctx: &Context,
    req: FileReportRequest,
) -> Result<ObjectOutput, ActionError> {
    let hash = parse::file_hash("hash", &req.hash)?;
    report(ctx, &Indicator::File(hash)).await
}

pub async fn url_report(ctx: &Context, req: UrlReportRequest) -> Result<ObjectOutput, ActionError> {
    let url = match parse::indicator("url", &req.url)? {
        Indicator::Url(url) => url,
        _ => {
            return Err(ActionError::invalid(format!(
                "url: {} is not a URL",
                shown(&req.url)
            )))
        }
    };
    report(ctx, &Indicator::Url(url)).await
}

pub async fn domain_report(
    ctx: &Context,
    req: DomainReportRequest,
) -> Result<ObjectOutput, ActionError> {
    let domain = ioc::Domain::parse(req.domain.trim()).ok_or_else(|| {
        ActionError::invalid(format!(
            "domain: {} is not a domain name",
            shown(&req.domain)
        ))
    })?;
    report(ctx, &Indicator::Domain(domain)).await
}

pub async fn ip_report(ctx: &Context, req: IpReportRequest) -> Result<ObjectOutput, ActionError> {
    let ip: std::net::IpAddr = req.ip.trim().parse().map_err(|_| {
        ActionError::invalid(format!("ip: {} is not an IP address", shown(&req.ip)))
    })?;
    report(ctx, &Indicator::Ip(ip)).await
}

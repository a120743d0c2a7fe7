//! Related objects (`GET /{collection}/{id}/{relationship}`) and search.

use crate::download::premium;
use crate::parse::{self, shown};
use crate::reports::api_error;
use crate::{ActionError, Context, ObjectList};
use futures_util::{Stream, StreamExt, TryStreamExt};
use ioc::{Indicator, IndicatorKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The relationships API v3 documents for each kind of object.
const FILE_RELATIONSHIPS: &[&str] = &[
    "analyses",
    "behaviours",
    "bundled_files",
    "carbonblack_children",
    "carbonblack_parents",
    "ciphered_bundled_files",
    "ciphered_parents",
    "clues",
    "collections",
    "comments",
    "compressed_parents",
    "contacted_domains",
    "contacted_ips",
    "contacted_urls",
    "dropped_files",
    "email_attachments",
    "email_parents",
    "embedded_domains",
    "embedded_ips",
    "embedded_urls",
    "execution_parents",
    "graphs",
    "itw_domains",
    "itw_ips",
    "itw_urls",
    "memory_pattern_domains",
    "memory_pattern_ips",
    "memory_pattern_urls",
    "overlay_children",
    "overlay_parents",
    "pcap_children",
    "pcap_parents",
    "pe_resource_children",
    "pe_resource_parents",
    "related_references",
    "related_threat_actors",
    "screenshots",
    "sigma_analysis",
    "similar_files",
    "submissions",
    "urls_for_embedded_js",
    "user_votes",
    "votes",
];
const URL_RELATIONSHIPS: &[&str] = &[
    "analyses",
    "collections",
    "comments",
    "communicating_files",
    "contacted_domains",
    "contacted_ips",
    "downloaded_files",
    "embedded_js_files",
    "graphs",
    "last_serving_ip_address",
    "network_location",
    "redirecting_urls",
    "redirects_to",
    "referrer_files",
    "referrer_urls",
    "related_collections",
    "related_comments",
    "related_references",
    "related_threat_actors",
    "submissions",
    "urls_related_by_tracker_id",
    "user_votes",
    "votes",
];
const DOMAIN_RELATIONSHIPS: &[&str] = &[
    "caa_records",
    "cname_records",
    "collections",
    "comments",
    "communicating_files",
    "downloaded_files",
    "graphs",
    "historical_ssl_certificates",
    "historical_whois",
    "immediate_parent",
    "mx_records",
    "ns_records",
    "parent",
    "referrer_files",
    "related_comments",
    "related_references",
    "related_threat_actors",
    "resolutions",
    "siblings",
    "soa_records",
    "subdomains",
    "urls",
    "user_votes",
    "votes",
];
const IP_RELATIONSHIPS: &[&str] = &[
    "collections",
    "comments",
    "communicating_files",
    "downloaded_files",
    "graphs",
    "historical_ssl_certificates",
    "historical_whois",
    "referrer_files",
    "related_comments",
    "related_references",
    "related_threat_actors",
    "resolutions",
    "urls",
    "user_votes",
    "votes",
];
/// What the private file routes serve.
pub(crate) const PRIVATE_FILE_RELATIONSHIPS: &[&str] = &[
    "analyses",
    "behaviours",
    "contacted_domains",
    "contacted_ips",
    "contacted_urls",
    "dropped_files",
    "embedded_domains",
    "embedded_ips",
    "embedded_urls",
    "itw_urls",
    "submissions",
];

/// The relationship names VirusTotal serves for objects of `kind`.
pub fn relationship_names(kind: IndicatorKind) -> &'static [&'static str] {
    match kind {
        IndicatorKind::File => FILE_RELATIONSHIPS,
        IndicatorKind::Url => URL_RELATIONSHIPS,
        IndicatorKind::Domain => DOMAIN_RELATIONSHIPS,
        IndicatorKind::Ip => IP_RELATIONSHIPS,
    }
}

/// `input` if it is one of `valid`; else a usage error listing them.
pub(crate) fn relationship_name<'a>(
    field: &str,
    input: &'a str,
    what: &str,
    valid: &[&str],
) -> Result<&'a str, ActionError> {
    let name = input.trim();
    if valid.contains(&name) {
        return Ok(name);
    }
    Err(ActionError::invalid(format!(
        "{field}: {} is not a relationship of {what}; valid: {}",
        shown(name),
        valid.join(", ")
    )))
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationshipsRequest {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// e.g. contacted_domains, resolutions, downloaded_files.
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
pub struct SearchRequest {
    /// The query; with intelligence, a VT Intelligence query.
    pub query: String,
    /// At most this many items (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
    /// Items per API call, 1 to 40 (default: limit, at most 40).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 40))]
    pub page_size: Option<u32>,
    /// VT Intelligence search, premium (default false).
    #[serde(default)]
    pub intelligence: bool,
}

/// Collects at most `limit` items of a paginated stream.
pub(crate) async fn take<T, S>(stream: S, limit: u32) -> Result<Vec<T>, vt_api::Error>
where
    S: Stream<Item = Result<T, vt_api::Error>>,
{
    stream
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .try_collect()
        .await
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescriptorsRequest {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// e.g. contacted_domains, resolutions, downloaded_files.
    pub relationship: String,
    /// At most this many items (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub limit: Option<u32>,
}

/// The descriptors (type and id, with context_attributes) of an object's
/// related objects: `get_relationships` with `descriptors`.
pub async fn relationship_descriptors(
    ctx: &Context,
    req: DescriptorsRequest,
) -> Result<ObjectList, ActionError> {
    relationships(
        ctx,
        RelationshipsRequest {
            id: req.id,
            relationship: req.relationship,
            limit: req.limit,
            page_size: None,
            descriptors: true,
        },
    )
    .await
}

pub async fn relationships(
    ctx: &Context,
    req: RelationshipsRequest,
) -> Result<ObjectList, ActionError> {
    let object: Indicator = parse::indicator("id", &req.id)?;
    let kind = object.kind();
    let what = format!("a {}", kind.as_str());
    let relationship = relationship_name(
        "relationship",
        &req.relationship,
        &what,
        relationship_names(kind),
    )?;
    let limit = parse::limit("limit", req.limit)?;
    let page = parse::page_size(limit, parse::asked_page_size("page_size", req.page_size)?);
    let failed = |e: vt_api::Error| {
        api_error(e, &object).context(format!("cannot list {relationship} of {object}"))
    };
    if req.descriptors {
        let items = take(
            ctx.client
                .relationship_descriptors(&object, relationship, page),
            limit,
        )
        .await
        .map_err(failed)?;
        ObjectList::from_api(&items)
    } else {
        let items = take(ctx.client.relationship(&object, relationship, page), limit)
            .await
            .map_err(failed)?;
        ObjectList::from_api(&items)
    }
}

pub async fn search(ctx: &Context, req: SearchRequest) -> Result<ObjectList, ActionError> {
    if req.query.trim().is_empty() {
        return Err(ActionError::invalid("query: is empty"));
    }
    let limit = parse::limit("limit", req.limit)?;
    let page = parse::page_size(limit, parse::asked_page_size("page_size", req.page_size)?);
    let items = if req.intelligence {
        take(
            ctx.client
                .intelligence_search(&req.query, None, false, page),
            limit,
        )
        .await
        .map_err(|e| premium("intelligence search", e))?
    } else {
        take(ctx.client.search(&req.query, page), limit)
            .await
            .map_err(|e| ActionError::api(e, None))?
    };
    ObjectList::from_api(&items)
}

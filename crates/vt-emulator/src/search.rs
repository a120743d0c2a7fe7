//! `GET /search` (an exact indicator lookup) and the premium
//! `GET /intelligence/search` over a fixed corpus of files.
//!
//! The intelligence corpus is every fixture file, upload and the EICAR file,
//! plus 300 synthetic files (`sha256("intelligence corpus <i>")` that the
//! world knows). Supported query terms, all of which must match:
//!
//! * a bare hash, URL, domain or IP: that object (as `/search` does);
//! * `type:X` — `type_tag` or `type_extension` equals X (`type:peexe`, `type:pdf`);
//! * `positives:N`, `positives:N+`, `positives:N-` (also `p:`) — malicious
//!   detections equal to, at least, at most N;
//! * `tag:X` — X among the tags; `name:X` — a name contains X;
//! * `entity:file` (the only entity). `content:` terms are refused with
//!   `UnsupportedContentQueryError`; any other modifier with `InvalidArgumentError`.

use crate::api_error::{ApiError, BaseUrl};
use crate::collection::{page, page_of, PageQuery};
use crate::downloads::require_premium;
use crate::gate::Caller;
use crate::world::{self, FileIdentity, WorldClass};
use crate::Emulator;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use ioc::{Indicator, IndicatorKind};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use vt_model::ErrorCode;

#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    pub query: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub descriptors_only: Option<String>,
}

impl SearchQuery {
    fn paging(&self) -> PageQuery {
        PageQuery {
            limit: self.limit.clone(),
            cursor: self.cursor.clone(),
        }
    }
}

impl Emulator {
    /// The object an indicator names, if the emulator knows it.
    pub(crate) fn indicator_object(
        &self,
        indicator: &Indicator,
        base: &BaseUrl,
    ) -> Result<Value, ApiError> {
        match indicator {
            Indicator::File(hash) => self.file_record(hash.as_str(), base).map(|r| r.object),
            Indicator::Url(url) => {
                self.remember_url(&url.sha256(), url.as_str());
                self.url_record(&url.sha256(), base).map(|r| r.object)
            }
            Indicator::Domain(domain) => self.domain_object(domain.as_str(), base),
            Indicator::Ip(ip) => self.ip_object(&ip.to_string(), base),
        }
    }
}

pub async fn search(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    let text = query
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .ok_or_else(|| ApiError::bad_request("Missing query parameter"))?;
    let window = query.paging().window(40)?;
    let found: Vec<Value> = Indicator::parse(text)
        .ok()
        .and_then(|i| emu.indicator_object(&i, &base).ok())
        .into_iter()
        .collect();
    Ok(Json(page_of(found, window, &base, "/search")))
}

/// What a query term asks of a file.
#[derive(Debug)]
enum Term {
    Exact(Indicator),
    Type(String),
    Positives {
        n: u64,
        /// `Greater` for `N+` (at least N), `Less` for `N-` (at most N), `Equal` for `N`.
        direction: std::cmp::Ordering,
    },
    Tag(String),
    Name(String),
}

fn parse_terms(query: &str) -> Result<Vec<Term>, ApiError> {
    let mut terms = Vec::new();
    for word in query.split_whitespace() {
        let Some((modifier, value)) = word.split_once(':').filter(|(m, _)| {
            m.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !m.is_empty()
                && !matches!(*m, "http" | "https")
        }) else {
            let indicator = Indicator::parse(word).map_err(|_| {
                ApiError::invalid_argument(format!("Cannot parse search term \"{word}\""))
            })?;
            terms.push(Term::Exact(indicator));
            continue;
        };
        let value = value.trim_matches('"').to_ascii_lowercase();
        match modifier.to_ascii_lowercase().as_str() {
            "type" => terms.push(Term::Type(value)),
            "tag" => terms.push(Term::Tag(value)),
            "name" => terms.push(Term::Name(value)),
            "entity" if value == "file" => {}
            "entity" => {
                return Err(ApiError::invalid_argument(format!(
                    "Only entity:file is supported by the emulator, not \"{value}\""
                )))
            }
            "positives" | "p" => {
                let (digits, direction) = if let Some(d) = value.strip_suffix('+') {
                    (d, std::cmp::Ordering::Greater)
                } else if let Some(d) = value.strip_suffix('-') {
                    (d, std::cmp::Ordering::Less)
                } else {
                    (value.as_str(), std::cmp::Ordering::Equal)
                };
                let n = digits.parse().map_err(|_| {
                    ApiError::invalid_argument(format!("Invalid positives value \"{value}\""))
                })?;
                terms.push(Term::Positives { n, direction });
            }
            "content" => {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedContentQuery,
                    "Content searches are not supported by the emulator",
                ))
            }
            other => {
                return Err(ApiError::invalid_argument(format!(
                    "Unsupported search modifier \"{other}\""
                )))
            }
        }
    }
    Ok(terms)
}

fn matches(terms: &[Term], attrs: &Value, id: &str) -> bool {
    let str_list = |key: &str| -> Vec<String> {
        attrs[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .collect()
            })
            .unwrap_or_default()
    };
    terms.iter().all(|term| match term {
        Term::Exact(Indicator::File(h)) => {
            ["md5", "sha1", "sha256"]
                .iter()
                .any(|k| attrs[*k] == h.as_str())
                || id == h.as_str()
        }
        Term::Exact(_) => false,
        Term::Type(t) => {
            attrs["type_tag"]
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case(t))
                || attrs["type_extension"]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(t))
        }
        Term::Positives { n, direction } => {
            let p = attrs["last_analysis_stats"]["malicious"]
                .as_u64()
                .unwrap_or(0);
            let order = p.cmp(n);
            order == std::cmp::Ordering::Equal || order == *direction
        }
        Term::Tag(t) => str_list("tags").contains(t),
        Term::Name(n) => str_list("names")
            .iter()
            .any(|name| name.contains(n.as_str())),
    })
}

/// The synthetic part of the corpus: (identity, attributes), built once.
fn synthetic_corpus() -> &'static [(FileIdentity, Value)] {
    static CORPUS: OnceLock<Vec<(FileIdentity, Value)>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        (0..400)
            .map(|i| {
                hex::encode(Sha256::digest(
                    format!("intelligence corpus {i}").as_bytes(),
                ))
            })
            .filter(|h| world::world_class(IndicatorKind::File, h) != WorldClass::Unknown)
            .take(300)
            .filter_map(|h| ioc::FileHash::parse(&h))
            .map(|h| {
                let identity = FileIdentity::derive(&h);
                let class = world::world_class(IndicatorKind::File, &identity.root);
                let attrs = serde_json::to_value(world::file_attributes(&identity, class))
                    .unwrap_or_else(|_| json!({}));
                (identity, attrs)
            })
            .collect()
    })
}

pub async fn intelligence_search(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Extension(caller): Extension<Caller>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Value>, ApiError> {
    require_premium(&caller)?;
    let text = query
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .ok_or_else(|| ApiError::bad_request("Missing query parameter"))?;
    let window = query.paging().window(300)?;
    let terms = parse_terms(text)?;
    let descriptors_only = query
        .descriptors_only
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");

    // An exact non-file indicator is a plain lookup.
    if let Some(Term::Exact(indicator)) = terms.first() {
        if terms.len() == 1 && !matches!(indicator, Indicator::File(_)) {
            let found: Vec<Value> = emu
                .indicator_object(indicator, &base)
                .ok()
                .into_iter()
                .collect();
            return Ok(Json(page_of(found, window, &base, "/intelligence/search")));
        }
    }

    let mut hits: Vec<String> = Vec::new();
    let mut consider = |id: &str, attrs: &Value| {
        if matches(&terms, attrs, id) && !hits.iter().any(|h| h == id) {
            hits.push(id.to_owned());
        }
    };
    for fixture in emu.fixtures().objects_of("file") {
        let id = fixture["id"].as_str().unwrap_or_default();
        consider(id, &fixture["attributes"]);
    }
    let dynamic: Vec<String> = {
        let store = emu.store();
        std::iter::once(world::EICAR_SHA256.to_owned())
            .chain(store.uploads.keys().cloned())
            .collect()
    };
    for sha256 in dynamic {
        if let Ok(record) = emu.file_record(&sha256, &base) {
            consider(&sha256, &record.object["attributes"]);
        }
    }
    if let Some(Term::Exact(Indicator::File(h))) =
        terms.iter().find(|t| matches!(t, Term::Exact(_)))
    {
        if let Ok(record) = emu.file_record(h.as_str(), &base) {
            let id = record.identity.sha256.clone();
            consider(&id, &record.object["attributes"]);
        }
    }
    for (identity, attrs) in synthetic_corpus() {
        if emu.class_of(IndicatorKind::File, &identity.root) != WorldClass::Unknown {
            consider(&identity.sha256, attrs);
        }
    }
    let total = hits.len();
    let items: Vec<Value> = hits
        .iter()
        .skip(window.offset)
        .take(window.limit)
        .map(|sha256| {
            if descriptors_only {
                json!({"type": "file", "id": sha256})
            } else {
                emu.file_record(sha256, &base)
                    .map(|r| r.object)
                    .unwrap_or_else(|_| json!({"type": "file", "id": sha256}))
            }
        })
        .collect();
    let mut doc = page(items, total, window, &base, "/intelligence/search");
    doc["meta"]["total_hits"] = json!(total);
    Ok(Json(doc))
}

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
//! * `entity:file` (the default), `entity:url`, `entity:domain`,
//!   `entity:ip`: which corpus is searched (for URLs, domains and IPs: what
//!   the emulator saw spelled out, fixtures, the example names and 200
//!   synthetic ones the world knows; `positives:` and `tag:` apply);
//! * `order=FIELD[+|-]` (query parameter): sort by `last_submission_date`,
//!   `first_submission_date`, `last_analysis_date`, `last_modification_date`,
//!   `creation_date`, `size`, `times_submitted`, `reputation` or `positives`,
//!   `-` (the default) descending, `+` ascending.
//!
//! `content:` terms are refused with `UnsupportedContentQueryError`; any
//! other modifier with `InvalidArgumentError`.

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
    pub order: Option<String>,
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

/// What a query term asks of an object.
#[derive(Debug)]
enum Term {
    Entity(Entity),
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
            "entity" => terms.push(Term::Entity(match value.as_str() {
                "file" => Entity::File,
                "url" => Entity::Url,
                "domain" => Entity::Domain,
                "ip" | "ip_address" => Entity::Ip,
                _ => {
                    return Err(ApiError::invalid_argument(format!(
                        "Unsupported entity \"{value}\" (file, url, domain, ip)"
                    )))
                }
            })),
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
        Term::Entity(_) => true,
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

/// Which kind of object an Intelligence search looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    File,
    Url,
    Domain,
    Ip,
}

/// `order=FIELD[+|-]`: the attribute to sort hits by, and whether descending.
fn parse_order(order: Option<&str>) -> Result<Option<(&'static str, bool)>, ApiError> {
    let Some(order) = order.map(str::trim).filter(|o| !o.is_empty()) else {
        return Ok(None);
    };
    let (field, descending) = match order.strip_suffix('+') {
        Some(f) => (f, false),
        None => (order.strip_suffix('-').unwrap_or(order), true),
    };
    const FIELDS: &[&str] = &[
        "last_submission_date",
        "first_submission_date",
        "last_analysis_date",
        "last_modification_date",
        "creation_date",
        "size",
        "times_submitted",
        "reputation",
        "positives",
    ];
    FIELDS
        .iter()
        .find(|f| **f == field)
        .map(|f| Some((*f, descending)))
        .ok_or_else(|| ApiError::invalid_argument(format!("Unsupported order \"{order}\"")))
}

fn sort_key(attrs: &Value, field: &str) -> i64 {
    let value = if field == "positives" {
        &attrs["last_analysis_stats"]["malicious"]
    } else {
        &attrs[field]
    };
    value.as_i64().unwrap_or(i64::MIN)
}

impl Emulator {
    fn fixture_ids(&self, kind: &str) -> Vec<String> {
        self.fixtures()
            .objects_of(kind)
            .into_iter()
            .filter_map(|o| o["id"].as_str().map(str::to_owned))
            .collect()
    }

    /// The corpus of URLs, domains or IPs: what was seen spelled out or is
    /// in a fixture, the example names, and synthetic ones the world knows.
    fn entity_corpus(&self, entity: Entity, base: &BaseUrl) -> Vec<Value> {
        let mut rng = fastrand::Rng::with_seed(0x5eed_c0de);
        let mut objects = Vec::new();
        match entity {
            Entity::File => {}
            Entity::Url => {
                let mut texts: Vec<String> = self.store().url_strings.values().cloned().collect();
                texts.extend((0..200).map(|_| world::synthetic_url_text(&mut rng)));
                for text in texts {
                    if let Ok(url) = ioc::Url::parse(&text) {
                        self.remember_url(&url.sha256(), url.as_str());
                        if let Ok(r) = self.url_record(&url.sha256(), base) {
                            objects.push(r.object);
                        }
                    }
                }
                let ids = self.fixture_ids("url");
                objects.extend(
                    ids.iter()
                        .filter_map(|id| self.url_record(id, base).ok())
                        .map(|r| r.object),
                );
            }
            Entity::Domain => {
                let names = crate::world_config::EXAMPLE_DOMAINS
                    .iter()
                    .map(|d| (*d).to_owned())
                    .chain((0..200).map(|_| world::synthetic_domain(&mut rng)));
                objects.extend(names.filter_map(|d| self.domain_object(&d, base).ok()));
                let ids = self.fixture_ids("domain");
                objects.extend(
                    ids.iter()
                        .filter_map(|id| self.domain_object(id, base).ok()),
                );
            }
            Entity::Ip => {
                let ips = crate::world_config::EXAMPLE_IPS
                    .iter()
                    .map(|d| (*d).to_owned())
                    .chain((0..200).map(|_| world::synthetic_ipv4(&mut rng)));
                objects.extend(ips.filter_map(|ip| self.ip_object(&ip, base).ok()));
                let ids = self.fixture_ids("ip_address");
                objects.extend(ids.iter().filter_map(|id| self.ip_object(id, base).ok()));
            }
        }
        let mut seen = std::collections::HashSet::new();
        objects.retain(|o| seen.insert(o["id"].as_str().unwrap_or_default().to_owned()));
        objects
    }
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
    let order = parse_order(query.order.as_deref())?;
    let descriptors_only = query
        .descriptors_only
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let entity = terms
        .iter()
        .find_map(|t| match t {
            Term::Entity(e) => Some(*e),
            _ => None,
        })
        .unwrap_or(Entity::File);

    // An exact non-file indicator is a plain lookup.
    if let Some(Term::Exact(indicator)) = terms.iter().find(|t| !matches!(t, Term::Entity(_))) {
        let exact_terms = terms
            .iter()
            .filter(|t| !matches!(t, Term::Entity(_)))
            .count();
        if exact_terms == 1 && !matches!(indicator, Indicator::File(_)) {
            let found: Vec<Value> = emu
                .indicator_object(indicator, &base)
                .ok()
                .into_iter()
                .collect();
            return Ok(Json(page_of(found, window, &base, "/intelligence/search")));
        }
    }

    // (id, attributes, the full object when already built).
    let mut hits: Vec<(String, Value, Option<Value>)> = Vec::new();
    if entity != Entity::File {
        for object in emu.entity_corpus(entity, &base) {
            let id = object["id"].as_str().unwrap_or_default().to_owned();
            if matches(&terms, &object["attributes"], &id) {
                hits.push((id, object["attributes"].clone(), Some(object)));
            }
        }
    } else {
        let mut consider = |id: &str, attrs: &Value| {
            if matches(&terms, attrs, id) && !hits.iter().any(|h| h.0 == id) {
                hits.push((id.to_owned(), attrs.clone(), None));
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
    }
    if let Some((field, descending)) = order {
        // Stable: ties keep the corpus order.
        hits.sort_by_key(|h| sort_key(&h.1, field));
        if descending {
            hits.reverse();
        }
    }
    let kind = match entity {
        Entity::File => "file",
        Entity::Url => "url",
        Entity::Domain => "domain",
        Entity::Ip => "ip_address",
    };
    let total = hits.len();
    let items: Vec<Value> = hits
        .into_iter()
        .skip(window.offset)
        .take(window.limit)
        .map(|(id, _, object)| {
            if descriptors_only {
                json!({"type": kind, "id": id})
            } else if let Some(object) = object {
                object
            } else {
                emu.file_record(&id, &base)
                    .map(|r| r.object)
                    .unwrap_or_else(|_| json!({"type": kind, "id": id}))
            }
        })
        .collect();
    let mut doc = page(items, total, window, &base, "/intelligence/search");
    doc["meta"]["total_hits"] = json!(total);
    Ok(Json(doc))
}

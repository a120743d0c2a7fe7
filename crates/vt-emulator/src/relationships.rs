//! Relationships: `GET /{collection}/{id}/{relationship}` (full objects) and
//! `GET /{collection}/{id}/relationships/{relationship}` (descriptors only).
//!
//! Related objects are drawn from a `fastrand::Rng` seeded with
//! `world::seed(kind, "<id>/<relationship>")`, so they are the same on every
//! call and run, and are chosen among ids the world knows. How many depends
//! on the parent's detections: clean objects have 0–6 related objects,
//! suspicious 1–12, malicious 5–24. One-to-one relationships
//! (`last_serving_ip_address`) always have their one object.
//!
//! A private file has a public file's relationships, drawn the same way
//! from its sha256, under `/private/files/{sha256}/...` for its owner only.

use crate::api_error::{ApiError, BaseUrl};
use crate::collection::{page, PageQuery};
use crate::downloads::require_premium;
use crate::gate::Caller;
use crate::world::{self, WorldClass};
use crate::Emulator;
use axum::extract::{MatchedPath, Path, Query, State};
use axum::{Extension, Json};
use ioc::IndicatorKind;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What kind of object a relationship points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Related {
    File,
    Url,
    Domain,
    Subdomain,
    Ip,
    Resolution,
}

/// Relationship names each collection supports, with what they point at.
pub const RELATIONSHIPS: &[(&str, &[(&str, Related)])] = &[
    (
        "files",
        &[
            ("contacted_ips", Related::Ip),
            ("contacted_domains", Related::Domain),
            ("contacted_urls", Related::Url),
            ("dropped_files", Related::File),
            ("execution_parents", Related::File),
            ("bundled_files", Related::File),
            ("similar_files", Related::File),
        ],
    ),
    (
        "urls",
        &[
            ("contacted_domains", Related::Domain),
            ("contacted_ips", Related::Ip),
            ("last_serving_ip_address", Related::Ip),
            ("redirecting_urls", Related::Url),
        ],
    ),
    (
        "domains",
        &[
            ("resolutions", Related::Resolution),
            ("subdomains", Related::Subdomain),
            ("communicating_files", Related::File),
            ("urls", Related::Url),
            ("downloaded_files", Related::File),
            ("referrer_files", Related::File),
        ],
    ),
    (
        "ip_addresses",
        &[
            ("resolutions", Related::Resolution),
            ("communicating_files", Related::File),
            ("urls", Related::Url),
        ],
    ),
];

const ONE_TO_ONE: &[&str] = &["last_serving_ip_address"];

/// One related object, before it is rendered.
#[derive(Debug, Clone)]
struct Item {
    kind: Related,
    id: String,
    /// The URL text (urls) or the host name (resolutions).
    text: Option<String>,
}

impl Item {
    fn type_name(&self) -> &'static str {
        match self.kind {
            Related::File => "file",
            Related::Url => "url",
            Related::Domain | Related::Subdomain => "domain",
            Related::Ip => "ip_address",
            Related::Resolution => "resolution",
        }
    }

    fn descriptor(&self) -> Value {
        json!({"type": self.type_name(), "id": self.id})
    }
}

/// The parent: its kind, canonical id and detections.
struct Parent {
    kind: IndicatorKind,
    id: String,
    class: WorldClass,
}

fn class_of(object: &Value) -> WorldClass {
    let malicious = object
        .pointer("/attributes/last_analysis_stats/malicious")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    match malicious {
        0 => WorldClass::Clean,
        1..=4 => WorldClass::Suspicious,
        _ => WorldClass::Malicious,
    }
}

impl Emulator {
    fn parent(&self, collection: &str, id: &str, base: &BaseUrl) -> Result<Parent, ApiError> {
        let (kind, id, object) = match collection {
            "files" => {
                let r = self.file_record(id, base)?;
                (IndicatorKind::File, r.identity.sha256.clone(), r.object)
            }
            "urls" => {
                let r = self.url_record(id, base)?;
                (IndicatorKind::Url, r.sha256, r.object)
            }
            "domains" => {
                let o = self.domain_object(id, base)?;
                (IndicatorKind::Domain, id.to_ascii_lowercase(), o)
            }
            _ => {
                let o = self.ip_object(id, base)?;
                let canonical = o["id"].as_str().unwrap_or(id).to_owned();
                (IndicatorKind::Ip, canonical, o)
            }
        };
        Ok(Parent {
            kind,
            id,
            class: class_of(&object),
        })
    }

    /// Renders an item as the full object (or a descriptor carrying an error).
    fn render(&self, item: &Item, base: &BaseUrl) -> Value {
        let rendered = match item.kind {
            Related::File => self.file_record(&item.id, base).map(|r| r.object),
            Related::Url => {
                if let Some(text) = &item.text {
                    self.remember_url(&item.id, text);
                }
                self.url_record(&item.id, base).map(|r| r.object)
            }
            Related::Domain | Related::Subdomain => self.domain_object(&item.id, base),
            Related::Ip => self.ip_object(&item.id, base),
            Related::Resolution => {
                let host = item.text.clone().unwrap_or_default();
                let ip = item.id.strip_suffix(&host).unwrap_or(&item.id).to_owned();
                let mut rng =
                    fastrand::Rng::with_seed(world::seed(IndicatorKind::Domain, &item.id));
                Ok(json!({
                    "type": "resolution",
                    "id": item.id,
                    "links": {"self": base.api(&format!("/resolutions/{}", item.id))},
                    "attributes": {
                        "date": world::world_epoch() - rng.i64(0..365 * 86_400),
                        "host_name": host,
                        "ip_address": ip,
                        "resolver": "VirusTotal",
                    },
                }))
            }
        };
        rendered.unwrap_or_else(|e| {
            json!({"type": item.type_name(), "id": item.id,
                   "error": {"code": e.code.as_str(), "message": e.message}})
        })
    }
}

fn spec(collection: &str, relationship: &str) -> Option<Related> {
    RELATIONSHIPS
        .iter()
        .find(|(c, _)| *c == collection)
        .and_then(|(_, rels)| rels.iter().find(|(r, _)| *r == relationship))
        .map(|(_, kind)| *kind)
}

/// Draws until `known` accepts (a few tries), so related ids mostly exist.
fn draw_known(
    mut draw: impl FnMut() -> (String, Option<String>),
    known: impl Fn(&str) -> bool,
) -> (String, Option<String>) {
    let mut candidate = draw();
    for _ in 0..8 {
        if known(&candidate.0) {
            break;
        }
        candidate = draw();
    }
    candidate
}

fn known(kind: IndicatorKind) -> impl Fn(&str) -> bool {
    move |id| world::world_class(kind, id) != WorldClass::Unknown
}

fn items(parent: &Parent, relationship: &str, related: Related) -> Vec<Item> {
    let mut rng = fastrand::Rng::with_seed(world::seed(
        parent.kind,
        &format!("{}/{relationship}", parent.id),
    ));
    let count = if ONE_TO_ONE.contains(&relationship) {
        1
    } else {
        match parent.class {
            WorldClass::Malicious => rng.usize(5..=24),
            WorldClass::Suspicious => rng.usize(1..=12),
            WorldClass::Clean | WorldClass::Unknown => rng.usize(0..=6),
        }
    };
    let mut counter = 0u32;
    (0..count)
        .map(|_| {
            let (id, text) = match related {
                Related::File => draw_known(
                    || {
                        counter += 1;
                        let digest = Sha256::digest(
                            format!("{}/{relationship}/{counter}", parent.id).as_bytes(),
                        );
                        (hex::encode(digest), None)
                    },
                    known(IndicatorKind::File),
                ),
                Related::Domain => draw_known(
                    || (world::synthetic_domain(&mut rng), None),
                    known(IndicatorKind::Domain),
                ),
                Related::Subdomain => draw_known(
                    || {
                        (
                            format!("{}.{}", world::synthetic_label(&mut rng), parent.id),
                            None,
                        )
                    },
                    known(IndicatorKind::Domain),
                ),
                Related::Ip => draw_known(
                    || (world::synthetic_ipv4(&mut rng), None),
                    known(IndicatorKind::Ip),
                ),
                Related::Url => draw_known(
                    || {
                        let text = world::synthetic_url_text(&mut rng);
                        let canonical = ioc::Url::parse(&text)
                            .map(|u| u.as_str().to_owned())
                            .unwrap_or(text);
                        (ioc::url_sha256(&canonical), Some(canonical))
                    },
                    known(IndicatorKind::Url),
                ),
                Related::Resolution => {
                    if parent.kind == IndicatorKind::Domain {
                        let (ip, _) = draw_known(
                            || (world::synthetic_ipv4(&mut rng), None),
                            known(IndicatorKind::Ip),
                        );
                        (format!("{ip}{}", parent.id), Some(parent.id.clone()))
                    } else {
                        let (domain, _) = draw_known(
                            || (world::synthetic_domain(&mut rng), None),
                            known(IndicatorKind::Domain),
                        );
                        (format!("{}{domain}", parent.id), Some(domain))
                    }
                }
            };
            Item {
                kind: related,
                id,
                text,
            }
        })
        .collect()
}

impl Emulator {
    /// `relationships` for `?relationships=a,b` on an object GET: the first
    /// page (10) of descriptors of each named relationship, with its links
    /// and count. Unknown names are skipped.
    pub(crate) fn embed_relationships(
        &self,
        collection: &str,
        object: &mut Value,
        names: &str,
        base: &BaseUrl,
    ) {
        let Some(id) = object["id"].as_str().map(str::to_owned) else {
            return;
        };
        let parent = Parent {
            kind: match collection {
                "files" => IndicatorKind::File,
                "urls" => IndicatorKind::Url,
                "domains" => IndicatorKind::Domain,
                _ => IndicatorKind::Ip,
            },
            id: id.clone(),
            class: class_of(object),
        };
        let mut embedded = serde_json::Map::new();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let Some(related) = spec(collection, name) else {
                continue;
            };
            let all = items(&parent, name, related);
            let links = json!({
                "self": base.api(&format!("/{collection}/{id}/relationships/{name}")),
                "related": base.api(&format!("/{collection}/{id}/{name}")),
            });
            let entry = if ONE_TO_ONE.contains(&name) {
                json!({"data": all.first().map(Item::descriptor), "links": links})
            } else {
                let data: Vec<Value> = all.iter().take(10).map(Item::descriptor).collect();
                let mut meta = json!({"count": all.len()});
                if all.len() > 10 {
                    meta["cursor"] = json!(crate::collection::encode_cursor(10));
                }
                json!({"data": data, "links": links, "meta": meta})
            };
            embedded.insert(name.to_owned(), entry);
        }
        object["relationships"] = Value::Object(embedded);
    }
}

/// (collection, full objects?) from the matched route template.
fn route_shape(matched: &MatchedPath) -> (&str, bool) {
    let template = matched.as_str().trim_start_matches("/api/v3/");
    let collection = template.split('/').next().unwrap_or_default();
    (collection, !template.contains("/relationships/"))
}

fn unknown_relationship(relationship: &str, collection: &str) -> ApiError {
    ApiError::invalid_argument(format!(
        "Unknown relationship \"{relationship}\" for {collection}"
    ))
}

/// One page of `parent`'s `relationship` (full objects or descriptors),
/// linked under `prefix` (`/files`, `/private/files`, ...).
fn relationship_page(
    emu: &Emulator,
    base: &BaseUrl,
    parent: &Parent,
    prefix: &str,
    (relationship, related): (&str, Related),
    full: bool,
    query: &PageQuery,
) -> Result<Json<Value>, ApiError> {
    let all = items(parent, relationship, related);
    let path = if full {
        format!("{prefix}/{}/{relationship}", parent.id)
    } else {
        format!("{prefix}/{}/relationships/{relationship}", parent.id)
    };
    let render = |item: &Item| {
        if full {
            emu.render(item, base)
        } else {
            item.descriptor()
        }
    };
    if ONE_TO_ONE.contains(&relationship) {
        let data = all.first().map(render).unwrap_or(Value::Null);
        return Ok(Json(
            json!({"data": data, "links": {"self": base.api(&path)}}),
        ));
    }
    let window = query.window(40)?;
    let page_items = all
        .iter()
        .skip(window.offset)
        .take(window.limit)
        .map(render)
        .collect();
    Ok(Json(page(page_items, all.len(), window, base, &path)))
}

pub async fn related(
    State(emu): State<Emulator>,
    base: BaseUrl,
    matched: MatchedPath,
    Path((id, relationship)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (collection, full) = route_shape(&matched);
    let related = spec(collection, &relationship)
        .ok_or_else(|| unknown_relationship(&relationship, collection))?;
    let parent = emu.parent(collection, &id, &base)?;
    relationship_page(
        &emu,
        &base,
        &parent,
        &format!("/{collection}"),
        (&relationship, related),
        full,
        &query,
    )
}

/// `GET /private/files/{sha256}/{relationship}` and `.../relationships/...`:
/// the same relationships as a public file's, drawn from its sha256 and
/// detections, but only for the key that uploaded it (404 for any other).
pub async fn private_file_related(
    State(emu): State<Emulator>,
    base: BaseUrl,
    matched: MatchedPath,
    Extension(caller): Extension<Caller>,
    Path((id, relationship)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    require_premium(&caller)?;
    let full = !matched.as_str().contains("/relationships/");
    let related = spec("files", &relationship)
        .ok_or_else(|| unknown_relationship(&relationship, "private files"))?;
    let sha256 = crate::private::sha256_of(&id)?;
    let object = emu.private_file_object(&caller.key, &sha256, &base)?;
    let parent = Parent {
        kind: IndicatorKind::File,
        id: sha256,
        class: class_of(&object),
    };
    relationship_page(
        &emu,
        &base,
        &parent,
        "/private/files",
        (&relationship, related),
        full,
        &query,
    )
}

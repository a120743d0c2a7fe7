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
//!
//! Which relationships exist, what they point at, which are premium-only
//! and which carry `context_attributes` is [`crate::relationship_table`].

use crate::api_error::{ApiError, BaseUrl};
use crate::collection::{page, PageQuery};
use crate::downloads::require_premium;
use crate::gate::Caller;
use crate::relationship_table::{self, Access, Context, Related, Relationship};
use crate::world::{self, WorldClass};
use crate::Emulator;
use axum::extract::{MatchedPath, Path, Query, State};
use axum::{Extension, Json};
use ioc::IndicatorKind;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// What one related item is, before it is rendered.
#[derive(Debug, Clone)]
enum ItemKind {
    File,
    Url,
    Domain,
    Ip,
    Resolution,
    /// An object built whole when drawn (comments, whois records, ...).
    Built(Value),
}

/// One related object.
#[derive(Debug, Clone)]
struct Item {
    kind: ItemKind,
    id: String,
    /// The URL text (urls) or the host name (resolutions).
    text: Option<String>,
}

impl Item {
    fn simple(kind: ItemKind, id: String) -> Item {
        Item {
            kind,
            id,
            text: None,
        }
    }

    fn type_name(&self) -> &str {
        match &self.kind {
            ItemKind::File => "file",
            ItemKind::Url => "url",
            ItemKind::Domain => "domain",
            ItemKind::Ip => "ip_address",
            ItemKind::Resolution => "resolution",
            ItemKind::Built(object) => object["type"].as_str().unwrap_or("object"),
        }
    }

    /// `{type, id}` and, where the relationship has them, `context_attributes`.
    fn descriptor(&self, context: Context) -> Value {
        let mut descriptor = json!({"type": self.type_name(), "id": self.id});
        if let (Context::Url, Some(text)) = (context, &self.text) {
            descriptor["context_attributes"] = json!({ "url": text });
        }
        descriptor
    }
}

/// The parent: its collection, kind, canonical id, detections and (for
/// URLs) its text.
struct Parent {
    collection: &'static str,
    kind: IndicatorKind,
    id: String,
    class: WorldClass,
    text: Option<String>,
}

/// The class an object's detections put it in.
pub(crate) fn class_of_object(object: &Value) -> WorldClass {
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

fn collection_static(collection: &str) -> &'static str {
    match collection {
        "files" => "files",
        "urls" => "urls",
        "domains" => "domains",
        _ => "ip_addresses",
    }
}

impl Emulator {
    fn parent(&self, collection: &str, id: &str, base: &BaseUrl) -> Result<Parent, ApiError> {
        let collection = collection_static(collection);
        let (kind, id, object, text) = match collection {
            "files" => {
                let r = self.file_record(id, base)?;
                (
                    IndicatorKind::File,
                    r.identity.sha256.clone(),
                    r.object,
                    None,
                )
            }
            "urls" => {
                let r = self.url_record(id, base)?;
                (IndicatorKind::Url, r.sha256, r.object, Some(r.url))
            }
            "domains" => {
                let o = self.domain_object(id, base)?;
                let canonical = o["id"].as_str().unwrap_or(id).to_ascii_lowercase();
                (IndicatorKind::Domain, canonical, o, None)
            }
            _ => {
                let o = self.ip_object(id, base)?;
                let canonical = o["id"].as_str().unwrap_or(id).to_owned();
                (IndicatorKind::Ip, canonical, o, None)
            }
        };
        Ok(Parent {
            collection,
            kind,
            id,
            class: class_of_object(&object),
            text,
        })
    }

    /// Renders an item as the full object (or a descriptor carrying an error).
    fn render(&self, item: &Item, context: Context, base: &BaseUrl) -> Value {
        let rendered = match &item.kind {
            ItemKind::File => self.file_record(&item.id, base).map(|r| r.object),
            ItemKind::Url => {
                if let Some(text) = &item.text {
                    self.remember_url(&item.id, text);
                }
                self.url_record(&item.id, base).map(|r| r.object)
            }
            ItemKind::Domain => self.domain_object(&item.id, base),
            ItemKind::Ip => self.ip_object(&item.id, base),
            ItemKind::Resolution => {
                let host = item.text.clone().unwrap_or_default();
                let ip = item.id.strip_suffix(&host).unwrap_or(&item.id).to_owned();
                Ok(crate::world_extras::resolution_object(
                    &item.id, &ip, &host, base,
                ))
            }
            ItemKind::Built(object) => Ok(object.clone()),
        };
        match rendered {
            Ok(mut object) => {
                if let (Context::Url, Some(text)) = (context, &item.text) {
                    object["context_attributes"] = json!({ "url": text });
                }
                object
            }
            Err(e) => json!({"type": item.type_name(), "id": item.id,
                   "error": {"code": e.code.as_str(), "message": e.message}}),
        }
    }
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

fn known(emu: &Emulator, kind: IndicatorKind) -> impl Fn(&str) -> bool + '_ {
    move |id| emu.class_of(kind, id) != WorldClass::Unknown
}

/// How many items a many-relationship of a parent of this class has.
fn many_count(rng: &mut fastrand::Rng, class: WorldClass) -> usize {
    match class {
        WorldClass::Malicious => rng.usize(5..=24),
        WorldClass::Suspicious => rng.usize(1..=12),
        WorldClass::Clean | WorldClass::Unknown => rng.usize(0..=6),
    }
}

/// The host of a URL's text (no user info, no port), lower-cased.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_once(']')
            .map_or(host, |(h, _)| h)
            .trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or(host)
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// `a.b.c` -> `b.c`; none for a name of two labels or fewer.
fn parent_domain(domain: &str) -> Option<String> {
    let (_, rest) = domain.split_once('.')?;
    rest.contains('.').then(|| rest.to_owned())
}

impl Emulator {
    /// Every item of `parent`'s relationship, in a fixed order.
    fn items(
        &self,
        parent: &Parent,
        relationship: &Relationship,
        caller: &str,
        base: &BaseUrl,
    ) -> Vec<Item> {
        let name = relationship.name;
        let mut rng =
            fastrand::Rng::with_seed(world::seed(parent.kind, &format!("{}/{name}", parent.id)));
        let store_key = format!("{}/{}", parent.collection, parent.id);
        let built = |object: Value| {
            let id = object["id"].as_str().unwrap_or_default().to_owned();
            Item::simple(ItemKind::Built(object), id)
        };
        match relationship.target {
            Related::Nothing => Vec::new(),
            Related::Comment => {
                let mut all: Vec<Item> = self
                    .store()
                    .comments
                    .get(&store_key)
                    .map(|c| c.iter().cloned().map(built).collect())
                    .unwrap_or_default();
                all.reverse();
                all
            }
            Related::Vote => {
                let own_only = name == "user_votes";
                let mut all: Vec<Item> = self
                    .store()
                    .votes
                    .get(&store_key)
                    .map(|votes| {
                        votes
                            .iter()
                            .filter(|v| !own_only || v.key == caller)
                            .map(|v| built(v.object.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                all.reverse();
                all
            }
            Related::Whois => (0..rng.usize(1..=4))
                .map(|n| built(crate::world_extras::whois_object(&parent.id, n)))
                .collect(),
            Related::SslCert => (0..rng.usize(1..=3))
                .map(|n| built(crate::world_extras::ssl_cert_object(&parent.id, n)))
                .collect(),
            Related::Behaviour => crate::world_extras::sandboxes_of(&parent.id, parent.class)
                .into_iter()
                .map(|sandbox| {
                    built(crate::world_extras::behaviour_object(
                        &parent.id,
                        sandbox,
                        parent.class,
                        base,
                    ))
                })
                .collect(),
            Related::SigmaAnalysis => vec![built(crate::world_extras::sigma_analysis_object(
                &parent.id,
                parent.class,
                base,
            ))],
            Related::ParentDomain => parent_domain(&parent.id)
                .map(|d| Item::simple(ItemKind::Domain, d))
                .into_iter()
                .collect(),
            Related::NetworkLocation => {
                let host = parent.text.as_deref().and_then(url_host);
                host.map(|h| {
                    let kind = if h.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
                        ItemKind::Ip
                    } else {
                        ItemKind::Domain
                    };
                    Item::simple(kind, h.trim_matches(['[', ']']).to_owned())
                })
                .into_iter()
                .collect()
            }
            Related::DnsHost => {
                let hosts: &[&str] = match name {
                    "mx_records" => &["mail"],
                    "soa_records" => &["ns1"],
                    _ => &["ns1", "ns2"],
                };
                hosts
                    .iter()
                    .map(|h| Item::simple(ItemKind::Domain, format!("{h}.{}", parent.id)))
                    .collect()
            }
            // An empty world holds no drawn objects.
            _ if !self.world_is_synthetic() => Vec::new(),
            target => {
                let count = if relationship.one_to_one {
                    1
                } else {
                    many_count(&mut rng, parent.class)
                };
                let mut counter = 0u32;
                (0..count)
                    .map(|_| self.draw_item(parent, name, target, &mut rng, &mut counter))
                    .collect()
            }
        }
    }

    /// One drawn item of a world-backed target (files, URLs, hosts, IPs, resolutions).
    fn draw_item(
        &self,
        parent: &Parent,
        name: &str,
        target: Related,
        rng: &mut fastrand::Rng,
        counter: &mut u32,
    ) -> Item {
        let (kind, (id, text)) = match target {
            Related::File => (
                ItemKind::File,
                draw_known(
                    || {
                        *counter += 1;
                        let digest =
                            Sha256::digest(format!("{}/{name}/{counter}", parent.id).as_bytes());
                        (hex::encode(digest), None)
                    },
                    known(self, IndicatorKind::File),
                ),
            ),
            Related::Subdomain => (
                ItemKind::Domain,
                draw_known(
                    || {
                        (
                            format!("{}.{}", world::synthetic_label(rng), parent.id),
                            None,
                        )
                    },
                    known(self, IndicatorKind::Domain),
                ),
            ),
            Related::Sibling => {
                let base = parent_domain(&parent.id);
                (
                    ItemKind::Domain,
                    draw_known(
                        || match &base {
                            Some(b) => (format!("{}.{b}", world::synthetic_label(rng)), None),
                            None => (world::synthetic_domain(rng), None),
                        },
                        |d| d != parent.id && known(self, IndicatorKind::Domain)(d),
                    ),
                )
            }
            Related::Ip => (
                ItemKind::Ip,
                draw_known(
                    || (world::synthetic_ipv4(rng), None),
                    known(self, IndicatorKind::Ip),
                ),
            ),
            Related::Url => (
                ItemKind::Url,
                draw_known(
                    || {
                        let text = world::synthetic_url_text(rng);
                        let canonical = ioc::Url::parse(&text)
                            .map(|u| u.as_str().to_owned())
                            .unwrap_or(text);
                        (ioc::url_sha256(&canonical), Some(canonical))
                    },
                    known(self, IndicatorKind::Url),
                ),
            ),
            Related::Resolution => {
                if parent.kind == IndicatorKind::Domain {
                    let (ip, _) = draw_known(
                        || (world::synthetic_ipv4(rng), None),
                        known(self, IndicatorKind::Ip),
                    );
                    (
                        ItemKind::Resolution,
                        (format!("{ip}{}", parent.id), Some(parent.id.clone())),
                    )
                } else {
                    let (domain, _) = draw_known(
                        || (world::synthetic_domain(rng), None),
                        known(self, IndicatorKind::Domain),
                    );
                    (
                        ItemKind::Resolution,
                        (format!("{}{domain}", parent.id), Some(domain)),
                    )
                }
            }
            _ => (
                ItemKind::Domain,
                draw_known(
                    || (world::synthetic_domain(rng), None),
                    known(self, IndicatorKind::Domain),
                ),
            ),
        };
        Item { kind, id, text }
    }

    /// `relationships` for `?relationships=a,b` on an object GET: the first
    /// page (10) of descriptors of each named relationship, with its links
    /// and count. Unknown names, and premium-only ones for a public key,
    /// are skipped.
    pub(crate) fn embed_relationships(
        &self,
        collection: &str,
        object: &mut Value,
        names: &str,
        base: &BaseUrl,
        caller: &Caller,
    ) {
        let Some(id) = object["id"].as_str().map(str::to_owned) else {
            return;
        };
        let collection = collection_static(collection);
        let parent = Parent {
            collection,
            kind: match collection {
                "files" => IndicatorKind::File,
                "urls" => IndicatorKind::Url,
                "domains" => IndicatorKind::Domain,
                _ => IndicatorKind::Ip,
            },
            id: id.clone(),
            class: class_of_object(object),
            text: object
                .pointer("/attributes/url")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        let mut embedded = serde_json::Map::new();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let Some(relationship) = relationship_table::find(collection, name) else {
                continue;
            };
            if relationship.access == Access::Premium && !caller.premium {
                continue;
            }
            let all = self.items(&parent, relationship, &caller.key, base);
            let links = json!({
                "self": base.api(&format!("/{collection}/{id}/relationships/{name}")),
                "related": base.api(&format!("/{collection}/{id}/{name}")),
            });
            let context = relationship.context;
            let entry = if relationship.one_to_one {
                json!({"data": all.first().map(|i| i.descriptor(context)), "links": links})
            } else {
                let data: Vec<Value> = all.iter().take(10).map(|i| i.descriptor(context)).collect();
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

/// The row for a relationship a caller asks for: 400 if the API has no
/// such relationship, 403 if it is premium-only and the key is public.
fn allowed(
    collection: &str,
    name: &str,
    shown_as: &str,
    caller: &Caller,
) -> Result<&'static Relationship, ApiError> {
    let relationship = relationship_table::find(collection, name)
        .ok_or_else(|| unknown_relationship(name, shown_as))?;
    if relationship.access == Access::Premium {
        require_premium(caller)?;
    }
    Ok(relationship)
}

/// One page of `parent`'s `relationship` (full objects or descriptors),
/// linked under `prefix` (`/files`, `/private/files`, ...).
fn relationship_page(
    emu: &Emulator,
    base: &BaseUrl,
    parent: &Parent,
    prefix: &str,
    (relationship, caller): (&Relationship, &Caller),
    full: bool,
    query: &PageQuery,
) -> Result<Json<Value>, ApiError> {
    let name = relationship.name;
    let all = emu.items(parent, relationship, &caller.key, base);
    let path = if full {
        format!("{prefix}/{}/{name}", parent.id)
    } else {
        format!("{prefix}/{}/relationships/{name}", parent.id)
    };
    let context = relationship.context;
    let render = |item: &Item| {
        if full {
            emu.render(item, context, base)
        } else {
            item.descriptor(context)
        }
    };
    if relationship.one_to_one {
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
    Extension(caller): Extension<Caller>,
    Path((id, relationship)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (collection, full) = route_shape(&matched);
    let relationship = allowed(collection, &relationship, collection, &caller)?;
    let parent = emu.parent(collection, &id, &base)?;
    relationship_page(
        &emu,
        &base,
        &parent,
        &format!("/{}", parent.collection),
        (relationship, &caller),
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
    let relationship = allowed("files", &relationship, "private files", &caller)?;
    let sha256 = crate::private::sha256_of(&id)?;
    let object = emu.private_file_object(&caller.key, &sha256, &base)?;
    let parent = Parent {
        collection: "files",
        kind: IndicatorKind::File,
        id: sha256,
        class: class_of_object(&object),
        text: None,
    };
    relationship_page(
        &emu,
        &base,
        &parent,
        "/private/files",
        (relationship, &caller),
        full,
        &query,
    )
}

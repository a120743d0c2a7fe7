//! Resolving an id to the object the API would answer with: fixtures first,
//! then the built-in EICAR file, uploads, and the synthetic world; every
//! completed analysis moves the object's `last_analysis_date`.

use crate::api_error::{ApiError, BaseUrl};
use crate::store::{Analysis, Stage, Target};
use crate::world::{self, FileIdentity, WorldClass};
use crate::Emulator;
use base64::Engine;
use ioc::{FileHash, IndicatorKind};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use vt_model::{DomainAttributes, FileAttributes, IpAddressAttributes, UrlAttributes};

/// A file the emulator can answer for.
#[derive(Debug, Clone)]
pub struct FileRecord {
    pub identity: Arc<FileIdentity>,
    pub size: u64,
    /// The object (`type`, `id`, `links`, `attributes`).
    pub object: Value,
}

/// A URL the emulator can answer for.
#[derive(Debug, Clone)]
pub struct UrlRecord {
    pub sha256: String,
    pub url: String,
    pub object: Value,
}

fn file_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("File \"{id}\" not found"))
}

fn url_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("URL \"{id}\" not found"))
}

/// Public-community fields make no sense for a private sample or URL.
fn strip_community_fields(map: &mut serde_json::Map<String, Value>) {
    for field in [
        "reputation",
        "total_votes",
        "times_submitted",
        "unique_sources",
        "first_submission_date",
        "last_submission_date",
    ] {
        map.remove(field);
    }
}

/// Before its first analysis completes, a private object has no results.
fn strip_analysis_fields(map: &mut serde_json::Map<String, Value>) {
    for field in [
        "last_analysis_date",
        "last_analysis_stats",
        "last_analysis_results",
    ] {
        map.remove(field);
    }
}

/// Wraps attributes into an object with `links.self`.
fn object(kind: &str, collection: &str, id: &str, attributes: Value, base: &BaseUrl) -> Value {
    json!({
        "type": kind,
        "id": id,
        "links": {"self": base.api(&format!("/{collection}/{id}"))},
        "attributes": attributes,
    })
}

/// A fixture object with this request's `links.self` and, when an analysis
/// completed since, a later `last_analysis_date`.
fn fixture_object(
    fixture: &Value,
    collection: &str,
    base: &BaseUrl,
    analysed: Option<i64>,
) -> Value {
    let mut obj = fixture.clone();
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    obj["links"] = json!({"self": base.api(&format!("/{collection}/{id}"))});
    if let (Some(date), Some(attrs)) = (
        analysed,
        obj.get_mut("attributes").and_then(Value::as_object_mut),
    ) {
        let current = attrs
            .get("last_analysis_date")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        attrs.insert("last_analysis_date".into(), json!(current.max(date)));
    }
    obj
}

fn to_value<T: serde::Serialize>(attributes: &T) -> Value {
    serde_json::to_value(attributes).unwrap_or_else(|_| json!({}))
}

/// An object as the emulator builds it: a fixture's JSON, or typed
/// attributes from the world, serialised once, straight into the answer
/// (building a `Value` tree first cost more than the rest of a request).
#[derive(Debug, Clone)]
pub(crate) enum Built<A> {
    Fixture(Value),
    Typed(vt_model::Object<A>),
}

impl<A: serde::Serialize> Built<A> {
    pub(crate) fn into_value(self) -> Value {
        match self {
            Built::Fixture(v) => v,
            Built::Typed(o) => to_value(&o),
        }
    }
}

/// Typed attributes wrapped into an object with `links.self`.
fn typed<A>(kind: &str, collection: &str, id: &str, attributes: A, base: &BaseUrl) -> Built<A> {
    Built::Typed(
        vt_model::Object::new(kind, id, attributes)
            .with_self_link(base.api(&format!("/{collection}/{id}"))),
    )
}

/// A later analysis moves `last_analysis_date` forward.
fn bump_date(date: &mut Option<i64>, analysed: Option<i64>) {
    if let Some(analysed) = analysed {
        *date = Some(date.unwrap_or(0).max(analysed));
    }
}

impl Emulator {
    /// The file named by any of its hashes.
    pub(crate) fn file_record(&self, id: &str, base: &BaseUrl) -> Result<FileRecord, ApiError> {
        let (identity, size, object) = self.file_built(id, base)?;
        Ok(FileRecord {
            identity,
            size,
            object: object.into_value(),
        })
    }

    /// The file named by any of its hashes: its identity, size and object.
    pub(crate) fn file_built(
        &self,
        id: &str,
        base: &BaseUrl,
    ) -> Result<(Arc<FileIdentity>, u64, Built<FileAttributes>), ApiError> {
        let hash = FileHash::parse(id).ok_or_else(|| file_not_found(id))?;
        let h = hash.as_str();
        let now = Instant::now();
        if let Some(fixture) = self.fixtures().object("file", h) {
            let attrs = fixture.get("attributes");
            let field = |name: &str| {
                attrs
                    .and_then(|a| a.get(name))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            };
            let sha256 = fixture
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or(h)
                .to_ascii_lowercase();
            let identity = Arc::new(FileIdentity::real(field("md5"), field("sha1"), sha256));
            let size = attrs
                .and_then(|a| a.get("size"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let analysed = self
                .store()
                .last_completion(&format!("file:{}", identity.sha256), now);
            let object = Built::Fixture(fixture_object(fixture, "files", base, analysed));
            return Ok((identity, size, object));
        }
        let (identity, upload, analysed) = {
            let store = self.store();
            match store.file_aliases.get(h) {
                Some(identity) => {
                    let upload = store
                        .uploads
                        .get(&identity.sha256)
                        .map(|u| (u.size, u.name.clone()));
                    let analysed = store.last_completion(&format!("file:{}", identity.sha256), now);
                    (Some(identity.clone()), upload, analysed)
                }
                None => (None, None, None),
            }
        };
        let identity = match identity {
            Some(identity) => identity,
            None if world::is_eicar(h) => Arc::new(FileIdentity::eicar()),
            None if crate::world_config::builtin_file(h).is_some() => {
                crate::world_config::builtin_identity(h)
            }
            None => {
                if self.class_of(IndicatorKind::File, h) == WorldClass::Unknown {
                    return Err(file_not_found(id));
                }
                let identity = Arc::new(FileIdentity::derive(&hash));
                let mut store = self.store_mut();
                for alias in [&identity.md5, &identity.sha1, &identity.sha256] {
                    store
                        .file_aliases
                        .entry(alias.clone())
                        .or_insert_with(|| identity.clone());
                }
                identity
            }
        };
        let mut attributes = if identity.sha256 == world::EICAR_SHA256 {
            world::eicar_attributes()
        } else {
            let class = self.class_of(IndicatorKind::File, &identity.root);
            if class == WorldClass::Unknown && analysed.is_none() {
                // An upload the world did not know: unknown until analysed.
                return Err(file_not_found(id));
            }
            let mut attributes = world::file_attributes(&identity, class);
            if crate::world_config::is_empty_file(&identity.sha256) {
                crate::world_config::make_empty_file(&mut attributes);
            }
            if let Some((_, Some(name))) = &upload {
                attributes.meaningful_name = Some(name.clone());
                attributes
                    .names
                    .get_or_insert_with(Vec::new)
                    .insert(0, name.clone());
            }
            attributes
        };
        if let Some((size, _)) = &upload {
            attributes.size = Some(*size);
        }
        let size = attributes.size.unwrap_or(0);
        bump_date(&mut attributes.last_analysis_date, analysed);
        let object = typed("file", "files", &identity.sha256, attributes, base);
        Ok((identity, size, object))
    }

    /// Remembers the canonical text of a URL, so its sha256 id resolves to it.
    pub(crate) fn remember_url(&self, sha256: &str, url: &str) {
        if self.store().url_strings.contains_key(sha256) {
            return;
        }
        self.store_mut()
            .url_strings
            .insert(sha256.to_owned(), url.to_owned());
    }

    /// The URL named by its sha256 or its unpadded base64url id.
    pub(crate) fn url_record(&self, id: &str, base: &BaseUrl) -> Result<UrlRecord, ApiError> {
        let (sha256, url, object) = self.url_built(id, base)?;
        Ok(UrlRecord {
            sha256,
            url,
            object: object.into_value(),
        })
    }

    /// The URL named by its sha256 or unpadded base64url id: its sha256,
    /// its text and its object.
    pub(crate) fn url_built(
        &self,
        id: &str,
        base: &BaseUrl,
    ) -> Result<(String, String, Built<UrlAttributes>), ApiError> {
        let (sha256, spelled) = if let Some(sha) = ioc::Sha256::parse(id) {
            (sha.as_str().to_owned(), None)
        } else {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(id.trim_end_matches('='))
                .map_err(|_| url_not_found(id))?;
            let text = String::from_utf8(raw).map_err(|_| url_not_found(id))?;
            let url = ioc::Url::parse(&text).map_err(|_| url_not_found(id))?;
            let sha = url.sha256();
            self.remember_url(&sha, url.as_str());
            (sha, Some(url.as_str().to_owned()))
        };
        let now = Instant::now();
        let (known_text, analysed) = {
            let store = self.store();
            (
                store.url_strings.get(&sha256).cloned(),
                store.last_completion(&format!("url:{sha256}"), now),
            )
        };
        if let Some(fixture) = self.fixtures().object("url", &sha256) {
            let url = fixture
                .pointer("/attributes/url")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or(spelled)
                .or(known_text)
                .unwrap_or_default();
            let object = Built::Fixture(fixture_object(fixture, "urls", base, analysed));
            return Ok((sha256, url, object));
        }
        let class = self.class_of(IndicatorKind::Url, &sha256);
        if class == WorldClass::Unknown && analysed.is_none() {
            return Err(url_not_found(id));
        }
        // A URL is known by its text: an id never seen spelled out is 404,
        // as the real API answers for a URL it never saw.
        let url = spelled.or(known_text).ok_or_else(|| url_not_found(id))?;
        let mut attributes = world::url_attributes(&sha256, &url, class);
        bump_date(&mut attributes.last_analysis_date, analysed);
        let object = typed("url", "urls", &sha256, attributes, base);
        Ok((sha256, url, object))
    }

    pub(crate) fn domain_object(&self, id: &str, base: &BaseUrl) -> Result<Value, ApiError> {
        self.domain_built(id, base).map(Built::into_value)
    }

    pub(crate) fn domain_built(
        &self,
        id: &str,
        base: &BaseUrl,
    ) -> Result<Built<DomainAttributes>, ApiError> {
        let domain = ioc::Domain::parse(id).ok_or_else(|| {
            ApiError::invalid_argument(format!("Domain \"{id}\" is not a valid domain pattern"))
        })?;
        let name = domain.as_str();
        if let Some(fixture) = self.fixtures().object("domain", name) {
            return Ok(Built::Fixture(fixture_object(
                fixture, "domains", base, None,
            )));
        }
        let class = self.class_of(IndicatorKind::Domain, name);
        if class == WorldClass::Unknown {
            return Err(ApiError::not_found(format!("Domain \"{name}\" not found")));
        }
        let attributes = world::domain_attributes(name, class);
        Ok(typed("domain", "domains", name, attributes, base))
    }

    pub(crate) fn ip_object(&self, id: &str, base: &BaseUrl) -> Result<Value, ApiError> {
        self.ip_built(id, base).map(Built::into_value)
    }

    pub(crate) fn ip_built(
        &self,
        id: &str,
        base: &BaseUrl,
    ) -> Result<Built<IpAddressAttributes>, ApiError> {
        let ip: IpAddr = id.parse().map_err(|_| {
            ApiError::invalid_argument(format!("\"{id}\" is not a valid IP address"))
        })?;
        let name = ip.to_string();
        if let Some(fixture) = self.fixtures().object("ip_address", &name) {
            return Ok(Built::Fixture(fixture_object(
                fixture,
                "ip_addresses",
                base,
                None,
            )));
        }
        let class = self.class_of(IndicatorKind::Ip, &name);
        if class == WorldClass::Unknown {
            return Err(ApiError::not_found(format!(
                "IP address \"{name}\" not found"
            )));
        }
        let attributes = world::ip_attributes(ip, class);
        Ok(typed("ip_address", "ip_addresses", &name, attributes, base))
    }

    /// The object an analysis looked at (for a private analysis, the
    /// owner's private file or URL).
    pub(crate) fn analysis_target_object(
        &self,
        analysis: &Analysis,
        base: &BaseUrl,
    ) -> Result<Value, ApiError> {
        match (&analysis.target, &analysis.private_owner) {
            (Target::File { identity, .. }, None) => {
                self.file_record(&identity.sha256, base).map(|r| r.object)
            }
            (Target::Url { sha256, .. }, None) => self.url_record(sha256, base).map(|r| r.object),
            (Target::File { identity, .. }, Some(owner)) => {
                self.private_file_object(owner, &identity.sha256, base)
            }
            (Target::Url { sha256, url }, Some(owner)) => {
                Ok(self.private_url_object(owner, sha256, url, base))
            }
        }
    }

    /// A URL `owner` submitted for private scanning, as its owner sees it:
    /// no community fields, and analysis results only once one completed.
    pub(crate) fn private_url_object(
        &self,
        owner: &str,
        sha256: &str,
        url: &str,
        base: &BaseUrl,
    ) -> Value {
        let analysed = self
            .store()
            .last_completion(&format!("private:{owner}:url:{sha256}"), Instant::now());
        let mut class = self.class_of(IndicatorKind::Url, sha256);
        if class == WorldClass::Unknown {
            class = WorldClass::Clean;
        }
        let mut attributes = to_value(&world::url_attributes(sha256, url, class));
        if let Some(map) = attributes.as_object_mut() {
            strip_community_fields(map);
            match analysed {
                Some(date) => {
                    map.insert("last_analysis_date".into(), json!(date));
                }
                None => strip_analysis_fields(map),
            }
        }
        object("private_url", "private/urls", sha256, attributes, base)
    }

    /// The private URL `owner` submitted under this id (its sha256 or
    /// unpadded base64url); 404 for a URL the owner never submitted.
    pub(crate) fn own_private_url(
        &self,
        owner: &str,
        id: &str,
        base: &BaseUrl,
    ) -> Result<Value, ApiError> {
        let not_found = || ApiError::not_found(format!("Private URL \"{id}\" not found"));
        let sha256 = match ioc::Sha256::parse(id) {
            Some(sha) => sha.as_str().to_owned(),
            None => {
                let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(id.trim_end_matches('='))
                    .map_err(|_| not_found())?;
                let text = String::from_utf8(raw).map_err(|_| not_found())?;
                ioc::Url::parse(&text).map_err(|_| not_found())?.sha256()
            }
        };
        let url = self
            .store()
            .analyses
            .values()
            .find_map(|a| match (&a.target, &a.private_owner) {
                (Target::Url { sha256: s, url }, Some(o)) if *s == sha256 && o == owner => {
                    Some(url.clone())
                }
                _ => None,
            })
            .ok_or_else(not_found)?;
        Ok(self.private_url_object(owner, &sha256, &url, base))
    }

    /// A privately scanned file, as its owner sees it.
    pub(crate) fn private_file_object(
        &self,
        owner: &str,
        sha256: &str,
        base: &BaseUrl,
    ) -> Result<Value, ApiError> {
        let (file, analysed) = {
            let store = self.store();
            (
                store
                    .private_files
                    .get(&(owner.to_owned(), sha256.to_owned()))
                    .cloned(),
                store.last_completion(&format!("private:{owner}:file:{sha256}"), Instant::now()),
            )
        };
        let file = file
            .ok_or_else(|| ApiError::not_found(format!("Private file \"{sha256}\" not found")))?;
        let mut attributes = if sha256 == world::EICAR_SHA256 {
            world::eicar_attributes()
        } else {
            let mut class = self.class_of(IndicatorKind::File, sha256);
            if class == WorldClass::Unknown {
                class = WorldClass::Clean;
            }
            world::file_attributes(&file.identity, class)
        };
        attributes.size = Some(file.size);
        if let Some(name) = &file.name {
            attributes.meaningful_name = Some(name.clone());
            attributes.names = Some(vec![name.clone()]);
        }
        let mut attributes = to_value(&attributes);
        if let Some(map) = attributes.as_object_mut() {
            strip_community_fields(map);
            map.insert("upload_date".into(), json!(file.date));
            match analysed {
                Some(date) => {
                    map.insert("last_analysis_date".into(), json!(date));
                }
                None => strip_analysis_fields(map),
            }
        }
        Ok(object(
            "private_file",
            "private/files",
            sha256,
            attributes,
            base,
        ))
    }

    /// `{"data": <analysis>, "meta": {...}}` for an analysis.
    pub(crate) fn analysis_document(&self, id: &str, analysis: &Analysis, base: &BaseUrl) -> Value {
        let stage = analysis.stage(Instant::now());
        let private = analysis.private_owner.is_some();
        let (kind, collection, prefix) = if private {
            ("private_analysis", "private/analyses", "/private")
        } else {
            ("analysis", "analyses", "")
        };
        let is_file = matches!(analysis.target, Target::File { .. });
        let empty_stats = if is_file {
            json!({"harmless": 0, "type-unsupported": 0, "suspicious": 0, "confirmed-timeout": 0,
                   "timeout": 0, "failure": 0, "malicious": 0, "undetected": 0})
        } else {
            json!({"harmless": 0, "malicious": 0, "suspicious": 0, "undetected": 0, "timeout": 0})
        };
        let (stats, results) = if stage == Stage::Completed {
            match self.analysis_target_object(analysis, base) {
                Ok(obj) => (
                    obj.pointer("/attributes/last_analysis_stats")
                        .cloned()
                        .unwrap_or(empty_stats),
                    obj.pointer("/attributes/last_analysis_results")
                        .cloned()
                        .unwrap_or_else(|| json!({})),
                ),
                Err(_) => (empty_stats, json!({})),
            }
        } else {
            (empty_stats, json!({}))
        };
        let (item, meta) = match &analysis.target {
            Target::File { identity, size } => (
                base.api(&format!("{prefix}/files/{}", identity.sha256)),
                json!({"file_info": {"sha256": identity.sha256, "sha1": identity.sha1,
                                     "md5": identity.md5, "size": size}}),
            ),
            Target::Url { sha256, url } => (
                base.api(&format!("{prefix}/urls/{sha256}")),
                json!({"url_info": {"id": sha256, "url": url}}),
            ),
        };
        json!({
            "data": {
                "type": kind,
                "id": id,
                "links": {"self": base.api(&format!("/{collection}/{id}")), "item": item},
                "attributes": {
                    "date": analysis.date,
                    "status": stage.as_str(),
                    "stats": stats,
                    "results": results,
                },
            },
            "meta": meta,
        })
    }
}

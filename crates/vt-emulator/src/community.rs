//! Comments and votes on files, URLs, domains and IP addresses.
//!
//! A vote counts in the object's `total_votes`; a second vote by the same
//! key on the same object is refused with 409 `AlreadyExistsError`.

use crate::api_error::{ApiError, BaseUrl};
use crate::collection::{page_of, PageQuery};
use crate::gate::Caller;
use crate::store::VoteRecord;
use crate::{now_epoch, Emulator};
use axum::extract::{MatchedPath, Path, Query, State};
use axum::{Extension, Json};
use bytes::Bytes;
use serde_json::{json, Value};
use vt_model::ErrorCode;

/// (collection, canonical id, id prefix, type name) of a commented object.
struct Target {
    collection: String,
    id: String,
    prefix: char,
    kind: &'static str,
}

impl Target {
    fn key(&self) -> String {
        format!("{}/{}", self.collection, self.id)
    }
}

impl Emulator {
    fn community_target(
        &self,
        matched: &MatchedPath,
        id: &str,
        base: &BaseUrl,
    ) -> Result<Target, ApiError> {
        let collection = matched
            .as_str()
            .trim_start_matches("/api/v3/")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let (id, prefix, kind) = match collection.as_str() {
            "files" => (
                self.file_record(id, base)?.identity.sha256.clone(),
                'f',
                "file",
            ),
            "urls" => (self.url_record(id, base)?.sha256, 'u', "URL"),
            "domains" => {
                let object = self.domain_object(id, base)?;
                (
                    object["id"].as_str().unwrap_or(id).to_owned(),
                    'd',
                    "domain",
                )
            }
            _ => {
                let object = self.ip_object(id, base)?;
                (
                    object["id"].as_str().unwrap_or(id).to_owned(),
                    'i',
                    "IP address",
                )
            }
        };
        Ok(Target {
            collection,
            id,
            prefix,
            kind,
        })
    }

    /// Adds the votes cast on this emulator to an object's `total_votes`.
    pub(crate) fn with_votes(&self, collection: &str, mut object: Value) -> Value {
        let id = object["id"].as_str().unwrap_or_default().to_owned();
        let Some((harmless, malicious)) = self.votes_cast(collection, &id) else {
            return object;
        };
        if let Some(attrs) = object.get_mut("attributes").and_then(Value::as_object_mut) {
            let current = |k: &str| {
                attrs
                    .get("total_votes")
                    .and_then(|t| t[k].as_u64())
                    .unwrap_or(0)
            };
            let total = json!({"harmless": current("harmless") + harmless,
                               "malicious": current("malicious") + malicious});
            attrs.insert("total_votes".into(), total);
        }
        object
    }
}

impl Emulator {
    /// (harmless, malicious) votes cast on this emulator for an object, if any.
    pub(crate) fn votes_cast(&self, collection: &str, id: &str) -> Option<(u64, u64)> {
        let store = self.store();
        let votes = store.votes.get(&format!("{collection}/{id}"))?;
        let count = |verdict: &str| votes.iter().filter(|v| v.verdict == verdict).count() as u64;
        Some((count("harmless"), count("malicious")))
    }
}

fn body_attributes(body: &Bytes, kind: &str) -> Result<serde_json::Map<String, Value>, ApiError> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    let data = &doc["data"];
    if data["type"] != kind {
        return Err(ApiError::bad_request(format!(
            "Expected an object of type \"{kind}\" in \"data\""
        )));
    }
    data["attributes"]
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::bad_request("Missing \"data.attributes\""))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub async fn list_comments(
    State(emu): State<Emulator>,
    base: BaseUrl,
    matched: MatchedPath,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let target = emu.community_target(&matched, &id, &base)?;
    let window = query.window(40)?;
    let mut all = emu
        .store()
        .comments
        .get(&target.key())
        .cloned()
        .unwrap_or_default();
    all.reverse(); // newest first, as the API lists them
    Ok(Json(page_of(
        all,
        window,
        &base,
        &format!("/{}/comments", target.key()),
    )))
}

pub async fn add_comment(
    State(emu): State<Emulator>,
    base: BaseUrl,
    matched: MatchedPath,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let target = emu.community_target(&matched, &id, &base)?;
    let attributes = body_attributes(&body, "comment")?;
    let text = attributes
        .get("text")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("A comment needs a non-empty \"text\""))?
        .chars()
        .take(10_000)
        .collect::<String>();
    let tags: Vec<String> = text
        .split_whitespace()
        .filter_map(|w| w.strip_prefix('#'))
        .map(|t| {
            t.trim_matches(|c: char| !c.is_alphanumeric() && c != '-' && c != '_')
                .to_ascii_lowercase()
        })
        .filter(|t| !t.is_empty())
        .collect();
    let comment_id = format!("{}-{}-{:08x}", target.prefix, target.id, fastrand::u32(..));
    let comment = json!({
        "type": "comment",
        "id": comment_id,
        "links": {"self": base.api(&format!("/comments/{comment_id}"))},
        "attributes": {
            "date": now_epoch(),
            "text": text,
            "html": escape_html(&text),
            "tags": tags,
            "votes": {"positive": 0, "negative": 0, "abuse": 0},
        },
    });
    emu.store_mut()
        .comments
        .entry(target.key())
        .or_default()
        .push(comment.clone());
    Ok(Json(json!({"data": comment})))
}

pub async fn list_votes(
    State(emu): State<Emulator>,
    base: BaseUrl,
    matched: MatchedPath,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let target = emu.community_target(&matched, &id, &base)?;
    let window = query.window(40)?;
    let mut all: Vec<Value> = emu
        .store()
        .votes
        .get(&target.key())
        .map(|votes| votes.iter().map(|v| v.object.clone()).collect())
        .unwrap_or_default();
    all.reverse();
    Ok(Json(page_of(
        all,
        window,
        &base,
        &format!("/{}/votes", target.key()),
    )))
}

pub async fn add_vote(
    State(emu): State<Emulator>,
    base: BaseUrl,
    matched: MatchedPath,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let target = emu.community_target(&matched, &id, &base)?;
    let attributes = body_attributes(&body, "vote")?;
    let verdict = attributes
        .get("verdict")
        .and_then(Value::as_str)
        .filter(|v| matches!(*v, "harmless" | "malicious"))
        .ok_or_else(|| {
            ApiError::invalid_argument("A vote's \"verdict\" must be \"harmless\" or \"malicious\"")
        })?
        .to_owned();
    let vote_id = format!("{}-{}-{:08x}", target.prefix, target.id, fastrand::u32(..));
    let vote = json!({
        "type": "vote",
        "id": vote_id,
        "links": {"self": base.api(&format!("/votes/{vote_id}"))},
        "attributes": {
            "date": now_epoch(),
            "verdict": verdict,
            "value": if verdict == "malicious" { -1 } else { 1 },
        },
    });
    let mut store = emu.store_mut();
    let votes = store.votes.entry(target.key()).or_default();
    if let Some(previous) = votes.iter().find(|v| v.key == caller.key) {
        let user = caller.fingerprint();
        return Err(ApiError::new(
            ErrorCode::AlreadyExists,
            format!(
                "User \"{user}\" already voted \"{}\" for this {}",
                previous.verdict, target.kind
            ),
        ));
    }
    votes.push(VoteRecord {
        key: caller.key.clone(),
        verdict,
        object: vote.clone(),
    });
    Ok(Json(json!({"data": vote})))
}

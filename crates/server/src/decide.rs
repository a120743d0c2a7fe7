//! Application control over HTTP: `POST /v1/decide` (agent), one file or a
//! batch, and `GET /v1/decisions` (reader), the decision log with filters
//! and cursor paging. The engine and the log are the `policy` crate's; a
//! decision whose rating is remembered or cached never waits on the
//! network, and its log write runs behind the answer.

use crate::{AppError, AppState, Role};
use axum::extract::{Query, State};
use axum::http::HeaderMap;

use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Most files one batch may ask about.
pub const MAX_BATCH: usize = 1_000;
/// Most decisions one page of `GET /v1/decisions` holds.
pub const MAX_PAGE: usize = 1_000;

/// What the decide routes share: the policy set's decider (when the
/// service was started with a policy file) and the decision log.
pub(crate) struct DecideState {
    decider: OnceLock<policy::Decider>,
    log: policy::DecisionLog,
}

impl DecideState {
    pub(crate) fn new(store: Arc<dyn store::Store>) -> DecideState {
        DecideState {
            decider: OnceLock::new(),
            log: policy::DecisionLog::start(store),
        }
    }

    pub(crate) async fn flush(&self) {
        self.log.flush().await;
    }
}

impl AppState {
    /// Decides by `set` from now on (`vtc serve --policy FILE`); without
    /// it `POST /v1/decide` answers 503. Set once: a second call is ignored.
    pub fn set_policy(&self, set: policy::PolicySet) {
        let decider = policy::Decider::new(Arc::new(set), Some(self.inner.enricher.clone()));
        if self.inner.decide.decider.set(decider).is_err() {
            tracing::warn!("the policy set was given twice; keeping the first");
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    /// A browser cannot send a bearer header on a plain navigation: the
    /// token may come in the URL (the page sends no referrer).
    token: Option<String>,
}

/// `GET /reports/file-ratings` (reader): the File Security Rating Details
/// page, from the decision log only (never the client), under a
/// Content-Security-Policy header as well as its meta tag.
pub(crate) async fn file_ratings_page(
    State(state): State<AppState>,
    mut headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<axum::response::Response, AppError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    if let (None, Some(token)) = (headers.get(header::AUTHORIZATION), q.token.as_deref()) {
        if let Ok(v) = axum::http::HeaderValue::from_str(&format!("Bearer {token}")) {
            headers.insert(header::AUTHORIZATION, v);
        }
    }
    state.inner.tokens.authorize(&headers, Role::Reader).await?;
    state.inner.decide.flush().await;
    let files = policy::file_ratings(state.inner.store.as_ref()).await?;
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let page = feeds::render_file_ratings(files, &now);
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                // The page's own policy (also in its meta tag, where
                // frame-ancestors would be ignored), and no framing.
                format!(
                    "{}; frame-ancestors 'none'",
                    feeds::html::content_security_policy()
                ),
            ),
            (header::REFERRER_POLICY, "no-referrer".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        page,
    )
        .into_response())
}

/// One file as an agent reports it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    sha256: Option<String>,
    sha1: Option<String>,
    md5: Option<String>,
    path: Option<String>,
    #[serde(alias = "file_name")]
    name: Option<String>,
    user: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    host: Option<String>,
    platform: Option<String>,
    publisher: Option<String>,
    signed: Option<bool>,
}

/// A batch: `{"files": [...]}`, else one file.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DecideIn {
    Batch { files: Vec<Value> },
    One(Value),
}

#[derive(Debug, Serialize)]
struct DecisionOut {
    sha256: Option<String>,
    path: Option<String>,
    #[serde(flatten)]
    decision: policy::Decision,
    cached: bool,
}

pub(crate) async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, AppError> {
    state.inner.tokens.authorize(&headers, Role::Agent).await?;
    let Some(decider) = state.inner.decide.decider.get() else {
        return Err(AppError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "NoPolicy",
            "the service was started without a policy file (vtc serve --policy FILE)",
        )
        .shown());
    };
    let input: DecideIn = serde_json::from_slice(&body)
        .map_err(|e| AppError::bad_request(format!("the body is not JSON: {e}")))?;
    match input {
        DecideIn::Batch { files } => {
            if files.len() > MAX_BATCH {
                return Err(AppError::bad_request(format!(
                    "at most {MAX_BATCH} files per batch"
                )));
            }
            let requests = files
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    request(v).map_err(|e| AppError::bad_request(format!("files[{i}]: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let decided = futures_util::future::join_all(
                requests.into_iter().map(|r| one(decider, &state, r)),
            )
            .await;
            let mut out = Vec::with_capacity(decided.len());
            for (i, d) in decided.into_iter().enumerate() {
                out.push(
                    d.map_err(|e| AppError::bad_request(format!("files[{i}]: {}", e.message())))?,
                );
            }
            Ok(Json(serde_json::json!({ "decisions": out })))
        }
        DecideIn::One(v) => {
            let r = request(v).map_err(AppError::bad_request)?;
            let d = one(decider, &state, r).await?;
            Ok(Json(serde_json::to_value(d).map_err(AppError::internal)?))
        }
    }
}

fn request(v: Value) -> Result<policy::FileRequest, String> {
    let f: FileIn = serde_json::from_value(v).map_err(|e| e.to_string())?;
    let platform = match f.platform.as_deref() {
        None => None,
        Some(p) => Some(policy::Platform::parse(p).ok_or_else(|| {
            format!(
                "unknown platform {:?} (windows, macos or linux)",
                p.chars().take(40).collect::<String>()
            )
        })?),
    };
    Ok(policy::FileRequest {
        sha256: f.sha256,
        sha1: f.sha1,
        md5: f.md5,
        path: f.path,
        name: f.name,
        user: f.user,
        groups: f.groups,
        host: f.host,
        platform,
        publisher: f.publisher,
        signed: f.signed,
    })
}

async fn one(
    decider: &policy::Decider,
    state: &AppState,
    request: policy::FileRequest,
) -> Result<DecisionOut, AppError> {
    let decided = decider
        .decide(request)
        .await
        .map_err(|e| AppError::bad_request(e.to_string()))?;
    state.inner.decide.log.record(&decided).await;
    Ok(DecisionOut {
        sha256: decided
            .request
            .sha256
            .clone()
            .or_else(|| decided.record.as_ref().and_then(|r| r.sha256.clone())),
        path: decided
            .request
            .endpoint_path()
            .map(|p| p.as_str().to_owned()),
        decision: decided.decision,
        cached: decided.cached,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionsQuery {
    since: Option<String>,
    until: Option<String>,
    host: Option<String>,
    user: Option<String>,
    sha256: Option<String>,
    action: Option<String>,
    policy: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn decisions(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<DecisionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, AppError> {
    state.inner.tokens.authorize(&headers, Role::Reader).await?;
    let Query(q) = query.map_err(|e| AppError::bad_request(e.body_text()))?;
    let time = |name: &str, v: &Option<String>| -> Result<Option<OffsetDateTime>, AppError> {
        v.as_deref()
            .map(|s| {
                OffsetDateTime::parse(s, &Rfc3339)
                    .map_err(|_| AppError::bad_request(format!("{name} is an RFC 3339 time")))
            })
            .transpose()
    };
    let after_id = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| AppError::bad_request("cursor is the next_cursor of a page"))
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let rows = state
        .inner
        .store
        .decisions(&store::DecisionQuery {
            since: time("since", &q.since)?,
            until: time("until", &q.until)?,
            host: q.host,
            user: q.user,
            sha256: q.sha256.map(|h| h.to_ascii_lowercase()),
            action: q.action,
            policy: q.policy,
            after_id,
            limit,
        })
        .await?;
    let next_cursor = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    let decisions: Vec<Value> = rows
        .iter()
        .filter_map(|r| serde_json::from_str(&r.decision.json).ok())
        .collect();
    Ok(Json(serde_json::json!({
        "decisions": decisions,
        "next_cursor": next_cursor,
    })))
}

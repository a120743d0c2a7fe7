//! Record mode (`EmulatorConfig::record`): every `/api/v3` request is
//! passed to an upstream API (the real VirusTotal for a user with a key,
//! or another emulator), answered with the upstream's response, and each
//! file, URL, domain or IP address object it returns is saved in the
//! fixtures format (`<type>-<id>.json`, `{"data": {...}}`), downloaded
//! samples under `content/<sha256>`. `--fixtures DIR` (with
//! `--world empty` for a world with nothing else) replays them.
//!
//! The key goes upstream in `x-apikey` as the client sent it, and nowhere
//! else: recorded files hold only the API's answers.

use crate::Emulator;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where to record from and to.
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// The upstream host, e.g. `https://www.virustotal.com` (a trailing
    /// `/api/v3` is accepted and ignored).
    pub upstream: String,
    /// The fixtures folder written to (created if missing).
    pub dir: PathBuf,
}

/// The HTTP client and target of record mode.
#[derive(Debug)]
pub(crate) struct Recorder {
    client: reqwest::Client,
    upstream: String,
    dir: PathBuf,
}

impl Recorder {
    pub(crate) fn new(config: &RecordConfig) -> Result<Recorder, crate::EmulatorError> {
        std::fs::create_dir_all(config.dir.join("content")).map_err(|source| {
            crate::EmulatorError::Io {
                path: config.dir.clone(),
                source,
            }
        })?;
        let upstream = config
            .upstream
            .trim_end_matches('/')
            .trim_end_matches("/api/v3")
            .to_owned();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .map_err(|e| crate::EmulatorError::Fixture {
                path: config.dir.clone(),
                reason: format!("cannot build the upstream client: {e}"),
            })?;
        Ok(Recorder {
            client,
            upstream,
            dir: config.dir.clone(),
        })
    }
}

/// A file name safe on every system for an object id.
fn file_name(kind: &str, id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    format!("{kind}-{safe}.json")
}

/// Saves the objects of an answer worth replaying.
async fn save(dir: &Path, path: &str, body: &[u8]) {
    if let Some(sha256) = path
        .strip_prefix("/api/v3/files/")
        .and_then(|rest| rest.strip_suffix("/download"))
        .and_then(ioc::Sha256::parse)
    {
        let target = dir.join("content").join(sha256.as_str());
        if let Err(e) = tokio::fs::write(&target, body).await {
            tracing::warn!(error = %e, "cannot save a recorded sample");
        }
        return;
    }
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Some(data) = doc.get("data").filter(|d| d.is_object()) else {
        return;
    };
    let (Some(kind), Some(id)) = (data["type"].as_str(), data["id"].as_str()) else {
        return;
    };
    if !matches!(kind, "file" | "url" | "domain" | "ip_address") {
        return;
    }
    let mut object = data.clone();
    if let Some(map) = object.as_object_mut() {
        // Relationships depend on the request; the world replays them.
        map.remove("relationships");
    }
    let fixture = serde_json::json!({ "data": object });
    let target = dir.join(file_name(kind, id));
    let text = serde_json::to_vec_pretty(&fixture).unwrap_or_default();
    if let Err(e) = tokio::fs::write(&target, text).await {
        tracing::warn!(error = %e, "cannot save a recorded fixture");
    }
}

fn bad_gateway(reason: String) -> Response {
    let body = serde_json::json!({"error": {"code": "TransientError",
        "message": format!("Upstream API unreachable: {reason}")}});
    (
        StatusCode::BAD_GATEWAY,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The outermost layer: in record mode, `/api/v3` goes upstream.
pub async fn record(State(emu): State<Emulator>, request: Request, next: Next) -> Response {
    let Some(recorder) = emu.recorder() else {
        return next.run(request).await;
    };
    let path = request.uri().path().to_owned();
    if !path.starts_with("/api/v3/") {
        return next.run(request).await;
    }
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or(path.clone(), |p| p.as_str().to_owned());
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, crate::MAX_UPLOAD_BYTES as usize).await {
        Ok(body) => body,
        Err(e) => return bad_gateway(format!("cannot read the request body: {e}")),
    };
    let mut upstream = recorder.client.request(
        parts.method.clone(),
        format!("{}{path_and_query}", recorder.upstream),
    );
    for name in ["x-apikey", "content-type", "accept", "user-agent", "x-tool"] {
        if let Some(value) = parts.headers.get(name) {
            upstream = upstream.header(name, value.clone());
        }
    }
    let answer = match upstream.body(body).send().await {
        Ok(answer) => answer,
        Err(e) => return bad_gateway(e.without_url().to_string()),
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = match answer.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => return bad_gateway(e.without_url().to_string()),
    };
    if status == StatusCode::OK && parts.method == axum::http::Method::GET {
        save(&recorder.dir, &path, &bytes).await;
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    } else {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    }
    emu.accounting()
        .record(format!("{} (recorded)", parts.method), status.as_u16());
    response
}

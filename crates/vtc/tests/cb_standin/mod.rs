//! A stand-in for the Carbon Black EDR (Response) server's REST API, for
//! the collector's tests (the real server cannot run here). A test double,
//! not an emulator: it serves exactly the routes `vtc collect --carbonblack`
//! calls, as the Carbon Black API documents them and the original
//! connector used them:
//!
//! - `GET /api/v1/binary?q=…&start=N&rows=M&sort=server_added_timestamp asc`,
//!   authenticated by the `X-Auth-Token` header (anything else: 401), the
//!   query's `server_added_timestamp:[X TO *]` term honoured (inclusive, as
//!   in Carbon Black's Lucene syntax; `*` for no bound), other terms
//!   ignored; answers `{"results": [...], "total_results": n, "start": s}`
//!   with each binary's `md5`, `server_added_timestamp`,
//!   `observed_filename`, `endpoint` ("HOST|sensor") and `orig_mod_len`;
//! - `GET /api/v1/binary/{MD5}`: a zip holding the bytes as `filedata`.
//!
//! Faults for the tests: [`Standin::fail_pages_from`] makes the search
//! answer 503 from that page on within a poll (the server going away
//! mid-poll); every query string is kept ([`Standin::queries`]).

#![allow(dead_code, clippy::unwrap_used)]

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct CbBinary {
    pub md5: String,
    pub added: String,
    pub host: String,
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
struct Inner {
    binaries: Vec<CbBinary>,
    queries: Vec<HashMap<String, String>>,
    fail_pages_from: Option<u64>,
    downloads: u64,
}

#[derive(Clone)]
pub struct Standin {
    token: String,
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

impl Standin {
    pub async fn start(token: &str) -> Standin {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let state = (token.to_owned(), inner.clone());
        let app = Router::new()
            .route("/api/v1/binary", get(search))
            .route("/api/v1/binary/{md5}", get(download))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Standin {
            token: token.to_owned(),
            inner,
            url,
        }
    }

    pub fn add(&self, binary: CbBinary) {
        self.inner.lock().unwrap().binaries.push(binary);
    }

    pub fn fail_pages_from(&self, page: Option<u64>) {
        self.inner.lock().unwrap().fail_pages_from = page;
    }

    pub fn queries(&self) -> Vec<HashMap<String, String>> {
        self.inner.lock().unwrap().queries.clone()
    }

    pub fn downloads(&self) -> u64 {
        self.inner.lock().unwrap().downloads
    }
}

type St = (String, Arc<Mutex<Inner>>);

fn authorised(headers: &HeaderMap, token: &str) -> bool {
    headers.get("x-auth-token").and_then(|v| v.to_str().ok()) == Some(token)
}

/// The lower bound of `server_added_timestamp:[X TO *]`, if any.
fn since(q: &str) -> Option<String> {
    let rest = q.split("server_added_timestamp:[").nth(1)?;
    let bound = rest.split(" TO ").next()?.trim();
    (bound != "*").then(|| bound.to_owned())
}

async fn search(
    State((token, inner)): State<St>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if !authorised(&headers, &token) {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    }
    let mut inner = inner.lock().unwrap();
    inner.queries.push(params.clone());
    let start: u64 = params
        .get("start")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let rows: u64 = params
        .get("rows")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let page = start / rows.max(1);
    if inner.fail_pages_from.is_some_and(|from| page >= from) {
        return (StatusCode::SERVICE_UNAVAILABLE, "going away").into_response();
    }
    let from = params.get("q").and_then(|q| since(q));
    let mut matching: Vec<&CbBinary> = inner
        .binaries
        .iter()
        .filter(|b| from.as_deref().is_none_or(|f| b.added.as_str() >= f))
        .collect();
    matching.sort_by(|a, b| a.added.cmp(&b.added));
    let total = matching.len() as u64;
    let results: Vec<serde_json::Value> = matching
        .into_iter()
        .skip(start as usize)
        .take(rows as usize)
        .map(|b| {
            serde_json::json!({
                "md5": b.md5.to_uppercase(),
                "server_added_timestamp": b.added,
                "observed_filename": [format!("c:\\users\\x\\downloads\\{}", b.name)],
                "endpoint": [format!("{}|7", b.host)],
                "orig_mod_len": b.bytes.len(),
                "is_executable_image": true,
            })
        })
        .collect();
    Json(serde_json::json!({"results": results, "total_results": total, "start": start}))
        .into_response()
}

async fn download(
    State((token, inner)): State<St>,
    headers: HeaderMap,
    Path(md5): Path<String>,
) -> Response {
    if !authorised(&headers, &token) {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    }
    let mut inner = inner.lock().unwrap();
    let Some(b) = inner
        .binaries
        .iter()
        .find(|b| b.md5.eq_ignore_ascii_case(&md5))
        .cloned()
    else {
        return (StatusCode::NOT_FOUND, "no such binary").into_response();
    };
    inner.downloads += 1;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("filedata", options).unwrap();
        zip.write_all(&b.bytes).unwrap();
        zip.start_file("metadata", options).unwrap();
        zip.write_all(format!("{{\"md5\": \"{}\"}}", b.md5).as_bytes())
            .unwrap();
        zip.finish().unwrap();
    }
    ([("content-type", "application/zip")], buf.into_inner()).into_response()
}

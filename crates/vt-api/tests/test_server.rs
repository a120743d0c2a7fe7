//! The client against a tiny axum router written for these tests.
//!
//! The emulator only produces the error codes a real request can provoke
//! (404, 401, 429, 503...), so the table mapping all 16 documented codes
//! uses this router, which answers any code on demand. Everything else the
//! client is tested on runs against the emulator (tests/emulator.rs); this
//! router also stands in for collections, Retry-After and a key-echoing
//! server, which the emulator does not offer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::TryStreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vt_api::{ApiKey, Client, Error, ErrorCode, QuotaBudget, RetryPolicy};
use vt_model::Object;

const KEY: &str = "cccccccc00000000000000000000000000000000000000000000000000000003";

#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    queries: Mutex<Vec<HashMap<String, String>>>,
}

type Shared = Arc<Seen>;

fn error_answer(code: ErrorCode, message: String) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::IM_A_TEAPOT);
    (
        status,
        Json(json!({"error": {"code": code.as_str(), "message": message}})),
    )
        .into_response()
}

async fn answer_code(State(seen): State<Shared>, Path(code): Path<String>) -> Response {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    match ErrorCode::parse(&code) {
        Some(code) => error_answer(code, format!("provoked {}", code.as_str())),
        None => (StatusCode::BAD_REQUEST, "no such code").into_response(),
    }
}

/// 25 items in pages of `limit`; the cursor is the next offset.
async fn items(
    State(seen): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    seen.queries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(q.clone());
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(10);
    let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let end = (start + limit).min(25);
    let data: Vec<Value> = (start..end)
        .map(|i| json!({"type": "domain", "id": format!("d{i}.example.com"), "attributes": {}}))
        .collect();
    let mut meta = json!({"count": 25});
    if end < 25 {
        meta["cursor"] = json!(end.to_string());
    }
    Json(json!({"data": data, "meta": meta}))
}

/// First answer 429 with Retry-After: 1, then the object.
async fn slow_down(State(seen): State<Shared>) -> Response {
    if seen.requests.fetch_add(1, Ordering::SeqCst) == 0 {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "1".parse().expect("header value"));
        let body = json!({"error": {"code": "TooManyRequestsError", "message": "slow down"}});
        return (StatusCode::TOO_MANY_REQUESTS, headers, Json(body)).into_response();
    }
    Json(json!({"data": {"type": "domain", "id": "ok.example.com"}})).into_response()
}

/// Echoes the caller's key in its error message, as a careless server might.
async fn echo_key(headers: HeaderMap) -> Response {
    let key = headers
        .get("x-apikey")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    error_answer(ErrorCode::WrongCredentials, format!("Wrong API key {key}"))
}

/// A hostile server: a terminal escape, a forged log line and 100 kB.
async fn hostile_message() -> Response {
    let message = format!("\u{1b}[2J\nERROR forged line{}", "x".repeat(100_000));
    error_answer(ErrorCode::NotFound, message)
}

async fn post_fails(State(seen): State<Shared>, Path(code): Path<String>) -> Response {
    answer_code(State(seen), Path(code)).await
}

async fn not_json(State(seen): State<Shared>) -> Response {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::OK,
        "{\"data\": {\"type\": \"file\", \"id\": \"12",
    )
        .into_response()
}

async fn serve() -> (String, Shared) {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/api/v3/codes/{code}", get(answer_code))
        .route("/api/v3/post/{code}", post(post_fails))
        .route("/api/v3/items", get(items))
        .route("/api/v3/slow", get(slow_down))
        .route("/api/v3/echo", get(echo_key))
        .route("/api/v3/garbled", get(not_json))
        .route("/api/v3/hostile", get(hostile_message))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

fn client(base: &str, retry: RetryPolicy) -> Client {
    Client::builder()
        .api_key(ApiKey::new(KEY).expect("key"))
        .base_url(base)
        .quota_budget(QuotaBudget::UNLIMITED)
        // A 429 holds the key back for one window; keep that short here.
        .quota_window(Duration::from_millis(20))
        .retry_policy(retry)
        .build()
        .expect("client")
}

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn every_documented_error_code_maps_to_its_typed_error() {
    let (base, seen) = serve().await;
    let c = client(&base, RetryPolicy::never());
    for code in ErrorCode::ALL {
        let err = c
            .get_json(&format!("/codes/{}", code.as_str()), &[])
            .await
            .expect_err(code.as_str());
        match &err {
            Error::Api {
                status,
                code: got,
                message,
            } => {
                assert_eq!(*status, code.http_status(), "{code}");
                assert_eq!(got.known(), Some(code), "{code}");
                assert_eq!(message, &format!("provoked {}", code.as_str()));
            }
            other => panic!("{code}: expected Error::Api, got {other:?}"),
        }
        let want_retry = matches!(code.http_status(), 429 | 503 | 504);
        assert_eq!(err.is_retryable(), want_retry, "{code}");
        assert!(err.to_string().contains(code.as_str()), "{err}");
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 16);
}

#[tokio::test]
async fn gets_retry_retryable_codes_and_stop_on_final_ones() {
    let cases = [
        ("TransientError", 3),
        ("DeadlineExceededError", 3),
        ("NotFoundError", 1),
        ("BadRequestError", 1),
        ("WrongCredentialsError", 1),
        ("ForbiddenError", 1),
        ("AlreadyExistsError", 1),
    ];
    for (code, want_requests) in cases {
        let (base, seen) = serve().await;
        let c = client(&base, quick(3));
        c.get_json(&format!("/codes/{code}"), &[])
            .await
            .expect_err(code);
        assert_eq!(
            seen.requests.load(Ordering::SeqCst),
            want_requests,
            "{code}"
        );
    }
}

#[tokio::test]
async fn posts_retry_only_when_refused_before_processing() {
    let cases = [
        ("TransientError", 3),
        ("TooManyRequestsError", 3),
        ("DeadlineExceededError", 1),
        ("NotFoundError", 1),
    ];
    for (code, want_requests) in cases {
        let (base, seen) = serve().await;
        let c = client(&base, quick(3));
        let err = c
            .post_json(&format!("/post/{code}"), &json!({"data": {}}))
            .await
            .expect_err(code);
        assert_eq!(
            err.api_code().map(|c| c.as_str().to_owned()),
            Some(code.to_owned())
        );
        assert_eq!(
            seen.requests.load(Ordering::SeqCst),
            want_requests,
            "{code}"
        );
    }
}

#[tokio::test]
async fn retry_after_is_honoured_then_the_request_succeeds() {
    let (base, seen) = serve().await;
    let c = client(&base, quick(3));
    let object = c
        .get_object("/slow")
        .await
        .expect("second attempt succeeds");
    assert_eq!(object.id, "ok.example.com");
    assert_eq!(seen.requests.load(Ordering::SeqCst), 2);
    let m = c.metrics();
    assert_eq!((m.responses_429, m.retries), (1, 1));
}

#[tokio::test]
async fn collection_follows_cursors_across_pages_keeping_the_query() {
    let (base, seen) = serve().await;
    let c = client(&base, RetryPolicy::never());
    let items: Vec<Object> = c
        .collection::<Object>("/items", &[("filter", "x")], 10)
        .try_collect()
        .await
        .expect("all pages");
    let ids: Vec<String> = items.iter().map(|o| o.id.clone()).collect();
    let want: Vec<String> = (0..25).map(|i| format!("d{i}.example.com")).collect();
    assert_eq!(ids, want);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 3);
    let queries = seen
        .queries
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert!(queries
        .iter()
        .all(|q| q.get("filter").map(String::as_str) == Some("x")));
    assert!(queries
        .iter()
        .all(|q| q.get("limit").map(String::as_str) == Some("10")));
    assert_eq!(queries[0].get("cursor"), None);
    assert_eq!(queries[2].get("cursor").map(String::as_str), Some("20"));

    let page = c
        .collection_page::<Object>("/items", &[], 20, Some("20"))
        .await
        .expect("last page");
    assert_eq!(page.data.len(), 5);
    assert_eq!(page.next_cursor(), None);
}

#[tokio::test]
async fn a_key_echoed_by_the_server_is_scrubbed_from_the_error() {
    let (base, _) = serve().await;
    let c = client(&base, RetryPolicy::never());
    let err = c.get_json("/echo", &[]).await.expect_err("wrong key");
    assert_eq!(err.error_code(), Some(ErrorCode::WrongCredentials));
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(KEY), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_with_a_bounded_excerpt() {
    let (base, seen) = serve().await;
    let c = client(&base, quick(3));
    let err = c.get_object("/garbled").await.expect_err("cut-off json");
    match &err {
        Error::Decode {
            excerpt, truncated, ..
        } => {
            assert!(truncated, "json that ends early is a truncated body");
            assert!(excerpt.starts_with("{\"data\""), "{excerpt}");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(seen.requests.load(Ordering::SeqCst), 3, "a GET is retried");
}

/// The real API answers a download with a redirect to a signed URL on
/// another host (the emulator serves the bytes directly, so this router
/// plays both hosts).
#[tokio::test]
async fn download_follows_a_cross_host_redirect_without_the_key() {
    let keys_seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let storage = Router::new()
        .route(
            "/blob",
            get(|State(seen): State<Arc<Mutex<Vec<Option<String>>>>>, headers: HeaderMap| async move {
                let key = headers
                    .get("x-apikey")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                seen.lock().unwrap_or_else(|e| e.into_inner()).push(key);
                b"sample bytes".to_vec()
            }),
        )
        .with_state(keys_seen.clone());
    let storage_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let storage_addr = storage_listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(storage_listener, storage).await;
    });

    let location = format!("http://{storage_addr}/blob");
    let api = Router::new().route(
        "/api/v3/files/{id}/download",
        get(move || {
            let location = location.clone();
            async move { (StatusCode::FOUND, [("location", location)]).into_response() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, api).await;
    });

    let c = client(&format!("http://{addr}"), RetryPolicy::never());
    let hash = ioc::FileHash::parse("44d88612fea8a8f36de82e1278abb02f").expect("md5");
    let mut out = Vec::new();
    let written = c.download(&hash, &mut out).await.expect("download");
    assert_eq!(written, 12);
    assert_eq!(out, b"sample bytes");
    let seen = keys_seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(seen, vec![None], "the storage host never sees the key");
}

#[tokio::test]
async fn a_server_message_is_printable_and_bounded() {
    let (base, _) = serve().await;
    let c = client(&base, RetryPolicy::never());
    let err = c.get_json("/hostile", &[]).await.expect_err("not found");
    assert!(err.is_not_found());
    let shown = err.to_string();
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
    assert!(shown.len() < 1_000, "{} bytes", shown.len());
    assert!(shown.contains("forged line"), "{shown}");
}

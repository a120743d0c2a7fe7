//! Helpers shared by the emulator's integration tests.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use ioc::IndicatorKind;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use vt_emulator::{world_class, Emulator, EmulatorConfig, WorldClass};

pub const KEY: &str = "test-key-0123456789";

pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

pub fn emulator(config: EmulatorConfig) -> Emulator {
    Emulator::new(config).expect("emulator starts")
}

/// Sends one request through the router (no socket).
pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router is infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body reads")
        .to_vec();
    Answer {
        status,
        content_type,
        body,
    }
}

pub fn request(method: &str, path: &str, key: Option<&str>) -> axum::http::request::Builder {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "emulator.test:8080");
    if let Some(key) = key {
        builder = builder.header("x-apikey", key);
    }
    builder
}

pub async fn get(router: &Router, path: &str) -> Answer {
    send(
        router,
        request("GET", path, Some(KEY))
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

pub async fn post_empty(router: &Router, path: &str) -> Answer {
    send(
        router,
        request("POST", path, Some(KEY))
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

pub const BOUNDARY: &str = "----vtcEmulatorTestBoundary";

/// A multipart body with one part named `name`.
pub fn multipart(name: &str, filename: Option<&str>, content: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
    match filename {
        Some(f) => body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        ),
        None => body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        ),
    }
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub async fn post_multipart(router: &Router, path: &str, body: Vec<u8>) -> Answer {
    send(
        router,
        request("POST", path, Some(KEY))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(body))
            .expect("valid request"),
    )
    .await
}

pub async fn post_form(router: &Router, path: &str, form: &str) -> Answer {
    send(
        router,
        request("POST", path, Some(KEY))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .expect("valid request"),
    )
    .await
}

/// A hex digest of `len` digits (32, 40 or 64), different for each `i`.
pub fn probe_hash(i: usize, len: usize) -> String {
    let digest = hex::encode(Sha256::digest(format!("probe {i}").as_bytes()));
    let doubled = format!("{digest}{digest}");
    doubled[..len].to_owned()
}

/// The first file hash of `len` digits the world puts in `class`.
pub fn file_hash_of_class(class: WorldClass, len: usize) -> String {
    (0..10_000)
        .map(|i| probe_hash(i, len))
        .find(|h| world_class(IndicatorKind::File, h) == class)
        .expect("the world has every class")
}

/// The first domain the world puts in `class`.
pub fn domain_of_class(class: WorldClass) -> String {
    (0..10_000)
        .map(|i| format!("probe{i}.example"))
        .find(|d| world_class(IndicatorKind::Domain, d) == class)
        .expect("the world has every class")
}

/// The first URL whose canonical form the world puts in `class`, with its sha256.
pub fn url_of_class(class: WorldClass) -> (String, String) {
    (0..10_000)
        .map(|i| format!("http://probe{i}.example/path"))
        .map(|u| {
            let sha = ioc::url_sha256(&u);
            (u, sha)
        })
        .find(|(_, sha)| world_class(IndicatorKind::Url, sha) == class)
        .expect("the world has every class")
}

pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

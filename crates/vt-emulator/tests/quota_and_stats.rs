//! Per-key quotas, the stats document and the reset route.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use axum::body::Body;
use common::*;
use serde_json::json;
use vt_emulator::{EmulatorConfig, WorldClass, EICAR_SHA256};

async fn get_with_key(router: &axum::Router, path: &str, key: &str) -> Answer {
    send(
        router,
        request("GET", path, Some(key))
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

#[tokio::test]
async fn minute_quota_gives_the_exact_429_and_reset_clears_it() {
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(4),
        ..EmulatorConfig::default()
    });
    let router = emu.router();
    let path = format!("/api/v3/files/{EICAR_SHA256}");
    for _ in 0..4 {
        assert_eq!(
            get_with_key(&router, &path, "alpha-key-1").await.status,
            200
        );
    }
    let refused = get_with_key(&router, &path, "alpha-key-1").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.content_type, "application/json");
    assert_eq!(
        refused.json(),
        json!({"error": {"code": "QuotaExceededError",
                         "message": "Quota exceeded: the per-minute allowance of 4 requests is used up"}})
    );
    // A refused request spends nothing, and other keys have their own budget.
    assert_eq!(emu.stats()["quota"]["alpha-ke"]["minute"], 4);
    assert_eq!(get_with_key(&router, &path, "beta-key-2").await.status, 200);

    let reset = send(
        &router,
        request("POST", "/_emulator/reset", None)
            .body(Body::empty())
            .expect("valid"),
    )
    .await;
    assert_eq!(reset.status, 200);
    assert_eq!(
        get_with_key(&router, &path, "alpha-key-1").await.status,
        200
    );
}

#[tokio::test]
async fn day_and_month_quotas_are_enforced() {
    for (config, window) in [
        (
            EmulatorConfig {
                quota_day: Some(2),
                ..EmulatorConfig::default()
            },
            "daily",
        ),
        (
            EmulatorConfig {
                quota_month: Some(2),
                ..EmulatorConfig::default()
            },
            "monthly",
        ),
    ] {
        let router = emulator(config).router();
        let path = format!("/api/v3/files/{EICAR_SHA256}");
        assert_eq!(get(&router, &path).await.status, 200);
        assert_eq!(get(&router, &path).await.status, 200);
        let refused = get(&router, &path).await;
        assert_eq!(refused.status, 429);
        let message = refused.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(window), "{message}");
    }
}

#[tokio::test]
async fn stats_count_requests_by_status_route_and_key() {
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(5),
        ..EmulatorConfig::default()
    });
    let router = emu.router();
    let unknown = file_hash_of_class(WorldClass::Unknown, 64);
    let domain = domain_of_class(WorldClass::Clean);
    assert_eq!(
        get(&router, &format!("/api/v3/files/{EICAR_SHA256}"))
            .await
            .status,
        200
    );
    assert_eq!(
        get(&router, &format!("/api/v3/files/{unknown}"))
            .await
            .status,
        404
    );
    assert_eq!(
        get(&router, &format!("/api/v3/domains/{domain}"))
            .await
            .status,
        200
    );
    assert_eq!(
        post_multipart(
            &router,
            "/api/v3/files",
            multipart("file", Some("a.txt"), b"hello")
        )
        .await
        .status,
        200
    );
    assert_eq!(
        get(&router, "/api/v3/ip_addresses/1.1.1.1").await.status,
        200
    );
    assert_eq!(
        get(&router, "/api/v3/ip_addresses/1.1.1.1").await.status,
        429
    );
    let unauthenticated = send(
        &router,
        request("GET", &format!("/api/v3/domains/{domain}"), None)
            .body(Body::empty())
            .expect("valid"),
    )
    .await;
    assert_eq!(unauthenticated.status, 401);

    let over_http = get(&router, "/_emulator/stats").await;
    assert_eq!(over_http.status, 200);
    assert_eq!(over_http.content_type, "application/json");
    let key = &KEY[..8];
    let expected = json!({
        "requests_total": 7,
        "by_status": {"200": 4, "401": 1, "404": 1, "429": 1},
        "by_route": {
            "GET /domains/{id}": 2,
            "GET /files/{id}": 2,
            "GET /ip_addresses/{id}": 2,
            "POST /files": 1,
        },
        "uploads_total": 1,
        "quota": {key: {"minute": 5, "day": 5, "month": 5}},
    });
    assert_eq!(over_http.json(), expected);
    // Control routes are not counted, and the library call agrees.
    assert_eq!(emu.stats(), expected);

    emu.reset();
    assert_eq!(
        emu.stats(),
        json!({"requests_total": 0, "by_status": {}, "by_route": {}, "uploads_total": 0, "quota": {}})
    );
    // The world survives a reset: the upload is still known.
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(b"hello"))
    };
    assert_eq!(
        get(&router, &format!("/api/v3/files/{sha}")).await.status,
        200
    );
}

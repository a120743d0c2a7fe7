//! Per-key quotas, the stats document and the reset route.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use axum::body::Body;
use common::*;
use serde_json::json;
use vt_emulator::{key_fingerprint, EmulatorConfig, WorldClass, EICAR_SHA256};

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
    assert_eq!(
        emu.stats()["quota"][key_fingerprint("alpha-key-1")]["minute"],
        4
    );
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
    let key = key_fingerprint(KEY);
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
        "quota": {&key: {"minute": 5, "day": 5, "month": 5}},
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

#[tokio::test]
async fn a_zero_quota_means_unlimited_as_for_the_client() {
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(0),
        quota_day: Some(0),
        quota_month: Some(0),
        ..EmulatorConfig::default()
    });
    let router = emu.router();
    let path = format!("/api/v3/files/{EICAR_SHA256}");
    for _ in 0..10 {
        assert_eq!(get(&router, &path).await.status, 200);
    }
    let quotas = get(
        &router,
        &format!("/api/v3/users/{}/overall_quotas", key_fingerprint(KEY)),
    )
    .await
    .json();
    assert!(
        quotas["data"]["api_requests_daily"]["user"]["allowed"]
            .as_u64()
            .unwrap()
            >= 1_000_000,
        "{quotas}"
    );
}

/// Every 8-character piece of `key` that could be found in `text`.
fn fragments_of<'a>(key: &'a str, text: &str) -> Vec<&'a str> {
    (0..=key.len() - 8)
        .map(|i| &key[i..i + 8])
        .filter(|part| text.contains(part))
        .collect()
}

#[tokio::test]
async fn no_part_of_a_key_appears_in_stats_or_error_messages() {
    const SECRET: &str = "SeCrEtKeY-0123456789-abcdefghij";
    const OTHER: &str = "OtHeRkEy-9876543210-zyxwvutsrq";
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(8),
        ..EmulatorConfig::default()
    });
    let router = emu.router();
    let domain = format!("/api/v3/domains/{}", domain_of_class(WorldClass::Clean));
    let vote = r#"{"data": {"type": "vote", "attributes": {"verdict": "malicious"}}}"#;
    let post_vote = || {
        request("POST", &format!("{domain}/votes"), Some(SECRET))
            .header("content-type", "application/json")
            .body(Body::from(vote))
            .expect("valid")
    };
    let mut bodies = Vec::new();
    for answer in [
        send(&router, post_vote()).await,
        // A second vote: 409 naming the user.
        send(&router, post_vote()).await,
        get_with_key(
            &router,
            &format!("/api/v3/users/{OTHER}/overall_quotas"),
            SECRET,
        )
        .await,
        get_with_key(
            &router,
            &format!("/api/v3/users/{SECRET}x/api_usage"),
            SECRET,
        )
        .await,
        get_with_key(&router, "/api/v3/users/nobody/overall_quotas", SECRET).await,
        get_with_key(&router, "/api/v3/no/such/route", SECRET).await,
        get_with_key(&router, "/api/v3/files/nothash", SECRET).await,
    ] {
        bodies.push((
            answer.status,
            String::from_utf8_lossy(&answer.body).into_owned(),
        ));
    }
    // Spend the rest of the minute, then one more: the 429's message.
    for _ in 0..4 {
        get_with_key(&router, &domain, SECRET).await;
    }
    let refused = get_with_key(&router, &domain, SECRET).await;
    assert_eq!(refused.status, 429);
    bodies.push((
        refused.status,
        String::from_utf8_lossy(&refused.body).into_owned(),
    ));
    let statuses: Vec<u16> = bodies.iter().map(|(s, _)| s.as_u16()).collect();
    assert_eq!(
        statuses,
        [200, 409, 404, 404, 404, 404, 404, 429],
        "{bodies:?}"
    );
    let stats = get_with_key(&router, "/_emulator/stats", SECRET).await;
    bodies.push((
        stats.status,
        String::from_utf8_lossy(&stats.body).into_owned(),
    ));
    assert!(
        stats.json()["quota"][key_fingerprint(SECRET)]["minute"] == 8,
        "the key is still told apart: {}",
        bodies[bodies.len() - 1].1
    );
    for (status, body) in &bodies {
        for key in [SECRET, OTHER] {
            let found = fragments_of(key, body);
            assert!(
                found.is_empty(),
                "{status} shows {found:?} of a key: {body}"
            );
        }
    }
}

//! A private file's relationships and a private URL's report: paginated
//! like the public ones, visible to the uploading key only.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use axum::body::Body;
use common::*;
use serde_json::Value;
use vt_emulator::{EmulatorConfig, EICAR, EICAR_SHA256};

const PUBLIC: &str = "public-key-1";
const ALICE: &str = "alice-premium-key";
const BOB: &str = "bob-premium-key";

fn keyed() -> EmulatorConfig {
    EmulatorConfig {
        public_keys: vec![PUBLIC.into()],
        premium_keys: vec![ALICE.into(), BOB.into()],
        ..EmulatorConfig::default()
    }
}

async fn get_as(router: &axum::Router, path: &str, key: &str) -> Answer {
    send(
        router,
        request("GET", path, Some(key))
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

/// Alice uploads the EICAR file privately: detected, so it has related objects.
async fn alice_uploads_eicar(router: &axum::Router) {
    let uploaded = send(
        router,
        request("POST", "/api/v3/private/files", Some(ALICE))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(multipart("file", Some("eicar.com"), EICAR)))
            .expect("valid request"),
    )
    .await;
    assert_eq!(uploaded.status, 200);
}

/// Follows `links.next` from `first` to the end; returns every item's id.
async fn all_pages(router: &axum::Router, first: &str, key: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut next = Some(first.to_owned());
    let mut pages = 0;
    let mut total = None;
    while let Some(path) = next.take() {
        let answer = get_as(router, &path, key).await;
        assert_eq!(answer.status, 200, "{path}");
        let page = answer.json();
        pages += 1;
        assert!(pages < 50, "paging does not end");
        total.get_or_insert(page["meta"]["count"].as_u64().expect("count"));
        for item in page["data"].as_array().expect("data") {
            ids.push(item["id"].as_str().expect("id").to_owned());
        }
        next = page["links"]["next"]
            .as_str()
            .map(|n| n.trim_start_matches("http://emulator.test:8080").to_owned());
    }
    assert_eq!(Some(ids.len() as u64), total);
    (ids, pages)
}

#[tokio::test]
async fn private_file_relationships_page_like_public_ones_for_the_uploader() {
    let router = emulator(keyed()).router();
    alice_uploads_eicar(&router).await;
    let objects = format!("/api/v3/private/files/{EICAR_SHA256}/contacted_domains?limit=2");
    let descriptors =
        format!("/api/v3/private/files/{EICAR_SHA256}/relationships/contacted_domains?limit=2");

    let (object_ids, pages) = all_pages(&router, &objects, ALICE).await;
    assert!(
        object_ids.len() >= 5,
        "a detected file has 5+: {object_ids:?}"
    );
    assert!(pages >= 3, "{pages} pages");
    let (descriptor_ids, _) = all_pages(&router, &descriptors, ALICE).await;
    assert_eq!(object_ids, descriptor_ids);

    let first = get_as(&router, &objects, ALICE).await.json();
    assert_eq!(first["data"][0]["type"], "domain");
    assert!(first["data"][0]["attributes"].is_object(), "{first}");
    assert!(first["links"]["self"]
        .as_str()
        .is_some_and(|l| l.contains("/private/files/")));
    let described = get_as(&router, &descriptors, ALICE).await.json();
    assert_eq!(
        described["data"][0],
        serde_json::json!({"type": "domain", "id": object_ids[0]})
    );

    // Same draw as the public file of that sha256: deterministic from the hash.
    let (public_ids, _) = all_pages(
        &router,
        &format!("/api/v3/files/{EICAR_SHA256}/contacted_domains?limit=40"),
        ALICE,
    )
    .await;
    assert_eq!(object_ids, public_ids);

    for path in ["dropped_files", "contacted_ips", "contacted_urls"] {
        let answer = get_as(
            &router,
            &format!("/api/v3/private/files/{EICAR_SHA256}/{path}"),
            ALICE,
        )
        .await;
        assert_eq!(answer.status, 200, "{path}");
    }
}

#[tokio::test]
async fn another_key_gets_not_found_for_private_relationships() {
    let router = emulator(keyed()).router();
    alice_uploads_eicar(&router).await;
    for path in [
        format!("/api/v3/private/files/{EICAR_SHA256}/contacted_ips"),
        format!("/api/v3/private/files/{EICAR_SHA256}/relationships/contacted_ips"),
    ] {
        let bob = get_as(&router, &path, BOB).await;
        assert_eq!(bob.status, 404, "{path}");
        let body = bob.json();
        assert_eq!(body["error"]["code"], "NotFoundError");
        assert_eq!(
            body["error"]["message"],
            format!("Private file \"{EICAR_SHA256}\" not found")
        );
        assert_eq!(get_as(&router, &path, PUBLIC).await.status, 403, "{path}");
    }
    let unknown = get_as(
        &router,
        &format!("/api/v3/private/files/{EICAR_SHA256}/no_such_relationship"),
        ALICE,
    )
    .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.json()["error"]["code"], "InvalidArgumentError");
    let not_sha = get_as(
        &router,
        "/api/v3/private/files/44d88612fea8a8f36de82e1278abb02f/contacted_ips",
        ALICE,
    )
    .await;
    assert_eq!(not_sha.status, 400);
}

#[tokio::test]
async fn a_private_url_report_is_its_submitters_only() {
    let router = emulator(keyed()).router();
    let url = "http://private-report.example/path";
    let submitted = send(
        &router,
        request("POST", "/api/v3/private/urls", Some(ALICE))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("url=http%3A%2F%2Fprivate-report.example%2Fpath"))
            .expect("valid request"),
    )
    .await;
    assert_eq!(submitted.status, 200);
    let sha256 = ioc::url_sha256(url);

    for id in [sha256.clone(), ioc::url_id(url)] {
        let answer = get_as(&router, &format!("/api/v3/private/urls/{id}"), ALICE).await;
        assert_eq!(answer.status, 200, "{id}");
        let report = answer.json();
        assert_eq!(report["data"]["type"], "private_url");
        assert_eq!(report["data"]["id"], sha256.as_str());
        assert_eq!(report["data"]["attributes"]["url"], url);
        assert!(report["data"]["attributes"]["last_analysis_stats"].is_object());
        assert!(report["data"]["attributes"].get("reputation").is_none());
    }

    let bob = get_as(&router, &format!("/api/v3/private/urls/{sha256}"), BOB).await;
    assert_eq!(bob.status, 404);
    assert_eq!(bob.json()["error"]["code"], "NotFoundError");
    let public = get_as(&router, &format!("/api/v3/private/urls/{sha256}"), PUBLIC).await;
    assert_eq!(public.status, 403);
    let never = get_as(
        &router,
        &format!(
            "/api/v3/private/urls/{}",
            ioc::url_sha256("http://never.example/")
        ),
        ALICE,
    )
    .await;
    assert_eq!(never.status, 404);
    let garbage: Value = get_as(&router, "/api/v3/private/urls/not-base64!", ALICE)
        .await
        .json();
    assert_eq!(garbage["error"]["code"], "NotFoundError");
}

#[tokio::test]
async fn a_private_url_has_no_results_before_its_analysis_completes() {
    let router = emulator(EmulatorConfig {
        analysis_delay: std::time::Duration::from_secs(600),
        ..keyed()
    })
    .router();
    let answer = send(
        &router,
        request("POST", "/api/v3/private/urls", Some(ALICE))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("url=http%3A%2F%2Fslow.example%2F"))
            .expect("valid request"),
    )
    .await;
    assert_eq!(answer.status, 200);
    let sha256 = ioc::url_sha256("http://slow.example/");
    let report = get_as(&router, &format!("/api/v3/private/urls/{sha256}"), ALICE)
        .await
        .json();
    let attributes = &report["data"]["attributes"];
    assert!(attributes.get("last_analysis_stats").is_none(), "{report}");
    assert!(attributes.get("last_analysis_date").is_none(), "{report}");
}

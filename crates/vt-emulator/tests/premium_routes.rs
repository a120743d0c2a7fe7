//! Downloads, search, intelligence search and the widget.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use axum::body::Body;
use common::*;
use vt_emulator::{EmulatorConfig, WorldClass, EICAR, EICAR_MD5, EICAR_SHA256};

const PUBLIC: &str = "public-key-1";
const PREMIUM: &str = "premium-key-1";

fn keyed() -> EmulatorConfig {
    EmulatorConfig {
        public_keys: vec![PUBLIC.into()],
        premium_keys: vec![PREMIUM.into()],
        fixtures: Some(fixtures_dir()),
        ..EmulatorConfig::default()
    }
}

async fn get_as(router: &axum::Router, path: &str, key: Option<&str>) -> Answer {
    send(
        router,
        request("GET", path, key)
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

#[tokio::test]
async fn downloads_serve_known_bytes_to_premium_keys_only() {
    let router = emulator(keyed()).router();
    let eicar = get_as(
        &router,
        &format!("/api/v3/files/{EICAR_MD5}/download"),
        Some(PREMIUM),
    )
    .await;
    assert_eq!(eicar.status, 200);
    assert_eq!(eicar.content_type, "application/octet-stream");
    assert_eq!(eicar.body, EICAR);

    let fixture_sha = "5e5e790f8a884ebe9278a5e939f2db05dcfff55c479c74bd7f21cdd10d1a8b95";
    let fixture = get_as(
        &router,
        &format!("/api/v3/files/{fixture_sha}/download"),
        Some(PREMIUM),
    )
    .await;
    assert_eq!(fixture.status, 200);
    let expected =
        std::fs::read(fixtures_dir().join("content").join(fixture_sha)).expect("fixture content");
    assert_eq!(fixture.body, expected);

    let forbidden = get_as(
        &router,
        &format!("/api/v3/files/{EICAR_MD5}/download"),
        Some(PUBLIC),
    )
    .await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.json()["error"]["code"], "ForbiddenError");

    let no_content = file_hash_of_class(WorldClass::Malicious, 64);
    let missing = get_as(
        &router,
        &format!("/api/v3/files/{no_content}/download"),
        Some(PREMIUM),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "NotFoundError");
}

#[tokio::test]
async fn uploaded_bytes_can_be_downloaded_again() {
    let router = emulator(keyed()).router();
    let content = b"bytes that were uploaded to the emulator".to_vec();
    let answer = send(
        &router,
        request("POST", "/api/v3/files", Some(PREMIUM))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(multipart("file", Some("up.bin"), &content)))
            .expect("valid request"),
    )
    .await;
    assert_eq!(answer.status, 200);
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&content))
    };
    let download = get_as(
        &router,
        &format!("/api/v3/files/{sha}/download"),
        Some(PREMIUM),
    )
    .await;
    assert_eq!(download.body, content);
}

#[tokio::test]
async fn download_url_is_a_signed_link_that_needs_no_key() {
    let router = emulator(keyed()).router();
    let answer = get_as(
        &router,
        &format!("/api/v3/files/{EICAR_SHA256}/download_url"),
        Some(PREMIUM),
    )
    .await;
    assert_eq!(answer.status, 200);
    let link = answer.json()["data"].as_str().expect("a URL").to_owned();
    let path = link
        .strip_prefix("http://emulator.test:8080")
        .expect("absolute on the client's host")
        .to_owned();
    for _ in 0..2 {
        let bytes = get_as(&router, &path, None).await;
        assert_eq!(bytes.status, 200);
        assert_eq!(bytes.body, EICAR);
    }
    assert_eq!(
        get_as(&router, "/api/v3/_download/nonsense", None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn search_finds_each_kind_of_indicator() {
    let router = emulator(keyed()).router();
    let domain = domain_of_class(WorldClass::Clean);
    let unknown = file_hash_of_class(WorldClass::Unknown, 64);
    let cases = [
        (
            EICAR_MD5.to_owned(),
            Some(("file", EICAR_SHA256.to_owned())),
        ),
        (domain.clone(), Some(("domain", domain.clone()))),
        (
            "9.9.9.9".to_owned(),
            Some(("ip_address", "9.9.9.9".to_owned())),
        ),
        (
            "http://fixture.example.test/landing".to_owned(),
            Some((
                "url",
                ioc::url_sha256("http://fixture.example.test/landing"),
            )),
        ),
        (unknown, None),
        ("not an indicator at all".to_owned(), None),
    ];
    for (query, expected) in cases {
        let encoded = query
            .replace(' ', "%20")
            .replace(':', "%3A")
            .replace('/', "%2F");
        let answer = get_as(
            &router,
            &format!("/api/v3/search?query={encoded}"),
            Some(PUBLIC),
        )
        .await;
        assert_eq!(answer.status, 200, "{query}");
        let json = answer.json();
        let data = json["data"].as_array().expect("list");
        match expected {
            Some((kind, id)) => {
                assert_eq!(data.len(), 1, "{query}");
                assert_eq!(data[0]["type"], kind);
                assert_eq!(data[0]["id"], id.as_str());
            }
            None => assert!(data.is_empty(), "{query}"),
        }
    }
}

#[tokio::test]
async fn intelligence_search_filters_by_modifiers_for_premium_keys() {
    let router = emulator(keyed()).router();
    let forbidden = get_as(
        &router,
        "/api/v3/intelligence/search?query=type%3Apeexe",
        Some(PUBLIC),
    )
    .await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.json()["error"]["code"], "ForbiddenError");

    let answer = get_as(
        &router,
        "/api/v3/intelligence/search?query=type%3Apeexe%20positives%3A5%2B&limit=300",
        Some(PREMIUM),
    )
    .await;
    assert_eq!(answer.status, 200);
    let json = answer.json();
    let hits = json["data"].as_array().expect("list");
    assert!(!hits.is_empty());
    assert_eq!(json["meta"]["total_hits"], hits.len());
    for hit in hits {
        assert_eq!(hit["attributes"]["type_tag"], "peexe");
        assert!(
            hit["attributes"]["last_analysis_stats"]["malicious"]
                .as_u64()
                .unwrap_or(0)
                >= 5
        );
    }
    let clean = get_as(
        &router,
        "/api/v3/intelligence/search?query=p%3A0&limit=300",
        Some(PREMIUM),
    )
    .await
    .json();
    for hit in clean["data"].as_array().into_iter().flatten() {
        assert_eq!(hit["attributes"]["last_analysis_stats"]["malicious"], 0);
    }
    let tagged = get_as(
        &router,
        "/api/v3/intelligence/search?query=tag%3Afixture&descriptors_only=true",
        Some(PREMIUM),
    )
    .await
    .json();
    assert_eq!(
        tagged["data"],
        serde_json::json!([{"type": "file", "id": "5e5e790f8a884ebe9278a5e939f2db05dcfff55c479c74bd7f21cdd10d1a8b95"}])
    );
    let paged = get_as(
        &router,
        "/api/v3/intelligence/search?query=p%3A0%2B&limit=7",
        Some(PREMIUM),
    )
    .await
    .json();
    assert_eq!(paged["data"].as_array().map(Vec::len), Some(7));
    assert!(paged["meta"]["cursor"].is_string());

    for (query, code) in [
        ("content%3A%22abc%22", "UnsupportedContentQueryError"),
        ("colour%3Ablue", "InvalidArgumentError"),
    ] {
        let answer = get_as(
            &router,
            &format!("/api/v3/intelligence/search?query={query}"),
            Some(PREMIUM),
        )
        .await;
        assert_eq!(answer.status, 400, "{query}");
        assert_eq!(answer.json()["error"]["code"], code);
    }
}

#[tokio::test]
async fn widget_links_to_an_html_page_with_the_detection_ratio() {
    let router = emulator(keyed()).router();
    let answer = get_as(
        &router,
        &format!("/api/v3/widget/url?query={EICAR_SHA256}&fg1=ff0000"),
        Some(PUBLIC),
    )
    .await;
    assert_eq!(answer.status, 200);
    let json = answer.json();
    let data = &json["data"];
    let detections = data["detection_ratio"]["detections"].as_u64().unwrap_or(0);
    assert!(detections > 50);
    assert_eq!(data["found"], true);
    let link = data["url"].as_str().expect("url");
    let path = link
        .strip_prefix("http://emulator.test:8080")
        .expect("absolute link");
    let page = get_as(&router, path, None).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    let html = String::from_utf8(page.body).expect("utf-8");
    assert!(html.contains(&format!("{detections} / ")));
    assert!(html.contains("#ff0000"));

    let hostile = get_as(
        &router,
        "/api/v3/widget/url?query=http%3A%2F%2Fevil.example%2F%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        Some(PUBLIC),
    )
    .await
    .json();
    let link = hostile["data"]["url"].as_str().expect("url").to_owned();
    let path = link.trim_start_matches("http://emulator.test:8080");
    let html = String::from_utf8(get_as(&router, path, None).await.body).expect("utf-8");
    assert!(!html.contains("<script>"));

    let bad = get_as(&router, "/api/v3/widget/html/%21%21%21", None).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["code"], "BadRequestError");
}

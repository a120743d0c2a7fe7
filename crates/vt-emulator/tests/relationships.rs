//! Relationship routes: full objects and descriptors, deterministic, paginated.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use serde_json::Value;
use vt_emulator::{EmulatorConfig, WorldClass, EICAR_SHA256};

/// Follows `meta.cursor` page by page, returning every item and the pages seen.
async fn walk(router: &axum::Router, path: &str, limit: usize) -> (Vec<Value>, usize, Value) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    let mut first_meta = Value::Null;
    loop {
        let url = match &cursor {
            None => format!("{path}?limit={limit}"),
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
        };
        let answer = get(router, &url).await;
        assert_eq!(
            answer.status,
            200,
            "{url}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(answer.content_type, "application/json");
        let json = answer.json();
        pages += 1;
        if pages == 1 {
            first_meta = json["meta"].clone();
        }
        let data = json["data"].as_array().expect("a list").clone();
        assert!(data.len() <= limit);
        items.extend(data);
        match json["meta"]["cursor"].as_str() {
            Some(c) => {
                let next = json["links"]["next"]
                    .as_str()
                    .expect("next link with cursor");
                assert!(
                    next.contains(&format!("cursor={c}"))
                        && next.contains(&format!("limit={limit}"))
                );
                cursor = Some(c.to_owned());
            }
            None => {
                assert!(json["links"].get("next").is_none());
                break;
            }
        }
        assert!(pages < 50, "pagination must end");
    }
    (items, pages, first_meta)
}

#[tokio::test]
async fn full_and_descriptor_routes_list_the_same_ids_across_pages() {
    let router = emulator(EmulatorConfig::default()).router();
    let full_path = format!("/api/v3/files/{EICAR_SHA256}/contacted_domains");
    let (full, pages, meta) = walk(&router, &full_path, 4).await;
    assert!(full.len() >= 5, "a malicious file contacts several domains");
    assert!(pages >= 2);
    assert_eq!(meta["count"], full.len());
    for item in &full {
        assert_eq!(item["type"], "domain");
        assert!(
            item["attributes"]["last_analysis_stats"].is_object(),
            "{item}"
        );
    }
    let (descriptors, _, _) = walk(
        &router,
        &format!("/api/v3/files/{EICAR_SHA256}/relationships/contacted_domains"),
        7,
    )
    .await;
    let ids = |items: &[Value]| items.iter().map(|i| i["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&full), ids(&descriptors));
    for d in &descriptors {
        assert!(d.get("attributes").is_none());
        assert_eq!(d["type"], "domain");
    }
    // Same answer from a fresh emulator: deterministic.
    let other = emulator(EmulatorConfig::default()).router();
    let (again, _, _) = walk(&other, &full_path, 4).await;
    assert_eq!(full, again);
}

#[tokio::test]
async fn every_documented_relationship_answers_with_its_item_type() {
    let router = emulator(EmulatorConfig::default()).router();
    let file = file_hash_of_class(WorldClass::Malicious, 64);
    let (url, _) = url_of_class(WorldClass::Malicious);
    let url_id = ioc::url_id(&url);
    let domain = domain_of_class(WorldClass::Malicious);
    let cases = [
        ("files", file.as_str(), "contacted_ips", "ip_address"),
        ("files", file.as_str(), "contacted_domains", "domain"),
        ("files", file.as_str(), "contacted_urls", "url"),
        ("files", file.as_str(), "dropped_files", "file"),
        ("files", file.as_str(), "execution_parents", "file"),
        ("files", file.as_str(), "bundled_files", "file"),
        ("files", file.as_str(), "similar_files", "file"),
        ("urls", url_id.as_str(), "contacted_domains", "domain"),
        ("urls", url_id.as_str(), "contacted_ips", "ip_address"),
        ("urls", url_id.as_str(), "redirecting_urls", "url"),
        ("domains", domain.as_str(), "resolutions", "resolution"),
        ("domains", domain.as_str(), "subdomains", "domain"),
        ("domains", domain.as_str(), "communicating_files", "file"),
        ("domains", domain.as_str(), "urls", "url"),
        ("domains", domain.as_str(), "downloaded_files", "file"),
        ("domains", domain.as_str(), "referrer_files", "file"),
        ("ip_addresses", "185.220.101.4", "resolutions", "resolution"),
        (
            "ip_addresses",
            "185.220.101.4",
            "communicating_files",
            "file",
        ),
        ("ip_addresses", "185.220.101.4", "urls", "url"),
    ];
    for (collection, id, relationship, item_type) in cases {
        for route in [
            format!("/api/v3/{collection}/{id}/{relationship}?limit=40"),
            format!("/api/v3/{collection}/{id}/relationships/{relationship}?limit=40"),
        ] {
            let answer = get(&router, &route).await;
            assert_eq!(answer.status, 200, "{route}");
            let json = answer.json();
            let data = json["data"].as_array().expect("list");
            assert_eq!(json["meta"]["count"], data.len(), "{route}");
            for item in data {
                assert_eq!(item["type"], item_type, "{route}");
                assert!(item["id"].is_string());
            }
        }
    }
    let subdomains = get(
        &router,
        &format!("/api/v3/domains/{domain}/subdomains?limit=40"),
    )
    .await
    .json();
    for item in subdomains["data"].as_array().into_iter().flatten() {
        let id = item["id"].as_str().unwrap_or_default();
        assert!(id.ends_with(&format!(".{domain}")), "{id}");
    }
    let resolutions = get(
        &router,
        &format!("/api/v3/domains/{domain}/resolutions?limit=40"),
    )
    .await
    .json();
    for item in resolutions["data"].as_array().into_iter().flatten() {
        assert_eq!(item["attributes"]["host_name"], domain.as_str());
        let id = item["id"].as_str().unwrap_or_default();
        let ip = item["attributes"]["ip_address"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(id, format!("{ip}{domain}"));
    }
}

#[tokio::test]
async fn contacted_urls_carry_their_url_text() {
    let router = emulator(EmulatorConfig::default()).router();
    let json = get(
        &router,
        &format!("/api/v3/files/{EICAR_SHA256}/contacted_urls?limit=40"),
    )
    .await
    .json();
    let items = json["data"].as_array().expect("list");
    assert!(!items.is_empty());
    for item in items {
        let url = item["attributes"]["url"].as_str().expect("url attribute");
        assert_eq!(
            ioc::url_sha256(url),
            item["id"].as_str().unwrap_or_default()
        );
    }
}

#[tokio::test]
async fn last_serving_ip_address_is_one_object() {
    let router = emulator(EmulatorConfig::default()).router();
    let (url, _) = url_of_class(WorldClass::Clean);
    let path = format!("/api/v3/urls/{}/last_serving_ip_address", ioc::url_id(&url));
    let json = get(&router, &path).await.json();
    assert_eq!(json["data"]["type"], "ip_address");
    assert!(json["data"]["attributes"]["asn"].is_u64());
    let descriptor = get(
        &router,
        &format!(
            "/api/v3/urls/{}/relationships/last_serving_ip_address",
            ioc::url_id(&url)
        ),
    )
    .await
    .json();
    assert_eq!(descriptor["data"]["id"], json["data"]["id"]);
    assert!(descriptor["data"].get("attributes").is_none());
}

#[tokio::test]
async fn bad_relationships_and_parents_are_errors() {
    let router = emulator(EmulatorConfig::default()).router();
    let unknown = file_hash_of_class(WorldClass::Unknown, 64);
    let cases = [
        (
            format!("/api/v3/files/{EICAR_SHA256}/no_such_relationship"),
            400,
            "InvalidArgumentError",
        ),
        (
            "/api/v3/domains/example.org/dropped_files".to_owned(),
            400,
            "InvalidArgumentError",
        ),
        (
            format!("/api/v3/files/{unknown}/contacted_domains"),
            404,
            "NotFoundError",
        ),
        (
            format!("/api/v3/files/{EICAR_SHA256}/contacted_domains?cursor=%21%21"),
            400,
            "InvalidArgumentError",
        ),
    ];
    for (path, status, code) in cases {
        let answer = get(&router, &path).await;
        assert_eq!(answer.status.as_u16(), status, "{path}");
        assert_eq!(answer.json()["error"]["code"], code, "{path}");
    }
}

#[tokio::test]
async fn stats_name_relationship_routes_by_template() {
    let emu = emulator(EmulatorConfig::default());
    let router = emu.router();
    get(
        &router,
        &format!("/api/v3/files/{EICAR_SHA256}/contacted_ips"),
    )
    .await;
    get(
        &router,
        &format!("/api/v3/files/{EICAR_SHA256}/relationships/contacted_ips"),
    )
    .await;
    let stats = emu.stats();
    assert_eq!(stats["by_route"]["GET /files/{id}/{relationship}"], 1);
    assert_eq!(
        stats["by_route"]["GET /files/{id}/relationships/{relationship}"],
        1
    );
}

#[tokio::test]
async fn relationships_query_embeds_descriptors_in_the_object() {
    let router = emulator(EmulatorConfig::default()).router();
    let json = get(
        &router,
        &format!(
            "/api/v3/files/{EICAR_SHA256}?relationships=contacted_domains,contacted_ips,bogus"
        ),
    )
    .await
    .json();
    let relationships = json["data"]["relationships"]
        .as_object()
        .expect("relationships");
    assert_eq!(relationships.len(), 2);
    let domains = &relationships["contacted_domains"];
    let (all, _, _) = walk(
        &router,
        &format!("/api/v3/files/{EICAR_SHA256}/relationships/contacted_domains"),
        40,
    )
    .await;
    let embedded: Vec<Value> = domains["data"].as_array().expect("list").clone();
    assert_eq!(embedded, all.iter().take(10).cloned().collect::<Vec<_>>());
    assert_eq!(domains["meta"]["count"], all.len());
    assert!(domains["links"]["related"]
        .as_str()
        .is_some_and(|l| l.ends_with("/contacted_domains")));
    assert!(json["data"]["attributes"].is_object());
}

//! The object routes beyond the four reports answer consistently with the
//! world, and every `links.self` the emulator emits resolves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use common::{domain_of_class, emulator, file_hash_of_class, get, send, url_of_class, KEY};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use vt_emulator::{EmulatorConfig, WorldClass, EICAR_SHA256};

async fn post_json(router: &axum::Router, path: &str, body: Value) -> common::Answer {
    send(
        router,
        common::request("POST", path, Some(KEY))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

/// Every `links.self` (and `links.related`) in a document, as API paths.
fn links(doc: &Value, out: &mut BTreeSet<String>) {
    match doc {
        Value::Object(map) => {
            if let Some(Value::Object(l)) = map.get("links") {
                for key in ["self", "related"] {
                    if let Some(href) = l.get(key).and_then(Value::as_str) {
                        let path = href
                            .split_once("/api/v3")
                            .map(|(_, p)| format!("/api/v3{p}"))
                            .expect("links point into the API");
                        out.insert(path);
                    }
                }
            }
            if let Some(id) = map.get("ruleset_id").and_then(Value::as_str) {
                out.insert(format!("/api/v3/yara_rulesets/{id}"));
            }
            map.values().for_each(|v| links(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| links(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_links_self_the_emulator_emits_resolves() {
    let router = emulator(EmulatorConfig::default()).router();
    let file = file_hash_of_class(WorldClass::Malicious, 64);
    let (url, _) = url_of_class(WorldClass::Malicious);
    let domain = domain_of_class(WorldClass::Malicious);
    let comment = post_json(
        &router,
        &format!("/api/v3/files/{file}/comments"),
        json!({"data": {"type": "comment", "attributes": {"text": "seen in #phishing"}}}),
    )
    .await;
    assert_eq!(comment.status.as_u16(), 200);
    let vote = post_json(
        &router,
        &format!("/api/v3/domains/{domain}/votes"),
        json!({"data": {"type": "vote", "attributes": {"verdict": "malicious"}}}),
    )
    .await;
    assert_eq!(vote.status.as_u16(), 200);
    let zip = post_json(
        &router,
        "/api/v3/intelligence/zip_files",
        json!({"data": {"hashes": [EICAR_SHA256, file], "password": "infected"}}),
    )
    .await;
    assert_eq!(zip.status.as_u16(), 200, "{}", zip.json());
    assert_eq!(zip.json()["data"]["attributes"]["status"], "finished");
    assert_eq!(zip.json()["data"]["attributes"]["files_ok"], 2);

    let start = [
        format!("/api/v3/files/{EICAR_SHA256}"),
        format!("/api/v3/files/{file}?relationships=behaviours,sigma_analysis,comments"),
        format!("/api/v3/files/{file}/behaviours"),
        format!("/api/v3/files/{file}/comments"),
        format!("/api/v3/files/{file}/sigma_analysis"),
        format!("/api/v3/files/{file}/contacted_urls"),
        format!("/api/v3/urls/{}", ioc::url_id(&url)),
        format!("/api/v3/urls/{}/network_location", ioc::url_id(&url)),
        format!("/api/v3/urls/{}/last_serving_ip_address", ioc::url_id(&url)),
        format!("/api/v3/domains/{domain}/resolutions"),
        format!("/api/v3/domains/{domain}/siblings"),
        format!("/api/v3/domains/{domain}/votes"),
        format!("/api/v3/domains/{domain}/historical_whois"),
        "/api/v3/ip_addresses/185.220.101.4/resolutions".to_owned(),
        format!("/api/v3/users/{KEY}"),
    ];
    let mut found = BTreeSet::new();
    for path in &start {
        let answer = get(&router, path).await;
        assert_eq!(answer.status.as_u16(), 200, "{path}: {}", answer.json());
        links(&answer.json(), &mut found);
    }
    links(&zip.json(), &mut found);
    links(&comment.json(), &mut found);
    links(&vote.json(), &mut found);
    for kind in [
        "/yara_rulesets/",
        "/comments/",
        "/votes/",
        "/resolutions/",
        "/file_behaviours/",
        "/sigma_analyses/",
        "/intelligence/zip_files/",
        "/users/",
    ] {
        assert!(
            found.iter().any(|l| l.contains(kind)),
            "no {kind} link found among {found:?}"
        );
    }
    // Follow each link, and the links of what it answers, once.
    let mut checked = BTreeSet::new();
    let mut queue: Vec<String> = found.into_iter().collect();
    while let Some(path) = queue.pop() {
        if !checked.insert(path.clone()) || checked.len() > 400 {
            continue;
        }
        let answer = get(&router, &path).await;
        assert_eq!(answer.status.as_u16(), 200, "{path}: {}", answer.json());
        let json = answer.json();
        assert!(json.get("data").is_some(), "{path}");
        if let Some(data) = json["data"].as_object() {
            assert!(
                data.contains_key("type") && data.contains_key("id"),
                "{path}"
            );
        }
        let mut more = BTreeSet::new();
        links(&json, &mut more);
        queue.extend(more.into_iter().filter(|l| !checked.contains(l)));
    }
    assert!(checked.len() > 50, "walked {} links", checked.len());
}

#[tokio::test]
async fn object_routes_agree_with_the_world() {
    let router = emulator(EmulatorConfig::default()).router();
    let file = file_hash_of_class(WorldClass::Malicious, 64);
    let report = get(&router, &format!("/api/v3/files/{file}")).await.json();
    let attributes = &report["data"]["attributes"];
    // Each YARA ruleset a report names resolves, with its rule text.
    let yara = attributes["crowdsourced_yara_results"].as_array().unwrap();
    assert!(!yara.is_empty());
    for result in yara {
        let id = result["ruleset_id"].as_str().unwrap();
        let ruleset = get(&router, &format!("/api/v3/yara_rulesets/{id}")).await;
        assert_eq!(ruleset.status.as_u16(), 200);
        let ruleset = ruleset.json();
        assert_eq!(
            ruleset["data"]["attributes"]["name"],
            result["ruleset_name"]
        );
        let rules = ruleset["data"]["attributes"]["rules"].as_str().unwrap();
        assert!(rules.contains(result["rule_name"].as_str().unwrap()));
    }
    // The Sigma analysis agrees with the report's stats.
    let sigma = get(&router, &format!("/api/v3/sigma_analyses/{file}"))
        .await
        .json();
    assert_eq!(
        sigma["data"]["attributes"]["stats"],
        attributes["sigma_analysis_stats"]
    );
    // Sandboxes: the verdicts, the behaviours relationship and the routes agree.
    let verdicts = attributes["sandbox_verdicts"].as_object().unwrap();
    let behaviours = get(
        &router,
        &format!("/api/v3/files/{file}/behaviours?limit=40"),
    )
    .await
    .json();
    let sandboxes: BTreeSet<&str> = behaviours["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["attributes"]["sandbox_name"].as_str().unwrap())
        .collect();
    assert_eq!(sandboxes, verdicts.keys().map(String::as_str).collect());
    let summary = get(&router, &format!("/api/v3/files/{file}/behaviour_summary"))
        .await
        .json();
    assert!(summary["data"]["dns_lookups"]
        .as_array()
        .is_some_and(|l| !l.is_empty()));
    // Unknown ids are 404 NotFoundError on every route.
    let unknown = file_hash_of_class(WorldClass::Unknown, 64);
    for path in [
        "/api/v3/yara_rulesets/ffffffffff".to_owned(),
        "/api/v3/comments/f-nothing-00000000".to_owned(),
        "/api/v3/votes/f-nothing-00000000".to_owned(),
        format!("/api/v3/sigma_analyses/{unknown}"),
        format!("/api/v3/files/{unknown}/behaviour_summary"),
        format!("/api/v3/file_behaviours/{file}_No%20Such%20Sandbox"),
        "/api/v3/resolutions/not-a-resolution".to_owned(),
        "/api/v3/intelligence/zip_files/0000".to_owned(),
        "/api/v3/users/someone-else".to_owned(),
    ] {
        let answer = get(&router, &path).await;
        assert_eq!(answer.status.as_u16(), 404, "{path}");
        assert_eq!(answer.json()["error"]["code"], "NotFoundError", "{path}");
    }
    let categories = get(&router, "/api/v3/popular_threat_categories")
        .await
        .json();
    assert!(categories["data"]
        .as_array()
        .unwrap()
        .contains(&json!("trojan")));
}

#[tokio::test]
async fn zip_files_are_premium_only() {
    let router = emulator(EmulatorConfig {
        public_keys: vec![KEY.into()],
        ..EmulatorConfig::default()
    })
    .router();
    let answer = post_json(
        &router,
        "/api/v3/intelligence/zip_files",
        json!({"data": {"hashes": [EICAR_SHA256]}}),
    )
    .await;
    assert_eq!(answer.status.as_u16(), 403);
    assert_eq!(answer.json()["error"]["code"], "ForbiddenError");
}

#[tokio::test]
async fn sigma_and_sandbox_routes_agree_with_every_kind_of_report() {
    let router = emulator(EmulatorConfig::default()).router();
    let files = [
        EICAR_SHA256.to_owned(),
        file_hash_of_class(WorldClass::Malicious, 64),
        file_hash_of_class(WorldClass::Suspicious, 64),
        file_hash_of_class(WorldClass::Clean, 64),
    ];
    for file in files {
        let report = get(&router, &format!("/api/v3/files/{file}")).await.json();
        let attributes = &report["data"]["attributes"];
        let sigma = get(&router, &format!("/api/v3/sigma_analyses/{file}"))
            .await
            .json();
        assert_eq!(
            sigma["data"]["attributes"]["stats"], attributes["sigma_analysis_stats"],
            "{file}"
        );
        let behaviours = get(
            &router,
            &format!("/api/v3/files/{file}/behaviours?limit=40"),
        )
        .await
        .json();
        let sandboxes: BTreeSet<String> = behaviours["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["attributes"]["sandbox_name"].as_str().unwrap().to_owned())
            .collect();
        let verdicts: BTreeSet<String> = attributes["sandbox_verdicts"]
            .as_object()
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(sandboxes, verdicts, "{file}");
    }
}

/// `/intelligence/zip_files/{id}/download` and `/download_url` (its signed
/// link needs no key) give a ZIP of the known samples, named by sha256 and
/// encrypted with the password asked for; a public key is refused.
#[tokio::test]
async fn a_zip_file_downloads_with_its_password_directly_and_by_its_signed_link() {
    let router = emulator(EmulatorConfig::default()).router();
    let zip = post_json(
        &router,
        "/api/v3/intelligence/zip_files",
        json!({"data": {"hashes": [EICAR_SHA256], "password": "s3cret"}}),
    )
    .await;
    let id = zip.json()["data"]["id"].as_str().unwrap().to_owned();
    let read = |bytes: &[u8]| {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        assert_eq!(archive.len(), 1);
        assert!(
            archive.by_index(0).is_err(),
            "encrypted: no password, no entry"
        );
        let mut entry = archive.by_index_decrypt(0, b"s3cret").unwrap();
        assert_eq!(entry.name(), EICAR_SHA256);
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        content
    };
    let direct = get(
        &router,
        &format!("/api/v3/intelligence/zip_files/{id}/download"),
    )
    .await;
    assert_eq!(direct.status.as_u16(), 200);
    assert_eq!(direct.content_type, "application/zip");
    assert_eq!(read(&direct.body), vt_emulator::EICAR);
    let link = get(
        &router,
        &format!("/api/v3/intelligence/zip_files/{id}/download_url"),
    )
    .await;
    assert_eq!(link.status.as_u16(), 200, "{}", link.json());
    let href = link.json()["data"].as_str().unwrap().to_owned();
    let path = format!("/api/v3{}", href.split_once("/api/v3").unwrap().1);
    let signed = send(
        &router,
        common::request("GET", &path, None)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(signed.status.as_u16(), 200);
    assert_eq!(read(&signed.body), vt_emulator::EICAR);
    let missing = get(&router, "/api/v3/intelligence/zip_files/nope/download").await;
    assert_eq!(missing.status.as_u16(), 404);
}

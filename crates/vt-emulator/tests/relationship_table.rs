//! Every documented relationship of files, URLs, domains and IP addresses
//! answers, pages, carries its context attributes, and is refused to
//! public keys where it is premium-only; docs/emulator.md lists exactly
//! the table the router follows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use common::{domain_of_class, emulator, file_hash_of_class, get, send, url_of_class};
use serde_json::Value;
use vt_emulator::{relationships_markdown, EmulatorConfig, WorldClass};

const PUBLIC: &str = "public-key-relationships";
const PREMIUM: &str = "premium-key-relationships";

/// (collection, name, premium only, carries `context_attributes.url`).
fn rows() -> Vec<(String, String, bool, bool)> {
    relationships_markdown()
        .lines()
        .skip(2)
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (
                cells[1].to_owned(),
                cells[2].trim_matches('`').to_owned(),
                cells[4] == "yes",
                cells[5] == "`url`",
            )
        })
        .collect()
}

const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/emulator.md");
const START: &str = "<!-- relationships:start -->\n";
const END: &str = "<!-- relationships:end -->";

/// `VT_EMULATOR_WRITE_DOCS=1 cargo test -p vt-emulator --test relationship_table`
/// rewrites the table between the markers of docs/emulator.md.
#[test]
fn docs_carry_the_table_the_router_follows() {
    let mut docs = std::fs::read_to_string(DOCS).unwrap();
    if std::env::var_os("VT_EMULATOR_WRITE_DOCS").is_some() {
        let start = docs.find(START).expect("start marker") + START.len();
        let end = docs.find(END).expect("end marker");
        docs.replace_range(start..end, &relationships_markdown());
        std::fs::write(DOCS, &docs).unwrap();
    }
    assert!(
        docs.contains(&relationships_markdown()),
        "docs/emulator.md must hold vt_emulator::relationships_markdown() verbatim"
    );
    let rows = rows();
    for name in [
        "itw_urls",
        "embedded_urls",
        "embedded_domains",
        "embedded_ips",
        "behaviours",
        "collections",
        "distributors",
        "pe_resource_parents",
        "pe_resource_children",
    ] {
        assert!(rows.iter().any(|r| r.0 == "files" && r.1 == name), "{name}");
    }
    for (collection, name) in [
        ("domains", "siblings"),
        ("domains", "historical_whois"),
        ("domains", "historical_ssl_certificates"),
        ("urls", "communicating_files"),
        ("urls", "downloaded_files"),
        ("urls", "referrer_files"),
        ("urls", "network_location"),
        ("ip_addresses", "downloaded_files"),
        ("ip_addresses", "referrer_files"),
        ("ip_addresses", "historical_whois"),
        ("ip_addresses", "historical_ssl_certificates"),
    ] {
        assert!(
            rows.iter().any(|r| r.0 == collection && r.1 == name),
            "{collection}/{name}"
        );
    }
}

async fn get_as(router: &axum::Router, path: &str, key: &str) -> common::Answer {
    send(
        router,
        common::request("GET", path, Some(key))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn every_relationship_pages_and_premium_ones_refuse_public_keys() {
    let router = emulator(EmulatorConfig {
        public_keys: vec![PUBLIC.into()],
        premium_keys: vec![PREMIUM.into()],
        ..EmulatorConfig::default()
    })
    .router();
    let file = file_hash_of_class(WorldClass::Malicious, 64);
    let (url, _) = url_of_class(WorldClass::Malicious);
    let url_id = ioc::url_id(&url);
    let domain = domain_of_class(WorldClass::Malicious);
    let parents = [
        ("files", file),
        ("urls", url_id),
        ("domains", domain),
        ("ip_addresses", "185.220.101.4".to_owned()),
    ];
    let mut with_items = 0;
    for (collection, name, premium, url_context) in rows() {
        let id = &parents.iter().find(|p| p.0 == collection).unwrap().1;
        for route in [
            format!("/api/v3/{collection}/{id}/{name}"),
            format!("/api/v3/{collection}/{id}/relationships/{name}"),
        ] {
            let public = get_as(&router, &route, PUBLIC).await;
            if premium {
                assert_eq!(public.status.as_u16(), 403, "{route}");
                let error = &public.json()["error"];
                assert_eq!(error["code"], "ForbiddenError", "{route}");
                assert_eq!(
                    error["message"], "You are not allowed to perform the requested operation",
                    "{route}"
                );
            } else {
                assert_eq!(public.status.as_u16(), 200, "{route}: {}", public.json());
            }
            // Walk every page with a premium key: each item once, counts agree.
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            let mut count = None;
            for _ in 0..20 {
                let page_route = match &cursor {
                    Some(c) => format!("{route}?limit=7&cursor={c}"),
                    None => format!("{route}?limit=7"),
                };
                let answer = get_as(&router, &page_route, PREMIUM).await;
                assert_eq!(answer.status.as_u16(), 200, "{page_route}");
                let json = answer.json();
                let items: Vec<Value> = match &json["data"] {
                    Value::Array(items) => items.clone(),
                    Value::Null => Vec::new(),
                    one => vec![one.clone()],
                };
                for item in &items {
                    assert!(item["type"].is_string() && item["id"].is_string(), "{item}");
                    if url_context && item.get("error").is_none() {
                        assert!(
                            item["context_attributes"]["url"].is_string(),
                            "{page_route}: {item}"
                        );
                    }
                    seen.push(item["id"].as_str().unwrap().to_owned());
                }
                if let Some(n) = json["meta"]["count"].as_u64() {
                    count = Some(n as usize);
                }
                cursor = json["meta"]["cursor"].as_str().map(str::to_owned);
                if cursor.is_none() {
                    break;
                }
            }
            if let Some(count) = count {
                assert_eq!(seen.len(), count, "{route}");
            }
            if !seen.is_empty() {
                with_items += 1;
            }
        }
    }
    assert!(
        with_items > 60,
        "most relationships have items: {with_items}"
    );
}

#[tokio::test]
async fn misp_relationships_for_domains_answer_public_keys() {
    let router = emulator(EmulatorConfig {
        public_keys: vec![PUBLIC.into()],
        ..EmulatorConfig::default()
    })
    .router();
    let domain = domain_of_class(WorldClass::Malicious);
    for name in [
        "siblings",
        "subdomains",
        "resolutions",
        "communicating_files",
        "referrer_files",
    ] {
        let answer = get_as(&router, &format!("/api/v3/domains/{domain}/{name}"), PUBLIC).await;
        assert_eq!(answer.status.as_u16(), 200, "{name}");
        assert!(
            !answer.json()["data"].as_array().unwrap().is_empty(),
            "{name}"
        );
    }
    // Embedded relationships leave out premium ones for a public key.
    let answer = get_as(
        &router,
        &format!("/api/v3/domains/{domain}?relationships=siblings,urls"),
        PUBLIC,
    )
    .await;
    let rels = &answer.json()["data"]["relationships"];
    assert!(rels["siblings"]["data"].is_array());
    assert!(rels.get("urls").is_none(), "{rels}");
    let _ = get(&router, "/api/v3/metadata").await;
}

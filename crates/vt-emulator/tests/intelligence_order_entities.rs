//! Intelligence search: `order` sorts hits, `entity:url|domain|ip` searches
//! those corpora with the modifiers that apply to them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{emulator, get};
use serde_json::Value;
use vt_emulator::EmulatorConfig;

fn malicious(object: &Value) -> i64 {
    object["attributes"]["last_analysis_stats"]["malicious"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn order_sorts_hits_both_ways() {
    let router = emulator(EmulatorConfig::default()).router();
    let down = get(
        &router,
        "/api/v3/intelligence/search?query=p:1%2B&order=positives-&limit=50",
    )
    .await
    .json();
    let values: Vec<i64> = down["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(malicious)
        .collect();
    assert!(values.len() > 10, "{values:?}");
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
    let up = get(
        &router,
        "/api/v3/intelligence/search?query=p:0%2B&order=size%2B&limit=50",
    )
    .await
    .json();
    let sizes: Vec<u64> = up["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["attributes"]["size"].as_u64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
    let dated = get(
        &router,
        "/api/v3/intelligence/search?query=type:peexe&order=last_submission_date-&limit=40",
    )
    .await
    .json();
    let dates: Vec<i64> = dated["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["attributes"]["last_submission_date"].as_i64().unwrap())
        .collect();
    assert!(!dates.is_empty() && dates.windows(2).all(|w| w[0] >= w[1]));
    let bad = get(
        &router,
        "/api/v3/intelligence/search?query=p:1%2B&order=nonsense-",
    )
    .await;
    assert_eq!(bad.status.as_u16(), 400);
    assert_eq!(bad.json()["error"]["code"], "InvalidArgumentError");
}

#[tokio::test]
async fn entity_searches_urls_domains_and_ips() {
    let router = emulator(EmulatorConfig::default()).router();
    for (entity, kind) in [("url", "url"), ("domain", "domain"), ("ip", "ip_address")] {
        let answer = get(
            &router,
            &format!("/api/v3/intelligence/search?query=entity:{entity}%20p:1%2B&limit=40"),
        )
        .await;
        assert_eq!(answer.status.as_u16(), 200, "{entity}");
        let json = answer.json();
        let items = json["data"].as_array().unwrap();
        assert!(!items.is_empty(), "{entity}");
        for item in items {
            assert_eq!(item["type"], kind);
            assert!(malicious(item) >= 1);
            // Every hit is the object its own route returns.
            let path = item["links"]["self"].as_str().unwrap();
            let path = &path[path.find("/api/v3").unwrap()..];
            assert_eq!(get(&router, path).await.json()["data"]["id"], item["id"]);
        }
        let clean = get(
            &router,
            &format!("/api/v3/intelligence/search?query=entity:{entity}%20p:0&limit=300&descriptors_only=true"),
        )
        .await
        .json();
        assert!(clean["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["type"] == kind));
        if entity == "domain" {
            assert!(clean["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["id"] == "example.com"));
        }
    }
    let bad = get(&router, "/api/v3/intelligence/search?query=entity:graph").await;
    assert_eq!(bad.status.as_u16(), 400);
}

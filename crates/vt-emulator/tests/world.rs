//! The synthetic world: deterministic, hash aliases, EICAR, fixtures.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use common::*;
use ioc::IndicatorKind;
use vt_emulator::{
    world_class, EmulatorConfig, EmulatorError, WorldClass, EICAR_MD5, EICAR_SHA1, EICAR_SHA256,
};

#[tokio::test]
async fn same_id_gives_the_same_report_in_separate_emulators() {
    let hash = file_hash_of_class(WorldClass::Suspicious, 64);
    let domain = domain_of_class(WorldClass::Malicious);
    for path in [
        format!("/api/v3/files/{hash}"),
        format!("/api/v3/domains/{domain}"),
        "/api/v3/ip_addresses/203.0.113.7".to_owned(),
    ] {
        let first = get(&emulator(EmulatorConfig::default()).router(), &path).await;
        let second = get(&emulator(EmulatorConfig::default()).router(), &path).await;
        assert_eq!(first.status, 200);
        assert_eq!(first.json(), second.json(), "{path}");
    }
}

#[tokio::test]
async fn md5_and_sha1_lookups_return_the_sha256_object() {
    for len in [32, 40] {
        let router = emulator(EmulatorConfig::default()).router();
        let hash = file_hash_of_class(WorldClass::Clean, len);
        let by_short = get(&router, &format!("/api/v3/files/{hash}")).await.json();
        let attrs = &by_short["data"]["attributes"];
        let sha256 = attrs["sha256"].as_str().expect("sha256").to_owned();
        assert_eq!(by_short["data"]["id"], sha256.as_str());
        let field = if len == 32 { "md5" } else { "sha1" };
        assert_eq!(attrs[field], hash.as_str());
        let by_sha256 = get(&router, &format!("/api/v3/files/{sha256}"))
            .await
            .json();
        assert_eq!(by_short, by_sha256);
        let other = if len == 32 { "sha1" } else { "md5" };
        let other_hash = attrs[other].as_str().expect("third hash");
        let by_other = get(&router, &format!("/api/v3/files/{other_hash}"))
            .await
            .json();
        assert_eq!(by_short, by_other);
    }
}

#[tokio::test]
async fn upper_case_hashes_resolve_to_the_same_object() {
    let router = emulator(EmulatorConfig::default()).router();
    let hash = file_hash_of_class(WorldClass::Clean, 64);
    let lower = get(&router, &format!("/api/v3/files/{hash}")).await.json();
    let upper = get(&router, &format!("/api/v3/files/{}", hash.to_uppercase()))
        .await
        .json();
    assert_eq!(lower, upper);
}

#[tokio::test]
async fn eicar_is_detected_by_most_engines_under_each_hash() {
    let router = emulator(EmulatorConfig::default()).router();
    for hash in [EICAR_MD5, EICAR_SHA1, EICAR_SHA256] {
        let json = get(&router, &format!("/api/v3/files/{hash}")).await.json();
        let attrs = &json["data"]["attributes"];
        assert_eq!(json["data"]["id"], EICAR_SHA256);
        assert_eq!(attrs["size"], 68);
        let stats = &attrs["last_analysis_stats"];
        let malicious = stats["malicious"].as_u64().unwrap_or(0);
        let results = attrs["last_analysis_results"].as_object().expect("results");
        assert!(malicious * 10 >= results.len() as u64 * 8, "{stats}");
        let labels: Vec<&str> = results
            .values()
            .filter_map(|r| r["result"].as_str())
            .collect();
        assert!(labels
            .iter()
            .all(|l| l.to_ascii_lowercase().contains("eicar")));
    }
}

#[tokio::test]
async fn detections_follow_the_world_class() {
    let router = emulator(EmulatorConfig::default()).router();
    for (class, range) in [
        (WorldClass::Clean, 0..=0),
        (WorldClass::Suspicious, 1..=4),
        (WorldClass::Malicious, 5..=100),
    ] {
        let hash = file_hash_of_class(class, 64);
        let json = get(&router, &format!("/api/v3/files/{hash}")).await.json();
        let malicious = json["data"]["attributes"]["last_analysis_stats"]["malicious"]
            .as_u64()
            .unwrap_or(999);
        assert!(range.contains(&malicious), "{class:?}: {malicious}");
        let (url, _) = url_of_class(class);
        let json = get(&router, &format!("/api/v3/urls/{}", ioc::url_id(&url)))
            .await
            .json();
        let malicious = json["data"]["attributes"]["last_analysis_stats"]["malicious"]
            .as_u64()
            .unwrap_or(999);
        assert!(range.contains(&malicious), "url {class:?}: {malicious}");
    }
}

#[test]
fn the_world_has_roughly_the_documented_shares() {
    let n = 2000;
    let unknown = |kind| {
        (0..n)
            .filter(|&i| world_class(kind, &probe_hash(i, 64)) == WorldClass::Unknown)
            .count() as f64
            / n as f64
    };
    assert!((unknown(IndicatorKind::File) - 0.15).abs() < 0.04);
    assert!((unknown(IndicatorKind::Url) - 0.10).abs() < 0.04);
    assert!((unknown(IndicatorKind::Domain) - 0.03).abs() < 0.02);
}

#[tokio::test]
async fn fixtures_override_the_world_for_every_hash() {
    let router = emulator(EmulatorConfig {
        fixtures: Some(fixtures_dir()),
        ..EmulatorConfig::default()
    })
    .router();
    let sha256 = "5e5e790f8a884ebe9278a5e939f2db05dcfff55c479c74bd7f21cdd10d1a8b95";
    for hash in [
        "1cc0fa0b2db9c0dd8a4f07613b7c0b10",
        "41ee5666784951a91935e6d495d077516b7f0d97",
        sha256,
    ] {
        let answer = get(&router, &format!("/api/v3/files/{hash}")).await;
        assert_eq!(answer.status, 200);
        let json = answer.json();
        assert_eq!(json["data"]["id"], sha256);
        assert_eq!(
            json["data"]["attributes"]["meaningful_name"],
            "fixture-sample.txt"
        );
        assert_eq!(
            json["data"]["attributes"]["last_analysis_stats"]["malicious"],
            2
        );
        // links follow the host the client used, not the fixture's
        assert_eq!(
            json["data"]["links"]["self"],
            format!("http://emulator.test:8080/api/v3/files/{sha256}")
        );
    }
    let domain = get(&router, "/api/v3/domains/fixture.example.test")
        .await
        .json();
    assert_eq!(
        domain["data"]["attributes"]["registrar"],
        "Fixture Registrar Ltd"
    );
    let url = get(
        &router,
        &format!(
            "/api/v3/urls/{}",
            ioc::url_id("http://fixture.example.test/landing")
        ),
    )
    .await
    .json();
    assert_eq!(url["data"]["attributes"]["title"], "Fixture landing page");
    let ip = get(&router, "/api/v3/ip_addresses/192.0.2.10").await.json();
    assert_eq!(ip["data"]["attributes"]["as_owner"], "FIXTURE-NET");
}

#[test]
fn a_bad_fixture_file_is_an_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("vt-emulator-bad-fixture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("broken.json");
    std::fs::write(&file, "{\"data\": {\"type\": \"file\"").expect("write fixture");
    let error = vt_emulator::Emulator::new(EmulatorConfig {
        fixtures: Some(dir.clone()),
        ..EmulatorConfig::default()
    })
    .expect_err("broken fixture must be refused");
    assert!(matches!(error, EmulatorError::Fixture { .. }));
    assert!(error.to_string().contains("broken.json"), "{error}");
    std::fs::write(&file, "{\"data\": {\"type\": \"file\"}}").expect("write fixture");
    let error = vt_emulator::Emulator::new(EmulatorConfig {
        fixtures: Some(dir.clone()),
        ..EmulatorConfig::default()
    })
    .expect_err("fixture without id must be refused");
    assert!(error.to_string().contains("data.id"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

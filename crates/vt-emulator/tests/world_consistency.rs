//! The world is self-consistent: one object by each of its hashes, true
//! facts for well-known and uploaded files, 404 for URL ids never seen,
//! example names known, and the `known_files` / `world` options.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    emulator, file_hash_of_class, fixtures_dir, get, multipart, post_multipart, url_of_class,
};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use vt_emulator::{EmulatorConfig, WorldClass, WorldMode, EICAR_MD5, EICAR_SHA1, EICAR_SHA256};

const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";
const EMPTY_SHA1: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

async fn status(router: &axum::Router, path: &str) -> u16 {
    get(router, path).await.status.as_u16()
}

#[tokio::test]
async fn a_file_is_the_same_object_by_each_of_its_hashes() {
    let router = emulator(EmulatorConfig::default()).router();
    let cases = [
        (EMPTY_MD5, EMPTY_SHA1, EMPTY_SHA256, Some(0)),
        (EICAR_MD5, EICAR_SHA1, EICAR_SHA256, Some(68)),
    ];
    for (md5, sha1, sha256, size) in cases {
        let by_sha256 = get(&router, &format!("/api/v3/files/{sha256}"))
            .await
            .json();
        let attrs = &by_sha256["data"]["attributes"];
        assert_eq!(attrs["md5"], md5);
        assert_eq!(attrs["sha1"], sha1);
        assert_eq!(attrs["sha256"], sha256);
        assert_eq!(attrs["size"].as_u64(), size);
        for hash in [md5, sha1] {
            let other = get(&router, &format!("/api/v3/files/{hash}")).await.json();
            assert_eq!(other["data"], by_sha256["data"], "{hash}");
        }
    }
    // A synthetic file, first met by any of its hashes: the hashes its
    // report gives return that same report.
    for len in [32, 40, 64] {
        let hash = file_hash_of_class(WorldClass::Malicious, len);
        let first = get(&router, &format!("/api/v3/files/{hash}")).await.json();
        let attrs = &first["data"]["attributes"];
        for key in ["md5", "sha1", "sha256"] {
            let other = attrs[key].as_str().unwrap();
            let again = get(&router, &format!("/api/v3/files/{other}")).await.json();
            assert_eq!(again["data"]["id"], first["data"]["id"], "{key} of {hash}");
            assert_eq!(
                again["data"]["attributes"]["last_analysis_stats"], attrs["last_analysis_stats"],
                "{key} of {hash}"
            );
        }
    }
    // The empty file is plausible: no PE structure, size 0.
    let empty = get(&router, &format!("/api/v3/files/{EMPTY_SHA256}"))
        .await
        .json();
    assert!(empty["data"]["attributes"].get("pe_info").is_none());
}

#[tokio::test]
async fn an_uploaded_file_reports_its_true_size_and_hashes() {
    let router = emulator(EmulatorConfig::default()).router();
    let content: Vec<u8> = (0..5_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let answer = post_multipart(
        &router,
        "/api/v3/files",
        multipart("file", Some("s.bin"), &content),
    )
    .await;
    assert_eq!(answer.status.as_u16(), 200);
    let sha256 = hex::encode(Sha256::digest(&content));
    let report = get(&router, &format!("/api/v3/files/{sha256}"))
        .await
        .json();
    let attrs = &report["data"]["attributes"];
    assert_eq!(attrs["size"], 5_000);
    assert_eq!(attrs["md5"], hex::encode(Md5::digest(&content)));
    assert_eq!(attrs["sha1"], hex::encode(Sha1::digest(&content)));
    let by_md5 = get(
        &router,
        &format!("/api/v3/files/{}", attrs["md5"].as_str().unwrap()),
    )
    .await;
    assert_eq!(by_md5.json()["data"]["id"], sha256.as_str());
}

#[tokio::test]
async fn a_url_id_never_seen_spelled_out_is_not_found() {
    let router = emulator(EmulatorConfig::default()).router();
    let (url, sha256) = url_of_class(WorldClass::Malicious);
    let unseen = get(&router, &format!("/api/v3/urls/{sha256}")).await;
    assert_eq!(unseen.status.as_u16(), 404);
    assert_eq!(unseen.json()["error"]["code"], "NotFoundError");
    // Known by its text: after a lookup by base64url id, the sha256 answers too.
    let by_text = get(&router, &format!("/api/v3/urls/{}", ioc::url_id(&url))).await;
    assert_eq!(by_text.status.as_u16(), 200);
    let by_sha = get(&router, &format!("/api/v3/urls/{sha256}")).await.json();
    assert_eq!(by_sha["data"]["attributes"]["url"], url.as_str());
}

#[tokio::test]
async fn documented_example_names_are_known_in_every_world() {
    for world in [WorldMode::Synthetic, WorldMode::Empty] {
        let router = emulator(EmulatorConfig {
            world,
            ..EmulatorConfig::default()
        })
        .router();
        for path in [
            "/api/v3/domains/example.com",
            "/api/v3/domains/www.example.com",
            "/api/v3/domains/example.org",
            "/api/v3/ip_addresses/8.8.8.8",
        ] {
            let answer = get(&router, path).await;
            assert_eq!(answer.status.as_u16(), 200, "{path} in {world:?}");
            assert_eq!(
                answer.json()["data"]["attributes"]["last_analysis_stats"]["malicious"],
                0,
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn known_files_rate_sets_the_share_of_known_hashes() {
    let hashes: Vec<String> = (0..400)
        .map(|i| hex::encode(Sha256::digest(format!("rate probe {i}").as_bytes())))
        .collect();
    let mut shares = Vec::new();
    for rate in [0.0, 0.3, 0.85, 1.0] {
        let router = emulator(EmulatorConfig {
            known_files: rate,
            ..EmulatorConfig::default()
        })
        .router();
        let mut known = 0;
        for h in &hashes {
            if status(&router, &format!("/api/v3/files/{h}")).await == 200 {
                known += 1;
            }
        }
        let share = f64::from(known) / hashes.len() as f64;
        assert!((share - rate).abs() < 0.07, "rate {rate}: share {share}");
        // Built-ins stay known whatever the rate.
        assert_eq!(
            status(&router, &format!("/api/v3/files/{EICAR_SHA256}")).await,
            200
        );
        assert_eq!(
            status(&router, &format!("/api/v3/files/{EMPTY_MD5}")).await,
            200
        );
        shares.push(share);
    }
    assert!(shares.windows(2).all(|w| w[0] <= w[1]), "{shares:?}");
}

#[tokio::test]
async fn an_empty_world_serves_only_builtins_fixtures_and_uploads() {
    let router = emulator(EmulatorConfig {
        world: WorldMode::Empty,
        fixtures: Some(fixtures_dir()),
        ..EmulatorConfig::default()
    })
    .router();
    let synthetic = file_hash_of_class(WorldClass::Malicious, 64);
    assert_eq!(
        status(&router, &format!("/api/v3/files/{synthetic}")).await,
        404
    );
    assert_eq!(status(&router, "/api/v3/domains/probe1.example").await, 404);
    assert_eq!(
        status(&router, "/api/v3/ip_addresses/185.220.101.4").await,
        404
    );
    let (url, _) = url_of_class(WorldClass::Malicious);
    assert_eq!(
        status(&router, &format!("/api/v3/urls/{}", ioc::url_id(&url))).await,
        404
    );
    assert_eq!(
        status(&router, &format!("/api/v3/files/{EICAR_SHA256}")).await,
        200
    );
    assert_eq!(
        status(
            &router,
            "/api/v3/files/5e5e790f8a884ebe9278a5e939f2db05dcfff55c479c74bd7f21cdd10d1a8b95"
        )
        .await,
        200
    );
    // Relationships draw nothing from a world that is not there.
    let related = get(
        &router,
        &format!("/api/v3/files/{EICAR_SHA256}/contacted_domains"),
    )
    .await;
    assert_eq!(related.json()["meta"]["count"], 0);
    // An upload exists once analysed.
    let content = b"a sample only this upload makes known".to_vec();
    let answer = post_multipart(&router, "/api/v3/files", multipart("file", None, &content)).await;
    assert_eq!(answer.status.as_u16(), 200);
    let sha256 = hex::encode(Sha256::digest(&content));
    let report = get(&router, &format!("/api/v3/files/{sha256}")).await;
    assert_eq!(report.status.as_u16(), 200);
    assert_eq!(report.json()["data"]["attributes"]["size"], content.len());
}

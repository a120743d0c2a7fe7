//! Uploads, URL submissions, rescans and the analyses they start.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use axum::body::Body;
use base64::Engine;
use common::*;
use std::time::Duration;
use vt_emulator::{EmulatorConfig, WorldClass, EICAR, EICAR_MD5, EICAR_SHA256};

fn hashes(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Bytes whose sha256 the world does not know, so only the upload makes them known.
fn unknown_content() -> Vec<u8> {
    (0..10_000)
        .map(|i| format!("uploaded sample {i}\n").into_bytes())
        .find(|b| {
            vt_emulator::world_class(ioc::IndicatorKind::File, &hashes(b)) == WorldClass::Unknown
        })
        .expect("some content is unknown")
}

#[tokio::test]
async fn upload_goes_queued_then_completed_then_the_report_exists() {
    let delay = Duration::from_secs(2);
    let router = emulator(EmulatorConfig {
        analysis_delay: delay,
        ..EmulatorConfig::default()
    })
    .router();
    let content = unknown_content();
    let sha256 = hashes(&content);
    assert_eq!(
        get(&router, &format!("/api/v3/files/{sha256}"))
            .await
            .status,
        404
    );

    let answer = post_multipart(
        &router,
        "/api/v3/files",
        multipart("file", Some("sample.bin"), &content),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/json");
    let json = answer.json();
    assert_eq!(json["data"]["type"], "analysis");
    let id = json["data"]["id"].as_str().expect("analysis id").to_owned();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&id)
        .expect("id is base64");
    let decoded = String::from_utf8(decoded).expect("utf-8");
    let (md5, ts) = decoded.split_once(':').expect("md5:ts");
    assert_eq!(md5.len(), 32);
    assert!(ts.parse::<i64>().is_ok());
    assert_eq!(
        json["data"]["links"]["self"],
        format!("http://emulator.test:8080/api/v3/analyses/{id}")
    );

    let queued = get(&router, &format!("/api/v3/analyses/{id}")).await.json();
    assert_eq!(queued["data"]["attributes"]["status"], "queued");
    assert_eq!(queued["meta"]["file_info"]["sha256"], sha256.as_str());
    assert_eq!(queued["meta"]["file_info"]["md5"], md5);
    assert_eq!(queued["meta"]["file_info"]["size"], content.len());
    assert_eq!(
        get(&router, &format!("/api/v3/files/{sha256}"))
            .await
            .status,
        404
    );

    let mut seen = vec![];
    for _ in 0..100 {
        let json = get(&router, &format!("/api/v3/analyses/{id}")).await.json();
        let status = json["data"]["attributes"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "completed" {
            let results = json["data"]["attributes"]["results"]
                .as_object()
                .expect("results");
            assert!(results.len() >= 60);
            assert!(
                json["data"]["attributes"]["stats"]["undetected"]
                    .as_u64()
                    .unwrap_or(0)
                    > 0
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, ["queued", "in-progress", "completed"]);

    let report = get(&router, &format!("/api/v3/files/{md5}")).await;
    assert_eq!(report.status, 200);
    let report = report.json();
    assert_eq!(report["data"]["id"], sha256.as_str());
    assert_eq!(report["data"]["attributes"]["size"], content.len());
    assert_eq!(
        report["data"]["attributes"]["meaningful_name"],
        "sample.bin"
    );
    let item = get(&router, &format!("/api/v3/analyses/{id}/item"))
        .await
        .json();
    assert_eq!(item["data"]["id"], sha256.as_str());
}

#[tokio::test]
async fn analysis_moves_last_analysis_date_to_its_completion() {
    let router = emulator(EmulatorConfig::default()).router();
    let hash = file_hash_of_class(WorldClass::Clean, 64);
    let before = get(&router, &format!("/api/v3/files/{hash}")).await.json();
    let old = before["data"]["attributes"]["last_analysis_date"]
        .as_i64()
        .expect("date");
    let rescan = post_empty(&router, &format!("/api/v3/files/{hash}/analyse")).await;
    assert_eq!(rescan.status, 200);
    assert_eq!(rescan.json()["data"]["type"], "analysis");
    let after = get(&router, &format!("/api/v3/files/{hash}")).await.json();
    let new = after["data"]["attributes"]["last_analysis_date"]
        .as_i64()
        .expect("date");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    assert!(new > old && (new - now).abs() < 60, "{old} -> {new}");
}

#[tokio::test]
async fn upload_url_is_absolute_on_the_clients_host_and_accepts_the_upload() {
    let router = emulator(EmulatorConfig::default()).router();
    let answer = get(&router, "/api/v3/files/upload_url").await;
    assert_eq!(answer.status, 200);
    let upload_url = answer.json()["data"]
        .as_str()
        .expect("string data")
        .to_owned();
    let prefix = "http://emulator.test:8080/api/v3/";
    assert!(upload_url.starts_with(prefix), "{upload_url}");
    let path = upload_url.trim_start_matches("http://emulator.test:8080");
    let answer = post_multipart(&router, path, multipart("file", Some("eicar.com"), EICAR)).await;
    assert_eq!(answer.status, 200);
    let id = answer.json()["data"]["id"].as_str().expect("id").to_owned();
    let analysis = get(&router, &format!("/api/v3/analyses/{id}")).await.json();
    assert_eq!(analysis["data"]["attributes"]["status"], "completed");
    assert_eq!(analysis["meta"]["file_info"]["md5"], EICAR_MD5);
    assert!(
        analysis["data"]["attributes"]["stats"]["malicious"]
            .as_u64()
            .unwrap_or(0)
            > 50
    );
    // single use
    let again = post_multipart(&router, path, multipart("file", None, EICAR)).await;
    assert_eq!(again.status, 404);
    let stats = get(&router, "/_emulator/stats").await.json();
    assert_eq!(stats["uploads_total"], 1);
    let report = get(&router, &format!("/api/v3/files/{EICAR_SHA256}"))
        .await
        .json();
    assert_eq!(report["data"]["attributes"]["size"], 68);
}

#[tokio::test]
async fn upload_without_a_file_part_or_too_large_is_refused() {
    let router = emulator(EmulatorConfig::default()).router();
    let answer = post_multipart(&router, "/api/v3/files", multipart("other", None, b"x")).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"]["code"], "BadRequestError");
    let huge = send(
        &router,
        request("POST", "/api/v3/files", Some(KEY))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header("content-length", (700u64 * 1024 * 1024).to_string())
            .body(Body::from(multipart("file", None, b"tiny")))
            .expect("valid request"),
    )
    .await;
    assert_eq!(huge.status, 400);
    assert_eq!(huge.content_type, "application/json");
    let message = huge.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("650"), "{message}");
}

#[tokio::test]
async fn url_submission_accepts_form_and_multipart() {
    let router = emulator(EmulatorConfig::default()).router();
    let (url, sha) = url_of_class(WorldClass::Unknown);
    let form = format!("url={}", url.replace(':', "%3A").replace('/', "%2F"));
    let answer = post_form(&router, "/api/v3/urls", &form).await;
    assert_eq!(answer.status, 200);
    let id = answer.json()["data"]["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with(&format!("u-{sha}-")), "{id}");
    let analysis = get(&router, &format!("/api/v3/analyses/{id}")).await.json();
    assert_eq!(analysis["meta"]["url_info"]["id"], sha.as_str());
    assert_eq!(analysis["meta"]["url_info"]["url"], url.as_str());
    assert_eq!(analysis["data"]["attributes"]["status"], "completed");
    assert!(analysis["data"]["attributes"]["stats"]
        .get("type-unsupported")
        .is_none());
    // unknown to the world, known once analysed
    let report = get(&router, &format!("/api/v3/urls/{sha}")).await;
    assert_eq!(report.status, 200);
    assert_eq!(report.json()["data"]["attributes"]["url"], url.as_str());

    let multipart_answer = post_multipart(
        &router,
        "/api/v3/urls",
        multipart("url", None, b"http://another.example/x"),
    )
    .await;
    assert_eq!(multipart_answer.status, 200);
    assert!(multipart_answer.json()["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .starts_with("u-"));

    let bad = post_form(&router, "/api/v3/urls", "url=not%20a%20url").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["code"], "InvalidArgumentError");
}

#[tokio::test]
async fn rescans_need_a_known_object() {
    let router = emulator(EmulatorConfig::default()).router();
    let known = file_hash_of_class(WorldClass::Malicious, 32);
    let unknown = file_hash_of_class(WorldClass::Unknown, 32);
    assert_eq!(
        post_empty(&router, &format!("/api/v3/files/{known}/analyse"))
            .await
            .status,
        200
    );
    assert_eq!(
        post_empty(&router, &format!("/api/v3/files/{unknown}/analyse"))
            .await
            .status,
        404
    );
    let (url, _) = url_of_class(WorldClass::Suspicious);
    let answer = post_empty(
        &router,
        &format!("/api/v3/urls/{}/analyse", ioc::url_id(&url)),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert!(answer.json()["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .starts_with("u-"));
}

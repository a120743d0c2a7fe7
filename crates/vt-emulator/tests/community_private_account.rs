//! Comments and votes, private scanning, the user's quotas and usage, metadata.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use axum::body::Body;
use common::*;
use serde_json::{json, Value};
use vt_emulator::{key_fingerprint, EmulatorConfig, WorldClass, EICAR_SHA256};

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

async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Answer {
    let builder = request(method, path, Some(key));
    let request = match body {
        Some(json) => builder
            .header("content-type", "application/json")
            .body(Body::from(json.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("valid request");
    send(router, request).await
}

async fn upload_as(router: &axum::Router, path: &str, key: &str, content: &[u8]) -> Answer {
    send(
        router,
        request("POST", path, Some(key))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(multipart("file", Some("private.bin"), content)))
            .expect("valid request"),
    )
    .await
}

#[tokio::test]
async fn comments_are_stored_and_listed_newest_first() {
    let router = emulator(keyed()).router();
    let domain = domain_of_class(WorldClass::Clean);
    for collection_and_id in [
        format!("files/{EICAR_SHA256}"),
        format!("domains/{domain}"),
        "ip_addresses/9.9.9.9".to_owned(),
    ] {
        let path = format!("/api/v3/{collection_and_id}/comments");
        for text in ["first look #Phishing #emotet", "second note"] {
            let answer = call(
                &router,
                "POST",
                &path,
                PUBLIC,
                Some(json!({"data": {"type": "comment", "attributes": {"text": text}}})),
            )
            .await;
            assert_eq!(answer.status, 200, "{path}");
            let comment = answer.json();
            assert_eq!(comment["data"]["type"], "comment");
            assert_eq!(comment["data"]["attributes"]["text"], text);
        }
        let listed = call(&router, "GET", &path, PUBLIC, None).await.json();
        let items = listed["data"].as_array().expect("list");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["attributes"]["text"], "second note");
        assert_eq!(
            items[1]["attributes"]["tags"],
            json!(["phishing", "emotet"])
        );
    }
    let first = call(
        &router,
        "GET",
        &format!("/api/v3/files/{EICAR_SHA256}/comments"),
        PUBLIC,
        None,
    )
    .await
    .json();
    let id = first["data"][0]["id"].as_str().unwrap_or_default();
    assert!(id.starts_with(&format!("f-{EICAR_SHA256}-")), "{id}");

    let bad = call(
        &router,
        "POST",
        &format!("/api/v3/files/{EICAR_SHA256}/comments"),
        PUBLIC,
        Some(json!({"data": {"type": "comment", "attributes": {}}})),
    )
    .await;
    assert_eq!(bad.status, 400);
    let unknown = file_hash_of_class(WorldClass::Unknown, 64);
    let missing = call(
        &router,
        "GET",
        &format!("/api/v3/files/{unknown}/comments"),
        PUBLIC,
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn a_second_vote_by_the_same_key_is_409_and_votes_count_in_total_votes() {
    let router = emulator(keyed()).router();
    let (url, sha) = url_of_class(WorldClass::Suspicious);
    let url_path = format!("/api/v3/urls/{}", ioc::url_id(&url));
    let before = call(&router, "GET", &url_path, PUBLIC, None).await.json();
    let votes_before = before["data"]["attributes"]["total_votes"]["malicious"]
        .as_u64()
        .unwrap_or(0);
    let vote =
        |verdict: &str| json!({"data": {"type": "vote", "attributes": {"verdict": verdict}}});
    let path = format!("{url_path}/votes");
    let first = call(&router, "POST", &path, ALICE, Some(vote("malicious"))).await;
    assert_eq!(first.status, 200);
    let first = first.json();
    assert_eq!(first["data"]["type"], "vote");
    assert_eq!(first["data"]["attributes"]["verdict"], "malicious");
    let again = call(&router, "POST", &path, ALICE, Some(vote("harmless"))).await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.json(),
        json!({"error": {"code": "AlreadyExistsError",
                         "message": format!("User \"{}\" already voted \"malicious\" for this URL", key_fingerprint(ALICE))}})
    );
    assert_eq!(
        call(&router, "POST", &path, BOB, Some(vote("malicious")))
            .await
            .status,
        200
    );
    let bad = call(&router, "POST", &path, PUBLIC, Some(vote("meh"))).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["code"], "InvalidArgumentError");

    let listed = call(
        &router,
        "GET",
        &format!("/api/v3/urls/{sha}/votes"),
        PUBLIC,
        None,
    )
    .await
    .json();
    assert_eq!(listed["meta"]["count"], 2);
    let after = call(&router, "GET", &url_path, PUBLIC, None).await.json();
    assert_eq!(
        after["data"]["attributes"]["total_votes"]["malicious"].as_u64(),
        Some(votes_before + 2)
    );
}

#[tokio::test]
async fn private_files_are_visible_only_to_their_owner() {
    let router = emulator(keyed()).router();
    let content = b"private sample bytes, never public".to_vec();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&content))
    };
    // public keys may not use private scanning at all
    for (method, path) in [
        ("GET", "/api/v3/private/files".to_owned()),
        ("GET", "/api/v3/private/files/upload_url".to_owned()),
        ("GET", format!("/api/v3/private/files/{sha}")),
        ("DELETE", format!("/api/v3/private/files/{sha}")),
    ] {
        let answer = call(&router, method, &path, PUBLIC, None).await;
        assert_eq!(answer.status, 403, "{method} {path}");
        assert_eq!(answer.json()["error"]["code"], "ForbiddenError");
    }
    assert_eq!(
        upload_as(&router, "/api/v3/private/files", PUBLIC, &content)
            .await
            .status,
        403
    );

    let uploaded = upload_as(&router, "/api/v3/private/files", ALICE, &content).await;
    assert_eq!(uploaded.status, 200);
    let descriptor = uploaded.json();
    assert_eq!(descriptor["data"]["type"], "private_analysis");
    let analysis_id = descriptor["data"]["id"].as_str().expect("id").to_owned();

    let analysis = call(
        &router,
        "GET",
        &format!("/api/v3/private/analyses/{analysis_id}"),
        ALICE,
        None,
    )
    .await;
    assert_eq!(analysis.status, 200);
    let analysis = analysis.json();
    assert_eq!(analysis["data"]["type"], "private_analysis");
    assert_eq!(analysis["data"]["attributes"]["status"], "completed");
    assert_eq!(analysis["meta"]["file_info"]["sha256"], sha.as_str());
    let item = call(
        &router,
        "GET",
        &format!("/api/v3/private/analyses/{analysis_id}/item"),
        ALICE,
        None,
    )
    .await;
    assert_eq!(item.json()["data"]["type"], "private_file");

    let own = call(
        &router,
        "GET",
        &format!("/api/v3/private/files/{sha}"),
        ALICE,
        None,
    )
    .await;
    assert_eq!(own.status, 200);
    let own = own.json();
    assert_eq!(own["data"]["type"], "private_file");
    assert_eq!(own["data"]["attributes"]["size"], content.len());
    assert!(own["data"]["attributes"]["last_analysis_stats"].is_object());

    // Not Bob's, not public.
    assert_eq!(
        call(
            &router,
            "GET",
            &format!("/api/v3/private/files/{sha}"),
            BOB,
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(
            &router,
            "GET",
            &format!("/api/v3/private/analyses/{analysis_id}"),
            BOB,
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        call(
            &router,
            "GET",
            &format!("/api/v3/analyses/{analysis_id}"),
            BOB,
            None
        )
        .await
        .status,
        404
    );
    let bob_list = call(&router, "GET", "/api/v3/private/files", BOB, None)
        .await
        .json();
    assert_eq!(bob_list["data"], json!([]));
    let alice_list = call(&router, "GET", "/api/v3/private/files", ALICE, None)
        .await
        .json();
    assert_eq!(alice_list["data"][0]["id"], sha.as_str());

    let rescan = call(
        &router,
        "POST",
        &format!("/api/v3/private/files/{sha}/analyse"),
        ALICE,
        None,
    )
    .await;
    assert_eq!(rescan.status, 200);
    assert_eq!(rescan.json()["data"]["type"], "private_analysis");
    assert_eq!(
        call(
            &router,
            "POST",
            &format!("/api/v3/private/files/{sha}/analyse"),
            BOB,
            None
        )
        .await
        .status,
        404
    );

    let deleted = call(
        &router,
        "DELETE",
        &format!("/api/v3/private/files/{sha}"),
        ALICE,
        None,
    )
    .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        call(
            &router,
            "GET",
            &format!("/api/v3/private/files/{sha}"),
            ALICE,
            None
        )
        .await
        .status,
        404
    );
    let not_hash = call(&router, "GET", "/api/v3/private/files/abc", ALICE, None).await;
    assert_eq!(not_hash.status, 400);
}

#[tokio::test]
async fn private_upload_url_and_private_url_scans_work() {
    let router = emulator(keyed()).router();
    let answer = call(
        &router,
        "GET",
        "/api/v3/private/files/upload_url",
        ALICE,
        None,
    )
    .await;
    let link = answer.json()["data"].as_str().expect("url").to_owned();
    let path = link
        .trim_start_matches("http://emulator.test:8080")
        .to_owned();
    let uploaded = upload_as(&router, &path, ALICE, b"through the private upload url").await;
    assert_eq!(uploaded.status, 200);
    assert_eq!(uploaded.json()["data"]["type"], "private_analysis");

    let scan = send(
        &router,
        request("POST", "/api/v3/private/urls", Some(ALICE))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from("url=http%3A%2F%2Fprivate-scan.example%2Fx"))
            .expect("valid request"),
    )
    .await;
    assert_eq!(scan.status, 200);
    let id = scan.json()["data"]["id"].as_str().expect("id").to_owned();
    // vt-py polls private URL analyses on the public path.
    let polled = call(
        &router,
        "GET",
        &format!("/api/v3/analyses/{id}"),
        ALICE,
        None,
    )
    .await
    .json();
    assert_eq!(polled["data"]["attributes"]["status"], "completed");
    assert_eq!(
        polled["meta"]["url_info"]["url"],
        "http://private-scan.example/x"
    );
    // ...and the URL did not become public.
    let public = call(
        &router,
        "GET",
        &format!(
            "/api/v3/urls/{}",
            ioc::url_sha256("http://private-scan.example/x")
        ),
        BOB,
        None,
    )
    .await;
    let class = vt_emulator::world_class(
        ioc::IndicatorKind::Url,
        &ioc::url_sha256("http://private-scan.example/x"),
    );
    if class == WorldClass::Unknown {
        assert_eq!(public.status, 404);
    }
}

#[tokio::test]
async fn overall_quotas_and_api_usage_report_the_callers_spending() {
    let router = emulator(EmulatorConfig {
        quota_minute: Some(50),
        quota_day: Some(500),
        ..keyed()
    })
    .router();
    let domain = domain_of_class(WorldClass::Clean);
    call(
        &router,
        "GET",
        &format!("/api/v3/files/{EICAR_SHA256}"),
        ALICE,
        None,
    )
    .await;
    call(
        &router,
        "GET",
        &format!("/api/v3/domains/{domain}"),
        ALICE,
        None,
    )
    .await;
    call(
        &router,
        "GET",
        &format!("/api/v3/files/{EICAR_SHA256}/contacted_ips"),
        ALICE,
        None,
    )
    .await;

    let quotas = call(
        &router,
        "GET",
        &format!("/api/v3/users/{ALICE}/overall_quotas"),
        ALICE,
        None,
    )
    .await;
    assert_eq!(quotas.status, 200);
    let quotas = quotas.json();
    // The quota call itself is the fourth request.
    assert_eq!(
        quotas["data"]["api_requests_daily"]["user"],
        json!({"allowed": 500, "used": 4})
    );
    // Sixty minutes' worth: a client learns its minute budget from it.
    assert_eq!(
        quotas["data"]["api_requests_hourly"]["user"],
        json!({"allowed": 3000, "used": 4})
    );
    assert_eq!(quotas["data"]["api_requests_monthly"]["user"]["used"], 4);

    let usage = call(
        &router,
        "GET",
        &format!("/api/v3/users/{}/api_usage", key_fingerprint(ALICE)),
        ALICE,
        None,
    )
    .await;
    assert_eq!(usage.status, 200);
    let usage = usage.json();
    let total = &usage["data"]["total"];
    assert_eq!(total["files"], 1);
    assert_eq!(total["domains"], 1);
    assert_eq!(total["file_relationships"], 1);
    // overall_quotas and this api_usage call itself
    assert_eq!(total["users"], 2);
    assert_eq!(
        usage["data"]["daily"].as_object().map(|d| d.len()),
        Some(30)
    );

    let others = call(
        &router,
        "GET",
        &format!("/api/v3/users/{BOB}/overall_quotas"),
        ALICE,
        None,
    )
    .await;
    assert_eq!(others.status, 404);
    let range = call(
        &router,
        "GET",
        &format!(
            "/api/v3/users/{}/api_usage?start_date=20260101&end_date=20260301",
            key_fingerprint(ALICE)
        ),
        ALICE,
        None,
    )
    .await;
    assert_eq!(range.status, 400);
}

#[tokio::test]
async fn metadata_lists_engines_relationships_and_privileges() {
    let router = emulator(keyed()).router();
    let premium = call(&router, "GET", "/api/v3/metadata", ALICE, None)
        .await
        .json();
    let engines = premium["data"]["engines"].as_object().expect("engines");
    assert!(engines.contains_key("Kaspersky") && engines.contains_key("Phishtank"));
    let file_rels: Vec<&str> = premium["data"]["relationships"]["file"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(file_rels.contains(&"contacted_domains"));
    assert!(!premium["data"]["privileges"]
        .as_array()
        .expect("list")
        .is_empty());
    let public = call(&router, "GET", "/api/v3/metadata", PUBLIC, None)
        .await
        .json();
    assert_eq!(public["data"]["privileges"], json!([]));
}

//! The JSON each route answers with, its status and content type.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

mod common;

use axum::body::Body;
use common::*;
use vt_emulator::{EmulatorConfig, WorldClass, EICAR_SHA256};

#[tokio::test]
async fn file_report_has_the_api_shape() {
    let router = emulator(EmulatorConfig::default()).router();
    let hash = file_hash_of_class(WorldClass::Malicious, 64);
    let answer = get(&router, &format!("/api/v3/files/{hash}")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/json");
    let json = answer.json();
    let data = &json["data"];
    assert_eq!(data["type"], "file");
    assert_eq!(data["id"], hash.as_str());
    assert_eq!(
        data["links"]["self"],
        format!("http://emulator.test:8080/api/v3/files/{hash}")
    );
    let attrs = &data["attributes"];
    for field in [
        "md5",
        "sha1",
        "sha256",
        "size",
        "type_description",
        "meaningful_name",
        "names",
        "tags",
        "reputation",
        "total_votes",
        "last_analysis_date",
        "last_analysis_stats",
        "last_analysis_results",
    ] {
        assert!(attrs.get(field).is_some(), "missing {field}");
    }
    assert!(attrs["last_analysis_date"].is_i64());
    let stats = attrs["last_analysis_stats"]
        .as_object()
        .expect("stats object");
    for key in [
        "harmless",
        "malicious",
        "suspicious",
        "undetected",
        "timeout",
        "type-unsupported",
        "failure",
        "confirmed-timeout",
    ] {
        assert!(stats.contains_key(key), "stats lack {key}");
    }
    let results = attrs["last_analysis_results"].as_object().expect("results");
    assert!((65..=75).contains(&results.len()), "{}", results.len());
    for (engine, result) in results {
        assert_eq!(result["engine_name"], engine.as_str());
        assert_eq!(result["method"], "blacklist");
        assert!(result["engine_version"].is_string());
        assert!(result["engine_update"]
            .as_str()
            .is_some_and(|u| u.len() == 8));
        match result["category"].as_str() {
            Some("malicious") => assert!(result["result"].is_string()),
            Some(_) => assert!(result["result"].is_null(), "{result}"),
            None => panic!("no category"),
        }
    }
    assert!(stats["malicious"].as_u64().unwrap_or(0) >= 25);
}

#[tokio::test]
async fn url_domain_and_ip_reports_have_the_api_shape() {
    let router = emulator(EmulatorConfig::default()).router();
    let (url, sha) = url_of_class(WorldClass::Clean);
    let domain = domain_of_class(WorldClass::Suspicious);
    let cases = [
        (
            format!("/api/v3/urls/{}", ioc::url_id(&url)),
            "url",
            sha.clone(),
            vec!["url", "title", "categories", "last_http_response_code"],
        ),
        (
            format!("/api/v3/domains/{domain}"),
            "domain",
            domain.clone(),
            vec!["registrar", "tld", "categories", "whois", "creation_date"],
        ),
        (
            "/api/v3/ip_addresses/8.8.8.8".to_owned(),
            "ip_address",
            "8.8.8.8".to_owned(),
            vec!["asn", "as_owner", "country", "network"],
        ),
    ];
    for (path, kind, id, fields) in cases {
        let answer = get(&router, &path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.content_type, "application/json");
        let json = answer.json();
        assert_eq!(json["data"]["type"], kind);
        assert_eq!(json["data"]["id"], id.as_str());
        assert!(json["data"]["links"]["self"].is_string());
        let attrs = &json["data"]["attributes"];
        for field in fields {
            assert!(attrs.get(field).is_some(), "{kind} lacks {field}");
        }
        assert!(attrs["last_analysis_stats"]
            .get("type-unsupported")
            .is_none());
        let results = attrs["last_analysis_results"].as_object().expect("results");
        assert!((85..=95).contains(&results.len()));
        for result in results.values() {
            assert!(result.get("engine_version").is_none());
            assert_eq!(result["method"], "blacklist");
        }
    }
    let url_json = get(&router, &format!("/api/v3/urls/{sha}")).await.json();
    assert_eq!(url_json["data"]["attributes"]["url"], url.as_str());
}

#[tokio::test]
async fn unknown_and_malformed_ids_answer_like_the_api() {
    let router = emulator(EmulatorConfig::default()).router();
    let unknown_file = file_hash_of_class(WorldClass::Unknown, 64);
    let (_, unknown_url) = url_of_class(WorldClass::Unknown);
    let unknown_domain = domain_of_class(WorldClass::Unknown);
    let cases = [
        (
            format!("/api/v3/files/{unknown_file}"),
            404,
            "NotFoundError",
            format!("File \"{unknown_file}\" not found"),
        ),
        (
            "/api/v3/files/nothash".to_owned(),
            404,
            "NotFoundError",
            "File \"nothash\" not found".to_owned(),
        ),
        (
            format!("/api/v3/urls/{unknown_url}"),
            404,
            "NotFoundError",
            format!("URL \"{unknown_url}\" not found"),
        ),
        (
            "/api/v3/urls/thisurlidmakesnosenseatall".to_owned(),
            404,
            "NotFoundError",
            "URL \"thisurlidmakesnosenseatall\" not found".to_owned(),
        ),
        (
            format!("/api/v3/domains/{unknown_domain}"),
            404,
            "NotFoundError",
            format!("Domain \"{unknown_domain}\" not found"),
        ),
        (
            "/api/v3/domains/not_a_domain".to_owned(),
            400,
            "InvalidArgumentError",
            String::new(),
        ),
        (
            "/api/v3/ip_addresses/999.1.1.1".to_owned(),
            400,
            "InvalidArgumentError",
            String::new(),
        ),
        (
            "/api/v3/analyses/nope".to_owned(),
            404,
            "NotFoundError",
            "Analysis \"nope\" not found".to_owned(),
        ),
        (
            "/api/v3/no_such_collection/x".to_owned(),
            404,
            "NotFoundError",
            String::new(),
        ),
    ];
    for (path, status, code, message) in cases {
        let answer = get(&router, &path).await;
        assert_eq!(answer.status.as_u16(), status, "{path}");
        assert_eq!(answer.content_type, "application/json", "{path}");
        let json = answer.json();
        assert_eq!(json["error"]["code"], code, "{path}");
        if !message.is_empty() {
            assert_eq!(json["error"]["message"], message.as_str());
        }
    }
}

#[tokio::test]
async fn missing_and_wrong_keys_get_401() {
    let router = emulator(EmulatorConfig {
        public_keys: vec!["public-key".into()],
        premium_keys: vec!["premium-key".into()],
        ..EmulatorConfig::default()
    })
    .router();
    let path = format!("/api/v3/files/{EICAR_SHA256}");
    let cases = [
        (
            None,
            401,
            Some(("AuthenticationRequiredError", "X-Apikey header is missing")),
        ),
        (
            Some(""),
            401,
            Some(("AuthenticationRequiredError", "X-Apikey header is missing")),
        ),
        (
            Some("stolen-key"),
            401,
            Some(("WrongCredentialsError", "Wrong API key")),
        ),
        (Some("public-key"), 200, None),
        (Some("premium-key"), 200, None),
    ];
    for (key, status, error) in cases {
        let answer = send(
            &router,
            request("GET", &path, key)
                .body(Body::empty())
                .expect("valid request"),
        )
        .await;
        assert_eq!(answer.status.as_u16(), status, "{key:?}");
        assert_eq!(answer.content_type, "application/json");
        if let Some((code, message)) = error {
            let json = answer.json();
            assert_eq!(json["error"]["code"], code);
            assert_eq!(json["error"]["message"], message);
        }
    }
    // Header names are case-insensitive.
    let upper = send(
        &router,
        axum::http::Request::builder()
            .uri(&path)
            .header("X-APIKEY", "public-key")
            .body(Body::empty())
            .expect("valid request"),
    )
    .await;
    assert_eq!(upper.status, 200);
}

#[tokio::test]
async fn any_key_is_accepted_without_allow_lists() {
    let router = emulator(EmulatorConfig::default()).router();
    let answer = send(
        &router,
        request(
            "GET",
            &format!("/api/v3/files/{EICAR_SHA256}"),
            Some("whatever"),
        )
        .body(Body::empty())
        .expect("valid request"),
    )
    .await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn wrong_method_is_a_json_error() {
    let router = emulator(EmulatorConfig::default()).router();
    let answer = post_empty(&router, "/api/v3/domains/example.com").await;
    assert_eq!(answer.status.as_u16(), 400);
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(answer.json()["error"]["code"], "BadRequestError");
}

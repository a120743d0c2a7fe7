//! The service over real HTTP on loopback, against the in-process emulator:
//! each route, each role, coalescing, bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{answer, assert_error, new_hash, start, EICAR_SHA256};
use vt_emulator::EmulatorConfig;

#[tokio::test]
async fn health_and_readiness_need_no_token() {
    let svc = start(EmulatorConfig::default()).await;
    let (status, body) = svc.get("/healthz", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = svc.get("/readyz", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    let (status, body) = svc.get("/nowhere", Some(&svc.tokens.admin)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    svc.stop().await;
}

#[tokio::test]
async fn observables_enrich_with_cache_refresh_full_and_defanged_input() {
    let svc = start(EmulatorConfig::default()).await;
    let token = Some(svc.tokens.analyst.as_str());
    let path = format!("/v1/observables/{EICAR_SHA256}");
    let (status, record) = svc.get(&path, token).await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["indicator"], EICAR_SHA256);
    assert_eq!(record["verdict"], "bad", "{record}");
    assert_eq!(record["cached"], false, "{record}");
    assert!(record.get("full").is_none(), "{record}");
    assert_eq!(svc.emulator_calls("GET /files/{id}"), 1);

    // From the cache, now with the VirusTotal object.
    let (status, record) = svc.get(&format!("{path}?full=true"), token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["cached"], true, "{record}");
    assert_eq!(record["full"]["id"], EICAR_SHA256);
    assert_eq!(record["full"]["type"], "file");
    assert_eq!(svc.emulator_calls("GET /files/{id}"), 1);

    // refresh asks again.
    let (status, record) = svc.get(&format!("{path}?refresh=true"), token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["cached"], false, "{record}");
    assert_eq!(svc.emulator_calls("GET /files/{id}"), 2);

    // A defanged URL, slashes and all, and a defanged domain.
    let (status, record) = svc
        .get("/v1/observables/hxxp://malware[.]example[.]com/x/y", token)
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["type"], "url", "{record}");
    assert_eq!(record["input"], "hxxp://malware[.]example[.]com/x/y");
    let (status, record) = svc.get("/v1/observables/example[.]org", token).await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["indicator"], "example.org", "{record}");
    svc.stop().await;
}

#[tokio::test]
async fn reports_answer_from_the_cache_only() {
    let svc = start(EmulatorConfig::default()).await;
    let reader = Some(svc.tokens.reader.as_str());
    // Not cached yet: 404, and VirusTotal was not asked.
    let (status, body) = svc
        .get(&format!("/v1/reports/files/{EICAR_SHA256}"), reader)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND);
    assert_eq!(svc.emulator_requests(), 0);

    let (status, _) = svc
        .get(
            &format!("/v1/observables/{EICAR_SHA256}"),
            Some(&svc.tokens.analyst),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let spent = svc.emulator_requests();
    let (status, body) = svc
        .get(&format!("/v1/reports/files/{EICAR_SHA256}"), reader)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["id"], EICAR_SHA256, "{body}");
    assert_eq!(body["data"]["type"], "file", "{body}");
    assert_eq!(
        svc.emulator_requests(),
        spent,
        "a report never spends quota"
    );

    for bad in [
        "/v1/reports/files/not-a-hash!",
        "/v1/reports/planets/example.com",
        "/v1/reports/domains/8.8.8.8",
    ] {
        let (status, body) = svc.get(bad, reader).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST);
    }
    svc.stop().await;
}

#[tokio::test]
async fn actions_take_and_give_the_json_of_vtc_action() {
    let svc = start(EmulatorConfig::default()).await;
    let analyst = Some(svc.tokens.analyst.as_str());
    let (status, body) = svc
        .post(
            "/v1/actions/file_report",
            analyst,
            &json!({"hash": EICAR_SHA256}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["id"], EICAR_SHA256);
    assert_eq!(body["data"]["detection"]["ratio"], "62/68");

    let (status, body) = svc.post("/v1/actions/no_such_action", analyst, "{}").await;
    assert_error(status, &body, StatusCode::NOT_FOUND);

    // Bad input names the field.
    let (status, body) = svc
        .post("/v1/actions/file_report", analyst, r#"{"hash": 5}"#)
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("hash"),
        "{body}"
    );
    let (status, body) = svc
        .post(
            "/v1/actions/file_report",
            analyst,
            r#"{"hash": "x", "extra": 1}"#,
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("extra"),
        "{body}"
    );

    // The service never reads a file its caller names.
    let (status, body) = svc
        .post(
            "/v1/actions/scan_file",
            analyst,
            r#"{"path": "/etc/passwd"}"#,
        )
        .await;
    assert!(status.is_client_error(), "{status}: {body}");
    assert_eq!(svc.emulator_calls("POST /files"), 0);
    svc.stop().await;
}

#[tokio::test]
async fn every_protected_route_checks_the_token_and_role() {
    let svc = start(EmulatorConfig::default()).await;
    let t = &svc.tokens;
    let observable = format!("/v1/observables/{EICAR_SHA256}");
    let report = format!("/v1/reports/files/{EICAR_SHA256}");
    let unknown = "vtc_0000000000000000000000000000000000000000000000000000000000000000";

    // (method, path, body, token too low for it, a token high enough)
    let cases: Vec<(&str, String, &str, Option<&str>, &str)> = vec![
        ("GET", observable.clone(), "", Some(&t.reader), &t.analyst),
        ("GET", report.clone(), "", None, &t.reader),
        (
            "POST",
            "/v1/actions/file_report".into(),
            r#"{"hash": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}"#,
            Some(&t.reader),
            &t.analyst,
        ),
        (
            "POST",
            "/v1/actions/private_delete_file".into(),
            r#"{"hash": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}"#,
            Some(&t.analyst),
            &t.admin,
        ),
    ];
    for (method, path, body, low, right) in &cases {
        let call = |token: Option<String>| {
            let svc = &svc;
            let (method, path, body) = (*method, path.clone(), *body);
            async move {
                if method == "GET" {
                    svc.get(&path, token.as_deref()).await
                } else {
                    svc.post(&path, token.as_deref(), body).await
                }
            }
        };
        let (status, answer) = call(None).await;
        assert_error(status, &answer, StatusCode::UNAUTHORIZED);
        let (status, answer) = call(Some(unknown.into())).await;
        assert_error(status, &answer, StatusCode::UNAUTHORIZED);
        if let Some(low) = low {
            let (status, answer) = call(Some((*low).into())).await;
            assert_error(status, &answer, StatusCode::FORBIDDEN);
        }
        let (status, answer) = call(Some((*right).into())).await;
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{method} {path} with the right role: {status} {answer}"
        );
        assert!(
            !status.is_server_error(),
            "{method} {path}: {status} {answer}"
        );
    }
    // The quota: a reader's, counting what the lookups above spent, by label.
    let (status, refused) = svc.get("/v1/quota", None).await;
    assert_error(status, &refused, StatusCode::UNAUTHORIZED);
    let (status, quota) = svc.get("/v1/quota", Some(&t.reader)).await;
    assert_eq!(status, StatusCode::OK, "{quota}");
    let key = &quota["keys"][0];
    assert!(key["key"].as_str().unwrap().starts_with("key-"), "{quota}");
    assert!(key["day"]["used"].as_u64().unwrap() >= 1, "{quota}");
    assert!(!quota.to_string().contains("service-key"), "never the key");

    // A malformed header is no token at all.
    let resp = svc
        .http
        .get(svc.url(&report))
        .header("authorization", format!("Basic {}", t.admin))
        .send()
        .await
        .unwrap();
    let (status, answer) = answer(resp).await;
    assert_error(status, &answer, StatusCode::UNAUTHORIZED);

    // A revoked token is refused at once, without a restart.
    let (status, _) = svc.get(&report, Some(&t.admin)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "cached by the observable case above"
    );
    assert!(svc.state.tokens().revoke("ops").await.unwrap());
    let (status, answer) = svc.get(&report, Some(&t.admin)).await;
    assert_error(status, &answer, StatusCode::UNAUTHORIZED);
    svc.stop().await;
}

#[tokio::test]
async fn concurrent_requests_for_one_new_hash_share_one_call() {
    let svc = start(EmulatorConfig {
        // Long enough that every request arrives while the first is out.
        latency: std::time::Duration::from_millis(300),
        ..EmulatorConfig::default()
    })
    .await;
    let path = format!("/v1/observables/{}", new_hash("coalesce"));
    let answers =
        futures_util::future::join_all((0..100).map(|_| svc.get(&path, Some(&svc.tokens.analyst))))
            .await;
    for (status, record) in &answers {
        assert_eq!(*status, StatusCode::OK, "{record}");
        assert!(record["error"].is_null(), "{record}");
    }
    assert_eq!(svc.emulator_calls("GET /files/{id}"), 1);
    svc.stop().await;
}

#[tokio::test]
async fn bad_input_is_a_json_4xx_never_a_5xx() {
    let svc = start(EmulatorConfig::default()).await;
    let analyst = Some(svc.tokens.analyst.as_str());
    let long = "a".repeat(5000);
    let gets = [
        "/v1/observables/not%20an%20indicator".to_owned(),
        "/v1/observables/%00%01".to_owned(),
        format!("/v1/observables/{long}"),
        format!("/v1/observables/{EICAR_SHA256}?refresh=maybe"),
        format!("/v1/observables/{EICAR_SHA256}?colour=red"),
        "/v1/reports/files".to_owned(),
        "/v1/actions/file_report".to_owned(),
    ];
    for path in &gets {
        let (status, body) = svc.get(path, analyst).await;
        assert!(status.is_client_error(), "{path}: {status} {body}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    let too_big = format!(r#"{{"hash": "{}"}}"#, "a".repeat(2 * 1024 * 1024));
    let posts = [
        ("/v1/actions/file_report", "not json"),
        ("/v1/actions/file_report", "[1, 2]"),
        ("/v1/actions/file_report", "{}"),
        ("/v1/actions/file_report", r#"{"hash": "zz"}"#),
        ("/v1/actions/lookup", r#"{"indicator": "\u0000"}"#),
        ("/v1/actions/file_report", too_big.as_str()),
    ];
    for (path, body) in posts {
        let (status, answer) = svc.post(path, analyst, body).await;
        assert!(
            status.is_client_error(),
            "{path} {:.60}: {status} {answer}",
            body
        );
        assert!(answer["error"]["code"].is_string(), "{path}: {answer}");
    }
    svc.stop().await;
}

#[tokio::test]
async fn virustotal_down_is_a_503_that_names_no_internals() {
    let svc = start(EmulatorConfig {
        fault_rate: 1.0,
        ..EmulatorConfig::default()
    })
    .await;
    let path = format!("/v1/observables/{}", new_hash("down"));
    let (status, body) = svc.get(&path, Some(&svc.tokens.analyst)).await;
    assert!(status.is_server_error(), "{status}: {body}");
    assert!(body["error"]["code"].is_string(), "{body}");
    let text = body.to_string();
    assert!(!text.contains("127.0.0.1"), "no upstream address: {text}");
    svc.stop().await;
}

/// Every action of `vtc action --list` over `POST /v1/actions/{name}`, in
/// an order where each finds what it needs: a 200 with `data`, except the
/// three that would read the service's disk or write a sample to it,
/// which are refused with a 4xx before any API call. Then each action by
/// one of its SOAR aliases, and bad input naming the field for each.
#[tokio::test]
async fn every_action_runs_over_http_and_by_its_connector_alias() {
    let svc = start(EmulatorConfig::default()).await;
    let admin = Some(svc.tokens.admin.as_str());
    let (status, body) = svc
        .post(
            "/v1/actions/get_widget",
            admin,
            &json!({"id": "example.com"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let widget_url = body["data"]["url"].as_str().unwrap().to_owned();
    let (status, body) = svc
        .post(
            "/v1/actions/scan_url",
            admin,
            &json!({"url": "http://http-actions.example/"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let analysis = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) = svc
        .post(
            "/v1/actions/private_scan_url",
            admin,
            &json!({"url": "http://private-http.example/"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let private_analysis = body["data"]["id"].as_str().unwrap().to_owned();
    let refused = ["scan_file", "private_scan_file", "download_file"];
    let cases: Vec<(&str, Value)> = vec![
        ("lookup", json!({"indicator": "8[.]8[.]8[.]8"})),
        ("file_report", json!({"hash": EICAR_SHA256})),
        ("url_report", json!({"url": "http://http-actions.example/"})),
        ("domain_report", json!({"domain": "example.com"})),
        ("ip_report", json!({"ip": "8.8.8.8"})),
        ("scan_file", json!({"path": "/etc/passwd"})),
        ("scan_url", json!({"url": "http://http-actions.example/2"})),
        ("rescan", json!({"id": EICAR_SHA256})),
        ("get_analysis", json!({"id": analysis})),
        ("download_file", json!({"hash": EICAR_SHA256})),
        ("get_download_url", json!({"hash": EICAR_SHA256})),
        (
            "get_relationship_descriptors",
            json!({"id": EICAR_SHA256, "relationship": "contacted_ips", "limit": 2}),
        ),
        (
            "get_relationships",
            json!({"id": "example.com", "relationship": "resolutions", "limit": 2}),
        ),
        ("search", json!({"query": EICAR_SHA256})),
        ("get_comments", json!({"id": "example.com"})),
        (
            "add_comment",
            json!({"id": "example.com", "text": "over http #soar"}),
        ),
        ("get_votes", json!({"id": "example.com"})),
        (
            "add_vote",
            json!({"id": "example.com", "verdict": "harmless"}),
        ),
        ("get_widget", json!({"id": "example.com"})),
        ("get_widget_html", json!({"url": widget_url})),
        ("get_upload_url", json!({})),
        ("private_scan_file", json!({"path": "/etc/passwd"})),
        (
            "private_scan_url",
            json!({"url": "http://private-http.example/2"}),
        ),
        ("private_file_report", json!({"sha256": EICAR_SHA256})),
        ("private_list_files", json!({"limit": 5})),
        (
            "private_delete_file",
            json!({"sha256": new_hash("http-delete")}),
        ),
        ("private_rescan", json!({"sha256": EICAR_SHA256})),
        ("private_get_analysis", json!({"id": private_analysis})),
        (
            "private_get_relationships",
            json!({"sha256": EICAR_SHA256, "relationship": "contacted_ips", "limit": 2}),
        ),
        (
            "private_url_report",
            json!({"url": "http://private-http.example/"}),
        ),
        ("get_quota", json!({})),
    ];
    for action in actions::ACTIONS {
        assert!(
            cases.iter().any(|(name, _)| *name == action.name),
            "{} has no HTTP case",
            action.name
        );
    }
    for (name, input) in &cases {
        let before = svc.emulator_requests();
        let (status, body) = svc
            .post(&format!("/v1/actions/{name}"), admin, &input.to_string())
            .await;
        if refused.contains(name) {
            assert!(status.is_client_error(), "{name}: {status} {body}");
            assert!(body["error"]["message"].is_string(), "{name}: {body}");
            assert_eq!(svc.emulator_requests(), before, "{name} made a call");
            continue;
        }
        // A private file never uploaded is a 404 from VirusTotal, answered as such.
        if *name == "private_delete_file"
            || *name == "private_file_report"
            || *name == "private_rescan"
            || *name == "private_get_relationships"
        {
            assert!(
                status == StatusCode::OK || status == StatusCode::NOT_FOUND,
                "{name}: {status} {body}"
            );
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert!(!body["data"].is_null(), "{name}: {body}");
    }
    for alias in actions::ALIASES {
        let (status, body) = svc
            .post(
                &format!("/v1/actions/{}", alias.name),
                admin,
                r#"{"bogus_field": 1}"#,
            )
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{}:", alias.action)) && message.contains("bogus_field"),
            "{alias:?}: {message}"
        );
    }
    let (status, body) = svc
        .post(
            "/v1/actions/get_a_file_report",
            admin,
            &json!({"hash": EICAR_SHA256}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["id"], EICAR_SHA256);
    svc.stop().await;
}

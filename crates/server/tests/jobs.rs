//! Per-client quotas, batch jobs, ingest policies, bulk priority and
//! webhooks, over real HTTP on loopback against the in-process emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vt_emulator::{Emulator, EmulatorConfig, RunningEmulator};

const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

struct Service {
    base: String,
    emu: RunningEmulator,
    state: server::AppState,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), server::ServerError>>>,
    _dir: tempfile::TempDir,
}

/// What a test changes in the service.
struct Setup {
    emulator: EmulatorConfig,
    /// The config file's text (`[service]`, `[[policies]]`).
    config: String,
    minute: u32,
    day: u32,
    /// The client's sliding "minute", shortened so a tight budget is quick.
    window: Option<Duration>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            emulator: unlimited_emulator(),
            config: String::new(),
            minute: 0,
            day: 0,
            window: None,
        }
    }
}

fn unlimited_emulator() -> EmulatorConfig {
    EmulatorConfig {
        quota_minute: Some(0),
        quota_day: Some(0),
        quota_month: Some(0),
        ..EmulatorConfig::default()
    }
}

async fn start(setup: Setup) -> Service {
    let emu = Emulator::new(setup.emulator)
        .unwrap()
        .spawn(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let overrides = app::Overrides {
        api_key: Some("service-key".into()),
        api_url: Some(emu.api_url()),
        db: Some(dir.path().join("vtc.sqlite").display().to_string()),
        quota: app::QuotaConfig {
            minute: Some(setup.minute),
            day: Some(setup.day),
            month: Some(0),
        },
        ..app::Overrides::default()
    };
    let file = app::FileConfig::parse(&setup.config, std::path::Path::new("test.toml")).unwrap();
    let mut settings = app::Settings::from_parts(&overrides, file).unwrap();
    settings.quota_window = setup.window;
    let options = server::ServiceOptions {
        webhook_retry: server::WebhookRetry {
            attempts: 3,
            first_delay: Duration::from_millis(50),
            timeout: Duration::from_secs(2),
        },
        ..server::ServiceOptions::default()
    };
    let state = server::AppState::build_with(&settings, options)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Service {
        base,
        emu,
        state,
        http: reqwest::Client::new(),
        stop: Some(stop),
        task: Some(task),
        _dir: dir,
    }
}

impl Service {
    async fn token(&self, name: &str, role: server::Role, quota: Option<&str>) -> String {
        server::create_token_with_quota(
            self.state.store().as_ref(),
            name,
            role,
            quota.map(|q| q.parse().unwrap()),
        )
        .await
        .unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    async fn post_json(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.post(path, token, "application/json", body.to_string())
            .await
    }

    async fn post(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: String,
    ) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    fn file_lookups(&self) -> u64 {
        self.emu.emulator().stats()["by_route"]["GET /files/{id}"]
            .as_u64()
            .unwrap_or(0)
    }

    fn emulator_calls(&self, route: &str) -> u64 {
        self.emu.emulator().stats()["by_route"][route]
            .as_u64()
            .unwrap_or(0)
    }

    /// Polls a job until `done` says so (bounded: 30 s).
    async fn wait_job(&self, id: &Value, token: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, job) = self.get(&format!("/v1/jobs/{id}"), token).await;
            assert_eq!(status, StatusCode::OK, "{job}");
            if done(&job) {
                return job;
            }
            assert!(Instant::now() < deadline, "job never got there: {job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

async fn answer(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"));
    (status, body)
}

fn finished(job: &Value) -> bool {
    !job["finished_at"].is_null()
}

/// Distinct sha256 values, none asked for before.
fn hashes(seed: &str, n: usize) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (0..n)
        .map(|i| hex::encode(Sha256::digest(format!("{seed}{nanos}/{i}").as_bytes())))
        .collect()
}

#[tokio::test]
async fn a_client_beyond_its_quota_gets_429_with_retry_after_and_succeeds_after_the_reset() {
    let svc = start(Setup::default()).await;
    let soar = svc.token("soar", server::Role::Analyst, Some("2/5s")).await;
    let admin = svc.token("ops", server::Role::Admin, None).await;
    let other = svc.token("tip", server::Role::Analyst, None).await;
    // Start near the beginning of a 5 s window, so the next steps share one.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into = now.as_millis() % 5000;
    tokio::time::sleep(Duration::from_millis((5000 - into as u64) + 50)).await;

    let fresh = hashes("quota", 4);
    for h in &fresh[..2] {
        let (status, body) = svc.get(&format!("/v1/observables/{h}"), &soar).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Cached: costs nothing, so it is answered.
    let (status, _) = svc
        .get(&format!("/v1/observables/{}", fresh[0]), &soar)
        .await;
    assert_eq!(status, StatusCode::OK);
    // A miss beyond the quota: 429, Retry-After, when it resets.
    let resp = svc
        .http
        .get(svc.url(&format!("/v1/observables/{}", fresh[2])))
        .bearer_auth(&soar)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry_after), "{retry_after}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ClientQuotaExceeded", "{body}");
    assert!(body["error"]["resets_at"].is_string(), "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("2/5s"),
        "{body}"
    );
    assert_eq!(
        svc.file_lookups(),
        2,
        "the refused lookup never reached VirusTotal"
    );
    // A batch beyond it, and an action: refused too.
    let (status, _) = svc.post_json("/v1/enrich", &soar, &json!([fresh[3]])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another client is not affected.
    let (status, _) = svc
        .get(&format!("/v1/observables/{}", fresh[2]), &other)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Each client sees its own usage; an admin sees everyone's.
    let (_, quota) = svc.get("/v1/quota", &soar).await;
    let clients = quota["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 1, "{quota}");
    assert_eq!(clients[0]["name"], "soar");
    assert_eq!(clients[0]["quota"], "2/5s");
    assert_eq!(
        (clients[0]["used"].as_u64(), clients[0]["allowed"].as_u64()),
        (Some(2), Some(2))
    );
    let (_, quota) = svc.get("/v1/quota", &admin).await;
    let names: Vec<&str> = quota["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ops", "soar", "tip"], "{quota}");
    let tip = &quota["clients"][2];
    assert_eq!(
        (tip["used"].as_u64(), tip["allowed"].as_u64()),
        (Some(1), None)
    );

    // After the reset, the same lookup goes ahead.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let (status, body) = svc
        .get(&format!("/v1/observables/{}", fresh[3]), &soar)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    svc.stop().await;
}

#[tokio::test]
async fn jobs_queue_at_once_page_results_in_input_order_and_belong_to_their_owner() {
    let svc = start(Setup {
        config: "[service]\nmax_batch = 40\n".into(),
        ..Setup::default()
    })
    .await;
    let soar = svc.token("soar", server::Role::Analyst, None).await;
    let other = svc.token("other", server::Role::Analyst, None).await;
    let reader = svc.token("tip", server::Role::Reader, None).await;
    let admin = svc.token("ops", server::Role::Admin, None).await;

    let mut inputs = hashes("job", 22);
    inputs.insert(5, "not an indicator".into());
    inputs.insert(9, EICAR_SHA256.into());
    inputs.push(EICAR_SHA256.into()); // twice: one lookup, two records
    let (status, job) = svc.post_json("/v1/enrich", &soar, &json!(inputs)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["items"]["total"], 25);
    assert_eq!(job["priority"], "interactive");
    let id = job["id"].clone();
    let job = svc.wait_job(&id, &soar, finished).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(
        (
            job["items"]["done"].as_u64(),
            job["items"]["failed"].as_u64()
        ),
        (Some(25), Some(1)),
        "{job}"
    );
    assert_eq!(svc.file_lookups(), 23, "each indicator looked up once");

    // Pages of 10, in input order, with a cursor.
    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/jobs/{id}/results?limit=10&cursor={c}"),
            None => format!("/v1/jobs/{id}/results?limit=10"),
        };
        let (status, page) = svc.get(&path, &soar).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        for item in page["data"].as_array().unwrap() {
            assert_eq!(item["state"], "done");
            assert_eq!(item["seq"].as_u64(), Some(seen.len() as u64));
            seen.push(item["input"].as_str().unwrap().to_owned());
            if item["input"] == "not an indicator" {
                assert!(item["record"]["error"].is_object(), "{item}");
            } else {
                assert!(item["record"]["verdict"].is_string(), "{item}");
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, inputs);
    let eicar = svc
        .get(&format!("/v1/jobs/{id}/results?limit=1&cursor=8"), &soar)
        .await
        .1;
    assert_eq!(eicar["data"][0]["record"]["verdict"], "bad", "{eicar}");

    // Not yours: the same 404 as no job at all; an admin sees every job.
    for token in [&other, &reader] {
        assert_eq!(svc.get(&format!("/v1/jobs/{id}"), token).await.0, 404);
        assert_eq!(
            svc.get(&format!("/v1/jobs/{id}/results"), token).await.0,
            404
        );
    }
    assert_eq!(svc.delete(&format!("/v1/jobs/{id}"), &other).await.0, 404);
    assert_eq!(svc.get("/v1/jobs/999999", &soar).await.0, 404);
    assert_eq!(svc.get("/v1/jobs/nope", &soar).await.0, 404);
    assert_eq!(svc.get(&format!("/v1/jobs/{id}"), &admin).await.0, 200);
    // Finished: cannot be cancelled.
    assert_eq!(svc.delete(&format!("/v1/jobs/{id}"), &soar).await.0, 409);

    // Other body forms.
    let (status, job) = svc
        .post(
            "/v1/enrich",
            &soar,
            "text/plain",
            format!("# feed\n{EICAR_SHA256}\n\nexample.com\n"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["items"]["total"], 2);
    let (status, job) = svc
        .post_json("/v1/enrich", &soar, &json!({"indicators": ["8.8.8.8"]}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    svc.wait_job(&job["id"], &soar, finished).await;

    // Limits and bad bodies: JSON 4xx naming the problem.
    let (status, body) = svc
        .post_json("/v1/enrich", &soar, &json!(hashes("big", 41)))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "BatchTooLarge");
    let huge = format!("[\"{}\"]", "a".repeat(2 * 1024 * 1024));
    let (status, body) = svc
        .post("/v1/enrich", &soar, "application/json", huge)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    for bad in ["[]", "{\"x\": 1}", "[1, 2]", "nope"] {
        let (status, body) = svc
            .post("/v1/enrich", &soar, "application/json", bad.into())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"]["message"].is_string());
    }
    let (status, _) = svc
        .get(&format!("/v1/jobs/{id}/results?limit=0"), &soar)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = svc
        .get(&format!("/v1/jobs/{id}/results?cursor=x"), &soar)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A reader may read results but not queue work.
    assert_eq!(
        svc.post_json("/v1/enrich", &reader, &json!(["8.8.8.8"]))
            .await
            .0,
        403
    );
    let resp = svc
        .http
        .post(svc.url("/v1/enrich"))
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    svc.stop().await;
}

#[tokio::test]
async fn a_cancelled_job_looks_up_none_of_its_remaining_items() {
    let svc = start(Setup {
        emulator: EmulatorConfig {
            latency: Duration::from_millis(300),
            ..unlimited_emulator()
        },
        config: "[service]\nworkers = 1\n".into(),
        ..Setup::default()
    })
    .await;
    let soar = svc.token("soar", server::Role::Analyst, None).await;
    let (status, job) = svc
        .post_json("/v1/enrich", &soar, &json!(hashes("cancel", 20)))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = job["id"].clone();
    svc.wait_job(&id, &soar, |j| j["items"]["running"].as_u64() >= Some(1))
        .await;
    let (status, job) = svc.delete(&format!("/v1/jobs/{id}"), &soar).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["state"], "cancelled");
    let job = svc.wait_job(&id, &soar, finished).await;
    let done = job["items"]["done"].as_u64().unwrap();
    assert_eq!(
        done + job["items"]["cancelled"].as_u64().unwrap(),
        20,
        "{job}"
    );
    // At most the items in progress then (one per slot of each priority)
    // and those done before.
    assert!(done <= 4, "{job}");
    // Nothing more is looked up after the cancel.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(svc.file_lookups(), done, "{job}");
    let (_, page) = svc.get(&format!("/v1/jobs/{id}/results"), &soar).await;
    let cancelled = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["state"] == "cancelled" && i["record"].is_null())
        .count();
    assert_eq!(cancelled as u64, 20 - done);
    assert_eq!(svc.delete(&format!("/v1/jobs/{id}"), &soar).await.0, 409);
    svc.stop().await;
}

/// A tiny webhook receiver: counts what it gets and answers `status`.
async fn receiver(status: u16) -> (String, Arc<std::sync::Mutex<Vec<Value>>>, Arc<AtomicU64>) {
    use axum::routing::post;
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hits = Arc::new(AtomicU64::new(0));
    let (g, h) = (got.clone(), hits.clone());
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: axum::body::Bytes| {
            let (g, h) = (g.clone(), h.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    g.lock().unwrap().push(v);
                }
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got, hits)
}

#[tokio::test]
async fn ingested_indicators_are_enriched_or_skipped_by_rule_and_webhooks_get_the_records() {
    let (good_hook, delivered, _) = receiver(200).await;
    let (bad_hook, _, failing_hits) = receiver(500).await;
    let config = format!(
        r#"
[[policies]]
name = "malware"
types = ["file"]
sources = ["feed-a"]
daily_share_percent = 20
max_age = "1h"
webhook = "{good_hook}"

[[policies]]
name = "phishing"
types = ["domain", "url"]
tags = ["phishing"]
webhook = "{bad_hook}"
"#
    );
    let svc = start(Setup {
        config,
        day: 10,
        ..Setup::default()
    })
    .await;
    let tip = svc.token("tip", server::Role::Analyst, None).await;
    let h = hashes("ingest", 3);
    let body = json!({
        "source": "Feed-A",
        "indicators": [
            {"value": h[0]},
            {"value": h[1], "tags": ["apt"]},
            {"value": h[2]},
            {"value": "login-example[.]com", "tags": ["Phishing"]},
            {"value": "example.org", "tags": ["benign"]},
            {"value": "not an indicator"},
            {"value": h[0]},
        ]
    });
    let (status, answer) = svc.post_json("/v1/ingest", &tip, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let decided: Vec<(&str, Option<&str>)> = answer["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["status"].as_str().unwrap(), o["policy"].as_str()))
        .collect();
    assert_eq!(
        decided,
        [
            ("queued", Some("malware")),
            ("queued", Some("malware")),
            ("skipped", Some("malware")), // the source's share: 20% of 10 = 2
            ("queued", Some("phishing")),
            ("skipped", None),
            ("invalid", None),
            ("skipped", Some("malware")), // a duplicate
        ],
        "{answer}"
    );
    assert!(
        answer["indicators"][2]["reason"]
            .as_str()
            .unwrap()
            .contains("share"),
        "{answer}"
    );
    assert_eq!(
        (answer["queued"].as_u64(), answer["skipped"].as_u64()),
        (Some(3), Some(3))
    );
    let id = answer["job"]["id"].clone();
    let job = svc.wait_job(&id, &tip, finished).await;
    assert_eq!(job["priority"], "bulk");
    assert_eq!(job["items"]["done"], 3, "{job}");
    assert_eq!(svc.file_lookups(), 2);
    assert_eq!(svc.emulator_calls("GET /domains/{id}"), 1);

    // The records of ingested indicators: from the cache, no new call.
    let (status, record) = svc.get("/v1/observables/login-example.com", &tip).await;
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(record["cached"], true);
    assert_eq!(svc.emulator_calls("GET /domains/{id}"), 1);

    // The good webhook got both file records; the failing one was tried a
    // bounded number of times and held nothing up.
    let deadline = Instant::now() + Duration::from_secs(10);
    while delivered.lock().unwrap().len() < 2 || failing_hits.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "webhooks never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut got: Vec<String> = delivered
        .lock()
        .unwrap()
        .iter()
        .map(|r| r["indicator"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let mut want = vec![h[0].clone(), h[1].clone()];
    want.sort();
    assert_eq!(got, want);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        failing_hits.load(Ordering::SeqCst),
        3,
        "3 attempts, then given up"
    );
    assert_eq!(svc.state.webhook_counts(), (2, 1, 0));

    // Ingested again within max_age: skipped, nothing spent.
    let again = json!({"source": "feed-a", "indicators": [{"value": h[0]}]});
    let (status, answer) = svc.post_json("/v1/ingest", &tip, &again).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["indicators"][0]["status"], "skipped");
    assert!(answer["job"].is_null());
    assert!(
        answer["indicators"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("max_age"),
        "{answer}"
    );

    // Bad bodies: 4xx naming the problem.
    for bad in [
        json!({"source": "", "indicators": [{"value": "8.8.8.8"}]}),
        json!({"source": "x", "indicators": []}),
        json!({"source": "x", "indicators": [{"value": "8.8.8.8", "extra": 1}]}),
        json!({"indicators": [{"value": "8.8.8.8"}]}),
        json!({"source": "x", "indicators": [{"value": "8.8.8.8", "tags": vec!["t"; 33]}]}),
    ] {
        let (status, body) = svc.post_json("/v1/ingest", &tip, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    svc.stop().await;
}

#[tokio::test]
async fn bulk_work_never_spends_the_reserve_and_interactive_requests_may() {
    let svc = start(Setup {
        config: "[service]\nbulk_reserve_percent = 30\n\n[[policies]]\nname = \"all\"\n".into(),
        day: 10,
        ..Setup::default()
    })
    .await;
    let tip = svc.token("tip", server::Role::Analyst, None).await;
    let feed: Vec<Value> = hashes("reserve", 10)
        .into_iter()
        .map(|v| json!({"value": v}))
        .collect();
    let (status, answer) = svc
        .post_json(
            "/v1/ingest",
            &tip,
            &json!({"source": "feed", "indicators": feed}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["queued"], 10);
    let id = answer["job"]["id"].clone();
    // 30% of 10 kept: bulk stops at 7.
    svc.wait_job(&id, &tip, |j| j["items"]["done"] == 7).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, job) = svc.get(&format!("/v1/jobs/{id}"), &tip).await;
    assert_eq!(job["items"]["done"], 7, "{job}");
    assert_eq!(svc.file_lookups(), 7, "counted at the emulator");
    // An interactive lookup spends the reserve.
    let (status, body) = svc
        .get(
            &format!("/v1/observables/{}", hashes("interactive", 1)[0]),
            &tip,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(svc.file_lookups(), 8);
    let (_, quota) = svc.get("/v1/quota", &tip).await;
    assert_eq!(quota["keys"][0]["day"]["used"], 8, "{quota}");
    svc.stop().await;
}

#[tokio::test]
async fn interactive_requests_go_ahead_of_bulk_work_when_the_budget_is_tight() {
    // Two calls per 1.5 s window: the bulk job below takes about 6 s.
    let svc = start(Setup {
        config: "[[policies]]\nname = \"all\"\n".into(),
        minute: 2,
        window: Some(Duration::from_millis(1500)),
        ..Setup::default()
    })
    .await;
    let tip = svc.token("tip", server::Role::Analyst, None).await;
    let feed: Vec<Value> = hashes("tight", 8)
        .into_iter()
        .map(|v| json!({"value": v}))
        .collect();
    let (status, answer) = svc
        .post_json(
            "/v1/ingest",
            &tip,
            &json!({"source": "feed", "indicators": feed}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let bulk = answer["job"]["id"].clone();
    svc.wait_job(&bulk, &tip, |j| j["items"]["done"].as_u64() >= Some(2))
        .await;
    // The window is full of bulk calls; an interactive lookup and an
    // interactive job still go next.
    let (status, job) = svc
        .post_json("/v1/enrich", &tip, &json!(hashes("tight-job", 1)))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, record) = svc
        .get(
            &format!("/v1/observables/{}", hashes("tight-now", 1)[0]),
            &tip,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{record}");
    let interactive = svc.wait_job(&job["id"], &tip, finished).await;
    let (_, bulk_now) = svc.get(&format!("/v1/jobs/{bulk}"), &tip).await;
    let bulk_done = bulk_now["items"]["done"].as_u64().unwrap();
    assert!(
        bulk_done <= 5,
        "interactive work waited behind bulk work: {bulk_now} / {interactive}"
    );
    let bulk_job = svc.wait_job(&bulk, &tip, finished).await;
    assert_eq!(bulk_job["items"]["done"], 8);
    assert!(
        bulk_job["finished_at"].as_str().unwrap() > interactive["finished_at"].as_str().unwrap()
    );
    svc.stop().await;
}

//! The feed URLs over real HTTP on loopback: what they serve after lookups
//! filled the cache, who may read them (reader token, feed secret, a wrong
//! secret refused), their filters, and one observable as STIX.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ioc::IndicatorKind;
use reqwest::StatusCode;
use serde_json::Value;
use vt_emulator::{world_class, Emulator, EmulatorConfig, RunningEmulator, WorldClass};

const EICAR_MD5: &str = "44d88612fea8a8f36de82e1278abb02f";
const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";
const SECRET: &str = "feed-secret-0123456789abcdef";

struct Service {
    base: String,
    _emu: RunningEmulator,
    reader: String,
    analyst: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), server::ServerError>>>,
    _dir: tempfile::TempDir,
}

async fn start() -> Service {
    let emu = Emulator::new(EmulatorConfig::default())
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
            minute: Some(0),
            day: Some(0),
            month: Some(0),
        },
        ..app::Overrides::default()
    };
    let file = app::FileConfig::parse(
        &format!("[feeds]\nname = \"vtcfeed\"\nsecret = \"{SECRET}\"\n"),
        std::path::Path::new("t.toml"),
    )
    .unwrap();
    let settings = app::Settings::from_parts(&overrides, file).unwrap();
    let state = server::AppState::build(&settings).await.unwrap();
    let store = state.store().as_ref();
    let reader = server::create_token(store, "edr", server::Role::Reader)
        .await
        .unwrap();
    let analyst = server::create_token(store, "soar", server::Role::Analyst)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Service {
        base,
        _emu: emu,
        reader,
        analyst,
        http: reqwest::Client::new(),
        stop: Some(stop),
        task: Some(task),
        _dir: dir,
    }
}

impl Service {
    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"));
        (status, body)
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

fn find(kind: IndicatorKind, class: WorldClass, make: impl Fn(u32) -> String) -> String {
    (0..10_000)
        .map(make)
        .find(|v| world_class(kind, v) == class)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_urls_serve_what_lookups_cached_to_a_token_or_the_secret() {
    let svc = start().await;
    let bad_domain = find(IndicatorKind::Domain, WorldClass::Malicious, |i| {
        format!("bad{i}.test")
    });
    let clean_domain = find(IndicatorKind::Domain, WorldClass::Clean, |i| {
        format!("clean{i}.test")
    });
    for indicator in [EICAR_MD5, bad_domain.as_str(), clean_domain.as_str()] {
        let (status, body) = svc
            .get(&format!("/v1/observables/{indicator}"), Some(&svc.analyst))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // A reader token.
    let (status, cb) = svc.get("/feeds/cb.json", Some(&svc.reader)).await;
    assert_eq!(status, StatusCode::OK, "{cb}");
    assert_eq!(cb["feedinfo"]["name"], "vtcfeed");
    let reports = cb["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1, "the malicious binary only: {cb}");
    assert_eq!(reports[0]["id"], format!("vtc-{EICAR_SHA256}"));
    assert_eq!(reports[0]["iocs"]["md5"][0], EICAR_MD5);

    // The secret in the URL, as an EDR server subscribes: the same feed.
    let (status, by_secret) = svc
        .get(&format!("/feeds/cb.json?secret={SECRET}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{by_secret}");
    assert_eq!(by_secret, cb);

    // Neither, or a wrong secret: refused, and the secret is not echoed.
    for path in [
        "/feeds/cb.json".to_owned(),
        "/feeds/stix.json?secret=wrong".to_owned(),
        format!("/feeds/misp.json?secret={}", &SECRET[..SECRET.len() - 1]),
    ] {
        let (status, body) = svc.get(&path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert!(!body.to_string().contains("feed-secret"), "{body}");
    }
    let (status, _) = svc.get("/feeds/cb.json", Some("vtc_not_a_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // STIX and MISP: the bad file and the bad domain, not the clean one.
    let (status, stix) = svc.get("/feeds/stix.json", Some(&svc.reader)).await;
    assert_eq!(status, StatusCode::OK, "{stix}");
    assert_eq!(stix["type"], "bundle");
    let patterns: Vec<&str> = stix["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["pattern"].as_str())
        .collect();
    assert_eq!(patterns.len(), 2, "{patterns:?}");
    assert!(patterns.contains(&format!("[domain-name:value = '{bad_domain}']").as_str()));
    assert!(!stix.to_string().contains(&clean_domain));
    let (status, misp) = svc.get("/feeds/misp.json", Some(&svc.reader)).await;
    assert_eq!(status, StatusCode::OK, "{misp}");
    assert_eq!(misp["Event"]["Object"].as_array().unwrap().len(), 2);

    // Filters in the query, as `vtc feed export` takes them.
    let (_, domains) = svc
        .get("/feeds/stix.json?type=domain", Some(&svc.reader))
        .await;
    let indicators = domains["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == "indicator")
        .count();
    assert_eq!(indicators, 1);
    let (_, none) = svc
        .get("/feeds/cb.json?source=carbonblack", Some(&svc.reader))
        .await;
    assert_eq!(none["reports"].as_array().unwrap().len(), 0);
    let (_, later) = svc
        .get("/feeds/cb.json?since=2999-01-01", Some(&svc.reader))
        .await;
    assert_eq!(later["reports"].as_array().unwrap().len(), 0);
    let (status, body) = svc
        .get("/feeds/cb.json?min_verdict=good", Some(&svc.reader))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("bad or suspect"));
    let (status, _) = svc
        .get("/feeds/cb.json?colour=red", Some(&svc.reader))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_observable_comes_as_a_stix_bundle() {
    let svc = start().await;
    let (status, bundle) = svc
        .get(
            &format!("/v1/observables/{EICAR_MD5}?format=stix"),
            Some(&svc.analyst),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    assert_eq!(bundle["type"], "bundle");
    let objects = bundle["objects"].as_array().unwrap();
    let indicator = objects.iter().find(|o| o["type"] == "indicator").unwrap();
    assert!(
        indicator["pattern"]
            .as_str()
            .unwrap()
            .contains(&format!("file:hashes.'SHA-256' = '{EICAR_SHA256}'")),
        "{indicator}"
    );
    assert_eq!(indicator["indicator_types"][0], "malicious-activity");
    let analysis = objects
        .iter()
        .find(|o| o["type"] == "malware-analysis")
        .unwrap();
    assert_eq!(analysis["result"], "malicious");
    let (status, _) = svc
        .get(
            &format!("/v1/observables/{EICAR_MD5}?format=yaml"),
            Some(&svc.analyst),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, plain) = svc
        .get(&format!("/v1/observables/{EICAR_MD5}"), Some(&svc.analyst))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plain["verdict"], "bad");
    svc.stop().await;
}

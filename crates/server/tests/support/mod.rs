//! The service on loopback against the in-process emulator, shared by the
//! integration tests.

#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::Value;
use vt_emulator::{Emulator, EmulatorConfig, RunningEmulator};

pub const EICAR_SHA256: &str = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f";

/// One token per role, and one nobody configured.
pub struct Tokens {
    pub reader: String,
    pub analyst: String,
    pub admin: String,
}

pub struct Service {
    pub base: String,
    pub emu: RunningEmulator,
    pub tokens: Tokens,
    pub state: server::AppState,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), server::ServerError>>>,
    _dir: tempfile::TempDir,
}

pub async fn start(config: EmulatorConfig) -> Service {
    start_with(config, server::Limits::default()).await
}

/// With other bounds (shorter timeouts for the hostile-client tests).
pub async fn start_with(config: EmulatorConfig, limits: server::Limits) -> Service {
    start_setup(Setup {
        emulator: config,
        limits,
        ..Setup::default()
    })
    .await
}

/// With a config file's settings too (a short client timeout for faults).
pub async fn start_with_file(
    config: EmulatorConfig,
    limits: server::Limits,
    file: app::FileConfig,
) -> Service {
    start_setup(Setup {
        emulator: config,
        limits,
        file,
        ..Setup::default()
    })
    .await
}

/// Everything a test may choose.
pub struct Setup {
    pub emulator: EmulatorConfig,
    pub limits: server::Limits,
    pub file: app::FileConfig,
    /// The service key's budget; unlimited by default.
    pub quota: app::QuotaConfig,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            emulator: EmulatorConfig::default(),
            limits: server::Limits::default(),
            file: app::FileConfig::default(),
            quota: app::QuotaConfig {
                minute: Some(0),
                day: Some(0),
                month: Some(0),
            },
        }
    }
}

pub async fn start_setup(setup: Setup) -> Service {
    let Setup {
        emulator: config,
        limits,
        file,
        quota,
    } = setup;
    let emu = Emulator::new(config)
        .unwrap()
        .spawn(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let overrides = app::Overrides {
        api_key: Some("service-key".into()),
        api_url: Some(emu.api_url()),
        db: Some(dir.path().join("vtc.sqlite").display().to_string()),
        quota,
        ..app::Overrides::default()
    };
    let settings = app::Settings::from_parts(&overrides, file).unwrap();
    let state = server::AppState::build(&settings)
        .await
        .unwrap()
        .with_limits(limits);
    // The documented example policy, so that /v1/decide answers.
    state.set_policy(
        policy::parse(include_str!(
            "../../../../docs/policies/privilege-manager.toml"
        ))
        .unwrap(),
    );
    let store = state.store().as_ref();
    let tokens = Tokens {
        reader: server::create_token(store, "tip", server::Role::Reader)
            .await
            .unwrap(),
        analyst: server::create_token(store, "soar", server::Role::Analyst)
            .await
            .unwrap(),
        admin: server::create_token(store, "ops", server::Role::Admin)
            .await
            .unwrap(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Service {
        base,
        emu,
        tokens,
        state,
        http: reqwest::Client::new(),
        stop: Some(stop),
        task: Some(task),
        _dir: dir,
    }
}

impl Service {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &str) -> (StatusCode, Value) {
        let mut req = self.http.post(self.url(path)).body(body.to_owned());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.unwrap()).await
    }

    /// Any request of the route table's kind; the answer as it came.
    pub async fn send(
        &self,
        verb: server::Verb,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(verb.as_str().as_bytes()).unwrap();
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        req.send().await.unwrap()
    }

    /// Requests the emulator answered on one of its routes.
    pub fn emulator_calls(&self, route: &str) -> u64 {
        self.emu.emulator().stats()["by_route"][route]
            .as_u64()
            .unwrap_or(0)
    }

    pub fn emulator_requests(&self) -> u64 {
        self.emu.emulator().stats()["requests_total"]
            .as_u64()
            .unwrap_or(0)
    }

    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.take().unwrap().await.unwrap().unwrap();
    }
}

/// Status and JSON body; every answer of the service is JSON.
pub async fn answer(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = resp.text().await.unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{status}: content-type {content_type:?}: {text}"
    );
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"));
    (status, body)
}

pub fn assert_error(status: StatusCode, body: &Value, expected: StatusCode) {
    assert_eq!(status, expected, "{body}");
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

/// A sha256 no earlier test asked for.
pub fn new_hash(seed: &str) -> String {
    use std::fmt::Write;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let digest = {
        use sha2::{Digest, Sha256};
        Sha256::digest(format!("{seed}{nanos}").as_bytes())
    };
    digest.iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").unwrap();
        s
    })
}

//! Record and replay: an emulator in record mode passes requests to an
//! upstream (here another emulator) and saves its answers as fixtures; a
//! third emulator with no world replays them with the same answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{domain_of_class, file_hash_of_class, url_of_class};
use serde_json::Value;
use vt_emulator::{Emulator, EmulatorConfig, RecordConfig, WorldClass, WorldMode, EICAR_SHA256};

const KEY: &str = "record-replay-key";

async fn spawn(config: EmulatorConfig) -> vt_emulator::RunningEmulator {
    Emulator::new(config)
        .unwrap()
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn fetch(client: &reqwest::Client, base: &str, path: &str) -> (u16, Vec<u8>) {
    let answer = client
        .get(format!("{base}{path}"))
        .header("x-apikey", KEY)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.bytes().await.unwrap().to_vec())
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_session_replays_offline_with_the_same_answers() {
    let dir = std::env::temp_dir().join(format!(
        "vt-emulator-record-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let upstream = spawn(EmulatorConfig::default()).await;
    let recorder = spawn(EmulatorConfig {
        world: WorldMode::Empty,
        record: Some(RecordConfig {
            upstream: upstream.api_url(),
            dir: dir.clone(),
        }),
        ..EmulatorConfig::default()
    })
    .await;
    let (url, _) = url_of_class(WorldClass::Malicious);
    let paths = [
        format!("/api/v3/files/{EICAR_SHA256}"),
        format!(
            "/api/v3/files/{}",
            file_hash_of_class(WorldClass::Malicious, 32)
        ),
        format!("/api/v3/urls/{}", ioc::url_id(&url)),
        format!(
            "/api/v3/domains/{}",
            domain_of_class(WorldClass::Suspicious)
        ),
        "/api/v3/ip_addresses/185.220.101.4".to_owned(),
    ];
    let download = format!("/api/v3/files/{EICAR_SHA256}/download");
    let client = reqwest::Client::new();
    let mut recorded = Vec::new();
    for path in &paths {
        let (status, body) = fetch(&client, &recorder.base_url(), path).await;
        assert_eq!(status, 200, "{path}");
        // Record mode answers with the upstream's answer, byte for byte.
        let (_, direct) = fetch(&client, &upstream.base_url(), path).await;
        assert_eq!(json(&body), json(&direct), "{path}");
        recorded.push(json(&body));
    }
    let (status, sample) = fetch(&client, &recorder.base_url(), &download).await;
    assert_eq!(status, 200);
    assert_eq!(sample, vt_emulator::EICAR);
    // An upstream error passes through unchanged (and records nothing).
    let unknown = file_hash_of_class(WorldClass::Unknown, 64);
    let (status, body) = fetch(
        &client,
        &recorder.base_url(),
        &format!("/api/v3/files/{unknown}"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(json(&body)["error"]["code"], "NotFoundError");
    recorder.shutdown().await;
    upstream.shutdown().await;

    let saved = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(saved, paths.len());

    // Replay: fixtures only, no world.
    let replay = spawn(EmulatorConfig {
        world: WorldMode::Empty,
        fixtures: Some(dir.clone()),
        ..EmulatorConfig::default()
    })
    .await;
    for (path, original) in paths.iter().zip(&recorded) {
        let (status, body) = fetch(&client, &replay.base_url(), path).await;
        assert_eq!(status, 200, "{path}");
        let replayed = json(&body);
        assert_eq!(replayed["data"]["id"], original["data"]["id"], "{path}");
        assert_eq!(
            replayed["data"]["attributes"], original["data"]["attributes"],
            "{path}"
        );
    }
    let (status, sample) = fetch(&client, &replay.base_url(), &download).await;
    assert_eq!(status, 200);
    assert_eq!(sample, vt_emulator::EICAR);
    let (status, _) = fetch(
        &client,
        &replay.base_url(),
        &format!("/api/v3/files/{unknown}"),
    )
    .await;
    assert_eq!(status, 404);
    replay.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

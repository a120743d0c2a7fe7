//! Fault injection over a real socket: every kind shows up at rate 1.0.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use std::time::Duration;
use vt_emulator::{Emulator, EmulatorConfig, EICAR_SHA256};

#[tokio::test]
async fn fault_rate_one_produces_each_fault_kind_in_turn() {
    let emu = Emulator::new(EmulatorConfig {
        fault_rate: 1.0,
        fault_seed: 42,
        ..EmulatorConfig::default()
    })
    .expect("emulator starts");
    let running = emu
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("binds");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let url = format!("{}/files/{EICAR_SHA256}", running.api_url());
    let mut kinds = Vec::new();
    for _ in 0..8 {
        let sent = client.get(&url).header("x-apikey", "k").send().await;
        let kind = match sent {
            Err(_) => "reset".to_owned(),
            Ok(response) => {
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                match response.bytes().await {
                    Err(_) if status == 200 => "truncated".to_owned(),
                    Err(e) => format!("body error {e}"),
                    Ok(body) => match status {
                        503 => {
                            let json: serde_json::Value =
                                serde_json::from_slice(&body).expect("503 carries JSON");
                            assert_eq!(json["error"]["code"], "TransientError");
                            assert_eq!(content_type, "application/json");
                            "transient".to_owned()
                        }
                        500 => {
                            assert!(content_type.starts_with("text/plain"));
                            "plain500".to_owned()
                        }
                        other => format!("unexpected {other}"),
                    },
                }
            }
        };
        kinds.push(kind);
    }
    assert_eq!(
        kinds,
        [
            "transient",
            "plain500",
            "reset",
            "truncated",
            "transient",
            "plain500",
            "reset",
            "truncated"
        ]
    );
    // The control routes never fail.
    let stats: serde_json::Value = client
        .get(format!("{}/_emulator/stats", running.base_url()))
        .send()
        .await
        .expect("stats answer")
        .json()
        .await
        .expect("stats JSON");
    assert_eq!(stats["requests_total"], 8);
    running.shutdown().await;
}

#[tokio::test]
async fn zero_fault_rate_never_fails() {
    let running = Emulator::new(EmulatorConfig::default())
        .expect("emulator starts")
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("binds");
    let client = reqwest::Client::new();
    for _ in 0..20 {
        let response = client
            .get(format!("{}/files/{EICAR_SHA256}", running.api_url()))
            .header("x-apikey", "k")
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), 200);
        assert!(response.bytes().await.is_ok());
    }
    assert!(running.base_url().starts_with("http://127.0.0.1:"));
    running.shutdown().await;
}

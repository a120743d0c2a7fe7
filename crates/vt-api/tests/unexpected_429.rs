//! A server that keeps answering 429 although the budget had room: the
//! client says so from the first one and gives up after a bounded number
//! of back-off periods instead of retrying in silence.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use std::sync::{Arc, Mutex};
use std::time::Duration;
use vt_api::{ApiKey, Client, QuotaBudget, QuotaEvent, QuotaObserver, MAX_UNEXPECTED_429_STRIKES};
use vt_emulator::{Emulator, EmulatorConfig};

#[derive(Default)]
struct Heard(Mutex<Vec<QuotaEvent>>);

impl QuotaObserver for Heard {
    fn observe(&self, event: QuotaEvent) {
        self.0.lock().unwrap().push(event);
    }
}

#[tokio::test]
async fn a_429_storm_is_reported_at_once_and_ends_in_an_error() {
    // One request a day at the server: every later one is a 429.
    let running = Emulator::new(EmulatorConfig {
        quota_day: Some(1),
        ..EmulatorConfig::default()
    })
    .unwrap()
    .spawn(([127, 0, 0, 1], 0).into())
    .await
    .unwrap();
    let heard = Arc::new(Heard::default());
    let client = Client::builder()
        .api_key_with_budget(ApiKey::new("storm-key").unwrap(), QuotaBudget::UNLIMITED)
        .base_url(running.base_url())
        // A short window stands in for the minute, so the test is quick.
        .quota_window(Duration::from_millis(50))
        .quota_observer(heard.clone())
        .build()
        .unwrap();
    let hash = ioc::Indicator::parse("44d88612fea8a8f36de82e1278abb02f").unwrap();
    client.lookup(&hash).await.expect("the day's one request");
    let err = client.lookup(&hash).await.expect_err("the server refuses");
    assert!(err.is_rate_limited(), "{err}");

    let events = heard.0.lock().unwrap().clone();
    let strikes: Vec<(u32, bool)> = events
        .iter()
        .filter_map(|e| match e {
            QuotaEvent::Unexpected429 { strikes, giving_up } => Some((*strikes, *giving_up)),
            _ => None,
        })
        .collect();
    assert_eq!(
        strikes.first(),
        Some(&(1, false)),
        "told at the first 429: {events:?}"
    );
    assert_eq!(
        strikes.last(),
        Some(&(MAX_UNEXPECTED_429_STRIKES, true)),
        "gave up at the documented strike: {events:?}"
    );
    assert_eq!(
        strikes.len() as u32,
        MAX_UNEXPECTED_429_STRIKES,
        "{events:?}"
    );
    running.shutdown().await;
}

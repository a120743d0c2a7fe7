//! The client against each of the emulator's fault kinds where the answer
//! matters: a 404 cut short is retried (it once read as "not the API" and
//! failed an item for good), a body that is not JSON is retried, and 429s
//! the budget did not predict are waited out and survived.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use std::time::Duration;
use vt_api::{ApiKey, Client, Error, QuotaBudget, RetryPolicy};
use vt_emulator::{Emulator, EmulatorConfig, FaultKind, RunningEmulator};

async fn emulator(kinds: &[FaultKind], rate: f64) -> RunningEmulator {
    Emulator::new(EmulatorConfig {
        fault_rate: rate,
        fault_seed: 3,
        fault_kinds: kinds.to_vec(),
        ..EmulatorConfig::default()
    })
    .unwrap()
    .spawn(([127, 0, 0, 1], 0).into())
    .await
    .unwrap()
}

fn client(emu: &RunningEmulator, attempts: u32) -> Client {
    Client::builder()
        .api_key_with_budget(
            ApiKey::new("fault-kinds-key").unwrap(),
            QuotaBudget::UNLIMITED,
        )
        .base_url(emu.base_url())
        .quota_window(Duration::from_millis(50))
        .retry_policy(RetryPolicy {
            max_attempts: attempts,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        })
        .build()
        .unwrap()
}

/// A hash the synthetic world does not know (a 404).
fn unknown_hash() -> ioc::Indicator {
    (0u64..)
        .map(|i| format!("{:064x}", 0xdead_0000_u64 + i))
        .find(|h| {
            vt_emulator::world_class(ioc::IndicatorKind::File, h)
                == vt_emulator::WorldClass::Unknown
        })
        .map(|h| ioc::Indicator::parse(&h).unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_not_found_answer_cut_short_is_a_retryable_truncated_body() {
    let emu = emulator(&[FaultKind::TruncatedBody], 1.0).await;
    let err = client(&emu, 1)
        .lookup(&unknown_hash())
        .await
        .expect_err("cut");
    assert!(
        matches!(
            err,
            Error::Decode {
                truncated: true,
                ..
            }
        ),
        "a cut 404 is a truncated body, not another server: {err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_retried() {
    let emu = emulator(&[FaultKind::MalformedJson], 1.0).await;
    let hash = ioc::Indicator::parse(vt_emulator::EICAR_SHA256).unwrap();
    let err = client(&emu, 3).lookup(&hash).await.expect_err("garbled");
    assert!(err.is_retryable(), "{err:?}");
    assert_eq!(emu.emulator().stats()["requests_total"], 3);
}

#[tokio::test]
async fn unpredicted_429s_and_cut_404s_at_a_tenth_lose_no_lookup() {
    let kinds = [
        FaultKind::RateLimited,
        FaultKind::TruncatedBody,
        FaultKind::Transient,
        FaultKind::MalformedJson,
    ];
    let clean = emulator(&[], 0.0).await;
    let faulty = emulator(&kinds, 0.1).await;
    let (a, b) = (client(&clean, 5), client(&faulty, 5));
    for i in 0..120u64 {
        let hash = ioc::Indicator::parse(&format!("{:064x}", 0xabc0_0000 + i)).unwrap();
        let want = a.lookup(&hash).await.map(|r| r.id).map_err(|e| e.status());
        let got = b.lookup(&hash).await.map(|r| r.id).map_err(|e| e.status());
        assert!(matches!(want, Ok(_) | Err(Some(404))), "item {i}: {want:?}");
        assert_eq!(got, want, "item {i}");
    }
    assert!(
        faulty.emulator().stats()["by_status"]["429"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
}

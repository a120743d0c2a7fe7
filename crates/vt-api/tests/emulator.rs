//! The client against the emulator on 127.0.0.1: typed lookups, retries,
//! faults, the quota governor and uploads.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use futures_util::StreamExt;
use ioc::{FileHash, Indicator, IndicatorKind};
use serde_json::Value;
use std::time::Duration;
use vt_api::{ApiKey, Client, Error, ErrorCode, QuotaBudget, RetryPolicy};
use vt_emulator::{
    world_class, Emulator, EmulatorConfig, RunningEmulator, WorldClass, EICAR_SHA256,
};

const KEY_A: &str = "aaaaaaaa00000000000000000000000000000000000000000000000000000001";
const KEY_B: &str = "bbbbbbbb00000000000000000000000000000000000000000000000000000002";

/// How the client names a key in quota reports and spend logs.
fn label(key: &str) -> String {
    ApiKey::new(key).expect("key").label()
}

async fn emulator(config: EmulatorConfig) -> RunningEmulator {
    Emulator::new(config)
        .expect("emulator config")
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator listens")
}

/// Fast retries so a test never waits long; no local quota unless a test sets one.
fn quick_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

fn client(emu: &RunningEmulator, budget: QuotaBudget, retry: RetryPolicy) -> Client {
    Client::builder()
        .api_key(ApiKey::new(KEY_A).expect("key"))
        .base_url(emu.base_url())
        .quota_budget(budget)
        .retry_policy(retry)
        .build()
        .expect("client")
}

fn stat(stats: &Value, path: &[&str]) -> u64 {
    path.iter().fold(stats, |v, k| &v[*k]).as_u64().unwrap_or(0)
}

/// Domains the emulator's world knows (it answers 404 for a few percent).
fn known_domains(n: usize) -> Vec<Indicator> {
    (0..)
        .map(|i| format!("host{i}.example.com"))
        .filter(|d| world_class(IndicatorKind::Domain, d) != WorldClass::Unknown)
        .take(n)
        .map(|d| Indicator::parse(&d).expect("domain"))
        .collect()
}

#[tokio::test]
async fn typed_lookups_return_the_wire_objects() {
    let emu = emulator(EmulatorConfig::default()).await;
    let c = client(&emu, QuotaBudget::UNLIMITED, quick_retries(1));

    let eicar = FileHash::parse(EICAR_SHA256).expect("hash");
    let file = c.file(&eicar).await.expect("eicar is known");
    assert_eq!(file.kind, "file");
    assert_eq!(file.id, EICAR_SHA256);
    let attrs = file.attributes.expect("attributes");
    assert_eq!(attrs.size, Some(68));
    assert!(attrs.last_analysis_stats.expect("stats").malicious > 0);

    let Indicator::Domain(domain) = known_domains(1).remove(0) else {
        panic!("a domain");
    };
    assert_eq!(c.domain(&domain).await.expect("domain").id, domain.as_str());

    let ip: std::net::IpAddr = (1..=250)
        .map(|i| format!("198.51.100.{i}"))
        .find(|ip| world_class(IndicatorKind::Ip, ip) != WorldClass::Unknown)
        .expect("a known ip")
        .parse()
        .expect("ip");
    assert_eq!(c.ip_address(ip).await.expect("ip").id, ip.to_string());

    let generic = c
        .lookup(&Indicator::File(eicar.clone()))
        .await
        .expect("lookup");
    assert_eq!(generic.id, EICAR_SHA256);
    assert_eq!(
        generic.file().and_then(|f| f.md5.as_deref()),
        Some(vt_emulator::EICAR_MD5)
    );
    assert!(generic.json().contains("\"last_analysis_results\""));

    let raw = c
        .get_json(&format!("/files/{EICAR_SHA256}"), &[])
        .await
        .expect("raw json");
    assert_eq!(raw["data"]["id"], EICAR_SHA256);
    emu.shutdown().await;
}

#[tokio::test]
async fn submitted_url_gets_an_analysis_and_a_report() {
    let emu = emulator(EmulatorConfig::default()).await;
    let c = client(&emu, QuotaBudget::UNLIMITED, quick_retries(1));
    let url = ioc::Url::parse("http://submitted.example.com/landing").expect("url");
    let descriptor = c.submit_url(&url).await.expect("submitted");
    assert_eq!(descriptor.kind, "analysis");
    let analysis = c.analysis(&descriptor.id).await.expect("analysis");
    assert_eq!(analysis.data.id, descriptor.id.as_str());
    let report = c.url(&url).await.expect("the url is known once submitted");
    assert_eq!(report.id, url.sha256());
    let rescan = c.rescan_url(&url).await.expect("rescan");
    assert!(
        rescan
            .id
            .as_str()
            .starts_with(&format!("u-{}-", url.sha256())),
        "{}",
        rescan.id
    );
    let eicar = FileHash::parse(EICAR_SHA256).expect("hash");
    assert_eq!(
        c.rescan_file(&eicar).await.expect("rescan").kind,
        "analysis"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn not_found_is_typed_and_not_retried() {
    let emu = emulator(EmulatorConfig::default()).await;
    let c = client(&emu, QuotaBudget::UNLIMITED, quick_retries(5));
    let unknown = (0u32..)
        .map(|i| format!("{i:064x}"))
        .find(|h| world_class(IndicatorKind::File, h) == WorldClass::Unknown)
        .and_then(|h| FileHash::parse(&h))
        .expect("an unknown hash");
    let err = c.file(&unknown).await.expect_err("unknown file");
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.status(), Some(404));
    assert!(!err.is_retryable());
    let stats = emu.emulator().stats();
    assert_eq!(stat(&stats, &["requests_total"]), 1, "{stats}");
    assert_eq!(c.metrics().retries, 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_429_backs_the_key_off_and_the_request_goes_out_on_another_key() {
    // The server allows one request a minute per key; the client believes
    // both keys are unlimited, so its second request draws a 429.
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(1),
        ..EmulatorConfig::default()
    })
    .await;
    let c = Client::builder()
        .api_key(ApiKey::new(KEY_A).expect("key"))
        .api_key(ApiKey::new(KEY_B).expect("key"))
        .quota_budget(QuotaBudget::UNLIMITED)
        .retry_policy(quick_retries(5))
        .base_url(emu.base_url())
        .build()
        .expect("client");
    let eicar = Indicator::parse(EICAR_SHA256).expect("hash");
    c.lookup(&eicar).await.expect("first lookup");
    c.lookup(&eicar)
        .await
        .expect("second lookup succeeds after a 429");

    let stats = emu.emulator().stats();
    assert_eq!(stat(&stats, &["by_status", "429"]), 1, "{stats}");
    assert_eq!(stat(&stats, &["by_status", "200"]), 2, "{stats}");
    let m = c.metrics();
    assert_eq!((m.responses_429, m.retries, m.requests_sent), (1, 1, 3));
    // The key that drew the 429 is held back for a minute window.
    let status = c.quota_status();
    let held = status
        .iter()
        .find(|s| s.key == label(KEY_A))
        .expect("key a");
    let now = time::OffsetDateTime::now_utc();
    assert!(held.next_free_slot.expect("slot") > now + Duration::from_secs(30));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_429_on_a_lone_key_is_retried_once_the_server_frees_it() {
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(1),
        ..EmulatorConfig::default()
    })
    .await;
    // A one-second window stands in for the minute so the back-off is short.
    let c = Client::builder()
        .api_key(ApiKey::new(KEY_A).expect("key"))
        .quota_budget(QuotaBudget::UNLIMITED)
        .quota_window(Duration::from_secs(1))
        .retry_policy(quick_retries(5))
        .base_url(emu.base_url())
        .build()
        .expect("client");
    let eicar = Indicator::parse(EICAR_SHA256).expect("hash");
    c.lookup(&eicar).await.expect("first lookup");
    let second = tokio::spawn({
        let c = c.clone();
        async move { c.lookup(&eicar).await }
    });
    // Once the server has said 429, free its quota as a minute passing would.
    for _ in 0..500 {
        if stat(&emu.emulator().stats(), &["by_status", "429"]) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    emu.emulator().reset();
    let object = second.await.expect("task").expect("retried after the 429");
    assert_eq!(object.id, EICAR_SHA256);
    let m = c.metrics();
    assert!(m.responses_429 >= 1 && m.retries >= 1, "{m:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn every_injected_fault_is_a_retryable_error_never_a_panic() {
    // fault_rate 1: the faults come in their cycle: 503 JSON, 500 plain,
    // connection reset, truncated body.
    let emu = emulator(EmulatorConfig {
        fault_rate: 1.0,
        fault_seed: 1,
        ..EmulatorConfig::default()
    })
    .await;
    let c = client(&emu, QuotaBudget::UNLIMITED, RetryPolicy::never());
    let eicar = FileHash::parse(EICAR_SHA256).expect("hash");
    let mut errors = Vec::new();
    for _ in 0..4 {
        errors.push(c.file(&eicar).await.expect_err("every request faults"));
    }
    assert!(errors.iter().all(Error::is_retryable), "{errors:?}");
    assert_eq!(
        errors[0].error_code(),
        Some(ErrorCode::Transient),
        "{}",
        errors[0]
    );
    assert!(
        matches!(&errors[1], Error::Api { status: 500, code, .. } if code.as_str() == "ServerError"),
        "{}",
        errors[1]
    );
    assert!(
        matches!(
            errors[2],
            Error::Network { .. }
                | Error::Decode {
                    truncated: true,
                    ..
                }
        ),
        "{}",
        errors[2]
    );
    assert!(
        matches!(
            errors[3],
            Error::Decode {
                truncated: true,
                ..
            }
        ),
        "{}",
        errors[3]
    );
    for e in &errors {
        assert!(!e.to_string().contains(KEY_A), "{e}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn lookups_ride_out_a_faulty_server_by_retrying() {
    let emu = emulator(EmulatorConfig {
        fault_rate: 0.3,
        fault_seed: 42,
        ..EmulatorConfig::default()
    })
    .await;
    let c = client(&emu, QuotaBudget::UNLIMITED, quick_retries(8));
    let domains = known_domains(20);
    for d in &domains {
        let object = c.lookup(d).await.expect("retries absorb the faults");
        assert_eq!(object.id, d.to_string());
    }
    let stats = emu.emulator().stats();
    let m = c.metrics();
    assert!(stat(&stats, &["by_status", "503"]) >= 1, "{stats}");
    assert!(m.retries >= 1, "{m:?}");
    assert_eq!(m.requests_sent, 20 + m.retries, "{m:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn governor_never_provokes_429_and_queues_the_fifth_request() {
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(4),
        ..EmulatorConfig::default()
    })
    .await;
    let c = client(&emu, QuotaBudget::PUBLIC, quick_retries(5));
    let domains = known_domains(5);
    for d in &domains[..4] {
        c.lookup(d).await.expect("within the minute budget");
    }
    let fifth = tokio::spawn({
        let c = c.clone();
        let d = domains[4].clone();
        async move { c.lookup(&d).await }
    });
    for _ in 0..2500 {
        if c.metrics().throttled_waits > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(c.metrics().throttled_waits, 1, "the fifth waits for a slot");
    assert!(!fifth.is_finished());
    let stats = emu.emulator().stats();
    assert_eq!(stat(&stats, &["requests_total"]), 4, "{stats}");
    assert_eq!(stat(&stats, &["by_status", "429"]), 0, "{stats}");
    let status = &c.quota_status()[0];
    assert_eq!(status.key, label(KEY_A));
    assert_eq!(status.minute.used, 4);
    assert_eq!(status.minute.allowed, Some(4));
    assert_eq!(status.day.used, 5, "the queued request's slot is booked");
    let now = time::OffsetDateTime::now_utc();
    assert!(status.next_free_slot.expect("slot") > now + Duration::from_secs(50));
    fifth.abort();
    emu.shutdown().await;
}

#[tokio::test]
async fn pooled_keys_add_their_budgets_without_a_429() {
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(4),
        ..EmulatorConfig::default()
    })
    .await;
    let c = Client::builder()
        .api_key(ApiKey::new(KEY_A).expect("key"))
        .api_key(ApiKey::new(KEY_B).expect("key"))
        .quota_budget(QuotaBudget::PUBLIC)
        .retry_policy(quick_retries(5))
        .base_url(emu.base_url())
        .build()
        .expect("client");
    let domains = known_domains(8);
    let results = futures_util::stream::iter(domains.iter().map(|d| c.lookup(d)))
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let stats = emu.emulator().stats();
    assert_eq!(stat(&stats, &["by_status", "200"]), 8, "{stats}");
    assert_eq!(stat(&stats, &["by_status", "429"]), 0, "{stats}");
    assert_eq!(c.metrics().throttled_waits, 0);
    let status = c.quota_status();
    assert!(status.iter().all(|s| s.minute.used == 4), "{status:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn day_budget_spent_fails_fast_without_sending() {
    let emu = emulator(EmulatorConfig::default()).await;
    let budget = QuotaBudget {
        per_minute: 0,
        per_day: 2,
        per_month: 0,
    };
    let c = client(&emu, budget, quick_retries(5));
    let eicar = Indicator::parse(EICAR_SHA256).expect("hash");
    c.lookup(&eicar).await.expect("1");
    c.lookup(&eicar).await.expect("2");
    let err = c.lookup(&eicar).await.expect_err("budget spent");
    assert!(
        matches!(
            err,
            Error::QuotaExhausted {
                window: vt_api::QuotaWindow::Day,
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(stat(&emu.emulator().stats(), &["requests_total"]), 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn unreachable_api_is_a_network_error_naming_the_host() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let c = Client::builder()
        .api_key(ApiKey::new(KEY_A).expect("key"))
        .base_url(format!("http://{addr}"))
        .quota_budget(QuotaBudget::UNLIMITED)
        .retry_policy(quick_retries(2))
        .build()
        .expect("client");
    let err = c
        .lookup(&Indicator::parse(EICAR_SHA256).expect("hash"))
        .await
        .expect_err("nothing listens");
    assert!(matches!(err, Error::Network { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("cannot connect to {addr}")),
        "{message}"
    );
    assert!(!message.contains(KEY_A), "{message}");
    assert!(err.is_retryable());
    assert_eq!(c.metrics().requests_sent, 2, "tried twice");
}

#[tokio::test]
async fn large_file_is_streamed_through_an_upload_url() {
    let emu = emulator(EmulatorConfig::default()).await;
    let c = client(&emu, QuotaBudget::UNLIMITED, quick_retries(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big sample.bin");
    let size: u64 = 40 * 1024 * 1024;
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        let block: Vec<u8> = (0..=255u8).cycle().take(1024 * 1024).collect();
        for _ in 0..40 {
            f.write_all(&block).expect("write");
        }
        f.flush().expect("flush");
    }
    let descriptor = c.upload_file(&path).await.expect("uploaded");
    assert_eq!(descriptor.kind, "analysis");
    let stats = emu.emulator().stats();
    assert_eq!(stat(&stats, &["uploads_total"]), 1, "{stats}");
    assert_eq!(
        stat(&stats, &["by_route", "GET /files/upload_url"]),
        1,
        "{stats}"
    );
    assert_eq!(stat(&stats, &["by_route", "POST /files"]), 0, "{stats}");
    let analysis = c.analysis(&descriptor.id).await.expect("analysis");
    let info = analysis.meta.and_then(|m| m.file_info).expect("file info");
    assert_eq!(info.size, size);
    emu.shutdown().await;
}

#[tokio::test]
async fn small_file_is_posted_directly() {
    let emu = emulator(EmulatorConfig::default()).await;
    let c = client(&emu, QuotaBudget::UNLIMITED, quick_retries(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("eicar.com");
    std::fs::write(&path, vt_emulator::EICAR).expect("write");
    let descriptor = c.upload_file(&path).await.expect("uploaded");
    let analysis = c.analysis(&descriptor.id).await.expect("analysis");
    let info = analysis.meta.and_then(|m| m.file_info).expect("file info");
    assert_eq!(info.sha256, EICAR_SHA256);
    let stats = emu.emulator().stats();
    assert_eq!(stat(&stats, &["by_route", "POST /files"]), 1, "{stats}");
    assert_eq!(
        stat(&stats, &["by_route", "GET /files/upload_url"]),
        0,
        "{stats}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn files_over_650_mb_and_missing_files_fail_before_any_request() {
    let emu = emulator(EmulatorConfig::default()).await;
    let c = client(&emu, QuotaBudget::UNLIMITED, quick_retries(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.bin");
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(vt_api::MAX_UPLOAD_SIZE + 1).expect("sparse file");
    let err = c.upload_file(&path).await.expect_err("too large");
    assert!(matches!(err, Error::FileTooLarge { .. }), "{err}");
    let err = c
        .upload_file(dir.path().join("absent.bin"))
        .await
        .expect_err("missing");
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(stat(&emu.emulator().stats(), &["requests_total"]), 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn waiting_for_an_analysis_polls_until_it_completes() {
    let emu = emulator(EmulatorConfig {
        analysis_delay: Duration::from_millis(300),
        ..EmulatorConfig::default()
    })
    .await;
    let c = client(&emu, QuotaBudget::UNLIMITED, quick_retries(1));
    let url = ioc::Url::parse("http://waited.example.com/").expect("url");
    let descriptor = c.submit_url(&url).await.expect("submitted");

    // No time to wait: one poll, and the report says it is not done.
    let early = c
        .wait_for_analysis(&descriptor.id, Duration::from_millis(20), Duration::ZERO)
        .await
        .expect("first poll");
    let status = early.data.attributes.and_then(|a| a.status);
    assert_ne!(status, Some(vt_model::AnalysisStatus::Completed));

    let done = c
        .wait_for_analysis(
            &descriptor.id,
            Duration::from_millis(20),
            Duration::from_secs(30),
        )
        .await
        .expect("completed");
    let attrs = done.data.attributes.expect("attributes");
    assert_eq!(attrs.status, Some(vt_model::AnalysisStatus::Completed));
    let polls = stat(&emu.emulator().stats(), &["by_route", "GET /analyses/{id}"]);
    assert!(polls >= 3, "polled {polls} times");
    emu.shutdown().await;
}

/// Remembers what the client reports, as a store shared by runs would.
#[derive(Default)]
struct SpendMemory(std::sync::Mutex<Vec<(String, time::OffsetDateTime)>>);

impl vt_api::SpendLog for SpendMemory {
    fn spent(&self, key: &str, at: time::OffsetDateTime) {
        self.0.lock().expect("lock").push((key.to_owned(), at));
    }
}

#[tokio::test]
async fn a_second_process_restoring_the_spend_does_not_provoke_a_429() {
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(4),
        ..EmulatorConfig::default()
    })
    .await;
    let memory = std::sync::Arc::new(SpendMemory::default());
    let first = Client::builder()
        .api_key(ApiKey::new(KEY_A).expect("key"))
        .base_url(emu.base_url())
        .quota_budget(QuotaBudget::PUBLIC)
        .spend_log(memory.clone())
        .build()
        .expect("client");
    let domains = known_domains(5);
    for d in &domains[..4] {
        first.lookup(d).await.expect("within the minute budget");
    }
    let spent = memory.0.lock().expect("lock").clone();
    assert_eq!(spent.len(), 4);
    assert!(spent.iter().all(|(k, _)| *k == label(KEY_A)), "labels only");

    // A new client (a new process) that knows nothing would send at once
    // and get a 429; one restored from the spend waits instead.
    let second = client(&emu, QuotaBudget::PUBLIC, quick_retries(1));
    let ms = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
    let now = time::OffsetDateTime::now_utc();
    second.restore_quota_ledger(&vt_api::QuotaLedger {
        keys: vec![vt_api::KeyLedger {
            key: label(KEY_A),
            minute_slots_ms: spent.iter().map(|(_, at)| ms(*at)).collect(),
            blocked_until_ms: None,
            day_start_ms: ms(now.date().midnight().assume_utc()),
            day_used: 4,
            month_start_ms: ms(now
                .replace_day(1)
                .expect("day")
                .date()
                .midnight()
                .assume_utc()),
            month_used: 4,
        }],
    });
    let fifth = tokio::spawn({
        let d = domains[4].clone();
        let second = second.clone();
        async move { second.lookup(&d).await }
    });
    for _ in 0..2500 {
        if second.metrics().throttled_waits > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(second.metrics().throttled_waits, 1, "the fifth waits");
    assert_eq!(second.quota_status()[0].day.used, 5);
    let stats = emu.emulator().stats();
    assert_eq!(stat(&stats, &["by_status", "429"]), 0, "{stats}");
    fifth.abort();
    emu.shutdown().await;
}

#[tokio::test]
async fn a_refused_connection_is_neither_logged_nor_counted() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let memory = std::sync::Arc::new(SpendMemory::default());
    let c = Client::builder()
        .api_key(ApiKey::new(KEY_A).expect("key"))
        .base_url(format!("http://127.0.0.1:{port}"))
        .quota_budget(QuotaBudget::PUBLIC)
        .retry_policy(quick_retries(6))
        .spend_log(memory.clone())
        .build()
        .expect("client");
    let err = c
        .lookup(&Indicator::parse("example.com").expect("domain"))
        .await
        .expect_err("nothing listens");
    assert!(err.is_connect_error(), "{err}");
    assert!(memory.0.lock().expect("lock").is_empty());
    // Six refused attempts with a 4/minute budget: none waited for a slot.
    assert_eq!(c.metrics().throttled_waits, 0);
    assert_eq!(c.quota_status()[0].day.used, 0);
}

#[tokio::test]
async fn loopback_is_reached_directly_even_with_a_proxy_configured() {
    let emu = emulator(EmulatorConfig::default()).await;
    // A proxy nobody listens on: any request through it would fail.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let c = Client::builder()
        .api_key(ApiKey::new(KEY_A).expect("key"))
        .base_url(emu.base_url())
        .proxy(format!("http://127.0.0.1:{port}"))
        .quota_budget(QuotaBudget::UNLIMITED)
        .retry_policy(quick_retries(1))
        .build()
        .expect("client");
    c.lookup(&Indicator::parse("8.8.8.8").expect("ip"))
        .await
        .expect("reached the emulator without the proxy");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_users_routes_go_with_that_users_key_even_when_another_key_is_free() {
    let emu = emulator(EmulatorConfig::default()).await;
    let budget = QuotaBudget {
        per_minute: 1,
        per_day: 0,
        per_month: 0,
    };
    let c = Client::builder()
        .api_key_with_budget(ApiKey::new(KEY_A).expect("key"), budget)
        .api_key_with_budget(ApiKey::new(KEY_B).expect("key"), budget)
        .base_url(emu.base_url())
        .retry_policy(quick_retries(1))
        // A short "minute", so the pinned request's wait is short.
        .quota_window(Duration::from_millis(200))
        .build()
        .expect("client");
    let user_a = vt_api::UserId::of_key(&ApiKey::new(KEY_A).expect("key"));
    // The second and third calls find key A's minute spent and key B free:
    // they must wait for A, whose user they name.
    for _ in 0..3 {
        c.overall_quotas(&user_a).await.expect("A's own quotas");
    }
    let today = time::OffsetDateTime::now_utc().date();
    c.api_usage(&user_a, today, today)
        .await
        .expect("A's own usage");
    let stats = emu.emulator().stats();
    assert_eq!(stat(&stats, &["by_status", "404"]), 0, "{stats}");
    let fingerprint_a = vt_emulator::key_fingerprint(KEY_A);
    assert_eq!(
        stat(&stats, &["quota", &fingerprint_a, "day"]),
        4,
        "{stats}"
    );
}

#[tokio::test]
async fn a_learning_key_takes_its_budget_from_the_apis_allowances_once() {
    let emu = emulator(EmulatorConfig {
        quota_minute: Some(3),
        quota_day: Some(50),
        ..EmulatorConfig::default()
    })
    .await;
    let c = Client::builder()
        .api_key_learning_budget(
            ApiKey::new(KEY_A).expect("key"),
            QuotaBudget::UNLIMITED,
            vt_api::LearnBudget::ALL,
        )
        .base_url(emu.base_url())
        .retry_policy(quick_retries(1))
        .build()
        .expect("client");
    assert!(
        c.quota_status()[0].minute.allowed.is_none(),
        "unlimited until learnt"
    );
    let domains = known_domains(2);
    for d in &domains {
        c.lookup(d).await.expect("lookup");
    }
    let status = &c.quota_status()[0];
    assert_eq!(status.minute.allowed, Some(3));
    assert_eq!(status.day.allowed, Some(50));
    assert_eq!(
        status.month.allowed, None,
        "the emulator has no monthly cap"
    );
    // One quota call, then the lookups: 3 in the minute, so the next
    // request would have to wait rather than provoke a 429.
    assert_eq!(status.minute.used, 3);
    let stats = emu.emulator().stats();
    assert_eq!(
        stat(&stats, &["by_route", "GET /users/{id}/overall_quotas"]),
        1,
        "{stats}"
    );
    assert_eq!(stat(&stats, &["by_status", "429"]), 0, "{stats}");
}

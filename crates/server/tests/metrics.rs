//! `GET /metrics`: no token; requests by route and status, latency, cache
//! hits and misses, VirusTotal answers by status, each key's budget by
//! label (never the key), coalesced lookups, the jobs gauges — and the text
//! parses with Prometheus' own parser (prometheus-client from PyPI).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::StatusCode;
use support::{new_hash, start_setup, Service, Setup, EICAR_SHA256};
use vt_emulator::EmulatorConfig;

async fn metrics_text(svc: &Service) -> String {
    let resp = svc.http.get(svc.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    resp.text().await.unwrap()
}

/// The value of the sample named exactly `sample` (name and labels).
fn value(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
}

async fn exercised() -> Service {
    let svc = start_setup(Setup {
        emulator: EmulatorConfig {
            latency: std::time::Duration::from_millis(300),
            ..EmulatorConfig::default()
        },
        quota: app::QuotaConfig {
            minute: Some(1000),
            day: Some(5000),
            month: Some(0),
        },
        ..Setup::default()
    })
    .await;
    let analyst = Some(svc.tokens.analyst.as_str());
    let eicar = format!("/v1/observables/{EICAR_SHA256}");
    assert_eq!(svc.get(&eicar, analyst).await.0, StatusCode::OK);
    assert_eq!(svc.get(&eicar, analyst).await.0, StatusCode::OK);
    assert_eq!(svc.get(&eicar, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        svc.get("/no/such/route/1", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        svc.get("/no/such/route/2", None).await.0,
        StatusCode::NOT_FOUND
    );
    // Five at once for one new hash: one call, four coalesced.
    let fresh = format!("/v1/observables/{}", new_hash("metrics"));
    let answers = futures_util::future::join_all((0..5).map(|_| svc.get(&fresh, analyst))).await;
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK));
    svc.state.metrics().jobs_queued().set(3);
    svc.state.metrics().jobs_running().add(2);
    svc
}

#[tokio::test]
async fn metrics_count_routes_cache_virustotal_quota_and_coalescing() {
    let svc = exercised().await;
    let text = metrics_text(&svc).await;
    let route = "route=\"GET /v1/observables/{indicator}\"";
    assert_eq!(
        value(
            &text,
            &format!("vtc_http_requests_total{{{route},status=\"200\"}}")
        ),
        Some(7.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!("vtc_http_requests_total{{{route},status=\"401\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "vtc_http_requests_total{route=\"unmatched\",status=\"404\"}"
        ),
        Some(2.0),
        "scanned paths are one label: {text}"
    );
    assert!(!text.contains("/no/such/route"), "{text}");
    assert_eq!(
        value(
            &text,
            &format!("vtc_http_request_duration_seconds_count{{{route}}}")
        ),
        Some(8.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!("vtc_http_request_duration_seconds_bucket{{{route},le=\"+Inf\"}}")
        ),
        Some(8.0),
        "{text}"
    );
    // EICAR: a miss then a hit; the new hash: five misses, one call.
    assert_eq!(value(&text, "vtc_cache_hits_total"), Some(1.0), "{text}");
    assert_eq!(value(&text, "vtc_cache_misses_total"), Some(6.0), "{text}");
    assert_eq!(
        value(&text, "vtc_coalesced_requests_total"),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "vtc_virustotal_requests_total{status=\"200\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "vtc_virustotal_429_total"),
        Some(0.0),
        "{text}"
    );
    let key_line = text
        .lines()
        .find(|l| l.starts_with("vtc_virustotal_quota_remaining{") && l.contains("window=\"day\""))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(key_line.contains("key=\"key-"), "{key_line}");
    assert!(key_line.ends_with(" 4998"), "{key_line}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("vtc_virustotal_quota_remaining{") && l.contains("month")),
        "an unlimited window has no remaining: {text}"
    );
    assert!(!text.contains("service-key"), "never the key");
    assert_eq!(value(&text, "vtc_jobs_queued"), Some(3.0), "{text}");
    assert_eq!(value(&text, "vtc_jobs_running"), Some(2.0), "{text}");
    svc.stop().await;
}

#[tokio::test]
#[cfg_attr(
    missing_prometheus_client,
    ignore = "prometheus-client is not installed (pip install prometheus-client)"
)]
async fn the_exposition_parses_with_prometheus_own_parser() {
    let svc = exercised().await;
    let text = metrics_text(&svc).await;
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys\n\
             from prometheus_client.parser import text_string_to_metric_families\n\
             families = list(text_string_to_metric_families(sys.stdin.read()))\n\
             for f in families:\n\
             \x20   print(f.name, f.type, len(f.samples))\n",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            Ok(child)
        })
        .unwrap()
        .wait_with_output()
        .unwrap();
    let parsed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    for family in [
        "vtc_http_requests counter",
        "vtc_http_request_duration_seconds histogram",
        "vtc_cache_hits counter",
        "vtc_virustotal_requests counter",
        "vtc_virustotal_quota_remaining gauge",
        "vtc_coalesced_requests counter",
        "vtc_jobs_queued gauge",
        "vtc_jobs_running gauge",
    ] {
        assert!(parsed.contains(family), "{family} missing from {parsed}");
    }
    svc.stop().await;
}

//! Hostile HTTP: bodies over the limit, malformed JSON, huge headers,
//! slowloris clients (headers or body a byte at a time); none is a 5xx and
//! other clients are served meanwhile. Every answer carries a CSP; answers
//! are gzip-compressed when asked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::StatusCode;
use std::time::{Duration, Instant};
use support::{answer, assert_error, start, start_with, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vt_emulator::EmulatorConfig;

/// Short timeouts, so the slow clients are cut off within the test.
fn short_limits() -> server::Limits {
    server::Limits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        ..server::Limits::default()
    }
}

fn addr(svc: &Service) -> String {
    svc.base.trim_start_matches("http://").to_owned()
}

/// Everything the server sends until it closes the connection (bounded).
async fn read_all(stream: &mut TcpStream, within: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(within, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_json_413_declared_or_not() {
    let svc = start(EmulatorConfig::default()).await;
    let analyst = Some(svc.tokens.analyst.as_str());
    let big = format!(
        r#"{{"hash": "{}"}}"#,
        "a".repeat(server::MAX_BODY_BYTES + 10)
    );
    let (status, body) = svc.post("/v1/actions/file_report", analyst, &big).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE);
    // Chunked, so no Content-Length says so in advance.
    let chunks = futures_util::stream::iter(
        (0..20).map(|_| Ok::<_, std::io::Error>(vec![b' '; 100 * 1024])),
    );
    let resp = svc
        .http
        .post(svc.url("/v1/actions/file_report"))
        .bearer_auth(&svc.tokens.analyst)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(resp).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE);
    svc.stop().await;
}

#[tokio::test]
async fn malformed_json_is_a_400_that_says_where() {
    let svc = start(EmulatorConfig::default()).await;
    let analyst = Some(svc.tokens.analyst.as_str());
    for bad in [r#"{"hash": "#, "{'hash': 1}", "\n", "[1, 2", "\u{0}"] {
        let (status, body) = svc.post("/v1/actions/file_report", analyst, bad).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST);
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("not JSON") && message.contains("line"),
            "{bad:?}: {message}"
        );
    }
    svc.stop().await;
}

#[tokio::test]
async fn huge_headers_are_refused_with_431_and_the_service_goes_on() {
    let svc = start(EmulatorConfig::default()).await;
    for request in [
        // One header of 100 KiB.
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(100 * 1024)
        ),
        // A thousand small ones.
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
            (0..1000)
                .map(|i| format!("X-H{i}: v\r\n"))
                .collect::<String>()
        ),
    ] {
        let mut stream = TcpStream::connect(addr(&svc)).await.unwrap();
        // The server may close before it has read everything.
        let _ = stream.write_all(request.as_bytes()).await;
        let reply = read_all(&mut stream, Duration::from_secs(5)).await;
        let status_line = reply.lines().next().unwrap_or_default();
        assert!(
            status_line.contains(" 431 ") || status_line.contains(" 400 "),
            "{status_line:?} for {} bytes of request",
            request.len()
        );
    }
    let (status, _) = svc.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    svc.stop().await;
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_while_others_are_served() {
    let svc = start_with(EmulatorConfig::default(), short_limits()).await;
    // Headers a byte every 100 ms: never complete within the 1 s limit.
    let slow_headers = {
        let addr = addr(&svc);
        tokio::spawn(async move {
            let started = Instant::now();
            let mut stream = TcpStream::connect(addr).await.unwrap();
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
                .iter()
                .chain([b'a'; 200].iter())
            {
                if stream.write_all(&[*byte]).await.is_err() {
                    return started.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut probe = [0u8; 1];
                if let Ok(Ok(0)) =
                    tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
                {
                    return started.elapsed();
                }
            }
            panic!("still connected after 20 s of trickled headers");
        })
    };
    // A body a byte every 100 ms: a JSON 408 after the 1 s body limit.
    let slow_body = {
        let addr = addr(&svc);
        let token = svc.tokens.analyst.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let head = format!(
                "POST /v1/actions/file_report HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            for _ in 0..200 {
                if stream.write_all(b" ").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut probe = [0u8; 1];
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_millis(1), stream.peek(&mut probe)).await
                {
                    if n > 0 {
                        break;
                    }
                }
            }
            (
                started.elapsed(),
                read_all(&mut stream, Duration::from_secs(5)).await,
            )
        })
    };
    // Meanwhile, others are served at once.
    for _ in 0..10 {
        let started = Instant::now();
        let (status, _) = svc.get("/healthz", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(started.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cut_after = slow_headers.await.unwrap();
    assert!(
        cut_after < Duration::from_secs(5),
        "headers cut after {cut_after:?}"
    );
    let (cut_after, reply) = slow_body.await.unwrap();
    assert!(
        cut_after < Duration::from_secs(5),
        "body cut after {cut_after:?}"
    );
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains(r#""code":"BodyTimeout""#), "{reply}");
    svc.stop().await;
}

#[tokio::test]
async fn every_answer_has_a_content_security_policy_and_nosniff() {
    let svc = start(EmulatorConfig::default()).await;
    let mut paths: Vec<(server::Verb, String, Option<String>)> = server::operations()
        .into_iter()
        .map(|op| (op.verb, op.example_path, op.example_body))
        .collect();
    paths.push((server::Verb::Get, "/nowhere".into(), None));
    paths.push((server::Verb::Delete, "/healthz".into(), None));
    for (verb, path, body) in &paths {
        for token in [None, Some(svc.tokens.admin.as_str())] {
            let resp = svc.send(*verb, path, token, body.as_deref()).await;
            let csp = resp
                .headers()
                .get("content-security-policy")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_else(|| panic!("{path}: no CSP"));
            assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert_eq!(
                resp.headers()["x-content-type-options"],
                "nosniff",
                "{path}"
            );
            assert!(
                !resp.status().is_server_error(),
                "{path}: {}",
                resp.status()
            );
        }
    }
    // Pages under /reports/ get a policy a page can live with (no script).
    let resp = svc
        .send(server::Verb::Get, "/reports/anything", None, None)
        .await;
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("style-src") && !csp.contains("script-src 'self'"),
        "{csp}"
    );
    svc.stop().await;
}

#[tokio::test]
async fn answers_are_gzip_compressed_when_the_client_asks() {
    use std::io::Read;
    let svc = start(EmulatorConfig::default()).await;
    let plain = svc.http.get(svc.url("/openapi.json")).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    let resp = svc
        .http
        .get(svc.url("/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let compressed = resp.bytes().await.unwrap();
    assert!(
        compressed.len() * 3 < plain.len(),
        "{} vs {}",
        compressed.len(),
        plain.len()
    );
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut inflated)
        .unwrap();
    assert_eq!(inflated, plain);
    // A small record is not worth it; a full one is.
    let path = format!("/v1/observables/{}", support::EICAR_SHA256);
    let resp = svc
        .http
        .get(svc.url(&path))
        .bearer_auth(&svc.tokens.analyst)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("content-encoding").is_none());
    let resp = svc
        .http
        .get(svc.url(&format!("{path}?full=true")))
        .bearer_auth(&svc.tokens.analyst)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    svc.stop().await;
}

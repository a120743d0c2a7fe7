//! Every operation of the route table (`server::operations()`, so a new
//! route is covered the moment it is added) × {no token, a wrong token, a
//! revoked token, a malformed header, a role too low, the right role}:
//! 401 / 401 / 401 / 401 / 403 / neither, every refusal a JSON error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::StatusCode;
use server::{Access, Role};
use support::{answer, assert_error, start};
use vt_emulator::EmulatorConfig;

const WRONG: &str = "vtc_0000000000000000000000000000000000000000000000000000000000000000";

#[tokio::test]
async fn every_route_refuses_no_wrong_revoked_and_low_tokens_and_admits_the_right_role() {
    let svc = start(EmulatorConfig::default()).await;
    let store = svc.state.store().as_ref();
    let revoked = server::create_token(store, "gone", Role::Admin)
        .await
        .unwrap();
    // Used once (remembered), then revoked: refused from the next request.
    let (status, _) = svc.get("/v1/quota", Some(&revoked)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(svc.state.tokens().revoke("gone").await.unwrap());

    let agent = server::create_token(store, "edr", Role::Agent)
        .await
        .unwrap();
    let token_of = |role: Role| match role {
        Role::Agent => agent.clone(),
        Role::Reader => svc.tokens.reader.clone(),
        Role::Analyst => svc.tokens.analyst.clone(),
        Role::Admin => svc.tokens.admin.clone(),
    };
    // A token that may not: the agent decides only; a reader may not decide.
    let below = |role: Role| match role {
        Role::Agent => Some(Role::Reader),
        Role::Reader => Some(Role::Agent),
        Role::Analyst => Some(Role::Reader),
        Role::Admin => Some(Role::Analyst),
    };
    let operations = server::operations();
    assert!(operations.len() >= server::ROUTES.len());
    let mut refusals = 0;
    for op in &operations {
        let what = format!("{} {}", op.verb.as_str(), op.example_path);
        let body = op.example_body.as_deref();
        let call = |token: Option<String>| {
            let svc = &svc;
            let path = op.example_path.clone();
            async move { svc.send(op.verb, &path, token.as_deref(), body).await }
        };
        let Some(role) = op.access.role() else {
            let resp = call(None).await;
            let status = resp.status();
            assert!(
                status.is_success(),
                "{what} is public: {status} {:?}",
                resp.text().await
            );
            continue;
        };
        for (case, token) in [
            ("no token", None),
            ("a wrong token", Some(WRONG.to_owned())),
            ("a revoked token", Some(revoked.clone())),
        ] {
            let (status, body) = answer(call(token).await).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{what} with {case}: {body}"
            );
            assert_error(status, &body, StatusCode::UNAUTHORIZED);
            refusals += 1;
        }
        if let Access::RoleOrQueryToken(role) = op.access {
            // The same token cases in the query.
            for (case, token) in [
                ("a wrong", WRONG.to_owned()),
                ("a revoked", revoked.clone()),
            ] {
                let path = format!("{}?token={token}", op.example_path);
                let (status, body) = answer(svc.send(op.verb, &path, None, None).await).await;
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{what} with {case} query token: {body}"
                );
                refusals += 1;
            }
            if let Some(low) = below(role) {
                let path = format!("{}?token={}", op.example_path, token_of(low));
                let (status, body) = answer(svc.send(op.verb, &path, None, None).await).await;
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{what} with a {low} query token: {body}"
                );
                refusals += 1;
            }
            let path = format!("{}?token={}", op.example_path, token_of(role));
            let resp = svc.send(op.verb, &path, None, None).await;
            assert!(
                resp.status().is_success(),
                "{what} with a {role} query token: {}",
                resp.status()
            );
        }
        if let Access::RoleOrFeedSecret(_) = op.access {
            // No secret is configured here, so any is wrong.
            let path = format!("{}?secret=guess", op.example_path);
            let (status, body) = answer(svc.send(op.verb, &path, None, None).await).await;
            assert_error(status, &body, StatusCode::UNAUTHORIZED);
            refusals += 1;
        }
        let method = reqwest::Method::from_bytes(op.verb.as_str().as_bytes()).unwrap();
        let malformed = svc
            .http
            .request(method, svc.url(&op.example_path))
            .header("authorization", format!("Basic {}", svc.tokens.admin))
            .send()
            .await
            .unwrap();
        let (status, body) = answer(malformed).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED);
        if let Some(low) = below(role) {
            let (status, body) = answer(call(Some(token_of(low))).await).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{what} with a {low} token: {body}"
            );
            assert_error(status, &body, StatusCode::FORBIDDEN);
            refusals += 1;
        }
        let resp = call(Some(token_of(role))).await;
        let status = resp.status();
        let body = resp.text().await.unwrap();
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{what} with a {role} token: {status} {body}"
        );
        assert!(
            !status.is_server_error(),
            "{what} with a {role} token: {status} {body}"
        );
    }
    println!(
        "auth matrix: {} operations of {} routes, {refusals} refusals checked",
        operations.len(),
        server::ROUTES.len()
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_token_revoked_by_another_process_is_refused_within_the_recheck() {
    let svc = start(EmulatorConfig::default()).await;
    let (status, _) = svc.get("/v1/quota", Some(&svc.tokens.reader)).await;
    assert_eq!(status, StatusCode::OK);
    // As `vtc token revoke` does it: in the store, behind the service's back.
    assert!(svc.state.store().revoke_token("tip").await.unwrap());
    let revoked_at = std::time::Instant::now();
    loop {
        let (status, body) = svc.get("/v1/quota", Some(&svc.tokens.reader)).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_error(status, &body, StatusCode::UNAUTHORIZED);
            break;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            revoked_at.elapsed() < server::TOKEN_RECHECK * 2,
            "still admitted {:?} after the revocation",
            revoked_at.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    svc.stop().await;
}

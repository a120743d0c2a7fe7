//! The API-coverage calls against the emulator: downloads, relationships,
//! search, comments, votes, the widget, private scanning and user quotas.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails loudly

use futures_util::{StreamExt, TryStreamExt};
use ioc::{FileHash, Indicator, Sha256};
use std::time::Duration;
use vt_api::{
    ApiKey, Client, Error, ErrorCode, PrivateScanOptions, QuotaBudget, RetryPolicy, UserId,
    VoteVerdict,
};
use vt_emulator::{Emulator, EmulatorConfig, RunningEmulator, EICAR, EICAR_SHA256};
use vt_model::Object;

const PREMIUM: &str = "eeeeeeee00000000000000000000000000000000000000000000000000000005";
const PUBLIC: &str = "ffffffff00000000000000000000000000000000000000000000000000000006";

async fn emulator() -> RunningEmulator {
    Emulator::new(EmulatorConfig {
        premium_keys: vec![PREMIUM.into()],
        public_keys: vec![PUBLIC.into()],
        ..EmulatorConfig::default()
    })
    .expect("emulator config")
    .spawn("127.0.0.1:0".parse().expect("addr"))
    .await
    .expect("emulator listens")
}

fn client(emu: &RunningEmulator, key: &str) -> Client {
    Client::builder()
        .api_key(ApiKey::new(key).expect("key"))
        .base_url(emu.api_url())
        .quota_budget(QuotaBudget::UNLIMITED)
        .retry_policy(RetryPolicy {
            max_attempts: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
        })
        .build()
        .expect("client")
}

fn eicar() -> FileHash {
    FileHash::parse(EICAR_SHA256).expect("hash")
}

#[tokio::test]
async fn download_streams_the_sample_into_a_writer() {
    let emu = emulator().await;
    let c = client(&emu, PREMIUM);
    let mut out = Vec::new();
    let written = c.download(&eicar(), &mut out).await.expect("download");
    assert_eq!(written, EICAR.len() as u64);
    assert_eq!(out, EICAR);
    let signed = c.download_url(&eicar()).await.expect("signed url");
    assert!(signed.starts_with("http://127.0.0.1:"), "{signed}");

    let public = client(&emu, PUBLIC);
    let err = public
        .download(&eicar(), &mut Vec::new())
        .await
        .expect_err("public keys may not download");
    assert_eq!(err.error_code(), Some(ErrorCode::Forbidden), "{err}");
    emu.shutdown().await;
}

#[tokio::test]
async fn relationships_page_through_objects_and_descriptors_alike() {
    let emu = emulator().await;
    let c = client(&emu, PREMIUM);
    let file = Indicator::File(eicar());
    let objects: Vec<Object> = c
        .relationship(&file, "contacted_domains", 2)
        .try_collect()
        .await
        .expect("related objects");
    let descriptors: Vec<vt_api::Descriptor> = c
        .relationship_descriptors(&file, "contacted_domains", 40)
        .try_collect()
        .await
        .expect("descriptors");
    assert!(
        objects.len() >= 3,
        "a malicious file has 5 or more: {}",
        objects.len()
    );
    assert_eq!(
        objects.iter().map(|o| o.id.clone()).collect::<Vec<_>>(),
        descriptors.iter().map(|d| d.id.clone()).collect::<Vec<_>>()
    );
    assert!(objects.iter().all(|o| o.kind == "domain"));
    let stats = emu.emulator().stats();
    let pages = stats["by_route"]["GET /files/{id}/{relationship}"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(pages as usize, objects.len().div_ceil(2), "{stats}");
    emu.shutdown().await;
}

#[tokio::test]
async fn search_finds_the_indicator_and_intelligence_search_pages() {
    let emu = emulator().await;
    let c = client(&emu, PREMIUM);
    let found: Vec<Object> = c
        .search(EICAR_SHA256, 10)
        .try_collect()
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, EICAR_SHA256);

    let hits: Vec<Object> = c
        .intelligence_search("positives:1+", None, true, 5)
        .take(12)
        .try_collect()
        .await
        .expect("intelligence search");
    assert!(hits.len() > 5, "more than one page: {}", hits.len());
    assert!(
        hits.iter().all(|o| o.attributes.is_none()),
        "descriptors only"
    );

    let public = client(&emu, PUBLIC);
    let denied: Result<Vec<Object>, Error> = public
        .intelligence_search("positives:1+", None, false, 5)
        .try_collect()
        .await;
    assert_eq!(
        denied.expect_err("premium only").error_code(),
        Some(ErrorCode::Forbidden)
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn comments_and_votes_are_added_and_listed() {
    let emu = emulator().await;
    let c = client(&emu, PREMIUM);
    let domain = Indicator::parse("commented.example.com").expect("domain");
    let added = c
        .add_comment(&domain, "seen in a #phishing kit")
        .await
        .expect("comment");
    assert_eq!(added.kind, "comment");
    let comments: Vec<Object> = c.comments(&domain, 10).try_collect().await.expect("list");
    assert!(comments.iter().any(|o| o.id == added.id), "{comments:?}");

    let vote = c
        .add_vote(&domain, VoteVerdict::Malicious)
        .await
        .expect("vote");
    assert_eq!(vote.kind, "vote");
    let again = c
        .add_vote(&domain, VoteVerdict::Malicious)
        .await
        .expect_err("one vote per user");
    assert_eq!(
        again.error_code(),
        Some(ErrorCode::AlreadyExists),
        "{again}"
    );
    let votes: Vec<Object> = c.votes(&domain, 10).try_collect().await.expect("votes");
    assert_eq!(votes.len(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn widget_url_and_page() {
    let emu = emulator().await;
    let c = client(&emu, PREMIUM);
    let widget = c
        .widget_url(&Indicator::File(eicar()), None)
        .await
        .expect("widget url");
    let ratio = widget.detection_ratio.expect("ratio");
    assert!(ratio.detections > 0 && ratio.detections <= ratio.total);
    let token = widget.token().expect("token in the url");
    let html = c.widget_html(&token).await.expect("widget page");
    assert!(html.to_ascii_lowercase().contains("<html"), "{html}");
    emu.shutdown().await;
}

#[tokio::test]
async fn private_scanning_round_trip() {
    let emu = emulator().await;
    let c = client(&emu, PREMIUM);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("private.bin");
    std::fs::write(&path, b"private sample for the emulator").expect("write");
    let options = PrivateScanOptions {
        retention_period_days: Some(1),
        ..PrivateScanOptions::default()
    };
    let descriptor = c
        .private_upload_file(&path, &options)
        .await
        .expect("private upload");
    assert_eq!(descriptor.kind, "private_analysis");
    let analysis = c
        .private_analysis(&descriptor.id)
        .await
        .expect("private analysis");
    let info = analysis.meta.and_then(|m| m.file_info).expect("file info");
    let sha256 = Sha256::parse(&info.sha256).expect("sha256");

    let file = c.private_file(&sha256).await.expect("private file");
    assert_eq!(file.id, sha256.as_str());
    let listed: Vec<Object> = c.private_files(40).try_collect().await.expect("list");
    assert!(listed.iter().any(|o| o.id == sha256.as_str()));
    let rescan = c.private_rescan(&sha256, &options).await.expect("rescan");
    assert_eq!(rescan.kind, "private_analysis");

    c.delete_private_file(&sha256, false).await.expect("delete");
    let gone = c.private_file(&sha256).await.expect_err("deleted");
    assert!(gone.is_not_found(), "{gone}");

    let url = ioc::Url::parse("http://private.example.com/x").expect("url");
    let submitted = c.private_submit_url(&url).await.expect("private url");
    assert_eq!(submitted.kind, "private_analysis");

    let public = client(&emu, PUBLIC);
    let denied = public
        .private_file(&sha256)
        .await
        .expect_err("premium only");
    assert_eq!(denied.error_code(), Some(ErrorCode::Forbidden));
    emu.shutdown().await;
}

const OTHER_PREMIUM: &str = "dddddddd00000000000000000000000000000000000000000000000000000004";

#[tokio::test]
async fn private_relationships_page_past_the_first_page_for_the_uploader_only() {
    let emu = Emulator::new(EmulatorConfig {
        premium_keys: vec![PREMIUM.into(), OTHER_PREMIUM.into()],
        ..EmulatorConfig::default()
    })
    .expect("emulator config")
    .spawn("127.0.0.1:0".parse().expect("addr"))
    .await
    .expect("emulator listens");
    let owner = client(&emu, PREMIUM);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("eicar.com");
    std::fs::write(&path, EICAR).expect("write");
    owner
        .private_upload_file(&path, &PrivateScanOptions::default())
        .await
        .expect("private upload");
    let sha256 = Sha256::parse(EICAR_SHA256).expect("sha256");

    let objects: Vec<Object> = owner
        .private_relationship(&sha256, "contacted_ips", 2)
        .try_collect()
        .await
        .expect("related objects");
    assert!(
        objects.len() >= 5,
        "a detected file has 5 or more: {}",
        objects.len()
    );
    assert!(objects.iter().all(|o| o.kind == "ip_address"));
    let descriptors: Vec<vt_api::Descriptor> = owner
        .private_relationship_descriptors(&sha256, "contacted_ips", 3)
        .try_collect()
        .await
        .expect("descriptors");
    assert_eq!(
        objects.iter().map(|o| o.id.clone()).collect::<Vec<_>>(),
        descriptors.iter().map(|d| d.id.clone()).collect::<Vec<_>>()
    );
    let stats = emu.emulator().stats();
    let pages = stats["by_route"]["GET /private/files/{id}/{relationship}"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(pages as usize, objects.len().div_ceil(2), "{stats}");

    let other = client(&emu, OTHER_PREMIUM);
    let first = Box::pin(other.private_relationship(&sha256, "contacted_ips", 2))
        .next()
        .await
        .expect("an answer");
    let err = first.expect_err("not the other key's file");
    assert!(err.is_not_found(), "{err}");
    let first = Box::pin(other.private_relationship_descriptors(&sha256, "contacted_ips", 2))
        .next()
        .await
        .expect("an answer");
    assert!(first.expect_err("not found").is_not_found());

    let url = ioc::Url::parse("http://private-report.example/x").expect("url");
    owner.private_submit_url(&url).await.expect("private url");
    let report = owner.private_url(&url).await.expect("private url report");
    assert_eq!(report.kind, "private_url");
    assert_eq!(report.id, url.sha256());
    let hidden = other
        .private_url(&url)
        .await
        .expect_err("not the other key's");
    assert!(hidden.is_not_found(), "{hidden}");
    emu.shutdown().await;
}

#[tokio::test]
async fn user_quotas_and_usage_name_the_user_by_key_without_leaking_it() {
    let emu = emulator().await;
    let c = client(&emu, PREMIUM);
    let me = UserId::of_key(&ApiKey::new(PREMIUM).expect("key"));
    let quotas = c.overall_quotas(&me).await.expect("quotas");
    assert!(quotas.contains_key("api_requests_daily"), "{quotas:?}");
    let today = time::OffsetDateTime::now_utc().date();
    let usage = c
        .api_usage(&me, today - time::Duration::days(3), today)
        .await
        .expect("usage");
    assert!(usage.contains_key("daily"), "{usage:?}");

    // In a pool, a user's routes go with that user's key, whichever key
    // would be next.
    let pool = Client::builder()
        .api_key(ApiKey::new(PREMIUM).expect("key"))
        .api_key(ApiKey::new(PUBLIC).expect("key"))
        .base_url(emu.api_url())
        .quota_budget(QuotaBudget::UNLIMITED)
        .build()
        .expect("client");
    let public_user = UserId::of_key(&ApiKey::new(PUBLIC).expect("key"));
    pool.overall_quotas(&public_user)
        .await
        .expect("the public key's own quotas");

    // Another user's id (here a key this client does not hold) is unknown;
    // the answer names it without any part of it.
    let alone = client(&emu, PREMIUM);
    let other = UserId::parse(PUBLIC).expect("id");
    let err = alone
        .overall_quotas(&other)
        .await
        .expect_err("not our user");
    assert!(err.is_not_found(), "{err}");
    for shown in [err.to_string(), format!("{err:?}")] {
        for i in 0..=PUBLIC.len().saturating_sub(8) {
            assert!(!shown.contains(&PUBLIC[i..i + 8]), "{shown}");
        }
    }
    emu.shutdown().await;
}

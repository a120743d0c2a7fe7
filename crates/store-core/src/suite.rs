//! The behaviour every [`Store`] backend must have, written once against
//! `&dyn Store`, as async functions a backend's tests call with a
//! [`Backend`] (a factory of fresh storage). [`store_suite!`] makes one
//! `#[tokio::test]` per check:
//!
//! ```text
//! store_core::store_suite!(MyBackend::new());
//! ```
//!
//! The calling crate needs `tokio` (with `macros` and `rt-multi-thread`) as
//! a dev-dependency. Every check panics on a failure, as a test does.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed check panics

use crate::{
    async_trait, Cached, CalendarWindow, CallBudget, ItemState, JobState, JournalEntry,
    NewEnrichJob, NewItem, NewReport, PruneLimits, QueuePriority, ReportPage, Reservation, Store,
    StoreError,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use time::macros::datetime;
use time::OffsetDateTime;

/// The suite's "now".
pub const T: OffsetDateTime = datetime!(2026-11-20 10:00 UTC);
/// The origin most checks store under.
pub const O: &str = "https://www.virustotal.com";
/// Another API (an emulator): nothing stored for [`O`] is visible here.
pub const OTHER: &str = "http://127.0.0.1:8080";
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// One empty storage location (a file, a database schema) per value.
#[async_trait]
pub trait Backend: Send + Sync {
    /// A new handle on this backend's storage, as a (re)started process
    /// would open it.
    async fn open(&self) -> Arc<dyn Store>;
}

/// One `#[tokio::test]` per check of the suite, for the backend `$make`
/// builds (a fresh one per test).
#[macro_export]
macro_rules! store_suite {
    ($make:expr) => {
        $crate::store_suite!(@tests $make;
            cache_hits_until_the_ttl_ends,
            aliases_make_one_cache_entry,
            negative_cache_remembers_not_found_briefly,
            newest_answer_wins_between_report_and_not_found,
            answers_from_one_origin_are_never_served_for_another,
            a_large_report_comes_back_unchanged,
            journal_survives_a_reopen_and_replays_in_seq_order,
            same_fingerprint_resumes_the_same_job,
            finished_job_refuses_records_and_reopening_starts_afresh,
            journal_pages_cover_every_entry_once,
            journal_takes_concurrent_writers,
            journal_rejects_unknown_jobs_and_huge_seqs,
            quota_ledger_counts_calls_in_a_window,
            an_expired_report_misses_under_every_alias,
            migrations_are_idempotent,
            prune_removes_only_what_expired,
            prune_retires_old_finished_jobs_only,
            prune_in_small_batches_removes_everything,
            prune_stops_when_its_time_is_spent,
            stats_count_rows_per_table_and_fall_after_a_prune,
            tokens_are_kept_by_digest_listed_and_revoked,
            decisions_are_kept_filtered_and_paged,
            collector_sightings_merge_by_any_hash_with_their_checkpoint,
            collector_due_lists_unqueried_then_aged_ones_once_per_window,
            collector_feed_status_and_reset,
            shared_ledger_never_grants_beyond_the_budget,
            concurrent_reservations_stop_at_the_budget,
            one_holder_fetches_and_others_wait,
            cached_reports_list_live_reports_of_one_origin_page_by_page,
            queued_items_are_claimed_interactive_first_and_completed_once,
            an_expired_lease_goes_to_another_worker_and_the_first_cannot_complete,
            a_cancelled_job_hands_out_no_more_items,
            job_results_page_in_input_order_and_survive_a_reopen,
            concurrent_claims_never_share_an_item,
            usage_is_charged_within_its_limit_per_window,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let backend = $make;
                $crate::suite::$name(&backend).await;
            }
        )*
    };
}

async fn put(
    s: &dyn Store,
    key: &str,
    aliases: &[&str],
    kind: &str,
    json: &str,
    ttl: Duration,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    s.put_report(
        O,
        NewReport {
            key,
            aliases,
            kind,
            json,
        },
        ttl,
        now,
    )
    .await
}

fn found_json(c: Option<Cached>) -> Option<String> {
    match c {
        Some(Cached::Found { json, .. }) => Some(json),
        _ => None,
    }
}

pub async fn cache_hits_until_the_ttl_ends(b: &dyn Backend) {
    let s = b.open().await;
    assert_eq!(
        s.get_report(O, "k", T).await.expect("get"),
        None,
        "empty cache misses"
    );
    put(&*s, "k", &[], "file", r#"{"id":"k"}"#, MINUTE, T)
        .await
        .expect("put");
    let hit = s.get_report(O, "k", T).await.expect("get").expect("hit");
    assert_eq!(
        hit,
        Cached::Found {
            kind: "file".into(),
            json: r#"{"id":"k"}"#.into(),
            fetched_at: T,
            expires_at: T + MINUTE,
        }
    );
    let last_ms = T + MINUTE - Duration::from_millis(1);
    assert!(
        s.get_report(O, "k", last_ms).await.expect("get").is_some(),
        "hit just before expiry"
    );
    assert_eq!(
        s.get_report(O, "k", T + MINUTE).await.expect("get"),
        None,
        "miss at expiry"
    );
    assert_eq!(s.get_report(O, "other", T).await.expect("get"), None);

    put(
        &*s,
        "k",
        &[],
        "file",
        r#"{"id":"k","v":2}"#,
        MINUTE,
        T + HOUR,
    )
    .await
    .expect("put");
    assert_eq!(
        found_json(s.get_report(O, "k", T + HOUR).await.expect("get")).as_deref(),
        Some(r#"{"id":"k","v":2}"#),
        "a new put replaces the report and its expiry"
    );
}

pub async fn aliases_make_one_cache_entry(b: &dyn Backend) {
    let s = b.open().await;
    let (md5, sha1, sha256) = ("m".repeat(32), "1".repeat(40), "2".repeat(64));
    put(
        &*s,
        &md5,
        &[&sha1, &sha256, &md5, ""],
        "file",
        "v1",
        HOUR,
        T,
    )
    .await
    .expect("put");
    for k in [&md5, &sha1, &sha256] {
        assert_eq!(
            found_json(s.get_report(O, k, T).await.expect("get")).as_deref(),
            Some("v1"),
            "{k}"
        );
    }
    // Asked again by another hash: still one entry, updated for all.
    put(&*s, &sha256, &[&md5, &sha1], "file", "v2", HOUR, T + MINUTE)
        .await
        .expect("put");
    for k in [&md5, &sha1, &sha256] {
        assert_eq!(
            found_json(s.get_report(O, k, T + MINUTE).await.expect("get")).as_deref(),
            Some("v2"),
            "{k}"
        );
    }
    // Two entries that turn out to be one object merge.
    put(&*s, "a", &[], "url", "a1", HOUR, T).await.expect("put");
    put(&*s, "b", &[], "url", "b1", HOUR, T).await.expect("put");
    put(&*s, "a", &["b"], "url", "ab", HOUR, T)
        .await
        .expect("put");
    assert_eq!(
        found_json(s.get_report(O, "b", T).await.expect("get")).as_deref(),
        Some("ab")
    );
    let purged = s
        .prune(T + 2 * HOUR, PruneLimits::ALL)
        .await
        .expect("purge");
    assert_eq!(
        purged.reports, 2,
        "three hashes are one report, a and b are one: {purged:?}"
    );
}

pub async fn negative_cache_remembers_not_found_briefly(b: &dyn Backend) {
    let s = b.open().await;
    s.put_not_found(O, "nx", MINUTE, T).await.expect("put");
    let hit = s
        .get_report(O, "nx", T + Duration::from_secs(30))
        .await
        .expect("get")
        .expect("hit");
    assert!(hit.is_not_found());
    assert_eq!((hit.fetched_at(), hit.expires_at()), (T, T + MINUTE));
    assert_eq!(
        s.get_report(O, "nx", T + MINUTE).await.expect("get"),
        None,
        "expired"
    );
    // A later report clears the NotFound.
    s.put_not_found(O, "nx", HOUR, T).await.expect("put");
    put(&*s, "nx", &[], "domain", "now-known", HOUR, T)
        .await
        .expect("put");
    assert_eq!(
        found_json(s.get_report(O, "nx", T).await.expect("get")).as_deref(),
        Some("now-known")
    );
}

pub async fn newest_answer_wins_between_report_and_not_found(b: &dyn Backend) {
    let s = b.open().await;
    put(&*s, "sha", &["md5"], "file", "old", 24 * HOUR, T)
        .await
        .expect("put");
    s.put_not_found(O, "md5", HOUR, T + MINUTE)
        .await
        .expect("put");
    assert!(s
        .get_report(O, "md5", T + 2 * MINUTE)
        .await
        .expect("get")
        .expect("hit")
        .is_not_found());
    assert_eq!(
        found_json(s.get_report(O, "sha", T + 2 * MINUTE).await.expect("get")).as_deref(),
        Some("old"),
        "other aliases keep the report"
    );
    assert_eq!(
        found_json(s.get_report(O, "md5", T + 2 * HOUR).await.expect("get")).as_deref(),
        Some("old"),
        "once the NotFound expires the report shows again"
    );
}

pub async fn journal_survives_a_reopen_and_replays_in_seq_order(b: &dyn Backend) {
    let job = {
        let s = b.open().await;
        let job = s
            .open_job("input=a.txt output=b.jsonl")
            .await
            .expect("open job");
        s.journal_record(job, 0, "k0", r#"{"n":0}"#)
            .await
            .expect("journal");
        s.journal_records(
            job,
            &[
                JournalEntry {
                    seq: 2,
                    key: "k2".into(),
                    record: r#"{"n":2}"#.into(),
                },
                JournalEntry {
                    seq: 1,
                    key: "k1".into(),
                    record: r#"{"n":1}"#.into(),
                },
            ],
        )
        .await
        .expect("journal batch");
        job
    };
    let s = b.open().await;
    assert_eq!(
        s.open_job("input=a.txt output=b.jsonl")
            .await
            .expect("reopen job"),
        job
    );
    assert_eq!(
        s.journaled(job, 1).await.expect("lookup").as_deref(),
        Some(r#"{"n":1}"#)
    );
    assert_eq!(s.journaled(job, 3).await.expect("lookup"), None);
    s.journal_record(job, 5, "k5", r#"{"n":5}"#)
        .await
        .expect("journal");
    s.journal_record(job, 3, "k3", r#"{"n":3}"#)
        .await
        .expect("journal");
    s.journal_record(job, 1, "k1", r#"{"n":1,"again":true}"#)
        .await
        .expect("rewrite");
    let entries = s.journal_entries(job).await.expect("entries");
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 5]);
    assert_eq!(entries[1].key, "k1");
    assert_eq!(
        entries[1].record, r#"{"n":1,"again":true}"#,
        "a rewritten seq is replaced"
    );
    let status = s.job_status(job).await.expect("status");
    assert_eq!((status.state, status.journaled), (JobState::Open, 5));
    assert_eq!(status.fingerprint, "input=a.txt output=b.jsonl");
}

pub async fn same_fingerprint_resumes_the_same_job(b: &dyn Backend) {
    let s = b.open().await;
    let a = s.open_job("fp-a").await.expect("open");
    let again = s.open_job("fp-a").await.expect("open");
    let other = s.open_job("fp-b").await.expect("open");
    assert_eq!(a, again);
    assert_ne!(a, other);
    s.journal_record(a, 0, "x", "{}").await.expect("journal");
    assert_eq!(
        s.journal_entries(other).await.expect("entries"),
        vec![],
        "jobs do not share journals"
    );
}

pub async fn finished_job_refuses_records_and_reopening_starts_afresh(b: &dyn Backend) {
    let s = b.open().await;
    let job = s.open_job("fp").await.expect("open");
    s.journal_record(job, 0, "x", "{}").await.expect("journal");
    s.finish_job(job).await.expect("finish");
    s.finish_job(job)
        .await
        .expect("finishing twice is harmless");
    let status = s.job_status(job).await.expect("status");
    assert_eq!(status.state, JobState::Finished);
    assert!(status.finished_at.is_some());
    assert_eq!(
        s.journal_entries(job).await.expect("entries").len(),
        1,
        "readable after finishing"
    );
    assert!(
        matches!(s.journal_record(job, 1, "y", "{}").await, Err(StoreError::JobFinished(j)) if j == job)
    );
    assert!(matches!(
        s.journal_records(job, &[]).await,
        Err(StoreError::JobFinished(_))
    ));

    let rerun = s.open_job("fp").await.expect("open");
    assert_ne!(rerun, job, "a finished job is not resumed");
    assert_eq!(s.journal_entries(rerun).await.expect("entries"), vec![]);
    assert!(
        matches!(s.job_status(job).await, Err(StoreError::NoSuchJob(_))),
        "superseded job is gone"
    );
}

pub async fn journal_pages_cover_every_entry_once(b: &dyn Backend) {
    let s = b.open().await;
    let job = s.open_job("paging").await.expect("open");
    let entries: Vec<JournalEntry> = (0..25u64)
        .rev()
        .map(|seq| JournalEntry {
            seq: seq * 2,
            key: format!("k{seq}"),
            record: format!("{{\"n\":{seq}}}"),
        })
        .collect();
    s.journal_records(job, &entries).await.expect("journal");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.journal_page(job, after, 10).await.expect("page");
        assert!(page.len() <= 10);
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        seen.extend(page.into_iter().map(|e| e.seq));
    }
    let expected: Vec<u64> = (0..25u64).map(|n| n * 2).collect();
    assert_eq!(seen, expected);
    assert_eq!(
        s.journal_page(job, Some(10), 2)
            .await
            .expect("page")
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![12, 14]
    );
}

pub async fn journal_takes_concurrent_writers(b: &dyn Backend) {
    let s = b.open().await;
    let job = s.open_job("threads").await.expect("open");
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                for i in 0..50u64 {
                    let seq = t * 1000 + i;
                    if i % 2 == 0 {
                        s.journal_record(job, seq, &format!("k{seq}"), "{}")
                            .await
                            .expect("journal");
                    } else {
                        let e = JournalEntry {
                            seq,
                            key: format!("k{seq}"),
                            record: "{}".into(),
                        };
                        s.journal_records(job, &[e]).await.expect("journal batch");
                    }
                    s.record_api_call(O, "threads1", T).await.expect("ledger");
                }
            })
        })
        .collect();
    for t in threads {
        t.await.expect("writer task");
    }
    assert_eq!(s.job_status(job).await.expect("status").journaled, 200);
    assert_eq!(
        s.api_calls_since(O, "threads1", T).await.expect("ledger"),
        200
    );
}

pub async fn journal_rejects_unknown_jobs_and_huge_seqs(b: &dyn Backend) {
    let s = b.open().await;
    let ghost = crate::JobId::new(987_654);
    assert!(matches!(
        s.journal_record(ghost, 0, "k", "{}").await,
        Err(StoreError::NoSuchJob(_))
    ));
    assert!(matches!(
        s.finish_job(ghost).await,
        Err(StoreError::NoSuchJob(_))
    ));
    assert!(matches!(
        s.job_status(ghost).await,
        Err(StoreError::NoSuchJob(_))
    ));
    let job = s.open_job("big").await.expect("open");
    let err = s
        .journal_record(job, u64::MAX, "k", "{}")
        .await
        .expect_err("u64::MAX does not fit");
    assert!(matches!(err, StoreError::OutOfRange { .. }), "{err}");
    let batch = [
        JournalEntry {
            seq: 0,
            key: "ok".into(),
            record: "{}".into(),
        },
        JournalEntry {
            seq: u64::MAX,
            key: "bad".into(),
            record: "{}".into(),
        },
    ];
    assert!(s.journal_records(job, &batch).await.is_err());
    assert_eq!(
        s.journal_entries(job).await.expect("entries"),
        vec![],
        "a failed batch writes nothing"
    );
}

pub async fn quota_ledger_counts_calls_in_a_window(b: &dyn Backend) {
    let s = b.open().await;
    let calls = [
        T - time::Duration::days(2),
        T - time::Duration::hours(1),
        T - time::Duration::seconds(30),
        T - time::Duration::seconds(1),
        T - time::Duration::seconds(1),
    ];
    for at in calls {
        s.record_api_call(O, "abcd1234", at).await.expect("record");
    }
    s.record_api_call(O, "ffff0000", T).await.expect("record");
    for (window, calls) in [
        (time::Duration::minutes(1), 3),
        (time::Duration::days(1), 4),
        (time::Duration::days(30), 5),
    ] {
        let since = s.api_calls_since(O, "abcd1234", T - window).await;
        assert_eq!(since.expect("count"), calls, "{window}");
    }
    assert_eq!(s.api_calls_since(O, "abcd1234", T).await.expect("count"), 0);
    assert_eq!(
        s.api_calls_since(O, "ffff0000", T - time::Duration::days(1))
            .await
            .expect("count"),
        1
    );
    assert_eq!(
        s.api_calls_since(O, "nobody00", T - time::Duration::days(1))
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        s.api_calls_per_second(O, "abcd1234", T - time::Duration::minutes(1))
            .await
            .expect("per second"),
        vec![
            ((T - time::Duration::seconds(30)).unix_timestamp(), 1),
            ((T - time::Duration::seconds(1)).unix_timestamp(), 2),
        ]
    );
    // A restarted process sees the same spend.
    let again = b.open().await;
    assert_eq!(
        again
            .api_calls_since(O, "abcd1234", T - time::Duration::days(1))
            .await
            .expect("count"),
        4
    );
}

pub async fn migrations_are_idempotent(b: &dyn Backend) {
    let first = b.open().await;
    put(&*first, "k", &[], "ip", "v", HOUR, T)
        .await
        .expect("put");
    first.migrate().await.expect("migrate again");
    drop(first);
    let second = b.open().await;
    second.migrate().await.expect("migrate a third time");
    assert_eq!(
        found_json(second.get_report(O, "k", T).await.expect("get")).as_deref(),
        Some("v")
    );
}

pub async fn prune_removes_only_what_expired(b: &dyn Backend) {
    let s = b.open().await;
    put(&*s, "short", &["short-alias"], "url", "s", MINUTE, T)
        .await
        .expect("put");
    put(&*s, "long", &[], "url", "l", HOUR, T)
        .await
        .expect("put");
    s.put_not_found(O, "nx-short", MINUTE, T)
        .await
        .expect("put");
    s.put_not_found(O, "nx-long", HOUR, T).await.expect("put");
    s.record_api_call(O, "old00000", T - time::Duration::days(60))
        .await
        .expect("record");
    s.record_api_call(O, "old00000", T - time::Duration::days(1))
        .await
        .expect("record");
    let purged = s
        .prune(T + 2 * MINUTE, PruneLimits::ALL)
        .await
        .expect("purge");
    assert_eq!(
        (purged.reports, purged.not_found, purged.ledger_rows),
        (1, 1, 1)
    );
    let mut live: BTreeMap<&str, bool> = BTreeMap::new();
    for k in ["short", "short-alias", "long", "nx-short", "nx-long"] {
        live.insert(k, s.get_report(O, k, T).await.expect("get").is_some());
    }
    assert_eq!(
        live,
        BTreeMap::from([
            ("long", true),
            ("nx-long", true),
            ("nx-short", false),
            ("short", false),
            ("short-alias", false)
        ])
    );
    assert_eq!(
        s.api_calls_since(O, "old00000", T - time::Duration::days(90))
            .await
            .expect("count"),
        1
    );
}

pub async fn prune_retires_old_finished_jobs_only(b: &dyn Backend) {
    let s = b.open().await;
    let finished = s.open_job("done").await.expect("open");
    s.journal_record(finished, 0, "k", "{}")
        .await
        .expect("journal");
    s.finish_job(finished).await.expect("finish");
    let open = s.open_job("interrupted").await.expect("open");
    s.journal_record(open, 0, "k", "{}").await.expect("journal");
    // Job times come from the clock, so prune relative to it.
    let now = OffsetDateTime::now_utc();
    let soon = s
        .prune(now + time::Duration::days(1), PruneLimits::ALL)
        .await
        .expect("purge");
    assert_eq!(soon.jobs, 0, "a recently finished job stays readable");
    let later = s
        .prune(now + time::Duration::days(8), PruneLimits::ALL)
        .await
        .expect("purge");
    assert_eq!((later.jobs, later.journal_entries), (1, 1));
    assert!(matches!(
        s.job_status(finished).await,
        Err(StoreError::NoSuchJob(_))
    ));
    assert_eq!(
        s.journal_entries(open).await.expect("entries").len(),
        1,
        "an open job is never retired"
    );
}

pub async fn an_expired_report_misses_under_every_alias(b: &dyn Backend) {
    let s = b.open().await;
    put(&*s, "sha", &["md5"], "file", "{}", HOUR, T)
        .await
        .expect("put");
    s.expire_report(O, "md5", T + time::Duration::minutes(10))
        .await
        .expect("expire");
    let later = T + time::Duration::minutes(11);
    assert!(s.get_report(O, "sha", later).await.expect("get").is_none());
    assert!(s.get_report(O, "md5", later).await.expect("get").is_none());
    // Never lengthens a life, and an unknown key is no error.
    s.expire_report(O, "sha", T + time::Duration::days(9))
        .await
        .expect("expire");
    assert!(s.get_report(O, "sha", later).await.expect("get").is_none());
    s.expire_report(O, "nothing", T).await.expect("unknown key");
}

pub async fn answers_from_one_origin_are_never_served_for_another(b: &dyn Backend) {
    let s = b.open().await;
    put(&*s, "sha", &["md5"], "file", "from-vt", HOUR, T)
        .await
        .expect("put");
    s.put_not_found(O, "nx", HOUR, T).await.expect("put");
    for key in ["sha", "md5", "nx"] {
        assert_eq!(
            s.get_report(OTHER, key, T).await.expect("get"),
            None,
            "{key} is not served for another origin"
        );
    }
    // The other origin's answer lives beside the first, not over it.
    s.put_report(
        OTHER,
        NewReport {
            key: "sha",
            aliases: &["md5"],
            kind: "file",
            json: "from-emulator",
        },
        HOUR,
        T,
    )
    .await
    .expect("put");
    s.put_not_found(OTHER, "sha1", HOUR, T).await.expect("put");
    assert_eq!(
        found_json(s.get_report(O, "md5", T).await.expect("get")).as_deref(),
        Some("from-vt")
    );
    assert_eq!(
        found_json(s.get_report(OTHER, "md5", T).await.expect("get")).as_deref(),
        Some("from-emulator")
    );
    assert_eq!(s.get_report(O, "sha1", T).await.expect("get"), None);
    s.expire_report(OTHER, "sha", T).await.expect("expire");
    assert!(s.get_report(O, "sha", T).await.expect("get").is_some());
    assert!(s.get_report(OTHER, "sha", T).await.expect("get").is_none());

    s.record_api_call(O, "key-1", T).await.expect("record");
    s.record_api_calls(OTHER, &[("key-1", T), ("key-1", T)])
        .await
        .expect("record");
    let since = T - time::Duration::minutes(1);
    assert_eq!(
        s.api_calls_since(O, "key-1", since).await.expect("count"),
        1
    );
    assert_eq!(
        s.api_calls_since(OTHER, "key-1", since)
            .await
            .expect("count"),
        2
    );
    assert_eq!(
        s.api_calls_per_second(OTHER, "key-1", since)
            .await
            .expect("per second"),
        vec![(T.unix_timestamp(), 2)]
    );
}

pub async fn a_large_report_comes_back_unchanged(b: &dyn Backend) {
    let s = b.open().await;
    let engines: String = (0..70)
        .map(|i| {
            format!(
                r#""Engine{i}":{{"category":"undetected","engine_name":"Engine{i}","result":null}},"#
            )
        })
        .collect();
    let report = format!(r#"{{"id":"big","results":{{{engines}"end":"é ✓"}}}}"#);
    put(&*s, "big", &[], "file", &report, HOUR, T)
        .await
        .expect("put");
    assert_eq!(
        found_json(s.get_report(O, "big", T).await.expect("get")).as_deref(),
        Some(report.as_str())
    );
    let job = s.open_job("big").await.expect("open");
    s.journal_record(job, 0, "big", &report)
        .await
        .expect("journal");
    assert_eq!(
        s.journaled(job, 0).await.expect("read").as_deref(),
        Some(report.as_str())
    );
}

pub async fn prune_in_small_batches_removes_everything(b: &dyn Backend) {
    let s = b.open().await;
    for i in 0..7 {
        put(
            &*s,
            &format!("r{i}"),
            &[&format!("a{i}")],
            "url",
            "{}",
            MINUTE,
            T,
        )
        .await
        .expect("put");
        s.put_not_found(O, &format!("n{i}"), MINUTE, T)
            .await
            .expect("put");
        s.record_api_call(O, "key-1", T - time::Duration::days(40 + i))
            .await
            .expect("record");
    }
    let limits = PruneLimits {
        batch_rows: 2,
        time_budget: None,
    };
    let pruned = s.prune(T + HOUR, limits).await.expect("prune");
    assert_eq!(
        (
            pruned.reports,
            pruned.not_found,
            pruned.ledger_rows,
            pruned.complete
        ),
        (7, 7, 7, true)
    );
    let step = s.prune_step(T + HOUR, 2).await.expect("prune");
    assert_eq!((step.rows(), step.complete), (0, true), "nothing left");
}

pub async fn prune_stops_when_its_time_is_spent(b: &dyn Backend) {
    let s = b.open().await;
    for i in 0..5 {
        s.put_not_found(O, &format!("n{i}"), MINUTE, T)
            .await
            .expect("put");
    }
    let limits = PruneLimits {
        batch_rows: 1,
        time_budget: Some(Duration::ZERO),
    };
    let first = s.prune(T + HOUR, limits).await.expect("prune");
    assert_eq!(
        (first.not_found, first.complete),
        (1, false),
        "one step only"
    );
    let rest = s.prune(T + HOUR, PruneLimits::ALL).await.expect("prune");
    assert_eq!((rest.not_found, rest.complete), (4, true));
}

pub async fn stats_count_rows_per_table_and_fall_after_a_prune(b: &dyn Backend) {
    let s = b.open().await;
    let rows = |stats: &crate::StoreStats, table: &str| {
        stats
            .tables
            .iter()
            .find(|t| t.name == table)
            .unwrap_or_else(|| panic!("table {table} in {stats:?}"))
            .rows
    };
    let report = format!(r#"{{"pad":"{}"}}"#, "x".repeat(4000));
    for i in 0..20 {
        put(&*s, &format!("r{i}"), &[], "file", &report, MINUTE, T)
            .await
            .expect("put");
    }
    let job = s.open_job("stats").await.expect("open");
    s.journal_record(job, 0, "r0", "{}").await.expect("journal");
    s.record_api_call(O, "key-1", T).await.expect("record");
    let before = s.stats().await.expect("stats");
    assert_eq!(rows(&before, "reports"), 20);
    assert_eq!(rows(&before, "journal"), 1);
    assert_eq!(rows(&before, "api_calls"), 1);
    assert!(before.size_bytes > 0);
    assert!(
        before.tables.iter().all(|t| t.rows == 0 || t.bytes > 0),
        "{before:?}"
    );

    s.prune(T + HOUR, PruneLimits::ALL).await.expect("prune");
    s.compact(true).await.expect("compact");
    let after = s.stats().await.expect("stats");
    assert_eq!(rows(&after, "reports"), 0);
    assert_eq!(rows(&after, "journal"), 1, "an open job's journal stays");
    assert_eq!(
        s.journaled(job, 0).await.expect("read").as_deref(),
        Some("{}")
    );
}

pub async fn tokens_are_kept_by_digest_listed_and_revoked(b: &dyn Backend) {
    let s = b.open().await;
    let token = |name: &str, role: &str, digit: char| crate::StoredToken {
        name: name.into(),
        role: role.into(),
        sha256: digit.to_string().repeat(64),
        created_at: T,
        quota: (role == "analyst").then(|| "500/day".to_owned()),
    };
    let soar = token("soar", "analyst", 'a');
    s.add_token(&soar).await.expect("add");
    s.add_token(&token("tip", "reader", 'b'))
        .await
        .expect("add");
    assert!(matches!(
        s.add_token(&token("soar", "admin", 'c')).await,
        Err(StoreError::TokenExists { .. })
    ));
    assert!(matches!(
        s.add_token(&token("other", "admin", 'a')).await,
        Err(StoreError::TokenExists { .. })
    ));
    assert_eq!(
        s.token_by_sha256(&"a".repeat(64)).await.expect("get"),
        Some(soar.clone())
    );
    assert_eq!(s.token_by_sha256(&"c".repeat(64)).await.expect("get"), None);
    let names: Vec<String> = s
        .tokens()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["soar", "tip"]);
    assert!(s.revoke_token("soar").await.expect("revoke"));
    assert!(!s.revoke_token("soar").await.expect("revoke"));
    assert_eq!(s.token_by_sha256(&"a".repeat(64)).await.expect("get"), None);
    // Kept across a prune: tokens do not expire.
    s.prune(T + HOUR * 24 * 365, PruneLimits::ALL)
        .await
        .expect("prune");
    assert_eq!(s.tokens().await.expect("list").len(), 1);
}

pub async fn decisions_are_kept_filtered_and_paged(b: &dyn Backend) {
    use crate::{DecisionQuery, NewDecision};
    let s = b.open().await;
    let d = |i: i64, host: &str, action: &str| NewDecision {
        at: T + Duration::from_secs(u64::try_from(i).unwrap()),
        host: host.into(),
        user: "CORP\\bob".into(),
        sha256: format!("{:064x}", i % 3),
        action: action.into(),
        policy: if action == "deny" {
            "vt rating".into()
        } else {
            String::new()
        },
        json: format!("{{\"n\":{i}}}"),
    };
    let all: Vec<NewDecision> = (0..25)
        .map(|i| {
            d(
                i,
                if i % 2 == 0 { "ws1" } else { "ws2" },
                if i % 5 == 0 { "deny" } else { "allow" },
            )
        })
        .collect();
    s.add_decisions(&all[..20]).await.expect("add a batch");
    s.add_decisions(&all[20..]).await.expect("add another");
    s.add_decisions(&[])
        .await
        .expect("an empty batch is nothing");
    // Pages of 10 cover all 25 once, in the order they were kept.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .decisions(&DecisionQuery {
                after_id: after,
                limit: 10,
                ..DecisionQuery::default()
            })
            .await
            .expect("page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        after = page.last().map(|p| p.id);
        seen.extend(page.into_iter().map(|p| p.decision));
    }
    assert_eq!(seen, all, "every decision once, unchanged, in order");
    let s: &dyn Store = s.as_ref();
    let query = |q: DecisionQuery| async move {
        s.decisions(&DecisionQuery { limit: 100, ..q })
            .await
            .expect("query")
    };
    let denied = query(DecisionQuery {
        action: Some("deny".into()),
        ..DecisionQuery::default()
    })
    .await;
    assert_eq!(denied.len(), 5);
    assert!(denied.iter().all(|r| r.decision.policy == "vt rating"));
    let ws2 = query(DecisionQuery {
        host: Some("ws2".into()),
        ..DecisionQuery::default()
    })
    .await;
    assert_eq!(ws2.len(), 12);
    let since = query(DecisionQuery {
        since: Some(T + Duration::from_secs(20)),
        until: Some(T + Duration::from_secs(22)),
        ..DecisionQuery::default()
    })
    .await;
    assert_eq!(since.len(), 2, "since is inclusive, until exclusive");
    let by_hash = query(DecisionQuery {
        sha256: Some(format!("{:064x}", 1)),
        user: Some("CORP\\bob".into()),
        policy: Some(String::new()),
        ..DecisionQuery::default()
    })
    .await;
    assert_eq!(
        by_hash.len(),
        7,
        "hash 1 is 8 decisions, one of them denied (policy set)"
    );
    assert!(query(DecisionQuery {
        user: Some("alice".into()),
        ..DecisionQuery::default()
    })
    .await
    .is_empty());
}

// --- collector ------------------------------------------------------------

fn sighting(md5: Option<&str>, sha256: Option<&str>, host: &str, name: &str) -> crate::Sighting {
    crate::Sighting {
        md5: md5.map(str::to_owned),
        sha256: sha256.map(str::to_owned),
        host: Some(host.to_owned()),
        file_name: Some(name.to_owned()),
        ..Default::default()
    }
}

fn result_for(
    id: i64,
    at: OffsetDateTime,
    verdict: &str,
    analysed: OffsetDateTime,
) -> crate::QueryResult {
    crate::QueryResult {
        binary: id,
        at,
        md5: None,
        sha1: None,
        sha256: None,
        size: Some(68),
        verdict: verdict.to_owned(),
        malicious: u32::from(verdict == "bad") * 50,
        total: 70,
        last_analysis: Some(analysed),
        in_feed: verdict == "bad",
        rescanned: false,
        uploaded: false,
        record: Some(format!("{{\"verdict\":\"{verdict}\"}}")),
    }
}

pub async fn collector_sightings_merge_by_any_hash_with_their_checkpoint(b: &dyn Backend) {
    let (md5, sha256) = ("a".repeat(32), "b".repeat(64));
    {
        let s = b.open().await;
        assert_eq!(s.collect_checkpoint("cb").await.unwrap(), None);
        let new = s
            .collect_sightings(
                "cb",
                &[
                    sighting(Some(&md5), None, "host-1", "evil.exe"),
                    sighting(Some(&md5), None, "host-2", "evil.exe"),
                    crate::Sighting::default(),
                ],
                Some("2026-11-20T09:00:00Z"),
                T,
            )
            .await
            .unwrap();
        assert_eq!(
            new, 1,
            "one binary, seen twice; a sighting without a hash is skipped"
        );
    }
    // Reopened, as a restarted collector would: the checkpoint held.
    let s = b.open().await;
    assert_eq!(
        s.collect_checkpoint("cb").await.unwrap().as_deref(),
        Some("2026-11-20T09:00:00Z")
    );
    // The same binary by md5 and sha256 from a folder: still one binary.
    let new = s
        .collect_sightings(
            "folder",
            &[sighting(Some(&md5), Some(&sha256), "host-1", "copy.exe")],
            None,
            T + MINUTE,
        )
        .await
        .unwrap();
    assert_eq!(new, 0);
    assert_eq!(s.collect_checkpoint("folder").await.unwrap(), None);
    let all = s.collect_binaries(false).await.unwrap();
    assert_eq!(all.len(), 1);
    let one = &all[0];
    assert_eq!(one.md5.as_deref(), Some(md5.as_str()));
    assert_eq!(one.sha256.as_deref(), Some(sha256.as_str()));
    assert_eq!(one.sources, ["cb", "folder"]);
    assert_eq!(one.hosts, ["host-1", "host-2"]);
    assert_eq!(one.file_names, ["evil.exe", "copy.exe"]);
    assert_eq!((one.first_seen, one.last_seen), (T, T + MINUTE));
    assert_eq!(one.best_hash(), Some(sha256.as_str()));
    // Found by sha256 alone too.
    s.collect_sightings(
        "hashes",
        &[sighting(None, Some(&sha256), "h", "n")],
        None,
        T,
    )
    .await
    .unwrap();
    assert_eq!(s.collect_binaries(false).await.unwrap().len(), 1);
    // Seen by sha1 alone first, the same binary is a second row until
    // VirusTotal gives its hashes; then the two are one.
    let sha1 = "c".repeat(40);
    s.collect_sightings(
        "hashes",
        &[crate::Sighting {
            sha1: Some(sha1.clone()),
            host: Some("host-3".into()),
            ..Default::default()
        }],
        None,
        T - MINUTE,
    )
    .await
    .unwrap();
    let due = s.collect_due(None, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    let mut full = result_for(due[0].id, T, "bad", T);
    full.md5 = Some(md5.clone());
    full.sha1 = Some(sha1.clone());
    full.sha256 = Some(sha256.clone());
    s.collect_results(&[full]).await.unwrap();
    let all = s.collect_binaries(false).await.unwrap();
    assert_eq!(all.len(), 1, "folded into one: {all:?}");
    assert_eq!(all[0].hosts, ["host-1", "host-2", "h", "host-3"]);
    assert_eq!(all[0].first_seen, T - MINUTE);
    assert!(
        s.collect_due(None, 10).await.unwrap().is_empty(),
        "and not due twice"
    );
    // Lists are bounded.
    let many: Vec<_> = (0..100)
        .map(|i| {
            sighting(
                Some(&md5),
                None,
                &format!("host-{i}-{}", "x".repeat(2000)),
                "n",
            )
        })
        .collect();
    s.collect_sightings("cb", &many, None, T).await.unwrap();
    let one = s.collect_binaries(false).await.unwrap().remove(0);
    assert_eq!(one.hosts.len(), crate::collected::MAX_LISTED);
    assert!(one
        .hosts
        .iter()
        .all(|h| h.chars().count() <= crate::collected::MAX_LISTED_CHARS));
}

pub async fn collector_due_lists_unqueried_then_aged_ones_once_per_window(b: &dyn Backend) {
    let s = b.open().await;
    let hashes: Vec<String> = (0..3).map(|i| format!("{i:032x}")).collect();
    let sightings: Vec<_> = hashes
        .iter()
        .map(|h| sighting(Some(h), None, "h", "f"))
        .collect();
    s.collect_sightings("hashes", &sightings, None, T)
        .await
        .unwrap();
    let due = s.collect_due(None, 2).await.unwrap();
    assert_eq!(due.len(), 2, "the limit holds");
    assert!(due.iter().all(|d| d.due == Some(crate::Due::Query)));
    let due = s.collect_due(None, 10).await.unwrap();
    assert_eq!(due.len(), 3);
    // Analysed long ago, recently, and long ago.
    let day = Duration::from_secs(86_400);
    let analysed = [T - day * 30, T - MINUTE, T - day * 10];
    let results: Vec<_> = due
        .iter()
        .zip(analysed)
        .map(|(d, at)| result_for(d.id, T, "good", at))
        .collect();
    s.collect_results(&results).await.unwrap();
    assert!(
        s.collect_due(None, 10).await.unwrap().is_empty(),
        "nothing unqueried"
    );
    let window = T - day;
    let aged = s.collect_due(Some(window), 10).await.unwrap();
    assert_eq!(aged.len(), 2);
    assert!(aged.iter().all(|d| d.due == Some(crate::Due::Rescan)));
    assert_eq!(aged[0].id, due[0].id, "oldest analysis first");
    assert_eq!(s.collect_status(Some(window)).await.unwrap().rescan_due, 2);
    // Rescanned, and VirusTotal still shows the old date: not due again
    // within the window.
    let mut rescan = result_for(aged[0].id, T, "good", T - day * 30);
    rescan.rescanned = true;
    rescan.sha1 = Some("1".repeat(40));
    s.collect_results(&[rescan]).await.unwrap();
    let aged_after = s.collect_due(Some(window), 10).await.unwrap();
    assert_eq!(aged_after.len(), 1);
    assert_eq!(aged_after[0].id, aged[1].id);
    let kept = s.collect_binaries(false).await.unwrap();
    let first = kept.iter().find(|k| k.id == aged[0].id).unwrap();
    assert_eq!(first.rescanned_at, Some(T));
    assert_eq!(
        first.sha1.as_deref(),
        Some("1".repeat(40).as_str()),
        "hashes filled in"
    );
    assert_eq!(first.size, Some(68));
}

pub async fn collector_feed_status_and_reset(b: &dyn Backend) {
    let s = b.open().await;
    let sightings: Vec<_> = (0..4)
        .map(|i| sighting(Some(&format!("{i:032x}")), None, "h", "f"))
        .collect();
    s.collect_sightings("folder:/x", &sightings, Some("c1"), T)
        .await
        .unwrap();
    let due = s.collect_due(None, 10).await.unwrap();
    let mut bad = result_for(due[0].id, T, "bad", T);
    bad.uploaded = true;
    s.collect_results(&[bad, result_for(due[1].id, T, "good", T)])
        .await
        .unwrap();
    let feed = s.collect_binaries(true).await.unwrap();
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0].id, due[0].id);
    assert_eq!(feed[0].verdict.as_deref(), Some("bad"));
    assert_eq!(feed[0].malicious, 50);
    assert_eq!(feed[0].record.as_deref(), Some("{\"verdict\":\"bad\"}"));
    let status = s.collect_status(None).await.unwrap();
    assert_eq!(
        (
            status.binaries,
            status.queried,
            status.backlog,
            status.in_feed,
            status.uploaded
        ),
        (4, 2, 2, 1, 1)
    );
    assert_eq!(status.by_verdict.get("unqueried"), Some(&2));
    assert_eq!(status.by_verdict.get("bad"), Some(&1));
    assert_eq!(status.sources.len(), 1);
    assert_eq!(status.sources[0].checkpoint, "c1");
    assert_eq!(s.collect_reset().await.unwrap(), 4);
    assert_eq!(
        s.collect_status(None).await.unwrap(),
        crate::CollectStatus::default()
    );
    assert_eq!(s.collect_checkpoint("folder:/x").await.unwrap(), None);
}

async fn queue_job(
    s: &dyn Store,
    owner: &str,
    priority: QueuePriority,
    inputs: &[&str],
    now: OffsetDateTime,
) -> crate::EnrichJobId {
    let items: Vec<NewItem<'_>> = inputs
        .iter()
        .map(|input| NewItem {
            input,
            policy: (priority == QueuePriority::Bulk).then_some("feeds"),
        })
        .collect();
    s.create_enrich_job(
        &NewEnrichJob {
            owner,
            priority,
            items: &items,
        },
        now,
    )
    .await
    .expect("create job")
}

pub async fn queued_items_are_claimed_interactive_first_and_completed_once(b: &dyn Backend) {
    let s = b.open().await;
    let bulk = queue_job(&*s, "tip", QueuePriority::Bulk, &["b0", "b1"], T).await;
    let interactive = queue_job(
        &*s,
        "soar",
        QueuePriority::Interactive,
        &["i0", "i1", "i2"],
        T,
    )
    .await;
    let job = s
        .enrich_job(interactive)
        .await
        .expect("job")
        .expect("exists");
    assert_eq!((job.owner.as_str(), job.total, job.queued), ("soar", 3, 3));
    assert_eq!(job.priority, QueuePriority::Interactive);
    assert_eq!(job.finished_at, None);

    // Without bulk: only the interactive job's items.
    let first = s
        .claim_items("w1", 2, MINUTE, false, T)
        .await
        .expect("claim");
    let got: Vec<(&str, u64)> = first.iter().map(|i| (i.input.as_str(), i.seq)).collect();
    assert_eq!(got, [("i0", 0), ("i1", 1)]);
    let next = s
        .claim_items("w1", 10, MINUTE, false, T)
        .await
        .expect("claim");
    assert_eq!(next.len(), 1, "{next:?}");
    assert!(s
        .claim_items("w1", 10, MINUTE, false, T)
        .await
        .expect("claim")
        .is_empty());
    // With bulk: the bulk job's, with their policy.
    let bulk_items = s
        .claim_items("w2", 10, MINUTE, true, T)
        .await
        .expect("claim");
    assert_eq!(bulk_items.len(), 2);
    assert!(bulk_items.iter().all(|i| i.job == bulk
        && i.priority == QueuePriority::Bulk
        && i.policy.as_deref() == Some("feeds")));

    let leased = s
        .enrich_job(interactive)
        .await
        .expect("job")
        .expect("exists");
    assert_eq!((leased.queued, leased.leased, leased.done), (0, 3, 0));
    for item in first.iter().chain(&next) {
        let failed = item.seq == 2;
        assert!(s
            .complete_item(
                interactive,
                item.seq,
                "w1",
                &format!(r#"{{"i":{}}}"#, item.seq),
                failed,
                T
            )
            .await
            .expect("complete"));
    }
    // Twice, or by another worker: refused.
    assert!(!s
        .complete_item(interactive, 0, "w1", "{}", false, T)
        .await
        .expect("again"));
    assert!(!s
        .complete_item(bulk, 0, "w1", "{}", false, T)
        .await
        .expect("not w1's"));
    let done = s
        .enrich_job(interactive)
        .await
        .expect("job")
        .expect("exists");
    assert_eq!((done.done, done.failed, done.leased), (3, 1, 0));
    assert_eq!(done.finished_at, Some(T));
    assert!(s
        .enrich_job(crate::EnrichJobId::new(999_999))
        .await
        .expect("job")
        .is_none());
}

pub async fn an_expired_lease_goes_to_another_worker_and_the_first_cannot_complete(
    b: &dyn Backend,
) {
    let s = b.open().await;
    let job = queue_job(&*s, "soar", QueuePriority::Interactive, &["a", "b"], T).await;
    let mine = s
        .claim_items("w1", 1, MINUTE, true, T)
        .await
        .expect("claim");
    assert_eq!(mine.len(), 1);
    // A renewed lease holds past the first expiry.
    assert_eq!(
        s.renew_leases("w1", T + MINUTE * 2).await.expect("renew"),
        1
    );
    let at = T + MINUTE + Duration::from_secs(1);
    let others = s
        .claim_items("w2", 10, MINUTE, true, at)
        .await
        .expect("claim");
    assert_eq!(others.iter().map(|i| i.seq).collect::<Vec<_>>(), [1]);
    // Once the lease has run out, it is someone else's.
    let later = T + MINUTE * 3;
    let taken = s
        .claim_items("w2", 10, MINUTE, true, later)
        .await
        .expect("claim");
    assert_eq!(taken.iter().map(|i| i.seq).collect::<Vec<_>>(), [0, 1]);
    assert!(!s
        .complete_item(job, 0, "w1", "{}", false, later)
        .await
        .expect("w1"));
    assert!(s
        .complete_item(job, 0, "w2", "{}", false, later)
        .await
        .expect("w2"));
    // Reopened (a restarted process): the state is kept.
    let s = b.open().await;
    let status = s.enrich_job(job).await.expect("job").expect("exists");
    assert_eq!((status.done, status.leased), (1, 1));
}

pub async fn a_cancelled_job_hands_out_no_more_items(b: &dyn Backend) {
    let s = b.open().await;
    let job = queue_job(&*s, "soar", QueuePriority::Interactive, &["a", "b", "c"], T).await;
    let taken = s
        .claim_items("w1", 1, MINUTE, true, T)
        .await
        .expect("claim");
    assert_eq!(taken.len(), 1);
    assert!(s.cancel_enrich_job(job, T).await.expect("cancel"));
    assert!(!s.cancel_enrich_job(job, T).await.expect("twice"));
    assert!(!s
        .cancel_enrich_job(crate::EnrichJobId::new(999_999), T)
        .await
        .expect("none"));
    assert!(s
        .claim_items("w2", 10, MINUTE, true, T + Duration::from_secs(30))
        .await
        .expect("claim")
        .is_empty());
    let status = s.enrich_job(job).await.expect("job").expect("exists");
    assert_eq!((status.cancelled, status.leased, status.queued), (2, 1, 0));
    assert_eq!(status.cancelled_at, Some(T));
    assert_eq!(status.finished_at, None, "an item is still in progress");
    // The item in progress may finish; then the job is.
    assert!(s
        .complete_item(job, 0, "w1", "{}", false, T)
        .await
        .expect("complete"));
    let status = s.enrich_job(job).await.expect("job").expect("exists");
    assert_eq!(status.finished_at, Some(T));
    let page = s.job_results_page(job, None, 10).await.expect("page");
    let states: Vec<ItemState> = page.iter().map(|i| i.state).collect();
    assert_eq!(
        states,
        [ItemState::Done, ItemState::Cancelled, ItemState::Cancelled]
    );

    // A worker that dies holding an item of a cancelled job does not keep
    // the job open: once its lease runs out, the item is cancelled.
    let other = queue_job(&*s, "soar", QueuePriority::Interactive, &["x", "y"], T).await;
    let held = s
        .claim_items("gone", 1, MINUTE, true, T)
        .await
        .expect("claim");
    assert_eq!(held.len(), 1);
    assert!(s.cancel_enrich_job(other, T).await.expect("cancel"));
    let later = T + HOUR;
    let none = s
        .claim_items("w2", 10, MINUTE, true, later)
        .await
        .expect("claim");
    assert!(none.is_empty());
    let status = s.enrich_job(other).await.expect("job").expect("exists");
    assert_eq!((status.cancelled, status.leased), (2, 0));
    assert_eq!(status.finished_at, Some(later));
    assert!(!s
        .complete_item(other, 0, "gone", "{}", false, later)
        .await
        .expect("late"));
}

pub async fn job_results_page_in_input_order_and_survive_a_reopen(b: &dyn Backend) {
    let s = b.open().await;
    let inputs: Vec<String> = (0..25).map(|i| format!("in{i}")).collect();
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let job = queue_job(&*s, "soar", QueuePriority::Interactive, &refs, T).await;
    let claimed = s.claim_items("w", 100, HOUR, true, T).await.expect("claim");
    assert_eq!(claimed.len(), 25);
    // Completed out of order.
    for item in claimed.iter().rev() {
        let record = format!(r#"{{"n":{},"pad":"{}"}}"#, item.seq, "x".repeat(300));
        assert!(s
            .complete_item(job, item.seq, "w", &record, false, T)
            .await
            .expect("complete"));
    }
    let s = b.open().await;
    let mut after = None;
    let mut seen = Vec::new();
    loop {
        let page = s.job_results_page(job, after, 10).await.expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        for item in &page {
            assert_eq!(item.state, ItemState::Done);
            let record = item.record.as_deref().expect("record");
            assert!(
                record.starts_with(&format!(r#"{{"n":{},"#, item.seq)),
                "{record}"
            );
            seen.push(item.input.clone());
        }
    }
    assert_eq!(seen, inputs);
    let empty = queue_job(&*s, "soar", QueuePriority::Interactive, &[], T).await;
    let status = s.enrich_job(empty).await.expect("job").expect("exists");
    assert_eq!(status.finished_at, Some(T), "an empty job is done at once");
}

pub async fn concurrent_claims_never_share_an_item(b: &dyn Backend) {
    let s = b.open().await;
    let inputs: Vec<String> = (0..60).map(|i| format!("c{i}")).collect();
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    queue_job(&*s, "soar", QueuePriority::Bulk, &refs, T).await;
    let mut tasks = Vec::new();
    for w in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s
                    .claim_items(&format!("w{w}"), 3, HOUR, true, T)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|i| i.seq));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    all.sort_unstable();
    assert_eq!(all, (0..60).collect::<Vec<u64>>(), "each item exactly once");
}

pub async fn usage_is_charged_within_its_limit_per_window(b: &dyn Backend) {
    let s = b.open().await;
    let window = T;
    let next = T + HOUR * 24;
    let charge = |amount, limit| {
        let s = s.clone();
        async move {
            s.charge_usage("client:soar", window, amount, limit)
                .await
                .expect("charge")
        }
    };
    assert_eq!(charge(3, Some(5)).await.used, 3);
    let refused = charge(3, Some(5)).await;
    assert!(!refused.granted);
    assert_eq!(refused.used, 3, "a refused charge adds nothing");
    let fits = charge(2, Some(5)).await;
    assert!(fits.granted && fits.used == 5);
    assert!(!charge(1, Some(5)).await.granted);
    assert!(charge(10, None).await.granted, "no limit");
    assert_eq!(s.usage("client:soar", window).await.expect("usage"), 15);
    assert_eq!(s.usage("client:tip", window).await.expect("usage"), 0);
    // The next window starts from nothing.
    assert_eq!(s.usage("client:soar", next).await.expect("usage"), 0);
    let s2 = b.open().await;
    assert!(
        s2.charge_usage("client:soar", next, 5, Some(5))
            .await
            .expect("charge")
            .granted
    );
    assert_eq!(
        s2.usage("client:soar", window).await.expect("usage"),
        15,
        "kept across a reopen"
    );
    // Old windows go with the ledger's retention.
    s2.prune(T + HOUR * 24 * 40, PruneLimits::ALL)
        .await
        .expect("prune");
    assert_eq!(s2.usage("client:soar", window).await.expect("usage"), 0);
}

fn budget(per_minute: u32, per_day: u32) -> CallBudget {
    CallBudget {
        per_minute,
        per_day,
        per_month: 0,
        window: MINUTE,
    }
}

pub async fn shared_ledger_never_grants_beyond_the_budget(b: &dyn Backend) {
    let s = b.open().await;
    let three = budget(3, 5);
    let at = |secs: u64| T + Duration::from_secs(secs);
    for i in 0..3 {
        assert_eq!(
            s.reserve_api_call(O, "key-1", &three, at(i))
                .await
                .expect("reserve"),
            Reservation::Granted
        );
    }
    assert_eq!(
        s.reserve_api_call(O, "key-1", &three, at(10))
            .await
            .expect("reserve"),
        Reservation::Wait(Duration::from_secs(50)),
        "until the first reservation leaves the window"
    );
    assert_eq!(
        s.reserve_api_call(OTHER, "key-1", &three, at(10))
            .await
            .expect("reserve"),
        Reservation::Granted,
        "another origin has its own ledger"
    );
    assert_eq!(
        s.reserve_api_call(O, "key-2", &three, at(10))
            .await
            .expect("reserve"),
        Reservation::Granted,
        "another key has its own budget"
    );
    assert_eq!(
        s.reserve_api_call(O, "key-1", &three, at(60))
            .await
            .expect("reserve"),
        Reservation::Granted
    );
    assert_eq!(
        s.reserve_api_call(O, "key-1", &three, at(61))
            .await
            .expect("reserve"),
        Reservation::Granted
    );
    // Five in the day: the sixth waits for midnight.
    match s
        .reserve_api_call(O, "key-1", &three, at(200))
        .await
        .expect("reserve")
    {
        Reservation::Exhausted { window, resets_at } => {
            assert_eq!(window, CalendarWindow::Day);
            assert_eq!(resets_at, time::macros::datetime!(2026-11-21 00:00 UTC));
        }
        other => panic!("expected the day to be spent: {other:?}"),
    }
    let next_day = time::macros::datetime!(2026-11-21 00:00:01 UTC);
    assert_eq!(
        s.reserve_api_call(O, "key-1", &three, next_day)
            .await
            .expect("reserve"),
        Reservation::Granted
    );
    let month = CallBudget {
        per_month: 1,
        ..budget(0, 0)
    };
    assert_eq!(
        s.reserve_api_call(O, "key-3", &month, T)
            .await
            .expect("reserve"),
        Reservation::Granted
    );
    assert!(matches!(
        s.reserve_api_call(O, "key-3", &month, T + HOUR)
            .await
            .expect("reserve"),
        Reservation::Exhausted {
            window: CalendarWindow::Month,
            ..
        }
    ));
    // A reservation settled when its answer came holds from then on.
    let one = budget(1, 0);
    assert_eq!(
        s.reserve_api_call(O, "key-5", &one, T)
            .await
            .expect("reserve"),
        Reservation::Granted
    );
    s.settle_api_call(O, "key-5", T, at(30))
        .await
        .expect("settle");
    s.settle_api_call(O, "key-5", T, at(31))
        .await
        .expect("settling a moved reservation again is no error");
    assert_eq!(
        s.reserve_api_call(O, "key-5", &one, at(61))
            .await
            .expect("reserve"),
        Reservation::Wait(Duration::from_secs(29))
    );
    assert_eq!(
        s.reserve_api_call(O, "key-5", &one, at(90))
            .await
            .expect("reserve"),
        Reservation::Granted
    );
    let unlimited = budget(0, 0);
    for _ in 0..20 {
        assert_eq!(
            s.reserve_api_call(O, "key-4", &unlimited, T)
                .await
                .expect("reserve"),
            Reservation::Granted
        );
    }
}

pub async fn concurrent_reservations_stop_at_the_budget(b: &dyn Backend) {
    let s = b.open().await;
    let twenty = budget(20, 0);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let mut granted = 0;
                for _ in 0..10 {
                    if s.reserve_api_call(O, "crowded", &twenty, T)
                        .await
                        .expect("reserve")
                        == Reservation::Granted
                    {
                        granted += 1;
                    }
                }
                granted
            })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        granted += t.await.expect("task");
    }
    assert_eq!(granted, 20, "exactly the budget, never more");
}

pub async fn one_holder_fetches_and_others_wait(b: &dyn Backend) {
    let s = b.open().await;
    let lease = Duration::from_secs(10);
    assert!(s.begin_fetch(O, "h", "a", lease, T).await.expect("begin"));
    assert!(!s.begin_fetch(O, "h", "b", lease, T).await.expect("begin"));
    assert!(
        s.begin_fetch(OTHER, "h", "b", lease, T)
            .await
            .expect("begin"),
        "markers are per origin"
    );
    assert!(s.begin_fetch(O, "h", "a", lease, T).await.expect("again"));
    s.end_fetch(O, "h", "b").await.expect("not b's to end");
    assert!(!s.begin_fetch(O, "h", "b", lease, T).await.expect("begin"));
    s.end_fetch(O, "h", "a").await.expect("end");
    assert!(s.begin_fetch(O, "h", "b", lease, T).await.expect("begin"));
    // b dies holding it: the marker lapses with its lease.
    assert!(!s
        .begin_fetch(O, "h", "c", lease, T + Duration::from_secs(9))
        .await
        .expect("begin"));
    assert!(s
        .begin_fetch(O, "h", "c", lease, T + lease)
        .await
        .expect("begin"));
}

pub async fn cached_reports_list_live_reports_of_one_origin_page_by_page(b: &dyn Backend) {
    let s = b.open().await;
    let all = |after, since| ReportPage {
        after,
        fetched_since: since,
        limit: 2,
    };
    assert!(s
        .cached_reports(O, all(None, None), T)
        .await
        .expect("list")
        .is_empty());
    let (md5, sha256) = ("a".repeat(32), "b".repeat(64));
    put(&*s, &sha256, &[&md5], "file", "f1", HOUR, T)
        .await
        .expect("put");
    put(&*s, "evil.test", &[], "domain", "d1", HOUR, T + MINUTE)
        .await
        .expect("put");
    put(&*s, "gone.test", &[], "domain", "g1", MINUTE, T)
        .await
        .expect("put");
    put(&*s, "8.8.8.8", &[], "ip", "i1", HOUR, T + 2 * MINUTE)
        .await
        .expect("put");
    put(
        &*s,
        "http://x.test/",
        &[],
        "url",
        "u1",
        HOUR,
        T + 3 * MINUTE,
    )
    .await
    .expect("put");
    s.put_report(
        OTHER,
        NewReport {
            key: "other.test",
            aliases: &[],
            kind: "domain",
            json: "o1",
        },
        HOUR,
        T,
    )
    .await
    .expect("put elsewhere");
    // Cached again: replaced in place, not listed twice.
    put(&*s, &md5, &[&sha256], "file", "f2", HOUR, T + 4 * MINUTE)
        .await
        .expect("put");
    s.put_not_found(O, "missing.test", HOUR, T)
        .await
        .expect("not found");

    let now = T + 30 * MINUTE;
    let mut listed = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = s
            .cached_reports(O, all(after, None), now)
            .await
            .expect("list");
        assert!(page.len() <= 2, "a page holds at most its limit");
        pages += 1;
        match page.last() {
            Some(last) => after = Some(last.cursor),
            None => break,
        }
        listed.extend(page);
        assert!(pages < 10, "the listing ends");
    }
    let json: Vec<&str> = listed.iter().map(|r| r.json.as_str()).collect();
    assert_eq!(
        json,
        ["f2", "d1", "i1", "u1"],
        "live reports of this origin, once each, in the order first cached"
    );
    assert_eq!(listed[0].kind, "file");
    assert_eq!(listed[0].keys, vec![md5.clone(), sha256.clone()]);
    assert_eq!(listed[0].fetched_at, T + 4 * MINUTE);
    assert_eq!(listed[0].expires_at, T + 4 * MINUTE + HOUR);
    assert_eq!(listed[1].keys, vec!["evil.test".to_owned()]);

    let recent = s
        .cached_reports(
            O,
            ReportPage {
                after: None,
                fetched_since: Some(T + 2 * MINUTE),
                limit: 100,
            },
            now,
        )
        .await
        .expect("list");
    let json: Vec<&str> = recent.iter().map(|r| r.json.as_str()).collect();
    assert_eq!(
        json,
        ["f2", "i1", "u1"],
        "fetched at or after the time given"
    );

    let elsewhere = s
        .cached_reports(OTHER, all(None, None), now)
        .await
        .expect("list");
    assert_eq!(elsewhere.len(), 1);
    assert_eq!(elsewhere[0].json, "o1");
    assert!(s
        .cached_reports("http://never.test", all(None, None), now)
        .await
        .expect("list")
        .is_empty());
    let later = s
        .cached_reports(O, all(None, None), T + 2 * HOUR)
        .await
        .expect("list");
    assert!(later.is_empty(), "expired reports are not listed");
}

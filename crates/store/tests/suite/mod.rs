//! The behaviour every [`Store`] backend must have, written once against
//! `&dyn Store`. A backend's test file implements [`Backend`] and invokes
//! `store_suite!(make_backend())` after `#[macro_use] mod suite;`, which makes one `#[test]` per check.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use store::{Cached, JobState, JournalEntry, Store, StoreError};
use time::macros::datetime;
use time::OffsetDateTime;

pub const T: OffsetDateTime = datetime!(2026-11-20 10:00 UTC);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// One empty storage location (a file, a database schema) per value.
pub trait Backend {
    /// A new handle on this backend's storage, as a (re)started process
    /// would open it.
    fn open(&self) -> Arc<dyn Store>;
}

/// One `#[test]` per check of the suite, for the backend `$make` builds
/// (a fresh one per test). Bring it in with `#[macro_use] mod suite;`.
macro_rules! store_suite {
    ($make:expr) => {
        store_suite!(@tests $make;
            cache_hits_until_the_ttl_ends,
            aliases_make_one_cache_entry,
            negative_cache_remembers_not_found_briefly,
            newest_answer_wins_between_report_and_not_found,
            journal_survives_a_reopen_and_replays_in_seq_order,
            same_fingerprint_resumes_the_same_job,
            finished_job_refuses_records_and_reopening_starts_afresh,
            journal_pages_cover_every_entry_once,
            journal_takes_concurrent_writers,
            journal_rejects_unknown_jobs_and_huge_seqs,
            quota_ledger_counts_calls_in_a_window,
            an_expired_report_misses_under_every_alias,
            migrations_are_idempotent,
            purge_removes_only_what_expired,
            purge_retires_old_finished_jobs_only,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let backend = $make;
                suite::$name(&backend);
            }
        )*
    };
}

fn found_json(c: Option<Cached>) -> Option<String> {
    match c {
        Some(Cached::Found { json, .. }) => Some(json),
        _ => None,
    }
}

pub fn cache_hits_until_the_ttl_ends(b: &dyn Backend) {
    let s = b.open();
    assert_eq!(
        s.get_report("k", T).expect("get"),
        None,
        "empty cache misses"
    );
    s.put_report("k", &[], "file", r#"{"id":"k"}"#, MINUTE, T)
        .expect("put");
    let hit = s.get_report("k", T).expect("get").expect("hit");
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
        s.get_report("k", last_ms).expect("get").is_some(),
        "hit just before expiry"
    );
    assert_eq!(
        s.get_report("k", T + MINUTE).expect("get"),
        None,
        "miss at expiry"
    );
    assert_eq!(s.get_report("other", T).expect("get"), None);

    s.put_report("k", &[], "file", r#"{"id":"k","v":2}"#, MINUTE, T + HOUR)
        .expect("put");
    assert_eq!(
        found_json(s.get_report("k", T + HOUR).expect("get")).as_deref(),
        Some(r#"{"id":"k","v":2}"#),
        "a new put replaces the report and its expiry"
    );
}

pub fn aliases_make_one_cache_entry(b: &dyn Backend) {
    let s = b.open();
    let (md5, sha1, sha256) = ("m".repeat(32), "1".repeat(40), "2".repeat(64));
    s.put_report(&md5, &[&sha1, &sha256, &md5, ""], "file", "v1", HOUR, T)
        .expect("put");
    for k in [&md5, &sha1, &sha256] {
        assert_eq!(
            found_json(s.get_report(k, T).expect("get")).as_deref(),
            Some("v1"),
            "{k}"
        );
    }
    // Asked again by another hash: still one entry, updated for all.
    s.put_report(&sha256, &[&md5, &sha1], "file", "v2", HOUR, T + MINUTE)
        .expect("put");
    for k in [&md5, &sha1, &sha256] {
        assert_eq!(
            found_json(s.get_report(k, T + MINUTE).expect("get")).as_deref(),
            Some("v2"),
            "{k}"
        );
    }
    // Two entries that turn out to be one object merge.
    s.put_report("a", &[], "url", "a1", HOUR, T).expect("put");
    s.put_report("b", &[], "url", "b1", HOUR, T).expect("put");
    s.put_report("a", &["b"], "url", "ab", HOUR, T)
        .expect("put");
    assert_eq!(
        found_json(s.get_report("b", T).expect("get")).as_deref(),
        Some("ab")
    );
    let purged = s.purge(T + 2 * HOUR).expect("purge");
    assert_eq!(
        purged.reports, 2,
        "three hashes are one report, a and b are one: {purged:?}"
    );
}

pub fn negative_cache_remembers_not_found_briefly(b: &dyn Backend) {
    let s = b.open();
    s.put_not_found("nx", MINUTE, T).expect("put");
    let hit = s
        .get_report("nx", T + Duration::from_secs(30))
        .expect("get")
        .expect("hit");
    assert!(hit.is_not_found());
    assert_eq!((hit.fetched_at(), hit.expires_at()), (T, T + MINUTE));
    assert_eq!(
        s.get_report("nx", T + MINUTE).expect("get"),
        None,
        "expired"
    );
    // A later report clears the NotFound.
    s.put_not_found("nx", HOUR, T).expect("put");
    s.put_report("nx", &[], "domain", "now-known", HOUR, T)
        .expect("put");
    assert_eq!(
        found_json(s.get_report("nx", T).expect("get")).as_deref(),
        Some("now-known")
    );
}

pub fn newest_answer_wins_between_report_and_not_found(b: &dyn Backend) {
    let s = b.open();
    s.put_report("sha", &["md5"], "file", "old", 24 * HOUR, T)
        .expect("put");
    s.put_not_found("md5", HOUR, T + MINUTE).expect("put");
    assert!(s
        .get_report("md5", T + 2 * MINUTE)
        .expect("get")
        .expect("hit")
        .is_not_found());
    assert_eq!(
        found_json(s.get_report("sha", T + 2 * MINUTE).expect("get")).as_deref(),
        Some("old"),
        "other aliases keep the report"
    );
    assert_eq!(
        found_json(s.get_report("md5", T + 2 * HOUR).expect("get")).as_deref(),
        Some("old"),
        "once the NotFound expires the report shows again"
    );
}

pub fn journal_survives_a_reopen_and_replays_in_seq_order(b: &dyn Backend) {
    let job = {
        let s = b.open();
        let job = s.open_job("input=a.txt output=b.jsonl").expect("open job");
        s.journal_record(job, 0, "k0", r#"{"n":0}"#)
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
        .expect("journal batch");
        job
    };
    let s = b.open();
    assert_eq!(
        s.open_job("input=a.txt output=b.jsonl")
            .expect("reopen job"),
        job
    );
    assert_eq!(
        s.journaled(job, 1).expect("lookup").as_deref(),
        Some(r#"{"n":1}"#)
    );
    assert_eq!(s.journaled(job, 3).expect("lookup"), None);
    s.journal_record(job, 5, "k5", r#"{"n":5}"#)
        .expect("journal");
    s.journal_record(job, 3, "k3", r#"{"n":3}"#)
        .expect("journal");
    s.journal_record(job, 1, "k1", r#"{"n":1,"again":true}"#)
        .expect("rewrite");
    let entries = s.journal_entries(job).expect("entries");
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 5]);
    assert_eq!(entries[1].key, "k1");
    assert_eq!(
        entries[1].record, r#"{"n":1,"again":true}"#,
        "a rewritten seq is replaced"
    );
    let status = s.job_status(job).expect("status");
    assert_eq!((status.state, status.journaled), (JobState::Open, 5));
    assert_eq!(status.fingerprint, "input=a.txt output=b.jsonl");
}

pub fn same_fingerprint_resumes_the_same_job(b: &dyn Backend) {
    let s = b.open();
    let a = s.open_job("fp-a").expect("open");
    let again = s.open_job("fp-a").expect("open");
    let other = s.open_job("fp-b").expect("open");
    assert_eq!(a, again);
    assert_ne!(a, other);
    s.journal_record(a, 0, "x", "{}").expect("journal");
    assert_eq!(
        s.journal_entries(other).expect("entries"),
        vec![],
        "jobs do not share journals"
    );
}

pub fn finished_job_refuses_records_and_reopening_starts_afresh(b: &dyn Backend) {
    let s = b.open();
    let job = s.open_job("fp").expect("open");
    s.journal_record(job, 0, "x", "{}").expect("journal");
    s.finish_job(job).expect("finish");
    s.finish_job(job).expect("finishing twice is harmless");
    let status = s.job_status(job).expect("status");
    assert_eq!(status.state, JobState::Finished);
    assert!(status.finished_at.is_some());
    assert_eq!(
        s.journal_entries(job).expect("entries").len(),
        1,
        "readable after finishing"
    );
    assert!(
        matches!(s.journal_record(job, 1, "y", "{}"), Err(StoreError::JobFinished(j)) if j == job)
    );
    assert!(matches!(
        s.journal_records(job, &[]),
        Err(StoreError::JobFinished(_))
    ));

    let rerun = s.open_job("fp").expect("open");
    assert_ne!(rerun, job, "a finished job is not resumed");
    assert_eq!(s.journal_entries(rerun).expect("entries"), vec![]);
    assert!(
        matches!(s.job_status(job), Err(StoreError::NoSuchJob(_))),
        "superseded job is gone"
    );
}

pub fn journal_pages_cover_every_entry_once(b: &dyn Backend) {
    let s = b.open();
    let job = s.open_job("paging").expect("open");
    let entries: Vec<JournalEntry> = (0..25u64)
        .rev()
        .map(|seq| JournalEntry {
            seq: seq * 2,
            key: format!("k{seq}"),
            record: format!("{{\"n\":{seq}}}"),
        })
        .collect();
    s.journal_records(job, &entries).expect("journal");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.journal_page(job, after, 10).expect("page");
        assert!(page.len() <= 10);
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        seen.extend(page.into_iter().map(|e| e.seq));
    }
    let expected: Vec<u64> = (0..25u64).map(|n| n * 2).collect();
    assert_eq!(seen, expected);
    assert_eq!(
        s.journal_page(job, Some(10), 2)
            .expect("page")
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![12, 14]
    );
}

pub fn journal_takes_concurrent_writers(b: &dyn Backend) {
    let s = b.open();
    let job = s.open_job("threads").expect("open");
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for i in 0..50u64 {
                    let seq = t * 1000 + i;
                    if i % 2 == 0 {
                        s.journal_record(job, seq, &format!("k{seq}"), "{}")
                            .expect("journal");
                    } else {
                        let e = JournalEntry {
                            seq,
                            key: format!("k{seq}"),
                            record: "{}".into(),
                        };
                        s.journal_records(job, &[e]).expect("journal batch");
                    }
                    s.record_api_call("threads1", T).expect("ledger");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread");
    }
    assert_eq!(s.job_status(job).expect("status").journaled, 200);
    assert_eq!(s.api_calls_since("threads1", T).expect("ledger"), 200);
}

pub fn journal_rejects_unknown_jobs_and_huge_seqs(b: &dyn Backend) {
    let s = b.open();
    let ghost = store::JobId::new(987_654);
    assert!(matches!(
        s.journal_record(ghost, 0, "k", "{}"),
        Err(StoreError::NoSuchJob(_))
    ));
    assert!(matches!(s.finish_job(ghost), Err(StoreError::NoSuchJob(_))));
    assert!(matches!(s.job_status(ghost), Err(StoreError::NoSuchJob(_))));
    let job = s.open_job("big").expect("open");
    let err = s
        .journal_record(job, u64::MAX, "k", "{}")
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
    assert!(s.journal_records(job, &batch).is_err());
    assert_eq!(
        s.journal_entries(job).expect("entries"),
        vec![],
        "a failed batch writes nothing"
    );
}

pub fn quota_ledger_counts_calls_in_a_window(b: &dyn Backend) {
    let s = b.open();
    let calls = [
        T - time::Duration::days(2),
        T - time::Duration::hours(1),
        T - time::Duration::seconds(30),
        T - time::Duration::seconds(1),
        T - time::Duration::seconds(1),
    ];
    for at in calls {
        s.record_api_call("abcd1234", at).expect("record");
    }
    s.record_api_call("ffff0000", T).expect("record");
    let since = |d: time::Duration| s.api_calls_since("abcd1234", T - d).expect("count");
    assert_eq!(since(time::Duration::minutes(1)), 3);
    assert_eq!(since(time::Duration::days(1)), 4);
    assert_eq!(since(time::Duration::days(30)), 5);
    assert_eq!(s.api_calls_since("abcd1234", T).expect("count"), 0);
    assert_eq!(
        s.api_calls_since("ffff0000", T - time::Duration::days(1))
            .expect("count"),
        1
    );
    assert_eq!(
        s.api_calls_since("nobody00", T - time::Duration::days(1))
            .expect("count"),
        0
    );
    assert_eq!(
        s.api_calls_per_second("abcd1234", T - time::Duration::minutes(1))
            .expect("per second"),
        vec![
            ((T - time::Duration::seconds(30)).unix_timestamp(), 1),
            ((T - time::Duration::seconds(1)).unix_timestamp(), 2),
        ]
    );
    // A restarted process sees the same spend.
    let again = b.open();
    assert_eq!(
        again
            .api_calls_since("abcd1234", T - time::Duration::days(1))
            .expect("count"),
        4
    );
}

pub fn migrations_are_idempotent(b: &dyn Backend) {
    let first = b.open();
    first.put_report("k", &[], "ip", "v", HOUR, T).expect("put");
    first.migrate().expect("migrate again");
    drop(first);
    let second = b.open();
    second.migrate().expect("migrate a third time");
    assert_eq!(
        found_json(second.get_report("k", T).expect("get")).as_deref(),
        Some("v")
    );
}

pub fn purge_removes_only_what_expired(b: &dyn Backend) {
    let s = b.open();
    s.put_report("short", &["short-alias"], "url", "s", MINUTE, T)
        .expect("put");
    s.put_report("long", &[], "url", "l", HOUR, T).expect("put");
    s.put_not_found("nx-short", MINUTE, T).expect("put");
    s.put_not_found("nx-long", HOUR, T).expect("put");
    s.record_api_call("old00000", T - time::Duration::days(60))
        .expect("record");
    s.record_api_call("old00000", T - time::Duration::days(1))
        .expect("record");
    let purged = s.purge(T + 2 * MINUTE).expect("purge");
    assert_eq!(
        (purged.reports, purged.not_found, purged.ledger_rows),
        (1, 1, 1)
    );
    let live: BTreeMap<&str, bool> = ["short", "short-alias", "long", "nx-short", "nx-long"]
        .into_iter()
        .map(|k| (k, s.get_report(k, T).expect("get").is_some()))
        .collect();
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
        s.api_calls_since("old00000", T - time::Duration::days(90))
            .expect("count"),
        1
    );
}

pub fn purge_retires_old_finished_jobs_only(b: &dyn Backend) {
    let s = b.open();
    let finished = s.open_job("done").expect("open");
    s.journal_record(finished, 0, "k", "{}").expect("journal");
    s.finish_job(finished).expect("finish");
    let open = s.open_job("interrupted").expect("open");
    s.journal_record(open, 0, "k", "{}").expect("journal");
    // Job times come from the clock, so purge relative to it.
    let now = OffsetDateTime::now_utc();
    let soon = s.purge(now + time::Duration::days(1)).expect("purge");
    assert_eq!(soon.jobs, 0, "a recently finished job stays readable");
    let later = s.purge(now + time::Duration::days(8)).expect("purge");
    assert_eq!(later.jobs, 1);
    assert!(matches!(
        s.job_status(finished),
        Err(StoreError::NoSuchJob(_))
    ));
    assert_eq!(
        s.journal_entries(open).expect("entries").len(),
        1,
        "an open job is never retired"
    );
}

pub fn an_expired_report_misses_under_every_alias(b: &dyn Backend) {
    let s = b.open();
    s.put_report("sha", &["md5"], "file", "{}", HOUR, T)
        .expect("put");
    s.expire_report("md5", T + time::Duration::minutes(10))
        .expect("expire");
    let later = T + time::Duration::minutes(11);
    assert!(s.get_report("sha", later).expect("get").is_none());
    assert!(s.get_report("md5", later).expect("get").is_none());
    // Never lengthens a life, and an unknown key is no error.
    s.expire_report("sha", T + time::Duration::days(9))
        .expect("expire");
    assert!(s.get_report("sha", later).expect("get").is_none());
    s.expire_report("nothing", T).expect("unknown key");
}

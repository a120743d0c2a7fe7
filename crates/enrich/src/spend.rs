//! The API spend kept in the store, so that a key's budget holds across
//! runs of vtc and across instances sharing one database: the client
//! reports every request it sends, and a new client starts from what the
//! store remembers instead of from zero.

use std::sync::Arc;
use store::{Store, StoreError};
use time::OffsetDateTime;
use vt_api::{KeyLedger, QuotaLedger};

/// A [`vt_api::SpendLog`] that writes every request to the store, under
/// the client's API origin.
///
/// The client reports a request synchronously, on its request path. So
/// requests go over a channel to a writer thread that records them in
/// batches (driving the store's futures on the runtime it was created in,
/// or on a small one of its own), and dropping the log waits for that
/// thread to write what is left: the spend of a run is in the store when
/// the run ends.
pub struct StoreSpendLog {
    tx: Option<std::sync::mpsc::Sender<(String, OffsetDateTime)>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

/// Calls written in one transaction at most.
const SPEND_BATCH: usize = 512;

/// How long the writer gathers calls after the first of a batch. Without
/// it, a busy run wrote a transaction (a WAL commit, file locks) every few
/// calls; now at most about 40 a second. A crash loses at most this much
/// of the spend, which the client's back-off on 429 absorbs.
const SPEND_GATHER: std::time::Duration = std::time::Duration::from_millis(25);

impl StoreSpendLog {
    /// Records into `store` the calls made to `origin` (see
    /// [`vt_api::ClientBuilder::origin`]).
    pub fn new(store: Arc<dyn Store>, origin: String) -> StoreSpendLog {
        let (tx, rx) = std::sync::mpsc::channel::<(String, OffsetDateTime)>();
        let runtime = tokio::runtime::Handle::try_current().ok();
        let writer = std::thread::Builder::new()
            .name("vtc-spend-log".into())
            .spawn(move || {
                let own;
                let handle = match runtime {
                    Some(handle) => handle,
                    None => match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => {
                            own = rt;
                            own.handle().clone()
                        }
                        Err(e) => {
                            tracing::warn!(
                                "cannot start the spend-log writer, spend is not kept: {e}"
                            );
                            return;
                        }
                    },
                };
                // Blocks for the first call of a batch, then takes what comes
                // in the next SPEND_GATHER; ends when every sender is gone.
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    let until = std::time::Instant::now() + SPEND_GATHER;
                    while batch.len() < SPEND_BATCH {
                        let left = until.saturating_duration_since(std::time::Instant::now());
                        match rx.recv_timeout(left) {
                            Ok(call) => batch.push(call),
                            Err(_) => break,
                        }
                    }
                    let calls: Vec<(&str, OffsetDateTime)> =
                        batch.iter().map(|(k, at)| (k.as_str(), *at)).collect();
                    // Losing a count errs towards spending more than planned,
                    // which the client's back-off on 429 still absorbs.
                    if let Err(e) = handle.block_on(store.record_api_calls(&origin, &calls)) {
                        tracing::warn!("cannot record {} API calls in the store: {e}", calls.len());
                    }
                }
            });
        match writer {
            Ok(writer) => StoreSpendLog {
                tx: Some(tx),
                writer: Some(writer),
            },
            Err(e) => {
                tracing::warn!("cannot start the spend-log writer, spend is not kept: {e}");
                StoreSpendLog {
                    tx: None,
                    writer: None,
                }
            }
        }
    }
}

impl vt_api::SpendLog for StoreSpendLog {
    fn spent(&self, key: &str, at: OffsetDateTime) {
        if let Some(tx) = &self.tx {
            // Fails only once the writer is gone; nothing more to do then.
            let _ = tx.send((key.to_owned(), at));
        }
    }
}

impl Drop for StoreSpendLog {
    fn drop(&mut self) {
        // Closing the channel ends the writer once it has written the rest.
        drop(self.tx.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// What the store says each key (by label) spent at `origin` in the
/// current minute window, UTC day and month, as a ledger for
/// [`vt_api::Client::restore_quota_ledger`].
pub async fn spent_ledger(
    store: &dyn Store,
    origin: &str,
    key_labels: &[String],
    now: OffsetDateTime,
) -> Result<QuotaLedger, StoreError> {
    let day_start = now.date().midnight().assume_utc();
    let month_start = now
        .date()
        .replace_day(1)
        .unwrap_or(now.date())
        .midnight()
        .assume_utc();
    // A little more than the minute: the governor drops what has left it.
    let window_start = now - time::Duration::seconds(61);
    let mut keys = Vec::with_capacity(key_labels.len());
    for label in key_labels {
        let mut minute_slots_ms = Vec::new();
        for (second, calls) in store
            .api_calls_per_second(origin, label, window_start)
            .await?
        {
            // Bounded: a minute's calls, not a history.
            let calls = calls.min(10_000);
            minute_slots_ms.extend(std::iter::repeat_n(
                second.saturating_mul(1000),
                calls as usize,
            ));
        }
        let count = |calls: u64| u32::try_from(calls).unwrap_or(u32::MAX);
        let day_used = count(store.api_calls_since(origin, label, day_start).await?);
        let month_used = count(store.api_calls_since(origin, label, month_start).await?);
        keys.push(KeyLedger {
            key: label.clone(),
            minute_slots_ms,
            blocked_until_ms: None,
            day_start_ms: unix_ms(day_start),
            day_used,
            month_start_ms: unix_ms(month_start),
            month_used,
        });
    }
    Ok(QuotaLedger { keys })
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The quota ledger in a store shared by several processes, as the client
/// asks it ([`vt_api::SharedBudget`]): one atomic reservation per request
/// ([`Store::reserve_api_call`]), under the client's API origin.
pub struct StoreSharedBudget {
    store: Arc<dyn Store>,
    origin: String,
}

impl StoreSharedBudget {
    pub fn new(store: Arc<dyn Store>, origin: String) -> StoreSharedBudget {
        StoreSharedBudget { store, origin }
    }
}

impl vt_api::SharedBudget for StoreSharedBudget {
    fn settle<'a>(
        &'a self,
        key: &'a str,
        reserved_at: OffsetDateTime,
        answered_at: OffsetDateTime,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            self.store
                .settle_api_call(&self.origin, key, reserved_at, answered_at)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn reserve<'a>(
        &'a self,
        key: &'a str,
        budget: vt_api::QuotaBudget,
        window: std::time::Duration,
        at: OffsetDateTime,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<vt_api::SharedGrant, String>> + Send + 'a>,
    > {
        Box::pin(async move {
            let budget = store::CallBudget {
                per_minute: budget.per_minute,
                per_day: budget.per_day,
                per_month: budget.per_month,
                window,
            };
            let reserved = self
                .store
                .reserve_api_call(&self.origin, key, &budget, at)
                .await
                .map_err(|e| e.to_string())?;
            Ok(match reserved {
                store::Reservation::Granted => vt_api::SharedGrant::Granted,
                store::Reservation::Wait(wait) => vt_api::SharedGrant::Wait(wait),
                store::Reservation::Exhausted { window, resets_at } => {
                    vt_api::SharedGrant::Exhausted {
                        window: match window {
                            store::CalendarWindow::Day => vt_api::QuotaWindow::Day,
                            store::CalendarWindow::Month => vt_api::QuotaWindow::Month,
                        },
                        resets_at,
                    }
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const O: &str = "https://www.virustotal.com";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_call_logged_is_in_the_store_once_the_log_is_dropped() {
        use vt_api::SpendLog;
        let store = store::open_in_memory().await.expect("store");
        let now = datetime!(2026-11-25 12:00:30 UTC);
        let log = StoreSpendLog::new(store.clone(), O.into());
        for _ in 0..2000 {
            log.spent("key-0123456789ab", now);
        }
        drop(log);
        let since = now - time::Duration::minutes(1);
        assert_eq!(
            store
                .api_calls_since(O, "key-0123456789ab", since)
                .await
                .expect("count"),
            2000
        );
        assert_eq!(
            store
                .api_calls_since("http://127.0.0.1:8080", "key-0123456789ab", since)
                .await
                .expect("count"),
            0,
            "another origin spent nothing"
        );
    }

    #[test]
    fn a_log_made_outside_a_runtime_still_writes() {
        use vt_api::SpendLog;
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let store = rt.block_on(store::open_in_memory()).expect("store");
        let now = datetime!(2026-11-25 12:00:30 UTC);
        let log = StoreSpendLog::new(store.clone(), O.into());
        log.spent("team-a", now);
        drop(log);
        let spent = rt.block_on(store.api_calls_since(O, "team-a", now));
        assert_eq!(spent.expect("count"), 1);
    }

    #[tokio::test]
    async fn the_ledger_counts_the_minute_the_day_and_the_month() {
        let store = store::open_in_memory().await.expect("store");
        let now = datetime!(2026-11-25 12:00:30 UTC);
        for at in [
            datetime!(2026-11-02 08:00:00 UTC),
            datetime!(2026-11-25 00:00:01 UTC),
            datetime!(2026-11-25 11:59:50 UTC),
            datetime!(2026-11-25 12:00:10 UTC),
            datetime!(2026-11-25 12:00:10 UTC),
        ] {
            store
                .record_api_call(O, "key-0123456789ab", at)
                .await
                .expect("record");
        }
        let labels = ["key-0123456789ab".to_owned(), "team-b".to_owned()];
        let ledger = spent_ledger(store.as_ref(), O, &labels, now)
            .await
            .expect("ledger");
        let key = &ledger.keys[0];
        assert_eq!(key.minute_slots_ms.len(), 3);
        assert_eq!(key.day_used, 4);
        assert_eq!(key.month_used, 5);
        assert_eq!(ledger.keys[1].day_used, 0);
        assert!(ledger.keys[1].minute_slots_ms.is_empty());
        let elsewhere = spent_ledger(store.as_ref(), "http://127.0.0.1:8080", &labels, now)
            .await
            .expect("ledger");
        assert_eq!(elsewhere.keys[0].month_used, 0, "spend is per origin");
    }
}

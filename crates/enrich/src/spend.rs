//! The API spend kept in the store, so that a key's budget holds across
//! runs of vtc and across instances sharing one database: the client
//! reports every request it sends, and a new client starts from what the
//! store remembers instead of from zero.

use std::sync::Arc;
use store::{Store, StoreError};
use time::OffsetDateTime;
use vt_api::{KeyLedger, QuotaLedger};

/// A [`vt_api::SpendLog`] that writes every request to the store.
pub struct StoreSpendLog {
    store: Arc<dyn Store>,
}

impl StoreSpendLog {
    pub fn new(store: Arc<dyn Store>) -> StoreSpendLog {
        StoreSpendLog { store }
    }
}

impl vt_api::SpendLog for StoreSpendLog {
    fn spent(&self, key: &str, at: OffsetDateTime) {
        // Losing one count errs towards spending more than planned, which
        // the client's back-off on 429 still absorbs; the request must go on.
        if let Err(e) = self.store.record_api_call(key, at) {
            tracing::warn!("cannot record an API call in the store: {e}");
        }
    }
}

/// What the store says each key (by label) spent in the current minute
/// window, UTC day and month, as a ledger for
/// [`vt_api::Client::restore_quota_ledger`].
pub fn spent_ledger(
    store: &dyn Store,
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
        for (second, calls) in store.api_calls_per_second(label, window_start)? {
            // Bounded: a minute's calls, not a history.
            let calls = calls.min(10_000);
            minute_slots_ms.extend(std::iter::repeat_n(
                second.saturating_mul(1000),
                calls as usize,
            ));
        }
        let count = |since| -> Result<u32, StoreError> {
            Ok(u32::try_from(store.api_calls_since(label, since)?).unwrap_or(u32::MAX))
        };
        keys.push(KeyLedger {
            key: label.clone(),
            minute_slots_ms,
            blocked_until_ms: None,
            day_start_ms: unix_ms(day_start),
            day_used: count(day_start)?,
            month_start_ms: unix_ms(month_start),
            month_used: count(month_start)?,
        });
    }
    Ok(QuotaLedger { keys })
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::SqliteStore;
    use time::macros::datetime;

    #[test]
    fn the_ledger_counts_the_minute_the_day_and_the_month() {
        let store = SqliteStore::open_in_memory().expect("store");
        let now = datetime!(2026-11-25 12:00:30 UTC);
        for at in [
            datetime!(2026-11-02 08:00:00 UTC),
            datetime!(2026-11-25 00:00:01 UTC),
            datetime!(2026-11-25 11:59:50 UTC),
            datetime!(2026-11-25 12:00:10 UTC),
            datetime!(2026-11-25 12:00:10 UTC),
        ] {
            store.record_api_call("abcd1234", at).expect("record");
        }
        let ledger =
            spent_ledger(&store, &["abcd1234".into(), "other000".into()], now).expect("ledger");
        let key = &ledger.keys[0];
        assert_eq!(key.minute_slots_ms.len(), 3);
        assert_eq!(key.day_used, 4);
        assert_eq!(key.month_used, 5);
        assert_eq!(ledger.keys[1].day_used, 0);
        assert!(ledger.keys[1].minute_slots_ms.is_empty());
    }
}

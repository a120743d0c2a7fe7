//! The quota governor: per-key budgets for a sliding minute, the UTC day and
//! the UTC month, pooled over several keys.
//!
//! The governor only does arithmetic on a [`Clock`]'s readings: it books a
//! slot for each request and says how long the caller must wait for it. The
//! waiting itself happens in `retry`, the one module that sleeps. Booking
//! future slots (rather than answering "not yet") keeps concurrent callers
//! from waking together and overrunning the window.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use time::{Date, Month, OffsetDateTime, Time};

/// Where the governor reads the time. Injectable so the window arithmetic
/// is tested without sleeping.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current UTC time.
    fn now(&self) -> OffsetDateTime;
}

/// The system's UTC clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Who a request is for. Interactive requests (a person or a playbook
/// waiting on the answer) always go first; bulk work (feeds enriched by
/// policy) never books a slot ahead of them and never spends the part of a
/// day's or month's budget kept for them (the bulk reserve).
///
/// Carried by the task, not by each call: wrap the work in
/// [`Priority::scope`], and every request it sends, however deep, has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    #[default]
    Interactive,
    Bulk,
}

tokio::task_local! {
    static PRIORITY: Priority;
}

impl Priority {
    /// Runs `work` with every API request it sends at this priority.
    pub async fn scope<F: std::future::Future>(self, work: F) -> F::Output {
        PRIORITY.scope(self, work).await
    }

    /// The priority of the requests the current task sends (interactive
    /// outside any [`Priority::scope`]).
    pub fn current() -> Priority {
        PRIORITY.try_with(|p| *p).unwrap_or_default()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Interactive => "interactive",
            Priority::Bulk => "bulk",
        }
    }
}

/// A bulk request's answer from the governor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reservation {
    /// Send after the permit's wait (always zero for bulk).
    Granted(Permit),
    /// No slot is free now: ask again after this long. Nothing is booked,
    /// so an interactive request arriving meanwhile takes the next slot.
    Deferred(Duration),
}

/// One key's allowance; `0` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaBudget {
    pub per_minute: u32,
    pub per_day: u32,
    pub per_month: u32,
}

impl QuotaBudget {
    /// The public API's allowance: 4 a minute, 500 a day, no monthly cap.
    pub const PUBLIC: QuotaBudget = QuotaBudget {
        per_minute: 4,
        per_day: 500,
        per_month: 0,
    };

    /// No local limit at all (the server may still answer 429).
    pub const UNLIMITED: QuotaBudget = QuotaBudget {
        per_minute: 0,
        per_day: 0,
        per_month: 0,
    };
}

impl Default for QuotaBudget {
    fn default() -> Self {
        QuotaBudget::PUBLIC
    }
}

/// Which windows of a key's budget the client learns from the API
/// (`GET /users/{key}/overall_quotas`, once, before the first request)
/// instead of taking them as configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LearnBudget {
    pub minute: bool,
    pub day: bool,
    pub month: bool,
}

impl LearnBudget {
    /// Every window.
    pub const ALL: LearnBudget = LearnBudget {
        minute: true,
        day: true,
        month: true,
    };

    pub fn any(self) -> bool {
        self.minute || self.day || self.month
    }

    /// `budget` with the learnt windows taken from the API's allowances
    /// (`api_requests_hourly`, `_daily`, `_monthly`; the API has no minute
    /// allowance, so a minute gets a sixtieth of the hour, at least 1). An
    /// allowance the API does not state keeps the configured value; one of a
    /// billion or more is unlimited (0).
    pub fn apply(self, budget: QuotaBudget, quotas: &vt_model::JsonMap) -> QuotaBudget {
        let allowed = |name: &str| {
            quotas
                .get(name)
                .and_then(|q| q["user"]["allowed"].as_u64())
                .map(|n| {
                    if n >= 1_000_000_000 {
                        0
                    } else {
                        u32::try_from(n).unwrap_or(0)
                    }
                })
        };
        let mut out = budget;
        if self.minute {
            if let Some(hourly) = allowed("api_requests_hourly") {
                out.per_minute = if hourly == 0 { 0 } else { (hourly / 60).max(1) };
            }
        }
        if self.day {
            if let Some(daily) = allowed("api_requests_daily") {
                out.per_day = daily;
            }
        }
        if self.month {
            if let Some(monthly) = allowed("api_requests_monthly") {
                out.per_month = monthly;
            }
        }
        out
    }
}

/// A quota window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotaWindow {
    Minute,
    Day,
    Month,
}

impl fmt::Display for QuotaWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuotaWindow::Minute => "per-minute",
            QuotaWindow::Day => "daily",
            QuotaWindow::Month => "monthly",
        })
    }
}

/// How much of one window is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WindowUsage {
    pub used: u32,
    /// `None` when the window is unlimited.
    pub allowed: Option<u32>,
}

/// One key's quota as the governor sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyQuotaStatus {
    /// The key's label ([`crate::ApiKey::label`]).
    pub key: String,
    pub minute: WindowUsage,
    pub day: WindowUsage,
    pub month: WindowUsage,
    /// When this key can next send; `None` when its day or month is spent.
    #[serde(serialize_with = "serialize_optional_time")]
    pub next_free_slot: Option<OffsetDateTime>,
}

fn serialize_optional_time<S: serde::Serializer>(
    at: &Option<OffsetDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => {
            let text = at
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(serde::ser::Error::custom)?;
            s.serialize_some(&text)
        }
        None => s.serialize_none(),
    }
}

/// What the governor remembers, in a form a store can persist and hand
/// back after a restart. Times are Unix milliseconds (UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaLedger {
    pub keys: Vec<KeyLedger>,
}

/// One key's entry in a [`QuotaLedger`], matched on restore by `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLedger {
    /// The key's label ([`crate::ApiKey::label`]).
    pub key: String,
    /// Booked send times still inside the minute window.
    pub minute_slots_ms: Vec<i64>,
    /// Set after a 429: no request on this key before then.
    pub blocked_until_ms: Option<i64>,
    /// Midnight (UTC) of the day `day_used` counts.
    pub day_start_ms: i64,
    pub day_used: u32,
    /// Midnight (UTC) of the first of the month `month_used` counts.
    pub month_start_ms: i64,
    pub month_used: u32,
}

/// Hears of every request sent, so that what a key spent can outlive the
/// process (a store shared by later runs, or by other instances). Called
/// on the request path: keep it quick.
pub trait SpendLog: Send + Sync {
    /// One request went out on the key labelled `key` (its
    /// [`crate::ApiKey::label`]) at `at`.
    fn spent(&self, key: &str, at: OffsetDateTime);
}

/// A key's budget shared with other processes (other `vtc` instances on
/// one database): before each request the client reserves one unit here,
/// after the local governor's slot. The store behind it is the app's to
/// choose; this crate only defines the question (dependency inversion:
/// the client stays storage-free).
pub trait SharedBudget: Send + Sync {
    /// Reserve one call of the key labelled `key` (its
    /// [`crate::ApiKey::label`]) at `at` under `budget`, whose minute is a
    /// sliding `window`. An `Err` is the ledger's failure, said in a line.
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        budget: QuotaBudget,
        window: Duration,
        at: OffsetDateTime,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<SharedGrant, String>> + Send + 'a>>;

    /// The answer to the call reserved at `reserved_at` came at
    /// `answered_at`: hold its unit from then on (the server counted the
    /// call at some moment in between).
    fn settle<'a>(
        &'a self,
        key: &'a str,
        reserved_at: OffsetDateTime,
        answered_at: OffsetDateTime,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// What a [`SharedBudget`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedGrant {
    /// Booked: send now.
    Granted,
    /// The minute is full across the processes: ask again after this long.
    Wait(Duration),
    /// The day or month is spent until `resets_at`.
    Exhausted {
        window: QuotaWindow,
        resets_at: OffsetDateTime,
    },
}

/// Why the governor holds a request back before sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HoldReason {
    /// The key's per-minute budget is used up for the current window.
    MinuteBudget { per_minute: u32 },
    /// The server answered 429 although the budget had room: the key
    /// pauses for a window (or the server's `Retry-After`).
    BackOff,
}

/// What the client tells a [`QuotaObserver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuotaEvent {
    /// A request waits `wait` before it is sent.
    Waiting { wait: Duration, reason: HoldReason },
    /// A 429 the budget did not predict. `strikes` counts the back-off
    /// periods in a row that ended in another 429 on this key; at
    /// [`MAX_UNEXPECTED_429_STRIKES`] the client stops retrying (`giving_up`).
    Unexpected429 { strikes: u32, giving_up: bool },
}

/// Hears why requests wait, so a front end can say so (a terminal line, a
/// job status). Called on the request path: keep it quick.
pub trait QuotaObserver: Send + Sync {
    fn observe(&self, event: QuotaEvent);
}

/// Back-off periods in a row that may end in another 429 before requests
/// on that key fail instead of waiting again: with a 60 s window, about two
/// minutes of a server refusing everything, then an error the caller sees.
pub const MAX_UNEXPECTED_429_STRIKES: u32 = 3;

/// A booked slot: send on key `key` after waiting `wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Permit {
    pub key: usize,
    pub wait: Duration,
    /// Why `wait` is not zero.
    pub reason: Option<HoldReason>,
    /// The booked instant, to give back with [`Governor::release`].
    pub slot: OffsetDateTime,
}

#[derive(Debug)]
struct KeyState {
    label: String,
    budget: QuotaBudget,
    /// Booked send times, non-decreasing, inside the window or in the future.
    minute: VecDeque<OffsetDateTime>,
    blocked_until: Option<OffsetDateTime>,
    /// Back-off periods in a row that ended in a 429 (see
    /// [`MAX_UNEXPECTED_429_STRIKES`]); a success clears them.
    strikes: u32,
    day: Date,
    day_used: u32,
    month_start: Date,
    month_used: u32,
}

/// Per-key budgets over a pool of keys. Thread-safe; cheap to lock.
#[derive(Debug)]
pub(crate) struct Governor {
    keys: Mutex<Vec<KeyState>>,
    clock: Arc<dyn Clock>,
    window: Duration,
    /// Percent of each key's day and month kept for interactive requests.
    bulk_reserve_percent: std::sync::atomic::AtomicU8,
}

impl Governor {
    /// `keys` pairs each key's label with its budget; `window` is the length
    /// of the sliding "minute" (60 s, shorter only in tests).
    pub fn new(keys: Vec<(String, QuotaBudget)>, clock: Arc<dyn Clock>, window: Duration) -> Self {
        let now = clock.now();
        let keys = keys
            .into_iter()
            .map(|(label, budget)| KeyState {
                label,
                budget,
                minute: VecDeque::new(),
                blocked_until: None,
                strikes: 0,
                day: now.date(),
                day_used: 0,
                month_start: first_of_month(now.date()),
                month_used: 0,
            })
            .collect();
        Governor {
            keys: Mutex::new(keys),
            clock,
            window,
            bulk_reserve_percent: std::sync::atomic::AtomicU8::new(0),
        }
    }

    /// Keeps `percent` (0 to 100) of every key's daily and monthly budget
    /// for interactive requests: bulk work stops short of it.
    pub fn set_bulk_reserve(&self, percent: u8) {
        self.bulk_reserve_percent
            .store(percent.min(100), std::sync::atomic::Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<KeyState>> {
        // A panic elsewhere while holding the lock leaves counters that are
        // still plausible; keep going rather than poison every request.
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Books the soonest slot over all keys, or says every key's day or
    /// month is spent.
    #[cfg(test)]
    pub fn reserve(&self) -> Result<Permit, Error> {
        self.reserve_interactive(None)
    }

    /// [`Governor::reserve`] on key `index` only: a request that must go
    /// with one key (`/users/{that key}/...`) waits for that key's slot.
    pub fn reserve_key(&self, index: usize) -> Result<Permit, Error> {
        self.reserve_interactive(Some(index))
    }

    fn reserve_interactive(&self, only: Option<usize>) -> Result<Permit, Error> {
        match self.reserve_for(only, Priority::Interactive)? {
            Reservation::Granted(permit) => Ok(permit),
            // Interactive requests always book; this arm is never taken.
            Reservation::Deferred(_) => Err(Error::InvalidConfig(
                "an interactive request was deferred".into(),
            )),
        }
    }

    /// A slot for a request of `priority`. Interactive: the soonest slot,
    /// booked (possibly in the future). Bulk: only a slot free now, on a
    /// key whose day and month still have room above the bulk reserve;
    /// else [`Reservation::Deferred`] (nothing booked) or
    /// [`Error::BulkReserve`].
    pub fn reserve_for(
        &self,
        only: Option<usize>,
        priority: Priority,
    ) -> Result<Reservation, Error> {
        let now = self.clock.now();
        let window = self.window;
        let bulk = priority == Priority::Bulk;
        let reserve = self
            .bulk_reserve_percent
            .load(std::sync::atomic::Ordering::Relaxed);
        let mut keys = self.lock();
        let mut best: Option<(usize, OffsetDateTime)> = None;
        let mut soonest_reset: Option<(QuotaWindow, OffsetDateTime)> = None;
        let mut bulk_reset: Option<(QuotaWindow, OffsetDateTime)> = None;
        for (index, key) in keys.iter_mut().enumerate() {
            if only.is_some_and(|only| only != index) {
                continue;
            }
            key.roll(now, window);
            if let Some((spent, resets_at)) = key.spent() {
                if soonest_reset.is_none_or(|(_, at)| resets_at < at) {
                    soonest_reset = Some((spent, resets_at));
                }
                continue;
            }
            if bulk {
                if let Some((spent, resets_at)) = key.bulk_spent(reserve) {
                    if bulk_reset.is_none_or(|(_, at)| resets_at < at) {
                        bulk_reset = Some((spent, resets_at));
                    }
                    continue;
                }
            }
            let slot = key.next_slot(now, window);
            if best.is_none_or(|(_, at)| slot < at) {
                best = Some((index, slot));
            }
        }
        match (best, bulk_reset, soonest_reset) {
            (Some((_, slot)), _, _) if bulk && slot > now => {
                Ok(Reservation::Deferred(positive(slot - now)))
            }
            (Some((index, slot)), _, _) => {
                let mut reason = None;
                if let Some(key) = keys.get_mut(index) {
                    key.book(slot);
                    if slot > now {
                        reason = Some(if key.blocked_until.is_some_and(|b| b >= slot) {
                            HoldReason::BackOff
                        } else {
                            HoldReason::MinuteBudget {
                                per_minute: key.budget.per_minute,
                            }
                        });
                    }
                }
                Ok(Reservation::Granted(Permit {
                    key: index,
                    wait: positive(slot - now),
                    reason,
                    slot,
                }))
            }
            (None, Some((window, resets_at)), _) => Err(Error::BulkReserve {
                window,
                percent: reserve,
                resets_at,
            }),
            (None, None, Some((window, resets_at))) => {
                Err(Error::QuotaExhausted { window, resets_at })
            }
            (None, None, None) => Err(Error::InvalidConfig("no API key configured".into())),
        }
    }

    /// Gives a booked slot back: the request never reached the server
    /// (the connection was refused), so it cost no quota.
    pub fn release(&self, permit: &Permit) {
        if let Some(state) = self.lock().get_mut(permit.key) {
            if let Some(at) = state.minute.iter().position(|t| *t == permit.slot) {
                state.minute.remove(at);
                state.day_used = state.day_used.saturating_sub(1);
                state.month_used = state.month_used.saturating_sub(1);
            }
        }
    }

    /// The sliding "minute" window's length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// A 429 came anyway: treat the key's minute window as full, or honour
    /// the server's `Retry-After` when it is longer.
    ///
    /// Returns the key's strikes: a 429 that arrives while the key is
    /// already pausing belongs to the same burst (requests that were in
    /// flight together) and adds none; one after the pause ended adds one.
    pub fn back_off(&self, key: usize, retry_after: Option<Duration>) -> u32 {
        let now = self.clock.now();
        let pause = retry_after.map_or(self.window, |d| d.max(self.window));
        let until = now + pause;
        let mut keys = self.lock();
        let Some(state) = keys.get_mut(key) else {
            return 0;
        };
        if state.blocked_until.is_none_or(|b| b <= now) {
            state.strikes = state.strikes.saturating_add(1);
        }
        state.blocked_until = Some(state.blocked_until.map_or(until, |b| b.max(until)));
        state.strikes
    }

    /// Replaces key `index`'s budget (learnt from the API).
    pub fn set_budget(&self, index: usize, budget: QuotaBudget) {
        if let Some(state) = self.lock().get_mut(index) {
            state.budget = budget;
        }
    }

    /// Key `index`'s budget now.
    pub fn budget(&self, index: usize) -> Option<QuotaBudget> {
        self.lock().get(index).map(|s| s.budget)
    }

    /// A request on `key` got an answer that was not a 429.
    pub fn succeeded(&self, key: usize) {
        if let Some(state) = self.lock().get_mut(key) {
            state.strikes = 0;
        }
    }

    pub fn status(&self) -> Vec<KeyQuotaStatus> {
        let now = self.clock.now();
        let window = self.window;
        let mut keys = self.lock();
        keys.iter_mut()
            .map(|key| {
                key.roll(now, window);
                let in_window = key.minute.iter().filter(|t| **t <= now).count();
                KeyQuotaStatus {
                    key: key.label.clone(),
                    minute: usage(in_window, key.budget.per_minute),
                    day: usage(key.day_used as usize, key.budget.per_day),
                    month: usage(key.month_used as usize, key.budget.per_month),
                    next_free_slot: key.spent().is_none().then(|| key.next_slot(now, window)),
                }
            })
            .collect()
    }

    pub fn snapshot(&self) -> QuotaLedger {
        let now = self.clock.now();
        let window = self.window;
        let mut keys = self.lock();
        QuotaLedger {
            keys: keys
                .iter_mut()
                .map(|key| {
                    key.roll(now, window);
                    KeyLedger {
                        key: key.label.clone(),
                        minute_slots_ms: key.minute.iter().map(|t| unix_ms(*t)).collect(),
                        blocked_until_ms: key.blocked_until.map(unix_ms),
                        day_start_ms: unix_ms(key.day.midnight().assume_utc()),
                        day_used: key.day_used,
                        month_start_ms: unix_ms(key.month_start.midnight().assume_utc()),
                        month_used: key.month_used,
                    }
                })
                .collect(),
        }
    }

    /// Takes back what a snapshot remembered for the keys it names; stale
    /// days, months and minute slots are dropped on the next roll.
    pub fn restore(&self, ledger: &QuotaLedger) {
        let now = self.clock.now();
        let window = self.window;
        let mut keys = self.lock();
        for saved in &ledger.keys {
            let Some(key) = keys.iter_mut().find(|k| k.label == saved.key) else {
                continue;
            };
            let mut slots: Vec<OffsetDateTime> = saved
                .minute_slots_ms
                .iter()
                .filter_map(|ms| from_unix_ms(*ms))
                .collect();
            slots.extend(key.minute.iter().copied());
            slots.sort();
            key.minute = slots.into();
            key.blocked_until = saved
                .blocked_until_ms
                .and_then(from_unix_ms)
                .max(key.blocked_until);
            if let Some(day) = from_unix_ms(saved.day_start_ms).map(|t| t.date()) {
                if day == key.day {
                    key.day_used = key.day_used.max(saved.day_used);
                }
            }
            if let Some(month) = from_unix_ms(saved.month_start_ms).map(|t| t.date()) {
                if month == key.month_start {
                    key.month_used = key.month_used.max(saved.month_used);
                }
            }
            key.roll(now, window);
        }
    }
}

impl KeyState {
    /// Forgets what the passage of time has released.
    fn roll(&mut self, now: OffsetDateTime, window: Duration) {
        while self.minute.front().is_some_and(|t| *t + window <= now) {
            self.minute.pop_front();
        }
        if self.blocked_until.is_some_and(|b| b <= now) {
            self.blocked_until = None;
        }
        if now.date() != self.day {
            self.day = now.date();
            self.day_used = 0;
        }
        let month_start = first_of_month(now.date());
        if month_start != self.month_start {
            self.month_start = month_start;
            self.month_used = 0;
        }
    }

    /// The window that is spent and when it resets, if any.
    fn spent(&self) -> Option<(QuotaWindow, OffsetDateTime)> {
        let b = self.budget;
        if b.per_month > 0 && self.month_used >= b.per_month {
            return Some((QuotaWindow::Month, start_of_next_month(self.month_start)));
        }
        if b.per_day > 0 && self.day_used >= b.per_day {
            let tomorrow = self.day.next_day().unwrap_or(self.day);
            return Some((QuotaWindow::Day, tomorrow.midnight().assume_utc()));
        }
        None
    }

    /// For bulk work: the window whose room above the reserve (`percent`
    /// of its budget, rounded up) is spent, and when it resets.
    fn bulk_spent(&self, percent: u8) -> Option<(QuotaWindow, OffsetDateTime)> {
        let bulk_room = |budget: u32| {
            let kept = (u64::from(budget) * u64::from(percent)).div_ceil(100);
            u64::from(budget).saturating_sub(kept)
        };
        let b = self.budget;
        if b.per_month > 0 && u64::from(self.month_used) >= bulk_room(b.per_month) {
            return Some((QuotaWindow::Month, start_of_next_month(self.month_start)));
        }
        if b.per_day > 0 && u64::from(self.day_used) >= bulk_room(b.per_day) {
            let tomorrow = self.day.next_day().unwrap_or(self.day);
            return Some((QuotaWindow::Day, tomorrow.midnight().assume_utc()));
        }
        None
    }

    /// The first instant at which one more request fits the minute window.
    fn next_slot(&self, now: OffsetDateTime, window: Duration) -> OffsetDateTime {
        let mut slot = now;
        let per_minute = self.budget.per_minute as usize;
        if per_minute > 0 && self.minute.len() >= per_minute {
            // The booked slot `per_minute` places back must leave the window
            // first; the margin absorbs clock skew and the server counting the
            // window's edge as inside.
            if let Some(oldest) = self.minute.get(self.minute.len() - per_minute) {
                slot = slot.max(*oldest + window + window / 60);
            }
        }
        if let Some(blocked) = self.blocked_until {
            slot = slot.max(blocked);
        }
        slot
    }

    fn book(&mut self, slot: OffsetDateTime) {
        // Slots are booked in non-decreasing order except after a back-off
        // ends earlier than the last booking; keep the queue sorted anyway.
        let at = self.minute.partition_point(|t| *t <= slot);
        self.minute.insert(at, slot);
        self.day_used = self.day_used.saturating_add(1);
        self.month_used = self.month_used.saturating_add(1);
    }
}

fn usage(used: usize, allowed: u32) -> WindowUsage {
    WindowUsage {
        used: u32::try_from(used).unwrap_or(u32::MAX),
        allowed: (allowed > 0).then_some(allowed),
    }
}

fn positive(d: time::Duration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::ZERO)
}

fn first_of_month(date: Date) -> Date {
    date.replace_day(1).unwrap_or(date)
}

fn start_of_next_month(month_start: Date) -> OffsetDateTime {
    let (year, month) = match month_start.month() {
        Month::December => (month_start.year() + 1, Month::January),
        m => (month_start.year(), m.next()),
    };
    Date::from_calendar_date(year, month, 1)
        .unwrap_or(month_start)
        .with_time(Time::MIDNIGHT)
        .assume_utc()
}

fn unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_unix_ms(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// A clock the test moves by hand.
    #[derive(Debug)]
    struct ManualClock(Mutex<OffsetDateTime>);

    impl ManualClock {
        fn at(t: OffsetDateTime) -> Arc<ManualClock> {
            Arc::new(ManualClock(Mutex::new(t)))
        }
        fn advance(&self, d: Duration) {
            let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            *t += d;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> OffsetDateTime {
            *self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    fn governor(clock: &Arc<ManualClock>, budgets: &[QuotaBudget]) -> Governor {
        let keys = budgets
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("key{i}"), *b))
            .collect();
        Governor::new(keys, clock.clone(), MINUTE)
    }

    fn waits(g: &Governor, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| g.reserve().expect("permit").wait.as_secs())
            .collect()
    }

    #[test]
    fn fifth_request_in_a_minute_waits_for_the_first_to_leave_the_window() {
        let clock = ManualClock::at(datetime!(2026-11-23 10:00:00 UTC));
        let g = governor(&clock, &[QuotaBudget::PUBLIC]);
        assert_eq!(waits(&g, 4), [0, 0, 0, 0]);
        clock.advance(Duration::from_secs(15));
        // Slots 1..=4 were booked at 0 s; the fifth fits at 60 s (plus the
        // 1 s margin), 46 s from now.
        assert_eq!(waits(&g, 1), [46]);
        // The sixth, seventh and eighth are also queued behind the first four.
        assert_eq!(waits(&g, 3), [46, 46, 46]);
        // The ninth must wait for the fifth (booked at 61 s) to leave: 122 s.
        assert_eq!(waits(&g, 1), [107]);
    }

    #[test]
    fn bulk_never_books_ahead_so_interactive_requests_go_first() {
        let clock = ManualClock::at(datetime!(2026-11-23 10:00:00 UTC));
        let g = governor(
            &clock,
            &[QuotaBudget {
                per_minute: 2,
                per_day: 0,
                per_month: 0,
            }],
        );
        let bulk = |g: &Governor| g.reserve_for(None, Priority::Bulk).expect("bulk");
        assert!(matches!(bulk(&g), Reservation::Granted(p) if p.wait.is_zero()));
        assert!(matches!(bulk(&g), Reservation::Granted(p) if p.wait.is_zero()));
        // The window is full: bulk is told to come back, and books nothing.
        let Reservation::Deferred(wait) = bulk(&g) else {
            panic!("bulk booked ahead")
        };
        assert_eq!(wait.as_secs(), 61);
        assert_eq!(g.status()[0].day.used, 2);
        // An interactive request books the first slot that frees up...
        assert_eq!(waits(&g, 1), [61]);
        clock.advance(Duration::from_secs(61));
        // ...so when bulk comes back, the window is full again (the
        // interactive slot is in it) until the second bulk slot leaves.
        assert!(matches!(bulk(&g), Reservation::Granted(p) if p.wait.is_zero()));
        assert!(matches!(bulk(&g), Reservation::Deferred(_)));
    }

    #[test]
    fn bulk_stops_at_the_reserve_and_interactive_spends_it() {
        let clock = ManualClock::at(datetime!(2026-11-23 10:00:00 UTC));
        let g = governor(
            &clock,
            &[QuotaBudget {
                per_minute: 0,
                per_day: 10,
                per_month: 0,
            }],
        );
        g.set_bulk_reserve(25); // 2.5 rounded up: 3 of 10 kept
        for _ in 0..7 {
            assert!(matches!(
                g.reserve_for(None, Priority::Bulk),
                Ok(Reservation::Granted(_))
            ));
        }
        let refused = g.reserve_for(None, Priority::Bulk).expect_err("reserve");
        assert!(
            matches!(refused, Error::BulkReserve { window: QuotaWindow::Day, percent: 25, resets_at }
                if resets_at == datetime!(2026-11-24 0:00 UTC)),
            "{refused:?}"
        );
        assert_eq!(waits(&g, 3), [0, 0, 0]);
        assert!(matches!(g.reserve(), Err(Error::QuotaExhausted { .. })));
        // A new day: bulk may go again.
        clock.advance(Duration::from_secs(14 * 3600));
        assert!(matches!(
            g.reserve_for(None, Priority::Bulk),
            Ok(Reservation::Granted(_))
        ));
    }

    #[tokio::test]
    async fn the_priority_is_the_task_s_own() {
        assert_eq!(Priority::current(), Priority::Interactive);
        let inside = Priority::Bulk.scope(async { Priority::current() }).await;
        assert_eq!(inside, Priority::Bulk);
        assert_eq!(Priority::current(), Priority::Interactive);
    }

    #[test]
    fn a_released_slot_costs_nothing() {
        let clock = ManualClock::at(datetime!(2026-11-23 10:00:00 UTC));
        let g = governor(&clock, &[QuotaBudget::PUBLIC]);
        for _ in 0..10 {
            let permit = g.reserve().expect("permit");
            assert!(permit.wait.is_zero());
            g.release(&permit);
        }
        assert_eq!(waits(&g, 4), [0, 0, 0, 0]);
        assert_eq!(g.status()[0].day.used, 4);
    }

    #[test]
    fn window_slides_rather_than_resetting_on_the_minute() {
        let clock = ManualClock::at(datetime!(2026-11-23 10:00:50 UTC));
        let g = governor(&clock, &[QuotaBudget::PUBLIC]);
        assert_eq!(waits(&g, 4), [0, 0, 0, 0]);
        // Crossing 10:01:00 frees nothing: the window is 60 s from each send.
        clock.advance(Duration::from_secs(20));
        assert_eq!(waits(&g, 1), [41]);
        clock.advance(Duration::from_secs(39));
        let status = &g.status()[0];
        assert_eq!(
            status.minute.used, 4,
            "the booked future slot is not used yet"
        );
        assert_eq!(status.minute.allowed, Some(4));
        assert_eq!(
            status.next_free_slot,
            Some(datetime!(2026-11-23 10:01:51 UTC))
        );
    }

    #[test]
    fn day_budget_spent_is_an_error_naming_the_next_utc_midnight() {
        let clock = ManualClock::at(datetime!(2026-11-23 23:59:00 UTC));
        let budget = QuotaBudget {
            per_minute: 0,
            per_day: 3,
            per_month: 0,
        };
        let g = governor(&clock, &[budget]);
        assert_eq!(waits(&g, 3), [0, 0, 0]);
        match g.reserve() {
            Err(Error::QuotaExhausted { window, resets_at }) => {
                assert_eq!(window, QuotaWindow::Day);
                assert_eq!(resets_at, datetime!(2026-11-24 00:00:00 UTC));
            }
            other => panic!("expected QuotaExhausted, got {other:?}"),
        }
        assert_eq!(g.status()[0].next_free_slot, None);
        clock.advance(Duration::from_secs(60));
        assert_eq!(waits(&g, 1), [0], "a new UTC day resets the budget");
    }

    #[test]
    fn month_budget_resets_on_the_first_of_the_next_month() {
        let clock = ManualClock::at(datetime!(2026-12-31 12:00:00 UTC));
        let budget = QuotaBudget {
            per_minute: 0,
            per_day: 0,
            per_month: 2,
        };
        let g = governor(&clock, &[budget]);
        assert_eq!(waits(&g, 2), [0, 0]);
        match g.reserve() {
            Err(Error::QuotaExhausted { window, resets_at }) => {
                assert_eq!(window, QuotaWindow::Month);
                assert_eq!(resets_at, datetime!(2027-01-01 00:00:00 UTC));
            }
            other => panic!("expected QuotaExhausted, got {other:?}"),
        }
    }

    #[test]
    fn pooled_keys_add_up_and_the_soonest_key_goes() {
        let clock = ManualClock::at(datetime!(2026-11-23 10:00:00 UTC));
        let g = governor(&clock, &[QuotaBudget::PUBLIC, QuotaBudget::PUBLIC]);
        let permits: Vec<Permit> = (0..8).map(|_| g.reserve().expect("permit")).collect();
        assert!(permits.iter().all(|p| p.wait.is_zero()), "{permits:?}");
        assert_eq!(permits.iter().filter(|p| p.key == 0).count(), 4);
        assert_eq!(permits.iter().filter(|p| p.key == 1).count(), 4);
        clock.advance(Duration::from_secs(10));
        assert_eq!(waits(&g, 1), [51]);
    }

    #[test]
    fn a_request_pinned_to_a_key_waits_for_that_key_not_the_pool() {
        let clock = ManualClock::at(datetime!(2026-03-10 12:00 UTC));
        let g = governor(
            &clock,
            &[QuotaBudget {
                per_minute: 1,
                per_day: 0,
                per_month: 0,
            }; 2],
        );
        assert_eq!(g.reserve_key(0).expect("permit").key, 0);
        let pinned = g.reserve_key(0).expect("permit");
        assert_eq!(
            pinned.key, 0,
            "the other key is free, but not the one asked for"
        );
        assert!(pinned.wait > Duration::ZERO);
        assert_eq!(
            g.reserve().expect("permit").key,
            1,
            "the pool still uses both"
        );
    }

    #[test]
    fn a_spent_key_leaves_the_pool_to_the_others() {
        let clock = ManualClock::at(datetime!(2026-11-23 10:00:00 UTC));
        let one_a_day = QuotaBudget {
            per_minute: 0,
            per_day: 1,
            per_month: 0,
        };
        let g = governor(&clock, &[one_a_day, QuotaBudget::UNLIMITED]);
        let keys: Vec<usize> = (0..5).map(|_| g.reserve().expect("permit").key).collect();
        assert_eq!(keys, [0, 1, 1, 1, 1]);
    }

    #[test]
    fn back_off_after_a_429_blocks_the_key_for_a_window_or_retry_after() {
        let clock = ManualClock::at(datetime!(2026-11-23 10:00:00 UTC));
        let g = governor(&clock, &[QuotaBudget::UNLIMITED]);
        g.back_off(0, None);
        assert_eq!(waits(&g, 1), [60]);
        clock.advance(Duration::from_secs(60));
        g.back_off(0, Some(Duration::from_secs(90)));
        assert_eq!(waits(&g, 1), [90]);
    }

    #[test]
    fn a_burst_of_429s_is_one_strike_and_a_success_clears_the_strikes() {
        let clock = ManualClock::at(datetime!(2026-11-23 10:00:00 UTC));
        let g = governor(&clock, &[QuotaBudget::UNLIMITED]);
        // Requests in flight together all see the same 429 burst.
        assert_eq!(g.back_off(0, None), 1);
        assert_eq!(g.back_off(0, None), 1);
        let held = g.reserve().expect("permit");
        assert_eq!(held.reason, Some(HoldReason::BackOff));
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            g.back_off(0, None),
            2,
            "a 429 after the pause is a new strike"
        );
        clock.advance(Duration::from_secs(60));
        g.succeeded(0);
        assert_eq!(g.back_off(0, None), 1);
    }

    #[test]
    fn a_full_minute_says_the_budget_is_why_a_request_waits() {
        let clock = ManualClock::at(datetime!(2026-11-23 10:00:00 UTC));
        let g = governor(&clock, &[QuotaBudget::PUBLIC]);
        for _ in 0..4 {
            assert_eq!(g.reserve().expect("permit").reason, None);
        }
        assert_eq!(
            g.reserve().expect("permit").reason,
            Some(HoldReason::MinuteBudget { per_minute: 4 })
        );
    }

    #[test]
    fn ledger_snapshot_restores_into_a_fresh_governor() {
        let clock = ManualClock::at(datetime!(2026-11-23 10:00:00 UTC));
        let g = governor(&clock, &[QuotaBudget::PUBLIC]);
        assert_eq!(waits(&g, 4), [0, 0, 0, 0]);
        let ledger = g.snapshot();
        let json = serde_json::to_string(&ledger).expect("serialisable");
        let back: QuotaLedger = serde_json::from_str(&json).expect("deserialisable");
        assert_eq!(back, ledger);

        clock.advance(Duration::from_secs(30));
        let fresh = governor(&clock, &[QuotaBudget::PUBLIC]);
        fresh.restore(&back);
        assert_eq!(fresh.status()[0].day.used, 4);
        assert_eq!(
            waits(&fresh, 1),
            [31],
            "the restored minute window still holds"
        );
    }
}

//! Request counters, per-key quotas and fault injection: everything
//! `/_emulator/stats` reports and `/_emulator/reset` clears.

use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Which quota window a request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaWindow {
    Minute,
    Day,
    Month,
}

impl QuotaWindow {
    fn describe(self) -> &'static str {
        match self {
            QuotaWindow::Minute => "per-minute",
            QuotaWindow::Day => "daily",
            QuotaWindow::Month => "monthly",
        }
    }
}

/// The budget of every key (`None` = unlimited).
#[derive(Debug, Clone, Copy, Default)]
pub struct QuotaLimits {
    pub minute: Option<u32>,
    pub day: Option<u32>,
    pub month: Option<u32>,
}

/// What one key has spent.
#[derive(Debug, Default)]
struct KeyUsage {
    /// Instants of the requests of the last 60 s, oldest first.
    minute: VecDeque<Instant>,
    /// (UTC minute number, requests in it) for the last 60 minutes: bounded
    /// whatever the request rate, unlike one instant per request.
    hour: VecDeque<(i64, u32)>,
    /// (UTC day number, requests that day).
    day: (i64, u32),
    /// (UTC year * 12 + month, requests that month).
    month: (i64, u32),
}

const MINUTE: Duration = Duration::from_secs(60);

impl KeyUsage {
    fn prune(&mut self, now: Instant, epoch: i64, window: Duration) {
        let (day, month) = day_and_month(epoch);
        let minute = epoch.div_euclid(60);
        while self
            .minute
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.minute.pop_front();
        }
        while self.hour.front().is_some_and(|(m, _)| *m <= minute - 60) {
            self.hour.pop_front();
        }
        if self.day.0 != day {
            self.day = (day, 0);
        }
        if self.month.0 != month {
            self.month = (month, 0);
        }
    }
}

/// Counters of one run; a reset replaces them with fresh ones.
#[derive(Debug, Default)]
pub struct Accounting {
    requests_total: u64,
    by_status: BTreeMap<u16, u64>,
    by_route: BTreeMap<String, u64>,
    uploads_total: u64,
    usage: HashMap<String, KeyUsage>,
    /// key -> UTC day number -> endpoint family -> requests.
    daily: HashMap<String, BTreeMap<i64, BTreeMap<&'static str, u64>>>,
    /// The sliding "minute" (`None`: 60 s).
    minute_window: Option<Duration>,
}

/// What one key spent, as `/users/{id}/overall_quotas` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub minute: u32,
    pub hour: u32,
    pub day: u32,
    pub month: u32,
}

/// The quota error's message for a window and its limit.
pub fn quota_message(window: QuotaWindow, limit: u32) -> String {
    format!(
        "Quota exceeded: the {} allowance of {limit} requests is used up",
        window.describe()
    )
}

impl Accounting {
    /// Accounting whose sliding "minute" is `window` long (a test of many
    /// windows need not wait minutes: `vtc emulator --quota-window-secs`).
    pub fn with_minute_window(window: Duration) -> Accounting {
        Accounting {
            // Zero would empty the window at once: no minute limit at all.
            minute_window: Some(window).filter(|w| !w.is_zero()),
            ..Accounting::default()
        }
    }

    fn window(&self) -> Duration {
        self.minute_window.unwrap_or(MINUTE)
    }

    /// Counts a request against `key`, or says which window is full (a
    /// refused request spends nothing).
    pub fn spend(
        &mut self,
        key: &str,
        family: &'static str,
        limits: QuotaLimits,
        now: Instant,
        epoch: i64,
    ) -> Result<(), (QuotaWindow, u32)> {
        let day = epoch.div_euclid(86_400);
        let window = self.window();
        let usage = self.usage.entry(key.to_owned()).or_default();
        usage.prune(now, epoch, window);
        if let Some(limit) = limits.minute {
            if usage.minute.len() >= limit as usize {
                return Err((QuotaWindow::Minute, limit));
            }
        }
        if let Some(limit) = limits.day {
            if usage.day.1 >= limit {
                return Err((QuotaWindow::Day, limit));
            }
        }
        if let Some(limit) = limits.month {
            if usage.month.1 >= limit {
                return Err((QuotaWindow::Month, limit));
            }
        }
        usage.minute.push_back(now);
        let minute = epoch.div_euclid(60);
        match usage.hour.back_mut() {
            Some((m, n)) if *m == minute => *n += 1,
            _ => usage.hour.push_back((minute, 1)),
        }
        usage.day.1 += 1;
        usage.month.1 += 1;
        *self
            .daily
            .entry(key.to_owned())
            .or_default()
            .entry(day)
            .or_default()
            .entry(family)
            .or_default() += 1;
        Ok(())
    }

    pub fn record(&mut self, route: String, status: u16) {
        self.requests_total += 1;
        *self.by_status.entry(status).or_default() += 1;
        *self.by_route.entry(route).or_default() += 1;
    }

    pub fn record_upload(&mut self) {
        self.uploads_total += 1;
    }

    /// Requests `key` spent in each window now.
    pub fn usage_of(&mut self, key: &str, now: Instant, epoch: i64) -> Usage {
        let window = self.window();
        match self.usage.get_mut(key) {
            Some(usage) => {
                usage.prune(now, epoch, window);
                Usage {
                    minute: usage.minute.len() as u32,
                    hour: usage.hour.iter().map(|(_, n)| n).sum(),
                    day: usage.day.1,
                    month: usage.month.1,
                }
            }
            None => Usage::default(),
        }
    }

    /// Requests of `key` per UTC day (`first..=last`, day numbers) and endpoint family.
    pub fn daily_usage(
        &self,
        key: &str,
        first: i64,
        last: i64,
    ) -> BTreeMap<i64, BTreeMap<&'static str, u64>> {
        self.daily
            .get(key)
            .map(|days| {
                days.range(first..=last)
                    .map(|(d, families)| (*d, families.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The JSON of `GET /_emulator/stats`.
    pub fn snapshot(&mut self, now: Instant, epoch: i64) -> Value {
        let mut quota = BTreeMap::new();
        let window = self.window();
        for (key, usage) in &mut self.usage {
            usage.prune(now, epoch, window);
            let entry = quota
                .entry(crate::key_fingerprint(key))
                .or_insert((0usize, 0u32, 0u32));
            entry.0 += usage.minute.len();
            entry.1 += usage.day.1;
            entry.2 += usage.month.1;
        }
        let quota: serde_json::Map<String, Value> = quota
            .into_iter()
            .map(|(k, (m, d, mo))| (k, json!({"minute": m, "day": d, "month": mo})))
            .collect();
        let by_status: serde_json::Map<String, Value> = self
            .by_status
            .iter()
            .map(|(s, n)| (s.to_string(), json!(n)))
            .collect();
        json!({
            "requests_total": self.requests_total,
            "by_status": by_status,
            "by_route": self.by_route,
            "uploads_total": self.uploads_total,
            "quota": quota,
        })
    }
}

/// The endpoint family a request counts under in `/users/{id}/api_usage`,
/// from its method and route template (without `/api/v3`).
pub fn usage_family(template: &str) -> &'static str {
    let segments: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let singular = |collection: &str| match collection {
        "files" => "file",
        "urls" => "url",
        "domains" => "domain",
        _ => "ip_address",
    };
    match segments.as_slice() {
        ["files"] | ["files", "upload_url"] | ["_upload", _] => "file_upload",
        ["urls"] => "url_scan",
        ["files", "{id}", "analyse"] => "file_analyse",
        ["urls", "{id}", "analyse"] => "url_analyse",
        ["files", "{id}", "download" | "download_url"] | ["_download", _] => "file_download",
        ["intelligence", "zip_files", _, "download" | "download_url"] | ["_zip_download", _] => {
            "file_download"
        }
        [_, "{id}", "comments"] => "comments",
        [_, "{id}", "votes"] => "votes",
        [c, "{id}", _, ..] if matches!(*c, "files" | "urls" | "domains" | "ip_addresses") => {
            match singular(c) {
                "file" => "file_relationships",
                "url" => "url_relationships",
                "domain" => "domain_relationships",
                _ => "ip_address_relationships",
            }
        }
        ["files", ..] => "files",
        ["urls", ..] => "urls",
        ["domains", ..] => "domains",
        ["ip_addresses", ..] => "ip_addresses",
        ["analyses", ..] => "analyses",
        ["search"] => "search",
        ["intelligence", ..] => "intelligence_search",
        ["private", ..] => "private_scanning",
        ["widget", ..] => "widget",
        ["users", ..] => "users",
        ["metadata"] => "metadata",
        _ => "other",
    }
}

fn day_and_month(epoch: i64) -> (i64, i64) {
    let day = epoch.div_euclid(86_400);
    let month = time::OffsetDateTime::from_unix_timestamp(epoch)
        .map(|t| i64::from(t.year()) * 12 + i64::from(u8::from(t.month())))
        .unwrap_or(day / 31);
    (day, month)
}

/// The ways an injected fault breaks an answer, used in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// 503 with a `TransientError` JSON body.
    Transient,
    /// 500 with a plain-text body.
    PlainServerError,
    /// The connection is dropped before a complete answer.
    ConnectionReset,
    /// A 200 whose body stops halfway through its `Content-Length`.
    TruncatedBody,
    /// 429 `QuotaExceededError` although the key's quota had room: the
    /// "no warning" a client cannot predict from its budget.
    RateLimited,
    /// A 200 `application/json` whose body is not JSON (a front server's
    /// page, bytes garbled on the way).
    MalformedJson,
    /// The right answer, but only after [`crate::EmulatorConfig::fault_delay`]
    /// (set it above the client's timeout).
    Slow,
    /// The connection is accepted and the request read, and nothing is
    /// ever answered (until `fault_delay` times ten has passed, so the
    /// emulator can still shut down).
    Hang,
}

impl FaultKind {
    /// Every kind, by its command-line name.
    pub const ALL: [(&'static str, FaultKind); 8] = [
        ("503", FaultKind::Transient),
        ("500", FaultKind::PlainServerError),
        ("reset", FaultKind::ConnectionReset),
        ("truncated", FaultKind::TruncatedBody),
        ("429", FaultKind::RateLimited),
        ("malformed", FaultKind::MalformedJson),
        ("slow", FaultKind::Slow),
        ("hang", FaultKind::Hang),
    ];

    /// The kind named `name` (`503`, `500`, `reset`, `truncated`, `429`,
    /// `malformed`, `slow`, `hang`).
    pub fn parse(name: &str) -> Option<FaultKind> {
        FaultKind::ALL
            .iter()
            .find(|(n, _)| *n == name.trim())
            .map(|(_, k)| *k)
    }

    pub fn name(self) -> &'static str {
        FaultKind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }
}

/// The kinds used when none are chosen: the four that need no timeout.
pub const DEFAULT_FAULT_KINDS: [FaultKind; 4] = [
    FaultKind::Transient,
    FaultKind::PlainServerError,
    FaultKind::ConnectionReset,
    FaultKind::TruncatedBody,
];

/// Decides, reproducibly from a seed, which requests fail and how.
#[derive(Debug)]
pub struct FaultPlan {
    rate: f64,
    kinds: Vec<FaultKind>,
    rng: fastrand::Rng,
    next: usize,
}

impl FaultPlan {
    /// Faults at `rate`, cycling through `kinds` (empty: the defaults).
    pub fn new(rate: f64, seed: u64, kinds: &[FaultKind]) -> FaultPlan {
        let kinds = if kinds.is_empty() {
            DEFAULT_FAULT_KINDS.to_vec()
        } else {
            kinds.to_vec()
        };
        FaultPlan {
            rate: rate.clamp(0.0, 1.0),
            kinds,
            rng: fastrand::Rng::with_seed(seed),
            next: 0,
        }
    }

    pub fn is_active(&self) -> bool {
        self.rate > 0.0
    }

    /// The fault for the next request, if it is to fail.
    pub fn draw(&mut self) -> Option<FaultKind> {
        if self.rate <= 0.0 || self.rng.f64() >= self.rate {
            return None;
        }
        let kind = *self.kinds.get(self.next % self.kinds.len().max(1))?;
        self.next += 1;
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_request_spends_no_quota() {
        let mut acc = Accounting::default();
        let limits = QuotaLimits {
            minute: Some(2),
            ..QuotaLimits::default()
        };
        let now = Instant::now();
        assert!(acc.spend("k", "files", limits, now, 0).is_ok());
        assert!(acc.spend("k", "files", limits, now, 0).is_ok());
        assert_eq!(
            acc.spend("k", "files", limits, now, 0),
            Err((QuotaWindow::Minute, 2))
        );
        let usage = acc.usage_of("k", now, 0);
        assert_eq!(
            (usage.minute, usage.hour, usage.day, usage.month),
            (2, 2, 2, 2)
        );
        let later = now + Duration::from_secs(61);
        assert!(acc.spend("k", "files", limits, later, 61).is_ok());
        assert_eq!(acc.daily_usage("k", 0, 0)[&0]["files"], 3);
    }

    #[test]
    fn a_shorter_minute_window_frees_the_budget_sooner() {
        let mut acc = Accounting::with_minute_window(Duration::from_secs(6));
        let limits = QuotaLimits {
            minute: Some(1),
            ..QuotaLimits::default()
        };
        let now = Instant::now();
        assert!(acc.spend("k", "files", limits, now, 0).is_ok());
        let within = now + Duration::from_secs(5);
        assert_eq!(
            acc.spend("k", "files", limits, within, 5),
            Err((QuotaWindow::Minute, 1))
        );
        let after = now + Duration::from_secs(6);
        assert!(acc.spend("k", "files", limits, after, 6).is_ok());
        // Zero is no window at all, not "no limit": the default minute.
        let mut zero = Accounting::with_minute_window(Duration::ZERO);
        assert!(zero.spend("k", "files", limits, now, 0).is_ok());
        assert!(zero.spend("k", "files", limits, within, 5).is_err());
    }

    #[test]
    fn day_counter_rolls_over_at_utc_midnight() {
        let mut acc = Accounting::default();
        let limits = QuotaLimits {
            day: Some(1),
            ..QuotaLimits::default()
        };
        let now = Instant::now();
        assert!(acc.spend("k", "urls", limits, now, 86_399).is_ok());
        assert!(acc.spend("k", "urls", limits, now, 86_399).is_err());
        assert!(acc.spend("k", "urls", limits, now, 86_400).is_ok());
    }

    #[test]
    fn routes_fall_into_usage_families() {
        for (template, family) in [
            ("/files/{id}", "files"),
            ("/files/{id}/analyse", "file_analyse"),
            ("/files/{id}/{relationship}", "file_relationships"),
            (
                "/domains/{id}/relationships/{relationship}",
                "domain_relationships",
            ),
            ("/urls/{id}/comments", "comments"),
            ("/files", "file_upload"),
            ("/intelligence/search", "intelligence_search"),
            ("/files/{id}/download", "file_download"),
        ] {
            assert_eq!(usage_family(template), family, "{template}");
        }
    }

    #[test]
    fn every_fault_kind_is_named_and_a_chosen_list_is_cycled() {
        for (name, kind) in FaultKind::ALL {
            assert_eq!(FaultKind::parse(name), Some(kind));
            assert_eq!(kind.name(), name);
        }
        assert_eq!(FaultKind::parse("teapot"), None);
        let chosen = [FaultKind::Hang, FaultKind::RateLimited];
        let mut plan = FaultPlan::new(1.0, 9, &chosen);
        let drawn: Vec<_> = (0..4).filter_map(|_| plan.draw()).collect();
        assert_eq!(drawn, [chosen, chosen].concat());
    }

    #[test]
    fn faults_are_reproducible_and_cycle_through_every_kind() {
        let draws = |seed| {
            let mut plan = FaultPlan::new(0.5, seed, &[]);
            (0..40).map(|_| plan.draw()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        let mut always = FaultPlan::new(1.0, 1, &[]);
        let kinds: Vec<_> = (0..4).filter_map(|_| always.draw()).collect();
        assert_eq!(kinds, DEFAULT_FAULT_KINDS.to_vec());
    }
}

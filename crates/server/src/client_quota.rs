//! Per-client quotas: "N enrichments per duration" per token, as threat-intel
//! platforms configure their enrichment tools. A window starts at a fixed
//! boundary (the UTC minute, hour, day, Monday, first of the month, or a
//! multiple of the duration since the Unix epoch) and the quota resets at
//! the start of the next one. Usage is kept in the store
//! ([`store::Store::charge_usage`]), so it survives a restart and is shared
//! by every instance on one database.
//!
//! What counts (docs/service.md): a lookup that misses the cache (or asks
//! for `refresh`), each item of a batch, each indicator an ingest queues,
//! each action call. Cached lookups, reports, job status and results do not.

use crate::{AppError, AppState, Caller, Role};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The longest window: a ledger row lives [`store::LEDGER_RETENTION`].
const MAX_WINDOW: Duration = Duration::days(31);

/// How long a quota window lasts and where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaWindow {
    /// A multiple of seconds, aligned to the Unix epoch (minute, hour,
    /// day and `N/30m`-like forms).
    Fixed(Duration),
    /// `count` weeks from a Monday 00:00 UTC (aligned to the first Monday
    /// after the epoch).
    Weeks(i64),
    /// The calendar month, UTC.
    Month,
}

/// A client's quota: `limit` enrichments per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientQuota {
    pub limit: u64,
    pub window: QuotaWindow,
}

/// Why a quota text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quota {text:?}: {reason} (e.g. 500/day, 100/hour, 20/30m, 1000/week, 10000/month)")]
pub struct QuotaParseError {
    text: String,
    reason: &'static str,
}

impl std::str::FromStr for ClientQuota {
    type Err = QuotaParseError;

    /// `N/UNIT` or `N/KUNIT`: units `s`/`second`, `m`/`min`/`minute`,
    /// `h`/`hour`, `d`/`day`, `w`/`week`, `month` (count 1 only); plural
    /// forms too. At most 31 days.
    fn from_str(text: &str) -> Result<ClientQuota, QuotaParseError> {
        let fail = |reason| QuotaParseError {
            text: text.chars().take(40).collect(),
            reason,
        };
        let (limit, per) = text.trim().split_once('/').ok_or_else(|| fail("no '/'"))?;
        let limit: u64 = limit
            .trim()
            .parse()
            .map_err(|_| fail("the count is not a whole number"))?;
        if limit == 0 {
            return Err(fail("the count must be at least 1"));
        }
        let per = per.trim().to_ascii_lowercase();
        let digits = per.chars().take_while(char::is_ascii_digit).count();
        let (count, unit) = per.split_at(digits);
        let count: i64 = if count.is_empty() {
            1
        } else {
            count
                .parse()
                .map_err(|_| fail("the duration is too long"))?
        };
        if count == 0 {
            return Err(fail("the duration must be longer than zero"));
        }
        let unit = unit.trim();
        let unit = unit
            .strip_suffix('s')
            .filter(|u| u.len() > 1)
            .unwrap_or(unit);
        let seconds = |n: i64| {
            count
                .checked_mul(n)
                .map(Duration::seconds)
                .filter(|d| *d <= MAX_WINDOW)
                .ok_or_else(|| fail("the duration is longer than 31 days"))
        };
        let window = match unit {
            "s" | "sec" | "second" => QuotaWindow::Fixed(seconds(1)?),
            "m" | "min" | "minute" => QuotaWindow::Fixed(seconds(60)?),
            "h" | "hour" => QuotaWindow::Fixed(seconds(3600)?),
            "d" | "day" => QuotaWindow::Fixed(seconds(86_400)?),
            "w" | "week" => {
                seconds(7 * 86_400)?;
                QuotaWindow::Weeks(count)
            }
            "month" if count == 1 => QuotaWindow::Month,
            "month" => return Err(fail("a month quota is per one month")),
            _ => return Err(fail("unknown duration unit")),
        };
        Ok(ClientQuota { limit, window })
    }
}

impl fmt::Display for ClientQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.window {
            QuotaWindow::Fixed(d) => {
                let s = d.whole_seconds();
                let (n, unit) = [(86_400, "d"), (3600, "h"), (60, "m")]
                    .into_iter()
                    .find(|(u, _)| s % u == 0)
                    .map_or((s, "s"), |(u, name)| (s / u, name));
                let unit = match (n, unit) {
                    (1, "d") => "day".to_owned(),
                    (1, "h") => "hour".to_owned(),
                    (1, "m") => "minute".to_owned(),
                    (1, "s") => "second".to_owned(),
                    (n, u) => format!("{n}{u}"),
                };
                write!(f, "{}/{unit}", self.limit)
            }
            QuotaWindow::Weeks(1) => write!(f, "{}/week", self.limit),
            QuotaWindow::Weeks(n) => write!(f, "{}/{n}w", self.limit),
            QuotaWindow::Month => write!(f, "{}/month", self.limit),
        }
    }
}

impl QuotaWindow {
    /// The start of the window holding `now`.
    pub fn start(self, now: OffsetDateTime) -> OffsetDateTime {
        match self {
            QuotaWindow::Fixed(len) => {
                let len = len.whole_seconds().max(1);
                let t = now.unix_timestamp();
                OffsetDateTime::from_unix_timestamp(t - t.rem_euclid(len)).unwrap_or(now)
            }
            QuotaWindow::Weeks(n) => {
                // 1970-01-05 was a Monday.
                const FIRST_MONDAY: i64 = 4 * 86_400;
                let len = (n.max(1)) * 7 * 86_400;
                let t = now.unix_timestamp() - FIRST_MONDAY;
                OffsetDateTime::from_unix_timestamp(t - t.rem_euclid(len) + FIRST_MONDAY)
                    .unwrap_or(now)
            }
            QuotaWindow::Month => now
                .date()
                .replace_day(1)
                .unwrap_or(now.date())
                .midnight()
                .assume_utc(),
        }
    }

    /// The start of the window after the one holding `now`: when the quota resets.
    pub fn next_start(self, now: OffsetDateTime) -> OffsetDateTime {
        let start = self.start(now);
        match self {
            QuotaWindow::Fixed(len) => start + len,
            QuotaWindow::Weeks(n) => start + Duration::weeks(n.max(1)),
            QuotaWindow::Month => {
                let date = start.date();
                let (year, month) = match date.month() {
                    time::Month::December => (date.year() + 1, time::Month::January),
                    m => (date.year(), m.next()),
                };
                time::Date::from_calendar_date(year, month, 1)
                    .map(|d| d.midnight().assume_utc())
                    .unwrap_or(start + Duration::days(31))
            }
        }
    }
}

/// A client without a quota of its own is still counted, per UTC day.
const UNLIMITED_WINDOW: QuotaWindow = QuotaWindow::Fixed(Duration::DAY);

fn subject(name: &str) -> String {
    format!("client:{name}")
}

/// One client's usage, as `GET /v1/quota` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct ClientUsage {
    pub name: String,
    pub role: String,
    /// As configured (`500/day`); `null` for no quota of its own.
    pub quota: Option<String>,
    pub used: u64,
    pub allowed: Option<u64>,
    pub window_start: String,
    pub resets_at: String,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Counts `amount` enrichments against `caller`'s quota, or refuses them
/// all with a 429 (and `Retry-After`) when they do not fit.
pub(crate) async fn charge(state: &AppState, caller: &Caller, amount: u64) -> Result<(), AppError> {
    if amount == 0 {
        return Ok(());
    }
    let now = OffsetDateTime::now_utc();
    let (window, limit) = match caller.quota {
        Some(q) => (q.window, Some(q.limit)),
        None => (UNLIMITED_WINDOW, None),
    };
    let charged = state
        .store()
        .charge_usage(&subject(&caller.name), window.start(now), amount, limit)
        .await?;
    if charged.granted {
        return Ok(());
    }
    let resets_at = window.next_start(now);
    let allowed = limit.unwrap_or(0);
    let left = allowed.saturating_sub(charged.used);
    let message = if amount > 1 && left > 0 {
        format!(
            "this client's quota ({}) has {left} left in this window, fewer than the {amount} asked; it resets at {}",
            caller.quota.map(|q| q.to_string()).unwrap_or_default(),
            rfc3339(resets_at)
        )
    } else {
        format!(
            "this client's quota ({}) is spent; it resets at {}",
            caller.quota.map(|q| q.to_string()).unwrap_or_default(),
            rfc3339(resets_at)
        )
    };
    Err(AppError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "ClientQuotaExceeded",
        message,
    )
    .resets_at(resets_at))
}

/// Each client's usage: every token's for an admin, the caller's own otherwise.
pub(crate) async fn usage(state: &AppState, caller: &Caller) -> Result<Value, AppError> {
    let now = OffsetDateTime::now_utc();
    let tokens = state.store().tokens().await?;
    let mut clients = Vec::new();
    for token in tokens {
        if caller.role != Role::Admin && token.name != caller.name {
            continue;
        }
        let quota = match token.quota.as_deref().map(str::parse::<ClientQuota>) {
            Some(Ok(q)) => Some(q),
            None => None,
            Some(Err(e)) => {
                tracing::warn!("token {:?} in the store: {e}", token.name);
                None
            }
        };
        let window = quota.map_or(UNLIMITED_WINDOW, |q| q.window);
        let start = window.start(now);
        clients.push(ClientUsage {
            used: state.store().usage(&subject(&token.name), start).await?,
            allowed: quota.map(|q| q.limit),
            quota: quota.map(|q| q.to_string()),
            name: token.name,
            role: token.role,
            window_start: rfc3339(start),
            resets_at: rfc3339(window.next_start(now)),
        });
    }
    Ok(json!(clients))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use time::macros::datetime;

    fn q(text: &str) -> ClientQuota {
        text.parse().unwrap()
    }

    #[test]
    fn quotas_parse_in_the_forms_tips_use() {
        assert_eq!(
            q("500/day"),
            ClientQuota {
                limit: 500,
                window: QuotaWindow::Fixed(Duration::DAY)
            }
        );
        assert_eq!(
            q("20/30m").window,
            QuotaWindow::Fixed(Duration::minutes(30))
        );
        assert_eq!(q("20/30min").window, q("20/30m").window);
        assert_eq!(q("4/minute").window, QuotaWindow::Fixed(Duration::MINUTE));
        assert_eq!(q("100/hours").window, QuotaWindow::Fixed(Duration::HOUR));
        assert_eq!(q("7/2d").window, QuotaWindow::Fixed(Duration::days(2)));
        assert_eq!(q("1000/week").window, QuotaWindow::Weeks(1));
        assert_eq!(q("10000/month").window, QuotaWindow::Month);
        assert_eq!(q("3/5s").window, QuotaWindow::Fixed(Duration::seconds(5)));
        for (text, shown) in [
            ("500/day", "500/day"),
            ("20/30m", "20/30m"),
            ("5/120m", "5/2h"),
            ("1/week", "1/week"),
            ("9/month", "9/month"),
            ("3/5s", "3/5s"),
        ] {
            assert_eq!(q(text).to_string(), shown);
        }
        for bad in [
            "500",
            "0/day",
            "x/day",
            "5/0m",
            "5/fortnight",
            "5/2month",
            "5/32d",
            "5/5w",
            "",
        ] {
            let err = bad.parse::<ClientQuota>().unwrap_err().to_string();
            assert!(err.starts_with("quota "), "{bad}: {err}");
        }
    }

    #[test]
    fn windows_reset_at_the_start_of_the_next_duration() {
        let now = datetime!(2026-11-18 13:47:12 UTC); // a Wednesday
        let day = q("1/day").window;
        assert_eq!(day.start(now), datetime!(2026-11-18 0:00 UTC));
        assert_eq!(day.next_start(now), datetime!(2026-11-19 0:00 UTC));
        let half_hour = q("1/30m").window;
        assert_eq!(half_hour.start(now), datetime!(2026-11-18 13:30 UTC));
        assert_eq!(half_hour.next_start(now), datetime!(2026-11-18 14:00 UTC));
        let week = q("1/week").window;
        assert_eq!(week.start(now), datetime!(2026-11-16 0:00 UTC));
        assert_eq!(week.next_start(now), datetime!(2026-11-23 0:00 UTC));
        let month = q("1/month").window;
        assert_eq!(month.start(now), datetime!(2026-11-01 0:00 UTC));
        assert_eq!(
            month.next_start(datetime!(2026-12-31 23:00 UTC)),
            datetime!(2027-01-01 0:00 UTC)
        );
    }
}

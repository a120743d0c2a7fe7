//! Threat-intelligence feeds: what other platforms subscribe to or import.
//!
//! Every feed is made from [`FeedEntry`]s (a [`Record`] plus where vtc
//! learnt it and when), chosen by one [`FeedFilter`], and written in one
//! [`FeedFormat`]: a Carbon Black EDR feed ([`carbon_black`]), a STIX 2.1
//! bundle ([`stix`]) or a MISP event ([`misp`]). The entries come from the
//! report cache today (see `app::feed`) and from the collector's binaries
//! later: both only build entries.
//!
//! Every id in every format is derived from the indicator (UUIDv5, see
//! [`uuid5`]), never drawn at random, so exporting the same entries twice
//! gives the same document and a subscriber updates objects instead of
//! piling up copies. Every string that came from VirusTotal or a file
//! (names, threat labels, URLs) is bounded and stripped of control
//! characters before it goes into a title or a description.

pub mod carbon_black;
pub mod misp;
pub mod stix;

use ioc::IndicatorKind;
use serde::Deserialize;
use sha1::{Digest, Sha1};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, Time};
use verdict::{Record, Verdict};

/// One indicator a feed may carry: the enrichment record (verdict,
/// detection, hashes, size, names, threat label) and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub record: Record,
    /// Where vtc learnt of it: `enrich` for the report cache (lookups,
    /// batches, the service); the collector adds its sources (`folder`,
    /// `hashes`, `carbonblack`).
    pub sources: Vec<String>,
    /// When vtc last fetched or updated what it knows of it.
    pub updated_at: OffsetDateTime,
}

/// The source of entries made from the report cache.
pub const SOURCE_ENRICH: &str = "enrich";

impl FeedEntry {
    /// When the entry's facts date from: VirusTotal's last analysis, else
    /// when vtc fetched it. What `timestamp`, `modified` and `valid_from`
    /// say, so that re-exports of unchanged entries are identical.
    pub fn dated(&self) -> OffsetDateTime {
        self.record.last_analysis_time().unwrap_or(self.updated_at)
    }

    /// The value the feeds' ids are derived from: kind and normalised indicator.
    fn identity(&self) -> String {
        let kind = self.record.kind.map_or("none", IndicatorKind::as_str);
        format!("{kind}:{}", self.record.indicator)
    }
}

/// The least severe verdict a feed carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinVerdict {
    /// Bad only (the default: a feed EDR servers act on).
    #[default]
    Bad,
    /// Suspect and bad.
    Suspect,
}

impl MinVerdict {
    pub fn admits(self, verdict: Verdict) -> bool {
        match self {
            MinVerdict::Bad => verdict == Verdict::Bad,
            MinVerdict::Suspect => verdict >= Verdict::Suspect,
        }
    }
}

impl std::str::FromStr for MinVerdict {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<MinVerdict, FilterError> {
        match s.trim() {
            "bad" => Ok(MinVerdict::Bad),
            "suspect" => Ok(MinVerdict::Suspect),
            other => Err(FilterError::Verdict(bounded(other, 40))),
        }
    }
}

/// Which entries a feed carries: all of the conditions set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedFilter {
    pub min_verdict: MinVerdict,
    /// Entries updated at or after this time.
    pub since: Option<OffsetDateTime>,
    /// These kinds only; empty: every kind.
    pub kinds: Vec<IndicatorKind>,
    /// Entries from one of these sources only; empty: every source.
    pub sources: Vec<String>,
}

impl FeedFilter {
    pub fn admits(&self, entry: &FeedEntry) -> bool {
        let record = &entry.record;
        record.error.is_none()
            && !record.indicator.is_empty()
            && self.min_verdict.admits(record.verdict)
            && self.since.is_none_or(|since| entry.updated_at >= since)
            && (self.kinds.is_empty() || record.kind.is_some_and(|k| self.kinds.contains(&k)))
            && (self.sources.is_empty() || entry.sources.iter().any(|s| self.sources.contains(s)))
    }

    /// The filter of a feed URL's query or the export's options:
    /// `min_verdict` (`bad`, `suspect`), `since` (see [`parse_since`]),
    /// `type` (comma-separated kinds), `source` (comma-separated).
    pub fn from_parts(
        min_verdict: Option<&str>,
        since: Option<&str>,
        kinds: Option<&str>,
        sources: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<FeedFilter, FilterError> {
        let list = |s: Option<&str>| -> Vec<String> {
            s.into_iter()
                .flat_map(|s| s.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let kinds = list(kinds)
            .iter()
            .map(|k| parse_kind(k))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FeedFilter {
            min_verdict: min_verdict.map(str::parse).transpose()?.unwrap_or_default(),
            since: since.map(|s| parse_since(s, now)).transpose()?,
            kinds,
            sources: list(sources),
        })
    }
}

/// `file`, `url`, `domain`, `ip` (also `hash`, `ip_address`).
pub fn parse_kind(s: &str) -> Result<IndicatorKind, FilterError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "file" | "hash" => Ok(IndicatorKind::File),
        "url" => Ok(IndicatorKind::Url),
        "domain" => Ok(IndicatorKind::Domain),
        "ip" | "ip_address" => Ok(IndicatorKind::Ip),
        other => Err(FilterError::Kind(bounded(other, 40))),
    }
}

/// A point in time: RFC 3339 (`2026-11-20T10:00:00Z`), a date
/// (`2026-11-20`, midnight UTC), or an age back from `now` (`30M`, `12H`,
/// `7D`, `2W`: minutes, hours, days, weeks, as the Carbon Black
/// connector's `rescan_window` writes them; also `90S`, seconds), in
/// either case. `vtc feed export --since` and `vtc decisions --since`.
pub fn parse_since(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime, FilterError> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(s, &date_format) {
        return Ok(d.with_time(Time::MIDNIGHT).assume_utc());
    }
    let age = s
        .char_indices()
        .last()
        .and_then(|(i, unit)| Some((s[..i].parse::<u32>().ok()?, unit)))
        .and_then(|(n, unit)| {
            let n = i64::from(n);
            Some(match unit.to_ascii_uppercase() {
                'S' => time::Duration::seconds(n),
                'M' => time::Duration::minutes(n),
                'H' => time::Duration::hours(n),
                'D' => time::Duration::days(n),
                'W' => time::Duration::weeks(n),
                _ => return None,
            })
        });
    age.and_then(|a| now.checked_sub(a))
        .ok_or_else(|| FilterError::Since(bounded(s, 40)))
}

/// Why a filter does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    #[error("unknown minimum verdict {0:?}: use bad or suspect")]
    Verdict(String),
    #[error("unknown type {0:?}: use file, url, domain or ip")]
    Kind(String),
    #[error(
        "cannot read {0:?} as a time: give 2026-11-20, 2026-11-20T10:00:00Z or an age such as 12H, 7D, 2W"
    )]
    Since(String),
    #[error("unknown feed format {0:?}: use cb, stix or misp")]
    Format(String),
}

/// The three feed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    /// Carbon Black EDR (Response) feed JSON.
    CarbonBlack,
    /// A STIX 2.1 bundle.
    Stix,
    /// A MISP event.
    Misp,
}

impl FeedFormat {
    pub const ALL: [FeedFormat; 3] = [FeedFormat::CarbonBlack, FeedFormat::Stix, FeedFormat::Misp];

    /// The name `--format` and the feed URLs use.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedFormat::CarbonBlack => "cb",
            FeedFormat::Stix => "stix",
            FeedFormat::Misp => "misp",
        }
    }
}

impl std::str::FromStr for FeedFormat {
    type Err = FilterError;
    fn from_str(s: &str) -> Result<FeedFormat, FilterError> {
        FeedFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s.trim())
            .ok_or_else(|| FilterError::Format(bounded(s, 40)))
    }
}

/// The `[feeds]` table of the config file: how the feeds present
/// themselves, and the secret an EDR server may put in a feed URL.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct FeedConfig {
    /// The Carbon Black feed's short name: letters and digits only.
    pub name: String,
    pub display_name: String,
    pub provider_url: String,
    pub summary: String,
    pub tech_data: String,
    pub category: String,
    /// Lets `/feeds/*.json?secret=...` be read without a bearer token, as
    /// EDR servers subscribe to a URL. Unset: a reader token only.
    pub secret: Option<FeedSecret>,
}

impl Default for FeedConfig {
    fn default() -> FeedConfig {
        FeedConfig {
            name: "vtc".into(),
            display_name: "VirusTotal (vtc)".into(),
            provider_url: "https://www.virustotal.com/".into(),
            summary: "Binaries and indicators that VirusTotal's engines flag as malicious, \
                      published by vtc from its VirusTotal lookups."
                .into(),
            tech_data: "Made by vtc from VirusTotal API v3 reports. Hashes only are sent to \
                        VirusTotal unless whole-binary submission is turned on."
                .into(),
            category: "Connectors".into(),
            secret: None,
        }
    }
}

/// Shows everything but the secret.
impl std::fmt::Debug for FeedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedConfig")
            .field("name", &self.name)
            .field("display_name", &self.display_name)
            .field("provider_url", &self.provider_url)
            .field("category", &self.category)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl FeedConfig {
    /// Checks what a feed's subscriber would refuse, once, at start.
    pub fn validate(&self) -> Result<(), FeedConfigError> {
        if self.name.is_empty()
            || self.name.len() > 64
            || !self.name.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(FeedConfigError::Name);
        }
        for (field, value) in [
            ("display_name", &self.display_name),
            ("summary", &self.summary),
            ("tech_data", &self.tech_data),
            ("category", &self.category),
            ("provider_url", &self.provider_url),
        ] {
            if value.trim().is_empty() {
                return Err(FeedConfigError::Empty(field));
            }
        }
        if let Some(secret) = &self.secret {
            if secret.0.len() < FeedSecret::MIN_LEN {
                return Err(FeedConfigError::ShortSecret);
            }
        }
        Ok(())
    }
}

/// Why the `[feeds]` table is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FeedConfigError {
    #[error("name must be 1 to 64 letters and digits (Carbon Black refuses others)")]
    Name,
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error(
        "secret must be at least {} characters (e.g. the output of `openssl rand -hex 32`)",
        FeedSecret::MIN_LEN
    )]
    ShortSecret,
}

/// The feed URLs' shared secret. Never shown: `Debug` prints a redaction.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct FeedSecret(String);

impl FeedSecret {
    /// Shorter secrets could be guessed.
    pub const MIN_LEN: usize = 16;

    pub fn new(secret: impl Into<String>) -> FeedSecret {
        FeedSecret(secret.into())
    }

    /// Whether `given` is the secret, in time that does not depend on
    /// where they differ: both are hashed first, so neither the length nor
    /// a common prefix shows in how long the answer takes.
    pub fn matches(&self, given: &str) -> bool {
        use sha2::Sha256;
        let (a, b) = (
            Sha256::digest(self.0.as_bytes()),
            Sha256::digest(given.as_bytes()),
        );
        a.iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }
}

impl std::fmt::Debug for FeedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FeedSecret(<redacted>)")
    }
}

/// Writes `entries` admitted by `filter` as one feed document.
pub fn render(
    format: FeedFormat,
    config: &FeedConfig,
    entries: &[FeedEntry],
    filter: &FeedFilter,
    now: OffsetDateTime,
) -> Result<Vec<u8>, serde_json::Error> {
    let chosen: Vec<&FeedEntry> = entries.iter().filter(|e| filter.admits(e)).collect();
    match format {
        FeedFormat::CarbonBlack => {
            serde_json::to_vec_pretty(&carbon_black::feed(config, &chosen, now))
        }
        FeedFormat::Stix => serde_json::to_vec_pretty(&stix::bundle(config, &chosen)),
        FeedFormat::Misp => serde_json::to_vec_pretty(&misp::event(config, &chosen, now)),
    }
}

/// A name-based UUID (RFC 4122 version 5: SHA-1 of the namespace and the
/// name), as STIX asks for ids of observables and as re-exports need.
pub fn uuid5(namespace: &[u8; 16], name: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(namespace);
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex_lower(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The namespace of every id vtc derives (a random UUID, fixed forever:
/// changing it would change every id subscribers hold).
pub const VTC_NAMESPACE: [u8; 16] = [
    0x3b, 0x6f, 0x1c, 0x52, 0x8e, 0x0a, 0x4d, 0x21, 0x9c, 0x57, 0x41, 0xd2, 0x6a, 0x0e, 0x93, 0x7c,
];

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// At most `max` characters, control characters as spaces, the cut
/// marked `…`: attacker-controlled text made safe to put in a title.
pub(crate) fn bounded(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max + 1)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
    }
    out
}

/// A time as STIX and MISP write it: RFC 3339 in UTC with milliseconds.
pub(crate) fn utc_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-20 10:00 UTC);

    #[test]
    fn uuid5_matches_the_rfc_example() {
        // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
        let dns: [u8; 16] = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            uuid5(&dns, "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
    }

    #[test]
    fn since_takes_dates_times_and_ages() {
        assert_eq!(
            parse_since("2026-11-01", NOW).unwrap(),
            datetime!(2026-11-01 0:00 UTC)
        );
        assert_eq!(
            parse_since("2026-11-19T08:30:00+01:00", NOW).unwrap(),
            datetime!(2026-11-19 07:30 UTC)
        );
        assert_eq!(
            parse_since("12H", NOW).unwrap(),
            datetime!(2026-11-19 22:00 UTC)
        );
        assert_eq!(
            parse_since("2w", NOW).unwrap(),
            datetime!(2026-11-06 10:00 UTC)
        );
        assert_eq!(
            parse_since("30M", NOW).unwrap(),
            datetime!(2026-11-20 9:30 UTC)
        );
        assert_eq!(
            parse_since("90s", NOW).unwrap(),
            datetime!(2026-11-20 9:58:30 UTC)
        );
        let err = parse_since("last tuesday", NOW).unwrap_err();
        assert!(err.to_string().contains("7D"), "{err}");
        assert!(parse_since("", NOW).is_err());
        assert!(parse_since("7Y", NOW).is_err());
    }

    #[test]
    fn filters_parse_and_refuse_with_one_clear_line() {
        let f = FeedFilter::from_parts(
            Some("suspect"),
            Some("7D"),
            Some("file, domain"),
            Some("enrich"),
            NOW,
        )
        .unwrap();
        assert_eq!(f.min_verdict, MinVerdict::Suspect);
        assert_eq!(f.kinds, vec![IndicatorKind::File, IndicatorKind::Domain]);
        assert_eq!(f.sources, vec!["enrich".to_owned()]);
        assert_eq!(f.since, Some(datetime!(2026-11-13 10:00 UTC)));
        let err = FeedFilter::from_parts(Some("good"), None, None, None, NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown minimum verdict \"good\": use bad or suspect"
        );
        let err = FeedFilter::from_parts(None, None, Some("email"), None, NOW).unwrap_err();
        assert!(err.to_string().contains("file, url, domain or ip"), "{err}");
        assert_eq!("stix".parse::<FeedFormat>(), Ok(FeedFormat::Stix));
        assert!("csv".parse::<FeedFormat>().is_err());
    }

    #[test]
    fn the_secret_never_shows_and_matches_exactly() {
        let secret = FeedSecret::new("0123456789abcdef-feed");
        assert!(secret.matches("0123456789abcdef-feed"));
        assert!(!secret.matches("0123456789abcdef-fee"));
        assert!(!secret.matches(""));
        let config = FeedConfig {
            secret: Some(secret),
            ..FeedConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        config.validate().unwrap();
        let short = FeedConfig {
            secret: Some(FeedSecret::new("short")),
            ..FeedConfig::default()
        };
        assert_eq!(short.validate(), Err(FeedConfigError::ShortSecret));
        let bad_name = FeedConfig {
            name: "vt feed".into(),
            ..FeedConfig::default()
        };
        assert_eq!(bad_name.validate(), Err(FeedConfigError::Name));
    }

    #[test]
    fn times_are_utc_with_milliseconds() {
        assert_eq!(
            utc_millis(datetime!(2026-11-20 11:00:05.123456 +01:00)),
            "2026-11-20T10:00:05.123Z"
        );
    }
}

//! The Carbon Black EDR (Response) feed: `feedinfo` and one report per
//! malicious binary, as the Carbon Black – VirusTotal connector published
//! it and as Carbon Black's own feed library (`cbfeeds`) validates it.
//!
//! Files only: the feed's reports tag the binaries endpoints ran, as the
//! original connector's did; URLs, domains and addresses go in the STIX
//! and MISP feeds. A report's `score` is the detection ratio in percent,
//! rounded down as the original connector computed it
//! (`int(positives / total * 100)`), but at least 1: a binary the verdict
//! calls bad is never published with the score Carbon Black reads as
//! "no threat".

use super::{bounded, FeedConfig, FeedEntry};
use base64::Engine;
use ioc::{FileHash, IndicatorKind};
use serde::Serialize;
use time::OffsetDateTime;
use verdict::Detection;

/// The feed's icon, a 32×32 PNG bundled with vtc.
const ICON_PNG: &[u8] = include_bytes!("feed-icon.png");

/// Longest report title, in characters.
const MAX_TITLE: usize = 200;

#[derive(Debug, Serialize)]
pub struct Feed {
    pub feedinfo: FeedInfo,
    pub reports: Vec<Report>,
}

#[derive(Debug, Serialize)]
pub struct FeedInfo {
    pub name: String,
    pub display_name: String,
    pub provider_url: String,
    pub summary: String,
    pub tech_data: String,
    /// Base64 of a PNG.
    pub icon: String,
    pub category: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// Letters, digits, `-`, `_` and `.` only (cbfeeds' rule).
    pub id: String,
    /// Unix seconds: the last analysis.
    pub timestamp: i64,
    pub title: String,
    /// 0 to 100.
    pub score: u8,
    pub link: String,
    pub iocs: Iocs,
    /// Letters and digits, 32 at most each (cbfeeds' rule).
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Iocs {
    pub md5: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sha256: Vec<String>,
}

/// The feed of `entries`: files with an md5 only (the IOC every Carbon
/// Black server matches), in the order given.
pub fn feed(config: &FeedConfig, entries: &[&FeedEntry], _now: OffsetDateTime) -> Feed {
    Feed {
        feedinfo: FeedInfo {
            name: config.name.clone(),
            display_name: config.display_name.clone(),
            provider_url: config.provider_url.clone(),
            summary: config.summary.clone(),
            tech_data: config.tech_data.clone(),
            icon: base64::engine::general_purpose::STANDARD.encode(ICON_PNG),
            category: config.category.clone(),
        },
        reports: entries.iter().filter_map(|e| report(e)).collect(),
    }
}

/// The score of a detection: malicious engines in percent of those that
/// gave a verdict, rounded down, at least 1 once any engine flagged it.
pub fn score(detection: Detection) -> u8 {
    if detection.total == 0 || detection.malicious == 0 && detection.suspicious == 0 {
        return 0;
    }
    let percent = u64::from(detection.malicious) * 100 / u64::from(detection.total);
    u8::try_from(percent.clamp(1, 100)).unwrap_or(100)
}

fn report(entry: &FeedEntry) -> Option<Report> {
    let record = &entry.record;
    if record.kind != Some(IndicatorKind::File) {
        return None;
    }
    // Only well-formed hashes: a malformed one would make the server refuse the whole feed.
    let hash = |h: &Option<String>, len: usize| {
        h.as_deref()
            .and_then(FileHash::parse)
            .map(|h| h.as_str().to_owned())
            .filter(|h| h.len() == len)
    };
    let md5 = hash(&record.md5, 32).or_else(|| {
        (record.indicator.len() == 32)
            .then(|| hash(&Some(record.indicator.clone()), 32))
            .flatten()
    })?;
    let sha256 = hash(&record.sha256, 64).or_else(|| hash(&Some(record.indicator.clone()), 64));
    let detection = record.detection();
    let named = record
        .meaningful_name
        .as_deref()
        .map(|n| format!(" ({})", bounded(n, 80)))
        .unwrap_or_default();
    let label = record
        .popular_threat_label
        .as_deref()
        .map(|l| format!(": {}", bounded(l, 60)))
        .unwrap_or_default();
    let title = bounded(
        &format!("[{detection}] VirusTotal report for {md5}{named}{label}"),
        MAX_TITLE,
    );
    Some(Report {
        id: format!("vtc-{}", sha256.as_deref().unwrap_or(&md5)),
        timestamp: entry.dated().unix_timestamp(),
        title,
        score: score(detection),
        link: record
            .link
            .clone()
            .unwrap_or_else(|| format!("https://www.virustotal.com/gui/file/{md5}")),
        iocs: Iocs {
            md5: vec![md5],
            sha256: sha256.into_iter().collect(),
        },
        tags: vec!["virustotal".into(), record.verdict.as_str().into()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(malicious: u32, suspicious: u32, total: u32) -> Detection {
        Detection {
            malicious,
            suspicious,
            total,
        }
    }

    #[test]
    fn the_score_is_the_ratio_in_percent_rounded_down_and_never_zero_when_flagged() {
        assert_eq!(score(d(62, 0, 68)), 91);
        assert_eq!(score(d(68, 0, 68)), 100);
        assert_eq!(score(d(1, 0, 200)), 1, "flagged, so at least 1");
        assert_eq!(score(d(0, 3, 70)), 1, "suspicious engines only");
        assert_eq!(score(d(0, 0, 70)), 0);
        assert_eq!(score(d(0, 0, 0)), 0);
        assert_eq!(score(d(5, 0, 0)), 0, "no engine gave a verdict");
    }

    #[test]
    fn the_icon_is_a_png() {
        assert!(ICON_PNG.starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}

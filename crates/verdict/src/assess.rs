//! From one report to an [`Assessment`]: the tallies, the rules of
//! [`VerdictConfig`], and a sentence for every rule that fired.

use crate::config::{MIN_REPUTATION_VOTES, NEGATIVE_REPUTATION_AT};
use crate::{Detection, Verdict, VerdictConfig};
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};
use vt_model::{Analysed, AnalysisStats, EngineResult};

/// Longest engine name or label quoted in a reason: these strings come from
/// VirusTotal's engines, i.e. from whoever named the malware.
const MAX_QUOTED: usize = 100;

/// Slack for comparing weighted scores and ratios, so that a value equal to
/// its threshold on paper is not lost to floating-point rounding.
const EPSILON: f64 = 1e-9;

/// The verdict on one report and what it was based on.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub verdict: Verdict,
    /// Short human sentences, the deciding one first.
    pub reasons: Vec<String>,
    /// Engines that flagged it out of the engines that gave a verdict:
    /// [`Detection`], the one detection rule.
    pub detection: Detection,
    pub last_analysis_date: Option<OffsetDateTime>,
    /// The last analysis is older than `stale_after_days`.
    pub stale: bool,
}

impl Assessment {
    /// The assessment of an indicator VirusTotal does not know.
    pub fn unknown() -> Assessment {
        Assessment::without_analysis("not found in VirusTotal".to_owned())
    }

    fn without_analysis(reason: String) -> Assessment {
        Assessment {
            verdict: Verdict::Unknown,
            reasons: vec![reason],
            detection: Detection::default(),
            last_analysis_date: None,
            stale: false,
        }
    }
}

/// Judges one report (a file, URL, domain or IP address, or an analysis)
/// with `config`; `now` decides staleness.
///
/// Reads the typed `last_analysis_stats`, `last_analysis_results`,
/// `last_analysis_date`, `reputation` and `total_votes` (an analysis'
/// `stats`, `results` and `date`). A report without stats is counted from
/// its per-engine results; one with neither is `Unknown` and says why.
pub fn assess<R: Analysed + ?Sized>(
    report: &R,
    config: &VerdictConfig,
    now: OffsetDateTime,
) -> Assessment {
    if !report.has_attributes() {
        return Assessment::without_analysis("VirusTotal returned no attributes for it".to_owned());
    }
    let last_analysis_date = report
        .last_analysis_date()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok());
    let (stale, stale_reason) = staleness(last_analysis_date, config, now);

    let results = report.last_analysis_results();
    let Some(stats) = stats_of(report.last_analysis_stats(), results) else {
        let mut a = Assessment::without_analysis("VirusTotal holds no analysis of it".to_owned());
        a.last_analysis_date = last_analysis_date;
        return a;
    };
    let detection = Detection::from_stats(&stats);
    let mut assessment = Assessment {
        verdict: Verdict::Unknown,
        reasons: Vec::new(),
        detection,
        last_analysis_date,
        stale,
    };
    if detection.total == 0 {
        assessment.reasons.push(format!(
            "no engine gave a verdict ({} timed out, failed or could not scan it)",
            stats.total()
        ));
        assessment.reasons.extend(stale_reason);
        return assessment;
    }

    let (mut verdict, mut reasons) = score_rules(&detection, config);

    for (engine, label) in highlighted_detections(results, config) {
        verdict = verdict.max(if config.highlighted_makes_bad {
            Verdict::Bad
        } else {
            Verdict::Suspect
        });
        reasons.push(format!("highlighted engine {engine}: {label}"));
    }

    if config.use_reputation && verdict == Verdict::Good {
        if let Some(reason) = community_warning(report) {
            verdict = Verdict::Suspect;
            reasons.push(reason);
        }
    }

    reasons.extend(stale_reason);
    assessment.verdict = verdict;
    assessment.reasons = reasons;
    assessment
}

/// The stats if there are some; else a count of the per-engine results.
fn stats_of(
    stats: Option<&AnalysisStats>,
    results: &BTreeMap<String, EngineResult>,
) -> Option<AnalysisStats> {
    if let Some(stats) = stats {
        return Some(stats.clone());
    }
    if results.is_empty() {
        return None;
    }
    let mut counted = AnalysisStats::default();
    for result in results.values() {
        counted.count(&result.category);
    }
    Some(counted)
}

/// The count and ratio rules: the verdict they give and the sentences that
/// explain it.
fn score_rules(detection: &Detection, config: &VerdictConfig) -> (Verdict, Vec<String>) {
    let engines = detection.total;
    let (m, s) = (detection.malicious, detection.suspicious);
    let score = f64::from(m) + config.suspicious_weight * f64::from(s);
    let ratio = score / f64::from(engines);
    let reaches = |threshold: u32| score + EPSILON >= f64::from(threshold);
    let ratio_ok = ratio + EPSILON >= config.bad_min_ratio;

    if m == 0 && s == 0 {
        return (
            Verdict::Good,
            vec![format!("none of {engines} engines flagged it")],
        );
    }
    let flagged = match (m, s) {
        (_, 0) => format!("{m} of {engines} engines flagged it malicious"),
        (0, _) => format!(
            "{s} of {engines} engines flagged it suspicious, score {}",
            number(score)
        ),
        _ => format!(
            "{m} of {engines} engines flagged it malicious and {s} suspicious, score {}",
            number(score)
        ),
    };
    let share = format!("{} of engines with a verdict", percent(ratio));
    let min_share = percent(config.bad_min_ratio);
    if reaches(config.bad_min_malicious) && ratio_ok {
        let reasons = vec![
            format!("{flagged} (>= {})", config.bad_min_malicious),
            format!("{share} (>= {min_share})"),
        ];
        return (Verdict::Bad, reasons);
    }
    if reaches(config.bad_min_malicious) {
        let reasons = vec![
            format!("{flagged} (>= {})", config.bad_min_malicious),
            format!("but only {share} (< {min_share} for bad)"),
        ];
        let verdict = if reaches(config.suspect_min_malicious) {
            Verdict::Suspect
        } else {
            Verdict::Good
        };
        return (verdict, reasons);
    }
    if reaches(config.suspect_min_malicious) {
        return (
            Verdict::Suspect,
            vec![format!("{flagged} (>= {})", config.suspect_min_malicious)],
        );
    }
    (
        Verdict::Good,
        vec![format!("{flagged} (< {})", config.suspect_min_malicious)],
    )
}

/// Highlighted engines whose result is `malicious`, with their labels.
fn highlighted_detections(
    results: &BTreeMap<String, EngineResult>,
    config: &VerdictConfig,
) -> Vec<(String, String)> {
    if config.highlighted_engines.is_empty() {
        return Vec::new();
    }
    results
        .iter()
        .filter(|(_, r)| r.category == "malicious")
        .filter_map(|(key, r)| {
            let name = if r.engine_name.is_empty() {
                key.as_str()
            } else {
                r.engine_name.as_str()
            };
            if !(config.is_highlighted(key) || config.is_highlighted(name)) {
                return None;
            }
            let label = r
                .result
                .as_deref()
                .filter(|l| !l.trim().is_empty())
                .unwrap_or("malicious");
            Some((quoted(name), quoted(label)))
        })
        .collect()
}

/// The community's reason to distrust an otherwise good report, if any.
fn community_warning<R: Analysed + ?Sized>(report: &R) -> Option<String> {
    if let Some(reputation) = report.reputation() {
        if reputation <= NEGATIVE_REPUTATION_AT {
            return Some(format!(
                "community reputation {reputation} (<= {NEGATIVE_REPUTATION_AT})"
            ));
        }
    }
    let votes = report.total_votes()?;
    let (malicious, harmless) = (u64::from(votes.malicious), u64::from(votes.harmless));
    if malicious > harmless && malicious >= u64::from(MIN_REPUTATION_VOTES) {
        return Some(format!(
            "{malicious} of {} community votes say malicious",
            malicious + harmless
        ));
    }
    None
}

fn staleness(
    date: Option<OffsetDateTime>,
    config: &VerdictConfig,
    now: OffsetDateTime,
) -> (bool, Option<String>) {
    let Some(date) = date else {
        return (false, None);
    };
    if config.stale_after_days == 0 {
        return (false, None);
    }
    let age = now - date;
    if age <= Duration::days(i64::from(config.stale_after_days)) {
        return (false, None);
    }
    let reason = format!(
        "last analysed {} days ago (stale after {} days)",
        age.whole_days(),
        config.stale_after_days
    );
    (true, Some(reason))
}

/// `5` for a whole score, `5.5` otherwise.
fn number(x: f64) -> String {
    if (x - x.round()).abs() < EPSILON {
        format!("{}", x.round())
    } else {
        format!("{x:.1}")
    }
}

/// A share as a percentage, cut (not rounded) to one decimal so that a
/// ratio just under its threshold never prints as equal to it.
fn percent(ratio: f64) -> String {
    let tenths = (ratio * 1000.0 + EPSILON).floor();
    if tenths % 10.0 == 0.0 {
        format!("{}%", tenths / 10.0)
    } else {
        format!("{:.1}%", tenths / 10.0)
    }
}

/// An engine-supplied string, bounded and on one line.
fn quoted(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_QUOTED + 1)
        .collect();
    if one_line.chars().count() > MAX_QUOTED {
        let cut: String = one_line.chars().take(MAX_QUOTED).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_never_rounds_up_to_its_threshold() {
        assert_eq!(percent(0.10), "10%");
        assert_eq!(percent(0.0999), "9.9%");
        assert_eq!(percent(7.0 / 68.0), "10.2%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(number(5.0), "5");
        assert_eq!(number(5.5), "5.5");
    }

    #[test]
    fn quoted_bounds_and_flattens_engine_strings() {
        assert_eq!(quoted("Trojan\nX"), "Trojan X");
        let long = "A".repeat(500);
        assert_eq!(quoted(&long).chars().count(), MAX_QUOTED + 1);
    }
}

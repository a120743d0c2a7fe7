//! The one detection rule: how many engines flagged an object, out of how
//! many. Every ratio vtc shows (the verdict's thresholds and reasons, the
//! record's `malicious` / `suspicious` / `total`, tables, `scan`,
//! `widget`, reports, feeds) comes from [`Detection::from_stats`] over the
//! typed `last_analysis_stats` (or an analysis' `stats`), so one file never
//! shows two ratios. A record gives its own back with `Record::detection`.
//!
//! The denominator counts the engines that *gave a verdict*: `harmless`,
//! `malicious`, `suspicious` and `undetected`. `type-unsupported`,
//! `timeout`, `confirmed-timeout` and `failure` are left out, and so are
//! categories vtc does not know: those engines did not judge the object,
//! so counting them would make a file look cleaner the more engines cannot
//! parse it (an ELF binary is "type-unsupported" by a dozen Windows-only
//! engines), and the same file would look cleaner on a day more engines
//! time out. This is also the denominator VirusTotal's web interface
//! shows. The EICAR file of the emulator, 62 engines malicious, 6
//! undetected and 2 type-unsupported, is `62/68`, never `62/70`.

use serde::{Deserialize, Serialize};
use std::fmt;
use vt_model::AnalysisStats;

/// Engines that flagged an object, and the engines that gave a verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Detection {
    /// Engines in the `malicious` category.
    pub malicious: u32,
    /// Engines in the `suspicious` category.
    pub suspicious: u32,
    /// Engines that gave a verdict (see the module doc): the denominator.
    pub total: u32,
}

impl Detection {
    /// The detection of a `last_analysis_stats` (or an analysis' `stats`).
    pub fn from_stats(stats: &AnalysisStats) -> Detection {
        Detection {
            malicious: stats.malicious,
            suspicious: stats.suspicious,
            total: stats
                .harmless
                .saturating_add(stats.malicious)
                .saturating_add(stats.suspicious)
                .saturating_add(stats.undetected),
        }
    }

    /// `malicious / total`, 0 when no engine gave a verdict.
    pub fn ratio(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            f64::from(self.malicious) / f64::from(self.total)
        }
    }
}

/// `62/70`: malicious out of the engines that gave a verdict.
impl fmt::Display for Detection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.malicious, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_types_timeouts_and_failures_are_not_in_the_denominator() {
        let stats = AnalysisStats {
            harmless: 1,
            malicious: 62,
            suspicious: 2,
            undetected: 5,
            timeout: 3,
            type_unsupported: Some(10),
            failure: Some(1),
            confirmed_timeout: Some(1),
        };
        let d = Detection::from_stats(&stats);
        assert_eq!((d.malicious, d.suspicious, d.total), (62, 2, 70));
        assert_eq!(d.to_string(), "62/70");
    }

    #[test]
    fn no_verdict_is_a_zero_ratio_not_a_division_by_zero() {
        let stats = AnalysisStats {
            timeout: 4,
            ..AnalysisStats::default()
        };
        let d = Detection::from_stats(&stats);
        assert_eq!(d.total, 0);
        assert_eq!(d.ratio(), 0.0);
    }
}

//! The thresholds a verdict is computed with: the `[verdict]` table of the
//! config file.

use serde::{Deserialize, Serialize};

/// With [`VerdictConfig::use_reputation`], a community reputation at or
/// below this raises `Good` to `Suspect`. VirusTotal's reputation is the
/// sum of community votes weighted by the voters' own reputation; a handful
/// of trusted users voting malicious takes it to about -10, while a single
/// stray vote does not.
pub const NEGATIVE_REPUTATION_AT: i64 = -10;

/// With [`VerdictConfig::use_reputation`], malicious votes raise `Good` to
/// `Suspect` only when they outnumber harmless ones and there are at least
/// this many of them, so one vote cannot flip a verdict.
pub const MIN_REPUTATION_VOTES: u32 = 3;

/// How reports become verdicts. Every field has a default, so an empty or
/// partial `[verdict]` table is valid; unknown keys are rejected so a typo
/// does not silently keep a default.
///
/// The rules, in order:
///
/// 1. The *detection score* is `malicious + suspicious_weight × suspicious`.
/// 2. **Bad** when the score is at least `bad_min_malicious` **and** at
///    least `bad_min_ratio` of the engines that gave a verdict (harmless,
///    malicious, suspicious or undetected). Both must hold: the count guards
///    against tiny denominators (1 of 3 engines), the ratio against large
///    engine sets where a few noisy engines agree.
/// 3. **Suspect** when the score is at least `suspect_min_malicious`, or
///    when any engine in `highlighted_engines` says malicious (then **Bad**
///    instead if `highlighted_makes_bad`).
/// 4. Otherwise **Good**; with `use_reputation`, a strongly negative
///    reputation or a majority of malicious votes raises Good to Suspect.
/// 5. `stale` is set (and said in the reasons) when the last analysis is
///    older than `stale_after_days`; it does not change the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerdictConfig {
    /// Minimum detection score for Bad. Default 5.
    pub bad_min_malicious: u32,
    /// Minimum share (0 to 1) of the engines that gave a verdict whose
    /// weighted detections make Bad. Default 0.10.
    pub bad_min_ratio: f64,
    /// Minimum detection score for Suspect. Default 1.
    pub suspect_min_malicious: u32,
    /// How much one `suspicious` engine counts towards the detection score,
    /// as a fraction (0 to 1) of a `malicious` one. Default 0.5.
    pub suspicious_weight: f64,
    /// Engines (matched case-insensitively by their name in
    /// `last_analysis_results`) whose `malicious` result alone makes at
    /// least Suspect. Default none.
    pub highlighted_engines: Vec<String>,
    /// A malicious result from a highlighted engine makes Bad rather than
    /// Suspect. Default false.
    pub highlighted_makes_bad: bool,
    /// Let the community raise Good to Suspect: a reputation at or below
    /// [`NEGATIVE_REPUTATION_AT`], or malicious votes outnumbering harmless
    /// ones with at least [`MIN_REPUTATION_VOTES`] of them. Default false.
    pub use_reputation: bool,
    /// A report whose last analysis is older than this many days is marked
    /// stale (a candidate for a rescan); 0 turns staleness off. Default 30.
    pub stale_after_days: u32,
}

impl Default for VerdictConfig {
    fn default() -> Self {
        VerdictConfig {
            bad_min_malicious: 5,
            bad_min_ratio: 0.10,
            suspect_min_malicious: 1,
            suspicious_weight: 0.5,
            highlighted_engines: Vec::new(),
            highlighted_makes_bad: false,
            use_reputation: false,
            stale_after_days: 30,
        }
    }
}

/// Why a [`VerdictConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{field} must be between 0 and 1, got {value}")]
    FractionOutOfRange { field: &'static str, value: f64 },
    #[error("{field} must be at least 1, or every clean report would match it")]
    ZeroThreshold { field: &'static str },
    #[error("suspect_min_malicious ({suspect}) must not exceed bad_min_malicious ({bad})")]
    SuspectAboveBad { suspect: u32, bad: u32 },
    #[error("highlighted_engines holds an empty engine name")]
    EmptyEngineName,
}

impl VerdictConfig {
    /// Checks the values make sense together; the binary calls this once
    /// after loading the config.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("bad_min_ratio", self.bad_min_ratio),
            ("suspicious_weight", self.suspicious_weight),
        ] {
            // `contains` is false for NaN, which is rejected too.
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::FractionOutOfRange { field, value });
            }
        }
        for (field, value) in [
            ("bad_min_malicious", self.bad_min_malicious),
            ("suspect_min_malicious", self.suspect_min_malicious),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroThreshold { field });
            }
        }
        if self.suspect_min_malicious > self.bad_min_malicious {
            return Err(ConfigError::SuspectAboveBad {
                suspect: self.suspect_min_malicious,
                bad: self.bad_min_malicious,
            });
        }
        if self.highlighted_engines.iter().any(|e| e.trim().is_empty()) {
            return Err(ConfigError::EmptyEngineName);
        }
        Ok(())
    }

    /// Whether `engine` is one of the highlighted engines.
    pub(crate) fn is_highlighted(&self, engine: &str) -> bool {
        self.highlighted_engines
            .iter()
            .any(|h| h.trim().eq_ignore_ascii_case(engine))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let c = VerdictConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.bad_min_malicious, 5);
        assert_eq!(c.bad_min_ratio, 0.10);
        assert_eq!(c.suspect_min_malicious, 1);
        assert_eq!(c.suspicious_weight, 0.5);
        assert!(c.highlighted_engines.is_empty());
        assert!(!c.highlighted_makes_bad);
        assert!(!c.use_reputation);
        assert_eq!(c.stale_after_days, 30);
    }

    #[test]
    fn validate_rejects_nonsense() {
        let base = VerdictConfig::default;
        let cases: Vec<(VerdictConfig, &str)> = vec![
            (
                VerdictConfig {
                    bad_min_ratio: 1.5,
                    ..base()
                },
                "bad_min_ratio must be between 0 and 1, got 1.5",
            ),
            (
                VerdictConfig {
                    bad_min_ratio: -0.1,
                    ..base()
                },
                "bad_min_ratio must be between 0 and 1, got -0.1",
            ),
            (
                VerdictConfig {
                    suspicious_weight: f64::NAN,
                    ..base()
                },
                "suspicious_weight must be between 0 and 1, got NaN",
            ),
            (
                VerdictConfig {
                    bad_min_malicious: 0,
                    ..base()
                },
                "bad_min_malicious must be at least 1",
            ),
            (
                VerdictConfig {
                    suspect_min_malicious: 0,
                    ..base()
                },
                "suspect_min_malicious must be at least 1",
            ),
            (
                VerdictConfig {
                    suspect_min_malicious: 6,
                    ..base()
                },
                "suspect_min_malicious (6) must not exceed bad_min_malicious (5)",
            ),
            (
                VerdictConfig {
                    highlighted_engines: vec![" ".into()],
                    ..base()
                },
                "highlighted_engines holds an empty engine name",
            ),
        ];
        for (config, message) in cases {
            let err = config.validate().expect_err(message);
            assert!(err.to_string().starts_with(message), "{err} vs {message}");
        }
        let edges = VerdictConfig {
            bad_min_ratio: 1.0,
            suspicious_weight: 0.0,
            suspect_min_malicious: 5,
            ..base()
        };
        assert_eq!(edges.validate(), Ok(()));
    }

    #[test]
    fn config_reads_a_partial_toml_like_table_and_rejects_typos() {
        let partial: VerdictConfig = serde_json::from_str(
            r#"{"bad_min_malicious": 3, "highlighted_engines": ["Kaspersky"]}"#,
        )
        .expect("valid partial config");
        assert_eq!(partial.bad_min_malicious, 3);
        assert_eq!(partial.bad_min_ratio, 0.10);
        assert!(partial.is_highlighted("kaspersky"));
        let typo = serde_json::from_str::<VerdictConfig>(r#"{"bad_min_malicous": 3}"#);
        assert!(typo.is_err());
    }
}

//! The TOML config file as written.

use crate::settings::OutputFormat;
use crate::AppError;
use serde::Deserialize;
use std::path::Path;

/// The config file. Unknown keys are an error, so a typo does not silently
/// fall back to a default.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub api_key: Option<String>,
    pub api_url: Option<String>,
    pub db: Option<String>,
    pub proxy: Option<String>,
    pub insecure: Option<bool>,
    pub format: Option<OutputFormat>,
    /// Seconds one request to the API may take, answer included (default
    /// 300); a server that never answers costs this per attempt.
    pub timeout: Option<u64>,
    pub quota: QuotaConfig,
    pub keys: Vec<KeyConfig>,
    pub verdict: verdict::VerdictConfig,
    pub cache: enrich::CacheTtls,
    /// The `[collect]` table, read by the collector itself (the `collect`
    /// crate), which sits above this one.
    pub collect: Option<toml::Table>,
    /// How the feeds present themselves, and their URL secret.
    pub feeds: feeds::FeedConfig,
    /// `vtc serve`'s own settings.
    pub service: ServiceConfig,
    /// `[[policies]]`: which ingested indicators `vtc serve` enriches.
    pub policies: Vec<PolicyConfig>,
}

/// The `[service]` table of `vtc serve`; every field has a default.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Percent of each key's daily and monthly budget bulk work (policy
    /// enrichment) never spends: kept for interactive requests.
    pub bulk_reserve_percent: Option<u8>,
    /// Most indicators one `POST /v1/enrich` or `/v1/ingest` may carry.
    pub max_batch: Option<usize>,
    /// Items the job worker enriches at once.
    pub workers: Option<usize>,
    /// Seconds a worker's claim on an item lasts without renewal: how soon
    /// a killed service's unfinished items are taken again.
    pub lease_seconds: Option<u64>,
}

/// One `[[policies]]` table, as written; `vtc serve` checks it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    /// Indicator types (`file`, `url`, `domain`, `ip`); none: every type.
    #[serde(default)]
    pub types: Vec<String>,
    /// Source names; none: every source.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Tags, any of which matches; none: tagged or not.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Percent of the daily budget one source may have enriched by this
    /// policy per UTC day; none: no share of its own (the reserve holds).
    pub daily_share_percent: Option<u8>,
    /// A cached answer younger than this (`12h`, `7d`) is not enriched again.
    pub max_age: Option<String>,
    /// Each record is POSTed here as JSON.
    pub webhook: Option<String>,
}

/// Shows neither the key nor a proxy's credentials.
impl std::fmt::Debug for FileConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field(
                "api_url",
                &self.api_url.as_deref().map(vt_api::without_credentials),
            )
            .field("db", &self.db)
            .field(
                "proxy",
                &self.proxy.as_deref().map(vt_api::without_credentials),
            )
            .field("insecure", &self.insecure)
            .field("format", &self.format)
            .field("timeout", &self.timeout)
            .field("quota", &self.quota)
            .field("keys", &self.keys)
            .field("service", &self.service)
            .field("policies", &self.policies.len())
            .finish_non_exhaustive()
    }
}

/// A budget per minute, day and month; `None` falls back to the next
/// source down, `Some(0)` is unlimited.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    pub minute: Option<u32>,
    pub day: Option<u32>,
    pub month: Option<u32>,
}

/// One `[[keys]]` table: a key with its own budget, and optionally the
/// name it goes by in quota reports and the database (else a fingerprint).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub key: String,
    pub name: Option<String>,
    #[serde(flatten)]
    pub quota: QuotaConfig,
}

impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyConfig")
            .field("key", &"<redacted>")
            .field("name", &self.name)
            .field("quota", &self.quota)
            .finish()
    }
}

impl FileConfig {
    /// Parses a config file's text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, AppError> {
        toml::from_str(text).map_err(|e| AppError::InvalidConfig {
            path: path.to_owned(),
            message: e.message().trim().to_owned(),
        })
    }

    /// The file at `explicit`, or `$XDG_CONFIG_HOME/vtc/config.toml` if it
    /// exists, or the empty config.
    pub fn load(explicit: Option<&Path>) -> Result<FileConfig, AppError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match dirs::config_dir().map(|d| d.join("vtc").join("config.toml")) {
                Some(p) if p.exists() => p,
                _ => return Ok(FileConfig::default()),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|source| AppError::ReadConfig {
            path: path.clone(),
            source,
        })?;
        let config = FileConfig::parse(&text, &path)?;
        if config.holds_a_key() {
            if let Some(mode) = readable_by_others(&path) {
                tracing::warn!(
                    "config file {} holds an API key and is readable by group or others (mode {mode:o}): run chmod 600 {}",
                    path.display(),
                    path.display()
                );
            }
        }
        Ok(config)
    }

    /// Whether the file holds a secret: a key of its own or in `[[keys]]`.
    pub fn holds_a_key(&self) -> bool {
        self.api_key.is_some() || !self.keys.is_empty()
    }
}

/// The permission bits of `path` when group or others may read it.
#[cfg(unix)]
fn readable_by_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn readable_by_others(_path: &Path) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's example config file is a valid one: it is what
    /// newcomers copy.
    #[test]
    fn the_readme_config_example_parses() {
        let readme = include_str!("../../../README.md");
        let block = readme
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("a toml block in the README");
        let config =
            FileConfig::parse(block, Path::new("README.md")).expect("README config parses");
        assert_eq!(config.quota.minute, Some(4));
        config
            .verdict
            .validate()
            .expect("README verdict config is valid");
    }

    #[test]
    fn a_misspelt_key_is_an_error_not_a_silent_default() {
        let err =
            FileConfig::parse("[quota]\nminutes = 4\n", Path::new("c.toml")).expect_err("typo");
        assert!(err.to_string().contains("minutes"), "{err}");
        assert!(err.to_string().contains("c.toml"), "{err}");
    }
}

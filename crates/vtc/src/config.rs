//! Configuration: the TOML file merged under flags and environment
//! (flag > env > file > default), resolved once into [`Settings`].

use crate::cli::{GlobalArgs, OutputFormat};
use crate::exit::usage;
use serde::Deserialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The public API's budget: 4 lookups a minute, 500 a day.
pub const DEFAULT_QUOTA_MINUTE: u32 = 4;
pub const DEFAULT_QUOTA_DAY: u32 = 500;

/// The config file as written. Unknown keys are an error, so a typo does
/// not silently fall back to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub api_key: Option<String>,
    pub api_url: Option<String>,
    pub db: Option<String>,
    pub proxy: Option<String>,
    pub insecure: Option<bool>,
    pub format: Option<OutputFormat>,
    pub quota: QuotaConfig,
    pub keys: Vec<KeyConfig>,
    pub verdict: verdict::VerdictConfig,
    pub cache: enrich::CacheTtls,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    pub minute: Option<u32>,
    pub day: Option<u32>,
    pub month: Option<u32>,
}

/// One `[[keys]]` table: a key with its own budget.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    pub key: String,
    #[serde(flatten)]
    pub quota: QuotaConfig,
}

impl std::fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyConfig")
            .field("key", &"<redacted>")
            .field("quota", &self.quota)
            .finish()
    }
}

/// A key and its budget per minute, day and month (0 = unlimited).
pub struct KeyBudget {
    pub key: vt_api::ApiKey,
    pub minute: u32,
    pub day: u32,
    pub month: u32,
}

/// Everything a command needs, resolved from flags, env and file.
pub struct Settings {
    pub keys: Vec<KeyBudget>,
    pub api_url: Option<String>,
    pub db: Option<String>,
    pub proxy: Option<String>,
    pub insecure: bool,
    pub format: OutputFormat,
    /// The format asked for by flag or config file, if any.
    pub format_flag: Option<OutputFormat>,
    pub verdict: verdict::VerdictConfig,
    pub cache: enrich::CacheTtls,
}

impl Settings {
    pub fn resolve(global: &GlobalArgs) -> anyhow::Result<Settings> {
        let file = load_file(global.config.as_deref())?;
        let default_budget = QuotaConfig {
            minute: global.quota_minute.or(file.quota.minute),
            day: global.quota_day.or(file.quota.day),
            month: global.quota_month.or(file.quota.month),
        };
        let budget = |q: QuotaConfig| {
            (
                q.minute
                    .or(default_budget.minute)
                    .unwrap_or(DEFAULT_QUOTA_MINUTE),
                q.day.or(default_budget.day).unwrap_or(DEFAULT_QUOTA_DAY),
                q.month.or(default_budget.month).unwrap_or(0),
            )
        };
        let mut keys = Vec::new();
        // A key on the command line or in the environment replaces the file's.
        if let Some(key) = global.api_key.clone().or(file.api_key.clone()) {
            let (minute, day, month) = budget(QuotaConfig::default());
            keys.push(KeyBudget {
                key: parse_key(key)?,
                minute,
                day,
                month,
            });
        }
        if global.api_key.is_none() {
            for k in &file.keys {
                let (minute, day, month) = budget(k.quota);
                keys.push(KeyBudget {
                    key: parse_key(k.key.clone())?,
                    minute,
                    day,
                    month,
                });
            }
        }
        file.verdict
            .validate()
            .map_err(|e| usage(format!("invalid [verdict] config: {e}")))?;
        let format_flag = global.format.or(file.format);
        let format = format_flag.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                OutputFormat::Table
            } else {
                OutputFormat::Jsonl
            }
        });
        Ok(Settings {
            keys,
            api_url: global.api_url.clone().or(file.api_url),
            db: global.db.clone().or(file.db),
            proxy: global.proxy.clone().or(file.proxy),
            insecure: global.insecure || file.insecure.unwrap_or(false),
            format,
            format_flag,
            verdict: file.verdict,
            cache: file.cache,
        })
    }

    /// The database location: `--db`, or `vtc.sqlite` under the XDG data dir.
    pub fn db_path(&self) -> anyhow::Result<PathBuf> {
        match &self.db {
            Some(db) if db.starts_with("postgres://") || db.starts_with("postgresql://") => {
                Err(usage(
                    "PostgreSQL databases are not supported by this build yet: use a SQLite path",
                ))
            }
            Some(db) => Ok(PathBuf::from(db)),
            None => {
                let base = dirs::data_dir()
                    .ok_or_else(|| usage("no data directory: set --db or VTC_DB"))?;
                Ok(base.join("vtc").join("vtc.sqlite"))
            }
        }
    }

    /// Opens the database (`--db`), creating it on first use.
    pub fn open_store(&self) -> anyhow::Result<Arc<dyn store::Store>> {
        let path = self.db_path()?;
        let store = store::SqliteStore::open(&path).map_err(|e| usage(e.to_string()))?;
        Ok(Arc::new(store))
    }

    /// A client for the configured keys whose budgets count what earlier
    /// runs spent (kept in the database). A database that cannot be opened
    /// costs only that memory, with a warning.
    pub fn client(&self) -> anyhow::Result<vt_api::Client> {
        match self.open_store() {
            Ok(store) => self.client_sharing(&store),
            Err(e) => {
                tracing::warn!("quota spent by earlier runs is unknown: {e:#}");
                self.build_client(None)
            }
        }
    }

    /// A client whose spend is recorded in, and restored from, `store`.
    pub fn client_sharing(&self, store: &Arc<dyn store::Store>) -> anyhow::Result<vt_api::Client> {
        let client = self.build_client(Some(store))?;
        let labels: Vec<String> = self.keys.iter().map(|k| k.key.label()).collect();
        match enrich::spent_ledger(store.as_ref(), &labels, time::OffsetDateTime::now_utc()) {
            Ok(ledger) => client.restore_quota_ledger(&ledger),
            Err(e) => tracing::warn!("cannot read the quota spent by earlier runs: {e}"),
        }
        Ok(client)
    }

    /// A client for the configured keys; without a key, a usage error saying how to give one.
    fn build_client(
        &self,
        store: Option<&Arc<dyn store::Store>>,
    ) -> anyhow::Result<vt_api::Client> {
        if self.keys.is_empty() {
            return Err(usage(
                "no VirusTotal API key: pass --api-key, set VT_API_KEY, or put api_key in the config file",
            ));
        }
        let mut builder = vt_api::Client::builder();
        for k in &self.keys {
            builder = builder.api_key_with_budget(
                k.key.clone(),
                vt_api::QuotaBudget {
                    per_minute: k.minute,
                    per_day: k.day,
                    per_month: k.month,
                },
            );
        }
        if let Some(url) = &self.api_url {
            builder = builder.base_url(url);
        }
        if let Some(proxy) = &self.proxy {
            builder = builder.proxy(proxy);
        }
        if self.insecure {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if let Some(store) = store {
            builder = builder.spend_log(Arc::new(enrich::StoreSpendLog::new(store.clone())));
        }
        builder.build().map_err(|e| usage(e.to_string()))
    }
}

fn parse_key(key: String) -> anyhow::Result<vt_api::ApiKey> {
    vt_api::ApiKey::new(key).map_err(|e| usage(e.to_string()))
}

fn load_file(explicit: Option<&Path>) -> anyhow::Result<FileConfig> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match dirs::config_dir().map(|d| d.join("vtc").join("config.toml")) {
            Some(p) if p.exists() => p,
            _ => return Ok(FileConfig::default()),
        },
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| usage(format!("cannot read config file {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        usage(format!(
            "invalid config file {}: {}",
            path.display(),
            e.message().trim()
        ))
    })
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
        let config: FileConfig = toml::from_str(block).expect("README config parses");
        assert_eq!(config.quota.minute, Some(4));
        config
            .verdict
            .validate()
            .expect("README verdict config is valid");
    }

    #[test]
    fn a_misspelt_key_is_an_error_not_a_silent_default() {
        let err = toml::from_str::<FileConfig>("[quota]\nminutes = 4\n").expect_err("typo");
        assert!(err.to_string().contains("minutes"), "{err}");
    }
}

//! Flags and environment over the config file over the defaults, resolved
//! once into [`Settings`], and the parts built from them.

use crate::config_file::{FileConfig, QuotaConfig};
use crate::AppError;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The public API's budget: 4 lookups a minute, 500 a day.
pub const DEFAULT_QUOTA_MINUTE: u32 = 4;
pub const DEFAULT_QUOTA_DAY: u32 = 500;

/// How output meant for people or machines is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Table,
    Json,
    Jsonl,
    Csv,
}

impl OutputFormat {
    /// Every format, by the name flags and the config file use.
    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::Table,
        OutputFormat::Json,
        OutputFormat::Jsonl,
        OutputFormat::Csv,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Json => "json",
            OutputFormat::Jsonl => "jsonl",
            OutputFormat::Csv => "csv",
        }
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<OutputFormat, String> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown format {s:?}: use table, json, jsonl or csv"))
    }
}

/// Where a key's budget comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaMode {
    /// The windows not configured are learnt from the API once
    /// (`/users/{key}/overall_quotas`); the default when no budget is
    /// configured anywhere.
    Auto,
    /// The configured budgets, and the public API's defaults for the rest.
    Fixed,
}

impl std::str::FromStr for QuotaMode {
    type Err = String;

    fn from_str(s: &str) -> Result<QuotaMode, String> {
        match s.trim() {
            "auto" => Ok(QuotaMode::Auto),
            "fixed" => Ok(QuotaMode::Fixed),
            other => Err(format!(
                "unknown quota mode {other:?}: use auto (learn the key's allowances from the API) or fixed"
            )),
        }
    }
}

/// What the front end was told by flags, with the environment laid under
/// them by [`Overrides::with_env`]. `None` defers to the config file.
#[derive(Default, Clone)]
pub struct Overrides {
    pub api_key: Option<String>,
    pub api_url: Option<String>,
    pub config: Option<PathBuf>,
    pub db: Option<String>,
    pub format: Option<OutputFormat>,
    pub proxy: Option<String>,
    pub insecure: bool,
    pub quota: QuotaConfig,
    /// `--quota auto|fixed`; `None`: auto when no budget is configured anywhere.
    pub quota_mode: Option<QuotaMode>,
    /// The sliding "minute" (`VTC_QUOTA_WINDOW_SECONDS`); `None`: 60 s.
    pub quota_window: Option<Duration>,
}

/// Shows neither the key nor a proxy's credentials.
impl std::fmt::Debug for Overrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overrides")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field(
                "api_url",
                &self.api_url.as_deref().map(vt_api::without_credentials),
            )
            .field("config", &self.config)
            .field("db", &self.db)
            .field("format", &self.format)
            .field(
                "proxy",
                &self.proxy.as_deref().map(vt_api::without_credentials),
            )
            .field("insecure", &self.insecure)
            .field("quota", &self.quota)
            .field("quota_mode", &self.quota_mode)
            .finish()
    }
}

/// The environment variables [`Overrides::with_env`] reads, each under
/// its flag: `VT_API_KEY`, `VTC_API_URL`, `VTC_CONFIG`, `VTC_DB`,
/// `HTTPS_PROXY`, `VTC_QUOTA_MINUTE`, `VTC_QUOTA_DAY`, `VTC_QUOTA_MONTH`,
/// `VTC_QUOTA` (the mode), and `VTC_QUOTA_WINDOW_SECONDS` (no flag: the
/// length of the sliding "minute", for an emulator started with a shorter
/// `--quota-window-secs`).
pub const ENV_VARS: [&str; 10] = [
    "VT_API_KEY",
    "VTC_API_URL",
    "VTC_CONFIG",
    "VTC_DB",
    "HTTPS_PROXY",
    "VTC_QUOTA_MINUTE",
    "VTC_QUOTA_DAY",
    "VTC_QUOTA_MONTH",
    "VTC_QUOTA",
    "VTC_QUOTA_WINDOW_SECONDS",
];

impl Overrides {
    /// Fills what the flags left unset from this process' environment
    /// (flag > env). An empty variable counts as unset.
    pub fn with_env(self) -> Result<Overrides, AppError> {
        self.with_env_from(|name| std::env::var(name).ok())
    }

    /// [`Overrides::with_env`] over any source of variables (for tests).
    pub fn with_env_from(
        mut self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Overrides, AppError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let budget = |name: &'static str| -> Result<Option<u32>, AppError> {
            get(name)
                .map(|v| {
                    v.trim().parse::<u32>().map_err(|_| AppError::InvalidEnv {
                        name,
                        message:
                            "not a budget: give a whole number of calls, 0 or more (0 = unlimited)"
                                .into(),
                    })
                })
                .transpose()
        };
        self.api_key = self.api_key.or_else(|| get("VT_API_KEY"));
        self.api_url = self.api_url.or_else(|| get("VTC_API_URL"));
        self.config = self.config.or_else(|| get("VTC_CONFIG").map(PathBuf::from));
        self.db = self.db.or_else(|| get("VTC_DB"));
        self.proxy = self.proxy.or_else(|| get("HTTPS_PROXY"));
        // A variable under a flag is not read, so a broken one cannot fail a
        // run that does not use it.
        if self.quota.minute.is_none() {
            self.quota.minute = budget("VTC_QUOTA_MINUTE")?;
        }
        if self.quota_window.is_none() {
            self.quota_window = get("VTC_QUOTA_WINDOW_SECONDS")
                .map(|v| match v.trim().parse::<u64>() {
                    Ok(secs @ 1..=3600) => Ok(Duration::from_secs(secs)),
                    _ => Err(AppError::InvalidEnv {
                        name: "VTC_QUOTA_WINDOW_SECONDS",
                        message: "not a window: give whole seconds, 1 to 3600".into(),
                    }),
                })
                .transpose()?;
        }
        if self.quota.day.is_none() {
            self.quota.day = budget("VTC_QUOTA_DAY")?;
        }
        if self.quota.month.is_none() {
            self.quota.month = budget("VTC_QUOTA_MONTH")?;
        }
        if self.quota_mode.is_none() {
            self.quota_mode = get("VTC_QUOTA")
                .map(|v| {
                    v.parse::<QuotaMode>()
                        .map_err(|message| AppError::InvalidEnv {
                            name: "VTC_QUOTA",
                            message,
                        })
                })
                .transpose()?;
        }
        Ok(self)
    }
}

/// A key and its budget per minute, day and month (0 = unlimited).
pub struct KeyBudget {
    pub key: vt_api::ApiKey,
    pub minute: u32,
    pub day: u32,
    pub month: u32,
    /// The windows the client learns from the API (their values above
    /// hold until then, or if that fails).
    pub learn: vt_api::LearnBudget,
}

/// Everything the parts are built from, resolved from flags, env and file.
pub struct Settings {
    pub keys: Vec<KeyBudget>,
    pub api_url: Option<String>,
    pub db: Option<String>,
    pub proxy: Option<String>,
    pub insecure: bool,
    /// The format asked for by flag or config file, if any; the front end
    /// picks its own default (a table on a terminal, JSON lines in a pipe).
    pub format: Option<OutputFormat>,
    pub verdict: verdict::VerdictConfig,
    pub cache: enrich::CacheTtls,
    /// The `[feeds]` table: names, texts and the feed URLs' secret.
    pub feeds: feeds::FeedConfig,
    /// How long one request may take (the config file's `timeout`).
    pub request_timeout: Option<Duration>,
    /// Who hears why requests wait (a front end's notice or job status).
    pub quota_observer: Option<Arc<dyn vt_api::QuotaObserver>>,
    /// The config file's `[collect]` table, for `collect::CollectConfig`.
    pub collect: Option<toml::Table>,
    /// The length of the client's sliding "minute" (60 s). Not read from
    /// any file: only tests against an emulator with a shorter window set it.
    pub quota_window: Option<Duration>,
    /// `vtc serve`'s `[service]` table.
    pub service: crate::ServiceConfig,
    /// `vtc serve`'s `[[policies]]`.
    pub policies: Vec<crate::PolicyConfig>,
}

impl Settings {
    /// Loads the config file (`overrides.config`, or the default one if it
    /// exists) and lays the overrides over it.
    pub fn resolve(overrides: &Overrides) -> Result<Settings, AppError> {
        let file = FileConfig::load(overrides.config.as_deref())?;
        Settings::from_parts(overrides, file)
    }

    /// [`Settings::resolve`] over a config already read.
    pub fn from_parts(overrides: &Overrides, file: FileConfig) -> Result<Settings, AppError> {
        let default_budget = QuotaConfig {
            minute: overrides.quota.minute.or(file.quota.minute),
            day: overrides.quota.day.or(file.quota.day),
            month: overrides.quota.month.or(file.quota.month),
        };
        let configured =
            |q: &QuotaConfig| q.minute.is_some() || q.day.is_some() || q.month.is_some();
        let learning = match overrides.quota_mode {
            Some(QuotaMode::Auto) => true,
            Some(QuotaMode::Fixed) => false,
            None => !configured(&default_budget) && !file.keys.iter().any(|k| configured(&k.quota)),
        };
        let budget = |key: vt_api::ApiKey, q: QuotaConfig| {
            let minute = q.minute.or(default_budget.minute);
            let day = q.day.or(default_budget.day);
            let month = q.month.or(default_budget.month);
            KeyBudget {
                key,
                minute: minute.unwrap_or(DEFAULT_QUOTA_MINUTE),
                day: day.unwrap_or(DEFAULT_QUOTA_DAY),
                month: month.unwrap_or(0),
                learn: vt_api::LearnBudget {
                    minute: learning && minute.is_none(),
                    day: learning && day.is_none(),
                    month: learning && month.is_none(),
                },
            }
        };
        let mut keys = Vec::new();
        // A key on the command line or in the environment replaces the file's.
        if let Some(key) = overrides.api_key.clone().or(file.api_key.clone()) {
            keys.push(budget(parse_key(key)?, QuotaConfig::default()));
        }
        if overrides.api_key.is_none() {
            for k in &file.keys {
                let mut key = parse_key(k.key.clone())?;
                if let Some(name) = &k.name {
                    key = key
                        .named(name)
                        .map_err(|e| AppError::InvalidKey(e.to_string()))?;
                }
                if keys
                    .iter()
                    .any(|b: &KeyBudget| b.key.label() == key.label())
                {
                    return Err(AppError::InvalidKey(format!(
                        "two [[keys]] go by the label {:?}: give each its own name",
                        key.label()
                    )));
                }
                keys.push(budget(key, k.quota));
            }
        }
        file.verdict.validate()?;
        file.feeds.validate()?;
        Ok(Settings {
            keys,
            api_url: overrides.api_url.clone().or(file.api_url),
            db: overrides.db.clone().or(file.db),
            proxy: overrides.proxy.clone().or(file.proxy),
            insecure: overrides.insecure || file.insecure.unwrap_or(false),
            format: overrides.format.or(file.format),
            verdict: file.verdict,
            cache: file.cache,
            feeds: file.feeds,
            request_timeout: file.timeout.filter(|s| *s > 0).map(Duration::from_secs),
            quota_observer: None,
            collect: file.collect,
            quota_window: overrides.quota_window,
            service: file.service,
            policies: file.policies,
        })
    }

    /// The API origin (scheme, host and port) the cache is keyed by, for
    /// front ends that read the cache without calling the API (feeds).
    pub fn api_origin(&self) -> Result<String, AppError> {
        let mut builder = vt_api::Client::builder();
        if let Some(url) = &self.api_url {
            builder = builder.base_url(url);
        }
        Ok(builder.origin()?)
    }

    /// The database location: `--db` (a path, `sqlite://PATH` or a
    /// `postgres://` URL), or `vtc.sqlite` under the XDG data dir.
    pub fn db_location(&self) -> Result<String, AppError> {
        match &self.db {
            Some(db) => Ok(db.clone()),
            None => {
                let base = dirs::data_dir().ok_or(AppError::NoDataDir)?;
                Ok(base.join("vtc").join("vtc.sqlite").display().to_string())
            }
        }
    }

    /// Opens the database, creating it on first use, and prunes what has
    /// expired within a bounded time ([`store::PruneLimits::AT_START`]),
    /// so the database stays bounded without anyone running `vtc db prune`.
    pub async fn open_store(&self) -> Result<Arc<dyn store::Store>, AppError> {
        let store = self.open_database().await?;
        crate::database::prune_at_start(store.as_ref()).await;
        Ok(store)
    }

    /// Whether the database is one that several instances share (a
    /// `postgres://` URL): then budgets are reserved in its ledger before
    /// each request and lookups coalesce across instances.
    pub fn shares_database(&self) -> bool {
        self.db
            .as_deref()
            .is_some_and(|db| store::Location::parse(db) == store::Location::Postgres)
    }

    /// Opens the database as it is, without pruning.
    pub async fn open_database(&self) -> Result<Arc<dyn store::Store>, AppError> {
        Ok(store::open(&self.db_location()?).await?)
    }

    /// A client for the configured keys whose budgets count what earlier
    /// runs spent (kept in the database). A database that cannot be opened
    /// costs only that memory, with a warning.
    pub async fn client(&self) -> Result<vt_api::Client, AppError> {
        match self.open_store().await {
            Ok(store) => self.client_sharing(&store).await,
            Err(e) => {
                tracing::warn!("quota spent by earlier runs is unknown: {e}");
                self.build_client(None)
            }
        }
    }

    /// A client whose spend at its API origin is recorded in, and restored
    /// from, `store`.
    pub async fn client_sharing(
        &self,
        store: &Arc<dyn store::Store>,
    ) -> Result<vt_api::Client, AppError> {
        let client = self.build_client(Some(store))?;
        let labels: Vec<String> = self.keys.iter().map(|k| k.key.label()).collect();
        let now = time::OffsetDateTime::now_utc();
        match enrich::spent_ledger(store.as_ref(), &client.origin(), &labels, now).await {
            Ok(ledger) => client.restore_quota_ledger(&ledger),
            Err(e) => tracing::warn!("cannot read the quota spent by earlier runs: {e}"),
        }
        Ok(client)
    }

    /// The enricher: the store, a client sharing it, and these options on
    /// top of the configured verdict rules and cache lifetimes.
    pub async fn enricher(&self, options: EnricherOptions) -> Result<enrich::Enricher, AppError> {
        let store = self.open_store().await?;
        let client = self.client_sharing(&store).await?;
        Ok(enrich::Enricher::new(
            client,
            store,
            enrich::EnrichOptions {
                verdict: self.verdict.clone(),
                ttl: self.cache,
                refresh: options.refresh,
                max_age: options.max_age,
                full: options.full,
                rescan_stale: options.rescan_stale,
                shared_lookups: self.shares_database(),
            },
        ))
    }

    /// A client for the configured keys; without a key, [`AppError::NoApiKey`].
    fn build_client(
        &self,
        store: Option<&Arc<dyn store::Store>>,
    ) -> Result<vt_api::Client, AppError> {
        if self.keys.is_empty() {
            return Err(AppError::NoApiKey);
        }
        let mut builder = vt_api::Client::builder();
        for k in &self.keys {
            let budget = vt_api::QuotaBudget {
                per_minute: k.minute,
                per_day: k.day,
                per_month: k.month,
            };
            builder = if k.learn.any() {
                builder.api_key_learning_budget(k.key.clone(), budget, k.learn)
            } else {
                builder.api_key_with_budget(k.key.clone(), budget)
            };
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
        if let Some(timeout) = self.request_timeout {
            builder = builder.request_timeout(timeout);
        }
        if let Some(observer) = &self.quota_observer {
            builder = builder.quota_observer(observer.clone());
        }
        if let Some(window) = self.quota_window {
            builder = builder.quota_window(window);
        }
        if let Some(percent) = self.service.bulk_reserve_percent {
            builder = builder.bulk_reserve_percent(percent);
        }
        if let Some(store) = store {
            let origin = builder.origin()?;
            if self.shares_database() {
                // Other instances spend the same keys: every request first
                // reserves its unit in the one ledger they share.
                builder = builder.shared_budget(Arc::new(enrich::StoreSharedBudget::new(
                    store.clone(),
                    origin.clone(),
                )));
            }
            builder =
                builder.spend_log(Arc::new(enrich::StoreSpendLog::new(store.clone(), origin)));
        }
        Ok(builder.build()?)
    }
}

/// Per-run choices of an enrichment, on top of the configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnricherOptions {
    /// Ask VirusTotal even when the cache holds a fresh answer.
    pub refresh: bool,
    /// Treat cached answers older than this as missing.
    pub max_age: Option<Duration>,
    /// Put the whole VirusTotal object in each record.
    pub full: bool,
    /// Ask for a new analysis of stale files and URLs.
    pub rescan_stale: bool,
}

fn parse_key(key: String) -> Result<vt_api::ApiKey, AppError> {
    vt_api::ApiKey::new(key).map_err(|e| AppError::InvalidKey(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn file(text: &str) -> FileConfig {
        FileConfig::parse(text, Path::new("t.toml")).expect("parses")
    }

    const KEY: &str = "0000000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn a_flag_beats_the_file_and_the_file_beats_the_default() {
        let overrides = Overrides {
            api_key: Some(KEY.into()),
            quota: QuotaConfig {
                minute: Some(60),
                ..QuotaConfig::default()
            },
            ..Overrides::default()
        };
        let s = Settings::from_parts(&overrides, file("[quota]\nminute = 10\nday = 1000\n"))
            .expect("resolves");
        assert_eq!(s.keys.len(), 1);
        assert_eq!(
            (s.keys[0].minute, s.keys[0].day, s.keys[0].month),
            (60, 1000, 0)
        );
        let s = Settings::from_parts(
            &Overrides::default(),
            file(&format!("api_key = \"{KEY}\"\n")),
        )
        .expect("resolves");
        assert_eq!(
            (s.keys[0].minute, s.keys[0].day),
            (DEFAULT_QUOTA_MINUTE, DEFAULT_QUOTA_DAY)
        );
    }

    #[test]
    fn each_configured_key_keeps_its_own_budget() {
        let s = Settings::from_parts(
            &Overrides::default(),
            file(&format!(
                "[[keys]]\nkey = \"{KEY}\"\nminute = 30\n[[keys]]\nkey = \"{KEY}2\"\n"
            )),
        )
        .expect("resolves");
        assert_eq!(s.keys.len(), 2);
        assert_eq!(s.keys[0].minute, 30);
        assert_eq!(s.keys[1].minute, DEFAULT_QUOTA_MINUTE);
    }

    #[test]
    fn a_named_key_goes_by_its_name_and_names_are_unique() {
        let s = Settings::from_parts(
            &Overrides::default(),
            file(&format!(
                "[[keys]]\nkey = \"{KEY}\"\nname = \"team-a\"\n[[keys]]\nkey = \"{KEY}2\"\n"
            )),
        )
        .expect("resolves");
        assert_eq!(s.keys[0].key.label(), "team-a");
        assert!(s.keys[1].key.label().starts_with("key-"));
        let Err(err) = Settings::from_parts(
            &Overrides::default(),
            file(&format!(
                "[[keys]]\nkey = \"{KEY}\"\nname = \"a\"\n[[keys]]\nkey = \"{KEY}2\"\nname = \"a\"\n"
            )),
        ) else {
            panic!("one name, two keys");
        };
        assert!(err.to_string().contains("give each its own name"), "{err}");
        assert!(!err.to_string().contains(KEY), "{err}");
    }

    #[test]
    fn budgets_are_learnt_by_default_only_when_none_is_configured() {
        let key = || Overrides {
            api_key: Some(KEY.into()),
            ..Overrides::default()
        };
        let s = Settings::from_parts(&key(), FileConfig::default()).expect("resolves");
        assert_eq!(s.keys[0].learn, vt_api::LearnBudget::ALL);
        let s = Settings::from_parts(&key(), file("[quota]\nday = 100\n")).expect("resolves");
        assert!(!s.keys[0].learn.any(), "a configured budget means fixed");
        let auto = Overrides {
            quota_mode: Some(QuotaMode::Auto),
            ..key()
        };
        let s = Settings::from_parts(&auto, file("[quota]\nday = 100\n")).expect("resolves");
        let learn = s.keys[0].learn;
        assert!(learn.minute && !learn.day && learn.month, "{learn:?}");
        let fixed = Overrides {
            quota_mode: Some(QuotaMode::Fixed),
            ..key()
        };
        let s = Settings::from_parts(&fixed, FileConfig::default()).expect("resolves");
        assert!(!s.keys[0].learn.any());
        assert_eq!(s.keys[0].minute, DEFAULT_QUOTA_MINUTE);
    }

    #[test]
    fn no_key_is_a_clear_error_when_a_client_is_built() {
        let s = Settings::from_parts(&Overrides::default(), FileConfig::default()).expect("ok");
        let err = s.build_client(None).expect_err("no key");
        assert!(err.to_string().contains("VT_API_KEY"), "{err}");
    }

    #[test]
    fn a_flag_beats_the_environment_which_fills_the_rest() {
        let env = |name: &str| match name {
            "VT_API_KEY" => Some("env-key".to_owned()),
            "VTC_QUOTA_MINUTE" => Some("30".to_owned()),
            "VTC_QUOTA_DAY" => Some(" ".to_owned()),
            _ => None,
        };
        let flags = Overrides {
            api_key: Some("flag-key".into()),
            ..Overrides::default()
        };
        let o = flags.with_env_from(env).expect("valid");
        assert_eq!(o.api_key.as_deref(), Some("flag-key"));
        assert_eq!((o.quota.minute, o.quota.day), (Some(30), None));
        let bad = Overrides::default()
            .with_env_from(|n| (n == "VTC_QUOTA_MONTH").then(|| "-1".to_owned()))
            .expect_err("negative");
        assert!(bad.to_string().contains("VTC_QUOTA_MONTH"), "{bad}");
        let window = Overrides::default()
            .with_env_from(|n| (n == "VTC_QUOTA_WINDOW_SECONDS").then(|| "6".to_owned()))
            .expect("a window");
        assert_eq!(window.quota_window, Some(Duration::from_secs(6)));
        let s = Settings::from_parts(&window, FileConfig::default()).expect("ok");
        assert_eq!(s.quota_window, Some(Duration::from_secs(6)));
        for bad_window in ["0", "3601", "six"] {
            let err = Overrides::default()
                .with_env_from(|n| (n == "VTC_QUOTA_WINDOW_SECONDS").then(|| bad_window.to_owned()))
                .expect_err(bad_window);
            assert!(
                err.to_string().contains("VTC_QUOTA_WINDOW_SECONDS"),
                "{err}"
            );
        }
        let shown = format!(
            "{:?}",
            Overrides {
                proxy: Some("http://bob:hunter2@proxy.test:3128".into()),
                ..o
            }
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("flag-key"),
            "{shown}"
        );
    }

    #[test]
    fn formats_parse_by_their_names_only() {
        for f in OutputFormat::ALL {
            assert_eq!(f.as_str().parse::<OutputFormat>(), Ok(f));
        }
        assert!("yaml".parse::<OutputFormat>().is_err());
    }
}

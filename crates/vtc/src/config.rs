//! The command line's side of the configuration: the global flags become
//! [`app::Overrides`], the application crate lays them over the
//! environment and the config file, and does the rest. Only the default output format
//! is decided here, because it depends on this process' terminal.

use crate::cli::{GlobalArgs, OutputFormat};
use std::io::IsTerminal;

/// The application's settings plus the output format this run uses.
pub struct Settings {
    app: app::Settings,
    /// The format to write: the one asked for, else a table on a terminal
    /// and JSON lines in a pipe.
    pub format: OutputFormat,
    /// The format asked for by flag or config file, if any.
    pub format_flag: Option<OutputFormat>,
}

impl std::ops::Deref for Settings {
    type Target = app::Settings;

    fn deref(&self) -> &app::Settings {
        &self.app
    }
}

impl Settings {
    pub fn resolve(global: &GlobalArgs) -> anyhow::Result<Settings> {
        let mut app = app::Settings::resolve(&overrides(global).with_env()?)?;
        app.quota_observer = Some(std::sync::Arc::new(crate::quota_notice::QuotaNotice::new()));
        let format_flag = app.format;
        let format = format_flag.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                OutputFormat::Table
            } else {
                OutputFormat::Jsonl
            }
        });
        Ok(Settings {
            app,
            format,
            format_flag,
        })
    }
}

/// The global flags as the application crate takes them.
pub fn overrides(global: &GlobalArgs) -> app::Overrides {
    app::Overrides {
        api_key: global.api_key.clone(),
        api_url: global.api_url.clone(),
        config: global.config.clone(),
        db: global.db.clone(),
        format: global.format,
        proxy: global.proxy.clone(),
        insecure: global.insecure,
        quota: app::QuotaConfig {
            minute: global.quota_minute,
            day: global.quota_day,
            month: global.quota_month,
        },
        quota_mode: global.quota,
        // No flag: read from the environment only.
        quota_window: None,
    }
}

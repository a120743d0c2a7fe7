//! `vtc quota`: the key's use and allowance per minute, hour, day and month.

use crate::action_context;
use crate::cli::OutputFormat;
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view::{self, Answer};
use std::io::Write;

pub async fn run(settings: &Settings) -> anyhow::Result<Exit> {
    let ctx = action_context::build(settings, None).await?;
    let quota = actions::quota(&ctx, actions::QuotaRequest {}).await?;
    if settings.format != OutputFormat::Table {
        object_view::print(&Answer::One(serde_json::to_value(&quota)?), settings.format)?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<8} {:>12} {:>14}", "WINDOW", "USED", "ALLOWED")?;
    let windows = [
        ("minute", &quota.minute),
        ("hour", &quota.hour),
        ("day", &quota.day),
        ("month", &quota.month),
    ];
    for (name, window) in windows {
        let shown = |v: Option<u64>| match v {
            Some(n) if n >= 1_000_000_000 => "unlimited".to_owned(),
            Some(n) => n.to_string(),
            None if name == "minute" => "unlimited".to_owned(),
            None => "-".to_owned(),
        };
        writeln!(
            out,
            "{:<8} {:>12} {:>14}",
            name,
            shown(window.used),
            shown(window.allowed)
        )?;
    }
    writeln!(
        out,
        "today: {} API calls by this key; the minute row is vtc's own budget",
        quota.today_total
    )?;
    out.flush()?;
    Ok(Exit::Success)
}

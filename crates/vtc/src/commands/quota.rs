//! `vtc quota`: the key's use and allowance per minute, hour, day and month.

use crate::capabilities;
use crate::cli::OutputFormat;
use crate::config::Settings;
use crate::exit::{usage, Exit};
use crate::object_view::{self, Answer};
use serde_json::Value;
use std::io::Write;

pub async fn run(settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client()?;
    let key = settings
        .keys
        .first()
        .ok_or_else(|| usage("no VirusTotal API key"))?;
    let mut answer = capabilities::quota(&client, &key.key, key.minute).await?;
    let Answer::One(quota) = &mut answer else {
        return Ok(Exit::Success);
    };
    // The minute budget in force: learnt from the API with `--quota auto`.
    if let Some(status) = client.quota_status().first() {
        quota["minute"]["allowed"] = status.minute.allowed.map_or(Value::Null, Value::from);
    }
    let quota = &*quota;
    if settings.format != OutputFormat::Table {
        object_view::print(&answer, settings.format)?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<8} {:>12} {:>14}", "WINDOW", "USED", "ALLOWED")?;
    for window in ["minute", "hour", "day", "month"] {
        let shown = |v: &Value| match v.as_u64() {
            Some(n) if n >= 1_000_000_000 => "unlimited".to_owned(),
            Some(n) => n.to_string(),
            None if v.is_null() && window == "minute" => "unlimited".to_owned(),
            None => "-".to_owned(),
        };
        writeln!(
            out,
            "{:<8} {:>12} {:>14}",
            window,
            shown(&quota[window]["used"]),
            shown(&quota[window]["allowed"])
        )?;
    }
    writeln!(
        out,
        "today: {} API calls by this key; the minute row is vtc's own budget",
        quota["today_total"]
    )?;
    out.flush()?;
    Ok(Exit::Success)
}

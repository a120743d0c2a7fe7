//! VirusTotal objects for people and machines: a compact table (one row
//! per object: type, id, a summary) or the objects themselves as JSON, JSON
//! lines or CSV. Every string shown may come from an attacker (file names,
//! URLs, comments), so table and CSV cells lose control characters and are
//! bounded.

use crate::cli::OutputFormat;
use serde_json::Value;
use std::io::Write;

/// Longest summary cell in a table, in characters.
const MAX_DETAIL: usize = 120;
/// Longest id cell in a table: ids are shown whole (the API's are at most
/// 512 characters) so they can be copied into the next command.
const MAX_ID: usize = 512;

/// What a command got back: one object (or document), or a list of them.
#[derive(Debug, Clone)]
pub enum Answer {
    One(Value),
    Many(Vec<Value>),
}

impl Answer {
    /// One object an action answered.
    pub fn object(output: &actions::ObjectOutput) -> anyhow::Result<Answer> {
        Ok(Answer::One(serde_json::to_value(output)?))
    }

    /// The objects of a listing.
    pub fn list(output: &actions::ObjectList) -> anyhow::Result<Answer> {
        Ok(Answer::Many(
            output
                .0
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<_, _>>()?,
        ))
    }
}

/// Prints `answer` in `format`: JSON is the objects as sent (an array for a
/// list), JSON lines one object per line, table and CSV one summary row each.
pub fn print(answer: &Answer, format: OutputFormat) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let items: Vec<&Value> = match answer {
        Answer::One(v) => vec![v],
        Answer::Many(items) => items.iter().collect(),
    };
    match format {
        OutputFormat::Json => {
            match answer {
                Answer::One(v) => serde_json::to_writer_pretty(&mut out, v)?,
                Answer::Many(items) => serde_json::to_writer_pretty(&mut out, items)?,
            }
            writeln!(out)?;
        }
        OutputFormat::Jsonl => {
            for item in items {
                serde_json::to_writer(&mut out, item)?;
                writeln!(out)?;
            }
        }
        OutputFormat::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(["type", "id", "summary"])?;
            for item in items {
                let (kind, id, detail) = row(item);
                csv.write_record([kind, id, detail])?;
            }
            csv.flush()?;
        }
        OutputFormat::Table => {
            let rows: Vec<(String, String, String)> = items.into_iter().map(row).collect();
            if rows.is_empty() {
                writeln!(out, "(none)")?;
            } else {
                let id_width = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(2);
                writeln!(out, "{:<16} {:<id_width$} SUMMARY", "TYPE", "ID")?;
                for (kind, id, detail) in rows {
                    writeln!(out, "{kind:<16} {id:<id_width$} {detail}")?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Prints a flat JSON object (a download's result, a quota) as `key  value`
/// lines for a terminal, or as JSON otherwise.
pub fn print_fields(value: &Value, format: OutputFormat) -> anyhow::Result<()> {
    if format != OutputFormat::Table {
        return print(&Answer::One(value.clone()), format);
    }
    let mut out = std::io::stdout().lock();
    if let Some(map) = value.as_object() {
        let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
        for (key, v) in map {
            let shown = match v {
                Value::String(s) => cell(s, MAX_DETAIL),
                other => cell(&other.to_string(), MAX_DETAIL),
            };
            writeln!(out, "{key:<width$}  {shown}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Type, id and a one-line summary of an object.
pub fn row(object: &Value) -> (String, String, String) {
    let kind = object["type"].as_str().unwrap_or("?");
    let id = object["id"].as_str().unwrap_or("");
    (
        cell(kind, 32),
        cell(id, MAX_ID),
        cell(&summary(object), MAX_DETAIL),
    )
}

fn summary(object: &Value) -> String {
    if let Some(error) = object.get("error").filter(|e| !e.is_null()) {
        return format!(
            "error: {} {}",
            error["code"].as_str().unwrap_or(""),
            error["message"].as_str().unwrap_or("")
        );
    }
    let a = &object["attributes"];
    let text = |key: &str| a[key].as_str().unwrap_or("").to_owned();
    let mut parts: Vec<String> = Vec::new();
    match object["type"].as_str().unwrap_or("") {
        "file" | "private_file" => {
            parts.extend(detections(object, &a["last_analysis_stats"]));
            let name = a["meaningful_name"]
                .as_str()
                .or_else(|| a["type_description"].as_str())
                .unwrap_or("");
            parts.push(name.to_owned());
            if let Some(size) = a["size"].as_u64() {
                parts.push(format!("{size} bytes"));
            }
        }
        "url" | "private_url" => {
            parts.extend(detections(object, &a["last_analysis_stats"]));
            parts.push(text("url"));
        }
        "domain" | "ip_address" => {
            parts.extend(detections(object, &a["last_analysis_stats"]));
            if let Some(r) = a["reputation"].as_i64() {
                parts.push(format!("reputation {r}"));
            }
            for key in ["country", "as_owner", "registrar"] {
                parts.push(text(key));
            }
        }
        "analysis" | "private_analysis" => {
            let status = a["status"].as_str().unwrap_or("queued");
            parts.push(status.to_owned());
            if status == "completed" {
                parts.extend(detections(object, &a["stats"]));
            }
        }
        "comment" => {
            parts.push(date(&a["date"]));
            parts.push(text("text"));
        }
        "vote" => {
            parts.push(text("verdict"));
            parts.push(date(&a["date"]));
        }
        "resolution" => {
            parts.push(format!("{} -> {}", text("host_name"), text("ip_address")));
            parts.push(date(&a["date"]));
        }
        _ => {
            if let Some(context) = object.get("context_attributes").filter(|c| !c.is_null()) {
                parts.push(context.to_string());
            }
        }
    }
    parts.retain(|p| !p.is_empty());
    parts.join("  ")
}

/// `M/T malicious`: the one detection rule (`verdict::Detection`), as the
/// action computed it, else from the stats map.
fn detections(object: &Value, stats: &Value) -> Option<String> {
    if let Some(ratio) = object["detection"]["ratio"].as_str() {
        return Some(format!("{ratio} malicious"));
    }
    stats.as_object()?;
    actions::DetectionView::of_stats(stats).map(|d| format!("{} malicious", d.ratio))
}

fn date(value: &Value) -> String {
    value
        .as_i64()
        .and_then(|ts| time::OffsetDateTime::from_unix_timestamp(ts).ok())
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A string safe to show on a terminal: control characters (escape
/// sequences, newlines) become spaces, and it is cut at `max` characters.
pub fn cell(s: &str, max: usize) -> String {
    let mut shown: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if s.chars().count() > max {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_lose_control_characters_and_are_bounded() {
        assert_eq!(cell("a\u{1b}[31mb\nc", 100), "a [31mb c");
        let long = "x".repeat(500);
        assert_eq!(cell(&long, 10).chars().count(), 11);
    }

    #[test]
    fn rows_summarise_each_kind() {
        let file = json!({"type": "file", "id": "abc", "attributes": {
            "last_analysis_stats": {"malicious": 3, "undetected": 7, "type-unsupported": 4},
            "meaningful_name": "evil.exe", "size": 10}});
        assert_eq!(
            row(&file),
            (
                "file".into(),
                "abc".into(),
                "3/10 malicious  evil.exe  10 bytes".into()
            )
        );
        let analysis = json!({"type": "analysis", "id": "x", "attributes": {"status": "queued"}});
        assert_eq!(row(&analysis).2, "queued");
        let private_url = json!({"type": "private_url", "id": "u", "attributes": {
            "last_analysis_stats": {"malicious": 1, "harmless": 1},
            "url": "http://x.example/"}});
        assert_eq!(row(&private_url).2, "1/2 malicious  http://x.example/");
        let resolution = json!({"type": "resolution", "id": "8.8.8.8dns.example",
            "attributes": {"host_name": "dns.example", "ip_address": "8.8.8.8"}});
        assert_eq!(row(&resolution).2, "dns.example -> 8.8.8.8");
        let descriptor = json!({"type": "domain", "id": "example.com"});
        assert_eq!(row(&descriptor).2, "");
    }
}

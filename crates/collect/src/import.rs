//! `vtc collect --import-config connector.conf`: the original Carbon Black
//! connector's INI settings (Python `RawConfigParser` syntax: `[section]`,
//! `key=value` or `key: value`, `;` and `#` comments, indented continuation
//! lines, keys case-insensitive) turned into vtc's config, with the keys
//! that have no counterpart listed.
//!
//! The parser is written for hostile input (it is fuzzed: `fuzz/`): bounded
//! size, no recursion, never panics.

use crate::config::{CollectConfig, RescanWindow};
use crate::CollectError;
use serde::Serialize;

/// Connector files are a few KiB; anything larger is not one.
pub const MAX_INI_BYTES: usize = 1024 * 1024;

/// One `key = value` of an INI file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniEntry {
    pub section: String,
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Parses INI text. A line that is neither a section, an entry, a comment
/// nor a continuation is an error naming its line.
pub fn parse_ini(text: &str) -> Result<Vec<IniEntry>, CollectError> {
    if text.len() > MAX_INI_BYTES {
        return Err(CollectError::Config(format!(
            "the connector config is larger than {MAX_INI_BYTES} bytes"
        )));
    }
    let mut entries: Vec<IniEntry> = Vec::new();
    let mut section = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            // A continuation of the entry above (RawConfigParser's rule).
            if let Some(last) = entries.last_mut() {
                last.value.push('\n');
                last.value.push_str(trimmed);
                continue;
            }
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let name = rest.strip_suffix(']').ok_or_else(|| {
                CollectError::Config(format!("line {line_no}: a section header lacks its ]"))
            })?;
            section = name.trim().to_owned();
            continue;
        }
        let split = trimmed.find(['=', ':']).ok_or_else(|| {
            CollectError::Config(format!(
                "line {line_no}: not a key = value line, a [section] or a comment"
            ))
        })?;
        let key = trimmed[..split].trim().to_lowercase();
        if key.is_empty() {
            return Err(CollectError::Config(format!(
                "line {line_no}: a value without a key"
            )));
        }
        entries.push(IniEntry {
            section: section.clone(),
            key,
            value: trimmed[split + 1..].trim().to_owned(),
            line: line_no,
        });
    }
    Ok(entries)
}

/// What an import produced.
#[derive(Debug)]
pub struct Imported {
    /// vtc's config file text (TOML): `api_key`, a `[collect]` table and,
    /// when the connector named its feed, `[feeds] name`.
    pub toml: String,
    /// Keys of the connector's file with no counterpart, with the reason.
    pub unmapped: Vec<(String, &'static str)>,
    pub config: CollectConfig,
}

#[derive(Serialize)]
struct VtcConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<&'a str>,
    collect: &'a CollectConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    feeds: Option<FeedsTable>,
}

/// The `[feeds]` table's part the connector had: the feed's name.
#[derive(Serialize)]
struct FeedsTable {
    name: String,
}

fn flag(key: &str, value: &str) -> Result<bool, CollectError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(CollectError::Config(format!(
            "{key}: {value:?} is not a yes/no value"
        ))),
    }
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, CollectError> {
    value
        .trim()
        .parse()
        .map_err(|_| CollectError::Config(format!("{key}: {value:?} is not a number")))
}

/// Maps the connector's settings onto vtc's. Values are checked as vtc
/// would check them, so a bad window or URL is refused here, not at the
/// first run.
pub fn import_connector_config(text: &str) -> Result<Imported, CollectError> {
    let entries = parse_ini(text)?;
    let mut config = CollectConfig::default();
    let mut api_key: Option<String> = None;
    let mut unmapped = Vec::new();
    let (mut listen_addr, mut listen_port) = (None::<String>, None::<u16>);
    let mut days_rescan: Option<u64> = None;
    let mut feed_name: Option<String> = None;
    let mut rescan_given = false;
    for e in &entries {
        let (key, value) = (e.key.as_str(), e.value.as_str());
        let set = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        match key {
            "virustotal_api_token" => api_key = set(value),
            "carbonblack_server_url" => config.carbonblack_server_url = set(value),
            "carbonblack_server_token" => config.carbonblack_server_token = set(value),
            "carbonblack_server_sslverify" => config.carbonblack_sslverify = flag(key, value)?,
            "binary_filter_query" => config.binary_filter_query = set(value),
            "rescan_window" => {
                RescanWindow::parse(value)?;
                config.rescan_window = value.trim().to_owned();
                rescan_given = true;
            }
            "days_rescan" => days_rescan = Some(number(key, value)?),
            "submit_full_binaries" => config.submit_full_binaries = flag(key, value)?,
            "virustotal_deep_scan_threads" => config.deep_scan_threads = number(key, value)?,
            "virustotal_quick_scan_threads" => {
                config.quick_scan_threads = number::<usize>(key, value)?.max(1)
            }
            "listener_port" => listen_port = Some(number(key, value)?),
            "listener_address" => listen_addr = set(value),
            "feed_host" => config.feed_host = set(value),
            "feed_name" | "name" => {
                // A Carbon Black feed name is letters and digits only.
                let name: String = value
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(64)
                    .collect();
                if name.is_empty() {
                    unmapped.push((key.to_owned(), "not a feed name (letters and digits)"));
                } else {
                    feed_name = Some(name);
                }
            }
            "virustotal_url" => unmapped.push((
                key.to_owned(),
                "an API v2 URL; vtc speaks API v3 (--api-url, default VirusTotal's)",
            )),
            "debug" => unmapped.push((key.to_owned(), "use -v or VTC_LOG=debug")),
            "legacy_feed_directory" => unmapped.push((
                key.to_owned(),
                "legacy feed files are not read; the feed is rebuilt from the collector's state",
            )),
            _ => unmapped.push((key.to_owned(), "no vtc setting")),
        }
    }
    if !rescan_given {
        // The original's older `days_rescan`; its 365-day default is not
        // carried over unless written in the file.
        if let Some(days) = days_rescan.filter(|d| *d > 0) {
            config.rescan_window = format!("{days}D");
            RescanWindow::parse(&config.rescan_window)?;
        }
    } else if days_rescan.is_some() {
        unmapped.push(("days_rescan".into(), "rescan_window is given and wins"));
    }
    if listen_port.is_some() || listen_addr.is_some() {
        let addr = listen_addr.unwrap_or_else(|| "127.0.0.1".into());
        config.feed_listen = Some(format!("{addr}:{}", listen_port.unwrap_or(4000)));
    }
    config.validate()?;
    let toml = toml::to_string(&VtcConfig {
        api_key: api_key.as_deref(),
        collect: &config,
        feeds: feed_name.map(|name| FeedsTable { name }),
    })
    .map_err(|e| CollectError::Config(format!("cannot write the config: {e}")))?;
    Ok(Imported {
        toml,
        unmapped,
        config,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The shape of the original's connector.conf.example, written here
    /// from its documented keys.
    const CONNECTOR: &str = "[bridge]\n\
        ; the feed listener\n\
        listener_port=4000\n\
        listener_address=0.0.0.0\n\
        feed_host=10.0.0.5\n\
        binary_filter_query=is_executable_image:true -(digsig_publisher:\"Microsoft Corporation\" and digsig_result:\"Signed\")\n\
        virustotal_deep_scan_threads=2\n\
        submit_full_binaries=1\n\
        virustotal_api_token=0123456789abcdef\n\
        virustotal_url=https://www.virustotal.com/vtapi/v2/file/\n\
        carbonblack_server_url=https://cb.example.org/\n\
        carbonblack_server_token=cbtoken\n\
        carbonblack_server_sslverify=0\n\
        rescan_window=7D\n\
        debug=1\n\
        feed_name=virustotal\n";

    #[test]
    fn the_connector_settings_map_onto_vtc_and_the_rest_is_listed() {
        let imported = import_connector_config(CONNECTOR).unwrap();
        let c = &imported.config;
        assert_eq!(
            c.carbonblack_server_url.as_deref(),
            Some("https://cb.example.org/")
        );
        assert_eq!(c.carbonblack_server_token.as_deref(), Some("cbtoken"));
        assert!(!c.carbonblack_sslverify);
        assert!(c.submit_full_binaries);
        assert_eq!(c.deep_scan_threads, 2);
        assert_eq!(c.rescan_window, "7D");
        assert_eq!(c.feed_listen.as_deref(), Some("0.0.0.0:4000"));
        assert_eq!(c.feed_host.as_deref(), Some("10.0.0.5"));
        assert!(c
            .binary_filter_query
            .as_deref()
            .unwrap()
            .contains("Microsoft Corporation"));
        let keys: Vec<&str> = imported.unmapped.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["virustotal_url", "debug"]);
        // The TOML is vtc's config: it reads back.
        let back: toml::Table = toml::from_str(&imported.toml).unwrap();
        assert_eq!(back["api_key"].as_str(), Some("0123456789abcdef"));
        assert_eq!(back["feeds"]["name"].as_str(), Some("virustotal"));
        let table = back["collect"].as_table().unwrap();
        let again = CollectConfig::from_table(Some(table)).unwrap();
        assert_eq!(again.rescan_window, "7D");
        assert_eq!(again.carbonblack_server_token.as_deref(), Some("cbtoken"));
    }

    #[test]
    fn ini_syntax_edge_cases() {
        let e = parse_ini("[a]\nKey : v1\n  more\n# c\nother=\n").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].key.as_str(), e[0].value.as_str()),
            ("key", "v1\nmore")
        );
        assert_eq!(e[1].value, "");
        assert!(parse_ini("[broken\n").is_err());
        assert!(parse_ini("just words\n")
            .unwrap_err()
            .to_string()
            .contains("line 1"));
        assert!(parse_ini("=x\n").is_err());
        assert!(import_connector_config("rescan_window=7Y\n").is_err());
        assert!(import_connector_config("submit_full_binaries=maybe\n").is_err());
        assert!(import_connector_config("carbonblack_server_url=ftp://x\n").is_err());
        let old = import_connector_config("days_rescan=30\n").unwrap();
        assert_eq!(old.config.rescan_window, "30D");
    }

    /// The fuzz target's property (fuzz/fuzz_targets/import_config.rs) over
    /// a few thousand mutations of a real file, so `cargo test` keeps it.
    #[test]
    fn mutated_configs_never_panic_and_imports_read_back() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"[]=:;# \t\n\"'abcxyz019_.-\\\xc3\xa9";
        for _ in 0..3000 {
            let mut bytes = CONNECTOR.as_bytes().to_vec();
            for _ in 0..(next() % 8) {
                let at = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = alphabet[(next() as usize) % alphabet.len()],
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                }
            }
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            let _ = parse_ini(text);
            if let Ok(imported) = import_connector_config(text) {
                let table: toml::Table = toml::from_str(&imported.toml).unwrap();
                let collect = table.get("collect").and_then(|c| c.as_table());
                CollectConfig::from_table(collect).unwrap();
            }
        }
    }
}

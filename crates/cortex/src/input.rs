//! The job's input (`input.json`, or the same JSON on stdin) read into a
//! typed [`Input`]: the observable, TLP and PAP, and the analyzer's
//! configuration with the defaults the analyzer definitions declare.
//!
//! Every value is checked here, before any API call: a wrong type or an
//! out-of-range number is an [`InputError`] naming the field. The raw input
//! is kept (its secrets redacted) because Cortex shows it beside a failure.

use serde_json::{Map, Value};
use std::time::Duration;

/// Largest `input.json` read.
pub const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;
/// Largest observable (`data`) taken.
pub const MAX_DATA_LEN: usize = 64 * 1024;
/// Most highlighted engines taken, and the longest engine name.
const MAX_ENGINES: usize = 200;
const MAX_ENGINE_NAME: usize = 128;

/// The four analyzers, chosen by `config.service` as their definitions set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `get`: VirusTotal_GetReport.
    GetReport,
    /// `scan`: VirusTotal_Scan.
    Scan,
    /// `rescan`: VirusTotal_Rescan.
    Rescan,
    /// `download`: VirusTotal_DownloadSample.
    DownloadSample,
}

impl Flavour {
    pub const ALL: [Flavour; 4] = [
        Flavour::GetReport,
        Flavour::Scan,
        Flavour::Rescan,
        Flavour::DownloadSample,
    ];

    /// The `service` value that selects it.
    pub fn service(self) -> &'static str {
        match self {
            Flavour::GetReport => "get",
            Flavour::Scan => "scan",
            Flavour::Rescan => "rescan",
            Flavour::DownloadSample => "download",
        }
    }

    /// The analyzer's name in Cortex.
    pub fn analyzer(self) -> &'static str {
        match self {
            Flavour::GetReport => "VirusTotal_GetReport",
            Flavour::Scan => "VirusTotal_Scan",
            Flavour::Rescan => "VirusTotal_Rescan",
            Flavour::DownloadSample => "VirusTotal_DownloadSample",
        }
    }

    /// The taxonomy predicate of its main verdict.
    pub fn predicate(self) -> &'static str {
        match self {
            Flavour::GetReport => "GetReport",
            Flavour::Scan => "Scan",
            Flavour::Rescan => "Rescan",
            Flavour::DownloadSample => "DownloadSample",
        }
    }

    /// The observable types it takes (the definition's `dataTypeList`).
    pub fn data_types(self) -> &'static [&'static str] {
        match self {
            Flavour::GetReport => &["file", "hash", "domain", "fqdn", "ip", "url"],
            Flavour::Scan => &["file", "url"],
            Flavour::Rescan | Flavour::DownloadSample => &["hash"],
        }
    }

    /// The `config` options it reads besides the common ones (`key`,
    /// `api_url`, `proxy`, TLP/PAP checks): what its definition's
    /// `configurationItems` list.
    pub fn options(self) -> &'static [&'static str] {
        match self {
            Flavour::GetReport => &[
                "key",
                "api_url",
                "polling_interval",
                "polling_timeout",
                "rescan_hash_older_than_days",
                "highlighted_antivirus",
                "download_sample",
                "download_sample_if_highlighted",
            ],
            Flavour::Scan => &[
                "key",
                "api_url",
                "polling_interval",
                "polling_timeout",
                "highlighted_antivirus",
            ],
            Flavour::Rescan => &[
                "key",
                "api_url",
                "polling_interval",
                "polling_timeout",
                "highlighted_antivirus",
                "download_sample",
                "download_sample_if_highlighted",
            ],
            Flavour::DownloadSample => &["key", "api_url"],
        }
    }

    fn from_service(service: &str) -> Option<Flavour> {
        Flavour::ALL.into_iter().find(|f| f.service() == service)
    }
}

/// The analyzer's configuration (`config` of the input).
#[derive(Clone)]
pub struct Config {
    pub flavour: Flavour,
    /// `key`: the VirusTotal API key (else vtc's own configuration).
    pub key: Option<String>,
    /// `api_url`: another API root (an emulator), else vtc's configuration.
    pub api_url: Option<String>,
    /// `polling_interval`, seconds between polls of an analysis (default 60).
    pub polling_interval: Duration,
    /// `polling_timeout`, seconds to wait for an analysis (default 600).
    pub polling_timeout: Duration,
    /// `rescan_hash_older_than_days`: rescan a file whose last analysis is older.
    pub rescan_older_than: Option<Duration>,
    /// `highlighted_antivirus`: engines whose misses get a taxonomy each.
    pub highlighted_antivirus: Vec<String>,
    pub download_sample: bool,
    pub download_sample_if_highlighted: bool,
    pub check_tlp: bool,
    pub max_tlp: i64,
    pub check_pap: bool,
    pub max_pap: i64,
    /// `proxy.https`, else `proxy.http`.
    pub proxy: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("flavour", &self.flavour)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("api_url", &self.api_url)
            .field("polling_interval", &self.polling_interval)
            .field("highlighted_antivirus", &self.highlighted_antivirus)
            .finish_non_exhaustive()
    }
}

/// One job's input.
#[derive(Debug, Clone)]
pub struct Input {
    /// `dataType`: file, hash, domain, fqdn, ip, url, ...
    pub data_type: String,
    /// `data`: the observable (not for files).
    pub data: Option<String>,
    /// `file`: for a file observable, its name under `JOBDIR/input/` (the
    /// old stdin form: its path).
    pub file: Option<String>,
    /// `filename`: the file's original name.
    pub filename: Option<String>,
    pub tlp: i64,
    pub pap: i64,
    pub config: Config,
}

/// Why an input was refused, with the input (secrets redacted) when it was JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    pub message: String,
    /// The input as Cortex gave it, secrets `REMOVED`; `None` if not JSON.
    pub input: Option<Value>,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

/// Reads an input document. Pure: no I/O, so the fuzz target drives it.
pub fn parse_input(bytes: &[u8]) -> Result<Input, InputError> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(InputError {
            message: format!(
                "the job input is larger than {} MB",
                MAX_INPUT_BYTES / (1024 * 1024)
            ),
            input: None,
        });
    }
    let raw: Value = serde_json::from_slice(bytes).map_err(|e| InputError {
        message: format!("the job input is not JSON: {e}"),
        input: None,
    })?;
    let refuse = |message: String| InputError {
        message,
        input: Some(redacted(&raw)),
    };
    let Some(top) = raw.as_object() else {
        return Err(refuse("the job input must be a JSON object".into()));
    };
    let data_type = string(top, "dataType")
        .map_err(&refuse)?
        .ok_or_else(|| refuse("missing dataType field".into()))?;
    let data = string(top, "data").map_err(&refuse)?;
    if data.as_ref().is_some_and(|d| d.len() > MAX_DATA_LEN) {
        return Err(refuse(format!(
            "data: the observable is longer than {MAX_DATA_LEN} bytes"
        )));
    }
    let file = string(top, "file").map_err(&refuse)?;
    let filename = string(top, "filename").map_err(&refuse)?;
    let tlp = level(top, "tlp").map_err(&refuse)?;
    let pap = level(top, "pap").map_err(&refuse)?;
    let empty = Map::new();
    let config = match top.get("config") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(config)) => config,
        Some(_) => return Err(refuse("config: expected an object".into())),
    };
    let config = read_config(config).map_err(&refuse)?;
    Ok(Input {
        data_type,
        data,
        file,
        filename,
        tlp,
        pap,
        config,
    })
}

fn read_config(config: &Map<String, Value>) -> Result<Config, String> {
    let field = |name: &str| format!("config.{name}");
    let service = string(config, "service")
        .map_err(|e| format!("config.{e}"))?
        .ok_or_else(|| {
            "service parameter is missing (config.service: get, scan, rescan or download)"
                .to_owned()
        })?;
    let flavour = Flavour::from_service(&service).ok_or_else(|| {
        format!(
            "config.service: {:?} is not a service of this analyzer (get, scan, rescan or download)",
            bounded(&service)
        )
    })?;
    let seconds = |name: &str, default: f64, max: f64| -> Result<Duration, String> {
        let value = number(config, name)
            .map_err(|e| format!("config.{e}"))?
            .unwrap_or(default);
        if !(value > 0.0 && value <= max) {
            return Err(format!(
                "{}: give a number of seconds above 0 and at most {max}",
                field(name)
            ));
        }
        Ok(Duration::from_secs_f64(value))
    };
    let polling_interval = seconds("polling_interval", 60.0, 3600.0)?;
    let polling_timeout = seconds("polling_timeout", 600.0, 86_400.0)?;
    let rescan_older_than = match number(config, "rescan_hash_older_than_days")
        .map_err(|e| format!("config.{e}"))?
    {
        None => None,
        Some(days) if (0.0..=36_500.0).contains(&days) => {
            Some(Duration::from_secs_f64(days * 86_400.0))
        }
        Some(_) => {
            return Err(
                "config.rescan_hash_older_than_days: give a number of days from 0 to 36500".into(),
            )
        }
    };
    let highlighted_antivirus = engines(config.get("highlighted_antivirus"))?;
    let flag = |name: &str| boolean(config, name).map_err(|e| format!("config.{e}"));
    let proxy = match config.get("proxy") {
        None | Some(Value::Null) => None,
        Some(Value::Object(proxy)) => {
            let https = string(proxy, "https").map_err(|e| format!("config.proxy.{e}"))?;
            let http = string(proxy, "http").map_err(|e| format!("config.proxy.{e}"))?;
            https.or(http).filter(|p| !p.trim().is_empty())
        }
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => return Err("config.proxy: expected {\"http\": URL, \"https\": URL}".into()),
    };
    Ok(Config {
        flavour,
        key: string(config, "key")
            .map_err(|e| format!("config.{e}"))?
            .filter(|k| !k.trim().is_empty()),
        api_url: string(config, "api_url")
            .map_err(|e| format!("config.{e}"))?
            .filter(|u| !u.trim().is_empty()),
        polling_interval,
        polling_timeout,
        rescan_older_than,
        highlighted_antivirus,
        download_sample: flag("download_sample")?.unwrap_or(false),
        download_sample_if_highlighted: flag("download_sample_if_highlighted")?.unwrap_or(false),
        check_tlp: flag("check_tlp")?.unwrap_or(false),
        max_tlp: level(config, "max_tlp").map_err(|e| format!("config.{e}"))?,
        check_pap: flag("check_pap")?.unwrap_or(false),
        max_pap: level(config, "max_pap").map_err(|e| format!("config.{e}"))?,
        proxy,
    })
}

/// A string field; `null` or absent is `None`.
fn string(object: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{name}: expected a string")),
    }
}

/// A number field, also as a numeric string (Cortex forms send either).
fn number(object: &Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| format!("{name}: expected a number")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| format!("{name}: {:?} is not a number", bounded(s))),
        Some(_) => Err(format!("{name}: expected a number")),
    }
}

fn boolean(object: &Map<String, Value>, name: &str) -> Result<Option<bool>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(format!("{name}: expected true or false")),
    }
}

/// A TLP or PAP level: 0 (clear/white) to 4; 2 (amber) when absent, as
/// cortexutils defaults.
fn level(object: &Map<String, Value>, name: &str) -> Result<i64, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(2),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|v| (0..=4).contains(v))
            .ok_or_else(|| format!("{name}: expected a level from 0 to 4")),
        Some(_) => Err(format!("{name}: expected a level from 0 to 4")),
    }
}

/// `highlighted_antivirus`: a list of engine names (a comma-separated
/// string is taken too); blanks dropped.
fn engines(value: Option<&Value>) -> Result<Vec<String>, String> {
    let names: Vec<String> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split(',').map(|n| n.trim().to_owned()).collect(),
        Some(Value::Array(items)) => {
            let mut names = Vec::with_capacity(items.len().min(MAX_ENGINES));
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => names.push(s.trim().to_owned()),
                    Value::Null => {}
                    _ => {
                        return Err(format!(
                            "config.highlighted_antivirus[{i}]: expected an engine name"
                        ))
                    }
                }
            }
            names
        }
        Some(_) => {
            return Err("config.highlighted_antivirus: expected a list of engine names".into())
        }
    };
    let names: Vec<String> = names.into_iter().filter(|n| !n.is_empty()).collect();
    if names.len() > MAX_ENGINES {
        return Err(format!(
            "config.highlighted_antivirus: at most {MAX_ENGINES} engines"
        ));
    }
    if names.iter().any(|n| n.len() > MAX_ENGINE_NAME) {
        return Err(format!(
            "config.highlighted_antivirus: an engine name is longer than {MAX_ENGINE_NAME} bytes"
        ));
    }
    Ok(names)
}

/// At most 64 characters of an attacker's string, for a message.
pub(crate) fn bounded(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// The input as a failure shows it: every `config` entry whose name holds
/// `key`, `password` or `secret` (cortexutils' phrases) is `REMOVED`, and
/// so is a proxy, whose URL may carry credentials.
pub fn redacted(input: &Value) -> Value {
    let mut input = input.clone();
    if let Some(config) = input.get_mut("config").and_then(Value::as_object_mut) {
        for (name, value) in config.iter_mut() {
            let lower = name.to_ascii_lowercase();
            if ["key", "password", "secret", "proxy", "token"]
                .iter()
                .any(|p| lower.contains(p))
            {
                *value = Value::String("REMOVED".into());
            }
        }
    }
    input
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Input, InputError> {
        parse_input(value.to_string().as_bytes())
    }

    #[test]
    fn defaults_are_the_definitions_defaults() {
        let input =
            parse(json!({"dataType": "hash", "data": "x", "config": {"service": "get"}})).unwrap();
        assert_eq!(input.tlp, 2);
        assert_eq!(input.pap, 2);
        let c = &input.config;
        assert_eq!(c.flavour, Flavour::GetReport);
        assert_eq!(c.polling_interval, Duration::from_secs(60));
        assert!(c.rescan_older_than.is_none());
        assert!(!c.check_tlp && !c.check_pap && !c.download_sample);
        assert_eq!(c.max_tlp, 2);
    }

    #[test]
    fn a_bad_value_is_refused_naming_its_field_and_the_key_is_removed() {
        let cases = [
            (
                json!({"data": "x", "config": {"service": "get"}}),
                "dataType",
            ),
            (json!({"dataType": "hash", "config": {}}), "service"),
            (
                json!({"dataType": "hash", "config": {"service": "nope"}}),
                "config.service",
            ),
            (
                json!({"dataType": 3, "config": {"service": "get"}}),
                "dataType",
            ),
            (
                json!({"dataType": "hash", "tlp": "red", "config": {"service": "get"}}),
                "tlp",
            ),
            (
                json!({"dataType": "hash", "tlp": 9, "config": {"service": "get"}}),
                "tlp",
            ),
            (
                json!({"dataType": "hash", "config": {"service": "get", "polling_interval": -1}}),
                "config.polling_interval",
            ),
            (
                json!({"dataType": "hash", "config": {"service": "get", "polling_interval": "soon"}}),
                "config.polling_interval",
            ),
            (
                json!({"dataType": "hash", "config": {"service": "get", "highlighted_antivirus": [1]}}),
                "config.highlighted_antivirus[0]",
            ),
            (
                json!({"dataType": "hash", "config": {"service": "get", "download_sample": "yes"}}),
                "config.download_sample",
            ),
            (
                json!({"dataType": "hash", "config": {"service": "get", "max_pap": 1.5}}),
                "config.max_pap",
            ),
        ];
        for (mut input, field) in cases {
            input["config"]["key"] = json!("secret-api-key-0123");
            let err = parse(input.clone()).unwrap_err();
            assert!(err.message.contains(field), "{input}: {err}");
            let shown = err.input.unwrap().to_string();
            assert!(!shown.contains("secret-api-key-0123"), "{shown}");
        }
        assert!(parse_input(b"not json").unwrap_err().input.is_none());
        assert!(parse_input(b"[1]").is_err());
    }

    #[test]
    fn numbers_and_lists_come_in_the_forms_cortex_sends() {
        let input = parse(
            json!({"dataType": "hash", "data": "x", "tlp": 3, "config": {
            "service": "rescan", "polling_interval": "0.5", "rescan_hash_older_than_days": 30,
            "highlighted_antivirus": "Avast, Kaspersky,", "proxy": {"http": "http://p:3128"},
            "check_tlp": true, "max_tlp": 3}}),
        )
        .unwrap();
        let c = input.config;
        assert_eq!(c.polling_interval, Duration::from_millis(500));
        assert_eq!(c.rescan_older_than, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(c.highlighted_antivirus, ["Avast", "Kaspersky"]);
        assert_eq!(c.proxy.as_deref(), Some("http://p:3128"));
        assert!(c.check_tlp);
        assert_eq!(c.max_tlp, 3);
        assert!(!format!("{c:?}").contains("p:3128") || !format!("{c:?}").contains("key"));
    }
}

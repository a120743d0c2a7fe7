//! `vtc action NAME` (a JSON object on stdin, JSON on stdout) and `vtc
//! action --list`: every capability under one stable name, for SOAR
//! playbooks. [`ACTIONS`] is the one list of actions with their inputs;
//! `--list`, input checking and docs/actions.md all follow it.
//!
//! Success prints `{"data": ...}` (an object, or an array for lists);
//! failure prints `{"error": {"code", "message"}}` and exits non-zero with
//! the usual codes (2 for bad input or a refused key, 1 otherwise).

use crate::capabilities::{self, DownloadSpec, WaitSpec};
use crate::cli::{ActionArgs, OutputFormat};
use crate::config::Settings;
use crate::exit::{usage, Exit, UsageError};
use crate::object_view::{self, Answer};
use serde_json::{json, Map, Value};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Duration;
use vt_api::{PrivateScanOptions, VoteVerdict};

/// Largest JSON input read from stdin.
const MAX_INPUT_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    String,
    Integer,
    Boolean,
}

/// One input field of an action.
#[derive(Debug, serde::Serialize)]
pub struct Field {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub required: bool,
    pub description: &'static str,
}

/// One action: its name, what it does, the API call behind it and its inputs.
#[derive(Debug, serde::Serialize)]
pub struct Action {
    pub name: &'static str,
    pub description: &'static str,
    pub api: &'static str,
    pub inputs: &'static [Field],
}

const fn req(name: &'static str, kind: Kind, description: &'static str) -> Field {
    Field {
        name,
        kind,
        required: true,
        description,
    }
}

const fn opt(name: &'static str, kind: Kind, description: &'static str) -> Field {
    Field {
        name,
        kind,
        required: false,
        description,
    }
}

use Kind::{Boolean, Integer, String as Str};

const OBJECT: Field = req(
    "id",
    Str,
    "the object: file hash, URL, domain or IP address",
);
const LIMIT: Field = opt("limit", Integer, "at most this many items (default 20)");
const WAIT: Field = opt(
    "wait",
    Boolean,
    "wait for the analysis to complete (default false)",
);
const TIMEOUT: Field = opt(
    "timeout_s",
    Integer,
    "give up waiting after this many seconds (default 600)",
);
const POLL: Field = opt(
    "poll_interval_ms",
    Integer,
    "milliseconds between polls while waiting (default 20000)",
);

/// Every action, in the order `--list` shows them.
pub const ACTIONS: &[Action] = &[
    Action {
        name: "lookup",
        description: "Report on any indicator (type detected, defanged input accepted)",
        api: "GET /files/{id} | /urls/{id} | /domains/{domain} | /ip_addresses/{ip}",
        inputs: &[req("indicator", Str, "hash, URL, domain or IP address")],
    },
    Action {
        name: "file_report",
        description: "Report on a file by its md5, sha1 or sha256",
        api: "GET /files/{id}",
        inputs: &[req("hash", Str, "md5, sha1 or sha256")],
    },
    Action {
        name: "url_report",
        description: "Report on a URL",
        api: "GET /urls/{id}",
        inputs: &[req("url", Str, "the URL")],
    },
    Action {
        name: "domain_report",
        description: "Report on a domain",
        api: "GET /domains/{domain}",
        inputs: &[req("domain", Str, "the domain name")],
    },
    Action {
        name: "ip_report",
        description: "Report on an IP address",
        api: "GET /ip_addresses/{ip}",
        inputs: &[req("ip", Str, "IPv4 or IPv6 address")],
    },
    Action {
        name: "scan_file",
        description: "Report on a local file if VirusTotal knows it, else upload it (data.type tells which)",
        api: "GET /files/{sha256}; POST /files (GET /files/upload_url above 32 MB); GET /analyses/{id}",
        inputs: &[
            req("path", Str, "the local file (at most 650 MB)"),
            opt("force", Boolean, "upload even if VirusTotal knows the file (default false)"),
            WAIT,
            TIMEOUT,
            POLL,
        ],
    },
    Action {
        name: "scan_url",
        description: "Submit a URL for scanning",
        api: "POST /urls; GET /analyses/{id}",
        inputs: &[req("url", Str, "the URL"), WAIT, TIMEOUT, POLL],
    },
    Action {
        name: "rescan",
        description: "Scan a known file or URL again",
        api: "POST /files/{id}/analyse | POST /urls/{id}/analyse; GET /analyses/{id}",
        inputs: &[req("id", Str, "a file hash or a URL"), WAIT, TIMEOUT, POLL],
    },
    Action {
        name: "get_analysis",
        description: "An analysis by its id (status queued, in-progress or completed)",
        api: "GET /analyses/{id}",
        inputs: &[req("id", Str, "the analysis id")],
    },
    Action {
        name: "download_file",
        description: "Download a sample (premium) into a zip (ZipCrypto, password infected), or raw",
        api: "GET /files/{id}/download",
        inputs: &[
            req("hash", Str, "md5, sha1 or sha256"),
            opt("output", Str, "where to write it (default <sha256>.zip or <sha256>)"),
            opt("raw", Boolean, "write the bare sample, not a zip (default false)"),
        ],
    },
    Action {
        name: "get_download_url",
        description: "A short-lived link that downloads a sample without the key (premium)",
        api: "GET /files/{id}/download_url",
        inputs: &[req("hash", Str, "md5, sha1 or sha256")],
    },
    Action {
        name: "get_relationships",
        description: "Objects related to a file, URL, domain or IP address",
        api: "GET /{collection}/{id}/{relationship} | /{collection}/{id}/relationships/{relationship}",
        inputs: &[
            OBJECT,
            req("relationship", Str, "e.g. contacted_domains, resolutions"),
            LIMIT,
            opt("descriptors", Boolean, "type and id only (default false)"),
        ],
    },
    Action {
        name: "search",
        description: "Search VirusTotal, or VT Intelligence (premium)",
        api: "GET /search | GET /intelligence/search",
        inputs: &[
            req("query", Str, "the query"),
            LIMIT,
            opt("intelligence", Boolean, "VT Intelligence search (default false)"),
        ],
    },
    Action {
        name: "get_comments",
        description: "Comments on an object",
        api: "GET /{collection}/{id}/comments",
        inputs: &[OBJECT, LIMIT],
    },
    Action {
        name: "add_comment",
        description: "Comment on an object (#words become tags)",
        api: "POST /{collection}/{id}/comments",
        inputs: &[OBJECT, req("text", Str, "the comment")],
    },
    Action {
        name: "get_votes",
        description: "Votes on an object",
        api: "GET /{collection}/{id}/votes",
        inputs: &[OBJECT, LIMIT],
    },
    Action {
        name: "add_vote",
        description: "Vote an object harmless or malicious (once per key)",
        api: "POST /{collection}/{id}/votes",
        inputs: &[OBJECT, req("verdict", Str, "harmless or malicious")],
    },
    Action {
        name: "get_widget",
        description: "The VT Augment widget URL of an object, and with html its page",
        api: "GET /widget/url; GET /widget/html/{token}",
        inputs: &[OBJECT, opt("html", Boolean, "also fetch the page's HTML (default false)")],
    },
    Action {
        name: "private_scan_file",
        description: "Upload a file for private scanning (premium)",
        api: "POST /private/files (GET /private/files/upload_url above 32 MB); GET /private/analyses/{id}",
        inputs: &[
            req("path", Str, "the local file (at most 650 MB)"),
            opt("password", Str, "password of an encrypted zip"),
            opt("retention_days", Integer, "keep the file 1 to 28 days"),
            WAIT,
            TIMEOUT,
            POLL,
        ],
    },
    Action {
        name: "private_scan_url",
        description: "Submit a URL for private scanning (premium)",
        api: "POST /private/urls; GET /private/analyses/{id}",
        inputs: &[req("url", Str, "the URL"), WAIT, TIMEOUT, POLL],
    },
    Action {
        name: "private_file_report",
        description: "A privately scanned file's report",
        api: "GET /private/files/{sha256}",
        inputs: &[req("sha256", Str, "the file's sha256")],
    },
    Action {
        name: "private_list_files",
        description: "Your privately scanned files",
        api: "GET /private/files",
        inputs: &[LIMIT],
    },
    Action {
        name: "private_delete_file",
        description: "Delete a privately scanned file",
        api: "DELETE /private/files/{sha256}",
        inputs: &[
            req("sha256", Str, "the file's sha256"),
            opt("only_from_storage", Boolean, "keep the reports, delete the sample (default false)"),
        ],
    },
    Action {
        name: "private_rescan",
        description: "Scan a privately scanned file again",
        api: "POST /private/files/{sha256}/analyse; GET /private/analyses/{id}",
        inputs: &[req("sha256", Str, "the file's sha256"), WAIT, TIMEOUT, POLL],
    },
    Action {
        name: "private_get_analysis",
        description: "A private analysis by its id",
        api: "GET /private/analyses/{id}",
        inputs: &[req("id", Str, "the private analysis id")],
    },
    Action {
        name: "private_get_relationships",
        description: "Objects related to a privately scanned file (your key's own)",
        api: "GET /private/files/{sha256}/{relationship} | /private/files/{sha256}/relationships/{relationship}",
        inputs: &[
            req("sha256", Str, "the file's sha256"),
            req("relationship", Str, "e.g. contacted_ips, contacted_domains, contacted_urls, dropped_files"),
            LIMIT,
            opt("descriptors", Boolean, "type and id only (default false)"),
        ],
    },
    Action {
        name: "private_url_report",
        description: "The report of a URL your key submitted for private scanning",
        api: "GET /private/urls/{id}",
        inputs: &[req("url", Str, "the URL")],
    },
    Action {
        name: "get_quota",
        description: "The key's use and allowance per minute, hour, day and month",
        api: "GET /users/{key}/overall_quotas; GET /users/{key}/api_usage",
        inputs: &[],
    },
];

pub fn find(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// `vtc action --list` (no configuration needed) or `vtc action NAME`.
pub async fn run(args: ActionArgs, global: &crate::cli::GlobalArgs) -> anyhow::Result<Exit> {
    if args.list {
        return list(global.format);
    }
    let name = args.name.unwrap_or_default();
    match execute(&name, global).await {
        Ok(document) => {
            print_json(&document)?;
            Ok(Exit::Success)
        }
        Err(err) => {
            print_json(&json!({"error": {"code": error_code(&err), "message": one_line(&err)}}))?;
            Err(err)
        }
    }
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

fn list(format: Option<OutputFormat>) -> anyhow::Result<Exit> {
    let mut out = std::io::stdout().lock();
    match format {
        Some(OutputFormat::Json) => {
            serde_json::to_writer_pretty(&mut out, ACTIONS)?;
            writeln!(out)?;
        }
        Some(OutputFormat::Jsonl) => {
            for action in ACTIONS {
                serde_json::to_writer(&mut out, action)?;
                writeln!(out)?;
            }
        }
        _ => {
            for action in ACTIONS {
                writeln!(out, "{:<22} {}", action.name, action.description)?;
                let inputs: Vec<String> = action
                    .inputs
                    .iter()
                    .map(|f| {
                        let mark = if f.required { "" } else { "?" };
                        format!("{}{mark}: {}", f.name, kind_name(f.kind))
                    })
                    .collect();
                writeln!(out, "{:<22} in: {{{}}}", "", inputs.join(", "))?;
            }
        }
    }
    out.flush()?;
    Ok(Exit::Success)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "string",
        Kind::Integer => "integer",
        Kind::Boolean => "boolean",
    }
}

/// The JSON input of an action, checked against its fields.
struct Input {
    map: Map<String, Value>,
}

impl Input {
    fn read(action: &Action) -> anyhow::Result<Input> {
        let mut text = String::new();
        // At a terminal nobody is piping JSON in: no input rather than a hang.
        if std::io::stdin().is_terminal() {
            return Input::check(action, Value::Object(Map::new()));
        }
        std::io::stdin()
            .lock()
            .take(MAX_INPUT_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| usage(format!("cannot read the JSON input on stdin: {e}")))?;
        if text.len() as u64 > MAX_INPUT_BYTES {
            return Err(usage("the JSON input is larger than 1 MB"));
        }
        let value: Value = if text.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str(&text).map_err(|e| usage(format!("the input is not JSON: {e}")))?
        };
        Input::check(action, value)
    }

    fn check(action: &Action, value: Value) -> anyhow::Result<Input> {
        let Value::Object(map) = value else {
            return Err(usage("the input must be a JSON object"));
        };
        for key in map.keys() {
            if !action.inputs.iter().any(|f| f.name == key) {
                return Err(usage(format!(
                    "{} takes no input {:?} (see `vtc action --list`)",
                    action.name,
                    object_view::cell(key, 64)
                )));
            }
        }
        for field in action.inputs {
            match map.get(field.name) {
                None | Some(Value::Null) if field.required => {
                    return Err(usage(format!(
                        "{} needs {:?} ({})",
                        action.name, field.name, field.description
                    )))
                }
                None | Some(Value::Null) => {}
                Some(v) => {
                    let ok = match field.kind {
                        Kind::String => v.is_string(),
                        Kind::Integer => v.is_u64(),
                        Kind::Boolean => v.is_boolean(),
                    };
                    if !ok {
                        return Err(usage(format!(
                            "{}: {:?} must be a {}",
                            action.name,
                            field.name,
                            match field.kind {
                                Kind::String => "string",
                                Kind::Integer => "non-negative integer",
                                Kind::Boolean => "boolean",
                            }
                        )));
                    }
                }
            }
        }
        Ok(Input { map })
    }

    fn str(&self, name: &str) -> &str {
        self.map.get(name).and_then(Value::as_str).unwrap_or("")
    }

    fn opt_str(&self, name: &str) -> Option<&str> {
        self.map.get(name).and_then(Value::as_str)
    }

    fn flag(&self, name: &str) -> bool {
        self.map.get(name).and_then(Value::as_bool).unwrap_or(false)
    }

    fn int(&self, name: &str, default: u64) -> u64 {
        self.map
            .get(name)
            .and_then(Value::as_u64)
            .unwrap_or(default)
    }

    fn limit(&self) -> usize {
        usize::try_from(self.int("limit", 20)).unwrap_or(usize::MAX)
    }

    fn wait(&self) -> Option<WaitSpec> {
        self.flag("wait").then(|| WaitSpec {
            interval: Duration::from_millis(self.int("poll_interval_ms", 20_000).max(1)),
            timeout: Duration::from_secs(self.int("timeout_s", 600).max(1)),
        })
    }
}

async fn execute(name: &str, global: &crate::cli::GlobalArgs) -> anyhow::Result<Value> {
    let action = find(name).ok_or_else(|| {
        usage(format!(
            "no action {:?}; `vtc action --list` lists them",
            object_view::cell(name, 64)
        ))
    })?;
    let input = Input::read(action)?;
    let settings = Settings::resolve(global)?;
    let client = settings.client().await?;
    let c = &client;
    let answer: Answer = match action.name {
        "lookup" => {
            capabilities::lookup(c, &capabilities::indicator(input.str("indicator"))?).await?
        }
        "file_report" => {
            let hash = capabilities::file_hash(input.str("hash"))?;
            capabilities::lookup(c, &ioc::Indicator::File(hash)).await?
        }
        "url_report" => {
            capabilities::lookup(
                c,
                &ioc::Indicator::Url(capabilities::url(input.str("url"))?),
            )
            .await?
        }
        "domain_report" => {
            let domain = ioc::Domain::parse(input.str("domain").trim()).ok_or_else(|| {
                usage(format!(
                    "{:?} is not a domain name",
                    object_view::cell(input.str("domain"), 100)
                ))
            })?;
            capabilities::lookup(c, &ioc::Indicator::Domain(domain)).await?
        }
        "ip_report" => {
            let ip: std::net::IpAddr = input
                .str("ip")
                .trim()
                .parse()
                .map_err(|e| usage(format!("not an IP address: {e}")))?;
            capabilities::lookup(c, &ioc::Indicator::Ip(ip)).await?
        }
        "scan_file" => {
            let path = PathBuf::from(input.str("path"));
            capabilities::scan_file(c, &path, input.flag("force"), input.wait()).await?
        }
        "scan_url" => {
            capabilities::scan_url(c, &capabilities::url(input.str("url"))?, input.wait()).await?
        }
        "rescan" => {
            capabilities::rescan(c, &capabilities::indicator(input.str("id"))?, input.wait())
                .await?
        }
        "get_analysis" => {
            capabilities::analysis(c, &capabilities::analysis_id(input.str("id"))?, false).await?
        }
        "download_file" => {
            let hash = capabilities::file_hash(input.str("hash"))?;
            let spec = DownloadSpec {
                output: input.opt_str("output").map(PathBuf::from),
                raw: input.flag("raw"),
            };
            capabilities::download(c, &hash, &spec).await?
        }
        "get_download_url" => {
            capabilities::download_url(c, &capabilities::file_hash(input.str("hash"))?).await?
        }
        "get_relationships" => {
            let limit = input.limit();
            capabilities::relationships(
                c,
                &capabilities::indicator(input.str("id"))?,
                input.str("relationship"),
                limit,
                capabilities::page_size(limit, None),
                input.flag("descriptors"),
            )
            .await?
        }
        "search" => {
            let limit = input.limit();
            capabilities::search(
                c,
                input.str("query"),
                limit,
                capabilities::page_size(limit, None),
                input.flag("intelligence"),
            )
            .await?
        }
        "get_comments" => {
            capabilities::comments(c, &capabilities::indicator(input.str("id"))?, input.limit())
                .await?
        }
        "add_comment" => {
            capabilities::add_comment(
                c,
                &capabilities::indicator(input.str("id"))?,
                input.str("text"),
            )
            .await?
        }
        "get_votes" => {
            capabilities::votes(c, &capabilities::indicator(input.str("id"))?, input.limit())
                .await?
        }
        "add_vote" => {
            let verdict = match input.str("verdict") {
                "harmless" => VoteVerdict::Harmless,
                "malicious" => VoteVerdict::Malicious,
                _ => return Err(usage("verdict must be \"harmless\" or \"malicious\"")),
            };
            capabilities::add_vote(c, &capabilities::indicator(input.str("id"))?, verdict).await?
        }
        "get_widget" => {
            capabilities::widget(
                c,
                &capabilities::indicator(input.str("id"))?,
                input.flag("html"),
            )
            .await?
        }
        "private_scan_file" => {
            let retention = match input.map.get("retention_days").and_then(Value::as_u64) {
                Some(d @ 1..=28) => Some(d as u32),
                Some(_) => return Err(usage("retention_days must be 1 to 28")),
                None => None,
            };
            let options = PrivateScanOptions {
                password: input.opt_str("password").map(str::to_owned),
                retention_period_days: retention,
                ..PrivateScanOptions::default()
            };
            let path = PathBuf::from(input.str("path"));
            capabilities::private_scan_file(c, &path, &options, input.wait()).await?
        }
        "private_scan_url" => {
            capabilities::private_scan_url(c, &capabilities::url(input.str("url"))?, input.wait())
                .await?
        }
        "private_file_report" => {
            capabilities::private_file(c, &capabilities::sha256(input.str("sha256"))?).await?
        }
        "private_list_files" => capabilities::private_list(c, input.limit()).await?,
        "private_delete_file" => {
            capabilities::private_delete(
                c,
                &capabilities::sha256(input.str("sha256"))?,
                input.flag("only_from_storage"),
            )
            .await?
        }
        "private_rescan" => {
            capabilities::private_rescan(
                c,
                &capabilities::sha256(input.str("sha256"))?,
                input.wait(),
            )
            .await?
        }
        "private_get_analysis" => {
            capabilities::analysis(c, &capabilities::analysis_id(input.str("id"))?, true).await?
        }
        "private_get_relationships" => {
            let limit = input.limit();
            capabilities::private_relationships(
                c,
                &capabilities::sha256(input.str("sha256"))?,
                input.str("relationship"),
                limit,
                capabilities::page_size(limit, None),
                input.flag("descriptors"),
            )
            .await?
        }
        "private_url_report" => {
            capabilities::private_url(c, &capabilities::url(input.str("url"))?).await?
        }
        "get_quota" => {
            let key = settings
                .keys
                .first()
                .ok_or_else(|| usage("no VirusTotal API key"))?;
            capabilities::quota(c, &key.key, key.minute).await?
        }
        other => anyhow::bail!("internal: action {other} is listed but not wired"),
    };
    Ok(answer.into_document())
}

/// A stable code for machine output: the API's error code when there is
/// one, else what kind of failure it was.
fn error_code(err: &anyhow::Error) -> String {
    for cause in err.chain() {
        if let Some(api) = cause.downcast_ref::<vt_api::Error>() {
            return api.code_name().to_owned();
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return "InvalidInput".into();
        }
        if cause.downcast_ref::<capabilities::WaitTimeout>().is_some() {
            return "WaitTimeout".into();
        }
    }
    "Error".into()
}

fn one_line(err: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in err.chain() {
        parts.push(cause.to_string());
        if cause.downcast_ref::<vt_api::Error>().is_some() {
            break;
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_wired_and_named_once() {
        let mut names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate action names");
        // The dispatch's literal names, so a listed action cannot go unwired.
        let source = include_str!("action.rs");
        for action in ACTIONS {
            assert!(
                source.contains(&format!("\"{}\" =>", action.name)),
                "{} is not dispatched",
                action.name
            );
        }
    }

    #[test]
    fn inputs_are_checked_against_the_table() {
        let action = find("add_vote").expect("listed");
        let ok = Input::check(action, json!({"id": "example.com", "verdict": "harmless"}));
        assert!(ok.is_ok());
        for bad in [
            json!({"id": "example.com"}),
            json!({"id": "example.com", "verdict": "harmless", "extra": 1}),
            json!({"id": 5, "verdict": "harmless"}),
            json!(["not", "an", "object"]),
        ] {
            let err = Input::check(action, bad.clone()).err().expect("refused");
            assert!(err.downcast_ref::<UsageError>().is_some(), "{bad}: {err}");
        }
    }
}

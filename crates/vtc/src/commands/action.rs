//! `vtc action NAME` (a JSON object on stdin, JSON on stdout), `vtc action
//! --list` and `vtc action --schema NAME`: the action library's table
//! ([`actions::ACTIONS`]) for SOAR playbooks. The input is decoded into the
//! action's typed request (a wrong field is named, exit 2), the same
//! handler as the command's runs, and its answer is printed.
//!
//! Success prints `{"data": ...}` (an object, or an array for lists);
//! failure prints `{"error": {"code", "message"}}` and exits non-zero with
//! the usual codes (2 for bad input or a refused key, 1 otherwise).

use crate::action_context;
use crate::cli::{ActionArgs, OutputFormat};
use crate::config::Settings;
use crate::exit::{Exit, UsageError};
use actions::{ActionError, FileSink};
use serde_json::{json, Map, Value};
use std::io::{IsTerminal, Read, Write};

/// Largest JSON input read from stdin.
const MAX_INPUT_BYTES: u64 = 1024 * 1024;

pub async fn run(args: ActionArgs, global: &crate::cli::GlobalArgs) -> anyhow::Result<Exit> {
    if args.list {
        return list(global.format);
    }
    if args.manifest {
        print_json(&actions::manifest(), true)?;
        return Ok(Exit::Success);
    }
    let name = args.name.clone().unwrap_or_default();
    if args.schema {
        let action = find(&name)?;
        print_json(&action.schemas(), true)?;
        return Ok(Exit::Success);
    }
    match execute(&name, &args, global).await {
        Ok(data) => {
            print_json(&json!({ "data": data }), false)?;
            Ok(Exit::Success)
        }
        Err(err) => {
            print_json(&error_json(&err), false)?;
            Err(err)
        }
    }
}

fn find(name: &str) -> Result<&'static actions::Action, ActionError> {
    actions::find(name).ok_or_else(|| {
        ActionError::invalid(format!(
            "no action {:?}; `vtc action --list` lists them",
            crate::object_view::cell(name, 64)
        ))
    })
}

async fn execute(
    name: &str,
    args: &ActionArgs,
    global: &crate::cli::GlobalArgs,
) -> anyhow::Result<Value> {
    let action = find(name)?;
    let input = read_input()?;
    let settings = Settings::resolve(global)?;
    let sink = FileSink::new(args.output.clone(), args.force);
    let ctx = action_context::build(&settings, Some(sink)).await?;
    Ok(action.run(&ctx, input).await?)
}

/// The JSON object on stdin; none at a terminal (nobody is piping JSON in:
/// no input rather than a hang) or when stdin is blank.
fn read_input() -> Result<Value, ActionError> {
    if std::io::stdin().is_terminal() {
        return Ok(Value::Object(Map::new()));
    }
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .take(MAX_INPUT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| ActionError::invalid(format!("cannot read the JSON input on stdin: {e}")))?;
    if text.len() as u64 > MAX_INPUT_BYTES {
        return Err(ActionError::invalid("the JSON input is larger than 1 MB"));
    }
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_str(&text)
        .map_err(|e| ActionError::invalid(format!("the input is not JSON: {e}")))
}

/// `{"error": ...}` for any failure: the action's own, or the
/// configuration's (a bad flag or config file is the user's to fix).
fn error_json(err: &anyhow::Error) -> Value {
    for cause in err.chain() {
        if let Some(action) = cause.downcast_ref::<ActionError>() {
            return action.to_json();
        }
        if cause.downcast_ref::<UsageError>().is_some()
            || cause.downcast_ref::<app::AppError>().is_some()
        {
            return json!({"error": {"code": "InvalidInput", "message": err.to_string()}});
        }
    }
    json!({"error": {"code": "Error", "message": err.to_string()}})
}

fn print_json(value: &Value, pretty: bool) -> anyhow::Result<()> {
    // Encoded first, so a closed stdout is an io::Error (a quiet exit).
    let text = if pretty {
        serde_json::to_string_pretty(value)?
    } else {
        serde_json::to_string(value)?
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

fn list(format: Option<OutputFormat>) -> anyhow::Result<Exit> {
    let mut out = std::io::stdout().lock();
    match format {
        Some(OutputFormat::Json) => {
            serde_json::to_writer_pretty(&mut out, actions::ACTIONS)?;
            writeln!(out)?;
        }
        Some(OutputFormat::Jsonl) => {
            for action in actions::ACTIONS {
                serde_json::to_writer(&mut out, action)?;
                writeln!(out)?;
            }
        }
        _ => {
            for action in actions::ACTIONS {
                writeln!(out, "{:<26} {}", action.name, action.description)?;
                let inputs: Vec<String> = action
                    .inputs()
                    .iter()
                    .map(|f| {
                        let mark = if f.required { "" } else { "?" };
                        format!("{}{mark}: {}", f.name, f.kind)
                    })
                    .collect();
                writeln!(out, "{:<26} in: {{{}}}", "", inputs.join(", "))?;
            }
        }
    }
    out.flush()?;
    Ok(Exit::Success)
}

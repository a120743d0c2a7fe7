//! vtc as TheHive Cortex's VirusTotal analyzers (VirusTotal_GetReport,
//! _Scan, _Rescan and _DownloadSample).
//!
//! A [`Job`] is read from a job directory (`JOBDIR/input/input.json`, file
//! observables beside it) or, in the older form, from stdin; [`analyse`]
//! checks it ([`parse_input`]: data type, TLP and PAP against the
//! configured maxima, the options of the flavour `config.service` names),
//! runs the flavour through the action library, and answers the document
//! Cortex reads: `{"success": true, "summary": {"taxonomies": [...]},
//! "artifacts": [...], "operations": [], "full": {...}}`, or
//! `{"success": false, "input": <the input, secrets removed>,
//! "errorMessage": "..."}`. [`Job::write`] puts it in
//! `JOBDIR/output/output.json` (file artifacts beside it) or on stdout.
//!
//! This crate makes no VirusTotal call of its own: every call is an
//! action's (`actions`), on a client built by `app`. It knows nothing of
//! the command line; it never writes outside `JOBDIR/output/` and never
//! reads a file outside `JOBDIR/input/`. The API key never reaches a
//! report, a message or a log.

mod flavours;
mod input;
mod job;
mod report;

pub use input::{parse_input, redacted, Config, Flavour, Input, InputError, MAX_INPUT_BYTES};
pub use job::Job;
pub use report::{Artifact, Level, Taxonomy, NAMESPACE};

use actions::{Context, FileSink, NoProgress};
use serde_json::{json, Value};
use std::sync::Arc;

/// What can go wrong outside the report: the job cannot be read or its
/// report cannot be written. Everything else is a failure report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CortexError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Runs one job and answers its report (success or failure). `overrides`
/// are the front end's settings (flags, environment); the job's own
/// `config.key`, `config.api_url` and `config.proxy` win over them.
pub async fn analyse(job: &Job, overrides: &app::Overrides) -> Value {
    let input = match parse_input(job.bytes()) {
        Ok(input) => input,
        Err(err) => return failure(err.input, &err.message, None),
    };
    let raw: Option<Value> = serde_json::from_slice(job.bytes()).ok();
    let shown_input = raw.as_ref().map(redacted);
    let key = input.config.key.clone();
    let fail = |message: &str| failure(shown_input.clone(), message, key.as_deref());
    // TLP and PAP first, as cortexutils does: nothing is sent when refused.
    if input.config.check_tlp && input.tlp > input.config.max_tlp {
        return fail("TLP is higher than allowed.");
    }
    if input.config.check_pap && input.pap > input.config.max_pap {
        return fail("PAP is higher than allowed.");
    }
    let ctx = match context(job, &input, overrides).await {
        Ok(ctx) => ctx,
        Err(message) => return fail(&message),
    };
    tracing::info!(
        analyzer = input.config.flavour.analyzer(),
        data_type = %input.data_type,
        "cortex job"
    );
    match flavours::run(&ctx, job, &input).await {
        Ok(report) => report,
        Err(message) => fail(&message),
    }
}

/// The action context for a job: the client from the settings with the
/// job's key, API URL and proxy laid over them; local reads allowed (the
/// job's own input files, checked to be inside `JOBDIR/input/`); samples
/// into `JOBDIR/output/`, named by sha256.
async fn context(job: &Job, input: &Input, overrides: &app::Overrides) -> Result<Context, String> {
    let mut overrides = overrides.clone();
    if let Some(key) = &input.config.key {
        overrides.api_key = Some(key.clone());
    }
    if let Some(url) = &input.config.api_url {
        overrides.api_url = Some(url.clone());
    }
    if let Some(proxy) = &input.config.proxy {
        overrides.proxy = Some(proxy.clone());
    }
    let settings = overrides
        .with_env()
        .and_then(|o| app::Settings::resolve(&o))
        .map_err(|e| e.to_string())?;
    if settings.keys.is_empty() {
        return Err("missing virustotal api key: set the analyzer's key (config.key)".into());
    }
    let client = settings.client().await.map_err(|e| e.to_string())?;
    let samples = job
        .output_dir()
        .map_err(|e| e.to_string())?
        .map(|dir| Arc::new(FileSink::new(Some(dir), false)) as Arc<dyn actions::SampleSink>);
    Ok(Context {
        client,
        progress: Arc::new(NoProgress),
        quota_key: None,
        samples,
        read_local_files: true,
    })
}

/// `{"success": false, "input": ..., "errorMessage": ...}`; the key, if
/// it somehow appears in the message, is removed.
fn failure(input: Option<Value>, message: &str, key: Option<&str>) -> Value {
    let mut message = message.to_owned();
    if let Some(key) = key.filter(|k| k.len() >= 8) {
        message = message.replace(key, "REMOVED");
    }
    json!({"success": false, "input": input, "errorMessage": message})
}

/// Whether a report is a success (for the exit code).
pub fn succeeded(report: &Value) -> bool {
    report["success"] == true
}

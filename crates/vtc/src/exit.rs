//! Exit codes and the one-line error report on stderr.

use std::fmt;

/// How a command that did not fail outright ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// A verdict at or above `--fail-on` was found.
    VerdictThreshold,
    /// Some inputs were invalid or failed; the others went through.
    PartialFailure,
    /// `vtc decide`: the policy denies the file (3, like a verdict over
    /// `--fail-on`: a script's "do not run it").
    Denied,
    /// Stopped by Ctrl-C or SIGTERM after writing whole records only;
    /// the same command resumes. 130, as shells report SIGINT.
    Interrupted,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::VerdictThreshold | Exit::Denied => 3,
            Exit::PartialFailure => 4,
            Exit::Interrupted => 130,
        }
    }
}

/// A usage or configuration error: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Shorthand for a usage error as an `anyhow::Error`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// Prints the error and its causes as one line on stderr (with `-vv`, each
/// cause on a line of its own; never a stack backtrace, whatever
/// `RUST_BACKTRACE` says: an ordinary error is not a crash) and returns
/// the exit code. A closed stdout (`vtc lookup … | head`) is not an
/// error worth a word.
pub fn report(err: &anyhow::Error, verbose: u8) -> i32 {
    if is_broken_pipe(err) {
        return 0;
    }
    eprintln!("vtc: error: {}", one_line(err));
    if verbose > 1 {
        for (depth, cause) in err.chain().enumerate().skip(1) {
            eprintln!("  caused by ({depth}): {cause}");
        }
    }
    code_for(err)
}

/// The chain of causes on one line. A `vt_api::Error` already says
/// everything useful about its cause (the transport's own chain is
/// repetitive), so the line ends there.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&cause.to_string());
        // An action's error says all it has to say in its message.
        if as_api_error(cause).is_some() || cause.downcast_ref::<actions::ActionError>().is_some() {
            break;
        }
    }
    line
}

fn as_api_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a vt_api::Error> {
    // A stopped batch carries the API error behind an `Arc`.
    cause.downcast_ref::<vt_api::Error>().or_else(|| {
        cause
            .downcast_ref::<std::sync::Arc<vt_api::Error>>()
            .map(|a| a.as_ref())
    })
}

fn code_for(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        // The action library decides its own errors' codes, in one place.
        if let Some(action) = cause.downcast_ref::<actions::ActionError>() {
            return action.exit_code();
        }
        // Every way of failing to build the application is a usage or
        // configuration error (a bad flag, config file, key or --db).
        if cause.downcast_ref::<UsageError>().is_some()
            || cause.downcast_ref::<app::AppError>().is_some()
        {
            return 2;
        }
        // An unreadable input or unwritable output found mid-run is the
        // user's to fix, like one found before the run.
        if matches!(
            cause.downcast_ref::<enrich::EnrichError>(),
            Some(enrich::EnrichError::Input(_) | enrich::EnrichError::Output(_))
        ) {
            return 2;
        }
        // A refused key, or an API URL that leads to another server: both
        // are configuration to fix.
        if as_api_error(cause)
            .is_some_and(|e| e.is_auth_error() || matches!(e, vt_api::Error::NotTheApi { .. }))
        {
            return 2;
        }
    }
    1
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    err.chain().any(|cause| {
        // serde_json keeps the io::Error inside, out of the chain.
        cause.downcast_ref::<std::io::Error>().map(|io| io.kind()) == broken
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == broken
    })
}

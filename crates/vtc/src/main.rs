//! `vtc`, the binary: parses the command line, loads the configuration,
//! calls the library crates and maps their errors to exit codes.
//!
//! Exit codes: 0 success; 1 runtime error; 2 usage or configuration error
//! (including an API key VirusTotal rejects); 3 a verdict at or above
//! `--fail-on` was found; 4 some inputs were invalid or failed while the
//! others went through.

mod action_context;
mod cli;
mod commands;
mod config;
mod exit;
mod object_view;
mod output;
mod quota_notice;

use clap::Parser;
use exit::Exit;

fn main() {
    let cli = cli::Cli::parse();
    if let Err(e) = init_tracing(cli.verbose, cli.command.log_file()) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let verbose = cli.verbose;
    let code = match run(cli) {
        Ok(exit) => exit.code(),
        Err(err) => exit::report(&err, verbose),
    };
    std::process::exit(code);
}

fn run(cli: cli::Cli) -> anyhow::Result<Exit> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(commands::dispatch(cli))
}

/// Logs to stderr, or to the rotating `--log-file` of a long-running
/// command (only a bad path fails).
fn init_tracing(verbose: u8, log: Option<&cli::LogFileArgs>) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let default = match (log, verbose) {
        // A daemon's log says what it did, not only what went wrong.
        (Some(_), 0) => "info",
        _ => default,
    };
    let filter = EnvFilter::try_from_env("VTC_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    if let Some(path) = log.and_then(|l| l.log_file.as_deref().map(|p| (l, p))) {
        let (args, path) = path;
        let file = app::log_file::RotatingFile::open(path, args.log_max_bytes, args.log_keep)
            .map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .with_target(false)
            .init();
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person's terminal, never into a file or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    Ok(())
}

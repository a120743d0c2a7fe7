//! The action library's [`actions::Context`] for a terminal: the client
//! from the settings, progress on stderr (a spinner while an analysis is
//! awaited, on a terminal only) and samples saved where the user said.

use crate::config::Settings;
use actions::{Context, FileSink, Progress, QuotaKey};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The context for one command; `samples` where downloads may go.
pub async fn build(settings: &Settings, samples: Option<FileSink>) -> anyhow::Result<Context> {
    let client = settings.client().await?;
    Ok(Context {
        client,
        progress: Arc::new(TerminalProgress::new()),
        quota_key: settings.keys.first().map(|k| QuotaKey {
            key: k.key.clone(),
            minute_budget: k.minute,
        }),
        samples: samples.map(|s| Arc::new(s) as Arc<dyn actions::SampleSink>),
        // The user's own files, named on their own command line or stdin.
        read_local_files: true,
    })
}

/// Notes as `vtc: ...` lines on stderr; analysis status as a spinner when
/// stderr is a terminal (nothing in a pipe or a log).
pub struct TerminalProgress {
    terminal: bool,
    spinner: Mutex<Option<indicatif::ProgressBar>>,
}

impl TerminalProgress {
    pub fn new() -> TerminalProgress {
        TerminalProgress {
            terminal: std::io::stderr().is_terminal(),
            spinner: Mutex::new(None),
        }
    }
}

impl Progress for TerminalProgress {
    fn note(&self, message: &str) {
        eprintln!("vtc: {message}");
    }

    fn analysis_status(&self, id: &str, status: &str) {
        if !self.terminal {
            return;
        }
        let Ok(mut spinner) = self.spinner.lock() else {
            return;
        };
        let bar = spinner.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        bar.set_message(format!("analysis {id}: {status}"));
    }

    fn upload_skipped(&self, path: &std::path::Path, sha256: &str) {
        eprintln!(
            "vtc: virustotal already knows {} (sha256 {sha256}); not uploading (--force uploads anyway)",
            crate::object_view::cell(&path.display().to_string(), 4096)
        );
    }

    fn wait_finished(&self) {
        if let Ok(mut spinner) = self.spinner.lock() {
            if let Some(bar) = spinner.take() {
                bar.finish_and_clear();
            }
        }
    }
}

/// On a terminal, says how to see a queued analysis later.
pub fn hint_if_queued(output: &actions::ObjectOutput, private: bool) {
    if output.kind.ends_with("analysis")
        && output.attributes.is_none()
        && std::io::stderr().is_terminal()
    {
        let private = if private { "private " } else { "" };
        eprintln!(
            "vtc: queued; `vtc {private}analysis {}` shows it",
            output.id
        );
    }
}

//! `vtc enrich [FILE|-] [-o OUT]`: streaming batch enrichment.

use crate::cli::{EnrichArgs, OutputFormat};
use crate::config::Settings;
use crate::exit::{usage, Exit};
use crate::output::{file_format, record_writer_with_input, ExitTracker};
use anyhow::Context;
use enrich::input::{push_row, CsvInput, InputRows};
use enrich::{BatchObserver, BatchOptions, Enricher, Progress, Summary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Lines read ahead of the lookups.
const READ_AHEAD: usize = 1024;

/// The enricher every command shares: client, store and options from the settings.
pub async fn enricher(
    settings: &Settings,
    refresh: bool,
    max_age: Option<Duration>,
    full: bool,
    rescan_stale: bool,
) -> anyhow::Result<Enricher> {
    Ok(settings
        .enricher(app::EnricherOptions {
            refresh,
            max_age,
            full,
            rescan_stale,
        })
        .await?)
}

/// More lookups in flight than this only queue behind the quota and the
/// connection pool while holding memory.
const MAX_CONCURRENCY: usize = 1024;

pub async fn run(args: EnrichArgs, settings: &Settings) -> anyhow::Result<Exit> {
    if !(1..=MAX_CONCURRENCY).contains(&args.concurrency) {
        return Err(usage(format!(
            "--concurrency must be between 1 and {MAX_CONCURRENCY}"
        )));
    }
    if args.distributed {
        let worker_side = [
            (args.refresh, "--refresh"),
            (args.max_age.is_some(), "--max-age"),
            (args.full, "--full"),
            (args.rescan_stale, "--rescan-stale"),
        ];
        if let Some((_, flag)) = worker_side.iter().find(|(given, _)| *given) {
            return Err(usage(format!(
                "{flag} does not apply with --distributed: the workers' settings decide it"
            )));
        }
    }
    let input = match &args.input {
        Some(p) if p.as_os_str() != "-" => Some(p.clone()),
        _ => None,
    };
    if let Some(path) = &input {
        if !path.is_file() {
            return Err(usage(format!(
                "input file {} does not exist or is not a file",
                path.display()
            )));
        }
    }
    let column = args.column.clone();
    // The job is the same when input, output and options are: a rerun resumes it.
    let (fingerprint, total_lines) = match &input {
        Some(path) => {
            let (digest, lines) = digest_input(path)?;
            let fp = format!(
                "{digest}|{}|{:?}|{:?}|{}",
                args.output.as_deref().map(canonical).unwrap_or_default(),
                column,
                settings.format_flag,
                args.full
            );
            (
                Some(hex::encode(Sha256::digest(fp.as_bytes()))),
                Some(lines),
            )
        }
        None => (None, None),
    };

    let enricher = enricher(
        settings,
        args.refresh,
        args.max_age
            .map(|d| Duration::from_secs(u64::from(d) * 86_400)),
        args.full,
        args.rescan_stale,
    )
    .await?;

    // Open the output before any lookup: an unwritable path fails at once.
    let (sink, format): (Box<dyn Write + Send>, OutputFormat) = match &args.output {
        Some(path) => {
            // One run per output at a time: a second one refuses (exit 2)
            // before it empties what the first is writing.
            let file = enrich::open_exclusive_output(path).map_err(|e| usage(e.to_string()))?;
            (
                Box::new(BufWriter::new(file)),
                file_format(settings.format_flag, path),
            )
        }
        None => (Box::new(BufWriter::new(std::io::stdout())), settings.format),
    };
    // An input CSV keeps its own columns in front of vtc's.
    let (lines, mut rows) = spawn_reader(input.clone(), column)?;
    let header = rows.as_ref().map(|r| r.header.clone()).unwrap_or_default();
    let mut writer = record_writer_with_input(sink, format, args.fields.as_ref(), header)?;
    let report_file = args.report.as_deref().map(open_report).transpose()?;
    let mut report = report_file
        .as_ref()
        .map(|_| feeds::html::ReportBuilder::new());
    let progress = ProgressDisplay::new(total_lines, enricher.client().clone());
    let mut exit = ExitTracker::new(args.fail_on);
    let options = BatchOptions {
        concurrency: args.concurrency.max(1),
        job: fingerprint,
    };
    let mut written = 0u64;
    let emit = |record: &verdict::Record| {
        exit.see(record);
        written += 1;
        if let Some(report) = &mut report {
            report.add(record);
        }
        let row = rows.as_mut().map(|r| r.row_of(&record.input));
        writer
            .write_with_input(record, row.as_deref().unwrap_or_default())
            .map_err(|e| enrich::EnrichError::Output(Box::new(e)))
    };
    type Run<'a> = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Summary, enrich::EnrichError>> + 'a>,
    >;
    let job = std::cell::Cell::new(None);
    let batch: Run<'_> = if args.distributed {
        // The job workers (`vtc worker`, every `vtc serve`) do the
        // lookups; this process queues the input as one job and streams
        // their records back in input order. A signal cancels the job.
        Box::pin(enricher.run_distributed(
            lines,
            emit,
            &progress,
            |id| job.set(Some(id)),
            stop_signal(),
        ))
    } else {
        Box::pin(enricher.run_batch(lines, &options, emit, &progress))
    };
    // On a signal the batch stops between two records (each one is
    // journalled, then written whole), so the output ends on a whole line.
    let result = tokio::select! {
        result = batch => Some(result),
        () = stop_signal(), if !args.distributed => None,
    };
    progress.finish();
    // An output that fills up or goes away at the end is the user's to
    // fix, like one that cannot be opened (exit 2).
    writer
        .finish()
        .map_err(|e| enrich::EnrichError::Output(Box::new(e)))?;
    let Some(result) = result else {
        let of = total_lines.map(|n| format!(" of {n}")).unwrap_or_default();
        eprintln!("vtc: interrupted: {written}{of} lines written; run the same command to resume");
        return Ok(Exit::Interrupted);
    };
    if let Err(enrich::EnrichError::Cancelled { job, done }) = &result {
        eprintln!("vtc: interrupted: {done} records written; job {job} cancelled");
        return Ok(Exit::Interrupted);
    }
    if let Some(id) = job.get() {
        eprintln!("job {id} done");
    }
    let summary = result?;
    print_summary(&summary);
    if let (Some(file), Some(report), Some(path)) = (report_file, report, &args.report) {
        let title = match &input {
            Some(p) => format!("vtc enrich: {}", p.display()),
            None => "vtc enrich: standard input".to_owned(),
        };
        write_report(file, path, report, &title, &summary_lines(&summary))?;
        eprintln!("HTML report: {}", canonical(path));
    }
    Ok(exit.exit())
}

/// Ctrl-C, or SIGTERM (a service manager stopping the run).
pub(crate) async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

fn canonical(path: &Path) -> String {
    std::fs::canonicalize(path)
        .or_else(|_| std::env::current_dir().map(|d| d.join(path)))
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// sha256 of the input and its line count, in one read.
fn digest_input(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut lines = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    Ok((hex::encode(hasher.finalize()), lines))
}

/// Reads the input on a blocking thread and hands lines (or one CSV
/// column) over a bounded channel, so a huge input never sits in memory.
/// For a CSV column, also the [`InputRows`] that find each record's row.
#[allow(clippy::type_complexity)]
fn spawn_reader(
    input: Option<PathBuf>,
    column: Option<String>,
) -> anyhow::Result<(
    impl futures_util::Stream<Item = std::io::Result<String>> + Unpin,
    Option<InputRows>,
)> {
    let open = |path: &Path| -> anyhow::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(path).with_context(|| {
            format!("cannot open {}", path.display())
        })?))
    };
    let reader: Box<dyn Read + Send> = match &input {
        Some(path) => open(path)?,
        None => Box::new(std::io::stdin()),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<String>>(READ_AHEAD);
    let rows = match column {
        None => {
            std::thread::spawn(move || {
                enrich::input::read_lines(reader, |item| tx.blocking_send(item).is_ok())
            });
            None
        }
        Some(column) => {
            // The header is read here, before any lookup: the output's
            // header needs it, and a missing column is a usage error.
            let csv = tokio::task::block_in_place(|| CsvInput::open(reader, &column))
                .map_err(|e| usage(format!("cannot read the input's CSV header: {e}")))?;
            let header = csv.header.clone();
            let (rows, queue) = match &input {
                // A file is read a second time for the rows, so that a
                // resumed run finds the rows of the records it replays.
                Some(path) => (
                    InputRows::from_file(header, path.clone(), column.clone()),
                    None,
                ),
                None => {
                    let (rows, queue) = InputRows::from_queue(header);
                    (rows, Some(queue))
                }
            };
            std::thread::spawn(move || {
                csv.read(|item| {
                    let item = item.map(|(cell, row)| {
                        if let Some(queue) = &queue {
                            push_row(queue, &cell, row);
                        }
                        cell
                    });
                    tx.blocking_send(item).is_ok()
                })
            });
            Some(rows)
        }
    };
    let lines = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    Ok((lines, rows))
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
struct ProgressDisplay {
    bar: Option<ProgressBar>,
    client: vt_api::Client,
}

impl ProgressDisplay {
    fn new(total: Option<u64>, client: vt_api::Client) -> Self {
        if !std::io::stderr().is_terminal() {
            return ProgressDisplay { bar: None, client };
        }
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        ProgressDisplay {
            bar: Some(bar),
            client,
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl BatchObserver for ProgressDisplay {
    fn progress(&self, p: &Progress) {
        let Some(bar) = &self.bar else { return };
        // Lines finished: a record written, or a repeat that needs none.
        // (Lines read but still in flight are not progress yet.)
        let finished = (p.done + p.duplicates).min(p.lines_read);
        bar.set_position(finished);
        let remaining = bar.length().unwrap_or(0).saturating_sub(finished);
        let quota = self.client.quota_status();
        // One key without a minute budget makes the pool's minute unlimited:
        // the network sets the pace then, and there is no quota to estimate from.
        let limited = quota.iter().all(|k| k.minute.allowed.is_some());
        let (left, eta) = if limited {
            let per_minute: u32 = quota.iter().filter_map(|k| k.minute.allowed).sum();
            let left: u32 = quota
                .iter()
                .filter_map(|k| k.minute.allowed.map(|a| a.saturating_sub(k.minute.used)))
                .sum();
            // The quota, not the network, sets the pace: estimate from it.
            let eta = if per_minute > 0 && remaining > 0 {
                format!(" eta ~{}m", remaining.div_ceil(u64::from(per_minute)))
            } else {
                String::new()
            };
            (left.to_string(), eta)
        } else {
            ("unlimited".to_owned(), String::new())
        };
        bar.set_message(format!(
            "done {} cached {} dup {} failed {} | calls {} (left this minute {left}) 429s {}{eta}",
            p.done, p.cached, p.duplicates, p.failed, p.api_calls, p.responses_429
        ));
    }
}

/// The summary of a batch as the report page's (label, value) pairs.
pub fn summary_lines(s: &Summary) -> Vec<(String, String)> {
    let mut lines = vec![
        ("Input lines".to_owned(), s.lines.to_string()),
        ("Records".to_owned(), s.records.to_string()),
        ("Duplicates skipped".to_owned(), s.duplicates.to_string()),
        ("Invalid lines".to_owned(), s.invalid.to_string()),
        ("Failed lookups".to_owned(), s.failed.to_string()),
        ("Cache hits".to_owned(), s.cache_hits.to_string()),
    ];
    if s.replayed > 0 {
        lines.push((
            "Resumed from the journal".to_owned(),
            s.replayed.to_string(),
        ));
    }
    lines.push(("API calls".to_owned(), s.api_calls.to_string()));
    lines.push(("Responses 429".to_owned(), s.responses_429.to_string()));
    lines
}

fn print_summary(s: &Summary) {
    let verdicts: Vec<String> = s
        .by_verdict
        .iter()
        .map(|(v, n)| format!("{v} {n}"))
        .collect();
    eprintln!(
        "enriched {} indicators from {} lines: {} | duplicates {} invalid {} failed {} | cache hits {} resumed {} | API calls {} 429s {}",
        s.records,
        s.lines,
        if verdicts.is_empty() { "none".to_owned() } else { verdicts.join(", ") },
        s.duplicates,
        s.invalid,
        s.failed,
        s.cache_hits,
        s.replayed,
        s.api_calls,
        s.responses_429
    );
}

/// The HTML report's file, opened before the run so that a path that
/// cannot be written fails at once (exit 2) instead of after every lookup.
/// A file this run created is removed again if the report is never written.
pub struct ReportFile {
    file: File,
    path: PathBuf,
    created: bool,
    written: bool,
}

impl Drop for ReportFile {
    fn drop(&mut self) {
        if self.created && !self.written {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Opens (without truncating: an earlier report stays until this one is
/// ready) the report file at `path`.
pub fn open_report(path: &Path) -> anyhow::Result<ReportFile> {
    if path.is_dir() {
        return Err(usage(format!(
            "cannot write the report to {}: it is a directory; name a file",
            path.display()
        )));
    }
    let created = !path.exists();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| {
            usage(format!(
                "cannot write the report to {}: {e}",
                path.display()
            ))
        })?;
    Ok(ReportFile {
        file,
        path: path.to_path_buf(),
        created,
        written: false,
    })
}

/// Renders the report page into its file.
pub fn write_report(
    mut report_file: ReportFile,
    path: &Path,
    report: feeds::html::ReportBuilder,
    title: &str,
    summary: &[(String, String)],
) -> anyhow::Result<()> {
    let generated = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let page = report.render(title, &generated, summary);
    let write = |file: &mut File| -> std::io::Result<()> {
        file.set_len(0)?;
        file.write_all(page.as_bytes())?;
        file.flush()
    };
    write(&mut report_file.file)
        .with_context(|| format!("cannot write the report to {}", path.display()))?;
    report_file.written = true;
    Ok(())
}

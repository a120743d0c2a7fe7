//! `vtc policy check FILE`, `vtc decide ...` and `vtc decisions`: the
//! application-control engine of the `policy` crate from a terminal.

use crate::cli::{DecideArgs, DecisionsArgs, OutputFormat, PolicyAction, ReportKind};
use crate::config::Settings;
use crate::exit::{usage, Exit};
use anyhow::Context;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Reads and checks a policy file; its problems are a usage error (exit 2)
/// after each is printed with its position.
pub(crate) fn load_policy(file: &Path) -> anyhow::Result<policy::PolicySet> {
    let text = read_policy_text(file)?;
    match policy::parse(&text) {
        Ok(set) => Ok(set),
        Err(e) => {
            let shown = file.display();
            let mut err = std::io::stderr().lock();
            for p in e.problems() {
                let _ = writeln!(err, "{shown}:{p}");
            }
            Err(usage(format!("{shown}: {e}")))
        }
    }
}

fn read_policy_text(file: &Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(file).map_err(|e| {
        usage(format!(
            "cannot read the policy file {}: {e}",
            file.display()
        ))
    })?;
    if meta.len() > policy::MAX_POLICY_BYTES as u64 {
        return Err(usage(format!(
            "{}: {}",
            file.display(),
            policy::PolicyError::TooLarge
        )));
    }
    std::fs::read_to_string(file).map_err(|e| {
        usage(format!(
            "cannot read the policy file {}: {e}",
            file.display()
        ))
    })
}

/// Says the key caveat when ratings come from no key or a public one.
fn key_caveat(settings: &Settings, set: &policy::PolicySet) {
    if !set.uses_ratings() {
        return;
    }
    let public = settings
        .keys
        .first()
        .is_none_or(|k| (1..=4).contains(&k.minute));
    if public {
        eprintln!("vtc: note: {}", policy::PUBLIC_KEY_CAVEAT);
    }
}

pub async fn check(action: PolicyAction, settings: &Settings) -> anyhow::Result<Exit> {
    match action {
        PolicyAction::Check { file } => {
            let set = load_policy(&file)?;
            let enabled = set.policies().iter().filter(|p| p.enabled).count();
            println!(
                "{}: ok ({} policies, {enabled} enabled)",
                file.display(),
                set.policies().len()
            );
            key_caveat(settings, &set);
            Ok(Exit::Success)
        }
    }
}

pub async fn run(args: DecideArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let set = Arc::new(load_policy(&args.policy)?);
    let mut request = policy::FileRequest {
        sha256: args.sha256.clone(),
        sha1: args.sha1.clone(),
        md5: args.md5.clone(),
        path: args.path.clone(),
        name: args.name.clone(),
        user: args.user.clone(),
        groups: args.groups.clone(),
        host: args.host.clone(),
        platform: args.platform.as_deref().and_then(policy::Platform::parse),
        publisher: args.publisher.clone(),
        signed: None,
    };
    if let Some(file) = &args.file {
        let path = file.clone();
        let digests = tokio::task::spawn_blocking(move || file_digest::digest_file(&path))
            .await?
            .map_err(|e| usage(e.to_string()))?;
        request.sha256 = Some(digests.sha256);
        request.sha1 = Some(digests.sha1);
        request.md5 = Some(digests.md5);
        if request.path.is_none() {
            let absolute = std::path::absolute(file).unwrap_or_else(|_| file.clone());
            request.path = Some(absolute.display().to_string());
        }
    }
    let enricher = if set.uses_ratings() {
        key_caveat(settings, &set);
        Some(settings.enricher(app::EnricherOptions::default()).await?)
    } else {
        None
    };
    let decider = policy::Decider::new(set, enricher);
    let decided = decider
        .decide(request)
        .await
        .map_err(|e| usage(e.to_string()))?;
    let store = settings.open_store().await?;
    let log = policy::DecisionLog::start(store);
    log.record(&decided).await;
    log.flush().await;
    let logged = policy::LoggedDecision::of(&decided, OffsetDateTime::now_utc());
    let mut out = std::io::stdout().lock();
    match settings.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &logged)?;
            writeln!(out)?;
        }
        OutputFormat::Jsonl => {
            serde_json::to_writer(&mut out, &logged)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => write_csv(&mut out, std::slice::from_ref(&logged))?,
        OutputFormat::Table => write_decision(&mut out, &logged)?,
    }
    Ok(if logged.allowed {
        Exit::Success
    } else {
        Exit::Denied
    })
}

fn write_decision(out: &mut impl Write, d: &policy::LoggedDecision) -> std::io::Result<()> {
    let cell = |s: &str| crate::object_view::cell(s, 400);
    let rating = match (d.rating, d.malicious, d.total) {
        (Some(r), Some(m), Some(t)) => {
            format!("{r} ({} of {t} engines)", m + d.suspicious.unwrap_or(0))
        }
        (Some(r), _, _) => r.to_string(),
        (None, _, _) => "not needed".to_owned(),
    };
    writeln!(out, "decision  {}", d.decision)?;
    writeln!(
        out,
        "policy    {}",
        cell(d.policy.as_deref().unwrap_or("(none)"))
    )?;
    writeln!(out, "rating    {rating}")?;
    if let Some(f) = d.fallback {
        writeln!(out, "fallback  {}", f.as_str())?;
    }
    if let Some(m) = &d.message {
        writeln!(out, "message   {}", cell(m))?;
    }
    if let Some(p) = &d.path {
        writeln!(out, "path      {}", cell(p))?;
    }
    for r in &d.reasons {
        writeln!(out, "reason    {}", cell(r))?;
    }
    Ok(())
}

fn write_csv(out: &mut impl Write, rows: &[policy::LoggedDecision]) -> anyhow::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record([
        "time",
        "host",
        "user",
        "path",
        "file_name",
        "sha256",
        "rating",
        "malicious",
        "total",
        "policy",
        "decision",
        "fallback",
        "message",
    ])?;
    for d in rows {
        let num = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
        csv.write_record([
            d.time.as_str(),
            d.host.as_deref().unwrap_or(""),
            d.user.as_deref().unwrap_or(""),
            d.path.as_deref().unwrap_or(""),
            d.file_name.as_deref().unwrap_or(""),
            d.sha256.as_deref().unwrap_or(""),
            d.rating.map(|r| r.as_str()).unwrap_or(""),
            &num(d.malicious),
            &num(d.total),
            d.policy.as_deref().unwrap_or(""),
            d.decision.as_str(),
            d.fallback.map(|f| f.as_str()).unwrap_or(""),
            d.message.as_deref().unwrap_or(""),
        ])?;
    }
    csv.flush()?;
    Ok(())
}

/// `--since`: RFC 3339, or an age (`30m`, `24h`, `7d`, `90s`).
pub async fn decisions(args: DecisionsArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let now = OffsetDateTime::now_utc();
    let since = args
        .since
        .as_deref()
        .map(|s| feeds::intel::parse_since(s, now).map_err(|e| usage(format!("--since: {e}"))))
        .transpose()?;
    let store = settings.open_store().await?;
    let mut rows = Vec::new();
    let mut after = None;
    while rows.len() < args.limit {
        let page = store
            .decisions(&store::DecisionQuery {
                since,
                host: args.host.clone(),
                user: args.user.clone(),
                action: args.action.clone(),
                after_id: after,
                limit: (args.limit - rows.len()).min(store::MAX_DECISION_PAGE),
                ..store::DecisionQuery::default()
            })
            .await
            .context("cannot read the decision log")?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for row in page {
            match serde_json::from_str::<policy::LoggedDecision>(&row.decision.json) {
                Ok(d) => rows.push(d),
                Err(e) => eprintln!(
                    "vtc: warning: skipping the unreadable decision {}: {e}",
                    row.id
                ),
            }
        }
    }
    let mut out = std::io::stdout().lock();
    match settings.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        OutputFormat::Jsonl => {
            for d in &rows {
                serde_json::to_writer(&mut out, d)?;
                writeln!(out)?;
            }
        }
        OutputFormat::Csv => write_csv(&mut out, &rows)?,
        OutputFormat::Table => {
            let cell = |s: Option<&str>, n| crate::object_view::cell(s.unwrap_or("-"), n);
            writeln!(
                out,
                "{:<20}  {:<7}  {:<7}  {:<12}  {:<16}  {:<28}  path",
                "time", "action", "rating", "host", "user", "policy"
            )?;
            for d in &rows {
                writeln!(
                    out,
                    "{:<20}  {:<7}  {:<7}  {:<12}  {:<16}  {:<28}  {}",
                    d.time.get(..19).unwrap_or(&d.time),
                    d.decision.as_str(),
                    d.rating.map(|r| r.as_str()).unwrap_or("-"),
                    cell(d.host.as_deref(), 12),
                    cell(d.user.as_deref(), 16),
                    cell(d.policy.as_deref(), 28),
                    cell(d.path.as_deref(), 200),
                )?;
            }
        }
    }
    Ok(Exit::Success)
}

pub async fn report(kind: ReportKind, settings: &Settings) -> anyhow::Result<Exit> {
    match kind {
        ReportKind::FileRatings { output } => {
            let store = settings.open_store().await?;
            let files = policy::file_ratings(store.as_ref())
                .await
                .context("cannot read the decision log")?;
            let count = files.len();
            let now = OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default();
            let page = feeds::render_file_ratings(files, &now);
            std::fs::write(&output, page)
                .map_err(|e| usage(format!("cannot write {}: {e}", output.display())))?;
            eprintln!("vtc: {} written ({count} files)", output.display());
            Ok(Exit::Success)
        }
    }
}

//! The File Security Rating Details report: one row per file an endpoint
//! asked about (file name, path, hash, rating, detection ratio, first seen,
//! last decision, hosts and users that ran it), on the same report page as
//! the enrichment report ([`crate::html`]): its style, script, sorting,
//! filters, details view and Content-Security-Policy, with this report's
//! columns and details.
//!
//! Every string here came from an endpoint or from VirusTotal, i.e.
//! possibly from whoever named the file: maud escapes it and each is
//! bounded first.

use crate::html::{bar_chart, compact, Filters, Page};
use crate::table::bounded;
use maud::{html, Markup};
use verdict::{EngineDetection, Verdict};

/// Most files one page holds (the most severe, then the latest).
pub const MAX_FILES: usize = 5_000;
/// Decisions listed in one file's details.
pub const MAX_DECISIONS_SHOWN: usize = 50;
/// Hosts or users kept per file.
pub const MAX_NAMES: usize = 50;
const CELL_MAX: usize = 120;
const VALUE_MAX: usize = 2_000;

/// One decision about a file, as its details list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionLine {
    pub time: String,
    pub host: String,
    pub user: String,
    pub action: String,
    pub policy: String,
    pub fallback: String,
}

/// One file, with what the decisions about it said.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRating {
    pub file_name: String,
    pub path: String,
    pub sha256: String,
    /// `None`: never looked up (no policy needed its rating).
    pub rating: Option<Verdict>,
    pub malicious: Option<u32>,
    pub suspicious: Option<u32>,
    pub total: Option<u32>,
    pub first_seen: Option<String>,
    pub last_decision_time: String,
    pub last_action: String,
    pub hosts: Vec<String>,
    pub users: Vec<String>,
    /// Latest first.
    pub decisions: Vec<DecisionLine>,
    pub decision_count: u64,
    pub detections: Vec<EngineDetection>,
    pub reasons: Vec<String>,
    pub link: Option<String>,
}

impl FileRating {
    fn rating_name(&self) -> &'static str {
        self.rating.map_or("not rated", Verdict::as_str)
    }
    fn severity(&self) -> u8 {
        self.rating.map_or(0, |v| v.severity())
    }
}

/// The whole page for `files`.
pub fn render_file_ratings(mut files: Vec<FileRating>, generated_at: &str) -> String {
    let seen = files.len();
    files.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then_with(|| b.last_decision_time.cmp(&a.last_decision_time))
    });
    files.truncate(MAX_FILES);
    let mut by_rating = [0u64; 5];
    let mut denied = 0u64;
    let mut decisions = 0u64;
    for f in &files {
        let i = f.rating.map_or(4, |v| 3 - usize::from(v.severity()));
        by_rating[i] += 1;
        decisions += f.decision_count;
        if f.last_action == "deny" {
            denied += 1;
        }
    }
    let chart = bar_chart(&[
        ("bad", "bad", by_rating[0]),
        ("suspect", "suspect", by_rating[1]),
        ("unknown", "unknown", by_rating[2]),
        ("good", "good", by_rating[3]),
        ("not rated", "error", by_rating[4]),
    ]);
    let summary = vec![
        ("Files".to_owned(), seen.to_string()),
        ("Decisions".to_owned(), decisions.to_string()),
        ("Last decision a denial".to_owned(), denied.to_string()),
    ];
    let mut actions: Vec<&str> = files.iter().map(|f| f.last_action.as_str()).collect();
    actions.sort_unstable();
    actions.dedup();
    let ratings: Vec<(&str, &str)> = ["bad", "suspect", "unknown", "good", "not rated"]
        .iter()
        .map(|r| (*r, *r))
        .collect();
    let cut = (seen > files.len()).then(|| {
        html! { p.cut { "This page shows " (files.len()) " of " (seen) " files: the most severe, then the latest." } }
    });
    Page {
        title: "File Security Rating Details",
        generated_at,
        summary_title: "Decision log",
        summary: &summary,
        charts: vec![("Files by VirusTotal rating", chart)],
        filters: Filters {
            verdict: ("Rating", ratings),
            kind: ("Last decision", actions.iter().map(|a| (*a, *a)).collect()),
            search: "file name, path, hash, host, user, engine…",
            rows: files.len(),
        },
        cut,
        table: table(&files),
        legend: legend(),
    }
    .render()
}

fn table(files: &[FileRating]) -> Markup {
    let column = |col: &str, label: &str| {
        html! { th data-col=(col) aria-sort=(if col == "verdict" { "descending" } else { "none" }) { button type="button" { (label) } } }
    };
    html! {
        table #records {
            thead {
                tr {
                    (column("name", "File name"))
                    (column("path", "Path"))
                    (column("hash", "SHA-256"))
                    (column("verdict", "Rating"))
                    (column("detected", "Detected"))
                    (column("first", "First seen"))
                    (column("last", "Last decision"))
                    (column("who", "Hosts and users"))
                    th.more-col { span.sr { "Details" } }
                }
            }
            @for (rank, f) in files.iter().enumerate() {
                (row(rank, f))
            }
        }
        p #empty hidden { "No file matches these filters." }
    }
}

fn row(rank: usize, f: &FileRating) -> Markup {
    let id = format!("r{rank}");
    let name = bounded(&f.file_name, VALUE_MAX);
    let path = bounded(&f.path, VALUE_MAX);
    let hosts: Vec<String> = f
        .hosts
        .iter()
        .take(MAX_NAMES)
        .map(|h| bounded(h, 256))
        .collect();
    let users: Vec<String> = f
        .users
        .iter()
        .take(MAX_NAMES)
        .map(|u| bounded(u, 256))
        .collect();
    let who = format!("{} · {}", hosts.join(", "), users.join(", "));
    let engines: String = f
        .detections
        .iter()
        .map(|d| format!(" {} {}", d.engine, d.result))
        .collect();
    let search = format!("{name} {path} {} {who}{engines}", f.sha256).to_lowercase();
    let detected = match (f.malicious, f.total) {
        (Some(m), Some(_)) => format!("{m}.{:04}", f.suspicious.unwrap_or(0).min(9999)),
        _ => "-1".to_owned(),
    };
    let rating = f.rating_name();
    let class = f.rating.map_or("error", Verdict::as_str);
    let first = f.first_seen.as_deref().unwrap_or("");
    html! {
        tbody id=(id) class=(class) data-rank=(rank)
            data-verdict=(rating) data-type=(f.last_action)
            data-name=(name) data-path=(path) data-hash=(f.sha256)
            data-detected=(detected) data-first=(first) data-last=(f.last_decision_time)
            data-who=(who) data-text=(search)
        {
            tr.row {
                td.indicator {
                    button.more.name type="button" aria-expanded="false" aria-controls=(format!("{id}-d")) title=(name) {
                        (bounded(&name, 60))
                    }
                }
                td.path { code.value title=(path) { (bounded(&path, CELL_MAX)) } }
                td.indicator { (compact(&f.sha256, "file")) }
                td { span class=(format!("badge {class}")) { (rating) } }
                td.num {
                    @if let (Some(m), Some(t)) = (f.malicious, f.total) {
                        span.ratio title=(format!("{m} malicious and {} suspicious of {t} engines", f.suspicious.unwrap_or(0))) { b { (m) } "/" (t) }
                    } @else { span.muted { "–" } }
                }
                td.date { (date(first)) }
                td.date {
                    (date(&f.last_decision_time)) br;
                    span class=(format!("badge action-{}", f.last_action)) { (bounded(&f.last_action, 16)) }
                }
                td.reasons {
                    div { (bounded(&hosts.join(", "), CELL_MAX)) }
                    div.muted { (bounded(&users.join(", "), CELL_MAX)) }
                }
                td { button.more type="button" aria-expanded="false" aria-controls=(format!("{id}-d")) { "Details" } }
            }
            tr.details id=(format!("{id}-d")) hidden {
                td colspan="9" { (details(f, &name, &path)) }
            }
        }
    }
}

fn date(d: &str) -> String {
    if d.is_empty() {
        "–".to_owned()
    } else {
        // To the second: the log keeps nanoseconds.
        d.chars().take(19).collect::<String>().replace('T', " ")
    }
}

fn details(f: &FileRating, name: &str, path: &str) -> Markup {
    let link = f
        .link
        .as_deref()
        .filter(|l| l.starts_with("https://www.virustotal.com/"))
        .map(|l| bounded(l, VALUE_MAX));
    html! {
        div.detail {
            dl {
                dt { "File name" } dd { code.wrap { (name) } }
                dt { "Path" } dd { code.wrap { (path) } }
                dt { "SHA-256" } dd { code.wrap { (f.sha256) } }
                dt { "Rating" } dd { (f.rating_name()) }
                @if let (Some(m), Some(t)) = (f.malicious, f.total) {
                    dt { "Engines" } dd { (m) " malicious, " (f.suspicious.unwrap_or(0)) " suspicious, of " (t) " engines" }
                }
                dt { "First seen" } dd { (date(f.first_seen.as_deref().unwrap_or(""))) }
                dt { "Decisions" } dd { (f.decision_count) }
                @if let Some(link) = &link {
                    dt { "VirusTotal" } dd { a href=(link) rel="noopener noreferrer" target="_blank" { "open in VirusTotal" } }
                }
            }
            div {
                h3 { "Reasons" }
                @if f.reasons.is_empty() { p.muted { "none" } }
                ul { @for r in f.reasons.iter().take(12) { li { (bounded(r, 300)) } } }
                @if !f.detections.is_empty() {
                    h3 { "Engines that flagged it" }
                    table.engines {
                        thead { tr { th { "Engine" } th { "Category" } th { "Result" } } }
                        tbody {
                            @for d in f.detections.iter().take(verdict::MAX_DETECTIONS) {
                                tr { td { (bounded(&d.engine, 80)) } td { span class=(format!("label {}", bounded(&d.category, 16))) { (bounded(&d.category, 16)) } } td { code.wrap { (bounded(&d.result, 80)) } } }
                            }
                        }
                    }
                }
                h3 { "Decisions" }
                table.engines {
                    thead { tr { th { "Time" } th { "Host" } th { "User" } th { "Decision" } th { "Policy" } th { "Fallback" } } }
                    tbody {
                        @for d in f.decisions.iter().take(MAX_DECISIONS_SHOWN) {
                            tr {
                                td { (date(&d.time)) }
                                td { (bounded(&d.host, 64)) }
                                td { (bounded(&d.user, 64)) }
                                td { span class=(format!("badge action-{}", bounded(&d.action, 16))) { (bounded(&d.action, 16)) } }
                                td { (bounded(&d.policy, 80)) }
                                td { (bounded(&d.fallback, 16)) }
                            }
                        }
                    }
                }
                @if f.decisions.len() > MAX_DECISIONS_SHOWN {
                    p.muted { (f.decisions.len() - MAX_DECISIONS_SHOWN) " earlier decisions: see vtc decisions." }
                }
            }
        }
    }
}

fn legend() -> Markup {
    html! {
        section.legend {
            h2 { "How to read this" }
            ul {
                li { "One row per file an endpoint asked about (" code { "vtc decide" } ", " code { "POST /v1/decide" } "), from the decision log." }
                li { b { "Rating" } " is vtc's verdict on the file's VirusTotal report; " b { "not rated" } " when no policy needed it, so VirusTotal was not asked." }
                li { b { "Detected" } " is the engines that flagged it malicious out of those in VirusTotal's last analysis." }
                li { "Click a file name (or " b { "Details" } ") for the engines, the reasons, every decision and the VirusTotal link. The view is kept in the address (#…)." }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, rating: Option<Verdict>) -> FileRating {
        FileRating {
            file_name: name.into(),
            path: format!("C:\\Users\\bob\\Downloads\\{name}"),
            sha256: "a".repeat(64),
            rating,
            malicious: Some(3),
            suspicious: Some(1),
            total: Some(70),
            first_seen: None,
            last_decision_time: "2026-11-20T10:00:00Z".into(),
            last_action: "deny".into(),
            hosts: vec!["WS-17".into()],
            users: vec!["CORP\\bob".into()],
            decisions: vec![DecisionLine {
                time: "2026-11-20T10:00:00Z".into(),
                host: "<b>WS</b>".into(),
                user: "bob".into(),
                action: "deny".into(),
                policy: "p".into(),
                fallback: String::new(),
            }],
            decision_count: 1,
            detections: Vec::new(),
            reasons: vec!["<img src=x onerror=alert(1)>".into()],
            link: Some("javascript:alert(1)".into()),
        }
    }

    #[test]
    fn hostile_names_are_text_and_the_page_is_the_shared_one() {
        let page = render_file_ratings(
            vec![
                file("<script>alert(1)</script>.exe", Some(Verdict::Bad)),
                file("ok.exe", None),
            ],
            "now",
        );
        assert!(!page.contains("<script>alert(1)"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;.exe"));
        assert!(!page.contains("<img src=x"));
        assert!(!page.contains("<b>WS</b>"));
        assert!(!page.contains("javascript:"), "only VirusTotal links");
        assert_eq!(page.matches("<script>").count(), 1, "the one shared script");
        assert!(page.contains(&crate::html::content_security_policy()));
        assert!(page.contains("id=\"f-verdict\"") && page.contains("data-col=\"name\""));
        assert!(!page.contains(" onclick="), "no inline event handlers");
    }
}

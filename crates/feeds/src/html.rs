//! The HTML report of a run: one self-contained page an analyst triages with.
//!
//! [`ReportBuilder`] takes records one at a time (as a batch emits them),
//! keeps the [`MAX_ROWS`] most severe and counts all of them for the
//! summary; [`ReportBuilder::render`] writes the page: a summary with two
//! inline SVG charts (verdicts, detection counts), rows most severe first,
//! sortable by every column and filterable by verdict, type and text, a
//! details view per row (every engine named in the record and what it said,
//! the reasons, the VirusTotal link), compact hashes with a copy button.
//!
//! The page works offline: no external asset, one inline style and one
//! inline script, both allowed by a meta Content-Security-Policy through
//! their sha256 (computed here, when the page is built), so no other script
//! can run even if markup got in. maud escapes every interpolated string,
//! and each value from a record is cut to a bounded length first, so a
//! hostile URL or engine label can neither inject markup nor blow up the page.

use crate::table::bounded;
use base64::Engine as _;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use verdict::{Record, Verdict};

/// Most rows one page holds; past that it keeps the most severe ones and
/// says how many it left out.
pub const MAX_ROWS: usize = 5_000;

/// Longest indicator or input kept, in characters (URLs can be long; the
/// copy button copies what is kept).
const VALUE_MAX: usize = 2_000;
/// Longest text shown in a cell before the details view.
const CELL_MAX: usize = 120;
/// Longest reason or error message kept.
const REASON_MAX: usize = 300;
/// Most reasons kept per record.
const MAX_REASONS: usize = 12;
/// Longest summary label or value.
const SUMMARY_MAX: usize = 200;

/// Detection-count buckets of the chart: (label, lowest malicious count).
const BUCKETS: [(&str, u32); 7] = [
    ("0", 0),
    ("1–2", 1),
    ("3–4", 3),
    ("5–9", 5),
    ("10–19", 10),
    ("20–39", 20),
    ("40+", 40),
];

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Collects a run's records for the report page.
#[derive(Debug, Default)]
pub struct ReportBuilder {
    rows: Vec<Record>,
    seen: u64,
    by_verdict: BTreeMap<Verdict, u64>,
    errors: u64,
    buckets: [u64; BUCKETS.len()],
}

impl ReportBuilder {
    pub fn new() -> ReportBuilder {
        ReportBuilder::default()
    }

    /// Counts `record` and keeps it (bounded) if it is among the most severe.
    pub fn add(&mut self, record: &Record) {
        self.seen += 1;
        if record.error.is_some() {
            self.errors += 1;
        } else {
            *self.by_verdict.entry(record.verdict).or_default() += 1;
            if record.id.is_some() {
                let bucket = BUCKETS
                    .iter()
                    .rposition(|(_, low)| record.malicious >= *low)
                    .unwrap_or(0);
                self.buckets[bucket] += 1;
            }
        }
        self.rows.push(bounded_record(record));
        if self.rows.len() >= 2 * MAX_ROWS {
            self.keep_most_severe();
        }
    }

    /// Records seen so far.
    pub fn len(&self) -> u64 {
        self.seen
    }

    pub fn is_empty(&self) -> bool {
        self.seen == 0
    }

    fn keep_most_severe(&mut self) {
        // Stable: equally severe rows keep their input order.
        self.rows
            .sort_by_key(|r| std::cmp::Reverse(severity_key(r)));
        self.rows.truncate(MAX_ROWS);
    }

    /// The whole page. `summary` is a list of (label, value) pairs shown
    /// beside the charts.
    pub fn render(
        mut self,
        title: &str,
        generated_at: &str,
        summary: &[(String, String)],
    ) -> String {
        self.keep_most_severe();
        let types: Vec<&str> = {
            let mut t: Vec<&str> = self
                .rows
                .iter()
                .filter_map(|r| r.kind.map(|k| k.as_str()))
                .collect();
            t.sort_unstable();
            t.dedup();
            t
        };
        let mut verdicts: Vec<(&str, &str)> = Verdict::ALL
            .iter()
            .rev()
            .map(|v| (v.as_str(), v.as_str()))
            .collect();
        verdicts.push(("error", "failed or invalid"));
        let types: Vec<(&str, &str)> = types.iter().map(|t| (*t, *t)).collect();
        let cut = (self.seen > self.rows.len() as u64).then(|| {
            html! {
                p.cut { "This page shows the " (self.rows.len()) " most severe of " (self.seen) " records; the output file has them all." }
            }
        });
        Page {
            title,
            generated_at,
            summary_title: "Run",
            summary,
            charts: vec![
                ("Verdicts", self.verdict_chart()),
                ("Malicious detections per report", self.detection_chart()),
            ],
            filters: Filters {
                verdict: ("Verdict", verdicts),
                kind: ("Type", types),
                search: "indicator, engine, label, reason…",
                rows: self.rows.len(),
            },
            cut,
            table: self.table(),
            legend: legend(),
        }
        .render()
    }

    fn verdict_chart(&self) -> Markup {
        let mut bars: Vec<(&str, &str, u64)> = Verdict::ALL
            .iter()
            .rev()
            .map(|v| {
                (
                    v.as_str(),
                    v.as_str(),
                    self.by_verdict.get(v).copied().unwrap_or(0),
                )
            })
            .collect();
        bars.push(("failed or invalid", "error", self.errors));
        bar_chart(&bars)
    }

    fn detection_chart(&self) -> Markup {
        let bars: Vec<(&str, &str, u64)> = BUCKETS
            .iter()
            .zip(self.buckets)
            .map(|((label, low), n)| {
                let class = match low {
                    0 => "good",
                    1 | 3 => "suspect",
                    _ => "bad",
                };
                (*label, class, n)
            })
            .collect();
        bar_chart(&bars)
    }

    fn table(&self) -> Markup {
        let column = |col: &str, label: &str| {
            html! { th data-col=(col) aria-sort=(if col == "verdict" { "descending" } else { "none" }) { button type="button" { (label) } } }
        };
        html! {
            table #records {
                thead {
                    tr {
                        (column("verdict", "Verdict"))
                        (column("type", "Type"))
                        (column("detected", "Detected"))
                        (column("indicator", "Indicator"))
                        (column("detections", "Top detections"))
                        (column("reasons", "Reasons"))
                        (column("last", "Last analysis"))
                        th.more-col { span.sr { "Details" } }
                    }
                }
                @for (rank, r) in self.rows.iter().enumerate() {
                    (row(rank, r))
                }
            }
            p #empty hidden { "No row matches these filters." }
        }
    }
}

/// The filter bar: two selects the script knows by id (`f-verdict` over
/// each row's `data-verdict`, `f-type` over `data-type`) and the search box
/// (over `data-text`); each report names what they filter.
pub(crate) struct Filters<'a> {
    /// Label, then (value, shown) options.
    pub verdict: (&'a str, Vec<(&'a str, &'a str)>),
    pub kind: (&'a str, Vec<(&'a str, &'a str)>),
    pub search: &'a str,
    pub rows: usize,
}

/// The one report page: every report (the enrichment run, the File
/// Security Rating Details) is this skeleton with its own summary, charts,
/// filters and table (`#records`, one `tbody` per row with `data-rank`,
/// the sort columns' `data-*`, a `button.more` and a `tr.details`); the
/// style, the script and the Content-Security-Policy are shared.
pub(crate) struct Page<'a> {
    pub title: &'a str,
    pub generated_at: &'a str,
    pub summary_title: &'a str,
    pub summary: &'a [(String, String)],
    pub charts: Vec<(&'a str, Markup)>,
    pub filters: Filters<'a>,
    pub cut: Option<Markup>,
    pub table: Markup,
    /// How to read this page.
    pub legend: Markup,
}

/// The Content-Security-Policy of every report page: the one inline script
/// and style by their sha256, nothing else. A server sends it as a header
/// too.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; \
         img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    )
}

impl Page<'_> {
    pub(crate) fn render(self) -> String {
        let csp = content_security_policy();
        let title = bounded(self.title, SUMMARY_MAX);
        let f = &self.filters;
        let page: Markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta http-equiv="Content-Security-Policy" content=(csp);
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="referrer" content="no-referrer";
                    title { (title) }
                    style { (PreEscaped(STYLE)) }
                }
                body {
                    header {
                        h1 { (title) }
                        p.generated { "Generated " (bounded(self.generated_at, 64)) " by vtc " (env!("CARGO_PKG_VERSION")) }
                    }
                    section.summary {
                        div.card {
                            h2 { (self.summary_title) }
                            dl {
                                @for (label, value) in self.summary {
                                    dt { (bounded(label, SUMMARY_MAX)) }
                                    dd { (bounded(value, SUMMARY_MAX)) }
                                }
                            }
                        }
                        @for (heading, chart) in &self.charts {
                            div.card {
                                h2 { (heading) }
                                (chart)
                            }
                        }
                    }
                    section.filters {
                        label { (f.verdict.0) " "
                            select #f-verdict {
                                option value="" { "all" }
                                @for (value, shown) in &f.verdict.1 { option value=(value) { (shown) } }
                            }
                        }
                        label { (f.kind.0) " "
                            select #f-type {
                                option value="" { "all" }
                                @for (value, shown) in &f.kind.1 { option value=(value) { (bounded(shown, 64)) } }
                            }
                        }
                        label.grow { "Search "
                            input #f-q type="search" placeholder=(f.search) autocomplete="off";
                        }
                        button #f-reset type="button" { "Reset" }
                        span.count { span #shown { (f.rows) } " of " (f.rows) " rows" }
                    }
                    @if let Some(cut) = &self.cut { (cut) }
                    (self.table)
                    (self.legend)
                    script { (PreEscaped(SCRIPT)) }
                }
            }
        };
        page.into_string()
    }
}

/// Sorts most severe first: verdict, then malicious and suspicious counts.
fn severity_key(r: &Record) -> (u8, u32, u32) {
    (r.verdict.severity(), r.malicious, r.suspicious)
}

/// `sha256-…` of a style or script, as a CSP source.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// A copy of `r` whose every string is bounded, so a hostile report cannot
/// make the kept rows (and the page) large.
fn bounded_record(r: &Record) -> Record {
    let mut r = r.clone();
    r.full = None;
    r.indicator = bounded(&r.indicator, VALUE_MAX);
    r.input = bounded(&r.input, VALUE_MAX);
    r.id = r.id.map(|id| bounded(&id, VALUE_MAX));
    r.link = r.link.map(|l| bounded(&l, VALUE_MAX));
    r.last_analysis_date = r.last_analysis_date.map(|d| bounded(&d, 64));
    r.reasons.truncate(MAX_REASONS);
    for reason in &mut r.reasons {
        *reason = bounded(reason, REASON_MAX);
    }
    if let Some(e) = &mut r.error {
        e.code = bounded(&e.code, 64);
        e.message = bounded(&e.message, REASON_MAX);
    }
    // Already bounded in count and length by the record itself.
    r.detections.truncate(verdict::MAX_DETECTIONS);
    r
}

/// Horizontal bars, one per (label, class, count), as inline SVG.
pub(crate) fn bar_chart(bars: &[(&str, &str, u64)]) -> Markup {
    const ROW: u32 = 26;
    const LABEL_W: u32 = 130;
    const BAR_W: u32 = 220;
    let max = bars.iter().map(|b| b.2).max().unwrap_or(0).max(1);
    let height = ROW * bars.len() as u32;
    let total: u64 = bars.iter().map(|b| b.2).sum();
    let description = bars
        .iter()
        .map(|(label, _, n)| format!("{label}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        svg.chart viewBox=(format!("0 0 {} {height}", LABEL_W + BAR_W + 60)) role="img" aria-label=(description) {
            @for (i, (label, class, n)) in bars.iter().enumerate() {
                @let y = i as u32 * ROW;
                @let w = if *n == 0 { 0 } else { ((*n as f64 / max as f64) * f64::from(BAR_W)).round().max(2.0) as u32 };
                text.label x=(LABEL_W - 8) y=(y + 17) text-anchor="end" { (label) }
                rect.track x=(LABEL_W) y=(y + 4) width=(BAR_W) height=(ROW - 8) rx="3" {}
                rect class=(format!("bar {class}")) x=(LABEL_W) y=(y + 4) width=(w) height=(ROW - 8) rx="3" {
                    title { (label) ": " (n) @if total > 0 { " (" (n * 100 / total) "%)" } }
                }
                text.value x=(LABEL_W + w + 6) y=(y + 17) { (n) }
            }
        }
    }
}

/// One record: its row and its (hidden) details, in one `tbody` so sorting
/// moves them together.
fn row(rank: usize, r: &Record) -> Markup {
    let id = format!("r{rank}");
    let kind = r.kind.map_or("?", |k| k.as_str());
    let indicator = if r.indicator.is_empty() {
        &r.input
    } else {
        &r.indicator
    };
    let input_differs = !r.indicator.is_empty() && r.input != r.indicator;
    let reasons = match &r.error {
        Some(e) => format!("{}: {}", e.code, e.message),
        None => r.reasons.join("; "),
    };
    let engines = r
        .detections
        .iter()
        .map(|d| format!("{} {}", d.engine, d.result))
        .collect::<Vec<_>>()
        .join(" ");
    let search = format!("{indicator} {} {reasons} {engines}", r.input).to_lowercase();
    let flagged = r.malicious.saturating_add(r.suspicious);
    html! {
        tbody id=(id) class=(r.verdict.as_str()) data-rank=(rank)
            data-verdict=(r.verdict.as_str()) data-type=(kind)
            data-error=[r.error.as_ref().map(|_| "")]
            data-detected=(format!("{}.{:04}", r.malicious, r.suspicious.min(9999)))
            data-indicator=(indicator) data-detections=(flagged)
            data-reasons=(reasons) data-last=(r.last_analysis_date.as_deref().unwrap_or(""))
            data-text=(search)
        {
            tr.row {
                td { span class=(format!("badge {}", r.verdict.as_str())) { (r.verdict.as_str()) }
                    @if r.error.is_some() { " " span.badge.error title="the item failed; see its reasons" { "error" } } }
                td { (kind) }
                td.num {
                    @if r.id.is_some() {
                        span.ratio title=(format!("{} malicious and {} suspicious of {} engines", r.malicious, r.suspicious, r.total)) {
                            b { (r.malicious) } "/" (r.total)
                        }
                        @if r.suspicious > 0 { br; span.muted { "+" (r.suspicious) " susp." } }
                    } @else { span.muted { "–" } }
                }
                td.indicator {
                    (compact(indicator, kind))
                    @if input_differs {
                        div.input { "input: " code { (bounded(&r.input, CELL_MAX)) } }
                    }
                }
                td.detections {
                    @for d in r.detections.iter().take(3) {
                        div { span.engine { (d.engine) } ": " span class=(format!("label {}", d.category)) { (bounded(&d.result, 48)) } }
                    }
                    @if usize::try_from(flagged).unwrap_or(usize::MAX) > r.detections.len().min(3) {
                        div.muted { "+" (usize::try_from(flagged).unwrap_or(usize::MAX) - r.detections.len().min(3)) " more" }
                    }
                }
                td.reasons { (bounded(&reasons, CELL_MAX)) }
                td.date {
                    (r.last_analysis_date.as_deref().map(|d| d.replace('T', " ").replace('Z', "")).as_deref().unwrap_or("–"))
                    @if r.stale { " " span.badge.stale title="older than stale_after_days" { "stale" } }
                }
                td { button.more type="button" aria-expanded="false" aria-controls=(format!("{id}-d")) { "Details" } }
            }
            tr.details id=(format!("{id}-d")) hidden {
                td colspan="8" { (details(r, indicator, kind)) }
            }
        }
    }
}

/// A hash as `275a021b…51fd0f` (the full value in its title and the copy
/// button), anything else as is.
pub(crate) fn compact(value: &str, kind: &str) -> Markup {
    let is_hash =
        kind == "file" && value.len() > 16 && value.bytes().all(|b| b.is_ascii_hexdigit());
    html! {
        @if is_hash {
            code.hash title=(value) { (&value[..8]) "…" (&value[value.len() - 6..]) }
        } @else {
            code.value title=(value) { (bounded(value, CELL_MAX)) }
        }
        " "
        button.copy type="button" data-copy=(value) title="copy to the clipboard" { "copy" }
    }
}

fn details(r: &Record, indicator: &str, kind: &str) -> Markup {
    let link = r
        .link
        .as_deref()
        .filter(|l| l.starts_with("https://www.virustotal.com/"));
    let flagged = usize::try_from(r.malicious.saturating_add(r.suspicious)).unwrap_or(usize::MAX);
    html! {
        div.detail {
            dl {
                dt { "Indicator" } dd { code.wrap { (indicator) } }
                @if r.input != indicator { dt { "Input" } dd { code.wrap { (r.input) } } }
                dt { "Type" } dd { (kind) }
                @if let Some(id) = &r.id { dt { "VirusTotal id" } dd { code.wrap { (id) } } }
                dt { "Verdict" } dd { (r.verdict.as_str()) }
                @if r.id.is_some() {
                    dt { "Engines" } dd { (r.malicious) " malicious, " (r.suspicious) " suspicious, of " (r.total) " engines" }
                }
                dt { "Last analysis" } dd { (r.last_analysis_date.as_deref().unwrap_or("–")) @if r.stale { " (stale)" } }
                dt { "From" } dd { @if r.cached { "the local cache" } @else { "VirusTotal" } }
                @if let Some(e) = &r.error { dt { "Error" } dd { code { (e.code) } " " (e.message) } }
                @if let Some(link) = link {
                    dt { "VirusTotal" } dd { a href=(link) rel="noopener noreferrer" target="_blank" { "open in VirusTotal" } }
                }
            }
            div {
                h3 { "Reasons" }
                @if r.reasons.is_empty() && r.error.is_none() { p.muted { "none" } }
                ul { @for reason in &r.reasons { li { (reason) } } }
                @if !r.detections.is_empty() {
                    h3 { "Engines that flagged it" }
                    table.engines {
                        thead { tr { th { "Engine" } th { "Category" } th { "Result" } } }
                        tbody {
                            @for d in &r.detections {
                                tr { td { (d.engine) } td { span class=(format!("label {}", d.category)) { (d.category) } } td { code.wrap { (d.result) } } }
                            }
                        }
                    }
                    @if flagged > r.detections.len() {
                        p.muted { (flagged - r.detections.len()) " more engines flagged it: see VirusTotal." }
                    }
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
                li { b { "Detected" } " is the number of engines that flagged the object " em { "malicious" } " out of the engines in VirusTotal's last analysis; suspicious flags are shown beneath it." }
                li { b { "Verdict" } ": " b { "bad" } " when the detection score and the share of engines reach the bad thresholds, " b { "suspect" } " when the score reaches the suspect threshold (or a highlighted engine or the community flags it), " b { "good" } " when below, " b { "unknown" } " when VirusTotal has no analysis of it or the item failed (its reasons say why)." }
                li { "The " b { "score" } " quoted in reasons is malicious engines plus suspicious engines times the suspicious weight (0.5 by default, " code { "[verdict] suspicious_weight" } "), compared with " code { "bad_min_malicious" } " and " code { "suspect_min_malicious" } "." }
                li { b { "Stale" } " marks a report whose last analysis is older than " code { "stale_after_days" } "; " code { "--rescan-stale" } " asks VirusTotal for a new one." }
                li { "Click a column to sort by it, " b { "Details" } " for every engine named and the link to VirusTotal. The view is kept in the address (#…), so it can be bookmarked." }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_inputs_are_escaped_and_bounded() {
        let hostile = format!("<script>alert(1)</script>\"'&{}", "x".repeat(100_000));
        let record = Record::failed(&hostile, None, "InvalidIndicator", "<img src=x onerror=y>");
        let mut report = ReportBuilder::new();
        report.add(&record);
        let page = report.render("<b>t</b>", "now", &[("<i>".into(), "</td>".into())]);
        assert!(!page.contains("<script>alert"), "unescaped script");
        assert!(!page.contains("<img"), "unescaped tag");
        assert!(!page.contains("<b>t</b>") && !page.contains("<i>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(
            page.len() < 60_000,
            "a 100 kB input was not cut: {} bytes",
            page.len()
        );
    }

    #[test]
    fn the_csp_allows_exactly_the_inline_script_and_style_by_hash() {
        let page = ReportBuilder::new().render("t", "now", &[]);
        let csp_start = page.find("Content-Security-Policy").unwrap_or(0);
        let csp = &page[csp_start
            ..page[csp_start..]
                .find('>')
                .map_or(page.len(), |e| csp_start + e)];
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(
            csp.contains(&format!("script-src '{}'", csp_hash(SCRIPT))),
            "{csp}"
        );
        assert!(
            csp.contains(&format!("style-src '{}'", csp_hash(STYLE))),
            "{csp}"
        );
        assert!(
            page.contains(SCRIPT),
            "the hashed script is the one on the page"
        );
        assert_eq!(page.matches("<script").count(), 1);
        assert!(!page.contains("src=\"http"), "no external asset");
    }

    #[test]
    fn rows_past_the_bound_keep_the_most_severe() {
        let mut report = ReportBuilder::new();
        let good = Record::failed("x", None, "E", "m");
        for _ in 0..(2 * MAX_ROWS + 10) {
            report.add(&good);
        }
        let mut bad = good.clone();
        bad.error = None;
        bad.verdict = Verdict::Bad;
        bad.input = "the-bad-one".into();
        report.add(&bad);
        assert_eq!(report.len(), 2 * MAX_ROWS as u64 + 11);
        let page = report.render("t", "now", &[]);
        assert!(page.contains("the-bad-one"));
        assert_eq!(page.matches("<tbody id=").count(), MAX_ROWS);
        assert!(page.contains("most severe of"));
    }
}

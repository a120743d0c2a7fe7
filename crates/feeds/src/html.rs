//! The HTML report of a run: a summary and one row per record.
//!
//! maud escapes every interpolated string, and each value taken from a
//! record is also cut to a bounded length, so a hostile URL or engine label
//! can neither inject markup nor blow up the page.

use crate::table::bounded;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use verdict::{Record, Verdict};

/// Longest value shown in a cell.
const CELL_MAX: usize = 200;

/// Renders the whole page. `summary` is a list of (label, value) pairs shown
/// above the table.
pub fn report_page(
    title: &str,
    generated_at: &str,
    summary: &[(String, String)],
    records: &[Record],
) -> String {
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (bounded(title, CELL_MAX)) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (bounded(title, CELL_MAX)) }
                p.generated { "Generated " (generated_at) " by vtc " (env!("CARGO_PKG_VERSION")) }
                table.summary {
                    @for (label, value) in summary {
                        tr { th { (bounded(label, CELL_MAX)) } td { (bounded(value, CELL_MAX)) } }
                    }
                }
                table.records {
                    thead {
                        tr { th { "Verdict" } th { "Type" } th { "Detections" } th { "Indicator" } th { "Input" } th { "Reasons" } th { "Last analysis" } th { "Link" } }
                    }
                    tbody {
                        @for r in records {
                            tr class=(verdict_class(r)) {
                                td { (verdict_label(r)) }
                                td { (r.kind.map(|k| k.as_str()).unwrap_or("?")) }
                                td { @if r.id.is_some() { (r.malicious) "/" (r.total) } @else { "–" } }
                                td.mono { (bounded(&r.indicator, CELL_MAX)) }
                                td.mono { (bounded(&r.input, CELL_MAX)) }
                                td {
                                    @if let Some(e) = &r.error {
                                        (bounded(&format!("{}: {}", e.code, e.message), CELL_MAX))
                                    } @else {
                                        (bounded(&r.reasons.join("; "), CELL_MAX * 2))
                                    }
                                }
                                td { (r.last_analysis_date.as_deref().unwrap_or("–")) @if r.stale { " (stale)" } }
                                td {
                                    @if let Some(link) = r.link.as_deref().filter(|l| l.starts_with("https://www.virustotal.com/")) {
                                        a href=(bounded(link, 400)) rel="noopener noreferrer" { "VirusTotal" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

fn verdict_class(r: &Record) -> &'static str {
    if r.error.is_some() {
        return "error";
    }
    match r.verdict {
        Verdict::Bad => "bad",
        Verdict::Suspect => "suspect",
        Verdict::Good => "good",
        Verdict::Unknown => "unknown",
    }
}

fn verdict_label(r: &Record) -> &'static str {
    if r.error.is_some() {
        "error"
    } else {
        r.verdict.as_str()
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
table{border-collapse:collapse;margin-bottom:1.5rem}\
th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}\
.mono{font-family:ui-monospace,monospace;word-break:break-all;max-width:32rem}\
tr.bad td:first-child{background:#f8d7da;font-weight:bold}\
tr.suspect td:first-child{background:#fff3cd}\
tr.good td:first-child{background:#d1e7dd}\
tr.unknown td:first-child,tr.error td:first-child{background:#e2e3e5}\
.generated{color:#666}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_inputs_are_escaped_and_bounded() {
        let hostile = format!("<script>alert(1)</script>\"'&{}", "x".repeat(10_000));
        let record = Record::failed(&hostile, None, "InvalidIndicator", "<img src=x onerror=y>");
        let page = report_page(
            "<b>t</b>",
            "now",
            &[("<i>".into(), "</td>".into())],
            &[record],
        );
        assert!(!page.contains("<script>"), "unescaped script");
        assert!(!page.contains("<img"), "unescaped tag");
        assert!(!page.contains("<b>t</b>") && !page.contains("<i>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(
            page.len() < 8_000,
            "a 10 kB input was not cut: {} bytes",
            page.len()
        );
    }
}

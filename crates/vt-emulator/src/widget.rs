//! VT Augment widget: `GET /widget/url?query=` hands out a link to
//! `GET /widget/html/{token}`, an HTML summary for an iframe.
//!
//! The token is the unpadded base64url of `<query>\n<fg1>\n<bg1>\n<bg2>\n<bd1>`,
//! so it needs no state; the HTML route takes no key (a browser loads it).

use crate::api_error::{ApiError, BaseUrl};
use crate::Emulator;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ioc::Indicator;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Default, Deserialize)]
pub struct WidgetQuery {
    query: Option<String>,
    fg1: Option<String>,
    bg1: Option<String>,
    bg2: Option<String>,
    bd1: Option<String>,
}

/// A theme colour: six hex digits, or the default.
fn colour(value: Option<&str>, default: &'static str) -> String {
    value
        .filter(|v| v.len() == 6 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or(default)
        .to_ascii_lowercase()
}

/// (detections, total) of an object's `last_analysis_stats`.
fn ratio(object: &Value) -> (u64, u64) {
    let stats = &object["attributes"]["last_analysis_stats"];
    let n = |k: &str| stats[k].as_u64().unwrap_or(0);
    (
        n("malicious"),
        n("malicious") + n("suspicious") + n("harmless") + n("undetected"),
    )
}

pub async fn widget_url(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Query(query): Query<WidgetQuery>,
) -> Result<Json<Value>, ApiError> {
    let text = query
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .ok_or_else(|| ApiError::bad_request("Missing query parameter"))?;
    let indicator = Indicator::parse(text).map_err(|_| {
        ApiError::invalid_argument(format!(
            "\"{text}\" is not a hash, URL, domain or IP address"
        ))
    })?;
    let found = emu.indicator_object(&indicator, &base).ok();
    let (detections, total) = found.as_ref().map(ratio).unwrap_or((0, 0));
    let theme = [
        colour(query.fg1.as_deref(), "4d4d4d"),
        colour(query.bg1.as_deref(), "ffffff"),
        colour(query.bg2.as_deref(), "f9f9f9"),
        colour(query.bd1.as_deref(), "e6e6e6"),
    ];
    let token = URL_SAFE_NO_PAD.encode(format!("{text}\n{}", theme.join("\n")));
    Ok(Json(json!({"data": {
        "url": base.api(&format!("/widget/html/{token}")),
        "detection_ratio": {"detections": detections, "total": total},
        "found": found.is_some(),
    }})))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

pub async fn widget_html(
    State(emu): State<Emulator>,
    base: BaseUrl,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let invalid = || ApiError::bad_request("Invalid or expired widget token");
    let raw = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| invalid())?;
    let text = String::from_utf8(raw).map_err(|_| invalid())?;
    let parts: Vec<&str> = text.split('\n').collect();
    let [query, fg1, bg1, bg2, bd1] = parts.as_slice() else {
        return Err(invalid());
    };
    let indicator = Indicator::parse(query).map_err(|_| invalid())?;
    let object = emu.indicator_object(&indicator, &base).ok();
    let (detections, total) = object.as_ref().map(ratio).unwrap_or((0, 0));
    let verdict = match (object.is_some(), detections) {
        (false, _) => "Not found in the emulator's world",
        (true, 0) => "No security vendor flagged this as malicious",
        (true, 1..=4) => "A few security vendors flagged this as malicious",
        (true, _) => "Many security vendors flagged this as malicious",
    };
    let colour = |c: &str| colour(Some(c), "000000");
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>VirusTotal widget</title>\
         <style>body{{font-family:sans-serif;color:#{fg};background:#{bg};margin:0}}\
         .box{{background:#{bg2};border:1px solid #{bd};padding:12px}}\
         .ratio{{font-size:2em;font-weight:bold}}</style></head>\n<body><div class=\"box\">\
         <div class=\"ratio\">{detections} / {total}</div><p>{verdict}</p>\
         <p><a href=\"{link}\" target=\"_blank\" rel=\"noopener\">{query}</a></p></div></body></html>\n",
        fg = colour(fg1),
        bg = colour(bg1),
        bg2 = colour(bg2),
        bd = colour(bd1),
        link = escape(&indicator.gui_link()),
        query = escape(&indicator.to_string()),
    );
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

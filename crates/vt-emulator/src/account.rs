//! The caller's account: `GET /users/{id}/overall_quotas`,
//! `GET /users/{id}/api_usage` and `GET /metadata`.
//!
//! `{id}` must be the caller's API key or its fingerprint (the emulator's
//! user id for a key, see [`crate::key_fingerprint`]); anything else is
//! 404, and the message names the id by its fingerprint too, since the id
//! asked for may be another key.

use crate::api_error::{ApiError, BaseUrl};
use crate::downloads::require_premium;
use crate::engines::{FILE_ENGINES, URL_ENGINES};
use crate::gate::Caller;
use crate::{now_epoch, Emulator};
use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// `allowed` for an unlimited window.
const UNLIMITED: u64 = 1_000_000_000;

pub(crate) fn user_of(caller: &Caller, id: &str) -> Result<(), ApiError> {
    if id == caller.key || id == caller.fingerprint() {
        Ok(())
    } else {
        let named = if is_fingerprint(id) {
            id.to_owned()
        } else {
            crate::key_fingerprint(id)
        };
        Err(ApiError::not_found(format!("User \"{named}\" not found")))
    }
}

/// `key-` and 12 lower-case hex digits, as [`crate::key_fingerprint`] makes.
fn is_fingerprint(id: &str) -> bool {
    id.strip_prefix("key-").is_some_and(|hex| {
        hex.len() == 12 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

pub async fn overall_quotas(
    State(emu): State<Emulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    user_of(&caller, &id)?;
    let usage = emu
        .accounting()
        .usage_of(&caller.key, Instant::now(), now_epoch());
    let config = emu.quota_limits();
    let limit = |n: Option<u32>| n.map_or(UNLIMITED, u64::from);
    // The hour's allowance is sixty minutes' (as for the public API's 4 a
    // minute and 240 an hour), so a client can learn the minute budget
    // from it; without a minute budget, the day bounds the hour.
    let hourly = match (config.minute, config.day) {
        (Some(m), _) => u64::from(m) * 60,
        (None, Some(d)) => u64::from(d),
        (None, None) => UNLIMITED,
    };
    let window = |allowed: u64, used: u32| json!({"user": {"allowed": allowed, "used": used}});
    Ok(Json(json!({"data": {
        "api_requests_hourly": window(hourly, usage.hour),
        "api_requests_daily": window(limit(config.day), usage.day),
        "api_requests_monthly": window(limit(config.month), usage.month),
    }})))
}

#[derive(Debug, Default, Deserialize)]
pub struct UsageQuery {
    start_date: Option<String>,
    end_date: Option<String>,
}

/// `YYYYMMDD` -> UTC day number.
fn day_number(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year][month][day]");
    let date = time::Date::parse(text, format).ok()?;
    Some(
        date.midnight()
            .assume_utc()
            .unix_timestamp()
            .div_euclid(86_400),
    )
}

fn day_label(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_default()
}

pub async fn api_usage(
    State(emu): State<Emulator>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<UsageQuery>,
) -> Result<Json<Value>, ApiError> {
    user_of(&caller, &id)?;
    let today = now_epoch().div_euclid(86_400);
    let parse = |value: &Option<String>, default: i64| match value.as_deref() {
        None | Some("") => Ok(default),
        Some(v) => day_number(v).ok_or_else(|| {
            ApiError::invalid_argument(format!("Invalid date \"{v}\": use YYYYMMDD"))
        }),
    };
    let last = parse(&query.end_date, today)?;
    let first = parse(&query.start_date, last - 29)?;
    if first > last || last - first >= 30 {
        return Err(ApiError::invalid_argument(
            "The date range must be at most 30 days, start before end",
        ));
    }
    let daily = emu.accounting().daily_usage(&caller.key, first, last);
    let mut total: BTreeMap<&str, u64> = BTreeMap::new();
    let mut days = serde_json::Map::new();
    for day in first..=last {
        let families = daily.get(&day).cloned().unwrap_or_default();
        for (family, n) in &families {
            *total.entry(family).or_default() += n;
        }
        days.insert(day_label(day), json!(families));
    }
    Ok(Json(json!({"data": {"daily": days, "total": total}})))
}

pub async fn metadata(base: BaseUrl, Extension(caller): Extension<Caller>) -> Json<Value> {
    let mut engines = serde_json::Map::new();
    for name in FILE_ENGINES {
        engines.insert((*name).to_owned(), json!({"category": "file"}));
    }
    for name in URL_ENGINES {
        engines
            .entry((*name).to_owned())
            .or_insert_with(|| json!({"category": "url"}));
    }
    let relationships: serde_json::Map<String, Value> = [
        ("files", "file"),
        ("urls", "url"),
        ("domains", "domain"),
        ("ip_addresses", "ip_address"),
    ]
    .iter()
    .map(|(collection, kind)| {
        let list: Vec<Value> = crate::relationship_table::of(collection)
            .map(|r| json!({"name": r.name, "description": r.name.replace('_', " ")}))
            .collect();
        ((*kind).to_owned(), json!(list))
    })
    .collect();
    let privileges: Vec<&str> = if require_premium(&caller).is_ok() {
        vec!["intelligence", "downloads-tier-2", "private-scanning"]
    } else {
        vec![]
    };
    Json(json!({"data": {
        "engines": engines,
        "privileges": privileges,
        "relationships": relationships,
        "api_url": base.api(""),
    }}))
}

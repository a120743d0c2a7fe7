//! The key's quotas: allowance and use per hour, day and month from
//! `/users/{key}/overall_quotas`, today's calls from `/api_usage`, and the
//! per-minute budget vtc itself keeps (the API reports none).

use crate::{ActionError, Context};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vt_api::UserId;
use vt_model::JsonMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaRequest {}

/// Use and allowance in one window; `allowed` is null when unlimited or unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QuotaWindowUse {
    pub used: Option<u64>,
    pub allowed: Option<u64>,
    /// Where the figures come from, when not from the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct QuotaOutput {
    pub minute: QuotaWindowUse,
    pub hour: QuotaWindowUse,
    pub day: QuotaWindowUse,
    pub month: QuotaWindowUse,
    /// Today's calls per endpoint family, as the API counts them.
    pub today_by_endpoint: Option<JsonMap>,
    pub today_total: u64,
    /// `overall_quotas` as sent.
    pub overall_quotas: JsonMap,
}

pub async fn quota(ctx: &Context, _req: QuotaRequest) -> Result<QuotaOutput, ActionError> {
    let key = ctx
        .quota_key
        .as_ref()
        .ok_or_else(|| ActionError::invalid("no VirusTotal API key to report on"))?;
    let user = UserId::of_key(&key.key);
    let api = |e| ActionError::api(e, None);
    let overall = ctx.client.overall_quotas(&user).await.map_err(api)?;
    let today = time::OffsetDateTime::now_utc().date();
    let usage = ctx
        .client
        .api_usage(&user, today, today)
        .await
        .map_err(api)?;
    let window = |name: &str| {
        let user = overall.get(name).map(|q| &q["user"]);
        QuotaWindowUse {
            used: user.and_then(|u| u["used"].as_u64()),
            allowed: user.and_then(|u| u["allowed"].as_u64()),
            source: None,
        }
    };
    let by_endpoint = usage.get("total").and_then(Value::as_object).cloned();
    let today_total = by_endpoint
        .as_ref()
        .map(|t| t.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    let governor = ctx.client.quota_status();
    let minute = governor.first().map(|s| s.minute);
    // The budget in force: configured, or learnt from the API (`--quota auto`).
    let minute_allowed = match minute {
        Some(m) => m.allowed.map(u64::from),
        None => (key.minute_budget != 0).then_some(u64::from(key.minute_budget)),
    };
    Ok(QuotaOutput {
        minute: QuotaWindowUse {
            used: minute.map(|m| u64::from(m.used)),
            allowed: minute_allowed,
            source: Some(
                "vtc's own budget (--quota-minute) and its governor's count; the API reports no minute quota"
                    .to_owned(),
            ),
        },
        hour: window("api_requests_hourly"),
        day: window("api_requests_daily"),
        month: window("api_requests_monthly"),
        today_by_endpoint: by_endpoint,
        today_total,
        overall_quotas: overall,
    })
}

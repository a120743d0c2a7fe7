//! The VT Augment widget: `GET /widget/url`, and with `html` the page.

use crate::parse;
use crate::{ActionError, Context, DetectionView};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vt_model::JsonMap;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetRequest {
    /// The object: a file hash, URL, domain or IP address.
    pub id: String,
    /// Also fetch the page's HTML, untrusted (default false).
    #[serde(default)]
    pub html: bool,
}

/// `detection_ratio` as the API sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WidgetRatio {
    pub detections: u32,
    pub total: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WidgetOutput {
    /// The page to show in an iframe, valid for three days.
    pub url: String,
    /// Whether VirusTotal knows the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<bool>,
    /// The ratio as the widget shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_ratio: Option<WidgetRatio>,
    /// The same ratio in vtc's one shape (malicious out of the engines
    /// that gave a verdict), as every other action shows it; the widget
    /// reports no suspicious count, so `suspicious` is 0 here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<DetectionView>,
    /// The widget page (untrusted HTML), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Whatever else the API sent.
    #[serde(flatten)]
    pub other: JsonMap,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WidgetHtmlRequest {
    /// The widget URL get_widget answered, or the token at its end.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WidgetHtmlOutput {
    /// The widget page (untrusted HTML: show it in a sandboxed iframe).
    pub html: String,
}

/// The page behind a widget URL (`GET /widget/html/{token}`).
pub async fn widget_html(
    ctx: &Context,
    req: WidgetHtmlRequest,
) -> Result<WidgetHtmlOutput, ActionError> {
    let given = req.url.trim();
    let token = if given.contains('/') {
        vt_api::WidgetUrl {
            url: given.to_owned(),
            found: None,
            detection_ratio: None,
            other: Default::default(),
        }
        .token()
    } else {
        vt_api::WidgetToken::parse(given)
    }
    .ok_or_else(|| {
        ActionError::invalid(format!(
            "url: {} is neither a widget URL nor its token",
            parse::shown(given)
        ))
    })?;
    let html = ctx
        .client
        .widget_html(&token)
        .await
        .map_err(|e| ActionError::api(e, None))?;
    Ok(WidgetHtmlOutput { html })
}

pub async fn widget(ctx: &Context, req: WidgetRequest) -> Result<WidgetOutput, ActionError> {
    let object = parse::indicator("id", &req.id)?;
    let widget = ctx
        .client
        .widget_url(&object, None)
        .await
        .map_err(|e| ActionError::api(e, None))?;
    let html = if req.html {
        let token = widget
            .token()
            .ok_or_else(|| ActionError::internal("the widget URL has no usable token"))?;
        Some(
            ctx.client
                .widget_html(&token)
                .await
                .map_err(|e| ActionError::api(e, None))?,
        )
    } else {
        None
    };
    let ratio = widget.detection_ratio.map(|r| WidgetRatio {
        detections: r.detections,
        total: r.total,
    });
    Ok(WidgetOutput {
        url: widget.url,
        found: widget.found,
        detection_ratio: ratio,
        // The widget counts the engines that gave a verdict, as the one rule does.
        detection: ratio.map(|r| DetectionView {
            malicious: r.detections,
            suspicious: 0,
            total: r.total,
            ratio: format!("{}/{}", r.detections, r.total),
        }),
        html,
        other: widget.other,
    })
}

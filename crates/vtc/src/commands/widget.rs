//! `vtc widget ID [--html]`: the VT Augment widget of an object.

use crate::action_context;
use crate::cli::{OutputFormat, WidgetArgs};
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view::{self, Answer};
use std::io::Write;

pub async fn run(args: WidgetArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let ctx = action_context::build(settings, None).await?;
    let request = actions::WidgetRequest {
        id: args.id,
        html: args.html,
    };
    let widget = actions::widget(&ctx, request).await?;
    if settings.format != OutputFormat::Table {
        object_view::print(
            &Answer::One(serde_json::to_value(&widget)?),
            settings.format,
        )?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    if let Some(page) = &widget.html {
        // The page is the server's, untrusted: no control characters
        // reach the terminal (newlines and tabs stay for readability).
        let shown: String = page
            .chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
            .collect();
        writeln!(out, "{shown}")?;
    } else {
        writeln!(out, "{}", object_view::cell(&widget.url, 2048))?;
        if let Some(detection) = &widget.detection {
            writeln!(out, "detections {}", detection.ratio)?;
        }
    }
    out.flush()?;
    Ok(Exit::Success)
}

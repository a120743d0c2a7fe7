//! `vtc widget ID [--html]`: the VT Augment widget of an object.

use crate::capabilities;
use crate::cli::{OutputFormat, WidgetArgs};
use crate::config::Settings;
use crate::exit::Exit;
use crate::object_view::{self, Answer};
use std::io::Write;

pub async fn run(args: WidgetArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let client = settings.client().await?;
    let object = capabilities::indicator(&args.id)?;
    let answer = capabilities::widget(&client, &object, args.html).await?;
    let Answer::One(widget) = &answer else {
        return Ok(Exit::Success);
    };
    if settings.format == OutputFormat::Table {
        let mut out = std::io::stdout().lock();
        if args.html {
            // The page is the server's, untrusted: no control characters
            // reach the terminal (newlines and tabs stay for readability).
            let page = widget["html"].as_str().unwrap_or("");
            let shown: String = page
                .chars()
                .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
                .collect();
            writeln!(out, "{shown}")?;
        } else {
            let ratio = &widget["detection_ratio"];
            writeln!(
                out,
                "{}",
                object_view::cell(widget["url"].as_str().unwrap_or(""), 2048)
            )?;
            if ratio.is_object() {
                writeln!(
                    out,
                    "detections {}/{}",
                    ratio["detections"].as_u64().unwrap_or(0),
                    ratio["total"].as_u64().unwrap_or(0)
                )?;
            }
        }
        out.flush()?;
    } else {
        object_view::print(&answer, settings.format)?;
    }
    Ok(Exit::Success)
}

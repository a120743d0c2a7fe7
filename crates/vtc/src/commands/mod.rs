//! One module per command; each turns parsed arguments into library calls.

mod action;
mod analysis;
mod collect;
mod comments;
mod cortex;
mod db;
mod decide;
mod demo;
mod download;
mod emulator;
mod enrich;
mod feed;
mod hash;
mod lookup;
mod private;
mod quota;
mod relationships;
mod rescan;
mod scan;
mod search;
mod serve;
mod token;
mod vote;
mod widget;
mod worker;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::config::Settings;
use crate::exit::{usage, Exit};

pub async fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    let before = &cli.global;
    // The options after the command over those before it.
    let resolve = |after: &GlobalArgs| Settings::resolve(&after.over(before));
    match cli.command {
        // Commands that need no configuration run before it is loaded, so a
        // broken config file cannot stop the emulator or `vtc hash`; they
        // refuse API options rather than ignore them.
        Command::Emulator(args) => {
            refuse_api_options("emulator", before, true)?;
            emulator::run(args).await
        }
        Command::Hash(args) => {
            refuse_api_options("hash", before, false)?;
            let format = args.format.or(before.format);
            hash::run(args, format).await
        }
        Command::Demo(args) => {
            refuse_api_options("demo", before, false)?;
            let format = args.format.or(before.format);
            demo::run(args, format).await
        }
        Command::Lookup(args) => {
            let settings = resolve(&args.global)?;
            lookup::run(args, &settings).await
        }
        Command::Enrich(args) => {
            let settings = resolve(&args.global)?;
            enrich::run(args, &settings).await
        }
        // `action` reports even a bad config file as JSON, so it resolves its own.
        Command::Action(args) => {
            let options = args.global.over(before);
            action::run(args, &options).await
        }
        Command::Scan(args) => {
            let settings = resolve(args.global())?;
            scan::run(args, &settings).await
        }
        Command::Analysis(args) => {
            let settings = resolve(&args.global)?;
            analysis::run(args, &settings).await
        }
        Command::Rescan(args) => {
            let settings = resolve(&args.global)?;
            rescan::run(args, &settings).await
        }
        Command::Download(args) => {
            let settings = resolve(&args.global)?;
            download::run(args, &settings).await
        }
        Command::Relationships(args) => {
            let settings = resolve(&args.global)?;
            relationships::run(args, &settings).await
        }
        Command::Search(args) => {
            let settings = resolve(&args.global)?;
            search::run(args, &settings).await
        }
        Command::Comments(args) => {
            let settings = resolve(&args.global)?;
            comments::run(args, &settings).await
        }
        Command::Vote(args) => {
            let settings = resolve(&args.global)?;
            vote::run(args, &settings).await
        }
        Command::Votes(args) => {
            let settings = resolve(&args.global)?;
            vote::list(args, &settings).await
        }
        Command::Widget(args) => {
            let settings = resolve(&args.global)?;
            widget::run(args, &settings).await
        }
        Command::Private(args) => {
            let settings = resolve(args.global())?;
            private::run(args, &settings).await
        }
        Command::Quota(args) => quota::run(&resolve(&args.global)?).await,
        Command::Db(args) => {
            let settings = resolve(&args.global)?;
            db::run(args.action, &settings).await
        }
        Command::Serve(args) => {
            let settings = resolve(&args.global)?;
            serve::run(args, &settings).await
        }
        Command::Collect(args) => {
            if let Some(conf) = &args.import_config {
                return collect::import(conf, args.output.as_deref());
            }
            let global = match &args.action {
                Some(crate::cli::CollectAction::Status(status)) => status.global.over(&args.global),
                None => args.global.clone(),
            };
            let settings = resolve(&global)?;
            collect::run(args, &settings).await
        }
        // A job's failures are reports Cortex reads, so it resolves its own.
        Command::Cortex(args) => {
            let options = args.global.over(before);
            cortex::run(args, &options).await
        }
        Command::Token(args) => {
            let settings = resolve(&args.global)?;
            token::run(args.action, &settings).await
        }
        Command::Worker(args) => {
            let settings = resolve(&args.global)?;
            worker::run(args, &settings).await
        }
        Command::Policy(args) => {
            let settings = resolve(&args.global)?;
            decide::check(args.action, &settings).await
        }
        Command::Decide(args) => {
            let settings = resolve(&args.global)?;
            decide::run(args, &settings).await
        }
        Command::Decisions(args) => {
            let settings = resolve(&args.global)?;
            decide::decisions(args, &settings).await
        }
        Command::Report(args) => {
            let settings = resolve(&args.global)?;
            decide::report(args.kind, &settings).await
        }
        Command::Feed(args) => {
            // A feed calls no API: only the options that say where the
            // cache is and how the feed is named apply, given after `export`.
            if let Some(name) = before.api_flags_given().first() {
                return Err(usage(format!(
                    "give {name} after `vtc feed export` (its options: --db, --config, --api-url)"
                )));
            }
            if before.format.is_some() {
                return Err(usage(
                    "`vtc feed export` takes --format cb|stix|misp after `export`",
                ));
            }
            match args.action {
                crate::cli::FeedAction::Export(args) => {
                    let global = GlobalArgs {
                        db: args.db.clone(),
                        config: args.config.clone(),
                        api_url: args.api_url.clone(),
                        ..GlobalArgs::default()
                    };
                    let settings = Settings::resolve(&global)?;
                    feed::export(args, &settings).await
                }
            }
        }
    }
}

/// A command that calls no API takes no API option: one given before it
/// would otherwise be silently ignored. `--format` is refused only where
/// the command prints no records (`emulator`).
fn refuse_api_options(command: &str, before: &GlobalArgs, no_format: bool) -> anyhow::Result<()> {
    let mut given = before.api_flags_given();
    if no_format && before.format.is_some() {
        given.push("--format");
    }
    match given.as_slice() {
        [] => Ok(()),
        names => Err(usage(format!(
            "`vtc {command}` does not call the VirusTotal API: {} does not apply to it",
            names.join(", ")
        ))),
    }
}

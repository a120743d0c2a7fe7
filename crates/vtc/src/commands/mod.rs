//! One module per command; each turns parsed arguments into library calls.

mod action;
mod analysis;
mod comments;
mod db;
mod demo;
mod download;
mod emulator;
mod enrich;
mod hash;
mod lookup;
mod private;
mod quota;
mod relationships;
mod rescan;
mod scan;
mod search;
mod vote;
mod widget;

use crate::cli::{Cli, Command};
use crate::config::Settings;
use crate::exit::Exit;

pub async fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        // Commands that need no configuration run before it is loaded, so a
        // broken config file cannot stop the emulator or `vtc hash`.
        Command::Emulator(args) => emulator::run(args).await,
        Command::Hash(args) => hash::run(args, cli.global.format).await,
        Command::Demo(args) => demo::run(args, &cli.global).await,
        Command::Lookup(args) => lookup::run(args, &Settings::resolve(&cli.global)?).await,
        Command::Enrich(args) => enrich::run(args, &Settings::resolve(&cli.global)?).await,
        // `action` reports even a bad config file as JSON, so it resolves its own.
        Command::Action(args) => action::run(args, &cli.global).await,
        Command::Scan(args) => scan::run(args, &Settings::resolve(&cli.global)?).await,
        Command::Analysis(args) => analysis::run(args, &Settings::resolve(&cli.global)?).await,
        Command::Rescan(args) => rescan::run(args, &Settings::resolve(&cli.global)?).await,
        Command::Download(args) => download::run(args, &Settings::resolve(&cli.global)?).await,
        Command::Relationships(args) => {
            relationships::run(args, &Settings::resolve(&cli.global)?).await
        }
        Command::Search(args) => search::run(args, &Settings::resolve(&cli.global)?).await,
        Command::Comments(args) => comments::run(args, &Settings::resolve(&cli.global)?).await,
        Command::Vote(args) => vote::run(args, &Settings::resolve(&cli.global)?).await,
        Command::Votes(args) => vote::list(args, &Settings::resolve(&cli.global)?).await,
        Command::Widget(args) => widget::run(args, &Settings::resolve(&cli.global)?).await,
        Command::Private(args) => private::run(args, &Settings::resolve(&cli.global)?).await,
        Command::Quota => quota::run(&Settings::resolve(&cli.global)?).await,
        Command::Db(args) => db::run(args.action, &Settings::resolve(&cli.global)?).await,
    }
}

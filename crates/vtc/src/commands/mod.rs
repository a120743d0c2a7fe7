//! One module per command; each turns parsed arguments into library calls.

mod demo;
mod emulator;
mod enrich;
mod hash;
mod lookup;

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
    }
}

//! `vtc serve --listen ADDR`: builds the service from the settings and runs
//! it until Ctrl-C or SIGTERM (the `server` crate does the rest).

use crate::cli::ServeArgs;
use crate::config::Settings;
use crate::exit::Exit;
use anyhow::Context;
use std::io::Write;

pub async fn run(args: ServeArgs, settings: &Settings) -> anyhow::Result<Exit> {
    let policy = args
        .policy
        .as_deref()
        .map(crate::commands::decide::load_policy)
        .transpose()?;
    let state = server::AppState::build(settings).await?;
    if let Some(set) = policy {
        state.set_policy(set);
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The first line, so a script or test knows where to connect.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{addr}")?;
    stdout.flush()?;
    drop(stdout);
    server::serve(listener, state, server::shutdown_signal()).await?;
    Ok(Exit::Success)
}

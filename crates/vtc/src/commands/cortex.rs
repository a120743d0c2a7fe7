//! `vtc cortex [JOBDIR]`: one Cortex analyzer job. The job is read from
//! `JOBDIR/input/input.json` (or, in the older form, stdin), run by the
//! `cortex` crate, and its report written to `JOBDIR/output/output.json`
//! (or stdout). A failed job still writes its report (`"success": false`)
//! and exits 1 with the message on stderr, as cortexutils' analyzers do.

use crate::cli::{CortexArgs, GlobalArgs};
use crate::exit::{usage, Exit};
use std::io::IsTerminal;

pub async fn run(args: CortexArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let job =
        match &args.job_dir {
            Some(dir) if cortex::Job::is_job_dir(dir) => cortex::Job::open(dir)?,
            Some(dir) if !dir.is_dir() => {
                return Err(usage(format!(
                    "{} is not a job directory (JOBDIR/input/input.json)",
                    dir.display()
                )))
            }
            _ if std::io::stdin().is_terminal() => return Err(usage(
                "no job: give a job directory holding input/input.json, or the job's JSON on stdin",
            )),
            _ => cortex::Job::from_reader(std::io::stdin().lock())?,
        };
    let report = cortex::analyse(&job, &crate::config::overrides(global)).await;
    job.write(&report, &mut std::io::stdout().lock())?;
    if cortex::succeeded(&report) {
        Ok(Exit::Success)
    } else {
        let message = report["errorMessage"].as_str().unwrap_or("the job failed");
        Err(anyhow::anyhow!("{message}"))
    }
}

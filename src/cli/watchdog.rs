//! `runbook __watchdog`: the guard `runbook exec` starts for each run (see `exec::watchdog`).
//! Not for people: it reads the engine's messages on stdin and ends with it.

use crate::cli::error::Result;
use crate::exec::watchdog;

pub(super) fn run() -> Result<i32> {
    watchdog::detach();
    Ok(watchdog::serve(std::io::stdin().lock()))
}

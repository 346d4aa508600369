//! The `command` probe.

use super::{ProbeEnv, ProbeOutcome};
use crate::model::probe::CommandProbe;

pub fn run(_probe: &CommandProbe, _env: &ProbeEnv) -> ProbeOutcome {
    ProbeOutcome::error("the command probe is not implemented yet")
}

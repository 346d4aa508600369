//! The `process` probe.

use super::{ProbeEnv, ProbeOutcome};
use crate::model::probe::ProcessProbe;

pub fn run(_probe: &ProcessProbe, _env: &ProbeEnv) -> ProbeOutcome {
    ProbeOutcome::error("the process probe is not implemented yet")
}

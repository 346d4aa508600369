//! The `disk` probe.

use super::{ProbeEnv, ProbeOutcome};
use crate::model::probe::DiskProbe;

pub fn run(_probe: &DiskProbe, _env: &ProbeEnv) -> ProbeOutcome {
    ProbeOutcome::error("the disk probe is not implemented yet")
}

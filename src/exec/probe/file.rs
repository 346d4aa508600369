//! The `file` probe.

use super::{ProbeEnv, ProbeOutcome};
use crate::model::probe::FileProbe;

pub fn run(_probe: &FileProbe, _env: &ProbeEnv) -> ProbeOutcome {
    ProbeOutcome::error("the file probe is not implemented yet")
}

//! The `tcp` probe.

use super::{ProbeEnv, ProbeOutcome};
use crate::model::probe::TcpProbe;

pub fn run(_probe: &TcpProbe, _env: &ProbeEnv) -> ProbeOutcome {
    ProbeOutcome::error("the tcp probe is not implemented yet")
}

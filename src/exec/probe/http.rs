//! The `http` probe.

use super::{ProbeEnv, ProbeOutcome};
use crate::model::probe::HttpProbe;

pub fn run(_probe: &HttpProbe, _env: &ProbeEnv) -> ProbeOutcome {
    ProbeOutcome::error("the http probe is not implemented yet")
}

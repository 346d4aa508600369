//! The `gpu` probe.

use super::{ProbeEnv, ProbeOutcome};
use crate::model::probe::GpuProbe;

/// Where GPU facts come from: NVML on a real machine, a JSON file in tests and demos.
pub trait GpuSource: Send + Sync {}

pub fn run(_probe: &GpuProbe, _env: &ProbeEnv) -> ProbeOutcome {
    ProbeOutcome::error("the gpu probe is not implemented yet")
}

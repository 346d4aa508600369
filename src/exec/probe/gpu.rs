//! The `gpu` probe.

use super::{ProbeEnv, ProbeOutcome};
use crate::model::probe::GpuProbe;

/// Where GPU facts come from: NVML on a real machine, a JSON file in tests and demos.
pub trait GpuSource: Send + Sync {}

struct Unavailable;
impl GpuSource for Unavailable {}

/// The GPU source for this process.
pub fn source_from_env() -> Box<dyn GpuSource> {
    Box::new(Unavailable)
}

pub fn run(_probe: &GpuProbe, _env: &ProbeEnv) -> ProbeOutcome {
    ProbeOutcome::error("the gpu probe is not implemented yet")
}

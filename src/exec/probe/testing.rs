//! Test helpers shared by the probe tests: an environment without a GPU.

use super::ProbeEnv;
use super::gpu::{GpuInventory, GpuSource, GpuUnavailable};
use std::path::Path;
use std::time::Duration;

/// A GPU source for probes that never look at GPUs.
pub struct NoGpu;

impl GpuSource for NoGpu {
    fn inventory(&self) -> Result<GpuInventory, GpuUnavailable> {
        Err(GpuUnavailable::no_driver("test environment"))
    }
}

static NO_GPU: NoGpu = NoGpu;

/// A probe environment rooted at `cwd` with a 5-second step timeout.
pub fn env(cwd: &Path) -> ProbeEnv<'_> {
    ProbeEnv { cwd, gpu: &NO_GPU, timeout: Duration::from_secs(5) }
}

//! Test helpers shared by the probe tests: an environment without a GPU.

use super::ProbeEnv;
use super::gpu::{GpuInventory, GpuSource, GpuUnavailable};
use std::path::Path;
use std::time::Duration;

/// A GPU source for probes that never look at GPUs.
pub(crate) struct NoGpu;

impl GpuSource for NoGpu {
    fn inventory(&self) -> Result<GpuInventory, GpuUnavailable> {
        Err(GpuUnavailable::no_driver("test environment"))
    }
}

static NO_GPU: NoGpu = NoGpu;

/// A probe environment rooted at `cwd` with a 5-second step timeout, seeing this process's
/// `PATH` (and no home directory).
pub(crate) fn env(cwd: &Path) -> ProbeEnv<'_> {
    static PATH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let path = PATH.get_or_init(|| std::env::var("PATH").ok());
    ProbeEnv { cwd, home: None, path: path.as_deref(), gpu: &NO_GPU, timeout: Duration::from_secs(5), sandbox: None }
}

//! [`GpuSource`] over NVML (`libnvidia-ml.so.1`, loaded at run time, so `runbook` builds and
//! runs on machines without an NVIDIA driver).

use super::{GpuInventory, GpuSnapshot, GpuSource, GpuUnavailable};
use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::error::NvmlError;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// NVML, initialised on first use and then kept: loading the library and its symbols is slow,
/// and NVIDIA asks for one initialisation per process. A failed initialisation is kept too, so
/// a runbook with ten GPU steps reports the same reason ten times without retrying.
#[derive(Default)]
pub(crate) struct NvmlSource {
    nvml: OnceLock<Result<Nvml, GpuUnavailable>>,
}

impl NvmlSource {
    fn nvml(&self) -> Result<&Nvml, GpuUnavailable> {
        self.nvml.get_or_init(|| Nvml::init().map_err(|err| unavailable(&err))).as_ref().map_err(Clone::clone)
    }
}

impl std::fmt::Debug for NvmlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.nvml.get() {
            None => "not initialised",
            Some(Ok(_)) => "initialised",
            Some(Err(_)) => "unavailable",
        };
        f.debug_struct("NvmlSource").field("nvml", &state).finish()
    }
}

impl GpuSource for NvmlSource {
    fn inventory(&self) -> Result<GpuInventory, GpuUnavailable> {
        let nvml = self.nvml()?;
        let driver_version = nvml.sys_driver_version().map_err(|e| unavailable(&e))?;
        let count = nvml.device_count().map_err(|e| unavailable(&e))?;
        let mut unreadable = BTreeMap::new();
        let cuda_version = cuda_version(nvml, &mut unreadable);
        let gpus = (0..count).map(|index| snapshot(nvml, index)).collect::<Result<Vec<_>, _>>()?;
        Ok(GpuInventory { driver_version, cuda_version, gpus, unreadable })
    }
}

/// Maps an error that stops NVML as a whole (init, driver version, device count).
pub(super) fn unavailable(err: &NvmlError) -> GpuUnavailable {
    match err {
        // libloading's own text names the library and dlopen's reason.
        NvmlError::LibloadingError(inner) => GpuUnavailable::no_driver(&inner.to_string()),
        NvmlError::LibraryNotFound | NvmlError::DriverNotLoaded => GpuUnavailable::no_driver(&err.to_string()),
        NvmlError::LibRmVersionMismatch => GpuUnavailable::version_mismatch(),
        NvmlError::GpuLost => GpuUnavailable::gpu_lost(&err.to_string()),
        other => GpuUnavailable::other(&other.to_string()),
    }
}

/// `12080` → `12.8`: NVML encodes CUDA versions as `major * 1000 + minor * 10`.
pub(crate) fn cuda_version_string(encoded: u32) -> String {
    format!("{}.{}", encoded / 1000, (encoded % 1000) / 10)
}

fn cuda_version(nvml: &Nvml, unreadable: &mut BTreeMap<String, String>) -> Option<String> {
    // Fails when libcuda is missing (a container with NVML but no CUDA user-space): a fact
    // worth showing, not a reason to give up on the GPUs.
    match nvml.sys_cuda_driver_version() {
        Ok(encoded) => match u32::try_from(encoded) {
            Ok(encoded) => Some(cuda_version_string(encoded)),
            Err(_) => {
                unreadable.insert("cuda_version".into(), format!("NVML returned {encoded}"));
                None
            }
        },
        Err(NvmlError::NotSupported) => None,
        Err(err) => {
            unreadable.insert("cuda_version".into(), err.to_string());
            None
        }
    }
}

/// Collects one GPU's values; a value NVML cannot give becomes `None` (with the error kept
/// when it is not a plain "not supported"). Only a lost GPU stops everything.
struct Reader {
    index: u32,
    unreadable: BTreeMap<String, String>,
}

impl Reader {
    fn read<T>(&mut self, field: &str, result: Result<T, NvmlError>) -> Result<Option<T>, GpuUnavailable> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(NvmlError::NotSupported) => Ok(None),
            Err(NvmlError::GpuLost) => Err(self.lost()),
            Err(err) => {
                self.unreadable.insert(field.to_string(), err.to_string());
                Ok(None)
            }
        }
    }

    fn lost(&self) -> GpuUnavailable {
        GpuUnavailable::gpu_lost(&format!("GPU {} fell off the bus or is otherwise inaccessible", self.index))
    }
}

fn snapshot(nvml: &Nvml, index: u32) -> Result<GpuSnapshot, GpuUnavailable> {
    let mut reader = Reader { index, unreadable: BTreeMap::new() };
    // One GPU that cannot be opened (no permission on its device node, bad power) must not hide
    // the others: it is listed with every value unreported.
    let Some(device) = reader.read("device", nvml.device_by_index(index))? else {
        let mut gpu = GpuSnapshot::unknown(index);
        gpu.unreadable = reader.unreadable;
        return Ok(gpu);
    };
    let name = reader.read("name", device.name())?.unwrap_or_default();
    let uuid = reader.read("uuid", device.uuid())?;
    let memory = reader.read("memory", device.memory_info())?;
    let utilization = reader.read("utilization", device.utilization_rates())?;
    let temperature = reader.read("temperature", device.temperature(TemperatureSensor::Gpu))?;
    let power_mw = reader.read("power", device.power_usage())?;
    let capability = reader.read("compute_capability", device.cuda_compute_capability())?;
    Ok(GpuSnapshot {
        index,
        name,
        uuid,
        memory_total: memory.as_ref().map(|m| m.total),
        memory_used: memory.as_ref().map(|m| m.used),
        memory_free: memory.as_ref().map(|m| m.free),
        utilization_percent: utilization.map(|u| u.gpu),
        temperature_c: temperature,
        power_w: power_mw.map(|mw| f64::from(mw) / 1000.0),
        compute_capability: capability.map(|cc| format!("{}.{}", cc.major, cc.minor)),
        unreadable: reader.unreadable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::probe::gpu::UnavailableKind;
    use crate::model::version::Version;

    #[test]
    fn cuda_version_from_nvml_integer() {
        assert_eq!(cuda_version_string(12080), "12.8");
        assert_eq!(cuda_version_string(12090), "12.9");
        assert_eq!(cuda_version_string(11040), "11.4");
        assert_eq!(cuda_version_string(13000), "13.0");
        assert_eq!(cuda_version_string(12100), "12.10");
    }

    #[test]
    fn init_errors_map_to_kinds_and_messages() {
        let no_driver = unavailable(&NvmlError::DriverNotLoaded);
        assert_eq!(no_driver.kind, UnavailableKind::NoDriver);
        assert_eq!(no_driver.message, "NVML unavailable: no NVIDIA driver (NVIDIA driver is not loaded)");
        let no_lib = unavailable(&NvmlError::LibraryNotFound);
        assert_eq!(no_lib.kind, UnavailableKind::NoDriver);
        assert!(no_lib.message.starts_with("NVML unavailable: no NVIDIA driver ("));
        let mismatch = unavailable(&NvmlError::LibRmVersionMismatch);
        assert_eq!(mismatch.kind, UnavailableKind::VersionMismatch);
        assert_eq!(
            mismatch.message,
            "NVML unavailable: driver/library version mismatch: reboot or reload the NVIDIA kernel modules"
        );
        let lost = unavailable(&NvmlError::GpuLost);
        assert_eq!(lost.kind, UnavailableKind::GpuLost);
        assert!(lost.message.starts_with("GPU lost: "), "{}", lost.message);
        let other = unavailable(&NvmlError::NoPermission);
        assert_eq!(other.kind, UnavailableKind::Other);
        assert_eq!(
            other.message,
            "NVML unavailable: the current user does not have permission to perform this operation"
        );
    }

    #[test]
    fn per_metric_errors_become_unreported_values() {
        let mut reader = Reader { index: 1, unreadable: BTreeMap::new() };
        assert_eq!(reader.read("power", Ok(350_000u32)), Ok(Some(350_000)));
        assert_eq!(reader.read::<u32>("power", Err(NvmlError::NotSupported)), Ok(None));
        assert!(reader.unreadable.is_empty(), "NotSupported is not an error");
        assert_eq!(reader.read::<u32>("temperature", Err(NvmlError::NoPermission)), Ok(None));
        assert_eq!(
            reader.unreadable.get("temperature").map(String::as_str),
            Some("the current user does not have permission to perform this operation")
        );
        let lost = reader.read::<u32>("memory", Err(NvmlError::GpuLost)).unwrap_err();
        assert_eq!(lost.kind, UnavailableKind::GpuLost);
        assert!(lost.message.starts_with("GPU lost: GPU 1 fell off the bus"));
    }

    /// On a machine without a driver NVML must fail cleanly, and keep failing the same way.
    #[test]
    fn nvml_without_driver_fails_cleanly() {
        let source = NvmlSource::default();
        match source.inventory() {
            Ok(inventory) => assert!(Version::parse(&inventory.driver_version).is_some()),
            Err(err) => {
                assert!(err.message.starts_with("NVML unavailable"), "{}", err.message);
                assert_eq!(source.inventory(), Err(err), "the failed init is kept");
            }
        }
    }

    #[test]
    #[ignore = "needs an NVIDIA GPU: RUNBOOK_TEST_GPU=1 cargo test -- --ignored real_nvml"]
    fn real_nvml_reports_gpus() {
        assert_eq!(
            std::env::var("RUNBOOK_TEST_GPU").as_deref(),
            Ok("1"),
            "set RUNBOOK_TEST_GPU=1 on a machine with an NVIDIA GPU"
        );
        let source = NvmlSource::default();
        let inventory = match source.inventory() {
            Ok(inventory) => inventory,
            Err(err) => panic!("NVML did not initialise: {err}"),
        };
        println!("{}", serde_json::to_string_pretty(&inventory).unwrap_or_else(|e| e.to_string()));
        assert!(!inventory.gpus.is_empty(), "NVML reports no GPU");
        assert!(
            Version::parse(&inventory.driver_version).is_some(),
            "driver version `{}` is not a version",
            inventory.driver_version
        );
        if let Some(cuda) = &inventory.cuda_version {
            assert!(Version::parse(cuda).is_some(), "CUDA version `{cuda}`");
        }
        for gpu in &inventory.gpus {
            assert!(!gpu.name.is_empty(), "GPU {} has no name: {:?}", gpu.index, gpu.unreadable);
            assert!(gpu.memory_total.is_some_and(|t| t > 0), "GPU {}: {gpu:?}", gpu.index);
        }
        // A second snapshot reuses the same NVML handle.
        let again = source.inventory().map(|i| i.gpus.len());
        assert_eq!(again, Ok(inventory.gpus.len()));
    }
}

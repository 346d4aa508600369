//! [`GpuSource`] over a JSON file, for tests and demos on machines without a GPU.

use super::{GpuInventory, GpuSource, GpuUnavailable, UnavailableKind};
use serde::Deserialize;
use std::path::PathBuf;

/// A GPU inventory read from a JSON file, used when `RUNBOOK_GPU_INVENTORY` names one. The file
/// is read on every snapshot, so a demo can change it between steps.
///
/// A machine with GPUs (the fields of [`GpuInventory`] and [`GpuSnapshot`](super::GpuSnapshot);
/// sizes in bytes, power in watts; a missing or `null` value is one the GPU does not report):
///
/// ```json
/// {
///   "driver_version": "575.57.08",
///   "cuda_version": "12.9",
///   "gpus": [
///     {
///       "index": 0,
///       "name": "NVIDIA GeForce RTX 4090",
///       "uuid": "GPU-5f3c2a9e-0b1d-4c7e-9a51-3e2d8f6b7c10",
///       "memory_total": 25757220864,
///       "memory_used": 24696061952,
///       "memory_free": 1061158912,
///       "utilization_percent": 98,
///       "temperature_c": 71,
///       "power_w": 350.2,
///       "compute_capability": "8.9"
///     }
///   ]
/// }
/// ```
///
/// A machine where NVML fails: `unavailable` is the reason, `kind` one of `no_driver` (the
/// default), `version_mismatch`, `gpu_lost` or `other`:
///
/// ```json
/// {"unavailable": "no NVIDIA driver", "kind": "no_driver"}
/// ```
///
/// The inventory and each GPU may also carry an `unreadable` map of field → error text (see
/// [`GpuInventory::unreadable`]) to simulate values NVML failed to read, e.g.
/// `"unreadable": {"power": "the current user does not have permission to perform this operation"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InventoryFile(pub PathBuf);

impl GpuSource for InventoryFile {
    fn inventory(&self) -> Result<GpuInventory, GpuUnavailable> {
        let bad_file =
            |problem: String| GpuUnavailable::other(&format!("GPU inventory file {}: {problem}", self.0.display()));
        let text = std::fs::read_to_string(&self.0).map_err(|e| bad_file(format!("cannot read it: {e}")))?;
        parse_inventory(&text).map_err(bad_file)?
    }
}

/// The failure-mode shape of an inventory file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnavailableFixture {
    unavailable: String,
    #[serde(default)]
    kind: Option<UnavailableKind>,
}

/// Reads an inventory file's text: `Ok(Ok(..))` a machine with GPUs, `Ok(Err(..))` a simulated
/// NVML failure, `Err(..)` text that is neither (the problem, with line and column).
pub(crate) fn parse_inventory(text: &str) -> Result<Result<GpuInventory, GpuUnavailable>, String> {
    let not_json = |e: serde_json::Error| format!("not a GPU inventory: {e}");
    // Decide the shape first, then parse the text again as that shape: serde's untagged enums
    // would report only "did not match any variant", and a typo deserves its line and column.
    let value: serde_json::Value = serde_json::from_str(text).map_err(not_json)?;
    if value.get("unavailable").is_some() {
        let fixture: UnavailableFixture = serde_json::from_str(text).map_err(not_json)?;
        let kind = fixture.kind.unwrap_or(UnavailableKind::NoDriver);
        return Ok(Err(GpuUnavailable::new(kind, &fixture.unavailable)));
    }
    serde_json::from_str(text).map(Ok).map_err(not_json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::probe::gpu::GpuSnapshot;
    use std::collections::BTreeMap;

    fn sample() -> GpuInventory {
        let mut gpu = GpuSnapshot::unknown(0);
        gpu.name = "NVIDIA GeForce RTX 4090".into();
        gpu.uuid = Some("GPU-5f3c2a9e".into());
        gpu.memory_total = Some(25_757_220_864);
        gpu.memory_used = Some(24_696_061_952);
        gpu.memory_free = Some(1_061_158_912);
        gpu.utilization_percent = Some(98);
        gpu.temperature_c = Some(71);
        gpu.power_w = Some(350.25);
        gpu.compute_capability = Some("8.9".into());
        let mut unreported = GpuSnapshot::unknown(1);
        unreported.name = "Tesla K80".into();
        unreported.unreadable.insert("power".into(), "no permission".into());
        GpuInventory {
            driver_version: "575.57.08".into(),
            cuda_version: Some("12.9".into()),
            gpus: vec![gpu, unreported],
            unreadable: BTreeMap::new(),
        }
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> InventoryFile {
        let path = dir.path().join("gpus.json");
        std::fs::write(&path, text).unwrap();
        InventoryFile(path)
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let inventory = sample();
        let file = write(&dir, &serde_json::to_string_pretty(&inventory).unwrap());
        assert_eq!(file.inventory(), Ok(inventory));
    }

    #[test]
    fn documented_example_parses() {
        let text = r#"{
          "driver_version": "575.57.08", "cuda_version": "12.9",
          "gpus": [{"index": 0, "name": "NVIDIA GeForce RTX 4090", "uuid": "GPU-5f3c2a9e",
                    "memory_total": 25757220864, "memory_used": 24696061952,
                    "memory_free": 1061158912, "utilization_percent": 98, "temperature_c": 71,
                    "power_w": 350.2, "compute_capability": "8.9"}]}"#;
        let inventory = parse_inventory(text).unwrap().unwrap();
        assert_eq!(inventory.gpus[0].compute_capability.as_deref(), Some("8.9"));
        // Only what a GPU reports needs to be there.
        let minimal = parse_inventory(r#"{"driver_version": "550.120", "gpus": [{"index": 0, "power_w": null}]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(minimal.cuda_version, None);
        assert_eq!(minimal.gpus[0], GpuSnapshot::unknown(0));
    }

    #[test]
    fn unavailable_fixture() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(&dir, r#"{"unavailable": "no NVIDIA driver"}"#);
        let err = file.inventory().unwrap_err();
        assert_eq!(err.kind, UnavailableKind::NoDriver);
        assert_eq!(err.message, "NVML unavailable: no NVIDIA driver");
        let lost = parse_inventory(r#"{"unavailable": "GPU 0 fell off the bus", "kind": "gpu_lost"}"#).unwrap();
        assert_eq!(
            lost,
            Err(GpuUnavailable { kind: UnavailableKind::GpuLost, message: "GPU lost: GPU 0 fell off the bus".into() })
        );
        let mismatch =
            parse_inventory(r#"{"unavailable": "driver/library version mismatch", "kind": "version_mismatch"}"#)
                .unwrap()
                .unwrap_err();
        assert_eq!(mismatch.kind, UnavailableKind::VersionMismatch);
        assert!(parse_inventory(r#"{"unavailable": "x", "kind": "exploded"}"#).is_err());
    }

    #[test]
    fn missing_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.json");
        let err = InventoryFile(path.clone()).inventory().unwrap_err();
        assert_eq!(err.kind, UnavailableKind::Other);
        let expected = format!("NVML unavailable: GPU inventory file {}: cannot read it: ", path.display());
        assert!(err.message.starts_with(&expected), "{}", err.message);
    }

    #[test]
    fn corrupt_file_names_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(&dir, "{\"driver_version\": \"575.57.08\",\n \"gpus\": [{\"index\": 0, \"memory_totl\": 1}]}");
        let err = file.inventory().unwrap_err();
        assert_eq!(err.kind, UnavailableKind::Other);
        assert!(err.message.contains(&file.0.display().to_string()), "{}", err.message);
        assert!(err.message.contains("unknown field `memory_totl`"), "{}", err.message);
        assert!(err.message.contains("line 2"), "{}", err.message);
        let garbage = write(&dir, "driver: 575");
        let err = garbage.inventory().unwrap_err();
        assert!(err.message.contains("not a GPU inventory"), "{}", err.message);
    }
}

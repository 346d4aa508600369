//! The `gpu` probe: NVIDIA GPUs through NVML.
//!
//! NVML sits behind [`GpuSource`], which hands out owned snapshots ([`GpuInventory`]), never
//! NVML handles: an NVML `Device` borrows the library, and the checks should not care whether
//! the facts came from a driver ([`NvmlSource`]) or from a JSON file ([`InventoryFile`], for
//! tests and demos on machines without a GPU).

mod checks;
mod inventory;
mod nvml;

pub(crate) use checks::run;
pub(crate) use inventory::InventoryFile;
pub(crate) use nvml::NvmlSource;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

/// The environment variable naming a GPU inventory file to use instead of NVML.
pub(crate) const INVENTORY_ENV: &str = "RUNBOOK_GPU_INVENTORY";

/// Where GPU facts come from: NVML on a real machine, a JSON file in tests and demos.
pub(crate) trait GpuSource: Send + Sync {
    /// A fresh snapshot of the driver and every GPU, or why there is none.
    fn inventory(&self) -> Result<GpuInventory, GpuUnavailable>;
}

/// The driver and its GPUs at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GpuInventory {
    /// The kernel driver's version, as NVIDIA writes it: `575.57.08`.
    pub driver_version: String,
    /// The newest CUDA version the driver supports: `12.8`. `None`: not reported.
    #[serde(default)]
    pub cuda_version: Option<String>,
    #[serde(default)]
    pub gpus: Vec<GpuSnapshot>,
    /// Values NVML failed to read for a reason other than "not supported", by field name
    /// (`cuda_version`), with NVML's error: shown in the output so a missing value explains itself.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unreadable: BTreeMap<String, String>,
}

/// One GPU. `None` means the GPU did not report the value: a check on it is noted, not failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GpuSnapshot {
    /// NVML's index (the order `nvidia-smi` lists GPUs in).
    pub index: u32,
    /// `NVIDIA GeForce RTX 4090`; empty when NVML could not read it.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uuid: Option<String>,
    /// Bytes.
    #[serde(default)]
    pub memory_total: Option<u64>,
    #[serde(default)]
    pub memory_used: Option<u64>,
    #[serde(default)]
    pub memory_free: Option<u64>,
    /// Percent of the last sample period a kernel was running.
    #[serde(default)]
    pub utilization_percent: Option<u32>,
    #[serde(default)]
    pub temperature_c: Option<u32>,
    #[serde(default)]
    pub power_w: Option<f64>,
    /// `8.9`; RTX 50-series (Blackwell) report `12.0`.
    #[serde(default)]
    pub compute_capability: Option<String>,
    /// Like [`GpuInventory::unreadable`], keyed `name`, `uuid`, `memory`, `utilization`,
    /// `temperature`, `power`, `compute_capability`, or `device` when the GPU could not be opened.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unreadable: BTreeMap<String, String>,
}

impl GpuSnapshot {
    /// A GPU known only by its index: every value unreported.
    pub(crate) fn unknown(index: u32) -> GpuSnapshot {
        GpuSnapshot {
            index,
            name: String::new(),
            uuid: None,
            memory_total: None,
            memory_used: None,
            memory_free: None,
            utilization_percent: None,
            temperature_c: None,
            power_w: None,
            compute_capability: None,
            unreadable: BTreeMap::new(),
        }
    }
}

/// Why there is no inventory at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum UnavailableKind {
    /// No NVML library or no kernel driver: the machine has no usable NVIDIA driver.
    NoDriver,
    /// The user-space library and the kernel module differ (after a driver upgrade).
    VersionMismatch,
    /// A GPU fell off the bus: a hardware or driver fault, always critical.
    GpuLost,
    /// Anything else (no permission, a broken inventory file, …).
    Other,
}

/// No inventory, with a message for people that starts with `NVML unavailable: ` or `GPU lost: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct GpuUnavailable {
    pub kind: UnavailableKind,
    pub message: String,
}

impl GpuUnavailable {
    /// `reason` prefixed the way every GPU failure reads, so one search finds them all.
    pub(crate) fn new(kind: UnavailableKind, reason: &str) -> GpuUnavailable {
        let prefix = match kind {
            UnavailableKind::GpuLost => "GPU lost",
            _ => "NVML unavailable",
        };
        GpuUnavailable { kind, message: format!("{prefix}: {reason}") }
    }

    pub(crate) fn no_driver(detail: &str) -> GpuUnavailable {
        GpuUnavailable::new(UnavailableKind::NoDriver, &format!("no NVIDIA driver ({detail})"))
    }

    pub(crate) fn version_mismatch() -> GpuUnavailable {
        GpuUnavailable::new(
            UnavailableKind::VersionMismatch,
            "driver/library version mismatch: reboot or reload the NVIDIA kernel modules",
        )
    }

    pub(crate) fn gpu_lost(detail: &str) -> GpuUnavailable {
        GpuUnavailable::new(
            UnavailableKind::GpuLost,
            &format!("{detail}; see `dmesg` for Xid errors: the GPU needs a reset or a reboot"),
        )
    }

    pub(crate) fn other(detail: &str) -> GpuUnavailable {
        GpuUnavailable::new(UnavailableKind::Other, detail)
    }
}

/// The source a run uses: the file named by `RUNBOOK_GPU_INVENTORY` when it is set, else NVML.
pub(crate) fn source_from_env() -> Box<dyn GpuSource> {
    source_for(std::env::var_os(INVENTORY_ENV))
}

/// An empty value counts as unset, so `RUNBOOK_GPU_INVENTORY= runbook exec …` means NVML.
fn source_for(inventory_file: Option<OsString>) -> Box<dyn GpuSource> {
    match inventory_file.filter(|path| !path.is_empty()) {
        Some(path) => Box::new(InventoryFile(PathBuf::from(path))),
        None => Box::new(NvmlSource::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_file_replaces_nvml_when_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gpus.json");
        std::fs::write(&path, r#"{"unavailable": "simulated", "kind": "other"}"#).unwrap();
        let from_file = source_for(Some(path.into_os_string())).inventory();
        assert_eq!(from_file, Err(GpuUnavailable::other("simulated")));
        // Unset or empty: NVML, which on a machine without a driver says so.
        for unset in [None, Some(OsString::new())] {
            if let Err(err) = source_for(unset).inventory() {
                println!("{err}");
                assert!(err.message.starts_with("NVML unavailable"), "{err}");
            }
        }
    }
}

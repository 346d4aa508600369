//! Numbers a probe observed (a disk's used percent, a GPU's temperature): kept in the step
//! record, and turned into gauges by `runbook watch`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// A metric name with its unit: `disk_used_percent`, `gpu_memory_used_bytes`.
    pub name: String,
    pub value: f64,
    /// What the number is of: `path`, `gpu` index, `driver_version`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Observation {
    pub fn new(name: &str, value: f64, labels: &[(&str, &str)]) -> Observation {
        Observation {
            name: name.to_string(),
            value,
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }
}

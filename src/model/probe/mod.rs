//! Built-in read-only checks a step can run instead of a shell script.
//!
//! The probes are listed once, in [`with_probes!`]; every place that needs one arm per probe
//! (the [`Probe`] enum, its kinds, the step schema's probe keys) is generated from that list.
//! Each probe's fields are declared once with [`fields::probe_fields!`].

pub(crate) mod fields;

use super::duration::Duration;
use super::matcher::Unit;
use super::matcher::{LinesMatcher, NumberMatcher, TextMatcher, ValueMatcher, VersionMatcher};
use super::template::Template;
use crate::util::names::named_enum;
use fields::{Measure, Slot, SlotMut, Slots, probe_fields};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Calls `$callback!` with every probe as `Variant "key" key Type`, in the order the docs list
/// them, after any leading arguments.
macro_rules! with_probes {
    ($callback:ident $(, $($args:tt)*)?) => {
        $callback! {
            $($($args)*)?
            Disk "disk" disk DiskProbe,
            Gpu "gpu" gpu GpuProbe,
            Http "http" http HttpProbe,
            Tcp "tcp" tcp TcpProbe,
            File "file" file FileProbe,
            Command "command" command CommandProbe,
            Process "process" process ProcessProbe
        }
    };
}

pub(crate) use with_probes;

macro_rules! define_probe_kind {
    ($($variant:ident $name:literal $key:ident $ty:ident),*) => {
        named_enum! {
            /// Which probe a step runs; the name is its key in a step (`disk:`).
            pub enum ProbeKind {
                $($variant = $name),*
            }
        }
    };
}

with_probes!(define_probe_kind);

/// Every probe name, in the order the docs list them.
pub(crate) const PROBE_NAMES: &[&str] = ProbeKind::NAMES;

fn yes() -> bool {
    true
}

/// Free space and inodes of the filesystem holding `path`, with `df` semantics.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DiskProbe {
    pub path: Template,
    pub used_percent: Option<NumberMatcher>,
    pub avail: Option<NumberMatcher>,
    pub used: Option<NumberMatcher>,
    pub size: Option<NumberMatcher>,
    pub inodes_used_percent: Option<NumberMatcher>,
    pub inodes_avail: Option<NumberMatcher>,
}

/// NVIDIA GPUs through NVML. Per-GPU fields must hold for every GPU, or for GPU `index`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GpuProbe {
    pub count: Option<NumberMatcher>,
    pub index: Option<u32>,
    pub name: Option<TextMatcher>,
    pub driver_version: Option<VersionMatcher>,
    pub cuda_version: Option<VersionMatcher>,
    pub compute_capability: Option<VersionMatcher>,
    pub memory_total: Option<NumberMatcher>,
    pub memory_free: Option<NumberMatcher>,
    pub memory_used: Option<NumberMatcher>,
    pub memory_used_percent: Option<NumberMatcher>,
    pub utilization_percent: Option<NumberMatcher>,
    pub temperature_c: Option<NumberMatcher>,
    pub power_w: Option<NumberMatcher>,
    /// `false`: no NVML means the step is skipped with the reason, not failed.
    #[serde(default = "yes")]
    pub require: bool,
}

/// An HTTP request and what its answer must look like.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    pub url: Template,
    pub method: Option<HttpMethod>,
    #[serde(default)]
    pub headers: BTreeMap<String, Template>,
    /// Default: any status below 400.
    pub status: Option<NumberMatcher>,
    pub body: Option<LinesMatcher>,
    #[serde(default)]
    pub json: BTreeMap<JsonPointer, ValueMatcher>,
    pub timeout: Option<Duration>,
}

named_enum! {
    pub enum HttpMethod {
        Get = "GET",
        Head = "HEAD",
        Post = "POST",
        Put = "PUT",
        Delete = "DELETE",
        Patch = "PATCH",
        Options = "OPTIONS",
    }
}

/// An RFC 6901 JSON pointer such as `/models/0/size_vram`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct JsonPointer(pub String);

impl<'de> Deserialize<'de> for JsonPointer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pointer = String::deserialize(deserializer)?;
        if pointer.is_empty() || pointer.starts_with('/') {
            Ok(JsonPointer(pointer))
        } else {
            Err(serde::de::Error::custom(format!(
                "bad JSON pointer `{pointer}`: it starts with `/`, like \"/models/0/size_vram\""
            )))
        }
    }
}

/// Whether `address` (`host:port`) accepts a TCP connection.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TcpProbe {
    pub address: Template,
    #[serde(default = "yes")]
    pub reachable: bool,
    pub timeout: Option<Duration>,
}

named_enum! {
    /// What a `file` probe's `type:` asks for.
    pub enum FileKind {
        File = "file",
        Dir = "dir",
        Symlink = "symlink",
        Char = "char",
        Block = "block",
        Socket = "socket",
        Fifo = "fifo",
    }
}

/// A file or device node: existence, type, access and content.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileProbe {
    pub path: Template,
    #[serde(default = "yes")]
    pub exists: bool,
    #[serde(rename = "type")]
    pub kind: Option<FileKind>,
    pub readable: Option<bool>,
    pub writable: Option<bool>,
    pub contains: Option<LinesMatcher>,
    pub size: Option<NumberMatcher>,
}

/// A program on `PATH`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommandProbe {
    pub name: Template,
    #[serde(default = "yes")]
    pub found: bool,
}

/// A running process, by executable name.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessProbe {
    pub name: Template,
    #[serde(default = "yes")]
    pub running: bool,
    pub count: Option<NumberMatcher>,
}

macro_rules! define_probe {
    ($($variant:ident $name:literal $key:ident $ty:ident),*) => {
        /// One probe. Variants differ in size; steps hold it boxed, so the spread costs nothing.
        #[derive(Debug, Clone)]
        #[allow(clippy::large_enum_variant)]
        pub enum Probe {
            $($variant($ty)),*
        }

        impl Probe {
            pub fn kind(&self) -> ProbeKind {
                match self {
                    $(Probe::$variant(_) => ProbeKind::$variant),*
                }
            }
        }

        impl Slots for Probe {
            fn slots<'a>(&'a self, out: &mut Vec<Slot<'a>>) {
                match self {
                    $(Probe::$variant(p) => p.slots(out)),*
                }
            }
            fn slots_mut<'a>(&'a mut self, out: &mut Vec<SlotMut<'a>>) {
                match self {
                    $(Probe::$variant(p) => p.slots_mut(out)),*
                }
            }
        }
    };
}

with_probes!(define_probe);

probe_fields! {
    DiskProbe,
    /// The matchers of a `disk` probe.
    DiskField;
    slots: [path];
    measures: [
        UsedPercent: used_percent, "used", Percent
            => "disk_used_percent", "Used space of the filesystem, percent (as df shows it)";
        Avail: avail, "available", Bytes => "disk_avail_bytes", "Space available to unprivileged users, bytes";
        Used: used, "used space", Bytes => "disk_used_bytes", "Used space of the filesystem, bytes";
        Size: size, "size", Bytes => "disk_size_bytes", "Size of the filesystem, bytes";
        InodesUsedPercent: inodes_used_percent, "inodes used", Percent
            => "disk_inodes_used_percent", "Used inodes of the filesystem, percent";
        InodesAvail: inodes_avail, "free inodes", Plain => "disk_inodes_free", "Inodes available to unprivileged users";
    ];
}

probe_fields! {
    GpuProbe,
    /// The matchers of a `gpu` probe: the first three are about the machine, the rest per GPU.
    GpuField;
    slots: [];
    measures: [
        Count: count, "GPU count", Plain => "gpu_devices", "NVIDIA GPUs NVML reports";
        DriverVersion: driver_version, "driver", Plain;
        CudaVersion: cuda_version, "CUDA", Plain;
        Name: name, "name", Plain;
        ComputeCapability: compute_capability, "compute capability", Plain;
        MemoryTotal: memory_total, "memory total", Bytes => "gpu_memory_total_bytes", "GPU memory in all, bytes";
        MemoryFree: memory_free, "memory free", Bytes => "gpu_memory_free_bytes", "GPU memory free, bytes";
        MemoryUsed: memory_used, "memory used", Bytes => "gpu_memory_used_bytes", "GPU memory in use, bytes";
        MemoryUsedPercent: memory_used_percent, "memory used", Percent
            => "gpu_memory_used_percent", "GPU memory in use, percent of its total";
        UtilizationPercent: utilization_percent, "utilization", Percent
            => "gpu_utilization_percent", "Percent of the last sample period a kernel ran on the GPU";
        TemperatureC: temperature_c, "temperature", Celsius
            => "gpu_temperature_celsius", "GPU temperature, degrees Celsius";
        PowerW: power_w, "power", Watts => "gpu_power_watts", "GPU power draw, watts";
    ];
}

/// The gauge of the driver and CUDA versions, as labels (its value is always 1): text fields
/// with no number of their own.
pub(crate) const GPU_DRIVER_INFO: fields::Gauge =
    fields::Gauge { name: "gpu_driver_info", help: "The NVIDIA driver and CUDA versions, as labels (always 1)" };

impl GpuField {
    /// Whether the field is about the machine (driver, CUDA, how many GPUs) rather than each GPU.
    pub fn is_system(self) -> bool {
        matches!(self, GpuField::Count | GpuField::DriverVersion | GpuField::CudaVersion)
    }
}

probe_fields! {
    HttpProbe,
    /// The matchers of an `http` probe (JSON pointers are labelled by their pointer).
    HttpField;
    slots: [url, headers, json];
    measures: [
        Status: status, "status", Plain;
        Body: body, "body", Plain;
    ];
}

probe_fields! {
    TcpProbe,
    /// A `tcp` probe has no matchers, only `reachable`.
    TcpField;
    slots: [address];
    measures: [];
}

probe_fields! {
    FileProbe,
    /// The matchers of a `file` probe.
    FileField;
    slots: [path];
    measures: [
        Contains: contains, "content", Plain;
        Size: size, "size", Bytes;
    ];
}

probe_fields! {
    CommandProbe,
    /// A `command` probe has no matchers, only `found`.
    CommandField;
    slots: [name];
    measures: [];
}

probe_fields! {
    ProcessProbe,
    /// The matchers of a `process` probe.
    ProcessField;
    slots: [name];
    measures: [
        Count: count, "count", Plain;
    ];
}

/// The expectations of some measures in words.
fn described<F>(measures: Vec<Measure<'_, F>>) -> Vec<String> {
    measures.iter().map(Measure::describe).collect()
}

impl Probe {
    /// What the probe looks at, in words: `disk at /`, `GET http://…`.
    pub fn subject(&self) -> String {
        match self {
            Probe::Disk(p) => format!("disk at {}", p.path.source),
            Probe::Gpu(p) => match p.index {
                Some(i) => format!("GPU {i} (NVML)"),
                None => "GPUs (NVML)".to_string(),
            },
            Probe::Http(p) => format!("{} {}", p.method.unwrap_or(HttpMethod::Get), p.url.source),
            Probe::Tcp(p) => format!("TCP {}", p.address.source),
            Probe::File(p) => format!("file {}", p.path.source),
            Probe::Command(p) => format!("command `{}`", p.name.source),
            Probe::Process(p) => format!("process `{}`", p.name.source),
        }
    }

    /// Each expectation in words, in the order the checks report them: `used < 90%`,
    /// `driver version >= 570`.
    pub fn expectations(&self) -> Vec<String> {
        match self {
            Probe::Disk(p) => {
                let out = described(p.measures());
                if out.is_empty() { vec!["filesystem is readable".to_string()] } else { out }
            }
            Probe::Gpu(p) => {
                let mut out = described(p.measures());
                if out.is_empty() {
                    out.push("NVML answers".to_string());
                }
                if !p.require {
                    out.push("skipped when no NVIDIA driver is present".to_string());
                }
                out
            }
            Probe::Http(p) => {
                let mut out = Vec::new();
                if p.status.is_none() {
                    out.push(format!("{} < 400", HttpField::Status.label()));
                }
                out.extend(described(p.measures()));
                out.extend(
                    p.json.iter().map(|(pointer, m)| format!("JSON {} {}", pointer.0, m.0.describe(Unit::Plain))),
                );
                out
            }
            Probe::Tcp(p) => vec![if p.reachable { "accepts connections" } else { "refuses connections" }.into()],
            Probe::File(p) => file_expectations(p),
            Probe::Command(p) => vec![if p.found { "is on PATH" } else { "is not on PATH" }.into()],
            Probe::Process(p) => {
                let mut out = vec![if p.running { "is running" } else { "is not running" }.to_string()];
                out.extend(described(p.measures()));
                out
            }
        }
    }
}

fn file_expectations(p: &FileProbe) -> Vec<String> {
    if !p.exists {
        return vec!["does not exist".to_string()];
    }
    let mut out = vec!["exists".to_string()];
    if let Some(kind) = p.kind {
        out.push(format!("is a {}", kind.word()));
    }
    for (flag, word) in [(p.readable, "readable"), (p.writable, "writable")] {
        match flag {
            Some(true) => out.push(format!("is {word}")),
            Some(false) => out.push(format!("is not {word}")),
            None => {}
        }
    }
    out.extend(described(p.measures()));
    out
}

impl FileKind {
    /// The kind in words: `character device`.
    pub fn word(self) -> &'static str {
        match self {
            FileKind::File => "regular file",
            FileKind::Dir => "directory",
            FileKind::Symlink => "symbolic link",
            FileKind::Char => "character device",
            FileKind::Block => "block device",
            FileKind::Socket => "socket",
            FileKind::Fifo => "FIFO",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gauge names follow Prometheus' conventions: the unit as the suffix, no `_count`/`_total`
    /// (reserved for histograms and counters), and none declared twice.
    #[test]
    fn gauges_are_named_after_their_unit_and_unique() {
        let disk = DiskField::ALL.iter().filter_map(|f| Some((f.gauge()?, f.unit())));
        let gpu = GpuField::ALL.iter().filter_map(|f| Some((f.gauge()?, f.unit())));
        let mut seen = std::collections::BTreeSet::new();
        for (gauge, unit) in disk.chain(gpu) {
            let suffix = match unit {
                Unit::Bytes => Some("_bytes"),
                Unit::Percent => Some("_percent"),
                Unit::Celsius => Some("_celsius"),
                Unit::Watts => Some("_watts"),
                Unit::Plain => None,
            };
            if let Some(suffix) = suffix {
                assert!(gauge.name.ends_with(suffix), "{} should end in {suffix}", gauge.name);
            }
            for reserved in ["_count", "_total", "_sum", "_bucket"] {
                assert!(!gauge.name.ends_with(reserved), "{}", gauge.name);
            }
            assert!(!gauge.help.is_empty());
            assert!(seen.insert(gauge.name), "{} declared twice", gauge.name);
        }
        assert!(!seen.contains(GPU_DRIVER_INFO.name));
        assert!(seen.contains("disk_used_percent") && seen.contains("gpu_temperature_celsius"));
    }
}

//! Built-in read-only checks a step can run instead of a shell script.

use super::duration::Duration;
use super::matcher::{LinesMatcher, NumberMatcher, TextMatcher, Unit, ValueMatcher, VersionMatcher};
use super::template::Template;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// Every probe name, in the order the docs list them.
pub const PROBE_NAMES: [&str; 7] = ["disk", "gpu", "http", "tcp", "file", "command", "process"];

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Options => "OPTIONS",
        }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    Char,
    Block,
    Socket,
    Fifo,
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

/// One probe. Variants differ in size; steps hold it boxed, so the spread costs nothing.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(clippy::large_enum_variant)]
pub enum Probe {
    Disk(DiskProbe),
    Gpu(GpuProbe),
    Http(HttpProbe),
    Tcp(TcpProbe),
    File(FileProbe),
    Command(CommandProbe),
    Process(ProcessProbe),
}

impl Probe {
    pub fn kind(&self) -> &'static str {
        match self {
            Probe::Disk(_) => "disk",
            Probe::Gpu(_) => "gpu",
            Probe::Http(_) => "http",
            Probe::Tcp(_) => "tcp",
            Probe::File(_) => "file",
            Probe::Command(_) => "command",
            Probe::Process(_) => "process",
        }
    }

    /// What the probe looks at, in words: `disk at /`, `GET http://…`.
    pub fn subject(&self) -> String {
        match self {
            Probe::Disk(p) => format!("disk at {}", p.path.source),
            Probe::Gpu(p) => match p.index {
                Some(i) => format!("GPU {i} (NVML)"),
                None => "GPUs (NVML)".to_string(),
            },
            Probe::Http(p) => format!("{} {}", p.method.unwrap_or(HttpMethod::Get).as_str(), p.url.source),
            Probe::Tcp(p) => format!("TCP {}", p.address.source),
            Probe::File(p) => format!("file {}", p.path.source),
            Probe::Command(p) => format!("command `{}`", p.name.source),
            Probe::Process(p) => format!("process `{}`", p.name.source),
        }
    }

    /// Each expectation in words: `used < 90%`, `driver version >= 570`.
    pub fn expectations(&self) -> Vec<String> {
        let mut out = Vec::new();
        fn number(out: &mut Vec<String>, label: &str, matcher: &Option<NumberMatcher>, unit: Unit) {
            if let Some(m) = matcher {
                out.push(format!("{label} {}", m.0.describe(unit)));
            }
        }
        match self {
            Probe::Disk(p) => {
                number(&mut out, "used", &p.used_percent, Unit::Percent);
                number(&mut out, "available", &p.avail, Unit::Bytes);
                number(&mut out, "used space", &p.used, Unit::Bytes);
                number(&mut out, "size", &p.size, Unit::Bytes);
                number(&mut out, "inodes used", &p.inodes_used_percent, Unit::Percent);
                number(&mut out, "free inodes", &p.inodes_avail, Unit::Plain);
                if out.is_empty() {
                    out.push("filesystem is readable".to_string());
                }
            }
            Probe::Gpu(p) => {
                number(&mut out, "GPU count", &p.count, Unit::Plain);
                number(&mut out, "memory total", &p.memory_total, Unit::Bytes);
                number(&mut out, "memory free", &p.memory_free, Unit::Bytes);
                number(&mut out, "memory used", &p.memory_used, Unit::Bytes);
                number(&mut out, "memory used", &p.memory_used_percent, Unit::Percent);
                number(&mut out, "utilization", &p.utilization_percent, Unit::Percent);
                number(&mut out, "temperature", &p.temperature_c, Unit::Celsius);
                number(&mut out, "power", &p.power_w, Unit::Watts);
                for (label, matcher) in [
                    ("driver", &p.driver_version),
                    ("CUDA", &p.cuda_version),
                    ("compute capability", &p.compute_capability),
                ] {
                    if let Some(m) = matcher {
                        out.push(format!("{label} {}", m.0.describe(Unit::Plain)));
                    }
                }
                if let Some(m) = &p.name {
                    out.push(format!("name {}", m.0.describe(Unit::Plain)));
                }
                if out.is_empty() {
                    out.push("NVML answers".to_string());
                }
                if !p.require {
                    out.push("skipped when no NVIDIA driver is present".to_string());
                }
            }
            Probe::Http(p) => {
                match &p.status {
                    Some(m) => out.push(format!("status {}", m.0.describe(Unit::Plain))),
                    None => out.push("status < 400".to_string()),
                }
                if let Some(m) = &p.body {
                    out.push(format!("body {}", m.0.describe(Unit::Plain)));
                }
                for (pointer, m) in &p.json {
                    out.push(format!("JSON {} {}", pointer.0, m.0.describe(Unit::Plain)));
                }
            }
            Probe::Tcp(p) => out.push(if p.reachable { "accepts connections" } else { "refuses connections" }.into()),
            Probe::File(p) => {
                if !p.exists {
                    out.push("does not exist".to_string());
                } else {
                    out.push("exists".to_string());
                    if let Some(kind) = p.kind {
                        out.push(format!("is a {}", file_kind_word(kind)));
                    }
                    for (flag, word) in [(p.readable, "readable"), (p.writable, "writable")] {
                        match flag {
                            Some(true) => out.push(format!("is {word}")),
                            Some(false) => out.push(format!("is not {word}")),
                            None => {}
                        }
                    }
                    if let Some(m) = &p.contains {
                        out.push(m.0.describe(Unit::Plain));
                    }
                    number(&mut out, "size", &p.size, Unit::Bytes);
                }
            }
            Probe::Command(p) => out.push(if p.found { "is on PATH" } else { "is not on PATH" }.into()),
            Probe::Process(p) => {
                out.push(if p.running { "is running" } else { "is not running" }.into());
                number(&mut out, "count", &p.count, Unit::Plain);
            }
        }
        out
    }
}

impl FileKind {
    /// The kind in words: `character device`.
    pub fn word(self) -> &'static str {
        file_kind_word(self)
    }
}

fn file_kind_word(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "regular file",
        FileKind::Dir => "directory",
        FileKind::Symlink => "symbolic link",
        FileKind::Char => "character device",
        FileKind::Block => "block device",
        FileKind::Socket => "socket",
        FileKind::Fifo => "FIFO",
    }
}

//! A deterministic synthetic knowledge base shaped like the shipped one: front matter, prose in
//! H2/H3 sections, 4–10 steps mixing scripts and probes, links to other runbooks.

use std::fmt::Write as _;
use std::path::Path;

const CATEGORIES: [&str; 6] = ["operations", "architecture", "guides", "storage", "networking", "gpu"];

const WORDS: [&str; 64] = [
    "driver",
    "kernel",
    "module",
    "cuda",
    "context",
    "device",
    "memory",
    "vram",
    "disk",
    "inode",
    "quota",
    "volume",
    "mount",
    "service",
    "daemon",
    "socket",
    "port",
    "latency",
    "throughput",
    "queue",
    "worker",
    "model",
    "inference",
    "token",
    "batch",
    "container",
    "runtime",
    "image",
    "registry",
    "cgroup",
    "seccomp",
    "profile",
    "permission",
    "group",
    "udev",
    "firmware",
    "reboot",
    "upgrade",
    "rollback",
    "snapshot",
    "backup",
    "restore",
    "journal",
    "log",
    "metric",
    "alert",
    "threshold",
    "baseline",
    "capacity",
    "temperature",
    "power",
    "fan",
    "clock",
    "bandwidth",
    "replica",
    "shard",
    "index",
    "cache",
    "eviction",
    "timeout",
    "retry",
    "health",
    "probe",
    "endpoint",
];

const TERMS: [&str; 16] = [
    "nvidia-smi",
    "CUDA_ERROR_OPERATING_SYSTEM",
    "/dev/nvidia-uvm",
    "size_vram",
    "ollama ps",
    "journalctl -u ollama",
    "nvidia-ctk",
    "df -h",
    "lsof +L1",
    "OLLAMA_MODELS",
    "modprobe",
    "dmesg",
    "cudaErrorInsufficientDriver",
    "vllm serve",
    "LOCALAI_THREADS",
    "docker info",
];

/// SplitMix64: tiny, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn range(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.below(WORDS.len())]
    }
}

pub fn id(i: usize) -> String {
    format!("synth-{i:05}")
}

pub fn category(i: usize) -> &'static str {
    CATEGORIES[i % CATEGORIES.len()]
}

/// Relative path of runbook `i` under the runbooks folder.
pub fn relative_path(i: usize) -> String {
    format!("{}/{}.md", category(i), id(i))
}

/// Section headings of runbook `i` (links point at them, so they are deterministic).
pub fn sections(i: usize) -> Vec<String> {
    let mut rng = Rng::new(i as u64 ^ 0xA5A5);
    (0..rng.range(4, 6)).map(|s| format!("Check the {} {} {s}", rng.word(), rng.word())).collect()
}

fn sentence(rng: &mut Rng) -> String {
    let mut s = String::new();
    for w in 0..rng.range(8, 18) {
        if w > 0 {
            s.push(' ');
        }
        if rng.below(12) == 0 {
            let _ = write!(s, "`{}`", TERMS[rng.below(TERMS.len())]);
        } else {
            s.push_str(rng.word());
        }
    }
    let mut chars = s.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
    format!("{first}{}.", chars.as_str())
}

fn paragraph(rng: &mut Rng) -> String {
    (0..rng.range(3, 6)).map(|_| sentence(rng)).collect::<Vec<_>>().join(" ")
}

fn step(rng: &mut Rng, n: usize, previous: Option<&str>) -> String {
    let id = format!("check_{n}");
    let mut s = format!("```yaml step\nid: {id}\nname: The {} {} is healthy\n", rng.word(), rng.word());
    match rng.below(6) {
        0 => s.push_str("disk: {path: \"{{ path }}\", used_percent: {lt: 90}, avail: {gt: 20GiB}, inodes_used_percent: {lt: 90}}\n"),
        1 => s.push_str("http: {url: \"{{ base_url }}/api/ps\", status: 200, body: [\"models\"], json: {\"/models/0/size_vram\": {gt: 0}}, timeout: 3s}\n"),
        2 => s.push_str("tcp: {address: \"127.0.0.1:11434\", timeout: 1s}\n"),
        3 => s.push_str("file: {path: /etc/docker/daemon.json, contains: [\"nvidia\"]}\n"),
        _ => {
            let _ = writeln!(
                s,
                "run: |\n  command -v {0} >/dev/null || {{ echo \"{0} is not installed\"; exit 1; }}\n  {0} --version 2>&1 | head -n 5\nexpect:\n  stdout: [\"/\\\\d+\\\\.\\\\d+/\", \"!error\"]\ncapture: {{version: '(\\d+\\.\\d+)'}}\ntimeout: 30s",
                ["nvidia-smi", "ollama", "docker", "lsof"][rng.below(4)]
            );
        }
    }
    if let Some(previous) = previous
        && rng.below(3) == 0
    {
        let _ = writeln!(s, "when: steps.{previous}.passed");
    }
    if rng.below(5) == 0 {
        s.push_str("severity: warning\n");
    }
    s.push_str("```\n");
    s
}

/// The Markdown of runbook `i` of a KB of `n`.
pub fn runbook(i: usize, n: usize) -> String {
    let mut rng = Rng::new(i as u64);
    let mut out = String::with_capacity(12 * 1024);
    let title = format!("{} {} {} troubleshooting", rng.word(), rng.word(), rng.word());
    let _ = write!(
        out,
        "---\nid: {}\ntitle: {title}\naliases: [{}-alias]\nsummary: \"{}\"\ntags: [{}, {}, {}]\nowner: team-{}\nvars:\n  path: /\n  base_url: http://127.0.0.1:11434\ndefaults: {{timeout: 60s, continue_on_error: true}}\n---\n\n# {title}\n\n{}\n\n",
        id(i),
        id(i),
        sentence(&mut rng),
        rng.word(),
        rng.word(),
        rng.word(),
        rng.below(20),
        paragraph(&mut rng),
    );
    let mut step_count = 0;
    let steps_wanted = rng.range(4, 10);
    let headings = sections(i);
    for (s, heading) in headings.iter().enumerate() {
        let _ = write!(out, "## {heading}\n\n{}\n\n", paragraph(&mut rng));
        if rng.below(3) == 0 {
            let _ = write!(out, "### Details of {}\n\n{}\n\n", rng.word(), paragraph(&mut rng));
        }
        if s == 1 {
            let a = (i + 1 + rng.below(n.max(2) - 1)) % n;
            let b = (i + 1 + rng.below(n.max(2) - 1)) % n;
            let anchor = sections(b)[0].to_lowercase().replace(' ', "-");
            let _ = write!(
                out,
                "See [{}](../{}) and [the first check there](../{}#{anchor}).\n\n| symptom | cause |\n|---|---|\n| {} | {} |\n| {} | {} |\n\n",
                id(a),
                relative_path(a),
                relative_path(b),
                rng.word(),
                rng.word(),
                rng.word(),
                rng.word(),
            );
        }
        let here = if s + 1 == headings.len() { steps_wanted.saturating_sub(step_count) } else { rng.range(1, 2) };
        for _ in 0..here.min(steps_wanted - step_count) {
            let previous = (step_count > 0).then(|| format!("check_{step_count}"));
            out.push_str(&step(&mut rng, step_count + 1, previous.as_deref()));
            out.push('\n');
            step_count += 1;
            let _ = write!(out, "{}\n\n", paragraph(&mut rng));
        }
    }
    out
}

/// Writes a KB of `n` runbooks under `root/runbooks/`.
pub fn write_kb(root: &Path, n: usize) -> std::io::Result<u64> {
    let mut bytes = 0;
    for category in CATEGORIES {
        std::fs::create_dir_all(root.join("runbooks").join(category))?;
    }
    for i in 0..n {
        let text = runbook(i, n);
        bytes += text.len() as u64;
        std::fs::write(root.join("runbooks").join(relative_path(i)), text)?;
    }
    Ok(bytes)
}

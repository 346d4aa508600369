//! The step schema: what a ```` ```yaml step ```` fence may say, and the typed step the engine runs.

use super::duration::Duration;
use super::matcher::{Deferred, LineTest, LinesMatcher, Matcher, Scalar, check_regex};
use super::probe::{CommandProbe, DiskProbe, FileProbe, GpuProbe, HttpProbe, Probe, ProcessProbe, TcpProbe};
use super::slug::is_identifier;
use super::template::{Expr, Template};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Default step timeout (DESIGN §3).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Every key a step may have, for "did you mean" hints.
pub const STEP_FIELDS: [&str; 16] = [
    "id",
    "name",
    "run",
    "shell",
    "manual",
    "expect",
    "capture",
    "assert",
    "when",
    "confirm",
    "timeout",
    "retry",
    "continue_on_error",
    "severity",
    "env",
    "cwd",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    pub attempts: u32,
    #[serde(default = "default_retry_delay")]
    pub delay: Duration,
}

fn default_retry_delay() -> Duration {
    Duration::from_secs(1)
}

/// Accepted exit codes of a `run` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitExpect {
    Codes(Vec<i32>),
    Any,
}

impl Default for ExitExpect {
    fn default() -> Self {
        ExitExpect::Codes(vec![0])
    }
}

impl ExitExpect {
    pub fn accepts(&self, code: i32) -> bool {
        match self {
            ExitExpect::Any => true,
            ExitExpect::Codes(codes) => codes.contains(&code),
        }
    }
}

impl fmt::Display for ExitExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitExpect::Any => write!(f, "any exit code"),
            ExitExpect::Codes(codes) if codes.len() == 1 => write!(f, "exit code {}", codes[0]),
            ExitExpect::Codes(codes) => {
                let codes: Vec<String> = codes.iter().map(i32::to_string).collect();
                write!(f, "exit code one of {}", codes.join(", "))
            }
        }
    }
}

impl<'de> Deserialize<'de> for ExitExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExitExpect;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an exit code, a list of exit codes, or `any`")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ExitExpect, E> {
                i32::try_from(v).map(|c| ExitExpect::Codes(vec![c])).map_err(|_| E::custom("exit code out of range"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExitExpect, E> {
                i32::try_from(v).map(|c| ExitExpect::Codes(vec![c])).map_err(|_| E::custom("exit code out of range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExitExpect, E> {
                if v == "any" {
                    Ok(ExitExpect::Any)
                } else {
                    Err(E::custom(format!(
                        "bad exit expectation `{v}`: write a code like 0, a list like [0, 1], or any"
                    )))
                }
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ExitExpect, A::Error> {
                let mut codes = Vec::new();
                while let Some(code) = seq.next_element::<i32>()? {
                    codes.push(code);
                }
                if codes.is_empty() {
                    return Err(de::Error::custom("empty matcher list: give at least one exit code"));
                }
                Ok(ExitExpect::Codes(codes))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl Serialize for ExitExpect {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What a `run` step's process must do to pass.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub exit: ExitExpect,
    pub stdout: Option<LinesMatcher>,
    pub stderr: Option<LinesMatcher>,
}

impl Expect {
    /// The exit code and output checks in words, as `show`, the site and the engine list them.
    pub fn in_words(&self) -> Vec<String> {
        let mut out = vec![self.exit.to_string()];
        if let Some(m) = &self.stdout {
            out.push(format!("stdout {}", m.0.describe(super::matcher::Unit::Plain)));
        }
        if let Some(m) = &self.stderr {
            out.push(format!("stderr {}", m.0.describe(super::matcher::Unit::Plain)));
        }
        out
    }
}

/// A name usable as a template variable (`capture:` keys, `vars:` keys).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct VarName(pub String);

impl<'de> Deserialize<'de> for VarName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if is_identifier(&name) {
            Ok(VarName(name))
        } else {
            Err(de::Error::custom(format!(
                "bad variable name `{name}`: use letters, digits and `_`, starting with a letter (templates read it as {{{{ {} }}}})",
                name.replace('-', "_")
            )))
        }
    }
}

/// An environment variable name (`env:` keys, `secrets:`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EnvName(pub String);

impl<'de> Deserialize<'de> for EnvName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if is_identifier(&name) {
            Ok(EnvName(name))
        } else {
            Err(de::Error::custom(format!("bad environment variable name `{name}`: use letters, digits and `_`")))
        }
    }
}

/// A `capture:` regex: exactly one capture group, whose match becomes the variable.
#[derive(Debug, Clone)]
pub struct CapturePattern(pub Template);

impl<'de> Deserialize<'de> for CapturePattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = String::deserialize(deserializer)?;
        let source = source.strip_prefix('/').and_then(|s| s.strip_suffix('/')).map(str::to_string).unwrap_or(source);
        if super::template::has_template_syntax(&source) {
            return Template::parse(source).map(CapturePattern).map_err(de::Error::custom);
        }
        let groups = check_regex(&source).map_err(de::Error::custom)?;
        if groups != 1 {
            return Err(de::Error::custom(format!(
                "capture regex `{source}` has {groups} capture groups; it needs exactly one, like 'driver version: (\\S+)' (use (?:…) for grouping)"
            )));
        }
        Ok(CapturePattern(Template::literal(source)))
    }
}

/// Field defaults from front matter `defaults:`; a step's own value wins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDefaults {
    pub timeout: Option<Duration>,
    pub retry: Option<Retry>,
    pub continue_on_error: Option<bool>,
    pub severity: Option<Severity>,
    pub shell: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<EnvName, Template>,
    pub cwd: Option<Template>,
}

/// A step exactly as written: every field optional, positions kept where later checks need them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub id: Option<Spanned<String>>,
    pub name: Option<Template>,
    pub run: Option<Spanned<Template>>,
    pub shell: Option<Spanned<String>>,
    pub manual: Option<Spanned<Template>>,
    pub expect: Option<Spanned<Expect>>,
    pub capture: Option<Spanned<BTreeMap<VarName, CapturePattern>>>,
    #[serde(rename = "assert")]
    pub assertions: Option<Vec<Expr>>,
    pub when: Option<Expr>,
    pub confirm: Option<Template>,
    pub timeout: Option<Duration>,
    pub retry: Option<Retry>,
    pub continue_on_error: Option<bool>,
    pub severity: Option<Severity>,
    pub env: Option<BTreeMap<EnvName, Template>>,
    pub cwd: Option<Template>,
    pub disk: Option<Spanned<DiskProbe>>,
    pub gpu: Option<Spanned<GpuProbe>>,
    pub http: Option<Spanned<HttpProbe>>,
    pub tcp: Option<Spanned<TcpProbe>>,
    pub file: Option<Spanned<FileProbe>>,
    pub command: Option<Spanned<CommandProbe>>,
    pub process: Option<Spanned<ProcessProbe>>,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    Run(RunAction),
    Probe(Box<Probe>),
    Manual(Template),
}

#[derive(Debug, Clone)]
pub struct RunAction {
    pub script: Template,
    /// The program and arguments the script is appended to; empty means the default bash.
    pub shell: Vec<String>,
    pub expect: Expect,
    /// Variable name → regex with one group (a template when it holds template syntax).
    pub captures: BTreeMap<String, Template>,
}

/// A step ready to run: defaults applied, everything validated.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub name: Template,
    /// Line of the opening fence in the `.md` file.
    pub line: usize,
    /// Anchor of the section (H1–H3) the step sits in.
    pub section: Option<String>,
    pub action: Action,
    pub assertions: Vec<Expr>,
    pub when: Option<Expr>,
    pub confirm: Option<Template>,
    pub timeout: Duration,
    pub retry: Option<Retry>,
    pub continue_on_error: bool,
    pub severity: Severity,
    pub env: BTreeMap<String, Template>,
    pub cwd: Option<Template>,
    /// For a step read from a plain shell block (DESIGN §14): the block it came from.
    pub source: Option<StepSource>,
}

/// The shell block a plain step was read from: its hash (recorded in `run.json`, so `--resume`
/// can refuse an edited block) and the output the doc shows for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSource {
    /// SHA-256 of the block's text, hex.
    pub sha256: String,
    /// The output lines the doc shows after the commands, to be shown beside the real output.
    pub expected_output: Option<String>,
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match &self.action {
            Action::Run(_) => "run",
            Action::Probe(probe) => probe.kind(),
            Action::Manual(_) => "manual",
        }
    }

    /// The step's checks in plain words, as `show`, the site and reports print them.
    pub fn expectations(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.action {
            Action::Run(run) => {
                out.extend(run.expect.in_words());
                for name in run.captures.keys() {
                    out.push(format!("captures `{name}`"));
                }
            }
            Action::Probe(probe) => {
                let subject = probe.subject();
                out.extend(probe.expectations().into_iter().map(|e| format!("{subject}: {e}")));
            }
            Action::Manual(_) => out.push("a person confirms it is done".to_string()),
        }
        out.extend(self.assertions.iter().map(|a| format!("assert {}", a.source)));
        out
    }

    /// Every name the step's templates and expressions read, with where it is read.
    pub fn references(&self) -> BTreeSet<(String, RefSite)> {
        let mut out = BTreeSet::new();
        let mut templates: Vec<&Template> = vec![&self.name];
        templates.extend(self.confirm.iter());
        templates.extend(self.cwd.iter());
        templates.extend(self.env.values());
        match &self.action {
            Action::Run(run) => {
                templates.push(&run.script);
                for m in [&run.expect.stdout, &run.expect.stderr].into_iter().flatten() {
                    matcher_templates(&m.0, &mut templates);
                }
                templates.extend(run.captures.values());
            }
            Action::Probe(probe) => probe_templates(probe, &mut templates),
            Action::Manual(text) => templates.push(text),
        }
        for t in templates {
            out.extend(t.references.iter().map(|r| (r.clone(), RefSite::Before)));
        }
        if let Some(when) = &self.when {
            out.extend(when.references.iter().map(|r| (r.clone(), RefSite::Before)));
        }
        for assertion in &self.assertions {
            out.extend(assertion.references.iter().map(|r| (r.clone(), RefSite::After)));
        }
        out
    }

    /// Names this step captures into variables.
    pub fn capture_names(&self) -> Vec<&str> {
        match &self.action {
            Action::Run(run) => run.captures.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Whether a reference is read before the step runs (`when`, `run`, …) or after (`assert`),
/// which decides whether the step's own results and captures are visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefSite {
    Before,
    After,
}

fn matcher_templates<'a>(matcher: &'a Matcher, out: &mut Vec<&'a Template>) {
    let deferred = |d: &'a Deferred<f64>, out: &mut Vec<&'a Template>| {
        if let Deferred::Template(t) = d {
            out.push(t);
        }
    };
    match matcher {
        Matcher::Equals(Scalar::Number(d)) => deferred(d, out),
        Matcher::Equals(Scalar::Text(t)) => out.push(t),
        Matcher::Equals(_) | Matcher::OneOf(_) => {}
        Matcher::Compare(terms) => terms.iter().for_each(|(_, d)| deferred(d, out)),
        Matcher::Version(Deferred::Template(t)) => out.push(t),
        Matcher::Version(_) => {}
        Matcher::Lines(patterns) => {
            for p in patterns {
                match &p.test {
                    LineTest::Contains(t) | LineTest::Regex(t) => out.push(t),
                    _ => {}
                }
            }
        }
    }
}

fn probe_templates<'a>(probe: &'a Probe, out: &mut Vec<&'a Template>) {
    let number = |m: &'a Option<super::matcher::NumberMatcher>, out: &mut Vec<&'a Template>| {
        if let Some(m) = m {
            matcher_templates(&m.0, out);
        }
    };
    match probe {
        Probe::Disk(p) => {
            out.push(&p.path);
            for m in [&p.used_percent, &p.avail, &p.used, &p.size, &p.inodes_used_percent, &p.inodes_avail] {
                number(m, out);
            }
        }
        Probe::Gpu(p) => {
            for m in [
                &p.count,
                &p.memory_total,
                &p.memory_free,
                &p.memory_used,
                &p.memory_used_percent,
                &p.utilization_percent,
                &p.temperature_c,
                &p.power_w,
            ] {
                number(m, out);
            }
            for m in [&p.driver_version, &p.cuda_version, &p.compute_capability].into_iter().flatten() {
                matcher_templates(&m.0, out);
            }
            if let Some(m) = &p.name {
                matcher_templates(&m.0, out);
            }
        }
        Probe::Http(p) => {
            out.push(&p.url);
            out.extend(p.headers.values());
            number(&p.status, out);
            if let Some(m) = &p.body {
                matcher_templates(&m.0, out);
            }
            for m in p.json.values() {
                matcher_templates(&m.0, out);
            }
        }
        Probe::Tcp(p) => out.push(&p.address),
        Probe::File(p) => {
            out.push(&p.path);
            if let Some(m) = &p.contains {
                matcher_templates(&m.0, out);
            }
            number(&p.size, out);
        }
        Probe::Command(p) => out.push(&p.name),
        Probe::Process(p) => {
            out.push(&p.name);
            number(&p.count, out);
        }
    }
}

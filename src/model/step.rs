//! The step schema: what a ```` ```yaml step ```` fence may say, and the typed step the engine runs.

use super::duration::Duration;
use super::matcher::{Deferred, LineTest, LinesMatcher, Matcher, Scalar, check_regex};
use super::probe::fields::{Slot, Slots};
use super::probe::{
    CommandProbe, DiskProbe, FileProbe, GpuProbe, HttpProbe, Probe, ProbeKind, ProcessProbe, TcpProbe, with_probes,
};
use super::slug::is_identifier;
use super::template::{Expr, Template};
use crate::util::names::named_enum;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Default step timeout (DESIGN §3).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Every key a step may have, for "did you mean" hints.
pub(crate) const STEP_FIELDS: [&str; 17] = [
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
    "needs",
];

named_enum! {
    /// How much a failed step matters: a failed critical step fails the run (DESIGN §4).
    #[derive(Default)]
    pub enum Severity {
        #[default]
        Critical = "critical",
        Warning = "warning",
        Info = "info",
    }
}

/// What a step does, as `run.json` and the site name it: `run`, `manual`, or the probe's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepKind {
    Run,
    Manual,
    Probe(ProbeKind),
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Run => "run",
            StepKind::Manual => "manual",
            StepKind::Probe(probe) => probe.as_str(),
        }
    }

    pub fn from_name(name: &str) -> Option<StepKind> {
        match name {
            "run" => Some(StepKind::Run),
            "manual" => Some(StepKind::Manual),
            other => ProbeKind::from_name(other).map(StepKind::Probe),
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StepKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StepKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        StepKind::from_name(&name).ok_or_else(|| de::Error::custom(format!("unknown step kind `{name}`")))
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
pub(crate) struct VarName(pub String);

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
pub(crate) struct EnvName(pub String);

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
pub(crate) struct CapturePattern(pub Template);

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
pub(crate) struct StepDefaults {
    pub timeout: Option<Duration>,
    pub retry: Option<Retry>,
    pub continue_on_error: Option<bool>,
    pub severity: Option<Severity>,
    pub shell: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<EnvName, Template>,
    pub cwd: Option<Template>,
}

macro_rules! define_raw_step {
    ($($variant:ident $name:literal $key:ident $ty:ident),*) => {
        /// A step exactly as written: every field optional, positions kept where later checks
        /// need them. One optional field per probe, from [`with_probes!`].
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct RawStep {
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
            #[serde(default)]
            pub needs: super::diagnosis::OneOrMany,
            $(pub $key: Option<Spanned<$ty>>,)*
        }

        impl RawStep {
            /// Every probe key the step gives, with where its value starts in the fragment.
            pub(crate) fn probe_sites(&self) -> Vec<(ProbeKind, serde_saphyr::Location)> {
                let mut out = Vec::new();
                $(if let Some(p) = &self.$key {
                    out.push((ProbeKind::$variant, p.referenced));
                })*
                out
            }

            /// The probe the step runs, if it gives one (the first in list order).
            pub(crate) fn take_probe(&mut self) -> Option<Probe> {
                $(if let Some(p) = self.$key.take() {
                    return Some(Probe::$variant(p.value));
                })*
                None
            }
        }
    };
}

with_probes!(define_raw_step);

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
    /// Earlier steps that must have passed; otherwise this one is skipped (DESIGN §3).
    pub needs: Vec<String>,
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

/// What a step's action checks, declared or resolved, for [`Step::checks_in_words`].
pub enum ActionChecks<'a> {
    /// A script: its exit/output expectations and its captures in words.
    Run {
        expect: &'a Expect,
        captures: Vec<String>,
    },
    /// A probe; `with_subject` prefixes each measure with what the probe looks at.
    Probe {
        probe: &'a Probe,
        with_subject: bool,
    },
    Manual,
}

impl Step {
    pub fn kind(&self) -> StepKind {
        match &self.action {
            Action::Run(_) => StepKind::Run,
            Action::Probe(probe) => StepKind::Probe(probe.kind()),
            Action::Manual(_) => StepKind::Manual,
        }
    }

    /// The step's checks in plain words, as `show`, the site and reports print them.
    pub fn expectations(&self) -> Vec<String> {
        let action = match &self.action {
            Action::Run(run) => ActionChecks::Run {
                expect: &run.expect,
                captures: run.captures.keys().map(|name| format!("captures `{name}`")).collect(),
            },
            Action::Probe(probe) => ActionChecks::Probe { probe, with_subject: true },
            Action::Manual(_) => ActionChecks::Manual,
        };
        self.checks_in_words(action)
    }

    /// The one wording of a step's checks: the action's, then the assertions. `show` gives it
    /// the declared action, `--dry-run` the resolved one.
    pub fn checks_in_words(&self, action: ActionChecks<'_>) -> Vec<String> {
        let mut out = match action {
            ActionChecks::Run { expect, captures } => {
                let mut out = expect.in_words();
                out.extend(captures);
                out
            }
            ActionChecks::Probe { probe, with_subject: true } => {
                let subject = probe.subject();
                probe.expectations().into_iter().map(|e| format!("{subject}: {e}")).collect()
            }
            ActionChecks::Probe { probe, with_subject: false } => probe.expectations(),
            ActionChecks::Manual => vec!["a person confirms it is done".to_string()],
        };
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
    let mut slots = Vec::new();
    probe.slots(&mut slots);
    for slot in slots {
        match slot {
            Slot::Template(t) => out.push(t),
            Slot::Matcher(m) => matcher_templates(m, out),
        }
    }
}

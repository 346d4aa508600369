//! `run.json`: the record of one run (DESIGN §5). Written atomically after every step, so a
//! crash loses at most the step in flight.

use super::{CheckResult, Severity, StepKind};
use crate::util::names::named_enum;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped when the record changes incompatibly.
pub(crate) const SCHEMA: u32 = 1;

named_enum! {
    /// How a run ended (DESIGN §4).
    pub enum Verdict {
        /// The run is in progress — or was killed before it could say otherwise.
        Running = "running",
        Passed = "passed",
        /// Only `warning`/`info` steps failed.
        Warning = "warning",
        /// A critical step did not pass.
        Failed = "failed",
        /// Stopped by Ctrl-C or SIGTERM.
        Interrupted = "interrupted",
    }
}

/// `archive list --verdict V`: the same names as in `run.json`.
impl clap::ValueEnum for Verdict {
    fn value_variants<'a>() -> &'a [Self] {
        Verdict::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

named_enum! {
    /// How a step ended.
    pub enum Outcome {
        Passed = "passed",
        Failed = "failed",
        TimedOut = "timed_out",
        /// Could not run at all (template error, program not found).
        Error = "error",
        Skipped = "skipped",
        Interrupted = "interrupted",
    }
}

impl Outcome {
    /// Whether this outcome counts against the run (skips do not).
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::TimedOut | Outcome::Error | Outcome::Interrupted)
    }
}

/// The runbook a run executed, with the hash of the exact text that ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunbookRef {
    pub id: String,
    pub title: String,
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngineVersion {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Host {
    pub name: String,
    pub os: String,
    pub arch: String,
}

/// The options the run was started with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunOptions {
    pub yes: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// The run this one resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<String>,
    pub interactive: bool,
    /// `--diagnose`: only the steps that change nothing and need no person ran.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diagnose: bool,
    /// Run as plain shell blocks (`--plain`, DESIGN §14).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plain: bool,
    /// `--section HEADING` of a plain run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

/// Size of one output stream, with the full output in `file`; its tail is in the step record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamRecord {
    /// Total bytes the step wrote to this stream.
    pub bytes: u64,
    /// Whether the tail is shorter than the output.
    pub truncated: bool,
    /// The full output, relative to the run folder (absent with `--no-archive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// One step of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub id: String,
    pub name: String,
    /// `run`, `manual`, or the probe name.
    pub kind: StepKind,
    pub severity: Severity,
    /// The rendered script or probe (redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub outcome: Outcome,
    /// Why it was skipped, failed or errored, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    pub attempts: u32,
    pub checks: Vec<CheckResult>,
    /// Numbers a probe observed, for metrics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<super::Observation>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub captures: BTreeMap<String, String>,
    /// Who confirmed a `confirm`/`manual` step, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
    /// The last few KiB of output (redacted); the rest is in the stream's file.
    pub stdout_tail: String,
    pub stderr_tail: String,
    pub stdout: StreamRecord,
    pub stderr: StreamRecord,
    /// Carried over from the run this one resumed, not run again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
    /// For a plain step: the SHA-256 of the shell block it ran (`--resume` refuses an edited one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<String>,
    /// For a plain step: the output the doc shows, to read beside the real output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_output: Option<String>,
}

impl StepRecord {
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Passed
    }

    /// How it went, as short phrases for people: duration, exit code or signal, attempts, and
    /// whether it was carried over from a resumed run.
    pub fn run_facts(&self) -> Vec<String> {
        let mut facts = Vec::new();
        if self.duration_ms > 0 {
            facts.push(crate::util::text::duration(self.duration_ms));
        }
        if let Some(code) = self.exit_code {
            facts.push(format!("exit {code}"));
        }
        if let Some(signal) = self.signal {
            facts.push(format!("signal {signal}"));
        }
        if self.attempts > 1 {
            facts.push(format!("{} attempts", self.attempts));
        }
        if self.resumed {
            facts.push("carried over from the resumed run".into());
        }
        facts
    }

    /// The first failed check's message, or the reason.
    pub fn why(&self) -> Option<String> {
        self.checks.iter().find(|c| !c.passed).map(|c| c.message.clone()).or_else(|| self.reason.clone())
    }
}

/// A finding: a step that did not pass, with why, for summaries and cycle reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub step: String,
    pub severity: Severity,
    pub outcome: Outcome,
    pub message: String,
}

impl Finding {
    /// The finding a step that did not pass makes: why it failed, or its outcome.
    pub fn of(step: &StepRecord) -> Finding {
        Finding {
            step: step.id.clone(),
            severity: step.severity,
            outcome: step.outcome,
            message: step.why().unwrap_or_else(|| step.outcome.to_string()),
        }
    }
}

/// A diagnosis that matched after the run (DESIGN §4): the cause, what fixes it, and the failed
/// checks that point to it. A run's first diagnosis is its most likely cause.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiagnosisRecord {
    pub id: String,
    pub cause: String,
    pub severity: Severity,
    #[serde(default)]
    pub fix: Vec<FixRecord>,
    /// The failed steps its `when` reads.
    #[serde(default)]
    pub evidence: Vec<Finding>,
    /// In a fleet run's record: the hosts where it matched, folded (`gpu[03,07]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<String>,
}

/// One entry of a diagnosis' `fix`: a step of the same runbook, or another runbook.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FixRecord {
    /// A step of the runbook that ran (its repair).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// A link as written in the runbook (`cuda-wsl2.md`, `x.md#section`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The runbook the link points to, when it resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
}

impl FixRecord {
    /// The command that applies this fix, given the id of the runbook that was run.
    pub fn command(&self, runbook: &str) -> String {
        match (&self.step, &self.runbook, &self.link) {
            (Some(step), _, _) => format!("runbook exec {runbook} --from {step}"),
            (None, Some(other), _) => match &self.anchor {
                Some(anchor) => format!("runbook show {other} (section {anchor})"),
                None => format!("runbook exec {other}"),
            },
            (None, None, Some(link)) => format!("read {link}"),
            (None, None, None) => String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: u32,
    pub run_id: String,
    pub runbook: RunbookRef,
    pub engine: EngineVersion,
    pub host: Host,
    pub user: String,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    pub duration_ms: u64,
    pub options: RunOptions,
    /// What started the run when no person did (an alert, a schedule, an agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<super::Trigger>,
    /// Variables as the run saw them (secret values redacted).
    pub vars: BTreeMap<String, serde_json::Value>,
    pub verdict: Verdict,
    pub steps: Vec<StepRecord>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// A host's run within a fleet run: where it ran (DESIGN §17).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<super::Remote>,
    /// A fleet run: its hosts and how each ended (DESIGN §17).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<super::Fleet>,
    /// Every diagnosis that matched, in document order; the first is the most likely cause.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<DiagnosisRecord>,
    /// Whether the runbook declares any diagnosis: only then does "no known cause matched" mean
    /// something. Written only when false; records from before it read as true.
    #[serde(default = "declares_by_default", skip_serializing_if = "declares")]
    pub declares_diagnoses: bool,
}

fn declares_by_default() -> bool {
    true
}

fn declares(value: &bool) -> bool {
    *value
}

impl RunRecord {
    /// Counts of each outcome, in a fixed order, for summaries.
    pub fn counts(&self) -> Vec<(Outcome, usize)> {
        [Outcome::Passed, Outcome::Failed, Outcome::TimedOut, Outcome::Error, Outcome::Interrupted, Outcome::Skipped]
            .into_iter()
            .map(|o| (o, self.steps.iter().filter(|s| s.outcome == o).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

//! `runbook test` (DESIGN §13): a runbook run inside one of its scenarios, and the run compared
//! with what the scenario expects. Nothing is archived; nothing of the host is read.

use super::context::{Clock, RunContext};
use super::engine::{RunRequest, execute};
use super::plan::ExecOptions;
use super::report::{DryDiagnosis, DryStep, Reporter, StepStart};
use super::scenario_world::{BaseTools, WorldInput, build};
use super::stream::StreamKind;
use super::template::Renderer;
use crate::model::alerting::unattended_refusal;
use crate::model::plain;
use crate::model::scenario::{PlainDoc, Scenario, ScenarioFile};
use crate::model::template::Template;
use crate::model::{Body, Kb, Runbook};
use crate::record::{Host, Outcome, RunRecord, StepRecord};
use crate::util::suggest::closest;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// How one scenario went.
#[derive(Debug, Clone)]
pub(crate) struct ScenarioResult {
    pub runbook: String,
    pub name: String,
    /// What differed from the expectation, or what the run reached for outside the scenario;
    /// empty when it passed.
    pub differences: Vec<String>,
    /// The run, when it got that far.
    pub record: Option<RunRecord>,
    pub duration_ms: u64,
}

impl ScenarioResult {
    pub(crate) fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

/// One scenario to run.
pub(crate) struct ScenarioRun<'a> {
    pub kb: &'a Kb,
    pub runbook: &'a Runbook,
    /// Its steps (a document's plain steps, read with no values: they are read again with the
    /// scenario's `vars:` when `plain` is set).
    pub body: &'a Body,
    pub plain: Option<&'a PlainDoc>,
    pub file: &'a ScenarioFile,
    pub scenario: &'a Scenario,
    pub base: &'a BaseTools,
    /// An empty folder for the scenario's world (removed by the caller).
    pub dir: &'a Path,
}

pub(crate) fn run(request: &ScenarioRun) -> ScenarioResult {
    let started = Instant::now();
    let mut result = ScenarioResult {
        runbook: request.runbook.id.clone(),
        name: request.scenario.name.clone(),
        differences: Vec::new(),
        record: None,
        duration_ms: 0,
    };
    match run_inside(request) {
        Ok((record, reached)) => {
            result.differences = compare(request.scenario, &record);
            result.differences.extend(reached.into_iter().map(|r| format!("reached outside the scenario for {r}")));
            result.record = Some(record);
        }
        Err(problem) => result.differences.push(problem),
    }
    result.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    result
}

fn run_inside(request: &ScenarioRun) -> Result<(RunRecord, Vec<String>), String> {
    let ScenarioRun { kb, runbook, body, plain, file, scenario, base, dir } = *request;
    let vars = scenario_vars(scenario);
    let renderer = Renderer::new();
    let scope = render_scope(kb, runbook, &vars);
    let render = |text: &str| -> Result<String, String> {
        let template = Template::parse(text.to_string()).map_err(|e| e.to_string())?;
        renderer.render(&template, &scope).map_err(|e| format!("scenario key `{text}`: {e}"))
    };
    let world = build(&WorldInput { scenario, dir, fixtures: &file.fixtures, base, render: &render })?;
    let mut env = scenario_env(&world.bin, &world.root, &world.home);
    if let Some(functions) = &world.functions {
        // Every bash of the step reads it: direct calls of canned commands need no new process.
        env.insert("BASH_ENV".into(), functions.display().to_string());
    }
    let context = RunContext {
        env,
        user: "user".into(),
        host: Host { name: "scenario".into(), os: std::env::consts::OS.into(), arch: std::env::consts::ARCH.into() },
        clock: Clock::System,
        cwd: world.home.clone(),
        shell: vec![
            base.bash.display().to_string(),
            "--noprofile".into(),
            "--norc".into(),
            "-eo".into(),
            "pipefail".into(),
            "-c".into(),
        ],
        gpu: Arc::clone(&world.gpu),
        watchdog: None,
        remote: None,
        sandbox: Some(Arc::clone(&world.sandbox)),
        alone: false,
    };
    let answers: BTreeMap<String, bool> = scenario.answers.0.iter().map(|(k, v)| (k.value.clone(), v.0)).collect();
    let read;
    let (runbook, body) = match plain {
        Some(doc) => {
            read =
                plain_steps(&PlainRead { kb, runbook, body, doc, vars: &vars, env: &context.env, answers: &answers })?;
            (&read.0, &read.1)
        }
        None => (runbook, body),
    };
    let options = ExecOptions {
        vars,
        archive: false,
        answers: Some(answers.clone()),
        plain: plain.is_some(),
        ..ExecOptions::default()
    };
    let interrupted = AtomicBool::new(false);
    let run = RunRequest { kb, runbook, body, options: &options, context: &context, interrupted: &interrupted };
    // The world (its fixture servers included) is built outside the fence; the run inside it.
    let fenced = super::fence::run_fenced(Arc::clone(&world.sandbox), || {
        execute(&run, &mut Silent { answers, step: String::new() })
    });
    let outcome = fenced?.map_err(|invalid| match invalid.hint {
        Some(hint) => format!("the run could not start: {} ({hint})", invalid.message),
        None => format!("the run could not start: {}", invalid.message),
    })?;
    Ok((outcome.record, world.sandbox.reached()))
}

/// What a document's plain steps are read with in one scenario.
struct PlainRead<'a> {
    kb: &'a Kb,
    runbook: &'a Runbook,
    body: &'a Body,
    doc: &'a PlainDoc,
    vars: &'a [(String, String)],
    /// The scenario's environment: a `$NAME` it sets is no placeholder.
    env: &'a BTreeMap<String, String>,
    answers: &'a BTreeMap<String, bool>,
}

/// The document's plain steps with the scenario's `vars:` as the placeholders' values, as
/// `runbook exec --plain` reads them. A placeholder without a value in a step that would run
/// stops the scenario before anything runs, naming it and where the doc uses it.
fn plain_steps(read: &PlainRead) -> Result<(Runbook, Body), String> {
    let values = plain::values(&read.kb.config.vars, read.vars);
    let plan = plain::plan(&plain::Input {
        path: &read.runbook.path,
        text: &read.body.source,
        severity: read.runbook.severity,
        section: None,
        values: &values,
        env_has: &|name| read.env.contains_key(name),
        overlay: read.doc.overlay.as_ref(),
    });
    for (name, _) in read.vars {
        let known = plan.vars.iter().any(|v| &v.name == name)
            || read.runbook.vars.contains_key(name)
            || read.kb.config.vars.contains_key(name);
        if !known {
            let names: Vec<&str> = plan.vars.iter().map(|v| v.name.as_str()).collect();
            let hint = match closest(name, names.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None if names.is_empty() => format!("{} has no placeholders", read.runbook.id),
                None => format!("its placeholders: {}", names.join(", ")),
            };
            return Err(format!("vars: `{name}` is no placeholder of {} ({hint})", read.runbook.id));
        }
    }
    // A step that asks and is not answered yes is skipped: its placeholders need no value.
    let runs = |s: &&plain::PlainStep| {
        unattended_refusal(&s.step).is_none() || read.answers.get(&s.id).copied().unwrap_or(false)
    };
    let needed: BTreeSet<&str> = plan.steps.iter().filter(runs).flat_map(|s| &s.vars).map(String::as_str).collect();
    let missing: Vec<String> = plan
        .unresolved()
        .into_iter()
        .filter(|v| needed.contains(v.name.as_str()))
        .map(|v| format!("`{}` ({} at {}:{}:{})", v.name, v.placeholder, read.runbook.path, v.line, v.column))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the run could not start: no value for the placeholder{} {}: give {} in the scenario's `vars:`",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" },
        ));
    }
    Ok(plan.runbook(read.runbook, read.body))
}

/// `vars:` as `--var` values (text; other YAML values as JSON).
fn scenario_vars(scenario: &Scenario) -> Vec<(String, String)> {
    scenario
        .vars
        .iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => (k.clone(), s.clone()),
            other => (k.clone(), other.to_string()),
        })
        .collect()
}

/// What templated fixture keys (`"{{ ollama_url }}/"`) are rendered with: the runbook's
/// variables with the scenario's over them.
fn render_scope(kb: &Kb, runbook: &Runbook, vars: &[(String, String)]) -> minijinja::Value {
    let mut all: BTreeMap<String, serde_json::Value> = kb.config.vars.clone();
    all.extend(runbook.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    all.extend(vars.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))));
    minijinja::Value::from(minijinja::value::Serde(&all))
}

/// The whole environment of the scenario's steps: nothing of the host's comes through. `PATH`
/// is the scenario's commands, with links to the base tools beside them.
fn scenario_env(bin: &Path, root: &Path, home: &Path) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("PATH".to_string(), bin.display().to_string()),
        ("HOME".to_string(), home.display().to_string()),
        ("USER".to_string(), "user".to_string()),
        ("LOGNAME".to_string(), "user".to_string()),
        // UTF-8 text, everything else the C locale's. Only LC_CTYPE differs between the two, so
        // only it is set, under the name glibc finds first: each program then opens one locale
        // file instead of twenty-five (measured with `strace -e trace=%file grep`).
        ("LC_CTYPE".to_string(), "C.utf8".to_string()),
        ("TERM".to_string(), "dumb".to_string()),
        ("TMPDIR".to_string(), root.join("tmp").display().to_string()),
        ("RUNBOOK_ROOT".to_string(), root.display().to_string()),
    ])
}

/// Every way the run differs from the expectation, in words.
pub(crate) fn compare(scenario: &Scenario, record: &RunRecord) -> Vec<String> {
    let expect = &scenario.expect.value;
    let mut out = Vec::new();
    if let Some(verdict) = &expect.verdict
        && verdict.value != record.verdict.as_str()
    {
        out.push(format!("verdict: expected {}, saw {}", verdict.value, record.verdict));
    }
    if let Some(expected) = &expect.diagnosis {
        let seen = record.diagnoses.first().map(|d| d.id.as_str()).unwrap_or("none");
        if expected.value != seen {
            let also = record.diagnoses.iter().skip(1).map(|d| d.id.as_str()).collect::<Vec<_>>();
            let also = if also.is_empty() { String::new() } else { format!(" (then {})", also.join(", ")) };
            out.push(format!("diagnosis: expected {}, saw {seen}{also}", expected.value));
        }
    }
    for (id, outcome) in &expect.steps.0 {
        let Some(step) = record.steps.iter().find(|s| s.id.eq_ignore_ascii_case(&id.value)) else {
            out.push(format!("step {}: expected {}, but it is not in the run", id.value, outcome.value));
            continue;
        };
        if step.outcome.as_str() != outcome.value {
            out.push(format!("step {}: expected {}, saw {}{}", step.id, outcome.value, step.outcome, why(step)));
        }
    }
    out
}

/// Why a step ended as it did, for a mismatch message: its first failed check or its reason,
/// and a program the scenario lacks if the shell said so.
fn why(step: &StepRecord) -> String {
    let mut parts = Vec::new();
    if step.outcome != Outcome::Passed
        && let Some(why) = step.why()
    {
        parts.push(why.chars().take(160).collect::<String>());
    }
    if let Some(line) = step.stderr_tail.lines().find(|l| l.contains("command not found")) {
        parts.push(format!("stderr: {}", line.trim()));
    }
    if parts.is_empty() { String::new() } else { format!(" ({})", parts.join("; ")) }
}

/// A scenario run shows nothing while it runs (its result is printed afterwards), and a `manual`
/// step is done when the scenario answers it with yes.
struct Silent {
    answers: BTreeMap<String, bool>,
    /// The step running now, whose answer `ask` gives.
    step: String,
}

impl Reporter for Silent {
    fn run_started(&mut self, _: &RunRecord, _: usize, _: Option<&Path>) {}
    fn step_started(&mut self, _: usize, _: usize, step: &StepStart) {
        self.step = step.id.to_string();
    }
    fn output(&mut self, _: &str, _: StreamKind, _: &str) {}
    fn step_finished(&mut self, _: usize, _: usize, _: &StepRecord) {}
    fn run_finished(&mut self, _: &RunRecord, _: Option<&Path>) {}
    fn attempt(&mut self, _: &str, _: u32, _: u32) {}
    fn notice(&mut self, _: &str) {}
    fn ask(&mut self, step_id: &str, _: &str, _: &AtomicBool) -> Option<bool> {
        self.answers.get(step_id).copied()
    }
    fn dry_run_step(&mut self, _: usize, _: usize, _: &DryStep) {}
    fn dry_run_diagnosis(&mut self, _: &DryDiagnosis) {}
}

//! What a run will do before it does anything: the variables it sees, which steps run
//! (`--from`, `--only`, `--diagnose`), and for `--resume` which steps are carried over from the
//! run it continues. Every refusal here is [`Invalid`]: nothing has run yet (exit 2).

use crate::archive::store::Archives;
use crate::model::alerting::unattended_refusal;
use crate::model::slug::is_identifier;
use crate::model::{Body, Kb, Runbook};
use crate::record::{RunRecord, StepRecord, Trigger, Verdict};
use crate::util::text::did_you_mean;
use crate::util::text::plural;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What `runbook exec` was asked to do.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecOptions {
    /// `--var name=value`, in order.
    pub vars: Vec<(String, String)>,
    pub yes: bool,
    pub dry_run: bool,
    pub from: Option<String>,
    pub only: Vec<String>,
    pub resume: bool,
    /// Write an archive (false with `--no-archive`).
    pub archive: bool,
    pub archives_dir: PathBuf,
    /// `--secret NAME`: more env vars whose values are redacted.
    pub secret_names: Vec<String>,
    /// `--diagnose`: run only the steps that change nothing and need no person.
    pub diagnose: bool,
    /// `--trigger`: what started the run, recorded in `run.json`.
    pub trigger: Option<Trigger>,
    /// The steps are a plain doc's shell blocks (recorded in `run.json`).
    pub plain: bool,
    /// `--section` of a plain run.
    pub section: Option<String>,
    /// A fleet host's vars (from its inventory): they set the runbook's variables of the same
    /// name, after front matter and before `--var`; names the runbook does not declare are not
    /// its business and are left out.
    pub host_vars: BTreeMap<String, serde_json::Value>,
    /// A fleet host's run: its archive is exactly this folder (`<fleet run>/hosts/<host>`) and
    /// its run id this one, instead of a new folder under `archives_dir`.
    pub run_dir: Option<(PathBuf, String)>,
    /// `--resume` of a fleet host: the run folder to continue, instead of the latest run of the
    /// runbook under `archives_dir`.
    pub resume_from: Option<PathBuf>,
    /// In a scenario: the answers to `confirm`, by step id; unanswered steps are skipped.
    pub answers: Option<BTreeMap<String, bool>>,
}

/// Input that makes the run impossible: nothing has run (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub message: String,
    pub hint: Option<String>,
}

pub(super) fn invalid(message: impl Into<String>, hint: Option<String>) -> Invalid {
    Invalid { message: message.into(), hint }
}

/// What to do with one step.
pub(crate) enum Plan {
    Run,
    Skip(String),
    /// A step that passed in the run being resumed.
    Carry(Box<StepRecord>),
}

/// Variables: `runbook.toml`, then front matter, then a fleet host's vars, then `--var` (only
/// for declared names).
pub(crate) fn resolve_vars(
    kb: &Kb,
    rb: &Runbook,
    host_vars: &BTreeMap<String, serde_json::Value>,
    overrides: &[(String, String)],
) -> Result<BTreeMap<String, serde_json::Value>, Invalid> {
    let mut vars = kb.config.vars.clone();
    vars.extend(rb.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    for (name, value) in host_vars {
        if let Some(slot) = vars.get_mut(name) {
            *slot = value.clone();
        }
    }
    for (name, value) in overrides {
        if !is_identifier(name) {
            return Err(invalid(format!("bad variable name `{name}` in --var"), Some("write --var name=value".into())));
        }
        if !vars.contains_key(name) {
            let declared: Vec<&str> = vars.keys().map(String::as_str).collect();
            let hint = match did_you_mean(name, declared.iter().copied()) {
                Some(hint) => hint,
                None if declared.is_empty() => format!("{} declares no variables", rb.id),
                None => format!("{} declares: {}", rb.id, declared.join(", ")),
            };
            return Err(invalid(format!("unknown variable `{name}` for {}", rb.id), Some(hint)));
        }
        vars.insert(name.clone(), serde_json::Value::String(value.clone()));
    }
    // `vars: {namespace: ~}` declares a variable without a default: it must be given.
    let missing: Vec<&str> = vars.iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k.as_str()).collect();
    if !missing.is_empty() {
        let flags: Vec<String> = missing.iter().map(|n| format!("--var {n}=…")).collect();
        return Err(invalid(
            format!("{} needs {} before anything runs: {}", rb.id, plural(missing.len(), "value"), missing.join(", ")),
            Some(format!("pass {} (nothing has run)", flags.join(" "))),
        ));
    }
    Ok(vars)
}

/// Which steps run, from `--from`, `--only` and `--diagnose`.
pub(crate) fn plan(body: &Body, opts: &ExecOptions) -> Result<Vec<Plan>, Invalid> {
    if let Some(from) = &opts.from {
        known_step(body, from, "--from")?;
    }
    for only in &opts.only {
        known_step(body, only, "--only")?;
    }
    let start = opts
        .from
        .as_ref()
        .and_then(|from| body.steps.iter().position(|s| s.id.eq_ignore_ascii_case(from)))
        .unwrap_or(0);
    let plans = body
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            if i < start {
                Plan::Skip(format!("before --from {}", opts.from.as_deref().unwrap_or_default()))
            } else if !opts.only.is_empty() && !opts.only.iter().any(|o| o.eq_ignore_ascii_case(&step.id)) {
                Plan::Skip("not selected by --only".into())
            } else if let Some(why) = opts.diagnose.then(|| unattended_refusal(step)).flatten() {
                Plan::Skip(format!("not run by --diagnose: {why}"))
            } else {
                Plan::Run
            }
        })
        .collect();
    Ok(plans)
}

fn known_step(body: &Body, id: &str, flag: &str) -> Result<(), Invalid> {
    if body.step(id).is_some() {
        return Ok(());
    }
    let ids: Vec<&str> = body.steps.iter().map(|s| s.id.as_str()).collect();
    let hint = match did_you_mean(id, ids.iter().copied()) {
        Some(hint) => hint,
        None => format!("steps: {}", ids.join(", ")),
    };
    Err(invalid(format!("no step `{id}` for {flag}"), Some(hint)))
}

/// For `--resume`: the steps of the latest run that passed, carried over with their results,
/// up to the first one that did not (one entry per step of `body`), and the id of that run.
/// Refused when the runbook changed since.
pub(crate) fn carry_over(
    rb: &Runbook,
    body: &Body,
    opts: &ExecOptions,
) -> Result<(Vec<Option<StepRecord>>, String), Invalid> {
    let from_dir = match &opts.resume_from {
        Some(dir) => {
            Some(crate::archive::store::read(dir).map_err(|why| invalid(format!("cannot resume: {why}"), None))?)
        }
        None => None,
    };
    let latest = || Archives::new(&opts.archives_dir).records_of(&rb.id).next().map(|(_, record)| record);
    let previous = from_dir
        .or_else(latest)
        .ok_or_else(|| invalid(format!("nothing to resume: no earlier run of {}", rb.id), None))?;
    if matches!(previous.verdict, Verdict::Passed | Verdict::Warning) {
        return Err(invalid(
            format!("nothing to resume: the latest run of {} ({}) ended {}", rb.id, previous.run_id, previous.verdict),
            Some(format!("run it again with `runbook exec {}`", rb.id)),
        ));
    }
    refuse_edited_blocks(rb, body, &previous)?;
    if previous.runbook.sha256 != body.sha256 {
        return Err(invalid(
            format!("{} changed since run {}: resuming would mix two versions of it", rb.id, previous.run_id),
            Some(format!("start a fresh run with `runbook exec {}`", rb.id)),
        ));
    }
    let mut carrying = true;
    let carried = body
        .steps
        .iter()
        .map(|step| {
            let before = previous.steps.iter().find(|s| s.id == step.id).filter(|s| s.passed());
            carrying &= before.is_some();
            before.filter(|_| carrying).map(|record| StepRecord { resumed: true, ..record.clone() })
        })
        .collect();
    Ok((carried, previous.run_id.clone()))
}

/// A plain step records its block's hash: name the block that was edited since `previous`.
fn refuse_edited_blocks(rb: &Runbook, body: &Body, previous: &RunRecord) -> Result<(), Invalid> {
    for step in &body.steps {
        let Some(source) = &step.source else { continue };
        let before = previous.steps.iter().find(|s| s.id == step.id).and_then(|s| s.source_sha256.as_ref());
        if before.is_some_and(|old| *old != source.sha256) {
            return Err(invalid(
                format!(
                    "block `{}` (line {}) of {} changed since run {}: resuming would run an edited block",
                    step.id, step.line, rb.id, previous.run_id
                ),
                Some(format!("start a fresh run with `runbook exec {} --plain`", rb.id)),
            ));
        }
    }
    Ok(())
}

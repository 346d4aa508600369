//! `runbook probe --json`: runs one probe step where it is started — on a fleet host, by the
//! copy of the binary the run placed there — and prints its checks as JSON.
//!
//! Input (stdin) is either a probe step as YAML, as it would sit in a `yaml step` block
//! (`disk: {path: /, used_percent: {lt: 90}}`), or, from a fleet run, a JSON object naming a
//! step of a whole runbook with the values its templates read:
//! `{"runbook": "<the .md text>", "path": "ops/disk.md", "step": "root", "scope": {…}, "timeout": "30s"}`.
//! The runbook is parsed exactly as on the runbook side (same binary, same parser) and the step's
//! templates rendered over the scope it was given — the values the runbook side rendered with,
//! and only those the step reads.

use super::super::attempt::probe_with_deadline;
use super::super::probe::{ProbeOutcome, ProbeStatus, ProbeWorld, gpu};
use super::super::resolve::{ResolvedAction, resolve_step};
use super::super::template::Renderer;
use crate::model::duration::Duration;
use crate::model::parse::{ParseContext, SourceFile, parse};
use crate::model::step::{Action, Step};
use crate::model::template::Template;
use crate::record::{CheckResult, Observation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// A step of a whole runbook, to probe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProbeRequest {
    /// The runbook's text.
    pub runbook: String,
    /// Its path, for messages.
    #[serde(default)]
    pub path: String,
    /// The step's id (empty: the first step).
    #[serde(default)]
    pub step: String,
    /// Root names the step's templates read, with their values.
    #[serde(default)]
    pub scope: BTreeMap<String, serde_json::Value>,
    /// The step's timeout (its runbook's defaults applied).
    #[serde(default)]
    pub timeout: Option<Duration>,
}

/// What the probe saw and how its checks fared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProbeReport {
    /// `done`, `skipped` or `error`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub checks: Vec<CheckResult>,
    pub observed: Vec<String>,
    /// The numbers the probe saw on the host (what `runbook watch` makes gauges of).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Observation>,
}

impl ProbeReport {
    pub(crate) fn passed(&self) -> bool {
        self.status == "done" && self.checks.iter().all(|c| c.passed)
    }

    fn from_outcome(outcome: ProbeOutcome) -> ProbeReport {
        let (status, reason) = match outcome.status {
            ProbeStatus::Done => ("done", None),
            ProbeStatus::Skipped(why) => ("skipped", Some(why)),
            ProbeStatus::Error(why) => ("error", Some(why)),
        };
        ProbeReport {
            status: status.into(),
            reason,
            checks: outcome.checks,
            observed: outcome.observed,
            values: outcome.values,
        }
    }

    /// The report as the runbook side reads it back.
    pub(crate) fn outcome(self) -> ProbeOutcome {
        let status = match self.status.as_str() {
            "done" => ProbeStatus::Done,
            "skipped" => ProbeStatus::Skipped(self.reason.unwrap_or_default()),
            _ => ProbeStatus::Error(self.reason.unwrap_or_else(|| "the probe failed".into())),
        };
        ProbeOutcome { status, checks: self.checks, observed: self.observed, values: self.values }
    }
}

/// The request for probe step `step` of a runbook, with the values of the scope it reads.
pub(crate) fn request_for(
    runbook_text: &str,
    path: &str,
    step: &Step,
    scope: &minijinja::Value,
) -> Result<ProbeRequest, String> {
    let scope = referenced_scope(step, scope)?;
    Ok(ProbeRequest {
        runbook: runbook_text.to_string(),
        path: path.to_string(),
        step: step.id.clone(),
        scope,
        timeout: Some(step.timeout),
    })
}

/// From `scope`, only the values the step's templates name (`path`, `env.HOME`, `steps.driver`):
/// the rest of the runbook side's world — its environment above all — stays there.
fn referenced_scope(step: &Step, scope: &minijinja::Value) -> Result<BTreeMap<String, serde_json::Value>, String> {
    let mut out = serde_json::Map::new();
    for (reference, _) in step.references() {
        let path: Vec<&str> = reference.split('.').collect();
        let Some(value) = lookup(scope, &path) else { continue };
        let value = serde_json::to_value(&value).map_err(|e| format!("cannot send `{reference}` to the host: {e}"))?;
        insert_path(&mut out, &path, value);
    }
    Ok(out.into_iter().collect())
}

fn lookup(scope: &minijinja::Value, path: &[&str]) -> Option<minijinja::Value> {
    let mut value = scope.clone();
    for key in path {
        value = value.get_attr(key).ok().filter(|v| !v.is_undefined())?;
    }
    Some(value)
}

fn insert_path(out: &mut serde_json::Map<String, serde_json::Value>, path: &[&str], value: serde_json::Value) {
    match path {
        [] => {}
        [last] => {
            out.insert(last.to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = out.entry(first.to_string()).or_insert_with(|| serde_json::json!({}));
            if let serde_json::Value::Object(map) = entry {
                insert_path(map, rest, value);
            }
        }
    }
}

/// Reads stdin's text: a fleet request (JSON with `runbook` and `step`), else one probe step in
/// YAML. Errors are the user's input being wrong.
pub(crate) fn parse_input(text: &str) -> Result<ProbeRequest, String> {
    if text.trim_start().starts_with('{')
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
        && value.get("runbook").is_some()
    {
        return serde_json::from_value(value).map_err(|e| format!("bad probe request: {e}"));
    }
    let runbook = format!("```yaml step\n{}\n```\n", text.trim_end());
    Ok(ProbeRequest { runbook, path: "<stdin>".into(), step: String::new(), scope: BTreeMap::new(), timeout: None })
}

/// Parses the request's runbook, renders its step and runs the probe. `Err` is bad input.
pub(crate) fn run(request: &ProbeRequest, interrupted: &AtomicBool) -> Result<ProbeReport, String> {
    let step = find_step(request)?;
    let Action::Probe(_) = &step.action else {
        return Err(format!("step `{}` is not a probe step: `runbook probe` runs probes only", step.id));
    };
    let scope = minijinja::Value::from(minijinja::value::Serde(&request.scope));
    let renderer = Renderer::new();
    let resolved =
        resolve_step(&step, &|t: &Template| renderer.render(t, &scope).map(Some)).map_err(|e| e.to_string())?;
    let ResolvedAction::Probe(probe) = resolved.action else {
        return Err("the step did not resolve to a probe".into());
    };
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let cwd = match &resolved.cwd {
        Some(dir) => PathBuf::from(dir),
        None => std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?,
    };
    let world = ProbeWorld::new(cwd, &env, Arc::from(gpu::source_from_env()));
    let timeout = request.timeout.unwrap_or(step.timeout);
    let outcome = probe_with_deadline(&probe, world, timeout, interrupted)
        .unwrap_or_else(|| ProbeOutcome::error(format!("the {} probe did not answer within {timeout}", probe.kind())));
    Ok(ProbeReport::from_outcome(outcome))
}

fn find_step(request: &ProbeRequest) -> Result<Step, String> {
    let path = if request.path.is_empty() { "<stdin>".to_string() } else { request.path.clone() };
    let source = SourceFile {
        path: path.clone(),
        stem_path: "probe".into(),
        category_dir: None,
        file: None,
        bytes: request.runbook.clone().into_bytes(),
    };
    let context = ParseContext { config_vars: request.scope.keys().cloned().collect(), ..ParseContext::default() };
    let runbook = parse(source, &context);
    // Lines point into the step as typed when it came alone (behind the fence line).
    let shift = usize::from(path == "<stdin>");
    if let Some(error) = runbook.diagnostics.iter().find(|d| d.is_error()) {
        let line = error.line.saturating_sub(shift).max(1);
        let hint = error.hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default();
        return Err(format!("{path}:{line}:{}: {}{hint}", error.column, error.message));
    }
    let body = runbook.body.ok_or_else(|| format!("{path} has no steps"))?;
    let step = if request.step.is_empty() { body.steps.first() } else { body.step(&request.step) };
    step.cloned().ok_or_else(|| format!("{path} has no step `{}`", request.step))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(yaml: &str) -> Result<ProbeReport, String> {
        run(&parse_input(yaml)?, &AtomicBool::new(false))
    }

    #[test]
    fn a_probe_step_from_stdin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ready"), "ok\n").unwrap();
        let path = dir.path().join("ready").display().to_string();
        let report = probe(&format!("file: {{path: \"{path}\", contains: [ok]}}")).unwrap();
        assert!(report.passed(), "{report:?}");
        let report = probe(&format!("file: {{path: \"{path}\", contains: [nope]}}")).unwrap();
        assert!(!report.passed());
        assert!(report.checks.iter().any(|c| !c.passed && c.message.contains("nope")), "{report:?}");
    }

    #[test]
    fn bad_input_is_an_error_pointing_into_it() {
        let err = probe("disk: {path: /, used_pct: {lt: 90}}").unwrap_err();
        assert!(err.starts_with("<stdin>:1:"), "{err}");
        assert!(probe("run: echo hi").unwrap_err().contains("not a probe step"));
        assert!(parse_input("{\"runbook\": 3}").unwrap_err().starts_with("bad probe request"));
    }

    #[test]
    fn a_fleet_request_renders_with_the_scope_it_was_given() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("marker"), "").unwrap();
        let text = "---\nvars: {dir: /nowhere}\n---\n# T\n\n```yaml step\nid: look\nfile: {path: \"{{ dir }}/marker\", exists: true}\n```\n";
        let rb = parse(
            SourceFile {
                path: "t.md".into(),
                stem_path: "t".into(),
                category_dir: None,
                file: None,
                bytes: text.into(),
            },
            &ParseContext::default(),
        );
        let step = rb.body.unwrap().steps[0].clone();
        let env = BTreeMap::from([("SECRET".to_string(), "hidden".to_string())]);
        let scope = minijinja::Value::from(minijinja::value::Serde(serde_json::json!({
            "dir": dir.path().display().to_string(), "env": env, "other": 1
        })));
        let request = request_for(text, "t.md", &step, &scope).unwrap();
        assert_eq!(request.scope.keys().collect::<Vec<_>>(), ["dir"], "only what the step reads goes out");
        let wire = serde_json::to_string(&request).unwrap();
        let report = run(&parse_input(&wire).unwrap(), &AtomicBool::new(false)).unwrap();
        assert!(report.passed(), "{report:?}");
    }
}

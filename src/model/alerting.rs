//! Alerts and schedules in the front matter (DESIGN §15): which alerts a runbook answers
//! (`alerts`), whether an alert may start it (`on_alert`), what `runbook watch` checks
//! (`watch`), and how an incoming alert finds its runbook.

use super::duration::Duration;
use super::kb::{Kb, Lookup};
use super::runbook::{Body, Runbook, RunbookIdx};
use super::step::{Action, Step};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What an alert may do with a runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnAlert {
    /// Nothing: the runbook is linked from the alert, never run by it.
    #[default]
    None,
    /// Run the steps that change nothing and need no person (`runbook exec --diagnose`).
    Diagnose,
}

impl OnAlert {
    pub fn is_none(&self) -> bool {
        *self == OnAlert::None
    }
}

/// `watch: {every: 5m, steps: [..]}`: checks `runbook watch` runs on a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watch {
    /// How often the checks run.
    pub every: Duration,
    /// The steps to run; empty means every step without `confirm` or `manual`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// The longest one round may take (default: `every`, at most 5 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Failed rounds in a row before the check counts as failing (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_after: Option<u32>,
    /// Passed rounds in a row before a failing check counts as passing again (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover_after: Option<u32>,
}

/// The shortest `every` accepted: a probe every second is already a lot of work.
pub(crate) const MIN_EVERY: Duration = Duration::from_secs(1);

/// Why a step may not run unattended (`--diagnose`, alerts, `watch`), if it may not.
pub(crate) fn unattended_refusal(step: &Step) -> Option<&'static str> {
    if matches!(step.action, Action::Manual(_)) {
        Some("it needs a person")
    } else if step.confirm.is_some() {
        Some("it changes the system")
    } else {
        None
    }
}

impl Watch {
    /// The steps a round runs: those named, else every step that may run unattended.
    pub fn step_ids(&self, body: &Body) -> Vec<String> {
        if self.steps.is_empty() {
            body.steps.iter().filter(|s| unattended_refusal(s).is_none()).map(|s| s.id.clone()).collect()
        } else {
            self.steps.clone()
        }
    }

    /// Problems with the named steps, as messages: unknown ids, and steps that change the system
    /// or need a person (a schedule has nobody to ask).
    pub fn problems(&self, steps: &[Step]) -> Vec<String> {
        let mut out = Vec::new();
        if self.every < MIN_EVERY {
            out.push(format!("`watch.every` is {}; the shortest is {MIN_EVERY}", self.every));
        }
        for id in &self.steps {
            match steps.iter().find(|s| s.id.eq_ignore_ascii_case(id)) {
                None => out.push(format!("`watch.steps` names `{id}`, which is no step of this runbook")),
                Some(step) => {
                    if let Some(why) = unattended_refusal(step) {
                        out.push(format!("`watch.steps` names `{id}`, which cannot run on a schedule: {why}"));
                    }
                }
            }
        }
        if self.steps.is_empty() && steps.iter().all(|s| unattended_refusal(s).is_some()) {
            out.push("`watch` has nothing to run: every step changes the system or needs a person".into());
        }
        out
    }
}

/// How an alert found its runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MatchRule {
    /// The runbook lists the alert in its front matter `alerts`.
    Alerts,
    /// The alert's `runbook_url` annotation ends in the runbook's id or file name.
    RunbookUrl,
    /// The alert's name is the runbook's id or an alias.
    AlertName,
}

/// The runbooks an alert is for: those listing it in `alerts`, else the one its `runbook_url`
/// names, else the one its name is; `None` when nothing matches.
pub(crate) fn match_alert(
    kb: &Kb,
    alert_name: Option<&str>,
    runbook_url: Option<&str>,
) -> Option<(MatchRule, Vec<RunbookIdx>)> {
    if let Some(name) = alert_name.map(str::trim).filter(|n| !n.is_empty()) {
        let listed: Vec<RunbookIdx> = kb
            .iter()
            .filter(|(_, rb)| rb.alerts.iter().any(|a| a.eq_ignore_ascii_case(name)))
            .map(|(idx, _)| idx)
            .collect();
        if !listed.is_empty() {
            return Some((MatchRule::Alerts, listed));
        }
    }
    if let Some(stem) = runbook_url.and_then(url_basename) {
        let found = unique(kb, &stem).or_else(|| unique(kb, stem.strip_suffix(".md")?));
        if let Some(index) = found {
            return Some((MatchRule::RunbookUrl, vec![index]));
        }
    }
    let name = alert_name.map(str::trim).filter(|n| !n.is_empty())?;
    unique(kb, name).map(|index| (MatchRule::AlertName, vec![index]))
}

fn unique(kb: &Kb, name: &str) -> Option<RunbookIdx> {
    match kb.lookup(name) {
        Lookup::Found(idx) => Some(idx),
        _ => None,
    }
}

/// The last path segment of a URL, without query, fragment or a trailing slash, and without an
/// `.html` extension (a built site's page): `…/runbooks/DiskFull.md?plain=1` → `DiskFull.md`.
pub(crate) fn url_basename(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    // `scheme://host/path` → `path`.
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map(|(_, p)| p).unwrap_or(""),
        None => path,
    };
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.last() == Some(&"index.html") {
        segments.pop();
    }
    let last = segments.last()?;
    let last = last.strip_suffix(".html").unwrap_or(last);
    let decoded = percent_encoding::percent_decode_str(last).decode_utf8_lossy().into_owned();
    (!decoded.is_empty()).then_some(decoded)
}

/// The variables an alert label may fill for this runbook: declared ones (front matter or
/// `runbook.toml`) that no `run` script pastes in unquoted — a label value there would be shell
/// code. Returns the names that may be filled and, for the others, why not. For a plain doc
/// ([`Runbook::is_document`]), its placeholders: they are filled shell-quoted (DESIGN §14).
pub(crate) fn label_vars(kb: &Kb, rb: &Runbook, body: &Body) -> (BTreeSet<String>, BTreeMap<String, String>) {
    if rb.is_document() {
        return (placeholder_names(kb, rb, body), BTreeMap::new());
    }
    let declared = kb.config.vars.keys().chain(rb.vars.keys());
    let mut allowed = BTreeSet::new();
    let mut refused = BTreeMap::new();
    for name in declared {
        let unquoted = body.steps.iter().find(|step| match &step.action {
            Action::Run(run) => super::template::pastes_unquoted(&run.script.source, name),
            _ => false,
        });
        match unquoted {
            Some(step) => {
                refused.insert(
                    name.clone(),
                    format!("step `{}` pastes `{name}` into its script without `| shell_quote`", step.id),
                );
            }
            None => {
                allowed.insert(name.clone());
            }
        }
    }
    (allowed, refused)
}

/// The placeholders of a plain doc (`<namespace>`, `$NAMESPACE` never assigned) as its plain run
/// reads them: with its overlay, and the environment of this process, which the run inherits.
fn placeholder_names(kb: &Kb, rb: &Runbook, body: &Body) -> BTreeSet<String> {
    let overlay = super::plain::overlay::for_runbook(kb, rb).ok().flatten();
    let env_has = |name: &str| std::env::var_os(name).is_some();
    let plan = super::plain::plan(&super::plain::Input {
        path: &rb.path,
        text: &body.source,
        severity: rb.severity,
        section: None,
        values: &BTreeMap::new(),
        env_has: &env_has,
        overlay: overlay.as_ref(),
    });
    plan.vars.into_iter().map(|v| v.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basenames_of_runbook_urls() {
        let cases = [
            ("https://runbooks.example/runbooks/storage-crisis/", Some("storage-crisis")),
            ("https://git.example/ops/blob/main/node/DiskFull.md?plain=1#cause", Some("DiskFull.md")),
            ("https://site.example/runbooks/cuda-304/index.html", Some("cuda-304")),
            ("https://site.example/cuda-304.html", Some("cuda-304")),
            ("runbooks/disk%20full.md", Some("disk full.md")),
            ("https://site.example/", None),
            ("", None),
        ];
        for (url, want) in cases {
            assert_eq!(url_basename(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn on_alert_and_watch_read_from_yaml() {
        let on: OnAlert = serde_saphyr::from_str("diagnose").unwrap();
        assert_eq!(on, OnAlert::Diagnose);
        assert!(serde_saphyr::from_str::<OnAlert>("fix").is_err());
        let watch: Watch = serde_saphyr::from_str("{every: 5m, steps: [a], fail_after: 2}").unwrap();
        assert_eq!(watch.every, Duration::from_secs(300));
        assert_eq!(watch.fail_after, Some(2));
        assert!(serde_saphyr::from_str::<Watch>("{every: 5m, step: [a]}").is_err());
        assert!(serde_saphyr::from_str::<Watch>("{steps: [a]}").is_err());
    }
}

//! `runbook alerts`: Prometheus alerting rules for the watched checks. One rule per watched step
//! fires on `runbook_watch_check_failing` (already past the flap thresholds), labelled with the
//! runbook, the step, its severity and the variables the step reads — so the alert, sent back to
//! `runbook serve --hooks`, fills those variables — and annotated with `runbook_url`, the
//! runbook's page on the site, which the hooks match on. One more rule fires when the checks
//! stop reporting.

use super::plan::CheckPlan;
use crate::model::Kb;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
pub(crate) struct RuleFile {
    pub groups: Vec<Group>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Group {
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Rule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// The alert name of a runbook's checks: its id in CamelCase with `CheckFailing`
/// (`storage-crisis` → `StorageCrisisCheckFailing`). Not a name from `alerts`: those are other
/// tools' alerts (node_exporter's), and a rule of the same name would be confused with theirs.
pub(crate) fn alert_name(kb: &Kb, plan: &CheckPlan) -> String {
    let rb = &kb[plan.index];
    let camel: String = rb
        .id
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    let camel = if camel.starts_with(|c: char| c.is_ascii_digit()) { format!("Runbook{camel}") } else { camel };
    format!("{camel}CheckFailing")
}

/// Rules for `plans`; `base_url` is the site's root (`https://kb.example/`).
pub(crate) fn rules(kb: &Kb, plans: &[CheckPlan], base_url: &str) -> RuleFile {
    let base = base_url.trim_end_matches('/');
    let mut groups: Vec<Group> = plans.iter().map(|plan| group(kb, plan, base)).collect();
    groups.push(Group { name: "runbook-watch".into(), rules: vec![stale_rule(base)] });
    RuleFile { groups }
}

fn group(kb: &Kb, plan: &CheckPlan, base: &str) -> Group {
    let rb = &kb[plan.index];
    let body = kb.body(plan.index).ok();
    let declared: BTreeMap<&str, String> = kb
        .config
        .vars
        .iter()
        .chain(rb.vars.iter())
        .map(|(k, v)| (k.as_str(), crate::util::text::value_text(v)))
        .collect();
    let alert = alert_name(kb, plan);
    let url = format!("{base}/runbooks/{}/", rb.id);
    let rules = plan
        .steps
        .iter()
        .map(|step_id| {
            let step = body.as_ref().and_then(|b| b.step(step_id).cloned());
            let severity = step.as_ref().map(|s| s.severity).unwrap_or(rb.severity).as_str().to_string();
            let mut labels = BTreeMap::from([
                ("severity".to_string(), severity),
                ("runbook".to_string(), rb.id.clone()),
                ("step".to_string(), step_id.clone()),
            ]);
            if let Some(step) = &step {
                for (reference, _) in step.references() {
                    let root = reference.split('.').next().unwrap_or_default();
                    if let Some(value) = declared.get(root).filter(|v| !v.is_empty()) {
                        labels.entry(root.to_string()).or_insert_with(|| value.clone());
                    }
                }
            }
            if let Some(owner) = &rb.owner {
                labels.insert("team".into(), owner.clone());
            }
            let name = step.as_ref().map(|s| step_name(s, &declared)).unwrap_or_else(|| step_id.clone());
            Rule {
                alert: alert.clone(),
                expr: format!("runbook_watch_check_failing{{runbook=\"{}\",step=\"{}\"}} == 1", rb.id, step_id),
                for_: None,
                labels,
                annotations: BTreeMap::from([
                    (
                        "summary".to_string(),
                        format!("{}: check {step_id} is failing on {{{{ $labels.instance }}}}", go_literal(&rb.title)),
                    ),
                    (
                        "description".to_string(),
                        format!(
                            "{} failed {} round(s) in a row. Diagnose with: runbook exec {} --diagnose",
                            go_literal(&name),
                            plan.fail_after,
                            rb.id
                        ),
                    ),
                    ("runbook_url".to_string(), url.clone()),
                ]),
            }
        })
        .collect();
    Group { name: format!("runbook-{}", rb.id), rules }
}

/// Fires when a check has not run for three of its intervals: `runbook watch` is down or stuck.
fn stale_rule(base: &str) -> Rule {
    Rule {
        alert: "RunbookWatchStale".into(),
        expr: "time() - runbook_watch_check_last_run_timestamp_seconds > 3 * runbook_watch_check_interval_seconds"
            .into(),
        for_: Some("5m".into()),
        labels: BTreeMap::from([("severity".to_string(), "warning".to_string())]),
        annotations: BTreeMap::from([
            (
                "summary".to_string(),
                "runbook watch stopped checking {{ $labels.runbook }}/{{ $labels.step }} on {{ $labels.instance }}"
                    .to_string(),
            ),
            ("runbook_url".to_string(), format!("{base}/")),
        ]),
    }
}

/// The step's name with the runbook's variables filled in, as a run would show it.
fn step_name(step: &crate::model::Step, vars: &BTreeMap<&str, String>) -> String {
    let env = minijinja::Environment::new();
    env.render_str(&step.name.source, vars).unwrap_or_else(|_| step.id.clone())
}

/// Text that Prometheus' Go templates print as it is: `{{` and `}}` become literals.
fn go_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let pair = &rest[i..];
        if pair.starts_with("{{") || pair.starts_with("}}") {
            out.push_str(&format!("{{{{`{}`}}}}", &pair[..2]));
            rest = &pair[2..];
        } else {
            out.push_str(&pair[..1]);
            rest = &pair[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The rule file as YAML.
pub(crate) fn to_yaml(file: &RuleFile) -> Result<String, String> {
    serde_saphyr::to_string(file).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_template_delimiters_become_literals() {
        assert_eq!(go_literal("a {{ b }} c { d }"), "a {{`{{`}} b {{`}}`}} c { d }");
        assert_eq!(go_literal("plain"), "plain");
    }
}

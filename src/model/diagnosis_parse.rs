//! Reading the `yaml diagnosis` fences of a runbook (DESIGN §4): each becomes a [`Diagnosis`] or
//! an error at its place in the `.md` file; `fix` links join the runbook's links, so `check`
//! validates them like any other cross-reference.

use super::diagnosis::{Diagnosis, Fix, RawDiagnosis};
use super::diagnostic::{Diagnostic, Rule};
use super::markdown::StepFence;
use super::outline::Outline;
use super::parse::{KnownNames, item_at, locate};
use super::runbook::Link;
use super::slug::is_valid_id;
use super::yaml::{YamlPart, parse_yaml, spanned_at};
use crate::util::text::did_you_mean;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// Every diagnosis of the file that could be read, and the links their `fix` lists hold.
pub(super) fn build_all(
    outline: &Outline,
    known: &KnownNames,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Diagnosis>, Vec<Link>) {
    let mut out: Vec<Diagnosis> = Vec::new();
    let mut links = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for fence in outline.diagnosis_fences().map(StepFence::of) {
        let fence = &fence;
        if !fence.closed {
            diags.push(
                Diagnostic::error(
                    Rule::Diagnosis,
                    path,
                    fence.fence_line,
                    fence.yaml.indent + 1,
                    "unclosed `yaml diagnosis` fence",
                )
                .with_hint("close it with a ``` line"),
            );
            continue;
        }
        let raw = match parse_yaml::<RawDiagnosis>(&fence.yaml, path, YamlPart::Diagnosis) {
            Ok(raw) => raw,
            Err(diag) => {
                diags.push(diag);
                continue;
            }
        };
        let section = fence.section.map(|i| outline.headings[i].anchor.clone());
        let Some(diagnosis) = build_one(raw, fence, known, section, path, diags, &mut links) else { continue };
        match seen.get(&diagnosis.id.to_lowercase()) {
            Some(first) => diags.push(
                Diagnostic::error(
                    Rule::Diagnosis,
                    path,
                    fence.yaml.first_line,
                    fence.yaml.indent + 1,
                    format!("duplicate diagnosis id `{}`", diagnosis.id),
                )
                .with_hint(format!(
                    "the diagnosis at line {first} already uses it; diagnosis ids are unique in a runbook"
                )),
            ),
            None => {
                seen.insert(diagnosis.id.to_lowercase(), fence.fence_line);
                out.push(diagnosis);
            }
        }
    }
    (out, links)
}

fn build_one(
    raw: RawDiagnosis,
    fence: &StepFence,
    known: &KnownNames,
    section: Option<String>,
    path: &str,
    diags: &mut Vec<Diagnostic>,
    links: &mut Vec<Link>,
) -> Option<Diagnosis> {
    let frag = &fence.yaml;
    let missing = |field: &str, example: &str| {
        Diagnostic::error(
            Rule::Diagnosis,
            path,
            fence.fence_line,
            frag.indent + 1,
            format!("diagnosis has no `{field}`"),
        )
        .with_hint(format!("a diagnosis gives id, when, cause and fix, like {example}"))
    };
    let Some(id) = raw.id else {
        diags.push(missing("id", "id: no-driver"));
        return None;
    };
    if !is_valid_id(&id.value) {
        let (line, column) = spanned_at(frag, &id);
        diags.push(
            Diagnostic::error(Rule::Diagnosis, path, line, column, format!("bad diagnosis id `{}`", id.value))
                .with_hint("diagnosis ids use letters, digits, `.`, `_` and `-`, like no-driver"),
        );
        return None;
    }
    let Some(when) = raw.when else {
        diags.push(missing("when", "when: not steps.driver.passed"));
        return None;
    };
    let Some(cause) = raw.cause.filter(|c| !c.value.trim().is_empty()) else {
        diags.push(missing("cause", "cause: No NVIDIA driver is installed"));
        return None;
    };
    let mut errors = 0;
    for reference in &when.value.references {
        if let Some((message, hint, needle)) = unknown_reference(reference, known) {
            let (line, column) = locate(fence, &needle);
            diags.push(Diagnostic::error(Rule::Diagnosis, path, line, column, message).with_hint(hint));
            errors += 1;
        }
    }
    let (fix, fix_errors) = fixes(&raw.fix.0, fence, known, path, diags, links);
    errors += fix_errors;
    (errors == 0).then(|| Diagnosis {
        id: id.value,
        when: when.value,
        cause: cause.value.split_whitespace().collect::<Vec<_>>().join(" "),
        fix,
        severity: raw.severity.unwrap_or(super::step::Severity::Critical),
        line: fence.fence_line,
        section,
    })
}

/// The diagnosis' `fix` list: step ids checked against the runbook's (canonical spelling kept),
/// links collected for the link check. Returns the fixes and how many errors it reported.
fn fixes(
    items: &[Spanned<String>],
    fence: &StepFence,
    known: &KnownNames,
    path: &str,
    diags: &mut Vec<Diagnostic>,
    links: &mut Vec<Link>,
) -> (Vec<Fix>, usize) {
    let mut fix = Vec::new();
    let mut errors = 0;
    for item in items {
        let (line, column) = item_at(fence, item);
        match Fix::parse(&item.value) {
            Fix::Step(step) if !known.steps.iter().any(|s| s.eq_ignore_ascii_case(&step)) => {
                if known.complete {
                    let hint = did_you_mean(&step, known.steps.iter().copied()).unwrap_or_else(|| {
                        "`fix` lists step ids of this runbook or links to runbooks (other.md, other.md#section)"
                            .to_string()
                    });
                    diags.push(
                        Diagnostic::error(
                            Rule::Diagnosis,
                            path,
                            line,
                            column,
                            format!("unknown step `{step}` in `fix`"),
                        )
                        .with_hint(hint),
                    );
                    errors += 1;
                }
            }
            Fix::Step(step) => {
                let canonical = known.steps.iter().find(|s| s.eq_ignore_ascii_case(&step)).copied().unwrap_or(&step);
                fix.push(Fix::Step(canonical.to_string()));
            }
            Fix::Link(dest) => {
                links.push(Link {
                    dest: dest.clone(),
                    line,
                    column,
                    kind: super::runbook::LinkKind::Markdown,
                    target: None,
                    page: None,
                });
                fix.push(Fix::Link(dest));
            }
        }
    }
    (fix, errors)
}

/// Why a name a diagnosis reads is unknown, if it is: (message, hint, text to point at).
fn unknown_reference(reference: &str, known: &KnownNames) -> Option<(String, String, String)> {
    let mut parts = reference.split('.');
    let root = parts.next().unwrap_or_default();
    if root == "steps" {
        let target = parts.next()?;
        if known.steps.contains(&target) || !known.complete {
            return None;
        }
        let hint = did_you_mean(target, known.steps.iter().copied())
            .unwrap_or_else(|| format!("steps in this runbook: {}", known.steps.join(", ")));
        return Some((format!("unknown step `{target}` in `steps.{target}`"), hint, format!("steps.{target}")));
    }
    if known.is_value(root) || !known.complete {
        return None;
    }
    Some((
        format!("`{root}` is not defined"),
        "a diagnosis reads `steps.<id>.passed`, `.status`, `.exit`, `.stdout`, vars and captures".to_string(),
        root.to_string(),
    ))
}

//! `run.md`: the run for humans — summary table, findings, each step with its checks and output.

use crate::model::quantity::HumanBytes;
use crate::record::{Outcome, RunRecord, StepKind, StepRecord, Verdict};
use crate::util::text::duration;
use std::fmt::Write;

pub(crate) fn verdict_mark(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Passed => "✅",
        Verdict::Warning => "⚠️",
        Verdict::Failed => "❌",
        Verdict::Interrupted => "⛔",
        Verdict::Running => "⏳",
    }
}

pub(crate) fn outcome_mark(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "✅",
        Outcome::Failed => "❌",
        Outcome::TimedOut => "⏱️",
        Outcome::Error => "💥",
        Outcome::Skipped => "⏭",
        Outcome::Interrupted => "⛔",
    }
}

pub(crate) fn render(run: &RunRecord) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = writeln!(out, "# {} {} — {}\n", verdict_mark(run.verdict), run.runbook.title, run.verdict.as_str());
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| run | `{}` |", run.run_id);
    let _ = writeln!(
        out,
        "| runbook | `{}` — {} (sha256 `{}`) |",
        run.runbook.id,
        cell(&run.runbook.path),
        run.runbook.sha256.get(..12).unwrap_or(&run.runbook.sha256)
    );
    let _ = writeln!(out, "| started | {} |", run.started_at);
    if let Some(finished) = &run.finished_at {
        let _ = writeln!(out, "| finished | {finished} ({}) |", duration(run.duration_ms));
    }
    let _ = writeln!(out, "| host | {} ({} {}) |", cell(&run.host.name), run.host.os, run.host.arch);
    let _ = writeln!(out, "| user | {} |", cell(&run.user));
    if !run.vars.is_empty() {
        let vars: Vec<String> =
            run.vars.iter().map(|(k, v)| format!("`{k}={}`", crate::util::text::value_text(v))).collect();
        let _ = writeln!(out, "| vars | {} |", cell(&vars.join(" ")));
    }
    for (label, value) in run.trigger.iter().flat_map(|t| t.facts()) {
        let _ = writeln!(out, "| {label} | {} |", cell(&value));
    }
    if run.options.diagnose {
        let _ = writeln!(out, "| mode | diagnose: read-only steps only |");
    }
    if let Some(from) = &run.options.resumed_from {
        let _ = writeln!(out, "| resumed from | `{from}` |");
    }
    let counts: Vec<String> = run.counts().iter().map(|(o, n)| format!("{n} {}", o.as_str())).collect();
    let _ = writeln!(out, "| steps | {} |", counts.join(", "));
    if let Some(remote) = &run.remote {
        let _ = writeln!(
            out,
            "| fleet run | `{}` — this is host {} ({}) |",
            remote.fleet_run,
            cell(&remote.host),
            cell(&remote.target.describe())
        );
    }
    if let Some(fleet) = &run.fleet {
        fleet_hosts(&mut out, fleet);
    }

    let _ = writeln!(out, "\n## Summary\n\n| | step | outcome | time | why |\n|---|---|---|---|---|");
    for step in &run.steps {
        let _ = writeln!(
            out,
            "| {} | `{}` {} | {} | {} | {} |",
            outcome_mark(step.outcome),
            step.id,
            cell(&step.name),
            step.outcome.as_str(),
            duration(step.duration_ms),
            cell(&step.why().filter(|_| !step.passed()).unwrap_or_default())
        );
    }

    write_diagnoses(&mut out, run);
    if !run.findings.is_empty() {
        let _ = writeln!(out, "\n## Findings\n");
        for finding in &run.findings {
            let _ = writeln!(
                out,
                "- {} **{}** ({}): {}",
                outcome_mark(finding.outcome),
                finding.step,
                finding.severity,
                finding.message
            );
        }
    }

    let _ = writeln!(out, "\n## Steps");
    for (number, step) in run.steps.iter().enumerate() {
        write_step(&mut out, number + 1, step);
    }
    out
}

/// `## Diagnosis`: the most likely cause with its evidence and fix, then the others that matched.
fn write_diagnoses(out: &mut String, run: &RunRecord) {
    let Some((first, others)) = run.diagnoses.split_first() else {
        if !run.findings.is_empty() && run.declares_diagnoses {
            let _ = writeln!(out, "\n## Diagnosis\n\nNo known cause matched.");
        }
        return;
    };
    let on = |d: &crate::record::DiagnosisRecord| d.hosts.as_ref().map(|h| format!(" on {h}")).unwrap_or_default();
    let _ = writeln!(out, "\n## Diagnosis\n\n**{}** (`{}`, {}){}\n", first.cause, first.id, first.severity, on(first));
    for evidence in &first.evidence {
        let _ = writeln!(out, "- {} **{}**: {}", outcome_mark(evidence.outcome), evidence.step, evidence.message);
    }
    for fix in &first.fix {
        let _ = writeln!(out, "- fix: `{}`", fix.command(&run.runbook.id));
    }
    if !others.is_empty() {
        let _ = writeln!(out, "\nAlso matched:\n");
        for other in others {
            let _ = writeln!(out, "- {} (`{}`){}", other.cause, other.id, on(other));
        }
    }
}

fn write_step(out: &mut String, number: usize, step: &StepRecord) {
    let _ = writeln!(out, "\n### {number}. {} {} — {}\n", outcome_mark(step.outcome), step.id, step.name);
    let mut facts = vec![format!("{} step", step.kind), step.severity.to_string(), step.outcome.to_string()];
    facts.extend(step.run_facts());
    let _ = writeln!(out, "{}", facts.join(" · "));
    if let Some(reason) = &step.reason {
        let _ = writeln!(out, "\n{reason}");
    }
    if let Some(who) = &step.confirmed_by {
        let _ = writeln!(out, "\nConfirmed by {who}.");
    }
    if let Some(command) = &step.command {
        let _ = write!(out, "\n{}", fenced(if step.kind == StepKind::Run { "sh" } else { "text" }, command));
    }
    if !step.checks.is_empty() {
        let _ = writeln!(out, "\nChecks:\n");
        for check in &step.checks {
            let mark = if check.passed { "✅" } else { "❌" };
            let _ = writeln!(out, "- {mark} {}", check.message);
        }
    }
    for (name, value) in &step.captures {
        let _ = writeln!(out, "\nCaptured `{name}` = `{value}`");
    }
    for (label, tail, stream) in
        [("stdout", &step.stdout_tail, &step.stdout), ("stderr", &step.stderr_tail, &step.stderr)]
    {
        if tail.trim().is_empty() {
            continue;
        }
        let note = match (&stream.file, stream.truncated) {
            (Some(file), true) => {
                format!(
                    " (last {} of {}; all of it in [{file}]({file}))",
                    HumanBytes::of(tail.len() as u64),
                    HumanBytes::of(stream.bytes)
                )
            }
            (Some(file), false) => format!(" ([{file}]({file}))"),
            (None, true) => {
                format!(" (last {} of {})", HumanBytes::of(tail.len() as u64), HumanBytes::of(stream.bytes))
            }
            (None, false) => String::new(),
        };
        let _ = write!(out, "\n{label}{note}:\n\n{}", fenced("text", tail));
    }
    if let Some(expected) = step.expected_output.as_ref().filter(|_| step.outcome != Outcome::Skipped) {
        let _ = write!(out, "\nexpected (from the doc):\n\n{}", fenced("text", expected));
    }
}

/// A fenced block whose fence is longer than any backtick run inside, so output cannot end it.
/// A fleet run's hosts: the folded summary, then each host with its outcome and its run.
fn fleet_hosts(out: &mut String, fleet: &crate::record::Fleet) {
    let _ = writeln!(out, "| hosts | {} ({}) |", cell(&fleet.summary), cell(&fleet.selection));
    let _ = writeln!(out, "\n## Hosts\n\n| host | outcome | time | why | run |\n|---|---|---|---|---|");
    for host in &fleet.hosts {
        let link = if host.dir.is_empty() { String::new() } else { format!("[{0}/run.md]({0}/run.md)", host.dir) };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {link} |",
            cell(&host.name),
            host.outcome,
            duration(host.duration_ms),
            cell(host.reason.as_deref().unwrap_or_default())
        );
    }
}

pub(crate) fn fenced(info: &str, text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{info}\n{}\n{fence}\n", text.trim_end_matches('\n'))
}

/// Table cells cannot hold newlines or bare pipes.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_cannot_close_the_fence() {
        let block = fenced("text", "a\n```\nb");
        assert!(block.starts_with("````text\n"));
        assert!(block.ends_with("\n````\n"));
    }
}

//! A cycle report as Markdown: the record a person reads, links to the runs it cites.

use super::cycle::CycleReport;
use super::markdown::fenced;
use crate::util::text::{duration, plural};
use std::fmt::Write;

pub(crate) fn render(report: &CycleReport) -> String {
    let mut out = String::with_capacity(8 * 1024);
    head(&mut out, report);
    executive_summary(&mut out, report);
    blockers(&mut out, report);
    healthy(&mut out, report);
    readiness(&mut out, report);
    fleets(&mut out, report);
    changes(&mut out, report);
    metrics(&mut out, report);
    next_actions(&mut out, report);
    warnings(&mut out, report);
    out
}

/// The title, the period and the filters.
fn head(out: &mut String, report: &CycleReport) {
    let _ = writeln!(out, "# {}\n", report.title);
    let _ = writeln!(
        out,
        "Period {} → {} · written {}",
        day(&report.period.from),
        day(&report.period.to),
        report.generated_at
    );
    if !report.filters.tags.is_empty() || !report.filters.runbooks.is_empty() {
        let mut filters = Vec::new();
        if !report.filters.tags.is_empty() {
            filters.push(format!("tags {}", report.filters.tags.join(", ")));
        }
        if !report.filters.runbooks.is_empty() {
            filters.push(format!("runbooks {}", report.filters.runbooks.join(", ")));
        }
        let _ = writeln!(out, "Only {}.", filters.join("; "));
    }
}

/// Counts, pass rate, time spent and the open blockers.
fn executive_summary(out: &mut String, report: &CycleReport) {
    let s = &report.summary;
    let _ = writeln!(out, "\n## Executive summary\n");
    let _ = writeln!(
        out,
        "{} runs of {} runbooks: {} passed, {} with warnings, {} failed, {} interrupted{}{}. Pass rate {:.0}%. Time spent running: {}.",
        s.runs,
        s.runbooks,
        s.passed,
        s.warning,
        s.failed,
        s.interrupted,
        if s.unfinished > 0 { format!(", {} unfinished", s.unfinished) } else { String::new() },
        if s.unreadable > 0 { format!(", {} unreadable", s.unreadable) } else { String::new() },
        s.pass_rate * 100.0,
        duration(s.time_spent_ms),
    );
    let open: Vec<_> = report.blockers.iter().filter(|b| b.open).collect();
    if open.is_empty() {
        let _ = writeln!(out, "\nNo open blockers.");
    } else {
        let names: Vec<String> =
            open.iter().map(|b| format!("`{}` in {}", b.diagnosis.as_deref().unwrap_or(&b.step), b.runbook)).collect();
        let _ = writeln!(out, "\n**{}:** {}.", plural(open.len(), "open blocker"), names.join(", "));
    }
}

/// Every critical failure, open or resolved since, with its evidence and runs.
fn blockers(out: &mut String, report: &CycleReport) {
    let _ = writeln!(out, "\n## Critical findings and blockers\n");
    if report.blockers.is_empty() {
        let _ = writeln!(out, "No critical step failed in this period.");
    }
    for b in &report.blockers {
        let state = if b.open { "open" } else { "resolved since" };
        if let Some(id) = &b.diagnosis {
            let _ = writeln!(out, "### {} › diagnosis {} — {}\n", b.runbook, id, b.step_name);
            let on = b.hosts.as_ref().map(|h| format!(" · on {h}")).unwrap_or_default();
            let _ = writeln!(out, "{} · most likely cause in {}{on}\n", state, plural(b.occurrences, "run"));
            for f in &b.supporting {
                let _ = writeln!(out, "- ✘ `{}` ({}): {}", f.step, f.outcome.as_str(), f.message);
            }
            if !b.supporting.is_empty() {
                out.push('\n');
            }
        } else {
            let _ = writeln!(out, "### {} › {} — {}\n", b.runbook, b.step, b.step_name);
            let _ = writeln!(
                out,
                "{} · {} in {} · {}\n",
                state,
                b.outcome.as_str(),
                plural(b.occurrences, "run"),
                b.message
            );
        }
        if !b.evidence.trim().is_empty() {
            out.push_str(&fenced("text", &b.evidence));
            out.push('\n');
        }
        let runs: Vec<String> = b.runs.iter().map(|r| format!("[{}]({})", r.run_id, r.path)).collect();
        let _ = writeln!(out, "Runs: {}\n", runs.join(", "));
    }
}

/// The runbooks that passed, with their checks.
fn healthy(out: &mut String, report: &CycleReport) {
    let _ = writeln!(out, "## What is healthy\n");
    if report.healthy.is_empty() {
        let _ = writeln!(out, "Nothing passed in this period.");
    }
    for h in &report.healthy {
        let _ = writeln!(out, "- **{}** ({}), [latest run]({}):", h.runbook, h.title, h.latest_run.path);
        for check in &h.checks {
            let _ = writeln!(out, "  - {check}");
        }
    }
}

/// Readiness per runbook and per category.
fn readiness(out: &mut String, report: &CycleReport) {
    let _ = writeln!(out, "\n## Readiness\n\n| runbook | category | status | latest run |\n|---|---|---|---|");
    for r in &report.readiness.runbooks {
        let _ = writeln!(
            out,
            "| {} | {} | {} | [{}]({}) |",
            r.runbook,
            r.category,
            r.status.mark(),
            day(&r.latest_run.started_at),
            r.latest_run.path
        );
    }
    let _ = writeln!(out, "\n| category | status | ready | degraded | blocked |\n|---|---|---|---|---|");
    for c in &report.readiness.categories {
        let _ =
            writeln!(out, "| {} | {} | {} | {} | {} |", c.category, c.status.mark(), c.ready, c.degraded, c.blocked);
    }
}

/// The fleet runs, each with its hosts' outcomes folded (`gpu[01-06,08] passed · gpu07 failed: …`).
fn fleets(out: &mut String, report: &CycleReport) {
    if report.fleets.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Fleet runs\n");
    for f in &report.fleets {
        let counts: Vec<String> = f.outcomes.iter().map(|(outcome, n)| format!("{n} {outcome}")).collect();
        let _ = writeln!(
            out,
            "- {} [{}]({}) {} · {} — {}",
            f.runbook,
            f.run.run_id,
            f.run.path,
            super::markdown::verdict_mark(f.verdict),
            counts.join(", "),
            f.summary
        );
    }
}

/// The runbook files changed in the period.
fn changes(out: &mut String, report: &CycleReport) {
    let _ = writeln!(out, "\n## What changed\n");
    if report.changes.files.is_empty() {
        let _ = writeln!(out, "No runbook changed in this period ({}).", report.changes.source);
    } else {
        let _ = writeln!(
            out,
            "From {}:\n",
            if report.changes.source == super::cycle::ChangeSource::Git {
                "git history"
            } else {
                "file modification times"
            }
        );
        for c in &report.changes.files {
            let who = c.author.as_ref().map(|a| format!(" by {a}")).unwrap_or_default();
            let what = c.subject.as_ref().map(|s| format!(": {s}")).unwrap_or_default();
            let _ = writeln!(out, "- `{}` — {}{who}{what}", c.path, day(&c.when));
        }
    }
}

/// Time to first finding, mean run duration, flaky steps.
fn metrics(out: &mut String, report: &CycleReport) {
    let m = &report.metrics;
    let _ = writeln!(out, "\n## Metrics\n");
    let _ = writeln!(
        out,
        "- Time to first finding: {}",
        m.time_to_first_finding_ms.map(duration).unwrap_or_else(|| "no finding".into())
    );
    let _ =
        writeln!(out, "- Mean run duration: {}", m.mean_run_duration_ms.map(duration).unwrap_or_else(|| "—".into()));
    if m.flaky_steps.is_empty() {
        let _ = writeln!(out, "- Flaky steps: none");
    } else {
        let _ = writeln!(out, "- Flaky steps (passed and failed in this period):");
        for f in &m.flaky_steps {
            let _ = writeln!(out, "  - {} › {}: {} passed, {} failed", f.runbook, f.step, f.passed, f.failed);
        }
    }
}

/// What to do about each blocker, and how to verify it.
fn next_actions(out: &mut String, report: &CycleReport) {
    let _ = writeln!(out, "\n## Next actions\n");
    if report.next_actions.is_empty() {
        let _ = writeln!(out, "Nothing is blocked.");
    }
    for (n, a) in report.next_actions.iter().enumerate() {
        let _ = writeln!(out, "{}. Unblock `{}` in {}:", n + 1, a.blocker, a.runbook);
        for fix in &a.fix {
            let _ = writeln!(out, "   - fix: `{fix}`");
        }
        if let Some(note) = &a.note {
            let _ = writeln!(out, "   - {note}");
        }
        let _ = writeln!(out, "   - verify: `{}`", a.verify);
    }
}

/// What could not be read.
fn warnings(out: &mut String, report: &CycleReport) {
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\n## Warnings\n");
        for w in &report.warnings {
            let _ = writeln!(out, "- {w}");
        }
    }
}

/// `2026-11-26T10:00:00Z` → `2026-11-26 10:00`.
fn day(timestamp: &str) -> String {
    let short: String = timestamp.chars().take(16).collect();
    short.replace('T', " ")
}

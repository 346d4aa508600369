//! The run in the terminal: a header, each step's output as it comes, a spinner with elapsed time
//! on a TTY (plain lines otherwise), a result line per step, a summary and the archive path.

use super::{DryDiagnosis, DryStep, Reporter, StepStart};
use crate::archive::store::MARKDOWN_FILE;
use crate::exec::fleet::{FleetReporter, HostSpec};
use crate::exec::stream::StreamKind;
use crate::record::{FleetHost, HostOutcome, Outcome, RunRecord, Severity, StepKind, StepRecord, Verdict};
use crate::util::text::{duration, plural};
use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const GREEN: Style = AnsiColor::Green.on_default().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const CYAN: Style = AnsiColor::Cyan.on_default().bold();

pub(crate) struct TerminalReporter {
    color: bool,
    quiet: bool,
    /// Stdout and stdin are terminals: spinner and questions.
    interactive_output: bool,
    spinner: Option<ProgressBar>,
    out: std::io::Stdout,
}

impl TerminalReporter {
    pub(crate) fn new(color: bool, quiet: bool) -> TerminalReporter {
        TerminalReporter {
            color,
            quiet,
            interactive_output: std::io::stdout().is_terminal(),
            spinner: None,
            out: std::io::stdout(),
        }
    }

    fn paint(&self, style: Style, text: impl std::fmt::Display) -> String {
        if self.color { format!("{style}{text}{style:#}") } else { text.to_string() }
    }

    /// Prints a line, above the spinner when there is one.
    fn line(&mut self, text: &str) {
        match &self.spinner {
            Some(spinner) => spinner.println(text),
            None => {
                let _ = writeln!(self.out, "{text}");
            }
        }
    }

    fn counter(number: usize, total: usize) -> String {
        let width = total.to_string().len();
        format!("[{number:>width$}/{total}]")
    }

    fn mark(&self, step: &StepRecord) -> String {
        match step.outcome {
            Outcome::Passed => self.paint(GREEN, "✔"),
            Outcome::Skipped => self.paint(DIM, "⏭"),
            outcome if outcome.is_failure() && step.severity != Severity::Critical => self.paint(YELLOW, "✘"),
            _ => self.paint(RED, "✘"),
        }
    }

    fn verdict_line(&self, run: &RunRecord) -> String {
        let (style, mark) = match run.verdict {
            Verdict::Passed => (GREEN, "✔ passed"),
            Verdict::Warning => (YELLOW, "⚠ warning"),
            Verdict::Failed => (RED, "✘ failed"),
            Verdict::Interrupted => (RED, "⛔ interrupted"),
            Verdict::Running => (DIM, "… running"),
        };
        let counts: Vec<String> = run.counts().iter().map(|(o, n)| format!("{n} {}", o.as_str())).collect();
        format!("{} · {} · {}", self.paint(style, mark), counts.join(" · "), duration(run.duration_ms))
    }
}

impl TerminalReporter {
    /// The most likely cause first, then any other that matched; or that none did.
    fn diagnoses(&mut self, run: &RunRecord) {
        let Some((first, others)) = run.diagnoses.split_first() else {
            if !run.findings.is_empty() && run.declares_diagnoses {
                self.line(&format!("\n{} {}", self.paint(BOLD, "Diagnosis:"), "no known cause matched"));
            }
            return;
        };
        let style = if first.severity == Severity::Critical { RED } else { YELLOW };
        self.line(&format!(
            "\n{} {} {}",
            self.paint(BOLD, "Diagnosis:"),
            self.paint(style, &first.cause),
            self.paint(DIM, format!("({})", first.id))
        ));
        for evidence in &first.evidence {
            self.line(&format!("  {} {}: {}", self.paint(style, "✘"), evidence.step, evidence.message));
        }
        for fix in &first.fix {
            self.line(&format!("  {} {}", self.paint(CYAN, "fix:"), fix.command(&run.runbook.id)));
        }
        if !others.is_empty() {
            self.line(&self.paint(BOLD, "Also matched:").to_string());
            for other in others {
                self.line(&format!("  • {} {}", other.cause, self.paint(DIM, format!("({})", other.id))));
            }
        }
    }
}

impl Reporter for TerminalReporter {
    fn run_started(&mut self, run: &RunRecord, total: usize, archive: Option<&Path>) {
        if self.quiet {
            return;
        }
        let title = self.paint(BOLD, &run.runbook.title);
        self.line(&format!("{} {title} {}", self.paint(CYAN, "▶"), self.paint(DIM, format!("({})", run.runbook.id))));
        let mut facts = vec![plural(total, "step")];
        facts.extend(run.vars.iter().map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        }));
        if let Some(dir) = archive {
            facts.push(format!("archive {}", dir.display()));
        }
        self.line(&format!("  {}", self.paint(DIM, facts.join(" · "))));
    }

    fn step_started(&mut self, number: usize, total: usize, step: &StepStart) {
        let label = format!(
            "{} {} {}",
            Self::counter(number, total),
            self.paint(BOLD, step.id),
            self.paint(DIM, format!("— {}", step.name))
        );
        if self.interactive_output {
            let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
            let style = ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            spinner.set_style(style);
            spinner.set_message(label);
            spinner.enable_steady_tick(Duration::from_millis(100));
            self.spinner = Some(spinner);
        } else if !self.quiet {
            self.line(&format!("{} {label}", self.paint(CYAN, "•")));
        }
    }

    fn output(&mut self, _step_id: &str, stream: StreamKind, line: &str) {
        if self.quiet {
            return;
        }
        let bar = match stream {
            StreamKind::Stdout => self.paint(DIM, "│"),
            StreamKind::Stderr => self.paint(YELLOW, "│"),
        };
        self.line(&format!("      {bar} {line}"));
    }

    fn step_finished(&mut self, number: usize, total: usize, step: &StepRecord) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
        let time = if step.outcome == Outcome::Skipped {
            String::new()
        } else {
            format!(" {}", self.paint(DIM, duration(step.duration_ms)))
        };
        let mut line = format!(
            "{} {} {} {}{time}",
            self.mark(step),
            Self::counter(number, total),
            self.paint(BOLD, &step.id),
            self.paint(DIM, format!("— {}", step.name))
        );
        match step.outcome {
            Outcome::Passed => {}
            Outcome::Skipped => {
                if let Some(reason) = &step.reason {
                    line.push_str(&format!(" {}", self.paint(DIM, format!("— {reason}"))));
                }
            }
            _ => {
                // Every failed check, so one look shows all that is wrong.
                const SHOWN: usize = 5;
                let failed: Vec<&str> = step.checks.iter().filter(|c| !c.passed).map(|c| c.message.as_str()).collect();
                let mut reasons: Vec<String> = failed.iter().take(SHOWN).map(|m| m.to_string()).collect();
                if failed.len() > SHOWN {
                    reasons.push(format!("… and {} more failed checks", failed.len() - SHOWN));
                }
                if reasons.is_empty() {
                    reasons.push(step.reason.clone().unwrap_or_else(|| step.outcome.as_str().to_string()));
                }
                for reason in reasons {
                    line.push_str(&format!("\n      {}", self.paint(RED, reason)));
                }
            }
        }
        // A plain step: the output its doc shows, to compare with what was just printed.
        if let Some(expected) =
            step.expected_output.as_ref().filter(|_| step.outcome != Outcome::Skipped && !self.quiet)
        {
            const SHOWN: usize = 10;
            line.push_str(&format!("\n      {}", self.paint(DIM, "expected (from the doc):")));
            for text in expected.lines().take(SHOWN) {
                line.push_str(&format!("\n      {}", self.paint(DIM, format!("│ {text}"))));
            }
            let more = expected.lines().count().saturating_sub(SHOWN);
            if more > 0 {
                line.push_str(&format!("\n      {}", self.paint(DIM, format!("│ … {more} more lines"))));
            }
        }
        self.line(&line);
    }

    fn run_finished(&mut self, run: &RunRecord, archive: Option<&Path>) {
        if let Some(spinner) = self.spinner.take() {
            spinner.finish_and_clear();
        }
        if !self.quiet && !run.steps.is_empty() {
            self.line("");
            let width = run.steps.iter().map(|s| s.id.chars().count()).max().unwrap_or(0).min(32);
            for step in &run.steps {
                let why = if step.passed() { String::new() } else { step.why().unwrap_or_default() };
                let why: String = why.chars().take(100).collect();
                let id = format!("{:<width$}", step.id);
                let line = format!(
                    "  {} {} {:<11} {:>8}  {}",
                    self.mark(step),
                    id,
                    step.outcome.as_str(),
                    if step.outcome == Outcome::Skipped { String::new() } else { duration(step.duration_ms) },
                    self.paint(DIM, why)
                );
                self.line(&line);
            }
            self.diagnoses(run);
            if !run.findings.is_empty() {
                self.line(&format!("\n{}", self.paint(BOLD, "Findings")));
                for finding in &run.findings {
                    let style = if finding.severity == Severity::Critical { RED } else { YELLOW };
                    let text = format!("  ✘ {} ({}): {}", finding.step, finding.severity, finding.message);
                    self.line(&self.paint(style, text));
                }
            }
            self.line("");
        }
        self.line(&self.verdict_line(run));
        if let Some(dir) = archive {
            self.line(&format!("{} {}", self.paint(DIM, "archive:"), dir.join(MARKDOWN_FILE).display()));
        }
        let _ = self.out.flush();
    }

    fn attempt(&mut self, _step_id: &str, attempt: u32, attempts: u32) {
        if !self.quiet {
            self.line(&format!("      {} attempt {attempt} of {attempts}", self.paint(YELLOW, "↻")));
        }
    }

    fn notice(&mut self, text: &str) {
        let line = format!("{} {text}", self.paint(YELLOW, "warning:"));
        match &self.spinner {
            Some(spinner) => spinner.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn ask(&mut self, _step_id: &str, question: &str, interrupted: &AtomicBool) -> Option<bool> {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return None;
        }
        let prompt = format!("{} {question} [y/N] ", self.paint(YELLOW, "?"));
        let spinner = self.spinner.clone();
        let answer = match spinner {
            Some(spinner) => spinner.suspend(|| read_answer(&prompt, interrupted)),
            None => read_answer(&prompt, interrupted),
        };
        answer.map(|a| matches!(a.trim().to_lowercase().as_str(), "y" | "yes"))
    }

    fn dry_run_step(&mut self, number: usize, total: usize, step: &DryStep) {
        self.line(&format!(
            "{} {} {} {}",
            self.paint(CYAN, "•"),
            Self::counter(number, total),
            self.paint(BOLD, step.id),
            self.paint(DIM, format!("— {}", step.name))
        ));
        let prefix = if step.kind == StepKind::Run { "$" } else { "»" };
        for line in step.command.lines() {
            self.line(&format!("      {} {line}", self.paint(CYAN, prefix)));
        }
        for check in &step.checks {
            self.line(&format!("      {} {check}", self.paint(DIM, "✓")));
        }
        for note in &step.notes {
            self.line(&format!("      {}", self.paint(DIM, note)));
        }
    }

    fn dry_run_diagnosis(&mut self, diagnosis: &DryDiagnosis) {
        for line in self.dry_diagnosis_lines(diagnosis) {
            self.line(&line);
        }
    }
}

impl TerminalReporter {
    fn dry_diagnosis_lines(&self, diagnosis: &DryDiagnosis) -> Vec<String> {
        let mut lines = vec![format!(
            "{} {} {}",
            self.paint(CYAN, "?"),
            self.paint(BOLD, format!("diagnosis {}", diagnosis.id)),
            self.paint(DIM, format!("— {} ({})", diagnosis.cause, diagnosis.severity))
        )];
        lines.push(format!("      {} {}", self.paint(DIM, "when:"), diagnosis.when));
        if !diagnosis.fix.is_empty() {
            lines.push(format!("      {} {}", self.paint(DIM, "fix:"), diagnosis.fix.join(", ")));
        }
        lines
    }
}

/// Reads one line from stdin on a helper thread, so Ctrl-C is not stuck behind the read.
fn read_answer(prompt: &str, interrupted: &AtomicBool) -> Option<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line);
        let _ = tx.send(read.map(|_| line));
    });
    loop {
        if interrupted.load(Ordering::SeqCst) {
            eprintln!();
            return None;
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(line)) => return Some(line),
            Ok(Err(_)) => return None,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(_) => return None,
        }
    }
}

/// A fleet run in the terminal: a header, one line per host as it finishes, then each step with
/// its hosts' results folded, the hosts' outcomes folded, and the archive path. Hosts' step
/// output goes to their logs, not here (64 hosts' lines interleaved say nothing).
pub(crate) struct FleetTerminal {
    color: bool,
    quiet: bool,
    /// Asks the person (never anything else): on a terminal only.
    asker: std::sync::Mutex<TerminalReporter>,
}

impl FleetTerminal {
    pub(crate) fn new(color: bool, quiet: bool) -> FleetTerminal {
        FleetTerminal { color, quiet, asker: std::sync::Mutex::new(TerminalReporter::new(color, quiet)) }
    }

    fn paint(&self, style: Style, text: impl std::fmt::Display) -> String {
        if self.color { format!("{style}{text}{style:#}") } else { text.to_string() }
    }

    fn host_mark(&self, outcome: HostOutcome) -> String {
        match outcome {
            HostOutcome::Passed => self.paint(GREEN, "✔"),
            HostOutcome::Unreachable => self.paint(YELLOW, "⚡"),
            HostOutcome::Running => self.paint(DIM, "…"),
            HostOutcome::Failed | HostOutcome::Interrupted => self.paint(RED, "✘"),
        }
    }
}

impl FleetReporter for FleetTerminal {
    /// The end of the run: steps folded by host, findings, the hosts' outcomes, the archive.
    fn fleet_finished(&self, run: &RunRecord, archive: Option<&Path>) {
        let mut out = std::io::stdout().lock();
        if !self.quiet && !run.steps.is_empty() {
            let _ = writeln!(out);
            let width = run.steps.iter().map(|s| s.id.chars().count()).max().unwrap_or(0).min(32);
            for step in &run.steps {
                let mark = match step.outcome {
                    Outcome::Passed => self.paint(GREEN, "✔"),
                    Outcome::Skipped => self.paint(DIM, "⏭"),
                    _ => self.paint(RED, "✘"),
                };
                let folded = step.reason.clone().unwrap_or_default();
                let _ = writeln!(out, "  {mark} {:<width$}  {folded}", step.id);
            }
            if !run.diagnoses.is_empty() {
                let _ = writeln!(out);
            }
            for (i, d) in run.diagnoses.iter().enumerate() {
                let label = if i == 0 { "Diagnosis:" } else { "Also matched:" };
                let on = d.hosts.as_deref().map(|h| format!("{h}: ")).unwrap_or_default();
                let _ = writeln!(out, "{} {on}{} ({})", self.paint(BOLD, label), d.cause, d.id);
            }
            if !run.findings.is_empty() {
                let _ = writeln!(out, "\n{}", self.paint(BOLD, "Findings"));
                for finding in &run.findings {
                    let style = if finding.severity == Severity::Critical { RED } else { YELLOW };
                    let text = format!("  ✘ {} ({}): {}", finding.step, finding.severity, finding.message);
                    let _ = writeln!(out, "{}", self.paint(style, text));
                }
            }
            let _ = writeln!(out);
        }
        if let Some(fleet) = &run.fleet {
            let counts: Vec<String> = fleet.outcome_counts().iter().map(|(o, n)| format!("{n} {o}")).collect();
            let verdict = match run.verdict {
                Verdict::Passed => self.paint(GREEN, "✔ passed"),
                Verdict::Warning => self.paint(YELLOW, "⚠ warning"),
                Verdict::Failed => self.paint(RED, "✘ failed"),
                Verdict::Interrupted => self.paint(RED, "⛔ interrupted"),
                Verdict::Running => self.paint(DIM, "… running"),
            };
            let _ = writeln!(out, "{verdict} · {} · {}", counts.join(" · "), duration(run.duration_ms));
            let _ = writeln!(out, "{}", fleet.summary);
        }
        if let Some(dir) = archive {
            let _ = writeln!(out, "{} {}", self.paint(DIM, "archive:"), dir.join(MARKDOWN_FILE).display());
        }
        let _ = out.flush();
    }

    fn host(&self, host: &str) -> Box<dyn Reporter + '_> {
        Box::new(HostNotices { host: host.to_string() })
    }

    fn ask(&self, question: &str, interrupted: &AtomicBool) -> Option<bool> {
        self.asker.lock().unwrap_or_else(|e| e.into_inner()).ask("", question, interrupted)
    }

    fn fleet_started(&self, run_id: &str, hosts: &[HostSpec], archive: Option<&Path>) {
        if self.quiet {
            return;
        }
        let names = crate::model::hosts::fold(hosts.iter().map(|h| h.name.as_str()));
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{} {run_id} on {}: {names}", self.paint(CYAN, "▶"), plural(hosts.len(), "host"));
        if let Some(dir) = archive {
            let _ = writeln!(out, "  {} {}", self.paint(DIM, "archive:"), dir.display());
        }
        let _ = out.flush();
    }

    fn host_finished(&self, host: &FleetHost) {
        if self.quiet {
            return;
        }
        let mut why = host.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        if host.resumed {
            why.push_str(" (carried over from the resumed run)");
        }
        let line = format!(
            "  {} {} {}{why} {}",
            self.host_mark(host.outcome),
            host.name,
            host.outcome,
            self.paint(DIM, duration(host.duration_ms))
        );
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// A fleet host's run in the terminal: only what the person must know (notices), prefixed with
/// the host.
struct HostNotices {
    host: String,
}

impl Reporter for HostNotices {
    fn run_started(&mut self, _run: &RunRecord, _total: usize, _archive: Option<&Path>) {}
    fn step_started(&mut self, _number: usize, _total: usize, _step: &StepStart) {}
    fn output(&mut self, _step_id: &str, _stream: StreamKind, _line: &str) {}
    fn step_finished(&mut self, _number: usize, _total: usize, _step: &StepRecord) {}
    fn run_finished(&mut self, _run: &RunRecord, _archive: Option<&Path>) {}
    fn attempt(&mut self, _step_id: &str, _attempt: u32, _attempts: u32) {}
    fn notice(&mut self, text: &str) {
        eprintln!("warning: {}: {text}", self.host);
    }
    fn ask(&mut self, _step_id: &str, _question: &str, _interrupted: &AtomicBool) -> Option<bool> {
        None
    }
    fn dry_run_step(&mut self, _number: usize, _total: usize, _step: &DryStep) {}
    fn dry_run_diagnosis(&mut self, _diagnosis: &DryDiagnosis) {}
}

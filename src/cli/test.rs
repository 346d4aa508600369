//! `runbook test [ID…]`: every runbook run inside its scenarios (DESIGN §13), one ✔/✘ line per
//! scenario with what differed; exit 1 on any mismatch, 2 when a scenario file has errors.

use super::Context;
use super::diagnostics::DiagnosticRenderer;
use super::output::{self, DIM, GREEN, RED, paint};
use crate::cli::error::{Error, Result, exit};
use crate::exec::scenario::{self, ScenarioResult, ScenarioRun};
use crate::exec::scenario_world::BaseTools;
use crate::model::runbook::RunbookIdx;
use crate::model::scenario::{ScenarioFile, Subject};
use crate::model::{Diagnostic, Kb};
use crate::util::text::plural;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runbooks to test (default: every runbook that has scenarios)
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Only scenarios whose name contains this text
    #[arg(long, value_name = "TEXT")]
    scenario: Option<String>,
    /// Print JSON lines: one per scenario, then a summary
    #[arg(long)]
    json: bool,
    /// Write the results as JUnit XML
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Also list the diagnoses and steps that no scenario makes fail
    #[arg(long)]
    coverage: bool,
}

/// A runbook with its scenarios, ready to run.
struct Suite {
    idx: RunbookIdx,
    subject: Subject,
    file: ScenarioFile,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let kb = ctx.load_kb()?;
    let selected = select(&kb, &args.ids)?;
    let mut problems: Vec<Diagnostic> = Vec::new();
    let mut suites = Vec::new();
    for idx in selected {
        let rb = &kb[idx];
        if rb.has_errors() {
            problems.extend(rb.diagnostics.iter().filter(|d| d.is_error()).cloned());
            continue;
        }
        let Some(loaded) = crate::model::scenario::load(&kb, idx) else {
            if !args.ids.is_empty() {
                return Err(Error::Invalid {
                    message: format!("{} has no scenarios", rb.id),
                    hint: Some(format!("write them in {}", rb.path.replace(".md", ".scenarios.yaml"))),
                });
            }
            continue;
        };
        problems.extend(loaded.diagnostics);
        if let Some(subject) = loaded.subject {
            suites.push(Suite { idx, subject, file: loaded.file });
        }
    }
    let results = run_all(&kb, &suites, args.scenario.as_deref())?;
    report(ctx, &kb, &args, &suites, &results, &problems)?;
    if let Some(path) = &args.junit {
        let xml =
            junit(&results).map_err(|e| Error::Invalid { message: format!("cannot write JUnit: {e}"), hint: None })?;
        std::fs::write(path, xml).map_err(|e| Error::io(path.display().to_string(), e))?;
    }
    Ok(if !problems.is_empty() {
        exit::INVALID
    } else if results.iter().any(|r| !r.passed()) {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// The runbooks named (each must exist), or all of them.
fn select(kb: &Kb, ids: &[String]) -> Result<Vec<RunbookIdx>> {
    if ids.is_empty() {
        return Ok(kb.iter().map(|(idx, _)| idx).collect());
    }
    ids.iter().map(|id| super::context::find(kb, id)).collect()
}

/// Every scenario, side by side (a scenario run leaves other runs' processes alone), each in a
/// folder of its own.
fn run_all(kb: &Kb, suites: &[Suite], filter: Option<&str>) -> Result<Vec<ScenarioResult>> {
    use rayon::prelude::*;
    let temp = tempfile::Builder::new()
        .prefix("runbook-test-")
        .tempdir_in(crate::exec::scenario_world::worlds_folder())
        .map_err(|e| Error::io("the temporary folder", e))?;
    let host_path = std::env::var("PATH").unwrap_or_default();
    let base = BaseTools::link(&temp.path().join("base"), &host_path)
        .map_err(|e| Error::Invalid { message: format!("cannot prepare the scenarios' tools: {e}"), hint: None })?;
    let jobs: Vec<(usize, &Suite, &crate::model::scenario::Scenario)> = suites
        .iter()
        .flat_map(|suite| suite.file.scenarios.iter().map(move |s| (suite, s)))
        .filter(|(_, s)| filter.is_none_or(|f| s.name.contains(f)))
        .enumerate()
        .map(|(n, (suite, s))| (n, suite, s))
        .collect();
    // A scenario spends most of its time waiting on its children (and on their `sleep`s), so
    // more run at once than there are cores: the cores then stay busy.
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cores * SCENARIOS_PER_CORE)
        .build()
        .map_err(|e| Error::Invalid { message: format!("cannot start the scenarios' threads: {e}"), hint: None })?;
    let results = pool.install(|| {
        jobs.par_iter().map(|(n, suite, scenario)| run_one(kb, &base, &temp, *n, suite, scenario)).collect()
    });
    Ok(results)
}

/// Scenarios run at once per core.
const SCENARIOS_PER_CORE: usize = 4;

/// One scenario in its own folder, removed afterwards.
fn run_one(
    kb: &Kb,
    base: &BaseTools,
    temp: &tempfile::TempDir,
    n: usize,
    suite: &Suite,
    scenario: &crate::model::scenario::Scenario,
) -> ScenarioResult {
    let dir = temp.path().join(format!("s{n}"));
    let request = ScenarioRun {
        kb,
        runbook: &kb[suite.idx],
        body: &suite.subject.body,
        plain: suite.subject.plain.as_ref(),
        file: &suite.file,
        scenario,
        base,
        dir: &dir,
    };
    let result = scenario::run(&request);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn report(
    ctx: &Context,
    kb: &Kb,
    args: &Args,
    suites: &[Suite],
    results: &[ScenarioResult],
    problems: &[Diagnostic],
) -> Result<()> {
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    if args.json {
        return report_json(&mut out, kb, args.coverage, suites, results, problems);
    }
    let mut renderer = DiagnosticRenderer::new(kb, |p| ctx.display_path(kb, p));
    for d in problems {
        writeln!(out, "{}", renderer.render(d)).map_err(io)?;
    }
    for r in results {
        let time = paint(DIM, format!("({})", crate::util::text::duration(r.duration_ms)));
        if r.passed() {
            if !ctx.quiet {
                writeln!(out, "{} {} › {} {time}", paint(GREEN, "✔"), r.runbook, r.name).map_err(io)?;
            }
        } else {
            writeln!(out, "{} {} › {} {time}", paint(RED, "✘"), r.runbook, r.name).map_err(io)?;
            for difference in &r.differences {
                writeln!(out, "    {difference}").map_err(io)?;
            }
        }
    }
    if args.coverage {
        let gaps = uncovered(kb, suites, results);
        writeln!(
            out,
            "\ncoverage: {}",
            if gaps.is_empty() {
                "every diagnosis and step fails in some scenario".to_string()
            } else {
                format!("{} no scenario makes fail", plural(gaps.len(), "diagnosis or step",))
            }
        )
        .map_err(io)?;
        for (runbook, kind, id) in gaps {
            writeln!(out, "  {runbook}: {kind} {id}").map_err(io)?;
        }
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    let summary = format!(
        "{} in {}: {} passed, {} failed{}",
        plural(results.len(), "scenario"),
        plural(suites.len(), "runbook"),
        results.len() - failed,
        failed,
        if problems.is_empty() { String::new() } else { format!(", {}", plural(problems.len(), "error")) }
    );
    let style = if failed > 0 || !problems.is_empty() { RED } else { GREEN };
    writeln!(out, "{}", paint(style, summary)).map_err(io)?;
    out.flush().map_err(io)
}

/// `--json`: one event per scenario, per problem and (with `--coverage`) per gap, then a summary.
fn report_json(
    out: &mut impl Write,
    kb: &Kb,
    coverage: bool,
    suites: &[Suite],
    results: &[ScenarioResult],
    problems: &[Diagnostic],
) -> Result<()> {
    let io = |e| Error::io("stdout", e);
    for r in results {
        let line = serde_json::json!({
            "event": "scenario", "runbook": r.runbook, "name": r.name, "passed": r.passed(),
            "differences": r.differences, "duration_ms": r.duration_ms,
            "diagnosis": r.record.as_ref().and_then(|rec| rec.diagnoses.first()).map(|d| &d.id),
            "verdict": r.record.as_ref().map(|rec| rec.verdict),
        });
        writeln!(out, "{line}").map_err(io)?;
    }
    for d in problems {
        writeln!(out, "{}", serde_json::json!({"event": "error", "diagnostic": d})).map_err(io)?;
    }
    if coverage {
        for (runbook, kind, id) in uncovered(kb, suites, results) {
            writeln!(out, "{}", serde_json::json!({"event": "uncovered", "runbook": runbook, "kind": kind, "id": id}))
                .map_err(io)?;
        }
    }
    let summary = serde_json::json!({"event": "summary", "scenarios": results.len(),
        "passed": results.iter().filter(|r| r.passed()).count(),
        "failed": results.iter().filter(|r| !r.passed()).count(), "errors": problems.len()});
    writeln!(out, "{summary}").map_err(io)?;
    out.flush().map_err(io)
}

/// Diagnoses no scenario matched and steps no scenario saw fail, per runbook with scenarios.
fn uncovered(kb: &Kb, suites: &[Suite], results: &[ScenarioResult]) -> Vec<(String, &'static str, String)> {
    let mut out = Vec::new();
    for suite in suites {
        let id = &kb[suite.idx].id;
        let records: Vec<_> = results.iter().filter(|r| &r.runbook == id).filter_map(|r| r.record.as_ref()).collect();
        let matched: BTreeSet<&str> = records.iter().flat_map(|r| r.diagnoses.iter().map(|d| d.id.as_str())).collect();
        let failed: BTreeSet<&str> = records
            .iter()
            .flat_map(|r| r.steps.iter().filter(|s| s.outcome.is_failure()).map(|s| s.id.as_str()))
            .collect();
        for d in suite.subject.body.diagnoses.iter().filter(|d| !matched.contains(d.id.as_str())) {
            out.push((id.clone(), "diagnosis", d.id.clone()));
        }
        for s in suite.subject.body.steps.iter().filter(|s| !failed.contains(s.id.as_str())) {
            out.push((id.clone(), "step", s.id.clone()));
        }
    }
    out
}

/// One test suite per runbook, one test case per scenario.
fn junit(results: &[ScenarioResult]) -> std::result::Result<String, quick_junit::SerializeError> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("runbook test");
    let mut names: Vec<&str> = results.iter().map(|r| r.runbook.as_str()).collect();
    names.dedup();
    for name in names {
        let mut suite = TestSuite::new(name);
        for r in results.iter().filter(|r| r.runbook == name) {
            let status = if r.passed() {
                TestCaseStatus::success()
            } else {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(r.differences.first().cloned().unwrap_or_default());
                status.set_description(r.differences.join("\n"));
                status
            };
            let mut case = TestCase::new(r.name.as_str(), status);
            case.set_classname(format!("{name}.scenarios"));
            case.set_time(std::time::Duration::from_millis(r.duration_ms));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string()
}

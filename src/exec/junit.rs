//! `--junit FILE`: the run as JUnit XML, one test case per step, for CI dashboards.

use crate::record::{Outcome, RunRecord};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

pub(crate) fn render(run: &RunRecord) -> Result<String, quick_junit::SerializeError> {
    let mut suite = TestSuite::new(run.runbook.id.as_str());
    for step in &run.steps {
        let mut status = match step.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Skipped => TestCaseStatus::skipped(),
            Outcome::Failed | Outcome::TimedOut => TestCaseStatus::non_success(NonSuccessKind::Failure),
            Outcome::Error | Outcome::Interrupted => TestCaseStatus::non_success(NonSuccessKind::Error),
        };
        if let Some(why) = step.why().filter(|_| !step.passed()) {
            status.set_message(why);
        }
        if step.outcome.is_failure() {
            status.set_type(step.outcome.as_str());
            let details: Vec<String> = step
                .checks
                .iter()
                .map(|c| format!("{} {}", if c.passed { "ok  " } else { "FAIL" }, c.message))
                .collect();
            status.set_description(details.join("\n"));
        }
        let mut case = TestCase::new(format!("{} — {}", step.id, step.name), status);
        case.set_classname(format!("{}.{}", run.runbook.id, step.severity));
        case.set_time(Duration::from_millis(step.duration_ms));
        if !step.stdout_tail.is_empty() {
            case.set_system_out(step.stdout_tail.as_str());
        }
        if !step.stderr_tail.is_empty() {
            case.set_system_err(step.stderr_tail.as_str());
        }
        suite.add_test_case(case);
    }
    for (rank, diagnosis) in run.diagnoses.iter().enumerate() {
        suite.add_property(quick_junit::Property::new(
            format!("diagnosis.{}", rank + 1),
            format!("{}: {}", diagnosis.id, diagnosis.cause),
        ));
    }
    if let Some(first) = run.diagnoses.first() {
        let mut text = format!("Diagnosis: {} ({})", first.cause, first.id);
        for fix in &first.fix {
            text.push_str(&format!("\nfix: {}", fix.command(&run.runbook.id)));
        }
        suite.set_system_out(text);
    }
    suite.set_time(Duration::from_millis(run.duration_ms));
    let mut report = Report::new(format!("runbook exec {}", run.runbook.id));
    report.set_time(Duration::from_millis(run.duration_ms));
    report.add_test_suite(suite);
    report.to_string()
}

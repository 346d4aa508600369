//! Lints that scenarios taught us (DESIGN §13): checks that pass when their evidence is absent.

use super::diagnostic::{Diagnostic, Rule};
use super::markdown::StepFence;
use super::matcher::{LineTest, Matcher};
use super::parse::locate;
use super::step::{Action, Step};

/// A `run` step whose output checks are only negative patterns (`"!error"`) passes when the
/// output is empty — the journal unreadable for this user, the log line renamed upstream — just
/// as it passes on a healthy host. Warned, with a positive anchor to add.
pub(super) fn evidence_free_pass(step: &Step, fence: &StepFence, path: &str) -> Option<Diagnostic> {
    let Action::Run(run) = &step.action else { return None };
    if !step.assertions.is_empty() || !run.captures.is_empty() {
        return None;
    }
    let mut negative = 0;
    for matcher in [&run.expect.stdout, &run.expect.stderr].into_iter().flatten() {
        let Matcher::Lines(patterns) = &matcher.0 else { return None };
        for pattern in patterns {
            match (&pattern.test, pattern.negate) {
                // `!""` (not empty) is a positive claim: there is evidence.
                (LineTest::Empty, true) => return None,
                (_, true) => negative += 1,
                (_, false) => return None,
            }
        }
    }
    if negative == 0 {
        return None;
    }
    let (line, column) = locate(fence, "expect");
    Some(
        Diagnostic::warning(Rule::Step, path,
            line,
            column,
            format!("step `{}` passes when the evidence is absent: its output checks are only negative patterns", step.id),
        )
        .with_hint(
            "empty output passes them too (an unreadable log, a renamed message): add a positive anchor, a line that must be there (like \"Driver Version\"), or make the script exit non-zero when it cannot see its evidence",
        ),
    )
}

//! The state of each watched check (one step of one runbook): its last result, and whether it
//! counts as failing once the flap thresholds are applied.

use crate::record::{Observation, Outcome, StepRecord};
use serde::Serialize;

/// One watched step.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CheckStatus {
    pub runbook: String,
    pub step: String,
    pub name: String,
    pub every_seconds: f64,
    /// Failing after `fail_after` failed rounds in a row, passing again after `recover_after`
    /// passed ones.
    pub failing: bool,
    pub fail_after: u32,
    pub recover_after: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<LastResult>,
    pub runs_passed: u64,
    pub runs_failed: u64,
    #[serde(skip)]
    streak: Streak,
}

#[derive(Debug, Clone, Copy, Default)]
enum Streak {
    #[default]
    None,
    Passed(u32),
    Failed(u32),
}

/// The latest round's result for one step.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LastResult {
    pub passed: bool,
    pub outcome: Outcome,
    /// Why it did not pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Unix time the round started.
    pub at: f64,
    pub duration_seconds: f64,
    pub observed: Vec<Observation>,
}

/// A check's state changed in this round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    Failing,
    Recovered,
}

impl CheckStatus {
    pub(crate) fn new(
        runbook: &str,
        step: &str,
        every_seconds: f64,
        fail_after: u32,
        recover_after: u32,
    ) -> CheckStatus {
        CheckStatus {
            runbook: runbook.to_string(),
            step: step.to_string(),
            name: step.to_string(),
            every_seconds,
            failing: false,
            fail_after: fail_after.max(1),
            recover_after: recover_after.max(1),
            last: None,
            runs_passed: 0,
            runs_failed: 0,
            streak: Streak::None,
        }
    }

    /// Takes in the step's record from a round started at `at`; says whether the state changed.
    /// A step that did not run (`skipped`) counts as passing: nothing is wrong that it saw.
    pub(crate) fn record(&mut self, step: &StepRecord, at: f64) -> Option<Transition> {
        let passed = !step.outcome.is_failure();
        self.name = step.name.clone();
        self.last = Some(LastResult {
            passed,
            outcome: step.outcome,
            message: (!passed).then(|| step.why().unwrap_or_else(|| step.outcome.as_str().to_string())),
            at,
            duration_seconds: step.duration_ms as f64 / 1000.0,
            observed: step.observed.clone(),
        });
        self.apply(passed)
    }

    /// A round that produced no record for the step (the run could not start, or timed out).
    pub(crate) fn record_error(&mut self, message: String, at: f64, duration_seconds: f64) -> Option<Transition> {
        self.last = Some(LastResult {
            passed: false,
            outcome: Outcome::Error,
            message: Some(message),
            at,
            duration_seconds,
            observed: Vec::new(),
        });
        self.apply(false)
    }

    fn apply(&mut self, passed: bool) -> Option<Transition> {
        if passed {
            self.runs_passed += 1;
        } else {
            self.runs_failed += 1;
        }
        self.streak = match (self.streak, passed) {
            (Streak::Passed(n), true) => Streak::Passed(n.saturating_add(1)),
            (Streak::Failed(n), false) => Streak::Failed(n.saturating_add(1)),
            (_, true) => Streak::Passed(1),
            (_, false) => Streak::Failed(1),
        };
        match self.streak {
            Streak::Failed(n) if !self.failing && n >= self.fail_after => {
                self.failing = true;
                Some(Transition::Failing)
            }
            Streak::Passed(n) if self.failing && n >= self.recover_after => {
                self.failing = false;
                Some(Transition::Recovered)
            }
            _ => None,
        }
    }

    pub(crate) fn label(&self) -> String {
        format!("{}/{}", self.runbook, self.step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flap_thresholds_hold_the_state_until_enough_rounds_agree() {
        let mut check = CheckStatus::new("rb", "s", 10.0, 2, 3);
        let mut seen = Vec::new();
        for passed in [false, true, false, false, false, true, true, false, true, true, true] {
            seen.push(check.apply(passed));
        }
        use Transition::*;
        assert_eq!(
            seen,
            [None, None, None, Some(Failing), None, None, None, None, None, None, Some(Recovered)],
            "one failure is not enough; two in a row are; recovery needs three passes in a row"
        );
        assert_eq!((check.runs_passed, check.runs_failed), (6, 5));
        assert!(!check.failing);
    }

    #[test]
    fn a_first_failure_with_thresholds_of_one_is_a_transition() {
        let mut check = CheckStatus::new("rb", "s", 10.0, 1, 1);
        assert_eq!(check.apply(true), None, "passing from the start is no change");
        assert_eq!(check.apply(false), Some(Transition::Failing));
        assert_eq!(check.apply(true), Some(Transition::Recovered));
    }
}

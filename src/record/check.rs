//! The outcome of one expectation, as `run.json` records it.

use serde::{Deserialize, Serialize};

/// The outcome of one expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// What was expected, in words: `used < 90%`.
    pub expected: String,
    /// What was seen: `97%`.
    pub actual: String,
    pub passed: bool,
    /// One line for people: `used: expected < 90%, saw 97%`.
    pub message: String,
}

impl CheckResult {
    pub fn new(label: &str, expected: String, actual: String, passed: bool) -> CheckResult {
        let message = if passed {
            format!("{label} {actual} ({expected})")
        } else {
            format!("{label}: expected {expected}, saw {actual}")
        };
        CheckResult { expected: format!("{label} {expected}"), actual, passed, message }
    }

    /// A check that could not be evaluated (probe error, bad rendered value).
    pub fn failed(label: &str, expected: String, problem: String) -> CheckResult {
        CheckResult {
            message: format!("{label}: {problem}"),
            expected: format!("{label} {expected}"),
            actual: problem,
            passed: false,
        }
    }

    /// A value that was not reported (e.g. a GPU metric NVML does not support): noted, not failed.
    pub fn not_reported(label: &str, expected: String, why: &str) -> CheckResult {
        CheckResult {
            message: format!("{label}: {why}"),
            expected: format!("{label} {expected}"),
            actual: why.to_string(),
            passed: true,
        }
    }
}

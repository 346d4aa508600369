//! A problem found in a runbook or in the KB, anchored at `path:line:column`.

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is: errors make `check` fail and `exec` refuse the runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

/// One finding of the parser or linter. `path` is relative to the KB root; line and column are
/// 1-based and point into the `.md` file (never into an extracted YAML fragment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub severity: Level,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(path: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self::new(Level::Error, path, line, column, message)
    }

    pub fn warning(path: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self::new(Level::Warning, path, line, column, message)
    }

    fn new(severity: Level, path: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_string(),
            line: line.max(1),
            column: column.max(1),
            severity,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Level::Error
    }
}

//! A problem found in a runbook or in the KB, anchored at `path:line:column`.

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is: errors make `check` fail and `exec` refuse the runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

/// What a diagnostic is about: lets `check --json` be filtered, and decides what it blocks
/// (a broken link is an error of `check` and nothing else; every other error stops `exec`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The file cannot be read, or is not UTF-8.
    #[default]
    File,
    /// Front matter that cannot be read, or a runbook key with a wrong value.
    FrontMatter,
    /// A front-matter key that looks like a misspelt runbook key.
    FrontMatterKey,
    /// A `yaml step` block, or the steps together (ids, order).
    Step,
    /// A template name that is not defined where it is read.
    Template,
    /// Runbook ids and aliases.
    Id,
    /// Cross-references: links to runbooks, anchors and files.
    Link,
    /// Markdown structure: fences that never close.
    Markdown,
    /// Docs-site syntax (Hugo shortcodes, admonitions) that is not understood.
    Shortcode,
    /// `runbook.toml`.
    Config,
    /// Plain docs: overlays, placeholders without a value, shell blocks that do not parse.
    Plain,
    /// A `yaml diagnosis` block: its fields, expression and `fix` steps.
    Diagnosis,
    /// A scenario file (`NAME.scenarios.yaml`).
    Scenario,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::File => "file",
            Rule::FrontMatter => "front-matter",
            Rule::FrontMatterKey => "front-matter-key",
            Rule::Step => "step",
            Rule::Template => "template",
            Rule::Id => "id",
            Rule::Link => "link",
            Rule::Markdown => "markdown",
            Rule::Shortcode => "shortcode",
            Rule::Config => "config",
            Rule::Plain => "plain",
            Rule::Diagnosis => "diagnosis",
            Rule::Scenario => "scenario",
        }
    }

    /// Whether an error of this rule keeps a runbook from running.
    pub fn blocks_exec(self) -> bool {
        self != Rule::Link
    }
}

/// One finding of the parser or linter. `path` is relative to the KB root; line and column are
/// 1-based and point into the `.md` file (never into an extracted YAML fragment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub severity: Level,
    #[serde(default)]
    pub rule: Rule,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(rule: Rule, path: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self::new(Level::Error, rule, path, line, column, message)
    }

    pub fn warning(rule: Rule, path: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self::new(Level::Warning, rule, path, line, column, message)
    }

    fn new(severity: Level, rule: Rule, path: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_string(),
            line: line.max(1),
            column: column.max(1),
            severity,
            rule,
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

    /// An error that keeps the runbook from running (every error but a broken link).
    pub fn blocks_exec(&self) -> bool {
        self.is_error() && self.rule.blocks_exec()
    }
}

//! Step strings are minijinja templates and `when`/`assert` are minijinja expressions. Both are
//! checked for syntax when a runbook is read, so a typo is a `check` error, not a 3 a.m. surprise.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;

/// True when `text` holds template syntax at all; plain strings skip the compiler.
pub(crate) fn has_template_syntax(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// A template or expression that does not compile, with the start of its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template syntax error in `{text}`: {detail}")]
    Syntax { text: String, detail: String },
    #[error("invalid expression `{text}`: {detail}")]
    Expression { text: String, detail: String },
}

/// Whether a step string is rendered before use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rendering {
    /// As the author wrote it: rendered when it holds template syntax.
    #[default]
    Templated,
    /// A generated name or an already rendered value: used as it is, even if it happens to
    /// contain `{{`.
    Literal,
}

/// A templated string from a step, with the names it reads (`path`, `steps.driver.passed`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pub source: String,
    pub references: BTreeSet<String>,
    pub rendering: Rendering,
}

impl Template {
    pub fn parse(source: String) -> Result<Template, TemplateError> {
        if !has_template_syntax(&source) {
            return Ok(Template { source, references: BTreeSet::new(), rendering: Rendering::Templated });
        }
        let env = minijinja::Environment::empty();
        let references = match env.template_from_str(&source) {
            Ok(template) => template.undeclared_variables(true).into_iter().collect(),
            Err(err) => return Err(TemplateError::Syntax { text: abbreviate(&source), detail: detail(&err) }),
        };
        Ok(Template { source, references, rendering: Rendering::Templated })
    }

    /// A plain string that is not rendered further (used for generated defaults).
    pub fn literal(source: impl Into<String>) -> Template {
        Template { source: source.into(), references: BTreeSet::new(), rendering: Rendering::Literal }
    }

    pub fn is_templated(&self) -> bool {
        self.rendering == Rendering::Templated && has_template_syntax(&self.source)
    }
}

/// A minijinja expression such as `not steps.driver.passed` or `free_gb | int > 20`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub source: String,
    pub references: BTreeSet<String>,
}

impl Expr {
    pub fn parse(source: String) -> Result<Expr, TemplateError> {
        let env = minijinja::Environment::empty();
        let references = match env.compile_expression(&source) {
            Ok(expr) => expr.undeclared_variables(true).into_iter().collect(),
            Err(err) => return Err(TemplateError::Expression { text: abbreviate(&source), detail: detail(&err) }),
        };
        Ok(Expr { source, references })
    }
}

fn detail(err: &minijinja::Error) -> String {
    err.detail().map(str::to_string).unwrap_or_else(|| err.to_string())
}

fn abbreviate(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    if first.chars().count() > 60 || text.lines().nth(1).is_some() {
        let cut: String = first.chars().take(60).collect();
        format!("{cut}…")
    } else {
        first.to_string()
    }
}

/// Whether `source` (a script template) may paste the value of variable `name` into the text
/// unquoted: a `{{ … }}` that mentions it but does not end in `| shell_quote`, or a statement
/// other than `if`/`elif` that mentions it (`{% set x = name %}` would carry it elsewhere).
/// Errs on the side of "yes": a value from an alert is only passed where this says "no".
pub(crate) fn pastes_unquoted(source: &str, name: &str) -> bool {
    if !has_template_syntax(source) {
        return false;
    }
    let Ok(mention) = regex::Regex::new(&format!(r"\b{}\b", regex::escape(name))) else {
        return true;
    };
    let tags = tags(source);
    tags.iter().filter(|(_, inner)| mention.is_match(inner)).any(|(kind, inner)| match kind {
        TagKind::Expression => !ends_in_shell_quote(inner),
        TagKind::Statement => {
            let keyword = inner.split_whitespace().next().unwrap_or_default();
            !matches!(keyword, "if" | "elif")
        }
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    Expression,
    Statement,
}

/// The `{{ … }}` and `{% … %}` tags of a template, with their inner text (whitespace control
/// dashes removed). Text inside a tag cannot contain its closing delimiter in a real template.
fn tags(source: &str) -> Vec<(TagKind, &str)> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find('{') {
        let after = &rest[start..];
        let (kind, close) = if after.starts_with("{{") {
            (TagKind::Expression, "}}")
        } else if after.starts_with("{%") {
            (TagKind::Statement, "%}")
        } else {
            rest = &after[1..];
            continue;
        };
        let body = &after[2..];
        let Some(end) = body.find(close) else {
            // Unclosed: the template would not have parsed; treat the rest as one tag.
            out.push((kind, body));
            break;
        };
        let inner = body[..end].trim_start_matches(['-', '+']).trim_end_matches(['-', '+']).trim();
        out.push((kind, inner));
        rest = &body[end + 2..];
    }
    out
}

fn ends_in_shell_quote(expression: &str) -> bool {
    match expression.rsplit_once('|') {
        Some((_, last)) => last.trim() == "shell_quote",
        None => false,
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Template::parse(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Expr::parse(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_references() {
        let t = Template::parse("df -h {{ path | shell_quote }} {{ steps.driver.exit }}".into()).unwrap();
        assert!(t.references.contains("path"));
        assert!(t.references.contains("steps.driver.exit"));
        let e = Expr::parse("not steps.driver.passed and free > 3".into()).unwrap();
        assert!(e.references.contains("steps.driver.passed"));
        assert!(e.references.contains("free"));
    }

    #[test]
    fn reports_syntax_errors() {
        let err = Template::parse("echo {{ path".into()).unwrap_err();
        assert!(matches!(err, TemplateError::Syntax { .. }), "{err:?}");
        assert!(err.to_string().starts_with("template syntax error in `echo {{ path`"), "{err}");
        let err = Expr::parse("steps.x.passed and".into()).unwrap_err();
        assert!(matches!(err, TemplateError::Expression { .. }), "{err:?}");
        assert!(err.to_string().starts_with("invalid expression `steps.x.passed and`"), "{err}");
    }

    #[test]
    fn unquoted_pastes_are_found() {
        let quoted = "df -h {{ path | shell_quote }}\n{% if path %}echo set{% endif %}";
        assert!(!pastes_unquoted(quoted, "path"));
        assert!(!pastes_unquoted("echo {{- path|shell_quote -}}", "path"));
        assert!(!pastes_unquoted("echo {{ other }}", "path"));
        assert!(!pastes_unquoted("echo path", "path"));
        assert!(pastes_unquoted("df -h {{ path }}", "path"));
        assert!(pastes_unquoted("df -h {{ (path | shell_quote) ~ '/x' }}", "path"));
        assert!(pastes_unquoted("df -h {{ path | shell_quote | upper }}", "path"));
        assert!(pastes_unquoted("{% set p = path %}df -h {{ p }}", "path"));
        assert!(pastes_unquoted("{% for p in path %}{{ p | shell_quote }}{% endfor %}", "path"));
        assert!(pastes_unquoted("echo {{ vars.path }}", "path"));
    }

    #[test]
    fn plain_strings_skip_the_compiler() {
        let t = Template::parse("echo }} {".into()).unwrap();
        assert!(t.references.is_empty());
        assert!(!t.is_templated());
    }
}

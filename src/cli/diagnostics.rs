//! Diagnostics the way rustc prints them: `path:line:col`, the line, a caret, a hint.

use crate::model::{Diagnostic, Kb, Level};
use annotate_snippets::{AnnotationKind, Group, Level as SnippetLevel, Renderer, Snippet};
use std::collections::HashMap;

/// Renders diagnostics with snippets; caches each file's text while rendering.
pub(super) struct DiagnosticRenderer<'a> {
    kb: &'a Kb,
    display_path: Box<dyn Fn(&str) -> String + 'a>,
    sources: HashMap<String, Option<String>>,
}

impl<'a> DiagnosticRenderer<'a> {
    pub(super) fn new(kb: &'a Kb, display_path: impl Fn(&str) -> String + 'a) -> Self {
        DiagnosticRenderer { kb, display_path: Box::new(display_path), sources: HashMap::new() }
    }

    pub(super) fn render(&mut self, diag: &Diagnostic) -> String {
        let path = (self.display_path)(&diag.path);
        let kb = self.kb;
        let source = self.sources.entry(diag.path.clone()).or_insert_with(|| kb.source_of(&diag.path));
        let line_text =
            source.as_deref().and_then(|s| s.lines().nth(diag.line - 1)).map(|l| l.trim_end_matches('\r').to_string());
        let level = match diag.severity {
            Level::Error => SnippetLevel::ERROR,
            Level::Warning => SnippetLevel::WARNING,
        };
        let title = level.primary_title(diag.message.as_str());
        let mut group: Group = match &line_text {
            Some(text) => {
                let span = underline(text, diag.column);
                title.element(
                    Snippet::source(text.as_str())
                        .line_start(diag.line)
                        .path(path)
                        .fold(false)
                        .annotation(AnnotationKind::Primary.span(span)),
                )
            }
            None => title.element(annotate_snippets::Origin::path(path).line(diag.line).char_column(diag.column)),
        };
        if let Some(hint) = &diag.hint {
            group = group.element(SnippetLevel::HELP.message(hint.as_str()));
        }
        Renderer::styled().render(&[group])
    }
}

/// Byte range to underline: the word starting at the 1-based character `column`.
fn underline(line: &str, column: usize) -> std::ops::Range<usize> {
    let start = line.char_indices().nth(column.saturating_sub(1)).map(|(i, _)| i).unwrap_or(line.len());
    let rest = &line[start..];
    let len = rest.find(char::is_whitespace).unwrap_or(rest.len()).max(1);
    start..(start + len).min(line.len().max(start + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underlines_a_word() {
        assert_eq!(underline("timeout: 5x", 10), 9..11);
        assert_eq!(underline("", 1), 0..1);
        assert_eq!(underline("é x", 3), 3..4);
    }
}

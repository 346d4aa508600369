//! Admonitions ("note", "warning" boxes) in the syntaxes of the common generators.

use super::shortcode::Args;

/// A box of the page: the block quote starting on `line` of the prepared text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Admonition {
    pub line: usize,
    /// One of `note`, `tip`, `important`, `warning`, `danger`, `details` (see [`normal_kind`]).
    pub kind: String,
    pub title: String,
}

/// How an open box was written, which decides how it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FrameSyntax {
    /// `:::note` … `:::` (Docusaurus, VitePress), with the number of colons.
    Colons(usize),
    /// `!!! note` and its content indented by four (mkdocs, Python-Markdown).
    Indented,
    /// `{{% alert %}}` … `{{% /alert %}}`.
    Shortcode,
}

#[derive(Debug, Clone)]
pub(super) struct Frame {
    pub syntax: FrameSyntax,
    /// Column of the marker.
    pub indent: usize,
    /// Columns of leading whitespace that belong to the box, not to its content.
    pub content_indent: usize,
}

/// The box kinds the site styles, from what the generators call them; unknown kinds are notes.
pub(crate) fn normal_kind(kind: &str) -> &'static str {
    match kind.to_lowercase().as_str() {
        "tip" | "hint" | "success" | "check" | "done" | "question" | "help" | "faq" => "tip",
        "important" => "important",
        "warning" | "caution" | "attention" | "warn" => "warning",
        "danger" | "error" | "failure" | "fail" | "missing" | "bug" | "deprecated" => "danger",
        "details" | "expand" | "collapse" => "details",
        _ => "note",
    }
}

/// `Note` for `note`, the title a box shows when it has none of its own.
fn default_title(kind: &str) -> String {
    let mut chars = kind.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
        None => "Note".to_string(),
    }
}

fn boxed(kind: &str, title: Option<&str>) -> (String, String) {
    let title =
        title.map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).unwrap_or_else(|| default_title(kind));
    (normal_kind(kind).to_string(), title)
}

/// `:::note Title`, `:::tip[Title]`, `::: warning` → (colons, kind, title).
pub(super) fn colon_opener(line: &str) -> Option<(usize, String, String)> {
    let trimmed = line.trim();
    let colons = trimmed.chars().take_while(|c| *c == ':').count();
    if colons < 3 {
        return None;
    }
    let rest = trimmed[colons..].trim_start();
    let kind_end = rest.find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_')).unwrap_or(rest.len());
    let kind = &rest[..kind_end];
    if kind.is_empty() || !kind.starts_with(|c: char| c.is_alphabetic()) {
        return None;
    }
    let after = rest[kind_end..].trim();
    let title = match after.strip_prefix('[') {
        Some(bracketed) => bracketed.rsplit_once(']').map(|(t, _)| t).unwrap_or(bracketed),
        // `{title="x"}` attributes (remark-directive) or a plain title.
        None => after.strip_prefix('{').map(|_| attribute(after, "title").unwrap_or_default()).unwrap_or(after),
    };
    let (kind, title) = boxed(kind, Some(title));
    Some((colons, kind, title))
}

fn attribute<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let at = text.find(&format!("{name}="))? + name.len() + 1;
    let rest = &text[at..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    rest[1..].find(quote).map(|end| &rest[1..1 + end])
}

/// A line of colons alone: `:::`, and how many.
pub(super) fn colon_closer(line: &str) -> Option<usize> {
    let trimmed = line.trim();
    let colons = trimmed.chars().take_while(|c| *c == ':').count();
    (colons >= 3 && colons == trimmed.len()).then_some(colons)
}

/// `!!! note "Title"`, `??? tip`, `???+ warning ""` → (kind, title).
pub(super) fn mkdocs_opener(line: &str) -> Option<(String, String)> {
    let trimmed = line.trim_start();
    let rest =
        trimmed.strip_prefix("!!!").or_else(|| trimmed.strip_prefix("???+")).or_else(|| trimmed.strip_prefix("???"))?;
    if !rest.starts_with(' ') {
        return None;
    }
    let rest = rest.trim();
    let kind_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let kind = &rest[..kind_end];
    if kind.is_empty() || !kind.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
        return None;
    }
    let after = rest[kind_end..].trim();
    let title = after.strip_prefix('"').and_then(|t| t.rsplit_once('"')).map(|(t, _)| t);
    Some(boxed(kind, title))
}

/// The box a paired shortcode stands for, if it is an admonition: Docsy's `alert`, hugo-book's
/// `hint`, the `note` / `warning` / … family, `notice`, `callout`, `admonition`, `details`.
pub(super) fn of_shortcode(name: &str, args: &Args) -> Option<(String, String)> {
    let title = args.get("title");
    let boxed_as = |kind: &str| Some(boxed(kind, title));
    match name {
        "alert" | "pageinfo" => {
            let color = args.get("color").unwrap_or("info");
            let kind = match color {
                "warning" => "warning",
                "danger" => "danger",
                "success" => "tip",
                _ => "note",
            };
            Some((kind.to_string(), title.map(str::to_string).unwrap_or_else(|| default_title(kind))))
        }
        "hint" | "notice" => {
            let kind = args.positional.first().map(String::as_str).unwrap_or("note");
            let title = title.or(args.positional.get(1).map(String::as_str));
            Some(boxed(kind, title))
        }
        "callout" | "admonition" => {
            boxed_as(args.get("type").or(args.positional.first().map(String::as_str)).unwrap_or("note"))
        }
        "details" | "expand" => {
            let title = title.or(args.positional.first().map(String::as_str)).or(args.get("summary"));
            Some(boxed("details", title.or(Some("Details"))))
        }
        "note" | "tip" | "info" | "warning" | "caution" | "danger" | "important" => boxed_as(name),
        _ => None,
    }
}

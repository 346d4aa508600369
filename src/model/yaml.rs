//! YAML fragments of a `.md` file (front matter, step fences) and their errors: serde's wording
//! rewritten into the runbook's terms, positions mapped from the fragment to the file.

use super::diagnostic::{Diagnostic, Rule};
use super::front_matter::FRONT_MATTER_FIELDS;
use super::markdown::Fragment;
use super::probe::PROBE_NAMES;
use super::step::STEP_FIELDS;
use crate::util::suggest::closest;
use serde::de::DeserializeOwned;
use serde_saphyr::{Location, Spanned};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum YamlPart {
    FrontMatter,
    Step,
    Diagnosis,
}

/// Deserializes a YAML fragment, turning any error into a diagnostic at its place in the file.
pub(crate) fn parse_yaml<T: DeserializeOwned>(
    fragment: &Fragment,
    path: &str,
    part: YamlPart,
) -> Result<T, Diagnostic> {
    serde_saphyr::from_str::<T>(&fragment.text).map_err(|err| yaml_diagnostic(fragment, path, part, &err))
}

pub(crate) fn yaml_diagnostic(
    fragment: &Fragment,
    path: &str,
    part: YamlPart,
    err: &serde_saphyr::Error,
) -> Diagnostic {
    let location = err.location().unwrap_or(Location::UNKNOWN);
    let (line, column) = map_location(fragment, location);
    let options = serde_saphyr::render_options! {
        formatter: &serde_saphyr::UserMessageFormatter,
        snippets: serde_saphyr::SnippetMode::Off,
    };
    let raw = err.render_with_options(options);
    let message = strip_location_suffix(&raw);
    let source_line = fragment.text.lines().nth((location.line() as usize).saturating_sub(1)).unwrap_or("");
    let (message, hint) = explain_yaml_error(message, part, source_line, location.column() as usize);
    let rule = match part {
        YamlPart::FrontMatter => Rule::FrontMatter,
        YamlPart::Step => Rule::Step,
        YamlPart::Diagnosis => Rule::Diagnosis,
    };
    let diag = Diagnostic::error(rule, path, line, column, message);
    match hint {
        Some(hint) => diag.with_hint(hint),
        None => diag,
    }
}

/// Saphyr appends " at line N, column M" relative to the fragment; we print file positions.
fn strip_location_suffix(message: &str) -> &str {
    static SUFFIX: OnceLock<regex::Regex> = OnceLock::new();
    let suffix = SUFFIX.get_or_init(|| regex::Regex::new(r"\s+at line \d+, column \d+$").expect("valid regex"));
    match suffix.find(message) {
        Some(found) => &message[..found.start()],
        None => message,
    }
}

/// Rewrites serde's wording into the runbook's terms and adds a hint.
fn explain_yaml_error(message: &str, part: YamlPart, source_line: &str, column: usize) -> (String, Option<String>) {
    static UNKNOWN: OnceLock<regex::Regex> = OnceLock::new();
    static DUPLICATE: OnceLock<regex::Regex> = OnceLock::new();
    let unknown = UNKNOWN.get_or_init(|| {
        regex::Regex::new(r"^unknown field `([^`]*)`, expected (?:one of )?(.*)$").expect("valid regex")
    });
    let duplicate =
        DUPLICATE.get_or_init(|| regex::Regex::new(r"duplicate mapping key[:\s`]+([^`,\s]+)").expect("valid regex"));

    if let Some(caps) = unknown.captures(message) {
        let key = &caps[1];
        let expected: Vec<&str> = caps[2].split(", ").map(|s| s.trim_matches('`')).collect();
        let top_level = column == 1;
        if part == YamlPart::Step && top_level && value_is_mapping(source_line, key) {
            let hint = match closest(key, PROBE_NAMES.iter().copied()) {
                Some(probe) => format!("did you mean the `{probe}` probe?"),
                None => format!("probes are: {}", PROBE_NAMES.join(", ")),
            };
            return (format!("unknown probe `{key}`"), Some(hint));
        }
        let candidates: Vec<&str> = match (part, top_level) {
            (YamlPart::Step, true) => STEP_FIELDS.iter().chain(PROBE_NAMES.iter()).copied().collect(),
            (YamlPart::FrontMatter, true) => FRONT_MATTER_FIELDS.to_vec(),
            (YamlPart::Diagnosis, true) => super::diagnosis::DIAGNOSIS_FIELDS.to_vec(),
            _ => expected.clone(),
        };
        let hint = match crate::util::text::did_you_mean(key, candidates.iter().copied()) {
            Some(hint) => hint,
            None => format!("valid keys here: {}", candidates.join(", ")),
        };
        let place = match part {
            YamlPart::Step if top_level => " in step",
            YamlPart::FrontMatter if top_level => " in front matter",
            YamlPart::Diagnosis if top_level => " in diagnosis",
            _ => "",
        };
        return (format!("unknown key `{key}`{place}"), Some(hint));
    }
    if message.contains("mapping values are not allowed") {
        // The classic: a plain value holding `: ` (`run: echo "a: b"`) reads as a nested mapping.
        return (
            "a value holding `: ` must be quoted".to_string(),
            Some("quote the whole value (run: \"echo 'a: b'\") or write it as a block: `run: |` and the script indented on the next lines".into()),
        );
    }
    if let Some(caps) = duplicate.captures(message) {
        return (
            format!("duplicate key `{}`", &caps[1]),
            Some("each key may appear once; remove or merge the repeats".into()),
        );
    }
    if part == YamlPart::FrontMatter && column <= 1 && message.contains("mapping") && !source_line.contains(':') {
        return (
            "front matter is not a mapping".to_string(),
            Some("write `key: value` lines between the `---` markers, like `id: my-runbook`".into()),
        );
    }
    if part == YamlPart::Step && column <= 1 && message.contains("expected mapping") && !source_line.contains(':') {
        return (
            "a step is a mapping of fields".to_string(),
            Some("write `key: value` lines, like `run: nvidia-smi`".into()),
        );
    }
    // Enums read from a string report at the mapping entry, not at the value.
    if message.starts_with("unknown variant")
        && let Some(key) = key_before(source_line, column).or_else(|| leading_key(source_line))
    {
        return (format!("wrong value for `{key}`: {message}"), None);
    }
    let wrong_type = message.starts_with("expected ")
        || message.starts_with("invalid ")
        || message.starts_with("cannot deserialize")
        || message.contains("invalid type");
    if wrong_type && let Some(key) = key_before(source_line, column) {
        return (format!("wrong type for `{key}`: {message}"), None);
    }
    (message.to_string(), None)
}

/// The key of a `key: value` line, if the line is one.
fn leading_key(source_line: &str) -> Option<String> {
    let (key, _) = source_line.trim_start().trim_start_matches("- ").split_once(':')?;
    let key = key.trim().trim_matches(['"', '\'']);
    (!key.is_empty() && !key.contains(' ')).then(|| key.to_string())
}

/// True when `key:` on this line has no inline scalar value (a block or flow mapping follows).
fn value_is_mapping(source_line: &str, key: &str) -> bool {
    let Some(rest) = source_line.trim_start().strip_prefix(key) else {
        return false;
    };
    let rest = rest.trim_start().trim_start_matches(':').trim_start();
    rest.is_empty() || rest.starts_with('{') || rest.starts_with('#')
}

/// The mapping key written before `column` on the line, if any (`retry: 5` → `retry`).
fn key_before(source_line: &str, column: usize) -> Option<String> {
    let before: String = source_line.chars().take(column.saturating_sub(1)).collect();
    let key_part = before.trim_end().strip_suffix(':')?;
    let key = key_part.rsplit(['{', ',', ' ']).next()?.trim().trim_matches(['"', '\'']);
    (!key.is_empty()).then(|| key.to_string())
}

/// A position inside a fragment → the position in the `.md` file.
pub(crate) fn map_location(fragment: &Fragment, location: Location) -> (usize, usize) {
    if location.line() == 0 {
        return (fragment.first_line.saturating_sub(1).max(1), 1);
    }
    (fragment.first_line + location.line() as usize - 1, location.column() as usize + fragment.indent)
}

pub(crate) fn spanned_at<T>(fragment: &Fragment, spanned: &Spanned<T>) -> (usize, usize) {
    map_location(fragment, spanned.referenced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_suffix_is_stripped() {
        assert_eq!(strip_location_suffix("invalid u32 at line 2, column 19"), "invalid u32");
    }

    #[test]
    fn key_before_column() {
        assert_eq!(key_before("retry: 5", 8).as_deref(), Some("retry"));
        assert_eq!(key_before("retry: {attempts: many}", 19).as_deref(), Some("attempts"));
        assert_eq!(key_before("- a", 1), None);
    }
}

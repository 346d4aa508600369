//! Evaluating matchers against what a step saw. Every result says what was expected and what was
//! seen, so a failed check explains itself at 3 a.m.
//!
//! Matchers reach this module resolved: templates rendered, numbers and versions parsed.

use crate::model::matcher::{Deferred, LinePattern, LineTest, Matcher, MatcherError, Scalar, Unit, compile_regex};
use crate::model::probe::fields::Measure;
use crate::model::quantity::Number;
use crate::model::version::Version;
use crate::record::CheckResult;

/// The longest line excerpt quoted as evidence.
const EVIDENCE_CHARS: usize = 200;

fn ready<T: Clone>(value: &Deferred<T>) -> Result<T, String> {
    match value {
        Deferred::Ready(v) => Ok(v.clone()),
        Deferred::Template(t) => Err(format!("unrendered template `{}`", t.source)),
    }
}

/// A probe's measure (label, unit and matcher from its field declaration) against a number.
pub(crate) fn check_measure<F>(measure: &Measure<'_, F>, seen: f64) -> CheckResult {
    check_number(measure.label, measure.matcher, seen, measure.unit)
}

/// A measure whose value the system did not report: noted, not failed.
pub(crate) fn not_reported<F>(measure: &Measure<'_, F>, why: &str) -> CheckResult {
    CheckResult::not_reported(measure.label, measure.matcher.describe(measure.unit), why)
}

/// A numeric observation against a number matcher.
pub(crate) fn check_number(label: &str, matcher: &Matcher, seen: f64, unit: Unit) -> CheckResult {
    let expected = matcher.describe(unit);
    let actual = unit.format(seen);
    let passed = match matcher {
        Matcher::Equals(Scalar::Number(value)) => match ready(value) {
            Ok(wanted) => (seen - wanted).abs() < 1e-9,
            Err(e) => return CheckResult::failed(label, expected, e),
        },
        Matcher::OneOf(values) => values.iter().any(|v| (seen - v).abs() < 1e-9),
        Matcher::Compare(terms) => {
            let mut all = true;
            for (op, value) in terms {
                match ready(value) {
                    Ok(wanted) => all &= op.holds(seen, wanted),
                    Err(e) => return CheckResult::failed(label, expected, e),
                }
            }
            all
        }
        Matcher::Version(req) => match ready(req) {
            Ok(req) => Version::parse(&Number(seen).to_string()).is_some_and(|v| req.matches(&v)),
            Err(e) => return CheckResult::failed(label, expected, e),
        },
        Matcher::Equals(_) | Matcher::Lines(_) => {
            return CheckResult::failed(label, expected, "this matcher does not apply to a number".into());
        }
    };
    CheckResult::new(label, expected, actual, passed)
}

/// A version string (`575.57.08`, `12.8`) against a version matcher.
pub(crate) fn check_version(label: &str, matcher: &Matcher, seen: &str) -> CheckResult {
    let expected = matcher.describe(Unit::Plain);
    let Some(version) = Version::parse(seen) else {
        return CheckResult::failed(label, expected, format!("`{seen}` is not a version"));
    };
    let passed = match matcher {
        Matcher::Version(req) => match ready(req) {
            Ok(req) => req.matches(&version),
            Err(e) => return CheckResult::failed(label, expected, e),
        },
        Matcher::Equals(Scalar::Text(text)) => Version::parse(&text.source).is_some_and(|v| v == version),
        other => {
            let number: f64 = version.to_string().parse().unwrap_or(f64::NAN);
            return check_number(label, other, number, Unit::Plain);
        }
    };
    CheckResult::new(label, expected, seen.to_string(), passed)
}

/// A short text (a GPU name) or a whole output against an equality or line-pattern matcher.
pub(crate) fn check_text(label: &str, matcher: &Matcher, text: &str) -> Vec<CheckResult> {
    match matcher {
        Matcher::Equals(Scalar::Text(wanted)) => {
            let passed = text.trim() == wanted.source.trim();
            vec![CheckResult::new(label, matcher.describe(Unit::Plain), format!("\"{}\"", excerpt(text)), passed)]
        }
        Matcher::Lines(patterns) => match LineScanner::new(label, patterns) {
            Ok(mut scanner) => {
                for line in text.lines() {
                    scanner.line(line);
                }
                scanner.bytes(text.trim().len() as u64);
                scanner.finish()
            }
            Err(problem) => vec![CheckResult::failed(label, matcher.describe(Unit::Plain), problem.to_string())],
        },
        other => match text.trim().parse::<f64>() {
            Ok(number) => vec![check_number(label, other, number, Unit::Plain)],
            Err(_) => vec![CheckResult::failed(
                label,
                other.describe(Unit::Plain),
                format!("\"{}\" is not a number", excerpt(text)),
            )],
        },
    }
}

/// A JSON value (an HTTP `json:` pointer) against any matcher; `None` means the pointer is absent.
pub(crate) fn check_value(label: &str, matcher: &Matcher, value: Option<&serde_json::Value>) -> Vec<CheckResult> {
    use serde_json::Value;
    let expected = matcher.describe(Unit::Plain);
    let Some(value) = value else {
        return vec![CheckResult::failed(label, expected, "missing from the response".into())];
    };
    let as_text = crate::util::text::value_text(value);
    match (matcher, value) {
        (Matcher::Equals(Scalar::Bool(wanted)), Value::Bool(seen)) => {
            vec![CheckResult::new(label, expected, seen.to_string(), wanted == seen)]
        }
        (Matcher::Equals(Scalar::Null), _) => {
            vec![CheckResult::new(label, expected, as_text, value.is_null())]
        }
        (Matcher::Equals(Scalar::Text(wanted)), _) => {
            vec![CheckResult::new(label, expected, excerpt(&as_text), as_text == wanted.source)]
        }
        (Matcher::Version(_), _) => vec![check_version(label, matcher, &as_text)],
        (Matcher::Lines(_), _) => check_text(label, matcher, &as_text),
        (_, Value::Number(n)) => match n.as_f64() {
            Some(number) => vec![check_number(label, matcher, number, Unit::Plain)],
            None => vec![CheckResult::failed(label, expected, format!("{n} is out of range"))],
        },
        (_, Value::String(s)) if s.trim().parse::<f64>().is_ok() => {
            let number = s.trim().parse::<f64>().unwrap_or(f64::NAN);
            vec![check_number(label, matcher, number, Unit::Plain)]
        }
        _ => vec![CheckResult::failed(label, expected, format!("{} is not a number", excerpt(&as_text)))],
    }
}

/// Line patterns evaluated while output streams by, so a gigabyte of output needs no memory.
pub(crate) struct LineScanner {
    label: String,
    patterns: Vec<(LinePattern, Compiled)>,
    lines: u64,
    bytes: u64,
}

enum Compiled {
    Contains(String, Option<(u64, String)>),
    Regex(regex::Regex, Option<(u64, String)>),
    Empty,
}

impl LineScanner {
    /// Compiles the patterns (which must be resolved); a bad regex is an error.
    pub(crate) fn new(label: &str, patterns: &[LinePattern]) -> Result<LineScanner, MatcherError> {
        let mut compiled = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            let test = match &pattern.test {
                LineTest::Contains(text) => Compiled::Contains(text.source.clone(), None),
                LineTest::Regex(source) => Compiled::Regex(compile_regex(&source.source)?, None),
                LineTest::Empty => Compiled::Empty,
            };
            compiled.push((pattern.clone(), test));
        }
        Ok(LineScanner { label: label.to_string(), patterns: compiled, lines: 0, bytes: 0 })
    }

    /// Feeds one line (without its line ending).
    pub(crate) fn line(&mut self, line: &str) {
        self.lines += 1;
        let number = self.lines;
        for (_, test) in &mut self.patterns {
            match test {
                Compiled::Contains(needle, first) => {
                    if first.is_none() && line.contains(needle.as_str()) {
                        *first = Some((number, excerpt(line)));
                    }
                }
                Compiled::Regex(regex, first) => {
                    if first.is_none() && regex.is_match(line) {
                        *first = Some((number, excerpt(line)));
                    }
                }
                Compiled::Empty => {}
            }
        }
    }

    /// Counts non-whitespace output, for the `""` (empty) pattern.
    pub(crate) fn bytes(&mut self, count: u64) {
        self.bytes += count;
    }

    pub(crate) fn finish(self) -> Vec<CheckResult> {
        let label = self.label;
        let lines = self.lines;
        let bytes = self.bytes;
        self.patterns
            .into_iter()
            .map(|(pattern, test)| {
                let expected = pattern.to_string();
                let (passed, actual) = match test {
                    Compiled::Empty => {
                        let empty = bytes == 0;
                        let seen = if empty { "empty".to_string() } else { format!("{lines} lines") };
                        (empty != pattern.negate, seen)
                    }
                    Compiled::Contains(_, first) | Compiled::Regex(_, first) => match (first, pattern.negate) {
                        (Some((n, line)), false) => (true, format!("line {n}: {line}")),
                        (None, false) => (false, format!("no such line in {lines} lines")),
                        (None, true) => (true, format!("none in {lines} lines")),
                        (Some((n, line)), true) => (false, format!("line {n}: {line}")),
                    },
                };
                CheckResult::new(&label, expected, actual, passed)
            })
            .collect()
    }
}

/// At most [`EVIDENCE_CHARS`] characters of `text`, on one line.
pub(crate) fn excerpt(text: &str) -> String {
    let line = text.trim();
    if line.chars().count() <= EVIDENCE_CHARS {
        line.to_string()
    } else {
        let cut: String = line.chars().take(EVIDENCE_CHARS).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matcher::{LinesMatcher, NumberMatcher, ValueMatcher, VersionMatcher};

    fn number(yaml: &str) -> Matcher {
        serde_saphyr::from_str::<NumberMatcher>(yaml).unwrap().0
    }

    #[test]
    fn numbers_explain_failures() {
        let result = check_number("used", &number("{lt: 90}"), 97.0, Unit::Percent);
        assert!(!result.passed);
        assert_eq!(result.message, "used: expected < 90%, saw 97%");
        assert_eq!(result.expected, "used < 90%");
        assert_eq!(result.actual, "97%");
        let result = check_number("available", &number("{gt: 20GiB}"), 25.0 * 1024f64.powi(3), Unit::Bytes);
        assert!(result.passed);
        assert!(check_number("status", &number("[200, 204]"), 204.0, Unit::Plain).passed);
        assert!(!check_number("status", &number("200"), 500.0, Unit::Plain).passed);
    }

    #[test]
    fn versions_compare_numerically() {
        let m = serde_saphyr::from_str::<VersionMatcher>("{version: \">=570\"}").unwrap().0;
        assert!(check_version("driver", &m, "575.57.08").passed);
        let failed = check_version("driver", &m, "550.120");
        assert!(!failed.passed);
        assert_eq!(failed.message, "driver: expected version >= 570, saw 550.120");
        assert!(!check_version("driver", &m, "N/A").passed);
    }

    #[test]
    fn line_patterns_quote_evidence() {
        let m = serde_saphyr::from_str::<LinesMatcher>("[\"ok\", \"!error\", \"/^GPU \\\\d+/\"]").unwrap().0;
        let results = check_text("stdout", &m, "GPU 0: fine\nall ok\nerror: disk full\n");
        assert!(results[0].passed);
        assert!(!results[1].passed);
        assert_eq!(results[1].actual, "line 3: error: disk full");
        assert!(results[2].passed);
        let empty = serde_saphyr::from_str::<LinesMatcher>("[\"\"]").unwrap().0;
        assert!(check_text("stderr", &empty, "  \n")[0].passed);
        assert!(!check_text("stderr", &empty, "warning\n")[0].passed);
    }

    #[test]
    fn json_values() {
        let gt0 = serde_saphyr::from_str::<ValueMatcher>("{gt: 0}").unwrap().0;
        let value = serde_json::json!(4_000_000_000u64);
        assert!(check_value("/models/0/size_vram", &gt0, Some(&value))[0].passed);
        let missing = &check_value("/models/0/size_vram", &gt0, None)[0];
        assert!(!missing.passed);
        assert_eq!(missing.message, "/models/0/size_vram: missing from the response");
        let text = serde_saphyr::from_str::<ValueMatcher>("llama3").unwrap().0;
        assert!(check_value("/name", &text, Some(&serde_json::json!("llama3")))[0].passed);
        let yes = serde_saphyr::from_str::<ValueMatcher>("true").unwrap().0;
        assert!(!check_value("/ok", &yes, Some(&serde_json::json!(false)))[0].passed);
    }
}

//! Matchers: how a check says what it expects. A scalar means equality; `{lt, le, gt, ge, eq, ne}`
//! compare numbers (sizes allowed); `{version: ">=570"}` compares dotted versions; a list is a set
//! of line patterns (`"text"`, `"!text"`, `"/re/"`, `"!/re/"`, `""`).
//!
//! Values that hold template syntax are kept as [`Deferred::Template`] and parsed after rendering.

use super::quantity::{BadSize, HumanBytes, Number, parse_quantity};
use super::template::{Template, TemplateError, has_template_syntax};
use super::version::{BadVersionReq, VersionReq};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// A value known when the runbook is read, or a template resolved when the step runs.
#[derive(Debug, Clone)]
pub enum Deferred<T> {
    Ready(T),
    Template(Template),
}

/// How a number is shown in plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Plain,
    Bytes,
    Percent,
    Celsius,
    Watts,
}

impl Unit {
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Plain => Number(value).to_string(),
            Unit::Bytes => HumanBytes(value).to_string(),
            Unit::Percent => format!("{}%", Number(value)),
            Unit::Celsius => format!("{} °C", Number(value)),
            Unit::Watts => format!("{} W", Number(value)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    fn from_key(key: &str) -> Option<CmpOp> {
        Some(match key {
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            _ => return None,
        })
    }

    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "≤",
            CmpOp::Gt => ">",
            CmpOp::Ge => "≥",
            CmpOp::Eq => "=",
            CmpOp::Ne => "≠",
        }
    }

    pub fn holds(self, seen: f64, wanted: f64) -> bool {
        match self {
            CmpOp::Lt => seen < wanted,
            CmpOp::Le => seen <= wanted,
            CmpOp::Gt => seen > wanted,
            CmpOp::Ge => seen >= wanted,
            CmpOp::Eq => seen == wanted,
            CmpOp::Ne => seen != wanted,
        }
    }

    fn version_symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

/// A literal the checked value must equal.
#[derive(Debug, Clone)]
pub enum Scalar {
    Number(Deferred<f64>),
    Text(Template),
    Bool(bool),
    Null,
}

/// One line pattern of a text matcher.
#[derive(Debug, Clone)]
pub struct LinePattern {
    /// The pattern as written, for messages and JSON.
    pub source: String,
    /// `!` in front: no line may match.
    pub negate: bool,
    pub test: LineTest,
}

#[derive(Debug, Clone)]
pub enum LineTest {
    /// Some line contains the text.
    Contains(Template),
    /// Some line matches the regex (checked when read, compiled when the step runs).
    Regex(Template),
    /// The whole text is empty (`""`), or with `!`, not empty.
    Empty,
}

#[derive(Debug, Clone)]
pub enum Matcher {
    Equals(Scalar),
    OneOf(Vec<f64>),
    Compare(Vec<(CmpOp, Deferred<f64>)>),
    Version(Deferred<VersionReq>),
    Lines(Vec<LinePattern>),
}

/// Which shapes a field accepts: a disk percentage cannot take line patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    Lines,
    Version,
    Any,
}

impl Kind {
    fn expecting(self) -> &'static str {
        match self {
            Kind::Number => "a number, a size like 20GiB, or comparisons like {lt: 90}",
            Kind::Text => "a text, or a list of line patterns like [\"ok\", \"!error\"]",
            Kind::Lines => "a list of line patterns like [\"ok\", \"!error\", \"/re/\"]",
            Kind::Version => "a version requirement like {version: \">=570\"}",
            Kind::Any => "a value, comparisons like {gt: 0}, {version: \">=1.2\"} or a list of line patterns",
        }
    }
}

/// A matcher value that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum MatcherError {
    #[error("invalid regex `/{pattern}/`: {reason}")]
    Regex { pattern: String, reason: String },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Size(#[from] BadSize),
    #[error(transparent)]
    Version(#[from] BadVersionReq),
}

/// Parses one line pattern (`"text"`, `"!text"`, `"/re/"`, `"/re/i"`, `"!/re/"`, `""`); text with
/// template syntax is kept as a template, rendered when the step runs.
pub(crate) fn parse_line_pattern(source: &str) -> Result<LinePattern, MatcherError> {
    line_pattern(source, false)
}

/// Like [`parse_line_pattern`], for text that was already rendered: never a template.
pub(crate) fn parse_rendered_line_pattern(source: &str) -> Result<LinePattern, MatcherError> {
    line_pattern(source, true)
}

fn line_pattern(source: &str, rendered: bool) -> Result<LinePattern, MatcherError> {
    let (negate, rest) = match source.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, source),
    };
    let regex_body = rest
        .strip_prefix('/')
        .and_then(|r| r.strip_suffix('/').map(|b| (b, false)).or_else(|| r.strip_suffix("/i").map(|b| (b, true))));
    let templated = |text: &str| !rendered && has_template_syntax(text);
    let test = if rest.is_empty() {
        LineTest::Empty
    } else if let Some((body, insensitive)) = regex_body {
        let pattern = if insensitive { format!("(?i){body}") } else { body.to_string() };
        if templated(&pattern) {
            LineTest::Regex(Template::parse(pattern)?)
        } else {
            check_regex(&pattern)?;
            LineTest::Regex(Template::literal(pattern))
        }
    } else if templated(rest) {
        LineTest::Contains(Template::parse(rest.to_string())?)
    } else {
        LineTest::Contains(Template::literal(rest))
    };
    Ok(LinePattern { source: source.to_string(), negate, test })
}

/// Checks a user regex's syntax without compiling it (compiling thousands of regexes is what
/// made listing a big KB slow); returns its number of capture groups.
pub(crate) fn check_regex(pattern: &str) -> Result<usize, MatcherError> {
    regex_syntax::Parser::new()
        .parse(pattern)
        .map(|hir| hir.properties().explicit_captures_len())
        .map_err(|err| bad_regex(pattern, &err))
}

/// Compiles a user regex, with the same one-line error as [`check_regex`].
pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, MatcherError> {
    regex::RegexBuilder::new(pattern).size_limit(1 << 22).build().map_err(|err| bad_regex(pattern, &err))
}

fn bad_regex(pattern: &str, err: &dyn std::fmt::Display) -> MatcherError {
    MatcherError::Regex { pattern: pattern.to_string(), reason: error_line(&err.to_string()) }
}

/// The `error: …` line of regex's multi-line messages.
fn error_line(text: &str) -> String {
    let text = text.to_string();
    text.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| l.trim_start().trim_start_matches("error:").trim().to_string())
        .unwrap_or(text)
}

/// A number or size, or a template rendered at run time.
pub(crate) fn parse_number(text: &str) -> Result<Deferred<f64>, MatcherError> {
    if has_template_syntax(text) {
        return Ok(Deferred::Template(Template::parse(text.to_string())?));
    }
    Ok(Deferred::Ready(parse_quantity(text)?))
}

fn parse_version_req(text: &str) -> Result<Deferred<VersionReq>, MatcherError> {
    if has_template_syntax(text) {
        return Ok(Deferred::Template(Template::parse(text.to_string())?));
    }
    Ok(Deferred::Ready(VersionReq::parse(text)?))
}

struct MatcherVisitor {
    kind: Kind,
}

impl MatcherVisitor {
    fn number<E: de::Error>(&self, value: f64) -> Result<Matcher, E> {
        match self.kind {
            Kind::Number | Kind::Any => Ok(Matcher::Equals(Scalar::Number(Deferred::Ready(value)))),
            Kind::Version => {
                let text = Number(value).to_string();
                Ok(Matcher::Version(parse_version_req(&format!("=={text}")).map_err(E::custom)?))
            }
            Kind::Text => Ok(Matcher::Equals(Scalar::Text(Template::literal(Number(value).to_string())))),
            Kind::Lines => Err(E::invalid_type(de::Unexpected::Float(value), &self.kind.expecting())),
        }
    }
}

impl<'de> Visitor<'de> for MatcherVisitor {
    type Value = Matcher;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.kind.expecting())
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Matcher, E> {
        match self.kind {
            Kind::Any => Ok(Matcher::Equals(Scalar::Bool(value))),
            _ => Err(E::invalid_type(de::Unexpected::Bool(value), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Matcher, E> {
        self.number(value as f64)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Matcher, E> {
        self.number(value as f64)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Matcher, E> {
        self.number(value)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Matcher, E> {
        match self.kind {
            Kind::Number => Ok(Matcher::Equals(Scalar::Number(parse_number(value).map_err(E::custom)?))),
            Kind::Version => Ok(Matcher::Version(parse_version_req(value).map_err(E::custom)?)),
            Kind::Text | Kind::Any => {
                Ok(Matcher::Equals(Scalar::Text(Template::parse(value.to_string()).map_err(E::custom)?)))
            }
            Kind::Lines => Err(E::custom(format!(
                "expected a list of line patterns, found the text \"{value}\": write [\"{value}\"]"
            ))),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Matcher, E> {
        match self.kind {
            Kind::Any => Ok(Matcher::Equals(Scalar::Null)),
            _ => Err(E::invalid_type(de::Unexpected::Unit, &self)),
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<Matcher, E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Matcher, A::Error> {
        if self.kind == Kind::Number {
            let mut values = Vec::new();
            while let Some(value) = seq.next_element::<f64>()? {
                values.push(value);
            }
            if values.is_empty() {
                return Err(de::Error::custom("empty matcher list: give at least one value"));
            }
            return Ok(Matcher::OneOf(values));
        }
        if self.kind == Kind::Version {
            return Err(de::Error::custom(
                "expected a version requirement like \">=570\" or {version: \">=12.0, <13\"}, found a list",
            ));
        }
        let mut patterns = Vec::new();
        while let Some(source) = seq.next_element::<String>()? {
            patterns.push(parse_line_pattern(&source).map_err(de::Error::custom)?);
        }
        if patterns.is_empty() {
            return Err(de::Error::custom(
                "empty matcher list: give at least one line pattern, like \"ok\", \"!error\" or \"/re/\"",
            ));
        }
        Ok(Matcher::Lines(patterns))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Matcher, A::Error> {
        if matches!(self.kind, Kind::Text | Kind::Lines) {
            return Err(de::Error::custom(format!("expected {}, found a mapping", self.kind.expecting())));
        }
        let mut comparisons = Vec::new();
        let mut version = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "version" {
                let text: NumberOrText = map.next_value()?;
                version = Some(parse_version_req(&text.0).map_err(de::Error::custom)?);
            } else if let Some(op) = CmpOp::from_key(&key) {
                let text: NumberOrText = map.next_value()?;
                comparisons.push((op, text));
            } else {
                return Err(de::Error::custom(format!(
                    "unknown comparison `{key}`: use lt, le, gt, ge, eq, ne or version"
                )));
            }
        }
        match (version, comparisons.is_empty()) {
            (Some(_), false) => Err(de::Error::custom(
                "mix of `version` and number comparisons: write them all in the version, like {version: \">=12.0, <13\"}",
            )),
            (Some(req), true) => Ok(Matcher::Version(req)),
            (None, true) => Err(de::Error::custom("empty matcher: give a comparison like {lt: 90}")),
            (None, false) if self.kind == Kind::Version => {
                let terms: Vec<String> =
                    comparisons.iter().map(|(op, value)| format!("{}{}", op.version_symbol(), value.0)).collect();
                Ok(Matcher::Version(parse_version_req(&terms.join(", ")).map_err(de::Error::custom)?))
            }
            (None, false) => {
                let mut parsed = Vec::with_capacity(comparisons.len());
                for (op, value) in comparisons {
                    parsed.push((op, parse_number(&value.0).map_err(de::Error::custom)?));
                }
                Ok(Matcher::Compare(parsed))
            }
        }
    }
}

/// A comparison operand as text, whether YAML wrote it as a number or a string.
struct NumberOrText(String);

impl<'de> Deserialize<'de> for NumberOrText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumberOrText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, a size like 20GiB, or a version")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumberOrText, E> {
                Ok(NumberOrText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumberOrText, E> {
                Ok(NumberOrText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumberOrText, E> {
                Ok(NumberOrText(Number(v).to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NumberOrText, E> {
                Ok(NumberOrText(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

macro_rules! matcher_field {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Matcher);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(MatcherVisitor { kind: $kind }).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(serializer)
            }
        }

        impl AsRef<Matcher> for $name {
            fn as_ref(&self) -> &Matcher {
                &self.0
            }
        }

        impl AsMut<Matcher> for $name {
            fn as_mut(&mut self) -> &mut Matcher {
                &mut self.0
            }
        }
    };
}

matcher_field!(
    /// A matcher on a number: equality, one of a list, or comparisons.
    NumberMatcher,
    Kind::Number
);
matcher_field!(
    /// A matcher on a short text such as a GPU name: equality or line patterns.
    TextMatcher,
    Kind::Text
);
matcher_field!(
    /// A matcher on a dotted version string.
    VersionMatcher,
    Kind::Version
);
matcher_field!(
    /// A matcher on any JSON value (http `json:` pointers).
    ValueMatcher,
    Kind::Any
);
matcher_field!(
    /// A matcher on output or file text: only line patterns.
    LinesMatcher,
    Kind::Lines
);

// ---- plain words, for `show`, the site and failure messages ----

impl fmt::Display for LinePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.test, self.negate) {
            (LineTest::Empty, false) => write!(f, "is empty"),
            (LineTest::Empty, true) => write!(f, "is not empty"),
            (LineTest::Contains(text), false) => {
                write!(f, "has a line containing \"{}\"", text.source)
            }
            (LineTest::Contains(text), true) => {
                write!(f, "has no line containing \"{}\"", text.source)
            }
            (LineTest::Regex(_), false) => write!(f, "has a line matching {}", self.regex_source()),
            (LineTest::Regex(_), true) => write!(f, "has no line matching {}", self.regex_source()),
        }
    }
}

impl LinePattern {
    fn regex_source(&self) -> &str {
        self.source.strip_prefix('!').unwrap_or(&self.source)
    }
}

impl<T: fmt::Display> fmt::Display for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deferred::Ready(value) => value.fmt(f),
            Deferred::Template(template) => f.write_str(&template.source),
        }
    }
}

impl Matcher {
    /// The expectation in words, with numbers shown in `unit`: `< 90%`, `≥ 20.0 GiB`.
    pub fn describe(&self, unit: Unit) -> String {
        let number = |value: &Deferred<f64>| match value {
            Deferred::Ready(v) => unit.format(*v),
            Deferred::Template(t) => t.source.clone(),
        };
        match self {
            Matcher::Equals(Scalar::Number(value)) => format!("= {}", number(value)),
            Matcher::Equals(Scalar::Text(text)) => format!("is \"{}\"", text.source),
            Matcher::Equals(Scalar::Bool(value)) => format!("is {value}"),
            Matcher::Equals(Scalar::Null) => "is null".to_string(),
            Matcher::OneOf(values) => {
                let values: Vec<String> = values.iter().map(|v| unit.format(*v)).collect();
                format!("is one of {}", values.join(", "))
            }
            Matcher::Compare(terms) => terms
                .iter()
                .map(|(op, value)| format!("{} {}", op.symbol(), number(value)))
                .collect::<Vec<_>>()
                .join(" and "),
            Matcher::Version(req) => format!("version {req}"),
            Matcher::Lines(patterns) => patterns.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        }
    }
}

impl Serialize for Matcher {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.describe(Unit::Plain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: for<'de> Deserialize<'de>>(yaml: &str) -> Result<T, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn number_matchers() {
        let m: NumberMatcher = parse("{lt: 90}").unwrap();
        assert_eq!(m.0.describe(Unit::Percent), "< 90%");
        let m: NumberMatcher = parse("{gt: 20GiB}").unwrap();
        assert_eq!(m.0.describe(Unit::Bytes), "> 20.0 GiB");
        let m: NumberMatcher = parse("200").unwrap();
        assert_eq!(m.0.describe(Unit::Plain), "= 200");
        let m: NumberMatcher = parse("[200, 204]").unwrap();
        assert_eq!(m.0.describe(Unit::Plain), "is one of 200, 204");
        let m: NumberMatcher = parse("{ge: \"{{ min }}\"}").unwrap();
        assert!(matches!(m.0, Matcher::Compare(ref t) if matches!(t[0].1, Deferred::Template(_))));
    }

    #[test]
    fn number_matcher_errors() {
        assert!(parse::<NumberMatcher>("{less: 3}").unwrap_err().contains("unknown comparison `less`"));
        assert!(parse::<NumberMatcher>("{lt: 20 parsecs}").unwrap_err().contains("bad size"));
        assert!(parse::<NumberMatcher>("[]").unwrap_err().contains("empty matcher list"));
        assert!(parse::<NumberMatcher>("{}").unwrap_err().contains("empty matcher"));
    }

    #[test]
    fn version_matchers() {
        let m: VersionMatcher = parse("{version: \">=570\"}").unwrap();
        assert_eq!(m.0.describe(Unit::Plain), "version >= 570");
        let m: VersionMatcher = parse("{ge: 7.0}").unwrap();
        assert_eq!(m.0.describe(Unit::Plain), "version >= 7");
        let m: VersionMatcher = parse("\"12.8\"").unwrap();
        assert_eq!(m.0.describe(Unit::Plain), "version == 12.8");
        assert!(parse::<VersionMatcher>("{version: latest}").unwrap_err().contains("bad version requirement"));
    }

    #[test]
    fn line_patterns() {
        let m: LinesMatcher = parse("[\"ok\", \"!error\", \"/^GPU \\\\d+/\", \"\"]").unwrap();
        assert_eq!(
            m.0.describe(Unit::Plain),
            "has a line containing \"ok\", has no line containing \"error\", has a line matching /^GPU \\d+/, is empty"
        );
        assert!(parse::<LinesMatcher>("[]").unwrap_err().contains("empty matcher list"));
        assert!(parse::<LinesMatcher>("[\"/(unclosed/\"]").unwrap_err().contains("invalid regex"));
        assert!(parse::<LinesMatcher>("ok").unwrap_err().contains("write [\"ok\"]"));
    }

    #[test]
    fn any_matcher_accepts_every_shape() {
        assert!(matches!(parse::<ValueMatcher>("true").unwrap().0, Matcher::Equals(Scalar::Bool(true))));
        assert!(matches!(parse::<ValueMatcher>("{gt: 0}").unwrap().0, Matcher::Compare(_)));
        assert!(matches!(parse::<ValueMatcher>("[\"llama\"]").unwrap().0, Matcher::Lines(_)));
    }
}

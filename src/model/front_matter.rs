//! Front matter: YAML (`---`) or TOML (`+++`), shared with the author's site generator.
//!
//! The runbook keys are read into [`FrontMatter`]; every other key (Hugo's `weight`, Docusaurus'
//! `sidebar_position`, Jekyll's `layout`, a tool's own table) is kept as `extra` metadata, never an
//! error. A key one or two edits away from a runbook key is reported by the parser as a likely typo.

use super::alerting::{OnAlert, Watch};
use super::markdown::Fragment;
use super::step::{EnvName, Severity, StepDefaults, VarName};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// Every runbook front-matter key, for "did you mean" hints.
pub(crate) const FRONT_MATTER_FIELDS: [&str; 14] = [
    "id", "title", "aliases", "summary", "tags", "category", "severity", "owner", "vars", "secrets", "defaults",
    "alerts", "on_alert", "watch",
];

/// Keys read by runbook although they are not its own: they stay in `extra` too, since they
/// belong to the site generator (`description` stands in for a missing `summary`).
const BORROWED_FIELDS: [&str; 1] = ["description"];

/// How the front matter is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Between `---` lines (Jekyll, Hugo, Docusaurus, mkdocs).
    Yaml,
    /// Between `+++` lines (Hugo, Zola).
    Toml,
}

/// The runbook keys of the front matter. Unknown keys are ignored here (the parser keeps them as
/// `extra`); lists may be written as one string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FrontMatter {
    pub id: Option<Text>,
    pub title: Option<Text>,
    #[serde(default)]
    pub aliases: StringList,
    pub summary: Option<Text>,
    pub description: Option<Text>,
    #[serde(default)]
    pub tags: StringList,
    pub category: Option<Text>,
    pub severity: Option<Severity>,
    pub owner: Option<Text>,
    #[serde(default)]
    pub vars: BTreeMap<VarName, serde_json::Value>,
    #[serde(default)]
    pub secrets: OneOrMany<EnvName>,
    #[serde(default)]
    pub defaults: StepDefaults,
    /// Alert names this runbook answers (`alertname` of Prometheus/Grafana alerts).
    #[serde(default)]
    pub alerts: StringList,
    /// `diagnose`: an alert may run the runbook's read-only steps.
    pub on_alert: Option<OnAlert>,
    /// Checks `runbook watch` runs on a schedule.
    pub watch: Option<Watch>,
}

impl FrontMatter {
    /// Takes over the field named `key` from `other` (a front matter holding only that key).
    fn take_field(&mut self, key: &str, other: FrontMatter) {
        match key {
            "id" => self.id = other.id,
            "title" => self.title = other.title,
            "aliases" => self.aliases = other.aliases,
            "summary" => self.summary = other.summary,
            "description" => self.description = other.description,
            "tags" => self.tags = other.tags,
            "category" => self.category = other.category,
            "severity" => self.severity = other.severity,
            "owner" => self.owner = other.owner,
            "vars" => self.vars = other.vars,
            "secrets" => self.secrets = other.secrets,
            "defaults" => self.defaults = other.defaults,
            "alerts" => self.alerts = other.alerts,
            "on_alert" => self.on_alert = other.on_alert,
            "watch" => self.watch = other.watch,
            _ => {}
        }
    }
}

/// A one-line value: text, or a number or boolean read as text (`title: 2024`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor).map(Text)
    }
}

struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("text")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// A list of strings that may also be written as one string (`tags: gpu`). Items that are
/// mappings with a `label` (Docusaurus' tag objects) count by their label.
#[derive(Debug, Default, Clone)]
pub(crate) struct StringList(pub Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StringList, E> {
                Ok(StringList(vec![v.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StringList, E> {
                Ok(StringList(vec![v.to_string()]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StringList, E> {
                Ok(StringList(vec![v.to_string()]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<StringList, E> {
                Ok(StringList::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<ListItem>()? {
                    items.extend(item.0);
                }
                Ok(StringList(items))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// One item of a [`StringList`]: a scalar, or a mapping with a `label`.
struct ListItem(Option<String>);

impl<'de> Deserialize<'de> for ListItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, or a mapping with a `label`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListItem, E> {
                Ok(ListItem(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ListItem, E> {
                Ok(ListItem(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ListItem, E> {
                Ok(ListItem(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ListItem, E> {
                Ok(ListItem(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ListItem, E> {
                Ok(ListItem(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ListItem, E> {
                Ok(ListItem(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListItem, A::Error> {
                let mut label = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value: serde_json::Value = map.next_value()?;
                    if key == "label"
                        && let serde_json::Value::String(text) = value
                    {
                        label = Some(text);
                    }
                }
                Ok(ListItem(label))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Any YAML value as JSON. Mapping keys JSON cannot hold — `~`, a number, a list (`- ?` is a
/// mapping with a null key) — become their text, so that valid YAML always reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lenient(pub serde_json::Value);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LenientVisitor).map(Lenient)
    }
}

struct LenientVisitor;

impl<'de> Visitor<'de> for LenientVisitor {
    type Value = serde_json::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map(serde_json::Value::Number).unwrap_or_else(|| v.to_string().into()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(LenientVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Lenient(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some((Lenient(key), Lenient(value))) = map.next_entry()? {
            let key = match key {
                serde_json::Value::String(text) => text,
                serde_json::Value::Null => "~".to_string(),
                other => other.to_string(),
            };
            out.insert(key, value);
        }
        Ok(serde_json::Value::Object(out))
    }
}

/// A list that may also be written as its one item (`secrets: API_TOKEN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<T> {
            Many(Vec<T>),
            One(T),
        }
        // `untagged` hides the item's own message; try the list first, then say what a single
        // item lacked.
        let value = serde_json::Value::deserialize(deserializer)?;
        match value {
            serde_json::Value::Null => Ok(OneOrMany(Vec::new())),
            serde_json::Value::Array(_) => {
                Vec::<T>::deserialize(value).map(OneOrMany).map_err(|e| de::Error::custom(e.to_string()))
            }
            other => match Either::<T>::deserialize(other) {
                Ok(Either::One(item)) => Ok(OneOrMany(vec![item])),
                Ok(Either::Many(items)) => Ok(OneOrMany(items)),
                Err(err) => Err(de::Error::custom(err.to_string())),
            },
        }
    }
}

/// A file cut into its front matter and its body.
#[derive(Debug, Default)]
pub(crate) struct Split {
    pub fragment: Option<Fragment>,
    /// Byte offset where the Markdown starts.
    pub body_start: usize,
    /// Whether the Markdown parser recognizes the block itself; when not (it is empty, or starts
    /// with a blank line, as Jekyll allows), its lines must be blanked before parsing.
    pub parser_sees_it: bool,
    /// The file starts with `---` / `+++` that never closes (line 1).
    pub unclosed: bool,
}

/// Finds the front matter as the generators do: the file's first line is `---` (YAML) or
/// `+++` (TOML), up to the next such line (`...` also ends YAML).
pub(crate) fn split(text: &str) -> Split {
    let mut lines = text.split_inclusive('\n');
    let Some(first) = lines.next() else { return Split::default() };
    let format = match first.trim_end() {
        "---" => Format::Yaml,
        "+++" => Format::Toml,
        _ => return Split::default(),
    };
    let mut offset = first.len();
    let mut content = String::new();
    let mut first_is_blank = None;
    for line in lines {
        let bare = line.trim_end();
        let closes = match format {
            Format::Yaml => bare == "---" || bare == "...",
            Format::Toml => bare == "+++",
        };
        if closes {
            let fragment = Fragment { text: content, first_line: 2, indent: 0, format };
            let parser_sees_it = first_is_blank == Some(false);
            return Split {
                fragment: Some(fragment),
                body_start: offset + line.len(),
                parser_sees_it,
                unclosed: false,
            };
        }
        first_is_blank.get_or_insert(bare.trim().is_empty());
        content.push_str(line.trim_end_matches(['\n', '\r']));
        content.push('\n');
        offset += line.len();
    }
    let unclosed = text[first.len()..].lines().any(|l| !l.trim().is_empty());
    Split { unclosed, ..Split::default() }
}

/// Whether `key` is one runbook reads (its own, or borrowed like `description`).
pub(crate) fn is_known(key: &str) -> bool {
    FRONT_MATTER_FIELDS.contains(&key) || BORROWED_FIELDS.contains(&key)
}

/// Whether `key` is kept as `extra` metadata: every key that is not a runbook key.
pub(crate) fn is_extra(key: &str) -> bool {
    !FRONT_MATTER_FIELDS.contains(&key)
}

/// The runbook key `key` is probably a misspelling of: the same key in another case, or one
/// within one edit (keys of four letters or fewer) or two edits (longer ones). Keys of the
/// generators that happen to be close (`hide` and `id`) stay apart by that rule.
pub(crate) fn near_miss(key: &str) -> Option<&'static str> {
    let lower = key.to_lowercase();
    FRONT_MATTER_FIELDS
        .iter()
        .map(|known| (strsim::osa_distance(&lower, known), *known))
        .filter(|(distance, known)| {
            let shorter = lower.chars().count().min(known.len());
            let allowed = if shorter <= 4 { 1 } else { 2 };
            *distance <= allowed
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Where a top-level key is written, for diagnostics about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeySite {
    pub key: String,
    /// Line in the `.md` file.
    pub line: usize,
    /// Column of the key's first character.
    pub column: usize,
    /// Column of the value after the key (or just after the separator when it is empty).
    pub value_column: usize,
}

/// The top-level keys of a front-matter fragment (`text` starts at `first_line` of the file),
/// in order. Only block-style YAML mappings and TOML key/value lines before the first table are
/// looked at: what front matter is in practice.
pub(crate) fn key_sites(text: &str, first_line: usize, format: Format) -> Vec<KeySite> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let found = match format {
            Format::Yaml => yaml_key(line),
            Format::Toml => {
                if line.trim_start().starts_with('[') {
                    break;
                }
                toml_key(line)
            }
        };
        if let Some((key, column, value_column)) = found {
            out.push(KeySite { key, line: first_line + i, column, value_column });
        }
    }
    out
}

/// `key: value` at the start of a line → (key, column, value column).
fn yaml_key(line: &str) -> Option<(String, usize, usize)> {
    let first = line.chars().next()?;
    if first.is_whitespace() || matches!(first, '#' | '-' | '[' | '{' | '}' | ']') {
        return None;
    }
    let (key, rest_at) = match first {
        '"' | '\'' => {
            let end = line[1..].find(first)? + 1;
            (line[1..end].to_string(), end + 1)
        }
        _ => {
            let colon = find_key_colon(line)?;
            (line[..colon].trim_end().to_string(), colon)
        }
    };
    let rest = line[rest_at..].strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    let value_at = rest_at + 1 + (rest.len() - rest.trim_start().len());
    Some((key, 1, line[..value_at].chars().count() + 1))
}

/// The byte of the `:` ending a plain YAML key: followed by a space or the end of the line.
fn find_key_colon(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    (0..bytes.len()).find(|&i| bytes[i] == b':' && bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace()))
}

/// `key = value` → (key, column, value column).
fn toml_key(line: &str) -> Option<(String, usize, usize)> {
    let indent = line.len() - line.trim_start().len();
    let rest = &line[indent..];
    let (key, after) = match rest.chars().next()? {
        '"' | '\'' => {
            let quote = rest.chars().next()?;
            let end = rest[1..].find(quote)? + 1;
            (rest[1..end].to_string(), &rest[end + 1..])
        }
        c if c.is_alphanumeric() || c == '_' || c == '-' => {
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))?;
            (rest[..end].to_string(), &rest[end..])
        }
        _ => return None,
    };
    let after_eq = after.trim_start().strip_prefix('=')?;
    let value_at = line.len() - after_eq.trim_start().len();
    Some((key, indent + 1, line[..value_at].chars().count() + 1))
}

/// A TOML value as JSON: dates become their text.
pub(crate) fn toml_to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map(J::Number).unwrap_or(J::Null),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => J::Object(table.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}

/// Reads the runbook keys of `map`. When a value has the wrong type, every other key is still
/// read; the failures come back as (key, message).
pub(crate) fn from_map(map: &serde_json::Map<String, serde_json::Value>) -> (FrontMatter, Vec<(String, String)>) {
    let known: serde_json::Map<String, serde_json::Value> =
        map.iter().filter(|(k, _)| is_known(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Ok(front) = serde_json::from_value::<FrontMatter>(serde_json::Value::Object(known.clone())) {
        return (front, Vec::new());
    }
    let mut front = FrontMatter::default();
    let mut failures = Vec::new();
    for (key, value) in known {
        let single = serde_json::Value::Object([(key.clone(), value)].into_iter().collect());
        match serde_json::from_value::<FrontMatter>(single) {
            Ok(part) => front.take_field(&key, part),
            Err(err) => failures.push((key, err.to_string())),
        }
    }
    (front, failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_near_misses_and_generator_keys_are_not() {
        for (typo, key) in [
            ("tittle", "title"),
            ("titel", "title"),
            ("sumary", "summary"),
            ("tag", "tags"),
            ("alias", "aliases"),
            ("Title", "title"),
            ("owners", "owner"),
            ("secret", "secrets"),
        ] {
            assert_eq!(near_miss(typo), Some(key), "{typo}");
        }
        for generator_key in [
            "hide",
            "weight",
            "draft",
            "description",
            "sidebar_position",
            "slug",
            "layout",
            "linkTitle",
            "author",
            "date",
            "type",
            "url",
            "categories",
            "cascade",
            "toc",
            "icon",
            "menu",
            "lang",
            "keywords",
            "series",
            "status",
            "image",
            "name",
            "label",
            "runme",
            "nav_order",
            "parent",
            "permalink",
            "bookCollapseSection",
            "subtitle",
            "version",
        ] {
            assert_eq!(near_miss(generator_key), None, "{generator_key}");
        }
    }

    #[test]
    fn key_sites_of_yaml_and_toml() {
        let yaml = "title: A\n\"quoted key\": 1\n  nested: x\n- item\nurl: http://x\nempty:\n# comment: no\n";
        let sites = key_sites(yaml, 2, Format::Yaml);
        let keys: Vec<(&str, usize, usize)> = sites.iter().map(|s| (s.key.as_str(), s.line, s.value_column)).collect();
        assert_eq!(keys, [("title", 2, 8), ("quoted key", 3, 15), ("url", 6, 6), ("empty", 7, 7)]);
        let toml = "title = \"A\"\nweight=3\n[params]\nother = 1\n";
        let sites = key_sites(toml, 2, Format::Toml);
        let keys: Vec<(&str, usize, usize)> = sites.iter().map(|s| (s.key.as_str(), s.line, s.value_column)).collect();
        assert_eq!(keys, [("title", 2, 9), ("weight", 3, 8)]);
    }

    #[test]
    fn a_bad_value_does_not_lose_the_others() {
        let map =
            serde_json::json!({"title": 2024, "tags": "gpu", "severity": "high", "secrets": "TOKEN", "weight": 3});
        let (front, failures) = from_map(map.as_object().unwrap());
        assert_eq!(front.title, Some(Text("2024".into())));
        assert_eq!(front.tags.0, ["gpu"]);
        assert_eq!(front.secrets.0, [EnvName("TOKEN".into())]);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, "severity");
    }

    #[test]
    fn docusaurus_tag_objects_count_by_label() {
        let map = serde_json::json!({"tags": [{"label": "Ops", "permalink": "/ops"}, "gpu"]});
        let (front, failures) = from_map(map.as_object().unwrap());
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(front.tags.0, ["Ops", "gpu"]);
    }

    #[test]
    fn splits_like_the_generators() {
        let split = split("---\ntitle: A\r\n---\n# Body\n");
        let fragment = split.fragment.unwrap();
        assert_eq!((fragment.text.as_str(), fragment.first_line, split.body_start), ("title: A\n", 2, 18));
        assert!(split.parser_sees_it);
        let empty = super::split("---\n---\n# Jekyll page\n");
        assert_eq!(empty.fragment.unwrap().text, "");
        assert!(!empty.parser_sees_it, "an empty block is no metadata to the Markdown parser");
        let toml = super::split("+++\ntitle = \"A\"\n+++\n");
        assert_eq!(toml.fragment.unwrap().format, Format::Toml);
        assert!(super::split("---\nnever closed\n").unclosed);
        assert!(super::split("# No front matter\n---\n").fragment.is_none());
    }

    #[test]
    fn yaml_keys_json_cannot_hold_are_text() {
        let value: Lenient = serde_saphyr::from_str("aliases:\n  - ?\n  - where\n1: one\n").unwrap();
        assert_eq!(value.0, serde_json::json!({"aliases": [{"~": null}, "where"], "1": "one"}));
        let (front, failures) = from_map(value.0.as_object().unwrap());
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(front.aliases.0, ["where"]);
    }

    #[test]
    fn toml_dates_are_text() {
        let table: toml::Table = toml::from_str("date = 2024-01-02T03:04:05Z\nn = [1, 2]\n").unwrap();
        let json = toml_to_json(toml::Value::Table(table));
        assert_eq!(json["date"], "2024-01-02T03:04:05Z");
        assert_eq!(json["n"][1], 2);
    }
}

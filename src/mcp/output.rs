//! What leaves the MCP server: secret values masked in every string, and results cut to a size a
//! model's context can take — saying what was cut, so the model knows to ask for less or more.

use crate::exec::redact::Redactor;
use serde_json::Value;

/// A string is never cut below this many bytes: a few lines stay readable.
const KEEP_AT_LEAST: usize = 256;
/// Put where text was cut.
const MARK: &str = "…";

/// One cut made to fit the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cut {
    /// Where, as a JSON pointer (`/steps/3/stdout_tail`).
    pub path: String,
    pub kept: usize,
    pub total: usize,
    /// `bytes` for text, `items` for lists.
    pub unit: &'static str,
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {} of {} {} kept", self.path, self.kept, self.total, self.unit)
    }
}

/// Masks every secret value in the strings (and keys) of `value`.
pub(super) fn redact(value: &mut Value, redactor: &Redactor) {
    if redactor.is_empty() {
        return;
    }
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(masked) = redactor.redact(text) {
                *text = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, redactor)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                redact(&mut item, redactor);
                map.insert(redactor.redact(&key).into_owned(), item);
            }
        }
        _ => {}
    }
}

/// Cuts `value` until its JSON takes at most `max` bytes: the longest strings first (keeping
/// their start, or their end for `…_tail` fields), then the longest lists (keeping their first
/// items). Returns the cuts made, in order; empty when it fit.
pub(super) fn cap(value: &mut Value, max: usize) -> Vec<Cut> {
    let mut cuts: Vec<Cut> = Vec::new();
    loop {
        let size = json_len(value);
        if size <= max {
            break;
        }
        let excess = size - max;
        let cut = match longest(value, &Leaf::String) {
            // A string already cut to the least it keeps cannot shrink further.
            Some((path, len)) if len > KEEP_AT_LEAST + MARK.len() => cut_string(value, &path, len, excess),
            _ => match longest(value, &Leaf::Array) {
                Some((path, len)) if len > 1 => cut_array(value, &path, len, excess),
                _ => None,
            },
        };
        let Some(cut) = cut else { break };
        match cuts.iter_mut().find(|c| c.path == cut.path) {
            Some(earlier) => earlier.kept = cut.kept,
            None => cuts.push(cut),
        }
    }
    cuts
}

/// `text` cut to at most `max` bytes, with a last line saying so.
pub(super) fn cap_text(text: String, max: usize, what_to_do: &str) -> String {
    if text.len() <= max {
        return text;
    }
    let keep = floor_char_boundary(&text, max.saturating_sub(200));
    format!("{}{MARK}\n\n[cut: {keep} of {} bytes shown; {what_to_do}]\n", &text[..keep], text.len())
}

fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map(|v| v.len()).unwrap_or(0)
}

enum Leaf {
    String,
    Array,
}

/// The JSON pointer and length (bytes, or items) of the longest string or array in `value`.
fn longest(value: &Value, leaf: &Leaf) -> Option<(String, usize)> {
    let mut best: Option<(String, usize)> = None;
    let mut stack: Vec<(String, &Value)> = vec![(String::new(), value)];
    while let Some((path, value)) = stack.pop() {
        let len = match (leaf, value) {
            (Leaf::String, Value::String(s)) => Some(s.len()),
            (Leaf::Array, Value::Array(items)) => Some(items.len()),
            _ => None,
        };
        if let Some(len) = len
            && best.as_ref().is_none_or(|(_, b)| len > *b)
        {
            best = Some((path.clone(), len));
        }
        match value {
            Value::Array(items) => {
                stack.extend(items.iter().enumerate().map(|(i, item)| (format!("{path}/{i}"), item)));
            }
            Value::Object(map) => stack.extend(map.iter().map(|(k, item)| (format!("{path}/{}", escape(k)), item))),
            _ => {}
        }
    }
    best
}

/// A JSON-pointer path segment (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn cut_string(value: &mut Value, path: &str, len: usize, excess: usize) -> Option<Cut> {
    let Some(Value::String(text)) = value.pointer_mut(path) else { return None };
    let want = len.saturating_sub(excess + MARK.len()).max(KEEP_AT_LEAST);
    let keeps_end = path.rsplit('/').next().is_some_and(|key| key.ends_with("_tail"));
    *text = if keeps_end {
        let start = ceil_char_boundary(text, len - want);
        format!("{MARK}{}", &text[start..])
    } else {
        let end = floor_char_boundary(text, want);
        format!("{}{MARK}", &text[..end])
    };
    Some(Cut { path: path.to_string(), kept: want, total: len, unit: "bytes" })
}

fn cut_array(value: &mut Value, path: &str, len: usize, excess: usize) -> Option<Cut> {
    let Some(Value::Array(items)) = value.pointer_mut(path) else { return None };
    let average = items.iter().map(json_len).sum::<usize>() / len.max(1);
    let drop = excess.div_ceil(average.max(1)).clamp(1, len - 1);
    items.truncate(len - drop);
    Some(Cut { path: path.to_string(), kept: len - drop, total: len, unit: "items" })
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_fits_is_left_alone() {
        let mut value = json!({"a": "short", "b": [1, 2, 3]});
        let before = value.clone();
        assert!(cap(&mut value, 1000).is_empty());
        assert_eq!(value, before);
    }

    #[test]
    fn the_longest_text_is_cut_first_and_the_cut_is_reported() {
        let mut value = json!({"markdown": "x".repeat(10_000), "id": "cuda-304"});
        let cuts = cap(&mut value, 2_000);
        assert!(json_len(&value) <= 2_000, "{}", json_len(&value));
        assert_eq!(value["id"], "cuda-304");
        let markdown = value["markdown"].as_str().unwrap();
        assert!(markdown.ends_with(MARK) && markdown.starts_with("xxx"));
        assert_eq!(cuts.len(), 1);
        assert_eq!(cuts[0].path, "/markdown");
        assert_eq!(cuts[0].total, 10_000);
        assert_eq!(cuts[0].to_string(), format!("`/markdown`: {} of 10000 bytes kept", cuts[0].kept));
    }

    #[test]
    fn output_tails_keep_their_end() {
        let text = format!("{}THE END", "a".repeat(5_000));
        let mut value = json!({"steps": [{"stdout_tail": text}]});
        let cuts = cap(&mut value, 1_000);
        let tail = value["steps"][0]["stdout_tail"].as_str().unwrap();
        assert!(tail.starts_with(MARK) && tail.ends_with("THE END"), "{tail}");
        assert_eq!(cuts[0].path, "/steps/0/stdout_tail");
    }

    #[test]
    fn many_small_items_are_dropped_from_the_end() {
        let hits: Vec<Value> = (0..500).map(|i| json!({"id": format!("runbook-{i}"), "line": i})).collect();
        let mut value = json!({"hits": hits});
        let cuts = cap(&mut value, 4_000);
        assert!(json_len(&value) <= 4_000);
        let kept = value["hits"].as_array().unwrap();
        assert_eq!(kept[0]["id"], "runbook-0");
        assert_eq!(cuts, vec![Cut { path: "/hits".into(), kept: kept.len(), total: 500, unit: "items" }]);
    }

    #[test]
    fn cuts_never_split_a_character() {
        let mut value = json!({"text": "é".repeat(3_000), "tail_tail": "ü".repeat(3_000)});
        cap(&mut value, 1_500);
        assert!(value["text"].as_str().unwrap().starts_with('é'));
        assert!(value["tail_tail"].as_str().unwrap().ends_with('ü'));
    }

    #[test]
    fn what_cannot_be_cut_stops_the_loop() {
        let mut value = json!({"a": "x".repeat(KEEP_AT_LEAST), "b": [1]});
        assert!(cap(&mut value, 10).is_empty());
    }

    #[test]
    fn keys_with_slashes_are_escaped_in_paths() {
        let mut value = json!({"a/b": "x".repeat(3_000)});
        let cuts = cap(&mut value, 500);
        assert_eq!(cuts[0].path, "/a~1b");
    }

    #[test]
    fn secrets_are_masked_everywhere() {
        let redactor = Redactor::new(["hunter2".to_string()]);
        let mut value = json!({"vars": {"token": "hunter2"}, "lines": ["pass=hunter2!"], "hunter2": 1});
        redact(&mut value, &redactor);
        assert_eq!(value, json!({"vars": {"token": "****"}, "lines": ["pass=****!"], "****": 1}));
    }

    #[test]
    fn long_text_is_cut_with_a_note() {
        let text = cap_text("y".repeat(5_000), 1_000, "ask for less");
        assert!(text.len() <= 1_100, "{}", text.len());
        assert!(text.ends_with("[cut: 800 of 5000 bytes shown; ask for less]\n"), "{text}");
        assert_eq!(cap_text("short".into(), 1_000, "x"), "short");
    }
}

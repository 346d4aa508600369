//! Hugo shortcodes: `{{< name args >}}`, `{{% name args %}}`, their closing tags `{{< /name >}}`,
//! and the escaped form `{{</* name */>}}` that shows a shortcode as text.

use std::ops::Range;

/// The longest tag looked at; a `{{<` without its end within this is text.
const MAX_TAG: usize = 4096;

/// One shortcode tag in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    /// Byte range of the whole tag, delimiters included.
    pub range: Range<usize>,
    pub name: String,
    /// `{{< /name >}}`.
    pub closing: bool,
    /// `{{</* … */>}}`: to be shown as written, without the comment marks.
    pub escaped: Option<String>,
    pub args: Args,
}

/// A tag's arguments: positional and named (`title="Note"`), in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Args {
    pub positional: Vec<String>,
    pub named: Vec<(String, String)>,
}

impl Args {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.named.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A named argument, else the positional one at `index`.
    pub(crate) fn named_or(&self, name: &str, index: usize) -> Option<&str> {
        self.get(name).or_else(|| self.positional.get(index).map(String::as_str))
    }
}

/// Every shortcode tag in `text[from..]`, outside the byte ranges in `skip` (sorted).
pub(crate) fn tags(text: &str, from: usize, skip: &[Range<usize>]) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut at = from;
    while let Some(found) = text[at..].find("{{") {
        let start = at + found;
        if let Some(range) = skip.iter().find(|r| r.contains(&start)) {
            at = range.end.max(start + 2);
            continue;
        }
        match tag_at(text, start) {
            Some(tag) => {
                at = tag.range.end;
                out.push(tag);
            }
            None => at = start + 2,
        }
    }
    out
}

/// The tag starting at `start` (which holds `{{`), if it is one.
fn tag_at(text: &str, start: usize) -> Option<Tag> {
    let rest = &text[start..];
    let delimiter = match rest.as_bytes().get(2)? {
        b'<' => '>',
        b'%' => '%',
        _ => return None,
    };
    let end_marker = if delimiter == '>' { ">}}" } else { "%}}" };
    let mut end = rest.len().min(MAX_TAG);
    while !rest.is_char_boundary(end) {
        end -= 1;
    }
    let window = &rest[3..end];
    let inner_start = window.len() - window.trim_start().len();
    if window[inner_start..].starts_with("/*") {
        let escaped_end = format!("*/{end_marker}");
        let end = window.find(&escaped_end)?;
        let inner = &window[inner_start + 2..end];
        let opener = if delimiter == '>' { "{{<" } else { "{{%" };
        return Some(Tag {
            range: start..start + 3 + end + escaped_end.len(),
            name: String::new(),
            closing: false,
            escaped: Some(format!("{opener}{inner}{end_marker}")),
            args: Args::default(),
        });
    }
    let end = window.find(end_marker)?;
    let inner = window[..end].trim();
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, inner),
    };
    let inner = inner.strip_suffix('/').unwrap_or(inner).trim_end();
    let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
    let name = &inner[..name_end];
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '/' | '.')) {
        return None;
    }
    Some(Tag {
        range: start..start + 3 + end + end_marker.len(),
        name: name.to_string(),
        closing,
        escaped: None,
        args: parse_args(&inner[name_end..]),
    })
}

/// `"a b" key="v" key2=word \`raw\`` → positional and named arguments.
fn parse_args(text: &str) -> Args {
    let mut args = Args::default();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let key_end = rest.find(|c: char| c.is_whitespace() || c == '=' || c == '"' || c == '`').unwrap_or(rest.len());
        let (key, after_key) = rest.split_at(key_end);
        if !key.is_empty() && after_key.starts_with('=') {
            let (value, after) = value(&after_key[1..]);
            args.named.push((key.to_string(), value));
            rest = after.trim_start();
        } else {
            let (value, after) = value(rest);
            args.positional.push(value);
            rest = after.trim_start();
        }
    }
    args
}

/// A quoted (`"…"` with `\"` escapes, or `` `…` ``) or bare value, and the text after it.
fn value(text: &str) -> (String, &str) {
    let mut chars = text.char_indices();
    match chars.next() {
        Some((_, quote @ ('"' | '`'))) => {
            let mut out = String::new();
            let mut escaped = false;
            for (i, c) in chars {
                if escaped {
                    out.push(c);
                    escaped = false;
                } else if c == '\\' && quote == '"' {
                    escaped = true;
                } else if c == quote {
                    return (out, &text[i + c.len_utf8()..]);
                } else {
                    out.push(c);
                }
            }
            (out, "")
        }
        Some(_) => {
            let end = text.find(char::is_whitespace).unwrap_or(text.len());
            (text[..end].to_string(), &text[end..])
        }
        None => (String::new(), ""),
    }
}

/// Pairs opening and closing tags by name, innermost first: `partner[i]` is the index of the
/// tag that closes (or opens) tag `i`.
pub(crate) fn pair(tags: &[Tag]) -> Vec<Option<usize>> {
    let mut partner = vec![None; tags.len()];
    let mut open: Vec<usize> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        if tag.escaped.is_some() {
            continue;
        }
        if !tag.closing {
            open.push(i);
            continue;
        }
        if let Some(at) = open.iter().rposition(|&j| tags[j].name == tag.name) {
            let j = open[at];
            partner[i] = Some(j);
            partner[j] = Some(i);
            open.truncate(at);
        }
    }
    partner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Tag {
        let found = tags(text, 0, &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        found.into_iter().next().unwrap()
    }

    #[test]
    fn tags_and_arguments() {
        let tag = one(r#"See {{< figure src="a b.png" caption="A \"quoted\" one" >}} here"#);
        assert_eq!(tag.name, "figure");
        assert_eq!(tag.args.get("src"), Some("a b.png"));
        assert_eq!(tag.args.get("caption"), Some(r#"A "quoted" one"#));
        let tag = one(r#"{{% alert title="Note" color=warning %}}"#);
        assert_eq!((tag.args.get("title"), tag.args.get("color")), (Some("Note"), Some("warning")));
        let tag = one(r#"[x]({{< ref "docs/a.md#b" >}})"#);
        assert_eq!(tag.args.positional, ["docs/a.md#b"]);
        let tag = one("{{< /alert >}}");
        assert!(tag.closing);
        let tag = one("{{< param `version` />}}");
        assert_eq!((tag.name.as_str(), tag.args.positional[0].as_str()), ("param", "version"));
    }

    #[test]
    fn escaped_tags_show_as_written() {
        let tag = one("{{</* figure src=\"x\" */>}}");
        assert_eq!(tag.escaped.as_deref(), Some("{{< figure src=\"x\" >}}"));
        let tag = one("{{%/* alert */%}}");
        assert_eq!(tag.escaped.as_deref(), Some("{{% alert %}}"));
    }

    #[test]
    fn templates_and_unclosed_tags_are_text() {
        assert!(tags("{{ .Values.image }} and {{- if x }}", 0, &[]).is_empty());
        assert!(tags("{{< never closed", 0, &[]).is_empty());
        let skipped = vec![std::ops::Range { start: 8, end: 17 }];
        assert!(tags("skipped {{< x >}}", 0, &skipped).is_empty());
    }

    /// Regression: the look-ahead window was cut inside a multi-byte character (found on a real
    /// docs folder).
    #[test]
    fn a_long_unclosed_tag_of_multibyte_text_is_text() {
        let text = format!("{{{{< {} ", "é".repeat(MAX_TAG));
        assert!(tags(&text, 0, &[]).is_empty());
    }

    #[test]
    fn pairs_nest() {
        let found = tags("{{< tabs >}}{{< tab >}}a{{< /tab >}}{{< tab >}}b{{< /tab >}}{{< /tabs >}}{{< x >}}", 0, &[]);
        assert_eq!(pair(&found), [Some(5), Some(2), Some(1), Some(4), Some(3), Some(0), None]);
    }
}

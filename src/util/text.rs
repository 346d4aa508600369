//! Text for people and for file names.

use super::suggest::closest;

/// `1 step`, `2 steps`, `0 steps`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `did you mean `best`?` for the candidate closest to `word`, when one is a plausible typo.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(word, candidates).map(|best| did_you_mean_one_of(&[best]))
}

/// `did you mean `a` or `b`?` for choices already picked.
pub(crate) fn did_you_mean_one_of(choices: &[impl AsRef<str>]) -> String {
    format!("did you mean {}?", quoted_choices(choices))
}

/// `` `a` or `b` ``.
pub(crate) fn quoted_choices(choices: &[impl AsRef<str>]) -> String {
    choices.iter().map(|c| format!("`{}`", c.as_ref())).collect::<Vec<_>>().join(" or ")
}

/// A JSON value as people read it: a string without its quotes, anything else as JSON.
pub(crate) fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Lowercase hexadecimal, two digits a byte (digests, fingerprints).
pub(crate) fn hex(bytes: &[u8]) -> String {
    // By table, not `write!` per byte: a sync of ten thousand runbooks writes a hash of each.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A duration in milliseconds as people read it: `850 ms`, `2.5 s`, `3m 20s`.
/// A count with thousands separators: `50,000`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{}m {}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// A step or runbook id as a file-name part (`node/_index` → `node._index`). Keeps the id
/// readable and distinct; unlike [`title_slug`] it never lowercases or shortens.
pub(crate) fn file_safe(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '.' }).collect()
}

/// A free-text title as a short file-name part: lowercase letters and digits, every other run
/// of characters one `-`, at most 60 characters (`GPU cycle — 2 days!` → `gpu-cycle-2-days`).
pub(crate) fn title_slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    out.chars().take(60).collect::<String>().trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_separated() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(50_000), "50,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }

    use super::*;

    #[test]
    fn words() {
        assert_eq!(plural(1, "step"), "1 step");
        assert_eq!(plural(0, "step"), "0 steps");
        assert_eq!(
            did_you_mean("contine_on_error", ["continue_on_error", "confirm"]).as_deref(),
            Some("did you mean `continue_on_error`?")
        );
        assert_eq!(did_you_mean("zzz", ["confirm"]), None);
        assert_eq!(did_you_mean_one_of(&["a", "b"]), "did you mean `a` or `b`?");
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }

    #[test]
    fn slugs() {
        assert_eq!(title_slug("GPU acceleration cycle — 2 days!"), "gpu-acceleration-cycle-2-days");
        assert_eq!(file_safe("node/_index"), "node._index");
    }
}

//! Host patterns, the way ClusterShell and pdsh write them (DESIGN §17): `gpu[01-32]`,
//! `gpu[01-06,08]`, `rack[1-2]-node[1-4]`, comma lists of those, `@group` for an inventory group,
//! and `k8s:NS/POD` or `docker:NAME` for the other transports. [`expand`] turns a pattern into host
//! names; [`fold`] turns host names back into the shortest such pattern, for folded results.

use std::collections::BTreeMap;
use std::fmt;

/// More hosts than this from one pattern is a typo (`gpu[1-1000000]`), not a fleet.
pub(crate) const MAX_HOSTS: usize = 65_536;

/// One item of a host list, after expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A host name (or a `k8s:`/`docker:` target, kept whole).
    Host(String),
    /// `@name`: every host of the inventory group `name`.
    Group(String),
}

/// A malformed pattern: what is wrong, and where (1-based character column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad host pattern `{pattern}`: {message} (column {column})")]
pub(crate) struct PatternError {
    pub pattern: String,
    pub column: usize,
    pub message: String,
}

/// How ranges are written: ClusterShell's `[01-06,08]`, or Ansible's `[01:06]` / `[a:f]`
/// (inventories), with an optional stride (`[1-9/2]`, `[1:9:2]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    ClusterShell,
    Ansible,
}

/// Expands a comma-separated host list: `gpu[01-03],login1,@storage`.
pub(crate) fn expand(pattern: &str) -> Result<Vec<Item>, PatternError> {
    let mut items = Vec::new();
    for (start, part) in
        split_top_level(pattern, &[',']).map_err(|(column, message)| error(pattern, column, message))?
    {
        let part_trimmed = part.trim();
        if part_trimmed.is_empty() {
            return Err(error(pattern, start + 1, "empty host name (two commas in a row, or a trailing comma)"));
        }
        let offset = start + (part.len() - part.trim_start().len());
        if let Some(group) = part_trimmed.strip_prefix('@') {
            if group.is_empty() || !group.chars().all(|c| c.is_alphanumeric() || "_-.".contains(c)) {
                return Err(error(pattern, offset + 1, "a group is `@` and its name, like `@gpu`"));
            }
            items.push(Item::Group(group.to_string()));
            continue;
        }
        let names = expand_name(part_trimmed, Syntax::ClusterShell)
            .map_err(|(column, message)| error(pattern, offset + column, message))?;
        if items.len() + names.len() > MAX_HOSTS {
            return Err(error(pattern, offset + 1, format!("expands to more than {MAX_HOSTS} hosts")));
        }
        items.extend(names.into_iter().map(Item::Host));
    }
    if items.is_empty() {
        return Err(error(pattern, 1, "no hosts"));
    }
    Ok(items)
}

fn error(pattern: &str, column: usize, message: impl Into<String>) -> PatternError {
    PatternError { pattern: pattern.to_string(), column, message: message.into() }
}

/// Splits at `separators` outside brackets; each part with its byte offset. An unbalanced
/// bracket is an error with its (1-based) column.
pub(crate) fn split_top_level<'a>(
    text: &'a str,
    separators: &[char],
) -> Result<Vec<(usize, &'a str)>, (usize, String)> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut open_at = 0;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '[' => {
                if depth == 0 {
                    open_at = i;
                }
                depth += 1;
                if depth > 1 {
                    return Err((column_of(text, i), "`[` inside a range: ranges do not nest".into()));
                }
            }
            ']' => {
                if depth == 0 {
                    return Err((column_of(text, i), "`]` without a `[` before it".into()));
                }
                depth -= 1;
            }
            c if depth == 0 && separators.contains(&c) => {
                parts.push((start, &text[start..i]));
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err((column_of(text, open_at), "`[` is never closed with `]`".into()));
    }
    parts.push((start, &text[start..]));
    Ok(parts)
}

fn column_of(text: &str, byte: usize) -> usize {
    text[..byte].chars().count() + 1
}

/// Expands one name with any number of ranges: `rack[1-2]-gpu[01-04]` is 8 names, in order.
/// Errors carry the 1-based column within `name`.
pub(crate) fn expand_name(name: &str, syntax: Syntax) -> Result<Vec<String>, (usize, String)> {
    let mut names = vec![String::new()];
    let mut rest = name;
    let mut consumed = 0;
    while let Some(open) = rest.find('[') {
        let close = rest[open..]
            .find(']')
            .map(|c| open + c)
            .ok_or_else(|| (column_of(name, consumed + open), "`[` is never closed with `]`".to_string()))?;
        let literal = &rest[..open];
        if literal.contains(']') {
            return Err((
                column_of(name, consumed + literal.find(']').unwrap_or(0)),
                "`]` without a `[` before it".into(),
            ));
        }
        let body = &rest[open + 1..close];
        let values = expand_range(body, syntax).map_err(|message| (column_of(name, consumed + open), message))?;
        let total = names.len().saturating_mul(values.len());
        if total > MAX_HOSTS {
            return Err((column_of(name, consumed + open), format!("expands to more than {MAX_HOSTS} hosts")));
        }
        let mut next = Vec::with_capacity(total);
        for prefix in &names {
            for value in &values {
                next.push(format!("{prefix}{literal}{value}"));
            }
        }
        names = next;
        consumed += close + 1;
        rest = &rest[close + 1..];
    }
    if let Some(stray) = rest.find(']') {
        return Err((column_of(name, consumed + stray), "`]` without a `[` before it".into()));
    }
    if let Some(bad) = rest.find(|c: char| c.is_whitespace()) {
        return Err((column_of(name, consumed + bad), "spaces are not allowed in a host name".into()));
    }
    for n in &mut names {
        n.push_str(rest);
    }
    if names.iter().any(|n| n.is_empty()) {
        return Err((1, "empty host name".into()));
    }
    Ok(names)
}

/// The values of one bracket: `01-06,08` (ClusterShell) or `01:06`, `a:f`, `1:9:2` (Ansible).
fn expand_range(body: &str, syntax: Syntax) -> Result<Vec<String>, String> {
    if body.trim().is_empty() {
        return Err("empty range `[]`".into());
    }
    let mut values = Vec::new();
    let pieces: Vec<&str> = match syntax {
        Syntax::ClusterShell => body.split(',').collect(),
        Syntax::Ansible => vec![body],
    };
    for piece in pieces {
        let piece = piece.trim();
        if piece.is_empty() {
            return Err(format!("empty item in range `[{body}]`"));
        }
        let (bounds, stride) = match syntax {
            Syntax::ClusterShell => match piece.split_once('/') {
                Some((b, s)) => (b.split_once('-').map_or((b, None), |(x, y)| (x, Some(y))), Some(s)),
                None => (piece.split_once('-').map_or((piece, None), |(x, y)| (x, Some(y))), None),
            },
            Syntax::Ansible => {
                let parts: Vec<&str> = piece.split(':').collect();
                match parts.as_slice() {
                    [one] => ((*one, None), None),
                    [a, b] => ((*a, Some(*b)), None),
                    [a, b, s] => ((*a, Some(*b)), Some(*s)),
                    _ => {
                        return Err(format!(
                            "range `[{body}]` has too many `:`; write [START:END] or [START:END:STEP]"
                        ));
                    }
                }
            }
        };
        values.extend(expand_bounds(bounds, stride, syntax, body)?);
        if values.len() > MAX_HOSTS {
            return Err(format!("range `[{body}]` has more than {MAX_HOSTS} values"));
        }
    }
    Ok(values)
}

fn expand_bounds(
    (start, end): (&str, Option<&str>),
    stride: Option<&str>,
    syntax: Syntax,
    body: &str,
) -> Result<Vec<String>, String> {
    let example = match syntax {
        Syntax::ClusterShell => "[01-32] or [1-4,7]",
        Syntax::Ansible => "[01:32] or [a:f]",
    };
    let stride = match stride {
        None => 1,
        Some(s) => match s.trim().parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("bad step `{s}` in range `[{body}]`: it must be a whole number above 0")),
        },
    };
    let (start, end) = (start.trim(), end.map(str::trim));
    if syntax == Syntax::Ansible && is_letter(start) && end.is_some_and(is_letter) {
        let (a, b) = (start.as_bytes()[0], end.unwrap_or_default().as_bytes()[0]);
        if a > b {
            return Err(format!("range `[{body}]` goes backwards: `{}` comes after `{}`", a as char, b as char));
        }
        return Ok((a..=b).step_by(stride as usize).map(|c| (c as char).to_string()).collect());
    }
    let number = |text: &str| {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            Err(format!("`{text}` in range `[{body}]` is not a number; write {example}"))
        } else {
            text.parse::<u64>().map_err(|_| format!("`{text}` in range `[{body}]` is too large"))
        }
    };
    let first = number(start)?;
    let Some(end) = end else {
        return Ok(vec![start.to_string()]);
    };
    let last = number(end)?;
    if first > last {
        return Err(format!("range `[{body}]` goes backwards: {start} is after {end}"));
    }
    if (last - first) / stride >= MAX_HOSTS as u64 {
        return Err(format!("range `[{body}]` has more than {MAX_HOSTS} values"));
    }
    // A leading zero pads every value to the width of the first bound: [08-10] → 08 09 10.
    let width = if start.len() > 1 && start.starts_with('0') { start.len() } else { 0 };
    Ok((first..=last).step_by(stride as usize).map(|n| format!("{n:0width$}")).collect())
}

fn is_letter(text: &str) -> bool {
    text.len() == 1 && text.as_bytes()[0].is_ascii_alphabetic()
}

// ---- folding ----

/// Folds host names into a ClusterShell-style pattern: `gpu01…gpu06, gpu08` → `gpu[01-06,08]`.
/// Names are grouped by what surrounds their last number; the order is stable (by prefix, then
/// number), duplicates are dropped.
pub(crate) fn fold<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    fold_groups(names).join(",")
}

/// The folded pieces of [`fold`], one per prefix/suffix family.
pub(crate) fn fold_groups<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    // (prefix, suffix, pad width) → numbers; names without a number stand alone.
    let mut families: BTreeMap<(String, String, usize), Vec<u64>> = BTreeMap::new();
    let mut plain: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            continue;
        }
        match split_number(name) {
            Some((prefix, digits, suffix)) => match digits.parse::<u64>() {
                Ok(n) => {
                    let pad = if digits.len() > 1 && digits.starts_with('0') { digits.len() } else { 0 };
                    families.entry((prefix.to_string(), suffix.to_string(), pad)).or_default().push(n);
                }
                Err(_) => plain.push(name.to_string()),
            },
            None => plain.push(name.to_string()),
        }
    }
    join_unpadded(&mut families);
    let mut pieces: Vec<(String, u64, String)> = Vec::new();
    for ((prefix, suffix, pad), mut numbers) in families {
        numbers.sort_unstable();
        numbers.dedup();
        let first = numbers[0];
        if numbers.len() == 1 {
            pieces.push((prefix.clone(), first, format!("{prefix}{first:0pad$}{suffix}")));
            continue;
        }
        let ranges = ranges(&numbers)
            .into_iter()
            .map(|(a, b)| if a == b { format!("{a:0pad$}") } else { format!("{a:0pad$}-{b:0pad$}") })
            .collect::<Vec<_>>()
            .join(",");
        pieces.push((prefix.clone(), first, format!("{prefix}[{ranges}]{suffix}")));
    }
    pieces.extend(plain.into_iter().map(|name| (name.clone(), 0, name)));
    pieces.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    pieces.into_iter().map(|(_, _, text)| text).collect()
}

/// Numbers written without a leading zero but as wide as a padded family (`10` next to `08`,
/// `09`) belong to it: `gpu[08-10]`.
fn join_unpadded(families: &mut BTreeMap<(String, String, usize), Vec<u64>>) {
    let padded: Vec<(String, String, usize)> = families.keys().filter(|k| k.2 > 0).cloned().collect();
    for key in padded {
        let unpadded = (key.0.clone(), key.1.clone(), 0);
        let Some(numbers) = families.get_mut(&unpadded) else { continue };
        let width = key.2;
        let (fits, rest): (Vec<u64>, Vec<u64>) = numbers.iter().partition(|n| n.to_string().len() == width);
        *numbers = rest;
        if numbers.is_empty() {
            families.remove(&unpadded);
        }
        if let Some(target) = families.get_mut(&key) {
            target.extend(fits);
        }
    }
}

/// The last run of ASCII digits in `name`: (before, digits, after).
fn split_number(name: &str) -> Option<(&str, &str, &str)> {
    let bytes = name.as_bytes();
    let end = bytes.iter().rposition(u8::is_ascii_digit)? + 1;
    let start = bytes[..end].iter().rposition(|b| !b.is_ascii_digit()).map_or(0, |i| i + 1);
    Some((&name[..start], &name[start..end], &name[end..]))
}

/// Sorted, distinct numbers as inclusive runs: 1 2 3 5 → (1,3) (5,5).
fn ranges(numbers: &[u64]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &n in numbers {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            _ => runs.push((n, n)),
        }
    }
    runs
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Host(name) => f.write_str(name),
            Item::Group(name) => write!(f, "@{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(pattern: &str) -> Vec<String> {
        expand(pattern)
            .unwrap()
            .into_iter()
            .map(|i| match i {
                Item::Host(h) => h,
                Item::Group(g) => format!("@{g}"),
            })
            .collect()
    }

    #[test]
    fn ranges_lists_and_groups() {
        assert_eq!(hosts("gpu[01-03]"), ["gpu01", "gpu02", "gpu03"]);
        assert_eq!(hosts("gpu[01-03,08]"), ["gpu01", "gpu02", "gpu03", "gpu08"]);
        assert_eq!(hosts("gpu[8-10]"), ["gpu8", "gpu9", "gpu10"]);
        assert_eq!(hosts("gpu[08-10]"), ["gpu08", "gpu09", "gpu10"]);
        assert_eq!(hosts("a, b ,@storage"), ["a", "b", "@storage"]);
        assert_eq!(hosts("r[1-2]-n[1-2]"), ["r1-n1", "r1-n2", "r2-n1", "r2-n2"]);
        assert_eq!(hosts("n[1-9/4]"), ["n1", "n5", "n9"]);
        assert_eq!(hosts("k8s:ops/pod-[1-2]"), ["k8s:ops/pod-1", "k8s:ops/pod-2"]);
        assert_eq!(expand_name("www[01:03:2].x", Syntax::Ansible).unwrap(), ["www01.x", "www03.x"]);
        assert_eq!(expand_name("db-[a:c]", Syntax::Ansible).unwrap(), ["db-a", "db-b", "db-c"]);
        assert_eq!(hosts(&fold(["gpu07"])), ["gpu07"]);
    }

    #[test]
    fn malformed_patterns_say_where() {
        let err = |p: &str| expand(p).unwrap_err();
        let e = err("gpu[01-");
        assert_eq!((e.column, e.message.as_str()), (4, "`[` is never closed with `]`"));
        assert!(err("gpu[05-01]").message.contains("goes backwards"), "{}", err("gpu[05-01]"));
        assert!(err("gpu[a-b]").message.contains("not a number"));
        assert!(err("gpu[]").message.contains("empty range"));
        assert!(err("gpu[1-[2]]").message.contains("do not nest"));
        assert_eq!(err("gpu01]").column, 6);
        assert!(err("a,,b").message.contains("empty host name"));
        assert!(err("gpu[1-9999999]").message.contains("more than"));
        assert!(err("@").message.contains("group"));
        assert!(err("gpu[1-2/0]").message.contains("bad step"));
        assert_eq!(
            err("ok,gpu[1-").to_string(),
            "bad host pattern `ok,gpu[1-`: `[` is never closed with `]` (column 7)"
        );
    }

    #[test]
    fn folding_is_the_inverse_of_expanding() {
        let names = ["gpu01", "gpu02", "gpu03", "gpu04", "gpu05", "gpu06", "gpu08"];
        assert_eq!(fold(names), "gpu[01-06,08]");
        assert_eq!(fold(["gpu07"]), "gpu07");
        assert_eq!(fold(["gpu8", "gpu9", "gpu10"]), "gpu[8-10]");
        assert_eq!(fold(["gpu08", "gpu09", "gpu10"]), "gpu[08-10]");
        assert_eq!(fold(["login", "gpu2", "gpu1", "gpu1"]), "gpu[1-2],login");
        assert_eq!(fold(["r1-n1", "r1-n2", "r2-n1"]), "r1-n[1-2],r2-n1");
        assert_eq!(fold(["a1.x", "a2.x", "a3.y"]), "a[1-2].x,a3.y");
        for pattern in ["gpu[01-32]", "n[1-3,5,9-12]", "x[001-120]"] {
            let names = hosts(pattern);
            assert_eq!(fold(names.iter().map(String::as_str)), pattern);
        }
    }
}

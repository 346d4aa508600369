//! Text for people and for file names.

/// A duration in milliseconds as people read it: `850 ms`, `2.5 s`, `3m 20s`.
pub fn duration(ms: u64) -> String {
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
pub fn file_safe(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '.' }).collect()
}

/// A free-text title as a short file-name part: lowercase letters and digits, every other run
/// of characters one `-`, at most 60 characters (`GPU cycle — 2 days!` → `gpu-cycle-2-days`).
pub fn title_slug(title: &str) -> String {
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
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(title_slug("GPU acceleration cycle — 2 days!"), "gpu-acceleration-cycle-2-days");
        assert_eq!(file_safe("node/_index"), "node._index");
    }
}

//! Quoting for a POSIX shell.

/// Quotes `text` for a POSIX shell: safe words stay as they are, anything else is single-quoted.
pub(crate) fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if safe { text.to_string() } else { format!("'{}'", text.replace('\'', "'\\''")) }
}

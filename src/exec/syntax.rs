//! `bash -n`: whether a script parses, without running any of it (`check --plain`).

use std::process::{Command, Stdio};

/// Bash's complaint about `script`, or `None` when it parses (or when there is no bash to ask).
pub(crate) fn bash_syntax_error(script: &str) -> Option<String> {
    let output = Command::new("bash")
        .args(["--noprofile", "--norc", "-n", "-c", script, "plain-step"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    if output.status.success() {
        return None;
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = stderr
        .lines()
        .map(|l| l.trim_start_matches("plain-step: ").trim_start_matches("bash: ").trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    Some(if message.is_empty() { format!("bash -n exited with {}", output.status) } else { message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_syntax_errors_without_running() {
        assert_eq!(bash_syntax_error("echo hi | grep h"), None);
        let marker = std::env::temp_dir().join(format!("runbook-syntax-{}", std::process::id()));
        assert_eq!(bash_syntax_error(&format!("touch {}", marker.display())), None);
        assert!(!marker.exists(), "bash -n runs nothing");
        let err = bash_syntax_error("if true; then echo\n").unwrap();
        assert!(err.contains("syntax error"), "{err}");
        assert!(bash_syntax_error("echo 'open").unwrap().contains("line 1"));
    }
}

//! `runbook watch`, `runbook alerts` and `runbook dashboard`: scheduled checks and their metrics,
//! checked by the real promtool.

use std::path::Path;
use std::process::{Command, Stdio};

/// `promtool check metrics` on `text`: fails the test with promtool's words when it objects.
pub fn promtool_check_metrics(promtool: &Path, text: &str) {
    use std::io::Write;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("feed promtool");
    let output = child.wait_with_output().expect("promtool");
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n--- metrics:\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

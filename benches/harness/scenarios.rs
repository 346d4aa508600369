//! `runbook test` over the shipped knowledge base (DESIGN §13): every scenario of every runbook,
//! the way CI runs them. Budget: the whole KB's scenarios well under 10 s on a 2-core machine.

use crate::measure::repeat;
use crate::{BIN, Budget, Row};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// As in `runbook test` (src/cli/test.rs).
const SCENARIOS_PER_CORE: usize = 4;

pub fn rows(runs: usize) -> Result<Vec<Row>, String> {
    let kb = Path::new(env!("CARGO_MANIFEST_DIR"));
    let count = scenario_count(kb)?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    Ok(vec![Row {
        benchmark: format!(
            "`runbook test`, every scenario of the shipped KB (release binary; {SCENARIOS_PER_CORE} scenarios at once per core)"
        ),
        // Keyed by the KB's size: a row with more scenarios is a new input, not a replacement.
        input: format!("{count} scenarios, {cores} cores"),
        stats: repeat(runs, &[0], || test(kb))?,
        peer: None,
        budget: Budget::Wall(Duration::from_secs(5)),
    }])
}

fn test(kb: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.args(["--kb", &kb.display().to_string(), "test", "--quiet"]);
    command
}

/// How many scenarios the KB has, from `runbook test --json`'s summary (which also proves they pass).
fn scenario_count(kb: &Path) -> Result<u64, String> {
    let out = Command::new(BIN)
        .args(["--kb", &kb.display().to_string(), "test", "--json"])
        .output()
        .map_err(|e| e.to_string())?;
    let last = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string();
    let summary: serde_json::Value = serde_json::from_str(&last).map_err(|e| format!("runbook test --json: {e}"))?;
    if summary["failed"] != 0 || summary["errors"] != 0 {
        return Err(format!("the shipped scenarios do not pass: {summary}"));
    }
    Ok(summary["scenarios"].as_u64().unwrap_or(0))
}

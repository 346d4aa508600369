//! `runbook exec` against plain shell: per-step overhead and capturing a gigabyte of output.

use crate::measure::pair;
use crate::{BIN, Budget, Row};
use std::path::Path;
use std::process::Command;

const STEPS: usize = 100;

fn runbook(kb: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.arg("--kb").arg(kb).args(args).env("NO_COLOR", "1");
    command
}

fn remove(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("removing {}: {e}", dir.display())),
        _ => Ok(()),
    }
}

/// Flushes dirty pages, so one run's writeback does not slow the next one down.
fn sync() {
    let _ = Command::new("sync").status();
}

pub fn rows(tmp: &Path, runs: usize) -> Result<Vec<Row>, String> {
    let kb = tmp.join("exec-kb");
    std::fs::create_dir_all(kb.join("runbooks")).map_err(|e| e.to_string())?;
    let mut hundred = String::from("# One hundred steps\n\n");
    for _ in 0..STEPS {
        hundred.push_str("```yaml step\nrun: \"true\"\n```\n\n");
    }
    std::fs::write(kb.join("runbooks/hundred.md"), hundred).map_err(|e| e.to_string())?;
    std::fs::write(kb.join("runbooks/gigabyte.md"), "# A gigabyte\n\n```yaml step\nrun: head -c 1G /dev/zero\n```\n")
        .map_err(|e| e.to_string())?;
    let script = tmp.join("hundred.sh");
    std::fs::write(&script, format!("for i in $(seq {STEPS}); do bash -c true; done\n")).map_err(|e| e.to_string())?;
    let archives = kb.join("archives");
    let mut rows = Vec::new();

    eprintln!("runbook exec: {STEPS} steps…");
    let bash_loop = || {
        let mut command = Command::new("bash");
        command.arg(&script);
        command
    };
    let (stats, peer) = pair(runs, || remove(&archives), || runbook(&kb, &["exec", "hundred", "--quiet"]), bash_loop)?;
    rows.push(Row {
        benchmark: format!("`runbook exec` of {STEPS} steps `run: \"true\"` (archive written after every step)"),
        input: format!("{STEPS} steps"),
        stats,
        peer: Some((format!("bash script running `bash -c true` {STEPS} times"), peer)),
        budget: Budget::Ratio(1.1),
    });
    let (stats, peer) =
        pair(runs, || Ok(()), || runbook(&kb, &["exec", "hundred", "--quiet", "--no-archive"]), bash_loop)?;
    rows.push(Row {
        benchmark: format!("`runbook exec --no-archive` of {STEPS} steps `run: \"true\"`"),
        input: format!("{STEPS} steps"),
        stats,
        peer: Some((format!("bash script running `bash -c true` {STEPS} times"), peer)),
        budget: Budget::None,
    });

    eprintln!("runbook exec: 1 GiB of output…");
    let out = tmp.join("gigabyte.out");
    let setup = || {
        remove(&archives)?;
        let _ = std::fs::remove_file(&out);
        sync();
        Ok(())
    };
    let head = || {
        let mut command = Command::new("sh");
        command.arg("-c").arg(format!("head -c 1G /dev/zero > {}", out.display()));
        command
    };
    let (stats, peer) = pair(runs, setup, || runbook(&kb, &["exec", "gigabyte", "--quiet"]), head)?;
    rows.push(Row {
        benchmark: "`runbook exec` of one step printing 1 GiB (`head -c 1G /dev/zero`), logged to the archive".into(),
        input: "1 GiB of output".into(),
        stats,
        peer: Some(("`head -c 1G /dev/zero > file`".into(), peer)),
        budget: Budget::RatioAndRss(1.3, 32),
    });
    remove(&archives)?;
    let _ = std::fs::remove_file(&out);
    Ok(rows)
}

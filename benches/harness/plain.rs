//! Plain docs (DESIGN §14): `runbook show --plain --json` over a thousand alert pages shaped like
//! the public OpenShift and Prometheus Operator runbooks — transcripts with output, placeholders,
//! list-item blocks, debug-node sessions, heredocs, a Mitigation with a `delete`.

use crate::measure::{repeat, repeat_with_setup};
use crate::{BIN, Budget, Row, thousands};
use std::fmt::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub const PAGES: usize = 1_000;

/// One alert page; `n` varies names, namespaces and which blocks it has.
fn page(n: usize) -> String {
    let alert = format!("SyntheticAlert{n:04}");
    let ns = ["openshift-monitoring", "openshift-etcd", "openshift-storage", "default"][n % 4];
    let mut text = format!(
        "# {alert}\n\n## Meaning\n\nThe `{alert}` alert fires when component {n} in `{ns}` is degraded for 15 minutes.\n\n\
         ## Impact\n\nRequests served by the component may fail or be slow.\n\n## Diagnosis\n\n\
         Check the pods of the namespace:\n\n\
         ```console\n$ NAMESPACE='<value of namespace label from alert>'\n$ oc -n $NAMESPACE get pods -l app=component-{n}\n\
         NAME                READY   STATUS             RESTARTS\ncomponent-{n}-0     0/1     CrashLoopBackOff   7\n```\n\n"
    );
    let _ = write!(
        text,
        "1. Describe the failing pod:\n\n   ```bash\n   oc -n $NAMESPACE describe pod <pod-name>\n   ```\n\n\
         2. Read its logs:\n\n   ```console\n   $ oc -n $NAMESPACE logs <pod-name> --tail=100 | grep -i error\n   level=error msg=\"sync failed\"\n   ```\n\n\
         The events look like:\n\n```console\nEvents:\n  Warning  BackOff  kubelet  Back-off restarting failed container\n```\n\n"
    );
    if n.is_multiple_of(2) {
        let _ = write!(
            text,
            "3. Check the node:\n\n   ```shell\n   $ NODE_NAME='<value of instance label from alert>'\n   $ oc debug \"node/$NODE_NAME\"\n   sh-4.4# chroot /host\n   sh-4.4# journalctl -u kubelet --no-pager -n 50\n   sh-4.4# df -h /var/lib/containers\n   $ exit\n   ```\n\n"
        );
    }
    if n.is_multiple_of(3) {
        let _ = write!(
            text,
            "Count the ready replicas:\n\n```bash\ngrep -c Running <<EOF\n$(oc -n $NAMESPACE get pods --no-headers)\nEOF\n```\n\n\
             The query behind the alert:\n\n```promql\nsum by (namespace) (kube_pod_container_status_restarts_total{{namespace=\"{ns}\"}}) > 3\n```\n\n"
        );
    }
    let _ = write!(
        text,
        "## Mitigation\n\nIf the pod is stuck, delete it so its controller starts a new one:\n\n\
         ```bash\noc -n $NAMESPACE delete pod <pod-name>\n```\n\nThen watch it come back:\n\n\
         ```console\n$ oc -n $NAMESPACE get pods -w\n```\n"
    );
    text
}

/// Writes the pages into `kb/alerts/` (with a `runbook.toml`); returns their ids and bytes.
pub fn write_pages(kb: &Path) -> Result<(Vec<String>, usize), String> {
    let dir = kb.join("alerts");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(kb.join("runbook.toml"), "title = \"Synthetic alerts\"\n").map_err(|e| e.to_string())?;
    let mut ids = Vec::with_capacity(PAGES);
    let mut bytes = 0;
    for n in 0..PAGES {
        let text = page(n);
        bytes += text.len();
        let id = format!("SyntheticAlert{n:04}");
        std::fs::write(dir.join(format!("{id}.md")), text).map_err(|e| e.to_string())?;
        ids.push(id);
    }
    Ok((ids, bytes))
}

fn show(kb: &Path, ids: &[String]) -> Command {
    let mut command = Command::new(BIN);
    command.arg("--kb").arg(kb).args(["show", "--plain", "--json"]).args(ids).env("NO_COLOR", "1");
    command
}

/// The ids of every page of a KB, from `runbook list --json`.
fn ids_of(kb: &Path) -> Result<Vec<String>, String> {
    let output = Command::new(BIN).arg("--kb").arg(kb).args(["list", "--json"]).output().map_err(|e| e.to_string())?;
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| format!("list --json: {e}"))?;
    Ok(rows
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect())
        .unwrap_or_default())
}

pub fn rows(tmp: &Path, runs: usize, corpus: Option<&Path>) -> Result<Vec<Row>, String> {
    let kb = tmp.join("plain-kb");
    let (ids, bytes) = write_pages(&kb)?;
    let input = format!("{} alert pages ({:.1} MB)", thousands(PAGES), bytes as f64 / 1e6);
    // Sanity: every page reads into steps, so the figure is for real work.
    let output = show(&kb, &ids).output().map_err(|e| e.to_string())?;
    let views: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("show --plain --json: {e}"))?;
    let steps: u64 =
        views.as_array().map(|v| v.iter().filter_map(|p| p["counts"]["steps"].as_u64()).sum()).unwrap_or(0);
    if steps < PAGES as u64 * 4 {
        return Err(format!("the synthetic alert pages read into only {steps} plain steps"));
    }
    eprintln!("runbook show --plain --json: {PAGES} pages ({steps} steps)…");
    let state = kb.join(".runbook");
    let forget_state = || match std::fs::remove_dir_all(&state) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("removing {}: {e}", state.display())),
        _ => Ok(()),
    };
    let mut rows = vec![
        Row {
            benchmark: format!(
                "`runbook show --plain --json` of all {} pages, one process ({steps} steps)",
                thousands(PAGES)
            ),
            input: input.clone(),
            stats: repeat(runs, &[0], || show(&kb, &ids))?,
            peer: None,
            budget: Budget::Wall(Duration::from_secs(1)),
        },
        Row {
            benchmark: "the same, first run (no parse cache)".into(),
            input,
            stats: repeat_with_setup(runs, &[0], forget_state, || show(&kb, &ids))?,
            peer: None,
            budget: Budget::None,
        },
    ];
    if let Some(corpus) = corpus {
        let ids = ids_of(corpus)?;
        rows.push(Row {
            benchmark: "`runbook show --plain --json` of every page, one process".into(),
            input: format!("{} ({} pages)", corpus.display(), thousands(ids.len())),
            stats: repeat(runs, &[0], || show(corpus, &ids))?,
            peer: None,
            budget: Budget::None,
        });
    }
    Ok(rows)
}

//! The planner on docs in the shape of public alert runbooks.

use super::*;

fn plan_with(text: &str, values: &[(&str, &str)], section: Option<&str>) -> Plan {
    let values: BTreeMap<String, String> = values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let env_has = |_: &str| false;
    plan(&Input {
        path: "alerts/x.md",
        text,
        severity: Severity::Critical,
        section,
        values: &values,
        env_has: &env_has,
        overlay: None,
    })
}

fn plan_text(text: &str) -> Plan {
    plan_with(text, &[], None)
}

const ALERT: &str = "# KubePodCrashLooping

## Meaning

The pod restarts.

## Diagnosis

Check the pod:

```console
$ NAMESPACE='<value of namespace label from alert>'
$ oc -n $NAMESPACE get pods
NAME    READY   STATUS
web-1   0/1     CrashLoopBackOff
```

1. Describe it:

   ```bash
   oc -n $NAMESPACE describe pod <pod-name>
   ```

Output looks like:

```console
Events:
  Back-off restarting failed container
```

## Mitigation

```bash
oc -n $NAMESPACE delete pod <pod-name>
```
";

#[test]
fn an_alert_page_becomes_steps() {
    let plan = plan_text(ALERT);
    let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["diagnosis-1", "diagnosis-2", "mitigation-1"]);
    let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Diagnosis", "Describe it", "Mitigation"]);
    let classes: Vec<Kind> = plan.steps.iter().map(|s| s.class).collect();
    assert_eq!(classes, [Kind::ReadOnly, Kind::ReadOnly, Kind::Asks]);
    assert!(plan.steps[2].why.contains("oc delete"), "{}", plan.steps[2].why);
    assert_eq!(plan.blocks.iter().filter(|b| b.fate == Fate::Output).count(), 1);
    let vars: Vec<&str> = plan.vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(vars, ["namespace", "pod_name"]);
    assert_eq!((plan.vars[0].line, plan.vars[0].column), (12, 14));
    assert_eq!(
        plan.steps[0].expected_output.as_deref(),
        Some("NAME    READY   STATUS\nweb-1   0/1     CrashLoopBackOff")
    );
    assert_eq!(plan.unresolved().len(), 2);
}

#[test]
fn values_go_in_quoted_and_assignments_carry_over() {
    let plan = plan_with(ALERT, &[("namespace", "openshift-monitoring"), ("pod_name", "web-1; reboot")], None);
    assert!(plan.unresolved().is_empty());
    assert_eq!(plan.steps[0].script, "NAMESPACE=openshift-monitoring\noc -n $NAMESPACE get pods");
    assert_eq!(plan.steps[1].script, "NAMESPACE=openshift-monitoring\noc -n $NAMESPACE describe pod 'web-1; reboot'");
    assert!(
        plan.steps[2].confirm.as_deref().unwrap().starts_with("Run `oc -n $NAMESPACE delete pod 'web-1; reboot'`?")
    );
}

#[test]
fn sections_limit_the_steps() {
    let plan = plan_with(ALERT, &[], Some("diagnosis"));
    assert!(plan.section_found);
    assert_eq!(plan.steps.len(), 2);
    assert!(!plan_with(ALERT, &[], Some("Nope")).section_found);
}

#[test]
fn a_debug_node_session_runs_its_lines_on_stdin() {
    let text = "## Diagnosis\n\n```shell\n$ NODE_NAME='<value of instance label from alert>'\n\n$ oc debug \"node/$NODE_NAME\"\n$ chroot /host\n# df -hi /var\nFilesystem Inodes\n# cat /proc/mdstat\n$ exit\n```\n";
    let plan = plan_with(text, &[("instance", "worker-0")], None);
    let step = &plan.steps[0];
    assert_eq!(step.session.as_deref(), Some("oc debug node + chroot /host"));
    assert_eq!(
        step.script,
        "NODE_NAME=worker-0\noc debug \"node/$NODE_NAME\" -- chroot /host bash -s <<'RUNBOOK_SESSION'\nset -eo pipefail\ndf -hi /var\ncat /proc/mdstat\nRUNBOOK_SESSION"
    );
    assert_eq!(step.class, Kind::Asks, "a debug pod is a change to the cluster");
    assert!(step.why.contains("debug pod"), "{}", step.why);
    assert_eq!(plan.vars[0].name, "instance");
}

#[test]
fn a_session_may_continue_in_the_next_block() {
    let text = "## Check\n\n```bash\noc debug node/<node-name>\n```\n\nThen:\n\n```bash\nsh-4.4# chroot /host\nsh-4.4# journalctl -u kubelet --no-pager\n```\n";
    let plan = plan_with(text, &[("node_name", "w1")], None);
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.blocks[1].fate, Fate::Joined);
    assert!(plan.steps[0].script.contains("oc debug node/w1 -- chroot /host bash -s <<'RUNBOOK_SESSION'\nset -eo pipefail\njournalctl -u kubelet --no-pager\n"), "{}", plan.steps[0].script);
}

#[test]
fn a_bare_session_is_a_manual_step_and_a_warning() {
    let plan = plan_text("## Diagnosis\n\n```bash\noc debug node/<node>\n```\n\nNow look around.\n");
    assert_eq!(plan.steps[0].class, Kind::Interactive);
    assert_eq!(plan.warnings.len(), 1);
    assert!(plan.warnings[0].message.starts_with("session not understood"), "{}", plan.warnings[0].message);
    assert_eq!((plan.warnings[0].line, plan.warnings[0].column), (4, 1));
}

#[test]
fn repls_are_manual() {
    let plan = plan_text(
        "## Diagnosis\n\n```shell\n$ kubectl exec -it pg-0 -- psql -U app\napp=# select count(*) from jobs;\n app=# \\q\n```\n",
    );
    assert_eq!(plan.steps[0].class, Kind::Interactive);
    assert!(matches!(plan.steps[0].step.action, Action::Manual(_)));
}

#[test]
fn remediation_headings_ask_even_for_readers() {
    let plan = plan_text("## Recovery procedure\n\n```bash\noc get pods\n```\n");
    assert_eq!(plan.steps[0].class, Kind::Asks);
    assert!(plan.steps[0].why.contains("Recovery procedure"));
    assert!(is_remediation_heading("How to fix it"));
    assert!(!is_remediation_heading("Diagnosis"));
    assert!(!is_remediation_heading("Prefix settings"));
}

#[test]
fn heredocs_and_output_lines() {
    let text = "## Diagnosis\n\n```console\n$ cat <<EOF | oc apply -f -\nkind: ConfigMap\nmetadata:\n  namespace: <namespace>\nEOF\nconfigmap/x created\n```\n";
    let plan = plan_with(text, &[("namespace", "$(x)")], None);
    assert_eq!(plan.steps[0].script, "cat <<EOF | oc apply -f -\nkind: ConfigMap\nmetadata:\n  namespace: \\$(x)\nEOF");
    assert_eq!(plan.steps[0].expected_output.as_deref(), Some("configmap/x created"));
    assert_eq!(plan.steps[0].class, Kind::Asks);
}

#[test]
fn unset_variables_are_required() {
    let plan = plan_text("## D\n\n```bash\noc get pod -n $NAMESPACE $POD\nfor p in a b; do echo $p $HOME; done\n```\n");
    let vars: Vec<(&str, &str)> = plan.vars.iter().map(|v| (v.name.as_str(), v.placeholder.as_str())).collect();
    assert_eq!(vars, [("namespace", "$NAMESPACE"), ("pod", "$POD")]);
    assert_eq!((plan.vars[1].line, plan.vars[1].column), (4, 26));
    assert!(plan.steps[0].script.starts_with("NAMESPACE=<namespace>\nPOD=<pod>\n"), "{}", plan.steps[0].script);
}

#[test]
fn blocks_that_only_assign_run_nowhere_but_carry() {
    let plan = plan_text("## D\n\n```bash\nexport NS=openshift-etcd\n```\n\n```bash\noc get pods -n $NS\n```\n");
    assert_eq!(plan.blocks[0].fate, Fate::Variables);
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.steps[0].id, "d-2");
    assert_eq!(plan.steps[0].script, "export NS=openshift-etcd\noc get pods -n $NS");
}

#[test]
fn comment_only_blocks_and_other_languages() {
    let plan = plan_text(
        "## D\n\n```shell\n# TODO: Command needed\n```\n\n```yaml\nkind: x\n```\n\n```promql\nup == 0\n```\n",
    );
    assert!(plan.steps.is_empty());
    assert_eq!(plan.blocks[0].fate, Fate::Empty);
    assert_eq!(plan.other_blocks, 2);
}

#[test]
fn overlays_name_skip_and_vouch() {
    let overlay = overlay::parse_sidecar(
        "x.runbook.yaml",
        "vars: {namespace: ns1}\nblocks:\n  - {heading: Diagnosis, block: 1, name: List pods, timeout: 30s}\n  - {heading: diagnosis, block: 2, skip: true}\n  - {heading: Mitigation, block: 1, confirm: \"Delete the pod now?\"}\n",
    )
    .unwrap();
    let values = BTreeMap::from([("pod_name".to_string(), "p".to_string())]);
    let env_has = |_: &str| false;
    let plan = plan(&Input {
        path: "x.md",
        text: ALERT,
        severity: Severity::Warning,
        section: None,
        values: &values,
        env_has: &env_has,
        overlay: Some(&overlay),
    });
    assert_eq!(plan.steps.len(), 2);
    assert_eq!(plan.steps[0].name, "List pods");
    assert_eq!(plan.steps[0].step.timeout.to_string(), "30s");
    assert_eq!(plan.steps[0].step.severity, Severity::Warning);
    assert!(plan.unresolved().is_empty(), "the overlay gives namespace");
    assert_eq!(plan.steps[1].confirm.as_deref(), Some("Delete the pod now?"));
    assert_eq!(plan.blocks[1].fate, Fate::Skipped);
}

#[test]
fn ids_are_stable_and_hashes_follow_the_blocks() {
    let a = plan_text(ALERT);
    let edited_prose = plan_text(&ALERT.replace("The pod restarts.", "The pod keeps restarting."));
    assert_eq!(a.sha256, edited_prose.sha256);
    let edited_block = plan_text(&ALERT.replace("describe pod", "describe pods"));
    assert_ne!(a.sha256, edited_block.sha256);
    assert_eq!(a.steps[0].sha256, edited_block.steps[0].sha256);
    assert_ne!(a.steps[1].sha256, edited_block.steps[1].sha256);
}

#[test]
fn powershell_runs_with_pwsh() {
    let plan = plan_text("## Check\n\n```powershell\nPS> Get-Service docker\n```\n");
    let Action::Run(run) = &plan.steps[0].step.action else { panic!() };
    assert_eq!(run.shell[0], "pwsh");
    assert_eq!(plan.steps[0].class, Kind::ReadOnly);
}

/// Every page of the public runbook repositories in /work/corpus reads without a panic (the
/// real counts are in the report; this guards the parser on whatever is there).
#[test]
fn real_corpora_never_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for cut in (0..text.len()).step_by(97).filter(|c| text.is_char_boundary(*c)) {
            let _ = plan_text(&text[..cut]);
        }
    }
}

#[test]
fn overlays_say_when_their_block_changed() {
    let doc = plan_text(ALERT);
    let hash = &doc.blocks[0].sha256[..12];
    let text = format!(
        "blocks:\n  - {{heading: Diagnosis, block: 1, sha256: {hash}}}\n  - {{heading: Diagnosis, block: 9}}\n  - {{heading: Gone, block: 1}}\n"
    );
    let overlay = overlay::parse_sidecar("x.runbook.yaml", &text).unwrap();
    let values = BTreeMap::new();
    let env_has = |_: &str| false;
    let read = |text: &str| {
        plan(&Input {
            path: "x.md",
            text,
            severity: Severity::Critical,
            section: None,
            values: &values,
            env_has: &env_has,
            overlay: Some(&overlay),
        })
    };
    let same = read(ALERT);
    assert_eq!(same.warnings.len(), 2, "{:?}", same.warnings);
    assert!(same.warnings.iter().all(|w| w.message.contains("matches no code block")));
    let changed = read(&ALERT.replace("get pods", "get pods -o wide"));
    let warning = changed.warnings.iter().find(|w| w.message.contains("changed since")).expect("a warning");
    assert_eq!(warning.line, 11);
    assert!(warning.hint.as_deref().unwrap().contains(&changed.blocks[0].sha256[..16]));
}

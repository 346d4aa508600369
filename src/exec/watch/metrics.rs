//! The watch's `/metrics` (and its node_exporter textfile): per check its success, whether it is
//! failing after the flap thresholds, duration, last run and run counts; and the numbers the
//! probes observed (disk space and inodes, GPU count, utilisation, memory, temperature) as gauges,
//! labelled with the runbook and step that observed them.

use super::state::CheckStatus;
use crate::model::probe::fields::Gauge as ObservedGauge;
use crate::model::probe::{DiskField, GPU_DRIVER_INFO, GpuField};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;
type FloatGauges = Family<Labels, Gauge<f64, AtomicU64>>;

/// Every gauge a probe may report, as the probes' field declarations name them.
pub(crate) fn observed_gauges() -> impl Iterator<Item = ObservedGauge> {
    let disk = DiskField::ALL.iter().filter_map(|f| f.gauge());
    let gpu = GpuField::ALL.iter().filter_map(|f| f.gauge());
    disk.chain(gpu).chain([GPU_DRIVER_INFO])
}

/// Every metric of `checks`, in the classic Prometheus text format.
pub(crate) fn render(checks: &[CheckStatus]) -> String {
    let mut registry = Registry::with_prefix("runbook");
    register_checks(&mut registry, checks);
    register_observed(&mut registry, checks);
    crate::util::prometheus::classic(&registry)
}

fn check_labels(check: &CheckStatus) -> Labels {
    vec![("runbook".into(), check.runbook.clone()), ("step".into(), check.step.clone())]
}

fn register_checks(registry: &mut Registry, checks: &[CheckStatus]) {
    let success = FloatGauges::default();
    let failing = FloatGauges::default();
    let duration = FloatGauges::default();
    let last_run = FloatGauges::default();
    let interval = FloatGauges::default();
    let runs = Family::<Labels, Counter>::default();
    for check in checks {
        let labels = check_labels(check);
        interval.get_or_create(&labels).set(check.every_seconds);
        failing.get_or_create(&labels).set(if check.failing { 1.0 } else { 0.0 });
        for (result, count) in [("passed", check.runs_passed), ("failed", check.runs_failed)] {
            let mut labels = labels.clone();
            labels.push(("result".into(), result.into()));
            runs.get_or_create(&labels).inc_by(count);
        }
        if let Some(last) = &check.last {
            success.get_or_create(&labels).set(if last.passed { 1.0 } else { 0.0 });
            duration.get_or_create(&labels).set(last.duration_seconds);
            last_run.get_or_create(&labels).set(last.at);
        }
    }
    registry.register("watch_check_success", "1 when the check passed in its latest round, else 0", success);
    registry.register(
        "watch_check_failing",
        "1 when the check is failing (failed rounds in a row reached its fail_after threshold)",
        failing,
    );
    registry.register("watch_check_duration_seconds", "How long the check took in its latest round", duration);
    registry.register("watch_check_last_run_timestamp_seconds", "When the check last ran (Unix time)", last_run);
    registry.register("watch_check_interval_seconds", "How often the check runs", interval);
    registry.register("watch_check_runs", "Rounds of the check, by result", runs);
}

fn register_observed(registry: &mut Registry, checks: &[CheckStatus]) {
    let mut families: BTreeMap<&str, FloatGauges> = BTreeMap::new();
    for check in checks {
        let Some(last) = &check.last else { continue };
        for observation in &last.observed {
            let mut labels = check_labels(check);
            labels.extend(observation.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            families.entry(observation.name.as_str()).or_default().get_or_create(&labels).set(observation.value);
        }
    }
    for (name, family) in families {
        let help = observed_gauges()
            .find(|gauge| gauge.name == name)
            .map(|gauge| gauge.help.to_string())
            .unwrap_or_else(|| format!("A number a probe observed ({name})"));
        registry.register(name.to_string(), help, family);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Observation, Outcome};

    fn checked(observed: Vec<Observation>, passed: bool) -> CheckStatus {
        let mut check = CheckStatus::new("storage-crisis", "disk_usage", 10.0, 1, 1);
        let step = crate::record::StepRecord {
            observed,
            outcome: if passed { Outcome::Passed } else { Outcome::Failed },
            duration_ms: 1500,
            ..test_step()
        };
        check.record(&step, 1_700_000_000.0);
        check
    }

    fn test_step() -> crate::record::StepRecord {
        serde_json::from_value(serde_json::json!({
            "id": "disk_usage", "name": "/ has free space", "kind": "disk", "severity": "critical",
            "outcome": "passed", "duration_ms": 0, "attempts": 1, "checks": [], "stdout_tail": "",
            "stderr_tail": "", "stdout": {"bytes": 0, "truncated": false}, "stderr": {"bytes": 0, "truncated": false}
        }))
        .unwrap()
    }

    #[test]
    fn checks_and_observations_become_gauges() {
        let observed = vec![
            Observation::new("disk_used_percent", 97.0, &[("path", "/")]),
            Observation::new("disk_avail_bytes", 1024.0, &[("path", "/")]),
        ];
        let text = render(&[checked(observed, false)]);
        let labels = "runbook=\"storage-crisis\",step=\"disk_usage\"";
        for line in [
            format!("runbook_watch_check_success{{{labels}}} 0.0"),
            format!("runbook_watch_check_failing{{{labels}}} 1.0"),
            format!("runbook_watch_check_duration_seconds{{{labels}}} 1.5"),
            format!("runbook_watch_check_last_run_timestamp_seconds{{{labels}}} 1700000000.0"),
            format!("runbook_watch_check_runs_total{{{labels},result=\"failed\"}} 1"),
            format!("runbook_disk_used_percent{{{labels},path=\"/\"}} 97.0"),
            format!("runbook_disk_avail_bytes{{{labels},path=\"/\"}} 1024.0"),
            "# TYPE runbook_watch_check_runs_total counter".to_string(),
            "# HELP runbook_disk_used_percent Used space of the filesystem, percent (as df shows it).".to_string(),
        ] {
            assert!(text.contains(&format!("{line}\n")), "missing {line:?} in\n{text}");
        }
    }
}

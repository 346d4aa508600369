//! `runbook dashboard`: a Grafana dashboard for the watch metrics — GPU panels first
//! (utilisation, memory, temperature, count and driver), then disk (used space, free bytes, free
//! inodes), then the checks themselves. Import it in Grafana (Dashboards › New › Import).

use serde_json::{Value, json};

/// Panels are laid out two per row, 12 of Grafana's 24 columns each.
const WIDTH: u32 = 12;
const HEIGHT: u32 = 8;

struct Panel {
    title: &'static str,
    kind: &'static str,
    unit: &'static str,
    targets: &'static [(&'static str, &'static str)],
    /// (value, colour) steps for stat and gauge panels, and the red line on time series.
    thresholds: &'static [(f64, &'static str)],
}

const PANELS: [Panel; 10] = [
    Panel {
        title: "GPU utilisation",
        kind: "timeseries",
        unit: "percent",
        targets: &[("runbook_gpu_utilization_percent{instance=~\"$instance\"}", "{{instance}} GPU {{gpu}} {{name}}")],
        thresholds: &[],
    },
    Panel {
        title: "GPU memory",
        kind: "timeseries",
        unit: "bytes",
        targets: &[
            ("runbook_gpu_memory_used_bytes{instance=~\"$instance\"}", "{{instance}} GPU {{gpu}} used"),
            ("runbook_gpu_memory_total_bytes{instance=~\"$instance\"}", "{{instance}} GPU {{gpu}} total"),
        ],
        thresholds: &[],
    },
    Panel {
        title: "GPU temperature",
        kind: "timeseries",
        unit: "celsius",
        targets: &[("runbook_gpu_temperature_celsius{instance=~\"$instance\"}", "{{instance}} GPU {{gpu}}")],
        thresholds: &[(0.0, "green"), (85.0, "red")],
    },
    Panel {
        title: "GPUs and driver",
        kind: "table",
        unit: "none",
        targets: &[
            ("max by (instance) (runbook_gpu_devices{instance=~\"$instance\"})", "GPUs"),
            (
                "max by (instance, driver_version, cuda_version) (runbook_gpu_driver_info{instance=~\"$instance\"})",
                "driver",
            ),
        ],
        thresholds: &[],
    },
    Panel {
        title: "Disk used",
        kind: "bargauge",
        unit: "percent",
        targets: &[(
            "max by (instance, path) (runbook_disk_used_percent{instance=~\"$instance\"})",
            "{{instance}} {{path}}",
        )],
        thresholds: &[(0.0, "green"), (80.0, "orange"), (90.0, "red")],
    },
    Panel {
        title: "Disk free",
        kind: "timeseries",
        unit: "bytes",
        targets: &[(
            "max by (instance, path) (runbook_disk_avail_bytes{instance=~\"$instance\"})",
            "{{instance}} {{path}}",
        )],
        thresholds: &[],
    },
    Panel {
        title: "Inodes used",
        kind: "timeseries",
        unit: "percent",
        targets: &[(
            "max by (instance, path) (runbook_disk_inodes_used_percent{instance=~\"$instance\"})",
            "{{instance}} {{path}}",
        )],
        thresholds: &[(0.0, "green"), (90.0, "red")],
    },
    Panel {
        title: "Free inodes",
        kind: "timeseries",
        unit: "short",
        targets: &[(
            "max by (instance, path) (runbook_disk_inodes_free{instance=~\"$instance\"})",
            "{{instance}} {{path}}",
        )],
        thresholds: &[],
    },
    Panel {
        title: "Failing checks",
        kind: "table",
        unit: "none",
        targets: &[("runbook_watch_check_failing{instance=~\"$instance\"} == 1", "{{runbook}}/{{step}}")],
        thresholds: &[],
    },
    Panel {
        title: "Check duration",
        kind: "timeseries",
        unit: "s",
        targets: &[("runbook_watch_check_duration_seconds{instance=~\"$instance\"}", "{{runbook}}/{{step}}")],
        thresholds: &[],
    },
];

/// The dashboard, titled `title`.
pub(crate) fn dashboard(title: &str) -> Value {
    let panels: Vec<Value> = PANELS.iter().enumerate().map(|(i, panel)| render(i, panel)).collect();
    json!({
        "title": title,
        "uid": "runbook-watch",
        "tags": ["runbook"],
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"},
            {"name": "instance", "label": "Host", "type": "query",
             "datasource": {"type": "prometheus", "uid": "${datasource}"},
             "query": {"query": "label_values(runbook_watch_check_success, instance)", "refId": "instances"},
             "definition": "label_values(runbook_watch_check_success, instance)",
             "refresh": 2, "multi": true, "includeAll": true, "allValue": ".*",
             "current": {"text": "All", "value": "$__all"}},
        ]},
        "panels": panels,
    })
}

fn render(index: usize, panel: &Panel) -> Value {
    let index = index as u32;
    let targets: Vec<Value> = panel
        .targets
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            let ref_id = char::from(b'A' + i as u8).to_string();
            json!({"expr": expr, "legendFormat": legend, "refId": ref_id,
                   "datasource": {"type": "prometheus", "uid": "${datasource}"},
                   "instant": panel.kind == "table" || panel.kind == "bargauge",
                   "format": if panel.kind == "table" { "table" } else { "time_series" }})
        })
        .collect();
    let steps: Vec<Value> = if panel.thresholds.is_empty() {
        vec![json!({"color": "green", "value": null})]
    } else {
        panel
            .thresholds
            .iter()
            .enumerate()
            .map(
                |(i, (value, color))| json!({"color": color, "value": if i == 0 { Value::Null } else { json!(value) }}),
            )
            .collect()
    };
    json!({
        "id": index + 1,
        "type": panel.kind,
        "title": panel.title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": HEIGHT, "w": WIDTH, "x": (index % 2) * WIDTH, "y": (index / 2) * HEIGHT},
        "fieldConfig": {"defaults": {"unit": panel.unit, "thresholds": {"mode": "absolute", "steps": steps}}, "overrides": []},
        "options": {},
        "targets": targets,
    })
}

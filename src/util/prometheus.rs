//! The Prometheus text format from a `prometheus-client` registry.
//!
//! The library writes OpenMetrics text: a counter family `x` with samples `x_total`, `# UNIT`
//! lines and a closing `# EOF`. Prometheus' classic text format (what `promtool check metrics`
//! and node_exporter's textfile collector read) names the family `x_total` and knows neither
//! line. [`classic`] rewrites the one into the other; the samples are the same.

use prometheus_client::registry::Registry;

/// The content type of [`classic`] output.
pub(crate) const CLASSIC_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `registry` in the classic Prometheus text format.
pub(crate) fn classic(registry: &Registry) -> String {
    let mut open = String::new();
    // Writing into a String cannot fail; an encoding error would be a bug in a metric.
    if prometheus_client::encoding::text::encode_registry(&mut open, registry).is_err() {
        return String::new();
    }
    from_openmetrics(&open)
}

/// Rewrites OpenMetrics text (as `prometheus-client` writes it) into the classic format.
pub(crate) fn from_openmetrics(text: &str) -> String {
    let counters: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::registry::Unit;

    #[test]
    fn counters_are_named_with_total_and_openmetrics_lines_go() {
        let mut registry = Registry::with_prefix("runbook");
        let counter: Counter = Counter::default();
        counter.inc();
        registry.register("alerts", "Alerts received", counter);
        let gauge: Gauge<f64, std::sync::atomic::AtomicU64> = Gauge::default();
        gauge.set(1.5);
        registry.register_with_unit("free", "Free space", Unit::Bytes, gauge);
        assert_eq!(
            classic(&registry),
            "# HELP runbook_alerts_total Alerts received.\n\
             # TYPE runbook_alerts_total counter\n\
             runbook_alerts_total 1\n\
             # HELP runbook_free_bytes Free space.\n\
             # TYPE runbook_free_bytes gauge\n\
             runbook_free_bytes 1.5\n"
        );
    }
}

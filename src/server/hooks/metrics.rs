//! The hooks' counters in `/metrics`: requests, alerts by what became of them, runs by verdict.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

pub(super) struct HookMetrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    alerts: Family<Labels, Counter>,
    runs: Family<Labels, Counter>,
    pub running: Gauge,
    pub queued: Gauge,
}

impl Default for HookMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("runbook_hooks");
        let requests = Family::<Labels, Counter>::default();
        let alerts = Family::<Labels, Counter>::default();
        let runs = Family::<Labels, Counter>::default();
        let running = Gauge::default();
        let queued = Gauge::default();
        registry.register("requests", "Webhook requests, by endpoint and HTTP status", requests.clone());
        registry.register(
            "alerts",
            "Alerts received, by source and what became of them (queued, deduplicated, resolved, unmatched, \
             not_opted_in, queue_full)",
            alerts.clone(),
        );
        registry.register("runs", "Diagnosis runs the hooks started, by runbook and verdict", runs.clone());
        registry.register("runs_running", "Diagnosis runs in progress", running.clone());
        registry.register("runs_queued", "Diagnosis runs waiting for a free slot", queued.clone());
        HookMetrics { registry, requests, alerts, runs, running, queued }
    }
}

impl HookMetrics {
    pub(super) fn request(&self, endpoint: &'static str, status: u16) {
        self.requests.get_or_create(&vec![("endpoint", endpoint.to_string()), ("code", status.to_string())]).inc();
    }

    pub(super) fn alert(&self, source: &'static str, outcome: &'static str) {
        self.alerts.get_or_create(&vec![("source", source.to_string()), ("outcome", outcome.to_string())]).inc();
    }

    pub(super) fn run(&self, runbook: &str, verdict: &str) {
        self.runs.get_or_create(&vec![("runbook", runbook.to_string()), ("verdict", verdict.to_string())]).inc();
    }

    /// The classic Prometheus text of every hooks metric.
    pub(super) fn render(&self) -> String {
        crate::util::prometheus::classic(&self.registry)
    }
}

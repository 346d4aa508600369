//! `/metrics` in the Prometheus text format: the knowledge base (runbooks, each one's last run
//! and its checks) and the server itself (request and search latency histograms).

use crate::record::Outcome;
use crate::render::Site;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// A latency histogram with fixed buckets, updated without locks.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    pub(crate) fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| seconds <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// What kind of request it was, for bounded label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Page,
    Search,
    Api,
    Asset,
    Other,
}

impl Route {
    const ALL: [Route; 5] = [Route::Page, Route::Search, Route::Api, Route::Asset, Route::Other];

    fn as_str(self) -> &'static str {
        match self {
            Route::Page => "page",
            Route::Search => "search",
            Route::Api => "api",
            Route::Asset => "asset",
            Route::Other => "other",
        }
    }

    /// The route class of a request path.
    pub(crate) fn of(path: &str) -> Route {
        if path.starts_with("/api/search") || path.starts_with("/search") {
            Route::Search
        } else if path.starts_with("/api/") {
            Route::Api
        } else if path.starts_with("/assets/") {
            Route::Asset
        } else if matches!(path, "/metrics" | "/healthz" | "/_reload") {
            Route::Other
        } else {
            Route::Page
        }
    }
}

/// Counters the server updates as it answers.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: [Histogram; 5],
    /// Responses by status class, 1xx…5xx.
    statuses: [AtomicU64; 5],
    pub search: Histogram,
    pub reloads: AtomicU64,
    /// Time from a change seen to the site updated, when only edited runbooks were read again.
    pub partial_reload: Histogram,
    /// The same when the whole site was loaded again.
    pub full_reload: Histogram,
}

impl Metrics {
    pub(crate) fn record(&self, route: Route, status: u16, elapsed: Duration) {
        let index = Route::ALL.iter().position(|&r| r == route).unwrap_or(4);
        self.requests[index].observe(elapsed);
        if let Some(counter) = self.statuses.get(usize::from(status / 100).wrapping_sub(1)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The whole exposition: the KB as of now, then the server's counters.
    pub(crate) fn render(&self, site: &Site) -> String {
        let mut out = String::with_capacity(4096);
        write_kb(&mut out, site);
        let _ = writeln!(out, "# HELP runbook_http_request_duration_seconds Time to answer a request, by route.");
        let _ = writeln!(out, "# TYPE runbook_http_request_duration_seconds histogram");
        for (route, histogram) in Route::ALL.iter().zip(&self.requests) {
            histogram.write(
                &mut out,
                "runbook_http_request_duration_seconds",
                &format!("route=\"{}\"", route.as_str()),
            );
        }
        let _ = writeln!(out, "# HELP runbook_http_responses_total Responses sent, by status class.");
        let _ = writeln!(out, "# TYPE runbook_http_responses_total counter");
        for (i, counter) in self.statuses.iter().enumerate() {
            let _ = writeln!(
                out,
                "runbook_http_responses_total{{code=\"{}xx\"}} {}",
                i + 1,
                counter.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(out, "# HELP runbook_search_duration_seconds Time the search engine took per query.");
        let _ = writeln!(out, "# TYPE runbook_search_duration_seconds histogram");
        self.search.write(&mut out, "runbook_search_duration_seconds", "");
        let _ = writeln!(out, "# HELP runbook_site_reloads_total Times the site was rebuilt after a change.");
        let _ = writeln!(out, "# TYPE runbook_site_reloads_total counter");
        let _ = writeln!(out, "runbook_site_reloads_total {}", self.reloads.load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "# HELP runbook_site_reload_duration_seconds Time to update the site after a change: partial when only the runbooks edited were read again, full when everything was."
        );
        let _ = writeln!(out, "# TYPE runbook_site_reload_duration_seconds histogram");
        self.partial_reload.write(&mut out, "runbook_site_reload_duration_seconds", "kind=\"partial\"");
        self.full_reload.write(&mut out, "runbook_site_reload_duration_seconds", "kind=\"full\"");
        out
    }
}

/// Gauges of the knowledge base and of the latest run of every runbook.
fn write_kb(out: &mut String, site: &Site) {
    let kb = &site.kb;
    gauge(out, "runbook_info", "The server's version.");
    let _ = writeln!(out, "runbook_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    gauge(out, "runbook_runbooks", "Runbooks and documents in the knowledge base.");
    let _ = writeln!(out, "runbook_runbooks {}", kb.runbooks.len());
    gauge(out, "runbook_runbooks_with_errors", "Runbooks that do not parse or lint cleanly.");
    let _ = writeln!(out, "runbook_runbooks_with_errors {}", kb.runbooks.iter().filter(|rb| rb.has_errors()).count());
    gauge(out, "runbook_runs", "Recorded runs in the archive.");
    let _ = writeln!(out, "runbook_runs {}", site.runs.len());
    write_latest_runs(out, site);
}

/// Gauges of the latest run of every runbook, in the order of their ids.
fn write_latest_runs(out: &mut String, site: &Site) {
    let runs: Vec<crate::archive::store::ArchivedRun> = site.latest_runs().collect();
    let mut latest: Vec<(&str, &crate::record::RunRecord, &str)> = runs
        .iter()
        .filter_map(|run| run.record.as_ref().ok().map(|r| (r.runbook.id.as_str(), r, run.run_id.as_str())))
        .collect();
    latest.sort_by(|a, b| a.0.cmp(b.0));
    write_verdicts(out, &latest);
    write_run_sizes(out, &latest);
}

/// Each runbook's latest run: (runbook id, record, run id).
type Latest<'a> = [(&'a str, &'a crate::record::RunRecord, &'a str)];

/// The verdict, pass value and start of each latest run.
fn write_verdicts(out: &mut String, latest: &Latest<'_>) {
    gauge(out, "runbook_last_run_verdict", "The verdict of each runbook's latest run (1 for its verdict).");
    for (id, record, run_id) in latest {
        let _ = writeln!(
            out,
            "runbook_last_run_verdict{{runbook=\"{}\",verdict=\"{}\",run=\"{}\"}} 1",
            label(id),
            record.verdict.as_str(),
            label(run_id)
        );
    }
    gauge(out, "runbook_last_run_passed", "1 when each runbook's latest run passed, 0.5 with warnings, 0 otherwise.");
    for (id, record, _) in latest {
        let value = match record.verdict {
            crate::record::Verdict::Passed => "1",
            crate::record::Verdict::Warning => "0.5",
            _ => "0",
        };
        let _ = writeln!(out, "runbook_last_run_passed{{runbook=\"{}\"}} {value}", label(id));
    }
    gauge(out, "runbook_last_run_timestamp_seconds", "When each runbook's latest run started (Unix time).");
    for (id, record, _) in latest {
        if let Ok(time) = record.started_at.parse::<jiff::Timestamp>() {
            let _ =
                writeln!(out, "runbook_last_run_timestamp_seconds{{runbook=\"{}\"}} {}", label(id), time.as_second());
        }
    }
}

/// The duration, steps and checks of each latest run.
fn write_run_sizes(out: &mut String, latest: &Latest<'_>) {
    gauge(out, "runbook_last_run_duration_seconds", "How long each runbook's latest run took.");
    for (id, record, _) in latest {
        let _ = writeln!(
            out,
            "runbook_last_run_duration_seconds{{runbook=\"{}\"}} {}",
            label(id),
            record.duration_ms as f64 / 1000.0
        );
    }
    gauge(out, "runbook_last_run_steps", "Steps of each runbook's latest run, by outcome.");
    for (id, record, _) in latest {
        for outcome in [
            Outcome::Passed,
            Outcome::Failed,
            Outcome::TimedOut,
            Outcome::Error,
            Outcome::Skipped,
            Outcome::Interrupted,
        ] {
            let n = record.steps.iter().filter(|s| s.outcome == outcome).count();
            let _ = writeln!(
                out,
                "runbook_last_run_steps{{runbook=\"{}\",outcome=\"{}\"}} {n}",
                label(id),
                outcome.as_str()
            );
        }
    }
    gauge(out, "runbook_last_run_checks", "Checks of each runbook's latest run, by result.");
    for (id, record, _) in latest {
        let checks = record.steps.iter().flat_map(|s| s.checks.iter());
        let (passed, failed) = checks.fold((0, 0), |(p, f), c| if c.passed { (p + 1, f) } else { (p, f + 1) });
        let _ = writeln!(out, "runbook_last_run_checks{{runbook=\"{}\",result=\"passed\"}} {passed}", label(id));
        let _ = writeln!(out, "runbook_last_run_checks{{runbook=\"{}\",result=\"failed\"}} {failed}", label(id));
    }
}

/// The `# HELP` and `# TYPE` lines of a gauge.
fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// A label value, escaped as the text format requires.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(10));
        let mut out = String::new();
        h.write(&mut out, "x", "route=\"page\"");
        assert!(out.contains("x_bucket{route=\"page\",le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{route=\"page\",le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{route=\"page\",le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count{route=\"page\"} 3\n"), "{out}");
        assert_eq!(label("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}

//! Alerts in, diagnoses out (DESIGN §15): `POST /hooks/alertmanager` (webhook payload version 4)
//! and `POST /hooks/grafana`, behind a bearer token (and Grafana's HMAC signature when one is
//! configured). An accepted notification is answered 202 at once — never 5xx, which senders
//! retry — and each firing alert that matches a runbook opted in with `on_alert: diagnose` queues
//! one `runbook exec --diagnose` run per fingerprint and status within the cooldown.
//! `/api/alerts` lists what came in and what became of it.

mod alone;
pub(crate) mod auth;
mod dispatch;
mod metrics;
pub(crate) mod payload;

pub(crate) use alone::run_alone;
pub(crate) use dispatch::RunnerConfig;

use super::respond::{json, json_error};
use crate::model::alerting::{OnAlert, label_vars, match_alert};
use crate::model::{Kb, RunbookIdx};
use crate::record::{MAX_TRIGGER_BYTES, Trigger};
use auth::{Signature, Token};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::{get, post};
use dispatch::{AlertEvent, AlertOutcome, Dispatcher, Job, RunSlot};
use payload::{Alert, Notification, Source};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// The default body limit: a notification of a few hundred alerts fits easily.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// A label value longer than this is not passed to a run (a command-line argument has limits).
const MAX_LABEL_VALUE: usize = 16 * 1024;

/// What the hooks read the knowledge base from: the served site's, or their own.
pub(crate) trait KbSnapshot: Send + Sync {
    fn kb(&self) -> &Kb;
}

impl KbSnapshot for Kb {
    fn kb(&self) -> &Kb {
        self
    }
}

impl KbSnapshot for crate::render::Site {
    fn kb(&self) -> &Kb {
        &self.kb
    }
}

/// The knowledge base as of now (`None` once the server is going away).
pub(crate) type CurrentKb = Arc<dyn Fn() -> Option<Arc<dyn KbSnapshot>> + Send + Sync>;

pub(crate) struct HooksConfig {
    pub token: Token,
    pub signature: Option<Signature>,
    pub body_limit: usize,
    pub runner: RunnerConfig,
}

/// The variables an alert may fill for one version of a runbook.
struct LabelVars {
    allowed: BTreeSet<String>,
    refused: BTreeMap<String, String>,
    /// A plain doc: run with `--plain`, and its placeholders take one line each.
    plain: bool,
}

pub(crate) struct Hooks {
    token: Token,
    signature: Option<Signature>,
    body_limit: usize,
    current: CurrentKb,
    dispatcher: Arc<Dispatcher>,
    /// By runbook sha256: reading and checking a runbook's scripts once per version.
    label_vars: Mutex<HashMap<String, Arc<LabelVars>>>,
}

impl Hooks {
    /// Starts the run queue on the current tokio runtime.
    pub(crate) fn start(config: HooksConfig, current: CurrentKb) -> Arc<Hooks> {
        let (dispatcher, jobs) = Dispatcher::new(config.runner);
        tokio::spawn(Arc::clone(&dispatcher).run_queue(jobs));
        Arc::new(Hooks {
            token: config.token,
            signature: config.signature,
            body_limit: config.body_limit,
            current,
            dispatcher,
            label_vars: Mutex::new(HashMap::new()),
        })
    }

    /// `/hooks/alertmanager`, `/hooks/grafana` and `/api/alerts`, with their own limits.
    pub(crate) fn router(self: &Arc<Self>) -> Router {
        let hooks = Router::new()
            .route("/hooks/alertmanager", post(alertmanager))
            .route("/hooks/grafana", post(grafana))
            .layer(DefaultBodyLimit::max(self.body_limit))
            .layer(from_fn_with_state(Arc::clone(self), authorize));
        Router::new()
            .route("/api/alerts", get(alerts))
            .merge(hooks)
            .layer(from_fn_with_state(Arc::clone(self), count))
            .with_state(Arc::clone(self))
    }

    /// The hooks' metrics in the Prometheus text format.
    pub(crate) fn metrics_text(&self) -> String {
        self.dispatcher.metrics.render()
    }

    fn receive(&self, source: Source, headers: &HeaderMap, body: &[u8]) -> Response {
        if source == Source::Grafana
            && let Some(signature) = &self.signature
            && let Err(why) = signature.verify(headers, body, jiff::Timestamp::now().as_second())
        {
            return error(StatusCode::UNAUTHORIZED, why);
        }
        let notification = match Notification::parse(source, body) {
            Ok(n) => n,
            Err(err) => return error(StatusCode::BAD_REQUEST, &err.to_string()),
        };
        let Some(snapshot) = (self.current)() else {
            return error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
        };
        let kb = snapshot.kb();
        let accepted: Vec<serde_json::Value> =
            notification.alerts.iter().map(|alert| self.accept(kb, source, &notification, alert)).collect();
        let body = serde_json::json!({ "accepted": accepted.len(), "alerts": accepted });
        json(StatusCode::ACCEPTED, &body)
    }

    /// Decides what one alert starts, records it, and says so in the reply.
    fn accept(&self, kb: &Kb, source: Source, group: &Notification, alert: &Alert) -> serde_json::Value {
        let status = alert.status(group).to_string();
        let fingerprint = alert.fingerprint();
        let mut event = AlertEvent {
            id: 0,
            received_at: jiff::Timestamp::now()
                .round(jiff::Unit::Millisecond)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            source: source.as_str(),
            alert: alert.name().map(str::to_string),
            status: status.clone(),
            fingerprint: fingerprint.clone(),
            outcome: AlertOutcome::Unmatched,
            matched_by: None,
            runs: Vec::new(),
        };
        let matched = match_alert(kb, alert.name(), alert.annotations.get("runbook_url").map(String::as_str));
        let mut jobs = Vec::new();
        if status != "firing" {
            event.outcome = AlertOutcome::Resolved;
        } else if let Some((rule, indexes)) = matched {
            event.matched_by = Some(rule);
            let opted: Vec<RunbookIdx> =
                indexes.into_iter().filter(|&idx| kb[idx].on_alert == OnAlert::Diagnose).collect();
            event.outcome = if opted.is_empty() { AlertOutcome::NotOptedIn } else { AlertOutcome::Deduplicated };
            for idx in opted {
                let rb = &kb[idx];
                let key = format!("{}\u{0}{fingerprint}\u{0}{status}\u{0}{}", source.as_str(), rb.id);
                let (vars, refused_labels) = self.bind(kb, idx, &alert.labels);
                let outcome =
                    if self.dispatcher.seen_recently(&key) { AlertOutcome::Deduplicated } else { AlertOutcome::Queued };
                let slot = RunSlot {
                    runbook: rb.id.clone(),
                    state: if outcome == AlertOutcome::Queued { "queued" } else { "skipped" },
                    outcome,
                    run_id: None,
                    verdict: None,
                    vars: vars.iter().map(|(name, _)| name.clone()).collect(),
                    refused_labels,
                    error: None,
                };
                if outcome == AlertOutcome::Queued {
                    jobs.push((event.runs.len(), key, rb.id.clone(), vars, rb.is_document()));
                }
                event.runs.push(slot);
            }
        }
        let trigger = fit(alert.trigger(source, group));
        let id = self.dispatcher.record(event);
        let mut outcomes = Vec::new();
        for (slot, key, runbook, vars, plain) in jobs {
            let job = Job { event: id, slot, runbook, vars, plain, trigger: trigger.clone() };
            if !self.dispatcher.enqueue(job) {
                self.dispatcher.forget(&key);
                outcomes.push(AlertOutcome::QueueFull);
            } else {
                outcomes.push(AlertOutcome::Queued);
            }
        }
        self.settle(id, source, &outcomes)
    }

    /// Counts the alert by its final outcome (the best of its runs) and describes it.
    fn settle(&self, id: u64, source: Source, queued: &[AlertOutcome]) -> serde_json::Value {
        let event = self.dispatcher.finish_event(id, queued);
        let outcome = event.as_ref().map(|e| e.outcome).unwrap_or(AlertOutcome::Unmatched);
        self.dispatcher.metrics.alert(source.as_str(), outcome.as_str());
        serde_json::json!({
            "alert": event.as_ref().and_then(|e| e.alert.clone()),
            "fingerprint": event.as_ref().map(|e| e.fingerprint.clone()),
            "outcome": outcome,
            "runbooks": event.map(|e| e.runs.into_iter().map(|r| r.runbook).collect::<Vec<_>>()).unwrap_or_default(),
        })
    }

    /// The alert's labels that fill the runbook's variables, and the refused ones with why.
    fn bind(
        &self,
        kb: &Kb,
        idx: RunbookIdx,
        labels: &BTreeMap<String, String>,
    ) -> (Vec<(String, String)>, Vec<String>) {
        let rules = self.label_rules(kb, idx);
        let mut vars = Vec::new();
        let mut refused = Vec::new();
        for (name, value) in labels {
            if let Some(why) = rules.refused.get(name) {
                refused.push(format!("{name}: {why}"));
            } else if rules.allowed.contains(name) {
                if value.contains('\0') {
                    refused.push(format!("{name}: the value holds a NUL byte"));
                } else if rules.plain && value.contains(['\n', '\r']) {
                    refused.push(format!("{name}: the value has a line break, and a placeholder takes one line"));
                } else if value.len() > MAX_LABEL_VALUE {
                    refused.push(format!("{name}: the value is over {MAX_LABEL_VALUE} bytes"));
                } else {
                    vars.push((name.clone(), value.clone()));
                }
            }
        }
        (vars, refused)
    }

    fn label_rules(&self, kb: &Kb, idx: RunbookIdx) -> Arc<LabelVars> {
        let rb = &kb[idx];
        if let Some(rules) = self.label_vars.lock().ok().and_then(|cache| cache.get(&rb.sha256).cloned()) {
            return rules;
        }
        let plain = rb.is_document();
        let rules = match kb.body(idx) {
            Ok(body) => {
                let (allowed, refused) = label_vars(kb, rb, &body);
                LabelVars { allowed, refused, plain }
            }
            // Unreadable now: fill nothing (the run itself will say what is wrong).
            _ => LabelVars { allowed: BTreeSet::new(), refused: BTreeMap::new(), plain },
        };
        let rules = Arc::new(rules);
        if let Ok(mut cache) = self.label_vars.lock() {
            cache.insert(rb.sha256.clone(), Arc::clone(&rules));
        }
        rules
    }
}

/// A trigger small enough for `--trigger`: the annotations go first, then all labels but the
/// alert's name (an alert that large is unusual; the run still says which alert it was).
fn fit(mut trigger: Trigger) -> Trigger {
    let size = |t: &Trigger| serde_json::to_string(t).map(|s| s.len()).unwrap_or(usize::MAX);
    if size(&trigger) > MAX_TRIGGER_BYTES {
        trigger.extra.clear();
    }
    if size(&trigger) > MAX_TRIGGER_BYTES {
        trigger.labels.retain(|name, value| name == "alertname" && value.len() < 1024);
    }
    trigger
}

impl Dispatcher {
    /// Sets the event's outcome from its runs once they are queued (or not), and returns it.
    fn finish_event(&self, id: u64, queued: &[AlertOutcome]) -> Option<AlertEvent> {
        self.with_event(id, |event| {
            let mut queued = queued.iter();
            for slot in event.runs.iter_mut().filter(|s| s.outcome == AlertOutcome::Queued) {
                if let Some(&outcome) = queued.next() {
                    slot.outcome = outcome;
                    if outcome == AlertOutcome::QueueFull {
                        slot.state = "dropped";
                    }
                }
            }
            let best = [AlertOutcome::Queued, AlertOutcome::QueueFull, AlertOutcome::Deduplicated]
                .into_iter()
                .find(|o| event.runs.iter().any(|s| s.outcome == *o));
            if let Some(best) = best {
                event.outcome = best;
            }
            event.clone()
        })
    }
}

async fn alertmanager(State(hooks): State<Arc<Hooks>>, headers: HeaderMap, body: Bytes) -> Response {
    hooks.receive(Source::Alertmanager, &headers, &body)
}

async fn grafana(State(hooks): State<Arc<Hooks>>, headers: HeaderMap, body: Bytes) -> Response {
    hooks.receive(Source::Grafana, &headers, &body)
}

async fn alerts(State(hooks): State<Arc<Hooks>>) -> Response {
    json(StatusCode::OK, &serde_json::json!({ "alerts": hooks.dispatcher.recent() }))
}

/// 401 before the body is read, unless the bearer token matches.
async fn authorize(State(hooks): State<Arc<Hooks>>, request: Request, next: Next) -> Response {
    if hooks.token.admits(request.headers()) {
        return next.run(request).await;
    }
    let mut response = error(StatusCode::UNAUTHORIZED, "a valid `Authorization: Bearer` token is required");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    response
}

/// Counts every request to the hooks by endpoint and status.
async fn count(State(hooks): State<Arc<Hooks>>, request: Request, next: Next) -> Response {
    let endpoint = match request.uri().path() {
        "/hooks/alertmanager" => "alertmanager",
        "/hooks/grafana" => "grafana",
        _ => "alerts",
    };
    let response = next.run(request).await;
    hooks.dispatcher.metrics.request(endpoint, response.status().as_u16());
    response
}

fn error(status: StatusCode, message: &str) -> Response {
    json_error(status, message)
}

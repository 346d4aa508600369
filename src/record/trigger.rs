//! What started a run that no person started: an alert (Alertmanager, Grafana), a schedule, an
//! agent. Recorded as `trigger` in `run.json`, shown in `run.md` and on the run's page.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest `--trigger` accepted: a trigger is metadata, not a payload.
pub(crate) const MAX_TRIGGER_BYTES: usize = 64 * 1024;

/// The trigger of a run. `kind` says who started it (`alertmanager`, `grafana`, `watch`, `mcp`);
/// the other fields are what that source knows. Fields not named here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub kind: String,
    /// The Alertmanager receiver that sent the alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// `firing` or `resolved`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// When the alert started firing (RFC 3339, as the sender wrote it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// The page of the rule that fired (Prometheus' graph, Grafana's alert rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_url: Option<String>,
    /// The sender's own address (Alertmanager's, Grafana's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_url: Option<String>,
    /// The agent that asked for the run (MCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Why a `--trigger` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("the trigger is {0} bytes; at most {MAX_TRIGGER_BYTES} are accepted")]
    TooLong(usize),
    #[error("the trigger is not valid JSON: {0}")]
    Json(String),
    #[error("the trigger must be a JSON object, not {0}")]
    NotObject(&'static str),
    #[error("the trigger has no `kind` (say who started the run: alertmanager, grafana, watch, mcp …)")]
    NoKind,
    #[error("the trigger's fields do not fit: {0}")]
    Shape(String),
}

impl Trigger {
    /// Reads a trigger from JSON text (`runbook exec --trigger`).
    pub fn parse(text: &str) -> Result<Trigger, TriggerError> {
        if text.len() > MAX_TRIGGER_BYTES {
            return Err(TriggerError::TooLong(text.len()));
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| TriggerError::Json(e.to_string()))?;
        let kind_of = match &value {
            serde_json::Value::Object(_) => None,
            serde_json::Value::Null => Some("null"),
            serde_json::Value::Bool(_) => Some("a boolean"),
            serde_json::Value::Number(_) => Some("a number"),
            serde_json::Value::String(_) => Some("a string"),
            serde_json::Value::Array(_) => Some("a list"),
        };
        if let Some(kind) = kind_of {
            return Err(TriggerError::NotObject(kind));
        }
        let trigger: Trigger = serde_json::from_value(value).map_err(|e| TriggerError::Shape(e.to_string()))?;
        if trigger.kind.trim().is_empty() {
            return Err(TriggerError::NoKind);
        }
        Ok(trigger)
    }

    /// The alert's name, when the trigger is an alert.
    pub fn alert_name(&self) -> Option<&str> {
        self.labels.get("alertname").map(String::as_str)
    }

    /// Who started the run, in words: `Alertmanager alert DiskFull (firing)`, `mcp client claude`.
    pub fn headline(&self) -> String {
        let source = match self.kind.as_str() {
            "alertmanager" => "Alertmanager",
            "grafana" => "Grafana",
            "watch" => "runbook watch",
            "mcp" => "an MCP client",
            other => other,
        };
        let mut out = match self.alert_name() {
            Some(alert) => format!("{source} alert {alert}"),
            None => source.to_string(),
        };
        if let Some(status) = &self.status {
            out.push_str(&format!(" ({status})"));
        }
        if let Some(client) = &self.client {
            out.push_str(&format!(": {client}"));
        }
        out
    }

    /// The trigger's facts as (label, value) rows, in a fixed order, for run.md and the site.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let mut rows = vec![("triggered by", self.headline())];
        let optional = [
            ("receiver", &self.receiver),
            ("fingerprint", &self.fingerprint),
            ("alert started", &self.starts_at),
            ("source", &self.generator_url),
            ("sent from", &self.external_url),
        ];
        rows.extend(optional.into_iter().filter_map(|(label, value)| value.clone().map(|v| (label, v))));
        if !self.labels.is_empty() {
            let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            rows.push(("labels", labels.join(" ")));
        }
        for (key, value) in &self.extra {
            rows.push(("detail", format!("{key}: {}", crate::util::text::value_text(value))));
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alertmanager_trigger_round_trips() {
        let text = r#"{"kind":"alertmanager","receiver":"runbook","fingerprint":"f00d","status":"firing",
            "labels":{"alertname":"DiskFull","mountpoint":"/"},"starts_at":"2025-01-01T00:00:00Z",
            "generator_url":"http://prom/graph","external_url":"http://am:9093","group_key":"{}:{}"}"#;
        let trigger = Trigger::parse(text).unwrap();
        assert_eq!(trigger.alert_name(), Some("DiskFull"));
        assert_eq!(trigger.extra.get("group_key"), Some(&serde_json::json!("{}:{}")));
        assert_eq!(trigger.headline(), "Alertmanager alert DiskFull (firing)");
        let again: Trigger = serde_json::from_str(&serde_json::to_string(&trigger).unwrap()).unwrap();
        assert_eq!(again, trigger);
    }

    #[test]
    fn bad_triggers_are_refused_with_the_reason() {
        assert!(matches!(Trigger::parse("{"), Err(TriggerError::Json(_))));
        assert_eq!(Trigger::parse("[1]"), Err(TriggerError::NotObject("a list")));
        assert_eq!(Trigger::parse("\"x\""), Err(TriggerError::NotObject("a string")));
        assert_eq!(Trigger::parse("{}"), Err(TriggerError::Shape("missing field `kind`".into())));
        assert_eq!(Trigger::parse(r#"{"kind":" "}"#), Err(TriggerError::NoKind));
        assert!(matches!(Trigger::parse(r#"{"kind":"x","labels":{"a":1}}"#), Err(TriggerError::Shape(_))));
        let long = format!(r#"{{"kind":"x","pad":"{}"}}"#, "a".repeat(MAX_TRIGGER_BYTES));
        assert!(matches!(Trigger::parse(&long), Err(TriggerError::TooLong(_))));
    }

    #[test]
    fn facts_list_what_is_known_in_order() {
        let trigger = Trigger { kind: "mcp".into(), client: Some("claude-code".into()), ..Trigger::default() };
        assert_eq!(trigger.facts(), vec![("triggered by", "an MCP client: claude-code".to_string())]);
    }
}

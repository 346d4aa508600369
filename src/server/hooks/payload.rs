//! The webhook payloads: Alertmanager's (version 4: `notify/webhook` `Message` around
//! `template.Data`) and Grafana's, which has the same shape plus its own fields. Fields the
//! hooks do not use are ignored, so newer senders keep working.

use crate::record::Trigger;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Where a notification came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Alertmanager,
    Grafana,
}

impl Source {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Alertmanager => "alertmanager",
            Source::Grafana => "grafana",
        }
    }
}

/// One webhook notification: a group of alerts.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Notification {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub group_key: String,
    /// Read so the payload is the documented one; a truncated group still runs for the alerts
    /// it carries (Alertmanager sends at most `max_alerts`), so nothing acts on the count.
    #[serde(default)]
    #[allow(dead_code)]
    pub truncated_alerts: Option<u64>,
    #[serde(default)]
    pub receiver: String,
    /// The group's status; each alert has its own too.
    #[serde(default)]
    pub status: String,
    pub alerts: Vec<Alert>,
    #[serde(default, rename = "externalURL")]
    pub external_url: String,
}

/// One alert of a notification.
#[derive(Debug, Deserialize)]
pub(crate) struct Alert {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, rename = "startsAt")]
    pub starts_at: String,
    #[serde(default, rename = "generatorURL")]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
    // Grafana's additions.
    #[serde(default, rename = "dashboardURL")]
    pub dashboard_url: String,
    #[serde(default, rename = "panelURL")]
    pub panel_url: String,
    #[serde(default, rename = "ruleUID")]
    pub rule_uid: String,
    /// The values of the rule's queries when it fired (`B: 97.3`).
    #[serde(default)]
    pub values: Option<BTreeMap<String, f64>>,
}

/// Why a body was refused (400).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PayloadError {
    #[error("the body is not a webhook notification: {0}")]
    Json(#[from] serde_json::Error),
    #[error("webhook payload version {0:?} is not supported (Alertmanager sends version 4)")]
    Version(String),
}

impl Notification {
    pub(crate) fn parse(source: Source, body: &[u8]) -> Result<Notification, PayloadError> {
        let notification: Notification = serde_json::from_slice(body)?;
        if source == Source::Alertmanager && !notification.version.is_empty() && notification.version != "4" {
            return Err(PayloadError::Version(notification.version));
        }
        Ok(notification)
    }
}

impl Alert {
    /// `firing` or `resolved`: the alert's own status, else the group's.
    pub(crate) fn status<'a>(&'a self, group: &'a Notification) -> &'a str {
        if self.status.is_empty() { &group.status } else { &self.status }
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.labels.get("alertname").map(String::as_str)
    }

    /// The sender's fingerprint, else one made from the labels (a sender without fingerprints
    /// still gets one run per alert).
    pub(crate) fn fingerprint(&self) -> String {
        if !self.fingerprint.is_empty() {
            return self.fingerprint.clone();
        }
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        for (name, value) in &self.labels {
            hasher.update(name.as_bytes());
            hasher.update([0xff]);
            hasher.update(value.as_bytes());
            hasher.update([0xfe]);
        }
        hasher.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The run's `trigger`: who sent the alert and what it said.
    pub(crate) fn trigger(&self, source: Source, group: &Notification) -> Trigger {
        let some = |text: &str| (!text.is_empty()).then(|| text.to_string());
        let mut extra = BTreeMap::new();
        let mut put = |key: &str, value: &str| {
            if !value.is_empty() {
                extra.insert(key.to_string(), serde_json::Value::String(value.to_string()));
            }
        };
        put("group_key", &group.group_key);
        for key in ["summary", "description"] {
            put(key, self.annotations.get(key).map(String::as_str).unwrap_or_default());
        }
        put("dashboard_url", &self.dashboard_url);
        put("panel_url", &self.panel_url);
        put("rule_uid", &self.rule_uid);
        if let Some(values) = self.values.as_ref().filter(|v| !v.is_empty()) {
            extra.insert("values".into(), serde_json::json!(values));
        }
        Trigger {
            kind: source.as_str().to_string(),
            receiver: some(&group.receiver),
            fingerprint: Some(self.fingerprint()),
            status: some(self.status(group)),
            labels: self.labels.clone(),
            starts_at: some(&self.starts_at),
            generator_url: some(&self.generator_url),
            external_url: some(&group.external_url),
            client: None,
            extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Alertmanager 0.25 sends (`notify/webhook`), abridged to one alert.
    const ALERTMANAGER: &str = r#"{"receiver":"runbook","status":"firing","alerts":[{"status":"firing",
        "labels":{"alertname":"DiskFull","instance":"node1","mountpoint":"/"},
        "annotations":{"summary":"/ is 97% full","runbook_url":"https://kb/runbooks/storage-crisis/"},
        "startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z",
        "generatorURL":"http://prometheus:9090/graph?g0.expr=x","fingerprint":"a1b2c3d4e5f60718"}],
        "groupLabels":{"alertname":"DiskFull"},"commonLabels":{},"commonAnnotations":{},
        "externalURL":"http://alertmanager:9093","version":"4","groupKey":"{}:{alertname=\"DiskFull\"}",
        "truncatedAlerts":0}"#;

    #[test]
    fn an_alertmanager_notification_becomes_a_trigger() {
        let n = Notification::parse(Source::Alertmanager, ALERTMANAGER.as_bytes()).unwrap();
        let alert = &n.alerts[0];
        assert_eq!(alert.name(), Some("DiskFull"));
        assert_eq!(alert.status(&n), "firing");
        let trigger = alert.trigger(Source::Alertmanager, &n);
        assert_eq!(trigger.kind, "alertmanager");
        assert_eq!(trigger.receiver.as_deref(), Some("runbook"));
        assert_eq!(trigger.fingerprint.as_deref(), Some("a1b2c3d4e5f60718"));
        assert_eq!(trigger.labels["mountpoint"], "/");
        assert_eq!(trigger.starts_at.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(trigger.external_url.as_deref(), Some("http://alertmanager:9093"));
        assert_eq!(trigger.extra["summary"], "/ is 97% full");
    }

    #[test]
    fn grafana_fields_are_kept() {
        let body = r#"{"receiver":"rb","status":"firing","orgId":1,"title":"[FIRING:1]","state":"alerting",
            "version":"1","alerts":[{"status":"firing","labels":{"alertname":"GpuIdle"},
            "dashboardURL":"http://grafana/d/x","values":{"B":3.5},"fingerprint":"ff"}]}"#;
        let n = Notification::parse(Source::Grafana, body.as_bytes()).unwrap();
        let trigger = n.alerts[0].trigger(Source::Grafana, &n);
        assert_eq!(trigger.extra["dashboard_url"], "http://grafana/d/x");
        assert_eq!(trigger.extra["values"]["B"], 3.5);
    }

    #[test]
    fn bad_bodies_are_refused_with_the_reason() {
        assert!(matches!(Notification::parse(Source::Alertmanager, b"{"), Err(PayloadError::Json(_))));
        assert!(matches!(
            Notification::parse(Source::Alertmanager, b"{\"status\":\"firing\"}"),
            Err(PayloadError::Json(_))
        ));
        let v3 = br#"{"version":"3","alerts":[]}"#;
        assert!(matches!(Notification::parse(Source::Alertmanager, v3), Err(PayloadError::Version(_))));
    }

    #[test]
    fn a_missing_fingerprint_is_made_from_the_labels() {
        let alert = |labels: &str| -> Alert { serde_json::from_str(&format!(r#"{{"labels":{labels}}}"#)).unwrap() };
        let a = alert(r#"{"alertname":"X","a":"1"}"#).fingerprint();
        assert_eq!(a.len(), 16);
        assert_eq!(a, alert(r#"{"a":"1","alertname":"X"}"#).fingerprint());
        assert_ne!(a, alert(r#"{"alertname":"X","a":"2"}"#).fingerprint());
    }
}

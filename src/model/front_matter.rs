//! The YAML front matter of a runbook.

use super::alerting::{OnAlert, Watch};
use super::step::{EnvName, Severity, StepDefaults, VarName};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;

/// Every front-matter key, for "did you mean" hints.
pub const FRONT_MATTER_FIELDS: [&str; 14] = [
    "id", "title", "aliases", "summary", "tags", "category", "severity", "owner", "vars", "secrets", "defaults",
    "alerts", "on_alert", "watch",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub id: Option<Spanned<String>>,
    pub title: Option<String>,
    #[serde(default)]
    pub aliases: StringList,
    pub summary: Option<String>,
    #[serde(default)]
    pub tags: StringList,
    pub category: Option<String>,
    pub severity: Option<Severity>,
    pub owner: Option<String>,
    #[serde(default)]
    pub vars: BTreeMap<VarName, serde_json::Value>,
    #[serde(default)]
    pub secrets: Vec<EnvName>,
    #[serde(default)]
    pub defaults: StepDefaults,
    /// Alert names this runbook answers (`alertname` of Prometheus/Grafana alerts).
    #[serde(default)]
    pub alerts: StringList,
    /// `diagnose`: an alert may run the runbook's read-only steps.
    pub on_alert: Option<OnAlert>,
    /// Checks `runbook watch` runs on a schedule.
    pub watch: Option<Watch>,
}

/// A list of strings that may also be written as one string (`tags: gpu`).
#[derive(Debug, Default, Clone)]
pub struct StringList(pub Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StringList, E> {
                Ok(StringList(vec![v.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StringList, E> {
                Ok(StringList(vec![v.to_string()]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StringList, E> {
                Ok(StringList(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(StringList(items))
            }
        }
        deserializer.deserialize_any(V)
    }
}

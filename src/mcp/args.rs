//! The arguments of every tool: their JSON Schema (what a client shows the model) and how they
//! are read, with errors that name the argument at fault.

use crate::index::Kind;
use crate::record::Verdict;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// Most hits `search_runbooks` returns at once.
pub(super) const MAX_HITS: usize = 50;
pub(super) const DEFAULT_HITS: usize = 10;
/// Most runs `list_runs` returns at once.
pub(super) const MAX_RUNS: usize = 200;
pub(super) const DEFAULT_RUNS: usize = 20;

/// Tool arguments `T`, read so that an error names the argument: "`limit`: invalid type: string
/// \"ten\", expected usize" rather than serde's bare "invalid type …". The schema is `T`'s.
#[derive(Debug, Clone)]
pub(super) struct Args<T>(pub T);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Args<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        read(value).map(Args).map_err(serde::de::Error::custom)
    }
}

impl<T: JsonSchema> JsonSchema for Args<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// Reads `T` from JSON arguments; the error names the argument path when there is one.
pub(super) fn read<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    // A client that sends no arguments at all means "none": the same as `{}`.
    let value = if value.is_null() { serde_json::Value::Object(serde_json::Map::new()) } else { value };
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." || path.is_empty() { inner.to_string() } else { format!("`{path}`: {inner}") }
    })
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchArgs {
    /// Words to look for: an error message, a symptom, a command, an alert name (`CUDA error
    /// 304`, `nvidia-smi`, `disk full`). Quote a phrase ("cuda context"); `tag:gpu`,
    /// `kind:archive` and `category:operations` inside the query filter too.
    pub query: String,
    /// Only runbooks with this tag (for example `gpu`).
    #[serde(default)]
    pub tag: Option<String>,
    /// Only this kind of document: `runbook` (the knowledge base), `archive` (recorded runs) or
    /// `cycle` (cycle reports). Default: all kinds.
    #[serde(default)]
    pub kind: Option<KindArg>,
    /// At most this many hits (1–50, default 10).
    #[serde(default)]
    #[schemars(range(min = 1, max = 50))]
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KindArg {
    Runbook,
    Archive,
    Cycle,
}

impl From<KindArg> for Kind {
    fn from(kind: KindArg) -> Kind {
        match kind {
            KindArg::Runbook => Kind::Runbook,
            KindArg::Archive => Kind::Archive,
            KindArg::Cycle => Kind::Cycle,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ShowArgs {
    /// The runbook's id (as `search_runbooks` returns it), one of its aliases, or its path
    /// (`runbooks/operations/cuda-304.md`).
    pub id: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ListRunsArgs {
    /// Only runs of this runbook (id or alias).
    #[serde(default)]
    pub runbook: Option<String>,
    /// Only runs with this verdict.
    #[serde(default)]
    pub verdict: Option<VerdictArg>,
    /// At most this many runs, newest first (1–200, default 20).
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerdictArg {
    Passed,
    Warning,
    Failed,
    Interrupted,
    Running,
}

impl From<VerdictArg> for Verdict {
    fn from(verdict: VerdictArg) -> Verdict {
        match verdict {
            VerdictArg::Passed => Verdict::Passed,
            VerdictArg::Warning => Verdict::Warning,
            VerdictArg::Failed => Verdict::Failed,
            VerdictArg::Interrupted => Verdict::Interrupted,
            VerdictArg::Running => Verdict::Running,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GetRunArgs {
    /// The run's id (from `list_runs` or `run_diagnosis`), a unique beginning of one, or
    /// `latest`.
    pub run_id: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DiagnoseArgs {
    /// The runbook to run (id or alias, from `search_runbooks` or `show_runbook`).
    pub runbook: String,
    /// Values for variables the runbook declares (`vars` in `show_runbook`), for example
    /// `{"ollama_url": "http://10.0.0.5:11434"}`. Strings, numbers or booleans; a name the
    /// runbook does not declare is refused. Omitted variables keep their defaults.
    #[serde(default)]
    #[schemars(schema_with = "var_values_schema")]
    pub vars: BTreeMap<String, serde_json::Value>,
}

fn var_values_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": {"type": ["string", "number", "boolean"]},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_wrong_type_names_the_argument() {
        let err = read::<SearchArgs>(json!({"query": "disk", "limit": "ten"})).unwrap_err();
        assert!(err.starts_with("`limit`: invalid type: string \"ten\""), "{err}");
        let err = read::<SearchArgs>(json!({"query": 304})).unwrap_err();
        assert!(err.starts_with("`query`: invalid type: integer `304`, expected a string"), "{err}");
    }

    #[test]
    fn a_misspelt_argument_lists_the_right_ones() {
        let err = read::<SearchArgs>(json!({"qurey": "disk"})).unwrap_err();
        assert!(err.contains("unknown field `qurey`, expected one of `query`, `tag`, `kind`, `limit`"), "{err}");
    }

    #[test]
    fn a_missing_argument_is_named_and_none_means_empty() {
        let err = read::<ShowArgs>(serde_json::Value::Null).unwrap_err();
        assert_eq!(err, "missing field `id`");
        let args = read::<ListRunsArgs>(serde_json::Value::Null).unwrap();
        assert!(args.runbook.is_none() && args.limit.is_none());
    }

    #[test]
    fn an_unknown_kind_or_verdict_lists_the_choices() {
        let err = read::<SearchArgs>(json!({"query": "x", "kind": "page"})).unwrap_err();
        assert!(err.contains("`kind`: unknown variant `page`, expected one of `runbook`, `archive`, `cycle`"), "{err}");
        let err = read::<ListRunsArgs>(json!({"verdict": "ok"})).unwrap_err();
        assert!(err.contains("`verdict`: unknown variant `ok`"), "{err}");
    }

    #[test]
    fn schemas_describe_every_argument_for_the_model() {
        let schema = serde_json::to_value(schemars::schema_for!(SearchArgs)).unwrap();
        for name in ["query", "tag", "kind", "limit"] {
            let description = schema["properties"][name]["description"].as_str().unwrap_or_default();
            assert!(!description.is_empty(), "{name} has no description: {schema}");
        }
        assert_eq!(schema["required"], json!(["query"]));
        let schema = serde_json::to_value(schemars::schema_for!(DiagnoseArgs)).unwrap();
        assert_eq!(
            schema["properties"]["vars"]["additionalProperties"]["type"],
            json!(["string", "number", "boolean"])
        );
    }
}

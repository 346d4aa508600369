//! Overlays: what a team says about the blocks of a doc it vendors but does not own, without
//! editing it — a sidecar `NAME.runbook.yaml` beside `NAME.md`, or `[[overlay]]` tables in
//! `runbook.toml`. Each entry is keyed by heading and block ordinal and may set `name`, `skip`,
//! `expect`, `timeout`, `confirm` and `vars`; its `sha256` is the block's hash when the entry was
//! written, so `check` can say when the block changed upstream.

use super::super::diagnostic::{Diagnostic, Rule};
use super::super::duration::Duration;
use super::super::step::Expect;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// The sidecar file of a doc: `alerts/Foo.md` → `alerts/Foo.runbook.yaml`.
pub(crate) fn sidecar_path(doc_path: &str) -> String {
    let stem = doc_path.strip_suffix(".md").unwrap_or(doc_path);
    format!("{stem}.runbook.yaml")
}

/// Everything overlaid on one doc.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Overlay {
    /// Values for the doc's placeholders (`--var` still wins).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(default)]
    pub blocks: Vec<BlockOverlay>,
    /// Where the overlay was read from, for messages (`alerts/Foo.runbook.yaml`).
    #[serde(skip)]
    pub origin: String,
}

/// What an overlay says about one block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockOverlay {
    /// The heading the block sits under, as written (or its anchor); none before the first heading.
    pub heading: Option<String>,
    /// Which code block under that heading: 1 is the first.
    pub block: usize,
    /// The block's hash (a prefix of at least 8 hex digits) when this entry was written.
    pub sha256: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub skip: bool,
    pub expect: Option<Expect>,
    pub timeout: Option<Duration>,
    pub confirm: Option<Confirm>,
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// For `[[overlay]]` in runbook.toml: the doc, by id or path.
    #[serde(default)]
    pub runbook: Option<String>,
}

impl BlockOverlay {
    /// Whether this entry is about the block at `ordinal` under a heading with this text/anchor.
    pub fn matches(&self, heading: Option<(&str, &str)>, ordinal: usize) -> bool {
        if self.block != ordinal {
            return false;
        }
        match (&self.heading, heading) {
            (None, None) => true,
            (Some(wanted), Some((text, anchor))) => {
                let wanted = wanted.trim().trim_start_matches('#').trim();
                wanted.eq_ignore_ascii_case(text) || wanted.eq_ignore_ascii_case(anchor)
            }
            _ => false,
        }
    }

    /// Where this entry points, for messages: `“Diagnosis” block 2`.
    pub fn key(&self) -> String {
        match &self.heading {
            Some(heading) => format!("“{heading}” block {}", self.block),
            None => format!("block {} before the first heading", self.block),
        }
    }
}

/// `confirm:` in an overlay: a question (the block asks it), or `false` (the team vouches the
/// block only reads, whatever the classifier says).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Ask(String),
    Never,
}

impl<'de> Deserialize<'de> for Confirm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Confirm;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a question, or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Confirm, E> {
                if v {
                    Err(E::custom("write the question itself (confirm: \"Restart it?\"), or false"))
                } else {
                    Ok(Confirm::Never)
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Confirm, E> {
                Ok(Confirm::Ask(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Reads a sidecar; a broken one is a diagnostic at its line and column.
pub(crate) fn parse_sidecar(path: &str, text: &str) -> Result<Overlay, Diagnostic> {
    let mut overlay: Overlay = serde_saphyr::from_str(text).map_err(|err| {
        let location = err.location();
        let (line, column) = location.map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((1, 1));
        let options = serde_saphyr::render_options! {
            formatter: &serde_saphyr::UserMessageFormatter,
            snippets: serde_saphyr::SnippetMode::Off,
        };
        let message = err.render_with_options(options);
        let message = message.split(" at line ").next().unwrap_or(&message).to_string();
        Diagnostic::error(Rule::Plain, path, line.max(1), column.max(1), format!("overlay: {message}")).with_hint(
            "an overlay has `vars:` and `blocks:`, each block {heading, block, sha256, name, skip, expect, timeout, confirm, vars}",
        )
    })?;
    overlay.origin = path.to_string();
    for (i, block) in overlay.blocks.iter().enumerate() {
        if block.block == 0 {
            return Err(Diagnostic::error(
                Rule::Plain,
                path,
                1,
                1,
                format!("overlay entry {}: `block` counts from 1", i + 1),
            )
            .with_hint("block: 1 is the first code block under the heading"));
        }
        if block.runbook.is_some() {
            return Err(Diagnostic::error(
                Rule::Plain,
                path,
                1,
                1,
                format!("overlay entry {}: `runbook` belongs in runbook.toml", i + 1),
            )
            .with_hint("a sidecar applies to the doc beside it"));
        }
    }
    Ok(overlay)
}

/// The overlay of a runbook: its sidecar (`NAME.runbook.yaml`) and the `[[overlay]]` tables of
/// `runbook.toml` that name it (by id or by path without `.md`). A broken sidecar is an error at
/// its line; `Ok(None)` when there is no overlay.
pub(crate) fn for_runbook(kb: &super::super::Kb, rb: &super::super::Runbook) -> Result<Option<Overlay>, Diagnostic> {
    let sidecar = sidecar_path(&rb.path);
    let mut overlay = match kb.file_path(&sidecar).filter(|p| p.is_file()) {
        Some(file) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| Diagnostic::error(Rule::Plain, &sidecar, 1, 1, format!("cannot read the overlay: {e}")))?;
            Some(parse_sidecar(&sidecar, &text)?)
        }
        None => None,
    };
    let names = |wanted: &str| {
        let wanted = wanted.trim().trim_end_matches(".md");
        wanted.eq_ignore_ascii_case(&rb.id)
            || wanted.eq_ignore_ascii_case(&rb.stem_path)
            || wanted == rb.path.trim_end_matches(".md")
    };
    let from_config: Vec<BlockOverlay> =
        kb.config.overlay.iter().filter(|o| o.runbook.as_deref().is_some_and(names)).cloned().collect();
    if !from_config.is_empty() {
        let target = overlay.get_or_insert_with(|| Overlay {
            origin: super::super::config::CONFIG_FILE.to_string(),
            ..Overlay::default()
        });
        target.blocks.extend(from_config);
    }
    Ok(overlay)
}

/// Whether the hash an overlay recorded still matches the block.
pub(crate) fn hash_matches(recorded: &str, actual: &str) -> bool {
    let recorded = recorded.trim().to_ascii_lowercase();
    recorded.len() >= 8 && actual.starts_with(&recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sidecar() {
        let text = "vars: {namespace: openshift-monitoring}\nblocks:\n  - heading: Diagnosis\n    block: 2\n    sha256: 0123abcd\n    name: Check the pods\n    timeout: 30s\n    expect: {exit: [0, 1], stdout: [Running]}\n    confirm: false\n  - heading: Mitigation\n    block: 1\n    skip: true\n";
        let overlay = parse_sidecar("a.runbook.yaml", text).unwrap();
        assert_eq!(overlay.vars["namespace"], "openshift-monitoring");
        assert_eq!(overlay.blocks.len(), 2);
        assert!(overlay.blocks[0].matches(Some(("Diagnosis", "diagnosis")), 2));
        assert!(overlay.blocks[0].matches(Some(("diagnosis", "x")), 2));
        assert!(!overlay.blocks[0].matches(Some(("Diagnosis", "diagnosis")), 1));
        assert_eq!(overlay.blocks[0].confirm, Some(Confirm::Never));
        assert_eq!(overlay.blocks[0].timeout.unwrap().to_string(), "30s");
        assert!(overlay.blocks[1].skip);
    }

    #[test]
    fn bad_sidecars_point_at_the_problem() {
        let err =
            parse_sidecar("a.runbook.yaml", "blocks:\n  - heading: X\n    block: 1\n    skipp: true\n").unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.message.contains("skipp"), "{}", err.message);
        let err = parse_sidecar("a.runbook.yaml", "blocks:\n  - {heading: X, block: 0}\n").unwrap_err();
        assert!(err.message.contains("counts from 1"));
        let err = parse_sidecar("a.runbook.yaml", "blocks:\n  - {heading: X, block: 1, confirm: true}\n").unwrap_err();
        assert!(err.message.contains("question"), "{}", err.message);
    }

    #[test]
    fn hashes_and_paths() {
        assert!(hash_matches("0123ABCD", "0123abcdef"));
        assert!(!hash_matches("0123", "0123abcdef"), "too short to mean anything");
        assert!(!hash_matches("ffffffff", "0123abcdef"));
        assert_eq!(sidecar_path("alerts/x/Foo.md"), "alerts/x/Foo.runbook.yaml");
    }
}

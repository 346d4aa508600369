//! `runbook.toml`: optional KB-wide settings.

use super::diagnostic::{Diagnostic, Rule};
use super::markdown::LineIndex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The file name that marks a folder as a KB root.
pub(crate) const CONFIG_FILE: &str = "runbook.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Site title.
    pub title: Option<String>,
    /// Public URL of the built site, for absolute links.
    pub base_url: Option<String>,
    /// Archive folder, relative to the KB root.
    pub archives: Option<PathBuf>,
    /// Default variables for every runbook; a runbook's own `vars` win.
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Env var names redacted in every run.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Order of categories on the site; others follow alphabetically.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Run documents (files without `yaml step` blocks) as plain shell blocks (DESIGN §14).
    #[serde(default)]
    pub plain: bool,
    /// Overlays on plain docs: `[[overlay]]` tables, each naming its doc with `runbook`.
    #[serde(default)]
    pub overlay: Vec<super::plain::overlay::BlockOverlay>,
}

impl Config {
    /// The KB's `runbook.toml` (defaults when there is none), with the problem if it is broken.
    pub fn load(source: &super::discovery::KbSource) -> (Config, Option<Diagnostic>) {
        match source.root().map(|root| root.join(CONFIG_FILE)) {
            Some(path) if path.is_file() => match std::fs::read_to_string(&path) {
                Ok(text) => Config::parse(&text),
                Err(err) => (
                    Config::default(),
                    Some(Diagnostic::error(
                        Rule::Config,
                        CONFIG_FILE,
                        1,
                        1,
                        format!("cannot read {CONFIG_FILE}: {err}"),
                    )),
                ),
            },
            _ => (Config::default(), None),
        }
    }

    /// Parses `runbook.toml`; a broken file yields the defaults plus a diagnostic.
    pub fn parse(text: &str) -> (Config, Option<Diagnostic>) {
        match toml::from_str::<Config>(text) {
            Ok(config) => (config, None),
            Err(err) => {
                let lines = LineIndex::new(text);
                let (line, column) = err.span().map(|s| lines.line_col(text, s.start)).unwrap_or((1, 1));
                let diag = Diagnostic::error(Rule::Config, CONFIG_FILE, line, column, err.message().to_string())
                    .with_hint(
                        "runbook.toml keys: title, base_url, archives, vars, secrets, categories, plain, [[overlay]]",
                    );
                (Config::default(), Some(diag))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports() {
        let (config, diag) = Config::parse("title = \"Ops\"\n[vars]\nollama_url = \"http://x\"\n");
        assert!(diag.is_none());
        assert_eq!(config.title.as_deref(), Some("Ops"));
        assert!(config.vars.contains_key("ollama_url"));
        let (_, diag) = Config::parse("title = \"Ops\"\ncolour = 1\n");
        let diag = diag.unwrap();
        assert_eq!(diag.line, 2);
        assert!(diag.message.contains("colour"), "{}", diag.message);
    }

    #[test]
    fn plain_and_overlays() {
        let text = "plain = true\n[[overlay]]\nrunbook = \"alerts/Foo\"\nheading = \"Diagnosis\"\nblock = 2\nskip = true\n\n[[overlay]]\nrunbook = \"Foo\"\nheading = \"Mitigation\"\nblock = 1\nconfirm = false\ntimeout = \"1m\"\nexpect = { exit = [0, 1] }\n";
        let (config, diag) = Config::parse(text);
        assert!(diag.is_none(), "{diag:?}");
        assert!(config.plain);
        assert_eq!(config.overlay.len(), 2);
        assert!(config.overlay[0].skip);
        assert_eq!(config.overlay[1].confirm, Some(super::super::plain::overlay::Confirm::Never));
        assert_eq!(config.overlay[1].timeout.unwrap().to_string(), "1m");
    }
}

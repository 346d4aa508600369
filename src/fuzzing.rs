//! Entry points for the fuzz targets (fuzz/fuzz_targets): each target is one call here, so the
//! internals it drives stay crate-private. Every function must never panic on any input.

use crate::archive::store::Archives;
use crate::exec::check::{check_number, check_text, check_value, check_version};
use crate::exec::template::{Renderer, shell_quote};
use crate::index::{SearchIndex, SearchRequest};
use crate::model::config::Config;
use crate::model::matcher::{LinesMatcher, NumberMatcher, Unit, ValueMatcher, VersionMatcher};
use crate::model::parse::{ParseContext, SourceFile, parse};
use crate::model::probe::{DiskProbe, FileProbe, GpuProbe, HttpProbe, TcpProbe};
use crate::model::step::RawStep;
use crate::model::template::{Expr, Template};
use crate::model::{Kb, KbSource};
use std::path::Path;

/// Any bytes as a runbook file: parsing, KB assembly (ids, links to a second file), the step
/// views and search's section split.
pub fn parse_runbook(data: &[u8]) {
    let ctx = ParseContext::default();
    let file = |path: &str, stem: &str, bytes: &[u8]| {
        let mut file = SourceFile::new(path.to_string(), stem, None);
        file.bytes = bytes.to_vec();
        file
    };
    let first = parse(file("runbooks/ops/fuzz.md", "ops/fuzz.md", data), &ctx);
    let other = b"# Other\n\n## Anchor\n\nSee [fuzz](fuzz.md).\n";
    let second = parse(file("runbooks/ops/other.md", "ops/other.md", other), &ctx);
    let body = first.body.clone();
    let kb = Kb::assemble(KbSource::Builtin, Config::default(), vec![first.into(), second.into()], Vec::new());
    for runbook in &kb.runbooks {
        assert!(runbook.diagnostics.iter().all(|d| d.line >= 1 && d.column >= 1));
    }
    if let Some(body) = body {
        let _ = crate::index::documents::sections(&kb.runbooks[0], &body);
        for step in &body.steps {
            let _ = step.expectations();
            let _ = step.references();
        }
    }
}

/// Any text as a matcher, a probe or a step field: deserializing, describing and evaluating.
pub fn matchers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(m) = serde_saphyr::from_str::<NumberMatcher>(text) {
        let _ = m.0.describe(Unit::Bytes);
        let _ = check_number("n", &m.0, 42.0, Unit::Percent);
    }
    if let Ok(m) = serde_saphyr::from_str::<LinesMatcher>(text) {
        let _ = check_text("out", &m.0, "a line\nerror: x\n");
    }
    if let Ok(m) = serde_saphyr::from_str::<VersionMatcher>(text) {
        let _ = check_version("v", &m.0, "575.57.08");
    }
    if let Ok(m) = serde_saphyr::from_str::<ValueMatcher>(text) {
        let _ = check_value("/x", &m.0, Some(&serde_json::json!({"a": [1, "two", null]})));
    }
    let _ = serde_saphyr::from_str::<DiskProbe>(text);
    let _ = serde_saphyr::from_str::<GpuProbe>(text);
    let _ = serde_saphyr::from_str::<HttpProbe>(text);
    let _ = serde_saphyr::from_str::<TcpProbe>(text);
    let _ = serde_saphyr::from_str::<FileProbe>(text);
    let _ = serde_saphyr::from_str::<RawStep>(text);
    let _ = text.parse::<crate::model::duration::Duration>();
    let _ = crate::model::quantity::parse_quantity(text);
    let _ = crate::model::version::VersionReq::parse(text);
}

/// Any text as a step template or a `when`/`assert` expression: checking at parse time and
/// rendering at run time (strict undefined, `shell_quote`).
pub fn templates(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let renderer = Renderer::new();
    let scope = minijinja::Value::from(minijinja::value::Serde(serde_json::json!({
        "path": "/var/lib/ollama",
        "limit": 90,
        "steps": {"driver": {"passed": false, "status": "failed", "exit": 1, "stdout": "= 999"}},
        "env": {"HOME": "/root"},
    })));
    if let Ok(template) = Template::parse(text.to_string()) {
        let _ = renderer.render(&template, &scope);
    }
    if let Ok(expr) = Expr::parse(text.to_string()) {
        let _ = renderer.truthy(&expr, &scope);
    }
    assert!(!shell_quote(text).is_empty());
}

/// An index of the shipped runbooks, built once in `dir`, that fuzzed queries run against.
pub struct ShippedIndex(SearchIndex);

impl ShippedIndex {
    /// Builds the index under `dir` (its `index` and empty `archives` folders).
    pub fn build(dir: &Path) -> Self {
        let kb = Kb::load(KbSource::Builtin);
        let index = SearchIndex::open(&dir.join("index")).expect("open index");
        let archives = Archives::new(dir.join("archives"));
        index.sync(&kb, &archives).expect("index the shipped runbooks");
        Self(index)
    }

    /// Any text as a search query: never an error, snippets always well-formed.
    pub fn search_query(&self, data: &[u8]) {
        let query = String::from_utf8_lossy(data).into_owned();
        let request = SearchRequest { query, limit: Some(5), ..SearchRequest::default() };
        let results = self.0.search(&request).expect("search never fails on user input");
        for hit in &results.hits {
            let open = hit.snippet.matches("<mark>").count();
            assert_eq!(open, hit.snippet.matches("</mark>").count());
        }
    }
}

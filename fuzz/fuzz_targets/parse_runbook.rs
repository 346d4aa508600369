//! Any bytes as a runbook file: parsing, KB assembly (ids, links to a second file), `show`'s
//! view and search's section split must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbook::model::config::Config;
use runbook::model::parse::{ParseContext, SourceFile, parse};
use runbook::model::{Kb, KbSource};

fuzz_target!(|data: &[u8]| {
    let ctx = ParseContext::default();
    let file = |path: &str, stem: &str, bytes: &[u8]| {
        let mut file = SourceFile::new(path.to_string(), stem, None);
        file.bytes = bytes.to_vec();
        file
    };
    let first = parse(file("runbooks/ops/fuzz.md", "ops/fuzz.md", data), &ctx);
    let second = parse(file("runbooks/ops/other.md", "ops/other.md", b"# Other\n\n## Anchor\n\nSee [fuzz](fuzz.md).\n"), &ctx);
    let body = first.body.clone();
    let kb = Kb::assemble(KbSource::Builtin, Config::default(), vec![first, second], Vec::new());
    for runbook in &kb.runbooks {
        assert!(runbook.diagnostics.iter().all(|d| d.line >= 1 && d.column >= 1));
    }
    if let Some(body) = body {
        let _ = runbook::index::documents::sections(&kb.runbooks[0], &body);
        for step in &body.steps {
            let _ = step.expectations();
            let _ = step.references();
        }
    }
});

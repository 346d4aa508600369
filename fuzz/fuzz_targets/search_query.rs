//! Any text as a search query against an index of the shipped runbooks: never an error, never a
//! panic, snippets always well-formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbook::archive::store::Archives;
use runbook::index::{SearchIndex, SearchRequest};
use runbook::model::{Kb, KbSource};
use std::sync::OnceLock;

fn index() -> &'static SearchIndex {
    static INDEX: OnceLock<(tempfile::TempDir, SearchIndex)> = OnceLock::new();
    &INDEX
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let kb = Kb::load(KbSource::Builtin);
            let index = SearchIndex::open(&dir.path().join("index")).expect("open index");
            let archives = Archives::new(dir.path().join("archives"));
            index.sync(&kb, &archives).expect("index the shipped runbooks");
            (dir, index)
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data).into_owned();
    let request = SearchRequest { query, limit: Some(5), ..SearchRequest::default() };
    let results = index().search(&request).expect("search never fails on user input");
    for hit in &results.hits {
        assert_eq!(hit.snippet.matches("<mark>").count(), hit.snippet.matches("</mark>").count());
    }
});

//! Any text as a search query against an index of the shipped runbooks: never an error, never a
//! panic, snippets always well-formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbook::fuzzing::ShippedIndex;
use std::sync::OnceLock;

// Built once per fuzzing process: indexing the shipped KB for every input would dominate.
fn index() -> &'static ShippedIndex {
    static INDEX: OnceLock<(tempfile::TempDir, ShippedIndex)> = OnceLock::new();
    let (_, index) = INDEX.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let index = ShippedIndex::build(dir.path());
        (dir, index)
    });
    index
}

fuzz_target!(|data: &[u8]| index().search_query(data));

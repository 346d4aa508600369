//! Any bytes as a runbook file: parsing, KB assembly (ids, links to a second file), `show`'s
//! view and search's section split must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| runbook::fuzzing::parse_runbook(data));

//! Any text as a step template or a `when`/`assert` expression: checking at parse time and
//! rendering at run time (strict undefined, `shell_quote`) must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| runbook::fuzzing::templates(data));

//! Any text as a matcher, a probe or a step field: deserializing, describing and evaluating
//! must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| runbook::fuzzing::matchers(data));

//! Any text as a matcher, a probe or a step field: deserializing, describing and evaluating
//! must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbook::exec::check::{check_number, check_text, check_value, check_version};
use runbook::model::matcher::{LinesMatcher, NumberMatcher, Unit, ValueMatcher, VersionMatcher};
use runbook::model::probe::{DiskProbe, FileProbe, GpuProbe, HttpProbe, TcpProbe};
use runbook::model::step::RawStep;

fuzz_target!(|data: &[u8]| {
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
    let _ = text.parse::<runbook::model::duration::Duration>();
    let _ = runbook::model::quantity::parse_quantity(text);
    let _ = runbook::model::version::VersionReq::parse(text);
});

//! Any text as a step template or a `when`/`assert` expression: checking at parse time and
//! rendering at run time (strict undefined, `shell_quote`) must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runbook::exec::template::{Renderer, shell_quote};
use runbook::model::template::{Expr, Template};

fuzz_target!(|data: &[u8]| {
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
    let quoted = shell_quote(text);
    assert!(!quoted.is_empty());
});

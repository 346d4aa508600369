//! Rendering step strings and evaluating `when`/`assert`: minijinja with strict undefined (a
//! missing name is an error, never an empty string) and a `shell_quote` filter.

use crate::model::template::{Expr, Template};
use minijinja::{Environment, UndefinedBehavior, Value};

/// The work one step string or expression may do: about a million template instructions or
/// 64 MB of data (minijinja's fuel). Real step templates use a few hundred; without a bound, a
/// loop of loops or `[1] * 100000000` in a runbook would hang or exhaust memory at `exec`.
pub(crate) const TEMPLATE_FUEL: u64 = 1_000_000;

pub(crate) struct Renderer {
    env: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl Renderer {
    pub(crate) fn new() -> Renderer {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(TEMPLATE_FUEL));
        // Scripts keep their final newline, as written.
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder().keep_trailing_newline(true).build() {
            env.set_syntax(syntax);
        }
        env.add_filter("shell_quote", shell_quote_filter);
        // Python's string methods (`x.startswith('1.')`, `v.split('.')`), as Jinja users expect.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        Renderer { env }
    }

    /// Renders `template` over `scope`; plain strings come back as they are.
    pub(crate) fn render(&self, template: &Template, scope: &Value) -> Result<String, String> {
        if !template.is_templated() {
            return Ok(template.source.clone());
        }
        self.env
            .render_str(&template.source, scope)
            .map_err(|err| format!("cannot render `{}`: {}", first_line(&template.source), describe(&err)))
    }

    /// Evaluates an expression for its truth (`when`, `assert`).
    pub(crate) fn truthy(&self, expr: &Expr, scope: &Value) -> Result<bool, String> {
        let compiled = self
            .env
            .compile_expression(&expr.source)
            .map_err(|err| format!("invalid expression `{}`: {}", expr.source, describe(&err)))?;
        compiled
            .eval(scope)
            .map(|value| value.is_true())
            .map_err(|err| format!("cannot evaluate `{}`: {}", expr.source, describe(&err)))
    }
}

fn describe(err: &minijinja::Error) -> String {
    let detail = err.detail().map(str::to_string).unwrap_or_else(|| err.kind().to_string());
    match err.kind() {
        minijinja::ErrorKind::UndefinedError => {
            format!("{detail} (a name that is not defined, or a missing key)")
        }
        minijinja::ErrorKind::OutOfFuel => format!(
            "it does too much work (over {TEMPLATE_FUEL} template steps, or data larger than 64 MB); \
             a step template should only fill values in — loop in the script instead"
        ),
        _ => detail,
    }
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 60 || text.lines().nth(1).is_some() {
        format!("{}…", line.chars().take(60).collect::<String>())
    } else {
        line.to_string()
    }
}

fn shell_quote_filter(value: Value) -> String {
    let text = match value.as_str() {
        Some(s) => s.to_string(),
        None => value.to_string(),
    };
    shell_quote(&text)
}

pub(crate) use crate::util::shell::shell_quote;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("/var/lib/ollama"), "/var/lib/ollama");
        assert_eq!(shell_quote("my dir"), "'my dir'");
        assert_eq!(shell_quote("it's; rm -rf /"), "'it'\\''s; rm -rf /'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(reboot)"), "'$(reboot)'");
    }

    #[test]
    fn strict_undefined() {
        let r = Renderer::new();
        let scope = Value::from(minijinja::value::Serde(serde_json::json!({"path": "/x y"})));
        let t = Template::parse("du {{ path | shell_quote }}".into()).unwrap();
        assert_eq!(r.render(&t, &scope).unwrap(), "du '/x y'");
        let t = Template::parse("du {{ nope }}".into()).unwrap();
        let err = r.render(&t, &scope).unwrap_err();
        assert!(err.contains("not defined"), "{err}");
        let e = Expr::parse("path == '/x y'".into()).unwrap();
        assert!(r.truthy(&e, &scope).unwrap());
        let e = Expr::parse("missing.passed".into()).unwrap();
        assert!(r.truthy(&e, &scope).is_err());
    }

    /// Found by the `templates` fuzz target (a slow unit): templates are code, and a loop of
    /// loops never ended, a huge repetition took seconds and gigabytes.
    #[test]
    fn template_bombs_stop_with_a_clear_error() {
        let r = Renderer::new();
        let scope = Value::from(minijinja::value::Serde(serde_json::json!({})));
        let started = std::time::Instant::now();
        let t = Template::parse(
            "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}".into(),
        )
        .unwrap();
        let err = r.render(&t, &scope).unwrap_err();
        assert!(err.contains("too much work"), "{err}");
        let t = Template::parse("{{ 'x' * 90000000 }}".into()).unwrap();
        assert!(r.render(&t, &scope).unwrap_err().contains("too much work"));
        let e = Expr::parse("(['ab'] * 10000000) | join('') | length > 0".into()).unwrap();
        assert!(r.truthy(&e, &scope).unwrap_err().contains("too much work"));
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "bounded: {:?}", started.elapsed());
        // Ordinary templates are far from the limit.
        let t = Template::parse("{% for i in range(1000) %}{{ i }} {% endfor %}".into()).unwrap();
        assert!(r.render(&t, &scope).unwrap().ends_with("999 "));
    }
}

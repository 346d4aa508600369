//! Turning a step into concrete values just before it runs: every template rendered, every
//! deferred number, size, version and regex parsed. What comes out holds only literals, so the
//! probes and checks never see a template, and `--dry-run` can print exactly what would run.

use crate::model::Step;
use crate::model::matcher::{
    Deferred, LinePattern, LineTest, LinesMatcher, Matcher, MatcherError, Scalar, check_regex,
    parse_rendered_line_pattern,
};
use crate::model::probe::Probe;
use crate::model::probe::fields::{SlotMut, Slots};
use crate::model::quantity::parse_quantity;
use crate::model::step::{Action, Expect};
use crate::model::template::{Template, TemplateError};
use crate::model::version::VersionReq;

/// Renders one template to text; `Ok(None)` means "not yet" (a dry run cannot know what an
/// earlier step will capture), and the value stays as written. The error is the renderer's
/// message.
pub(crate) type Render<'a> = dyn Fn(&Template) -> Result<Option<String>, String> + 'a;

/// Why a step cannot be made concrete.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ResolveError {
    /// A template did not render (an undefined name, a filter error).
    #[error("{0}")]
    Render(String),
    /// A rendered value is not what its field takes (a bad regex, size or version).
    #[error(transparent)]
    Matcher(#[from] MatcherError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("capture regex `{pattern}` has {groups} groups; it needs exactly one")]
    CaptureGroups { pattern: String, groups: usize },
}

impl From<String> for ResolveError {
    fn from(message: String) -> ResolveError {
        ResolveError::Render(message)
    }
}

fn text(render: &Render, template: &Template) -> Result<String, ResolveError> {
    Ok(render(template)?.unwrap_or_else(|| template.source.clone()))
}

/// A step with every value concrete.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedStep {
    pub name: String,
    pub action: ResolvedAction,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
    pub confirm: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum ResolvedAction {
    Run {
        script: String,
        shell: Vec<String>,
        expect: Expect,
        /// Variable name → regex with one group.
        captures: Vec<(String, regex::Regex)>,
    },
    Probe(Box<Probe>),
    Manual(String),
}

impl ResolvedStep {
    /// The command line or probe as it will run, for output, `--dry-run` and the archive.
    pub(crate) fn command(&self) -> String {
        match &self.action {
            ResolvedAction::Run { script, .. } => script.trim_end().to_string(),
            ResolvedAction::Probe(probe) => {
                format!("{} probe: {}", probe.kind(), probe.subject())
            }
            ResolvedAction::Manual(text) => text.trim_end().to_string(),
        }
    }
}

pub(crate) fn resolve_step(step: &Step, render: &Render) -> Result<ResolvedStep, ResolveError> {
    let action = match &step.action {
        Action::Run(run) => {
            let mut captures = Vec::with_capacity(run.captures.len());
            for (name, pattern) in &run.captures {
                let Some(source) = render(pattern)? else {
                    continue;
                };
                let groups = check_regex(&source)?;
                if groups != 1 {
                    return Err(ResolveError::CaptureGroups { pattern: source, groups });
                }
                captures.push((name.clone(), crate::model::matcher::compile_regex(&source)?));
            }
            ResolvedAction::Run {
                script: text(render, &run.script)?,
                shell: run.shell.clone(),
                expect: Expect {
                    exit: run.expect.exit.clone(),
                    stdout: lines_opt(&run.expect.stdout, render)?,
                    stderr: lines_opt(&run.expect.stderr, render)?,
                },
                captures,
            }
        }
        Action::Probe(probe) => ResolvedAction::Probe(Box::new(resolve_probe(probe, render)?)),
        Action::Manual(instruction) => ResolvedAction::Manual(text(render, instruction)?),
    };
    let mut env = Vec::with_capacity(step.env.len());
    for (key, value) in &step.env {
        env.push((key.clone(), text(render, value)?));
    }
    Ok(ResolvedStep {
        name: text(render, &step.name)?,
        action,
        env,
        cwd: step.cwd.as_ref().map(|t| text(render, t)).transpose()?,
        confirm: step.confirm.as_ref().map(|t| text(render, t)).transpose()?,
    })
}

fn literal(render: &Render, template: &Template) -> Result<Template, ResolveError> {
    Ok(match render(template)? {
        Some(rendered) => Template::literal(rendered),
        None => template.clone(),
    })
}

fn number(render: &Render, value: &Deferred<f64>) -> Result<Deferred<f64>, ResolveError> {
    match value {
        Deferred::Ready(v) => Ok(Deferred::Ready(*v)),
        Deferred::Template(t) => match render(t)? {
            Some(text) => Ok(Deferred::Ready(parse_quantity(&text).map_err(MatcherError::from)?)),
            None => Ok(value.clone()),
        },
    }
}

fn version(render: &Render, value: &Deferred<VersionReq>) -> Result<Deferred<VersionReq>, ResolveError> {
    match value {
        Deferred::Ready(v) => Ok(Deferred::Ready(v.clone())),
        Deferred::Template(t) => match render(t)? {
            Some(text) => Ok(Deferred::Ready(VersionReq::parse(&text).map_err(MatcherError::from)?)),
            None => Ok(value.clone()),
        },
    }
}

fn pattern(render: &Render, pattern: &LinePattern) -> Result<LinePattern, ResolveError> {
    let templated = match &pattern.test {
        LineTest::Contains(t) | LineTest::Regex(t) => t.is_templated(),
        LineTest::Empty => false,
    };
    if !templated {
        return Ok(pattern.clone());
    }
    // Render the whole pattern as written (`!/{{ x }}/`), then read it again as plain data.
    match render(&Template::parse(pattern.source.clone())?)? {
        Some(rendered) => Ok(parse_rendered_line_pattern(&rendered)?),
        None => Ok(pattern.clone()),
    }
}

pub(crate) fn resolve_matcher(matcher: &Matcher, render: &Render) -> Result<Matcher, ResolveError> {
    Ok(match matcher {
        Matcher::Equals(Scalar::Number(v)) => Matcher::Equals(Scalar::Number(number(render, v)?)),
        Matcher::Equals(Scalar::Text(t)) => Matcher::Equals(Scalar::Text(literal(render, t)?)),
        Matcher::Equals(other) => Matcher::Equals(other.clone()),
        Matcher::OneOf(values) => Matcher::OneOf(values.clone()),
        Matcher::Compare(terms) => {
            let mut out = Vec::with_capacity(terms.len());
            for (op, value) in terms {
                out.push((*op, number(render, value)?));
            }
            Matcher::Compare(out)
        }
        Matcher::Version(req) => Matcher::Version(version(render, req)?),
        Matcher::Lines(patterns) => {
            Matcher::Lines(patterns.iter().map(|p| pattern(render, p)).collect::<Result<_, _>>()?)
        }
    })
}

fn lines_opt(m: &Option<LinesMatcher>, render: &Render) -> Result<Option<LinesMatcher>, ResolveError> {
    m.as_ref().map(|m| resolve_matcher(&m.0, render).map(LinesMatcher)).transpose()
}

/// The probe with every template and matcher its fields declare rendered.
pub(crate) fn resolve_probe(probe: &Probe, render: &Render) -> Result<Probe, ResolveError> {
    let mut resolved = probe.clone();
    let mut slots = Vec::new();
    resolved.slots_mut(&mut slots);
    for slot in slots {
        match slot {
            SlotMut::Template(t) => *t = literal(render, t)?,
            SlotMut::Matcher(m) => *m = resolve_matcher(m, render)?,
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::template::Renderer;

    fn step(yaml: &str) -> Step {
        let text = format!("---\nvars: {{path: /, limit: 80, want: ok}}\n---\n# T\n\n```yaml step\n{yaml}```\n");
        let rb = crate::model::parse::parse(
            crate::model::parse::SourceFile {
                path: "t.md".into(),
                stem_path: "t".into(),
                category_dir: None,
                file: None,
                bytes: text.into_bytes(),
            },
            &Default::default(),
        );
        rb.body.unwrap().steps[0].clone()
    }

    fn resolve(yaml: &str, scope: serde_json::Value) -> Result<ResolvedStep, ResolveError> {
        let renderer = Renderer::new();
        let scope = minijinja::Value::from(minijinja::value::Serde(&scope));
        resolve_step(&step(yaml), &|t: &Template| renderer.render(t, &scope).map(Some))
    }

    #[test]
    fn templated_thresholds_become_numbers() {
        let resolved = resolve(
            "disk: {path: \"{{ path }}\", used_percent: {lt: \"{{ limit }}\"}}\n",
            serde_json::json!({"path": "/mnt/x", "limit": 80}),
        )
        .unwrap();
        let ResolvedAction::Probe(probe) = &resolved.action else { panic!() };
        assert_eq!(probe.subject(), "disk at /mnt/x");
        assert_eq!(probe.expectations(), vec!["used < 80%"]);
    }

    #[test]
    fn templated_patterns_are_rendered_once() {
        let resolved = resolve(
            "run: echo {{ want }}\nexpect: {stdout: [\"{{ want }}\", \"!/{{ want }}-[0-9]/\"]}\n",
            serde_json::json!({"want": "ok"}),
        )
        .unwrap();
        let ResolvedAction::Run { script, expect, .. } = &resolved.action else { panic!() };
        assert_eq!(script, "echo ok");
        let patterns = match &expect.stdout.as_ref().unwrap().0 {
            Matcher::Lines(p) => p.clone(),
            _ => panic!(),
        };
        assert_eq!(patterns[0].to_string(), "has a line containing \"ok\"");
        assert_eq!(patterns[1].to_string(), "has no line matching /ok-[0-9]/");
    }

    #[test]
    fn bad_rendered_values_are_errors() {
        let err = resolve("disk: {path: /, avail: {gt: \"{{ limit }}\"}}\n", serde_json::json!({"limit": "lots"}))
            .unwrap_err();
        assert!(matches!(err, ResolveError::Matcher(MatcherError::Size(_))), "{err:?}");
        assert!(err.to_string().contains("bad size `lots`"), "{err}");
        let err = resolve("run: echo {{ missing }}\n", serde_json::json!({})).unwrap_err();
        assert!(matches!(err, ResolveError::Render(_)), "{err:?}");
        assert!(err.to_string().contains("not defined"), "{err}");
    }
}

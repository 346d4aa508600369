//! `runbook import`: a plain doc rewritten in the runbook format — each block that runs becomes
//! a `yaml step` block with the same script, its placeholders become required variables
//! (`vars: {namespace: ~}`, filled in shell-quoted by `{{ namespace | shell_quote }}`), and the
//! prose, the other blocks and the output the doc shows stay where they were.

use super::overlay::Overlay;
use super::{Input, Kind, Plan, plan};
use crate::model::step::{Action, Severity};
use crate::model::template::has_template_syntax;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ImportError {
    #[error("the doc already has `yaml step` blocks: it is a runbook")]
    HasSteps,
    #[error("the doc has no shell blocks that run")]
    NothingToRun,
    #[error("the front matter is TOML (`+++`): convert it to YAML (`---`) first")]
    TomlFrontMatter,
    #[error("the front matter's `vars:` is written inline; write it as a block (one `name: value` per line) first")]
    InlineVars,
}

/// What an import made.
#[derive(Debug)]
pub(crate) struct Imported {
    pub text: String,
    pub steps: usize,
    pub asks: usize,
    pub manual: usize,
    pub vars: Vec<String>,
}

/// The text of the doc at `path` with its plain blocks as `yaml step` blocks.
pub(crate) fn import(
    path: &str,
    text: &str,
    severity: Severity,
    overlay: Option<&Overlay>,
) -> Result<Imported, ImportError> {
    if text.lines().any(|l| crate::model::markdown::is_step_info(l.trim_start().trim_start_matches(['`', '~']))) {
        return Err(ImportError::HasSteps);
    }
    let env_has = |_: &str| false;
    let none = BTreeMap::new();
    let first = plan(&Input { path, text, severity, section: None, values: &none, env_has: &env_has, overlay });
    if first.steps.is_empty() {
        return Err(ImportError::NothingToRun);
    }
    // Each placeholder filled with a token no doc holds, then the token turned into a template.
    let tokens: BTreeMap<String, String> =
        first.vars.iter().enumerate().map(|(i, v)| (v.name.clone(), format!("RUNBOOKIMPORTVAR{i}X"))).collect();
    let filled = plan(&Input { path, text, severity, section: None, values: &tokens, env_has: &env_has, overlay });
    let defaults: BTreeMap<String, String> = overlay.map(|o| o.vars.clone()).unwrap_or_default();
    let mut out = String::with_capacity(text.len() + 1024);
    let doc = super::blocks::extract(text);
    let mut at = 0;
    for step in &filled.steps {
        let Some(&index) = step.blocks.first() else { continue };
        let block = &doc.blocks[index];
        out.push_str(&text[at..block.range.start]);
        out.push_str(&step_block(step, &tokens, block.fence_indent));
        at = block.range.end;
        if text[..at].ends_with('\n') {
            out.push('\n');
        }
    }
    out.push_str(&text[at..]);
    let vars: Vec<(String, Option<String>)> =
        first.vars.iter().map(|v| (v.name.clone(), defaults.get(&v.name).cloned())).collect();
    let text = with_vars(&out, &vars)?;
    Ok(Imported {
        text,
        steps: filled.steps.len(),
        asks: filled.steps.iter().filter(|s| s.class == Kind::Asks).count(),
        manual: filled.steps.iter().filter(|s| s.class == Kind::Interactive).count(),
        vars: vars.into_iter().map(|(n, _)| n).collect(),
    })
}

/// The ```` ```yaml step ```` block for one plain step, indented like the block it replaces.
fn step_block(step: &super::PlainStep, tokens: &BTreeMap<String, String>, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut lines: Vec<String> =
        vec!["```yaml step".into(), format!("id: {}", step.id), format!("name: {}", quoted(&raw(&step.name)))];
    let (key, body) = match &step.step.action {
        Action::Manual(_) => ("manual", raw(&step.script)),
        _ => ("run", templated(&step.script, tokens)),
    };
    let first_indented = body.lines().next().is_some_and(|l| l.starts_with([' ', '\t']));
    lines.push(format!("{key}: |{}", if first_indented { "2" } else { "" }));
    lines.extend(
        body.trim_end_matches('\n').lines().map(|l| if l.is_empty() { String::new() } else { format!("  {l}") }),
    );
    if let Some(question) = &step.confirm {
        lines.push(format!("confirm: {}", quoted(&raw(&untokened(question, tokens)))));
    }
    if step.step.timeout != crate::model::step::DEFAULT_TIMEOUT {
        lines.push(format!("timeout: {}", step.step.timeout));
    }
    if let Action::Run(run) = &step.step.action {
        if !run.shell.is_empty() {
            lines.push(format!("shell: {}", run.shell.join(" ")));
        }
        if run.expect.exit != crate::model::step::ExitExpect::default() {
            lines.push(format!("expect: {{exit: {}}}", exit_yaml(&run.expect.exit)));
        }
    }
    lines.push("continue_on_error: true".into());
    lines.push("```".into());
    if let Some(expected) = &step.expected_output {
        lines.push(String::new());
        lines.push("```text".into());
        lines.extend(expected.lines().map(str::to_string));
        lines.push("```".into());
    }
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
            }
        }
        out.push_str(line);
    }
    out
}

fn exit_yaml(exit: &crate::model::step::ExitExpect) -> String {
    match exit {
        crate::model::step::ExitExpect::Any => "any".into(),
        crate::model::step::ExitExpect::Codes(codes) => {
            format!("[{}]", codes.iter().map(i32::to_string).collect::<Vec<_>>().join(", "))
        }
    }
}

/// A YAML double-quoted string (JSON's escaping is YAML's).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
}

/// Text that must reach the shell as written: template syntax in it is kept raw.
fn raw(text: &str) -> String {
    if !has_template_syntax(text) {
        return text.to_string();
    }
    // Line by line, so the script stays readable; `{% endraw %}` itself cannot be inside a raw block.
    let mut out = String::with_capacity(text.len() + 32);
    for line in text.split_inclusive('\n') {
        let (content, newline) = match line.strip_suffix('\n') {
            Some(content) => (content, "\n"),
            None => (line, ""),
        };
        if has_template_syntax(content) {
            let parts: Vec<String> =
                content.split("{% endraw %}").map(|part| format!("{{% raw %}}{part}{{% endraw %}}")).collect();
            out.push_str(&parts.join("{{ '{% endraw %}' }}"));
        } else {
            out.push_str(content);
        }
        out.push_str(newline);
    }
    out
}

fn untokened(text: &str, tokens: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (name, token) in tokens {
        out = out.replace(token, &format!("<{name}>"));
    }
    out
}

/// The script as a template: the literal text raw, each placeholder token a quoted variable.
fn templated(script: &str, tokens: &BTreeMap<String, String>) -> String {
    let lexed = super::shell::lex(script);
    let mut hits: Vec<(usize, &str, &str)> = Vec::new();
    for (name, token) in tokens {
        let mut from = 0;
        while let Some(found) = script[from..].find(token.as_str()) {
            hits.push((from + found, name, token));
            from += found + token.len();
        }
    }
    hits.sort();
    let mut out = String::new();
    let mut at = 0;
    for (offset, name, token) in hits {
        out.push_str(&raw(&script[at..offset]));
        let expression = match lexed.heredoc_at(offset) {
            Some(h) if h.quoted => format!("{{{{ {name} }}}}"),
            Some(_) => format!(
                "{{{{ {name} | replace('\\\\', '\\\\\\\\') | replace('$', '\\\\$') | replace('`', '\\\\`') }}}}"
            ),
            None => format!("{{{{ {name} | shell_quote }}}}"),
        };
        out.push_str(&expression);
        at = offset + token.len();
    }
    out.push_str(&raw(&script[at..]));
    out
}

/// Declares the placeholders as variables in the front matter: required (`~`) unless the
/// overlay gives a value.
fn with_vars(text: &str, vars: &[(String, Option<String>)]) -> Result<String, ImportError> {
    if vars.is_empty() {
        return Ok(text.to_string());
    }
    let entries: Vec<String> = vars
        .iter()
        .map(|(name, value)| match value {
            Some(value) => format!("  {name}: {}", quoted(value)),
            None => format!("  {name}: ~"),
        })
        .collect();
    if text.starts_with("+++") {
        return Err(ImportError::TomlFrontMatter);
    }
    let Some(rest) = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) else {
        return Ok(format!("---\nvars:\n{}\n---\n\n{text}", entries.join("\n")));
    };
    let Some(end) = rest.find("\n---").map(|e| e + 1) else {
        return Ok(format!("---\nvars:\n{}\n---\n\n{text}", entries.join("\n")));
    };
    let front = &rest[..end];
    let after = &rest[end..];
    let mut lines: Vec<String> = front.lines().map(str::to_string).collect();
    match lines.iter().position(|l| l.starts_with("vars:")) {
        Some(at) if lines[at].trim_end() != "vars:" => return Err(ImportError::InlineVars),
        Some(at) => {
            let declared: Vec<String> = lines[at + 1..]
                .iter()
                .take_while(|l| l.starts_with(' ') || l.is_empty())
                .filter_map(|l| l.trim().split(':').next().map(str::to_string))
                .collect();
            let new: Vec<String> = vars
                .iter()
                .zip(&entries)
                .filter(|((name, _), _)| !declared.contains(name))
                .map(|(_, e)| e.clone())
                .collect();
            for (i, entry) in new.into_iter().enumerate() {
                lines.insert(at + 1 + i, entry);
            }
        }
        None => {
            lines.push("vars:".into());
            lines.extend(entries);
        }
    }
    Ok(format!("---\n{}\n{after}", lines.join("\n")))
}

/// A sidecar overlay listing every block that runs, with its hash: the start of an overlay
/// (`runbook import FILE --overlay`), whose entries a team then edits.
pub(crate) fn overlay_skeleton(doc_path: &str, plan: &Plan) -> String {
    let mut out = format!(
        "# Overlay for {doc_path}: what this team says about its blocks, without editing it.\n\
         # Each entry: heading + block (1 = the first code block under it) and the block's sha256\n\
         # when written; `runbook check` warns when the block changes. Fields: name, skip, expect,\n\
         # timeout, confirm (a question, or false), vars. Delete the entries you do not need.\n"
    );
    let vars: Vec<&super::RequiredVar> = plan.vars.iter().collect();
    if !vars.is_empty() {
        out.push_str("vars: {}   # values for the placeholders, like:\n");
        for var in vars {
            out.push_str(&format!("  #  {}: …   # {} (line {})\n", var.name, var.placeholder, var.line));
        }
    }
    out.push_str("blocks:\n");
    for step in &plan.steps {
        let heading = step.heading.as_deref().map(quoted).unwrap_or_else(|| "~".into());
        out.push_str(&format!(
            "  - heading: {heading}\n    block: {}\n    sha256: {}\n    name: {}   # {} — {}\n",
            step.block,
            &step.sha256[..16],
            quoted(&step.name),
            match step.class {
                Kind::ReadOnly => "runs",
                Kind::Asks => "asks first",
                Kind::Interactive => "manual",
            },
            step.why.replace('\n', " ")
        ));
    }
    out
}

/// The counts of a plan, for the import's summary.
pub(crate) fn summary(plan: &Plan) -> String {
    let counts = plan.counts();
    format!(
        "{} steps ({} read-only, {} ask first, {} manual)",
        counts.steps, counts.read_only, counts.asks, counts.manual
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "---\ntitle: Pods crash\ntags: [k8s]\n---\n# Pods crash\n\n## Diagnosis\n\n```console\n$ NAMESPACE='<value of namespace label from alert>'\n$ oc -n $NAMESPACE get pods -o jsonpath='{.items[*].metadata.name}' | grep '{{x}}'\nweb-1\n```\n\n1. Describe:\n\n   ```bash\n   oc describe pod <pod-name> -n $NAMESPACE\n   ```\n\n## Mitigation\n\n```bash\noc delete pod <pod-name> -n \"$NAMESPACE\"\n```\n";

    #[test]
    fn rewrites_blocks_as_steps() {
        let imported = import("x.md", DOC, Severity::Critical, None).unwrap();
        let text = &imported.text;
        assert!(
            text.starts_with("---\ntitle: Pods crash\ntags: [k8s]\nvars:\n  namespace: ~\n  pod_name: ~\n---\n"),
            "{text}"
        );
        assert!(text.contains("```yaml step\nid: diagnosis-1\nname: \"Diagnosis\"\nrun: |\n  NAMESPACE={{ namespace | shell_quote }}\n  {% raw %}oc -n $NAMESPACE get pods -o jsonpath='{.items[*].metadata.name}' | grep '{{x}}'{% endraw %}\ncontinue_on_error: true\n```\n\n```text\nweb-1\n```"), "{text}");
        assert!(text.contains("   ```yaml step\n   id: diagnosis-2\n   name: \"Describe\"\n   run: |\n     NAMESPACE={{ namespace | shell_quote }}\n     oc describe pod {{ pod_name | shell_quote }} -n $NAMESPACE\n"), "{text}");
        assert!(
            text.contains("confirm: \"Run `oc delete pod <pod_name> -n \\\"$NAMESPACE\\\"`? It asks because"),
            "{text}"
        );
        assert_eq!((imported.steps, imported.asks), (3, 1));
    }

    #[test]
    fn the_result_is_a_runbook_that_checks_clean() {
        let imported = import("x.md", DOC, Severity::Critical, None).unwrap();
        let rb = crate::model::parse::parse(
            crate::model::parse::SourceFile {
                path: "x.md".into(),
                stem_path: "x".into(),
                category_dir: None,
                file: None,
                bytes: imported.text.into_bytes(),
            },
            &Default::default(),
        );
        assert!(rb.diagnostics.is_empty(), "{:?}", rb.diagnostics);
        let steps = &rb.body.unwrap().steps;
        assert_eq!(steps.len(), 3);
        assert!(steps[2].confirm.is_some());
    }

    #[test]
    fn overlay_skeletons_read_back() {
        let env_has = |_: &str| false;
        let none = BTreeMap::new();
        let read = plan(&Input {
            path: "x.md",
            text: DOC,
            severity: Severity::Critical,
            section: None,
            values: &none,
            env_has: &env_has,
            overlay: None,
        });
        let skeleton = overlay_skeleton("x.md", &read);
        let overlay = super::super::overlay::parse_sidecar("x.runbook.yaml", &skeleton).unwrap();
        assert_eq!(overlay.blocks.len(), 3);
        assert_eq!(overlay.blocks[1].block, 2);
        assert_eq!(overlay.blocks[1].sha256.as_deref(), Some(&read.steps[1].sha256[..16]));
        let again = plan(&Input {
            path: "x.md",
            text: DOC,
            severity: Severity::Critical,
            section: None,
            values: &none,
            env_has: &env_has,
            overlay: Some(&overlay),
        });
        assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    }

    #[test]
    fn refuses_what_it_cannot_rewrite() {
        assert_eq!(
            import("x.md", "# T\n\n```yaml step\nrun: x\n```\n", Severity::Critical, None).unwrap_err(),
            ImportError::HasSteps
        );
        assert_eq!(import("x.md", "# T\n\ntext\n", Severity::Critical, None).unwrap_err(), ImportError::NothingToRun);
        assert_eq!(
            import("x.md", "+++\ntitle = 'x'\n+++\n```bash\nls <dir>\n```\n", Severity::Critical, None).unwrap_err(),
            ImportError::TomlFrontMatter
        );
        assert_eq!(
            import("x.md", "---\nvars: {a: 1}\n---\n```bash\nls <dir>\n```\n", Severity::Critical, None).unwrap_err(),
            ImportError::InlineVars
        );
    }
}

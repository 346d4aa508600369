//! What `exec`, `show`, `check` and `import` share about plain docs (DESIGN §14): when a doc is
//! read as plain blocks, the values its placeholders get, and its overlay.

use super::Context;
use super::diagnostics::DiagnosticRenderer;
use super::output;
use crate::cli::error::{Error, Result};
use crate::model::plain::overlay::{self, Overlay};
use crate::model::plain::{self, Input, Plan, RequiredVar};
use crate::model::runbook::Runbook;
use crate::model::{Diagnostic, Kb};
use crate::util::text::did_you_mean;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

/// Whether `rb` is read as plain blocks: `--plain`, or `plain = true` for a document.
pub(super) fn wanted(kb: &Kb, rb: &Runbook, flag: bool) -> bool {
    flag || (kb.config.plain && rb.is_document())
}

/// The command that runs a doc's plain steps.
pub(super) fn command(kb: &Kb, rb: &Runbook) -> String {
    if kb.config.plain && rb.is_document() {
        format!("runbook exec {}", rb.id)
    } else {
        format!("runbook exec {} --plain", rb.id)
    }
}

/// `runbook.toml` vars (strings and numbers) under the `--var` values given.
pub(super) fn values(kb: &Kb, given: &[(String, String)]) -> BTreeMap<String, String> {
    plain::values(&kb.config.vars, given)
}

/// The doc's overlay; a broken one is an error (printed with its snippet).
pub(super) fn overlay(ctx: &Context, kb: &Kb, rb: &Runbook) -> Result<Option<Overlay>> {
    overlay::for_runbook(kb, rb).map_err(|diag| {
        print_diagnostics(ctx, kb, std::slice::from_ref(&diag));
        Error::Invalid { message: format!("the overlay of {} does not read", rb.id), hint: diag.hint.clone() }
    })
}

/// Reads `rb` as plain steps.
pub(super) fn read(
    rb: &Runbook,
    source: &str,
    section: Option<&str>,
    values: &BTreeMap<String, String>,
    overlay: Option<&Overlay>,
) -> Plan {
    let env_has = |name: &str| std::env::var_os(name).is_some();
    plain::plan(&Input {
        path: &rb.path,
        text: source,
        severity: rb.severity,
        section,
        values,
        env_has: &env_has,
        overlay,
    })
}

pub(super) fn print_diagnostics(ctx: &Context, kb: &Kb, diags: &[Diagnostic]) {
    if diags.is_empty() {
        return;
    }
    let mut renderer = DiagnosticRenderer::new(kb, |p| ctx.display_path(kb, p));
    let mut stderr = output::stderr(ctx.color);
    for diag in diags {
        let _ = writeln!(stderr, "{}", renderer.render(diag));
    }
}

/// `--section X` that matches no heading: the error, with the headings there are.
pub(super) fn no_section(rb: &Runbook, section: &str) -> Error {
    let headings: Vec<&str> = rb.headings.iter().map(|h| h.text).collect();
    let hint = match did_you_mean(section, headings.iter().copied()) {
        Some(hint) => hint,
        None => format!("headings of {}: {}", rb.id, headings.join(", ")),
    };
    Error::Invalid { message: format!("no heading `{section}` in {}", rb.id), hint: Some(hint) }
}

/// `--var` names no placeholder (nor front-matter var) of the doc uses: an error, as for any runbook.
pub(super) fn check_given(rb: &Runbook, plan: &Plan, given: &[(String, String)]) -> Result<()> {
    let known: Vec<&str> =
        plan.vars.iter().map(|v| v.name.as_str()).chain(rb.vars.keys().map(String::as_str)).collect();
    for (name, value) in given {
        if !known.contains(&name.as_str()) {
            let hint = match did_you_mean(name, known.iter().copied()) {
                Some(hint) => hint,
                None if known.is_empty() => format!("{} has no placeholders", rb.id),
                None => format!("its placeholders: {}", known.join(", ")),
            };
            return Err(Error::Invalid {
                message: format!("unknown variable `{name}` for {}", rb.id),
                hint: Some(hint),
            });
        }
        if value.contains('\n') || value.contains('\r') {
            return Err(Error::Invalid {
                message: format!("the value of `{name}` has a line break"),
                hint: Some("a placeholder takes one line".into()),
            });
        }
    }
    Ok(())
}

/// Asks for each unresolved placeholder on a terminal; returns the answers given.
pub(super) fn prompt(ctx: &Context, kb: &Kb, rb: &Runbook, unresolved: &[&RequiredVar]) -> BTreeMap<String, String> {
    let mut answers = BTreeMap::new();
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return answers;
    }
    for var in unresolved {
        let place = format!("{}:{}:{}", ctx.display_path(kb, &rb.path), var.line, var.column);
        eprint!("{} ({} at {place}): ", var.name, var.placeholder);
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line).is_err() {
            break;
        }
        let value = line.trim_end_matches(['\n', '\r']).to_string();
        if !value.is_empty() {
            answers.insert(var.name.clone(), value);
        }
    }
    answers
}

/// The exit-2 error for placeholders still without a value: every one named, with where.
pub(super) fn unresolved_error(ctx: &Context, kb: &Kb, rb: &Runbook, unresolved: &[&RequiredVar]) -> Error {
    let path = ctx.display_path(kb, &rb.path);
    let mut stderr = output::stderr(ctx.color);
    for var in unresolved {
        let _ = writeln!(stderr, "  {}  {}  {path}:{}:{}", var.name, var.placeholder, var.line, var.column);
    }
    let names: Vec<&str> = unresolved.iter().map(|v| v.name.as_str()).collect();
    let flags: Vec<String> = names.iter().map(|n| format!("--var {n}=…")).collect();
    Error::Invalid {
        message: format!(
            "{} needs {} value{} before anything runs: {}",
            rb.id,
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        ),
        hint: Some(format!("pass {} (nothing has run)", flags.join(" "))),
    }
}

//! Plain docs (DESIGN §14): the shell blocks of an ordinary Markdown doc, read as ordinary
//! [`Step`]s, so the engine runs them like any other — read-only blocks as `run:` steps,
//! everything else with a `confirm:`, REPL sessions as `manual:` steps — with the block's hash
//! and its expected output attached.
//!
//! The parts: [`blocks`] finds the code blocks and what names them, [`transcript`] tells
//! prompts from output, [`shell`] reads the commands, [`placeholder`] finds what the reader must
//! fill in, [`session`] turns `oc debug node/X` + lines into one command fed on stdin,
//! [`classify`] decides what may run without asking, and [`overlay`] applies what a team says
//! about a doc it does not own.

pub(crate) mod blocks;
pub(crate) mod classify;
pub(crate) mod import;
pub(crate) mod overlay;
pub(crate) mod placeholder;
pub(crate) mod session;
pub(crate) mod shell;
pub(crate) mod transcript;

use super::diagnostic::{Diagnostic, Rule};
use super::runbook::{Body, Runbook};
use super::step::{Action, DEFAULT_TIMEOUT, RunAction, Severity, Step, StepSource};
use super::template::Template;
use blocks::{Block, Doc};
use classify::{Decision, Kind};
use overlay::{BlockOverlay, Confirm, Overlay};
use placeholder::Found;
use serde::Serialize;
use session::{Opener, Remote};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use transcript::{Entry, Lang, Prompt, Shape};

/// What [`plan`] reads a doc with.
pub(crate) struct Input<'a> {
    /// The doc's path (KB-relative), for diagnostics.
    pub path: &'a str,
    pub text: &'a str,
    /// The doc's default severity (front matter).
    pub severity: Severity,
    /// `--section HEADING`: only blocks under a heading with this text or anchor.
    pub section: Option<&'a str>,
    /// Values for placeholders: `--var`, prompted answers, `runbook.toml` vars.
    pub values: &'a BTreeMap<String, String>,
    /// Whether an environment variable is set (`$KUBECONFIG` needs no value then).
    pub env_has: &'a dyn Fn(&str) -> bool,
    pub overlay: Option<&'a Overlay>,
}

/// A doc read as plain steps.
#[derive(Debug, Serialize)]
pub(crate) struct Plan {
    pub steps: Vec<PlainStep>,
    /// Every block that may hold commands, with what became of it.
    pub blocks: Vec<BlockPlan>,
    /// Placeholders: required variables, in order of first use.
    pub vars: Vec<RequiredVar>,
    /// Sessions not understood, commands that never end, overlay entries that no longer fit.
    pub warnings: Vec<Diagnostic>,
    /// Code blocks in languages that never run (`yaml`, `promql`, …).
    pub other_blocks: usize,
    /// With `--section`: whether any heading matched.
    pub section_found: bool,
    /// A hash over the steps' ids and blocks: what `--resume` compares.
    pub sha256: String,
}

/// How a doc reads as plain steps, in numbers (`show --plain --json`, and corpus reports).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Blocks that may hold commands (shell, console, untyped, PowerShell).
    pub blocks: usize,
    /// Code blocks in other languages.
    pub other_blocks: usize,
    pub steps: usize,
    /// Blocks read as transcripts (prompt lines and output).
    pub transcripts: usize,
    /// `console` blocks without prompts: output, never run.
    pub output_blocks: usize,
    /// Distinct placeholder variables.
    pub placeholders: usize,
    /// Steps that open a session (debug node, ssh, exec, REPL).
    pub sessions: usize,
    pub read_only: usize,
    pub asks: usize,
    pub manual: usize,
    /// Warnings: sessions not understood, commands that never end, stale overlays.
    pub not_understood: usize,
}

impl Plan {
    pub(crate) fn counts(&self) -> Counts {
        let class = |k: Kind| self.steps.iter().filter(|s| s.class == k).count();
        Counts {
            blocks: self.blocks.len(),
            other_blocks: self.other_blocks,
            steps: self.steps.len(),
            transcripts: self.blocks.iter().filter(|b| b.shape == Shape::Transcript).count(),
            output_blocks: self.blocks.iter().filter(|b| b.fate == Fate::Output).count(),
            placeholders: self.vars.len(),
            sessions: self.steps.iter().filter(|s| s.session.is_some()).count(),
            read_only: class(Kind::ReadOnly),
            asks: class(Kind::Asks),
            manual: class(Kind::Interactive),
            not_understood: self.warnings.len(),
        }
    }

    pub(crate) fn unresolved(&self) -> Vec<&RequiredVar> {
        self.vars.iter().filter(|v| v.value.is_none()).collect()
    }

    /// The steps, as the engine runs them.
    pub(crate) fn engine_steps(&self) -> Vec<Step> {
        self.steps.iter().map(|s| s.step.clone()).collect()
    }

    /// The doc as a runbook the engine runs like any other (`exec --plain`, a scenario): the
    /// placeholders that have values become its variables, its blocks its steps. A plain doc
    /// declares no diagnoses.
    pub(crate) fn runbook(&self, rb: &Runbook, body: &Body) -> (Runbook, Body) {
        let mut runbook = rb.clone();
        for var in &self.vars {
            if let Some(value) = &var.value {
                runbook.vars.insert(var.name.clone(), serde_json::Value::String(value.clone()));
            }
        }
        let body = Body {
            source: body.source.clone(),
            steps: self.engine_steps(),
            diagnoses: Vec::new(),
            sha256: self.sha256.clone(),
            prepared: body.prepared.clone(),
            outline: body.outline.clone(),
        };
        (runbook, body)
    }
}

/// The values placeholders take: `runbook.toml` vars (strings and numbers) under those given.
pub(crate) fn values(
    config: &BTreeMap<String, serde_json::Value>,
    given: &[(String, String)],
) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = config
        .iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(s) => Some((k.clone(), s.clone())),
            serde_json::Value::Number(n) => Some((k.clone(), n.to_string())),
            _ => None,
        })
        .collect();
    values.extend(given.iter().cloned());
    values
}

/// One step read from a block, with how it was classified and why.
#[derive(Debug, Serialize)]
pub(crate) struct PlainStep {
    #[serde(skip)]
    pub step: Step,
    pub id: String,
    pub name: String,
    /// `read_only` runs, `asks` confirms first, `interactive` is a manual step.
    pub class: Kind,
    pub why: String,
    /// 1-based line and column of the block's first command.
    pub line: usize,
    pub column: usize,
    pub heading: Option<String>,
    pub block: usize,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// What runs (or, for a manual step, what a person is asked to do).
    pub script: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_output: Option<String>,
    /// Names of the variables it needs.
    pub vars: Vec<String>,
    /// 1-based lines of the doc whose commands it runs.
    pub lines: Vec<usize>,
    /// The blocks it was read from (indices into the doc's code blocks; two for a session that
    /// continues in the next block).
    #[serde(skip)]
    pub blocks: Vec<usize>,
}

/// A block and what became of it.
#[derive(Debug, Serialize)]
pub(crate) struct BlockPlan {
    pub line: usize,
    pub column: usize,
    pub info: String,
    pub lang: Lang,
    pub heading: Option<String>,
    pub ordinal: usize,
    pub sha256: String,
    pub shape: Shape,
    pub fate: Fate,
    /// The step it became (or joined).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Transcript prompts and the output lines the doc shows.
    pub prompts: usize,
    pub output_lines: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Fate {
    /// Became a step.
    Step,
    /// Its commands joined the step of the block before (the rest of a session).
    Joined,
    /// Output only: a `console` block without prompts.
    Output,
    /// An untyped block without prompts.
    NotShell,
    /// Comments only.
    Empty,
    /// Only assigns variables, which later blocks use.
    Variables,
    /// Skipped by an overlay.
    Skipped,
    /// Outside `--section`.
    OutsideSection,
}

/// A placeholder: the variable it needs and where it is first used.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RequiredVar {
    pub name: String,
    /// As written: `<namespace>`, `$NAMESPACE`.
    pub placeholder: String,
    pub line: usize,
    pub column: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Headings whose blocks change things: every block under them asks.
pub(crate) fn is_remediation_heading(text: &str) -> bool {
    const WORDS: [&str; 20] = [
        "mitigation",
        "mitigate",
        "mitigating",
        "remediation",
        "remediate",
        "remediating",
        "fix",
        "fixes",
        "fixing",
        "recovery",
        "recover",
        "recovering",
        "repair",
        "restore",
        "resolution",
        "resolve",
        "workaround",
        "rollback",
        "cleanup",
        "remedy",
    ];
    text.split(|c: char| !c.is_alphanumeric()).any(|w| WORDS.contains(&w.to_lowercase().as_str()))
}

/// A command of a block, placed in the doc and with its placeholders found.
#[derive(Debug, Clone)]
struct Located {
    entry: Entry,
    /// 1-based line and column in the doc.
    line: usize,
    column: usize,
    /// The text with the known values put in.
    text: String,
    /// The text with every placeholder replaced by its name: what the classifier reads.
    plain: String,
    vars: Vec<RequiredVar>,
}

/// Blocks read together: one, or a session opener and the block that continues it.
struct Unit {
    blocks: Vec<usize>,
    entries: Vec<Located>,
}

/// Reads `input.text` as plain steps. Never fails: what it cannot read becomes a warning.
pub(crate) fn plan(input: &Input) -> Plan {
    let doc = blocks::extract(input.text);
    let mut planner = Planner {
        input,
        doc: &doc,
        carry: BTreeMap::new(),
        out: Vec::new(),
        plan_blocks: Vec::new(),
        warnings: Vec::new(),
        vars: Vec::new(),
    };
    let section_found = input.section.is_none_or(|s| doc.headings.iter().any(|h| heading_is(h, s)));
    let other_blocks = doc.blocks.iter().filter(|b| b.lang.is_none()).count();
    planner.walk();
    planner.check_overlay();
    let mut hasher = Sha256::new();
    for step in &planner.out {
        hasher.update(step.id.as_bytes());
        hasher.update(b":");
        hasher.update(step.sha256.as_bytes());
        hasher.update(b"\n");
    }
    let Planner { out, plan_blocks, warnings, vars, .. } = planner;
    Plan {
        steps: out,
        blocks: plan_blocks,
        vars,
        warnings,
        other_blocks,
        section_found,
        sha256: crate::util::text::hex(&hasher.finalize()),
    }
}

fn heading_is(heading: &blocks::Heading, wanted: &str) -> bool {
    let wanted = wanted.trim().trim_start_matches('#').trim();
    heading.text.eq_ignore_ascii_case(wanted) || heading.anchor.eq_ignore_ascii_case(wanted)
}

struct Planner<'a> {
    input: &'a Input<'a>,
    doc: &'a Doc,
    /// Variables assigned by earlier blocks (`NAMESPACE='…'`): the statement, and what it needs.
    carry: BTreeMap<String, (String, Vec<RequiredVar>)>,
    out: Vec<PlainStep>,
    plan_blocks: Vec<BlockPlan>,
    warnings: Vec<Diagnostic>,
    vars: Vec<RequiredVar>,
}

impl<'a> Planner<'a> {
    /// Overlay entries that match no block, or whose block changed since they were written.
    fn check_overlay(&mut self) {
        let Some(overlay) = self.input.overlay else { return };
        for entry in &overlay.blocks {
            let block = self.doc.blocks.iter().find(|b| {
                let heading =
                    b.heading.map(|h| (self.doc.headings[h].text.as_str(), self.doc.headings[h].anchor.as_str()));
                entry.matches(heading, b.ordinal)
            });
            match (block, &entry.sha256) {
                (None, _) => self.warnings.push(
                    Diagnostic::warning(Rule::Plain, self.input.path, 1, 1, format!("overlay entry {} in {} matches no code block", entry.key(), overlay.origin))
                        .with_hint("the heading may have been renamed upstream; `runbook show ID --plain` lists the blocks with their headings and numbers"),
                ),
                (Some(block), Some(recorded)) if !overlay::hash_matches(recorded, &block.sha256) => self.warnings.push(
                    Diagnostic::warning(Rule::Plain, self.input.path, block.fence_line, block.column, format!("the block of overlay entry {} changed since the overlay was written", entry.key()))
                        .with_hint(format!("review the entry in {}, then set `sha256: {}`", overlay.origin, &block.sha256[..16])),
                ),
                _ => {}
            }
        }
    }

    fn walk(&mut self) {
        let mut pending: Option<Unit> = None;
        for (index, block) in self.doc.blocks.iter().enumerate() {
            let Some(lang) = block.lang else { continue };
            let parsed = transcript::parse(&block.content, lang);
            let fate = match parsed.shape {
                Shape::Output => Some(Fate::Output),
                Shape::NotShell => Some(Fate::NotShell),
                _ if parsed.entries.is_empty() => Some(Fate::Empty),
                _ => None,
            };
            self.plan_blocks.push(BlockPlan {
                line: block.fence_line,
                column: block.column,
                info: block.info.clone(),
                lang,
                heading: block.heading.map(|h| self.doc.headings[h].text.clone()),
                ordinal: block.ordinal,
                sha256: block.sha256.clone(),
                shape: parsed.shape,
                fate: fate.unwrap_or(Fate::Step),
                step: None,
                prompts: parsed.entries.iter().filter(|e| e.prompt != Prompt::None).count(),
                output_lines: parsed.entries.iter().map(|e| e.output.len()).sum(),
            });
            if fate.is_some() {
                continue;
            }
            let entries: Vec<Located> = parsed.entries.into_iter().map(|e| self.locate(block, e)).collect();
            if let Some(mut open) = pending.take() {
                if continues_session(&entries) && self.same_heading(open.blocks[0], index) {
                    open.blocks.push(index);
                    open.entries.extend(entries);
                    self.emit(open);
                    continue;
                }
                self.emit(open);
            }
            let unit = Unit { blocks: vec![index], entries };
            if ends_with_bare_opener(&unit.entries) {
                pending = Some(unit);
            } else {
                self.emit(unit);
            }
        }
        if let Some(open) = pending.take() {
            self.emit(open);
        }
    }

    fn same_heading(&self, a: usize, b: usize) -> bool {
        self.doc.blocks[a].heading == self.doc.blocks[b].heading
    }

    fn plan_block_mut(&mut self, block: usize) -> Option<&mut BlockPlan> {
        let target = &self.doc.blocks[block];
        self.plan_blocks.iter_mut().find(|p| p.line == target.fence_line && p.sha256 == target.sha256)
    }

    /// Places an entry in the doc and finds its placeholders.
    fn locate(&self, block: &Block, entry: Entry) -> Located {
        let line = block.first_line + entry.line;
        let column = block.column + entry.column;
        let lexed = shell::lex(&entry.text);
        let assigned_to = entry_assignment(&entry.text);
        let found: Vec<(Found, String)> = placeholder::find(&entry.text, &lexed)
            .into_iter()
            .map(|f| {
                let name = match (&assigned_to, placeholder::label_name(&f.text)) {
                    (_, Some(label)) => label,
                    (Some(var), None) => placeholder::identifier(var),
                    (None, None) => placeholder::derive_name(&f.text),
                };
                (f, name)
            })
            .collect();
        let values = self.values();
        let text = placeholder::substitute(&entry.text, &found, &values);
        let names: BTreeMap<String, String> = found.iter().map(|(_, n)| (n.clone(), n.clone())).collect();
        let plain = placeholder::substitute(&entry.text, &found, &names);
        let vars = found
            .iter()
            .map(|(f, name)| {
                let before = &entry.text[..f.range.start + usize::from(f.whole_quoted)];
                let (l, c) = match before.rfind('\n') {
                    Some(nl) => (line + before.matches('\n').count(), before[nl + 1..].chars().count() + 1),
                    None => (line, column + before.chars().count()),
                };
                RequiredVar {
                    name: name.clone(),
                    placeholder: format!("<{}>", f.text),
                    line: l,
                    column: c,
                    value: values.get(name).cloned(),
                }
            })
            .collect();
        Located { entry, line, column, text, plain, vars }
    }

    /// Values for placeholders: the overlay's, then `--var` and the other given ones.
    fn values(&self) -> BTreeMap<String, String> {
        let mut values = self.input.overlay.map(|o| o.vars.clone()).unwrap_or_default();
        values.extend(self.input.values.iter().map(|(k, v)| (k.clone(), v.clone())));
        values
    }

    fn in_section(&self, block: &Block) -> bool {
        match self.input.section {
            None => true,
            Some(wanted) => self.doc.heading_path(block).iter().any(|h| heading_is(h, wanted)),
        }
    }

    fn overlay_for(&self, block: &Block) -> Option<&'a BlockOverlay> {
        let heading = block.heading.map(|h| (self.doc.headings[h].text.as_str(), self.doc.headings[h].anchor.as_str()));
        self.input.overlay?.blocks.iter().find(|o| o.matches(heading, block.ordinal))
    }

    /// Turns a unit into a step (or records why it is none).
    fn emit(&mut self, unit: Unit) {
        let first = unit.blocks[0];
        let block = &self.doc.blocks[first];
        let mut entries = unit.entries;
        while entries.last().is_some_and(|e| session::is_exit(&e.entry.text)) {
            entries.pop();
        }
        let only_assigns = entries.iter().all(|e| is_pure_assignment(&e.plain));
        // Assignments count for later blocks whether or not this one runs.
        for located in entries.iter().filter(|e| is_pure_assignment(&e.plain)) {
            for name in assigned_names(&located.plain) {
                self.carry.insert(name, (located.text.clone(), located.vars.clone()));
            }
        }
        let fate = if !self.in_section(block) {
            Some(Fate::OutsideSection)
        } else if entries.is_empty() {
            Some(Fate::Empty)
        } else if only_assigns {
            Some(Fate::Variables)
        } else if self.overlay_for(block).is_some_and(|o| o.skip) {
            Some(Fate::Skipped)
        } else {
            None
        };
        if let Some(fate) = fate {
            for &b in &unit.blocks {
                if let Some(plan) = self.plan_block_mut(b) {
                    plan.fate = fate;
                }
            }
            return;
        }
        let step = self.build(block, &unit.blocks, entries);
        for (i, &b) in unit.blocks.iter().enumerate() {
            let id = step.0.id.clone();
            if let Some(plan) = self.plan_block_mut(b) {
                plan.fate = if i == 0 { Fate::Step } else { Fate::Joined };
                plan.step = Some(id);
            }
        }
        let (step, vars) = step;
        for var in vars {
            if !self.vars.iter().any(|v| v.name == var.name) {
                self.vars.push(var);
            }
        }
        self.out.push(step);
    }

    fn build(&mut self, block: &Block, unit_blocks: &[usize], entries: Vec<Located>) -> (PlainStep, Vec<RequiredVar>) {
        let overlay = self.overlay_for(block);
        let mut vars: Vec<RequiredVar> = entries.iter().flat_map(|e| e.vars.clone()).collect();
        let opened = entries.iter().position(|e| session::opener(&e.plain).is_some());
        let (script, decisions, session_name, manual) = match opened.map(|i| (i, session::opener(&entries[i].plain))) {
            Some((i, Some(opener))) => self.session_script(&entries, i, opener, &mut vars),
            _ => {
                let (prelude, prelude_plain) = self.prelude(&entries, &mut vars);
                let body: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
                let plain: Vec<&str> = entries.iter().map(|e| e.plain.as_str()).collect();
                let script = join_script(&prelude, &body.join("\n"));
                let decision = classify::classify(&shell::lex(&join_script(&prelude_plain, &plain.join("\n"))));
                (script, vec![decision], None, false)
            }
        };
        let decision = self.decide(block, strictest(decisions), manual, overlay);
        let name = overlay.and_then(|o| o.name.clone()).unwrap_or_else(|| step_name(self.doc, block));
        let first_command = entries.iter().find(|e| !is_pure_assignment(&e.plain)).unwrap_or(&entries[0]);
        let confirm = match (decision.kind, overlay.and_then(|o| o.confirm.as_ref())) {
            (Kind::Asks, Some(Confirm::Ask(question))) => Some(question.clone()),
            (Kind::Asks, _) => Some(question(&first_command.text, entries.len(), &decision.reason)),
            _ => None,
        };
        let sha256 = self.units_hash(unit_blocks);
        let expected_output = expected_output(&entries);
        let step = self.step(
            block,
            &name,
            &script,
            &decision,
            confirm.clone(),
            StepSource { sha256: sha256.clone(), expected_output: expected_output.clone() },
        );
        let mut var_names: Vec<String> = Vec::new();
        for var in &vars {
            if !var_names.contains(&var.name) {
                var_names.push(var.name.clone());
            }
        }
        let plain_step = PlainStep {
            id: step.id.clone(),
            step,
            name,
            class: decision.kind,
            why: decision.reason,
            line: first_command.line,
            column: first_command.column,
            heading: block.heading.map(|h| self.doc.headings[h].text.clone()),
            block: block.ordinal,
            sha256,
            session: session_name,
            script,
            confirm,
            expected_output,
            vars: var_names,
            lines: entries.iter().map(|e| e.line).collect(),
            blocks: unit_blocks.to_vec(),
        };
        (plain_step, vars)
    }

    /// The classifier's decision, then what the heading and the overlay say.
    fn decide(&self, block: &Block, mut decision: Decision, manual: bool, overlay: Option<&BlockOverlay>) -> Decision {
        if decision.kind == Kind::ReadOnly
            && let Some(heading) = self.doc.heading_path(block).iter().find(|h| is_remediation_heading(&h.text))
        {
            decision = Decision {
                kind: Kind::Asks,
                reason: format!("it is under “{}”, where every block asks", heading.text),
            };
        }
        if manual && decision.kind != Kind::Interactive {
            decision = Decision { kind: Kind::Interactive, reason: decision.reason };
        }
        match overlay.and_then(|o| o.confirm.as_ref()) {
            Some(Confirm::Never) if decision.kind == Kind::Asks => Decision {
                kind: Kind::ReadOnly,
                reason: format!("the overlay says it only reads ({})", decision.reason),
            },
            Some(Confirm::Ask(_)) if decision.kind == Kind::ReadOnly => {
                Decision { kind: Kind::Asks, reason: "the overlay asks first".into() }
            }
            _ => decision,
        }
    }

    /// The hash of the blocks a step was read from: the block's own, or one over a session's two.
    fn units_hash(&self, unit_blocks: &[usize]) -> String {
        match unit_blocks {
            [only] => self.doc.blocks[*only].sha256.clone(),
            many => {
                let mut hasher = Sha256::new();
                for &b in many {
                    hasher.update(self.doc.blocks[b].sha256.as_bytes());
                }
                crate::util::text::hex(&hasher.finalize())
            }
        }
    }

    /// The ordinary step the engine runs.
    fn step(
        &self,
        block: &Block,
        name: &str,
        script: &str,
        decision: &Decision,
        confirm: Option<String>,
        source: StepSource,
    ) -> Step {
        let overlay = self.overlay_for(block);
        let action = if decision.kind == Kind::Interactive {
            Action::Manual(Template::literal(script))
        } else {
            Action::Run(RunAction {
                script: Template::literal(script),
                shell: if block.lang == Some(Lang::PowerShell) { powershell() } else { Vec::new() },
                expect: overlay.and_then(|o| o.expect.clone()).unwrap_or_default(),
                captures: BTreeMap::new(),
            })
        };
        Step {
            id: step_id(self.doc, block),
            name: Template::literal(name),
            line: block.fence_line,
            section: self.doc.heading_path(block).iter().find(|h| h.level <= 3).map(|h| h.anchor.clone()),
            action,
            assertions: Vec::new(),
            when: None,
            confirm: confirm.map(Template::literal),
            timeout: overlay.and_then(|o| o.timeout).unwrap_or(DEFAULT_TIMEOUT),
            retry: None,
            // Docs do not say which commands must pass: one failing block does not stop the rest.
            continue_on_error: true,
            severity: self.input.severity,
            env: BTreeMap::new(),
            cwd: None,
            needs: Vec::new(),
            source: Some(source),
        }
    }

    /// Assignments the entries need before they run: from earlier blocks, or for `$VAR`s the
    /// doc never sets (required variables then). Returns the lines with values and with names.
    fn prelude(&self, entries: &[Located], vars: &mut Vec<RequiredVar>) -> (String, String) {
        let lexed: Vec<shell::Lexed> = entries.iter().map(|e| shell::lex(&e.plain)).collect();
        let assigned: BTreeSet<&str> = lexed.iter().flat_map(|l| l.assigned.iter().map(|(n, _)| n.as_str())).collect();
        let mut wanted: Vec<(String, usize)> = Vec::new();
        for (i, l) in lexed.iter().enumerate() {
            for name in l.uses.iter().map(|u| &u.name) {
                let known = assigned.contains(name.as_str()) || wanted.iter().any(|(n, _)| n == name);
                if !known && !placeholder::is_ambient(name) && !(self.input.env_has)(name) {
                    wanted.push((name.clone(), i));
                }
            }
        }
        let mut lines: Vec<String> = Vec::new();
        let mut plain_lines: Vec<String> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let values = self.values();
        for (name, entry) in wanted {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some((statement, needs)) = self.carry.get(&name).cloned() {
                // What the carried statement reads comes first.
                for inner in shell::lex(&statement).uses.iter().map(|u| u.name.clone()) {
                    if !seen.contains(&inner) && self.carry.contains_key(&inner) {
                        lines.insert(0, self.carry[&inner].0.clone());
                        plain_lines.insert(0, self.carry[&inner].0.clone());
                        seen.insert(inner);
                    }
                }
                lines.push(statement.clone());
                plain_lines.push(statement);
                vars.extend(needs);
                continue;
            }
            let var = placeholder::identifier(&name);
            let (line, column) = use_position(&entries[entry], &name);
            let value = values.get(&var).cloned();
            vars.push(RequiredVar {
                name: var.clone(),
                placeholder: format!("${name}"),
                line,
                column,
                value: value.clone(),
            });
            match value {
                Some(value) => lines.push(format!("{name}={}", crate::util::shell::shell_quote(&value))),
                None => lines.push(format!("{name}=<{var}>")),
            }
            plain_lines.push(format!("{name}={var}"));
        }
        (lines.join("\n"), plain_lines.join("\n"))
    }

    /// A unit whose entry `at` opens a session.
    fn session_script(
        &mut self,
        entries: &[Located],
        at: usize,
        opener: Opener,
        vars: &mut Vec<RequiredVar>,
    ) -> (String, Vec<Decision>, Option<String>, bool) {
        let before = &entries[..at];
        let opener_entry = &entries[at];
        let debug_node = matches!(opener, Opener::Remote(Remote::DebugNode { .. }));
        let (inner, after, chroot) = split_session(&entries[at + 1..], debug_node);
        let opener = match opener {
            Opener::Remote(Remote::DebugNode { tool, .. }) => Opener::Remote(Remote::DebugNode { tool, chroot }),
            other => other,
        };
        let described = opener.describe();
        let remote = match opener {
            Opener::Remote(remote) => remote,
            Opener::Repl(program) => {
                let decision = Decision {
                    kind: Kind::Interactive,
                    reason: format!("`{program}` is interactive: a person types these lines"),
                };
                return (repl_instructions(before, opener_entry, &inner), vec![decision], Some(described), true);
            }
        };
        if inner.is_empty() {
            self.warnings.push(
                Diagnostic::warning(Rule::Plain, self.input.path, opener_entry.line, opener_entry.column, format!("session not understood: `{}` opens a shell, but no commands follow it here", first_line(&opener_entry.entry.text)))
                    .with_hint("it becomes a manual step; put the commands to run inside in the same block (or the next one, starting with `chroot /host`), or give them to the command after `--`"),
            );
            let decision = Decision {
                kind: Kind::Interactive,
                reason: format!(
                    "`{}` opens an interactive shell and the doc shows no commands for it",
                    first_line(&opener_entry.entry.text)
                ),
            };
            return (format!("Open a session: {}\n", opener_entry.text), vec![decision], Some(described), true);
        }
        let outer: Vec<Located> = before
            .iter()
            .cloned()
            .chain(std::iter::once(opener_entry.clone()))
            .chain(after.iter().map(|e| (*e).clone()))
            .collect();
        let (outer_prelude, outer_plain) = self.prelude(&outer, vars);
        let inner_owned: Vec<Located> = inner.iter().map(|e| (*e).clone()).collect();
        let (inner_prelude, inner_plain_prelude) = self.prelude(&inner_owned, vars);
        let join = |items: &[&Located], plain: bool| -> String {
            items.iter().map(|e| if plain { e.plain.as_str() } else { e.text.as_str() }).collect::<Vec<_>>().join("\n")
        };
        let lines = join_script(&inner_prelude, &join(&inner, false));
        let mut script = join_script(&outer_prelude, &join(&before.iter().collect::<Vec<_>>(), false));
        script = join_script(&script, &session::script(&opener_entry.text, &remote, &lines));
        script = join_script(&script, &join(&after, false));
        let mut decisions = Vec::new();
        let outer_check = join_script(&outer_plain, &join(&before.iter().collect::<Vec<_>>(), true));
        let outer_check = join_script(&outer_check, &join(&after, true));
        decisions.push(classify::classify(&shell::lex(&outer_check)));
        if let Remote::DebugNode { tool, .. } = &remote {
            decisions.push(Decision {
                kind: Kind::Asks,
                reason: format!("`{tool} debug` starts a privileged debug pod on the node"),
            });
        }
        let inner_check = join_script(&inner_plain_prelude, &join(&inner, true));
        let inside = classify::classify(&shell::lex(&inner_check));
        decisions.push(Decision { kind: inside.kind, reason: format!("inside the session: {}", inside.reason) });
        (script, decisions, Some(described), false)
    }
}

/// The entries after a session's opener: those typed inside it, those after its `exit`, and
/// whether the first one inside is the `chroot /host` of a debug node.
fn split_session(entries: &[Located], debug_node: bool) -> (Vec<&Located>, Vec<&Located>, bool) {
    let mut inner: Vec<&Located> = Vec::new();
    let mut after: Vec<&Located> = Vec::new();
    let mut closed = false;
    let mut chroot = false;
    for (i, entry) in entries.iter().enumerate() {
        if closed {
            after.push(entry);
        } else if session::is_exit(&entry.entry.text) {
            closed = true;
        } else if i == 0 && debug_node && session::is_chroot_host(&entry.entry.text) {
            chroot = true;
        } else {
            inner.push(entry);
        }
    }
    (inner, after, chroot)
}

/// What a person does for an interactive program: run what comes before, open it, type the lines.
fn repl_instructions(before: &[Located], opener: &Located, inner: &[&Located]) -> String {
    let mut text = String::new();
    for entry in before {
        text.push_str(&format!("Run: {}\n", entry.text));
    }
    text.push_str(&format!("Open `{}` and type:\n", opener.text.trim()));
    for entry in inner {
        for line in entry.text.lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text
}

/// Where an entry first reads `$name`, in the doc.
fn use_position(located: &Located, name: &str) -> (usize, usize) {
    let text = &located.entry.text;
    let offset = shell::lex(text).uses.iter().find(|u| u.name == name).map(|u| u.offset).unwrap_or(0);
    let before = &text[..offset];
    match before.rfind('\n') {
        Some(nl) => (located.line + before.matches('\n').count(), before[nl + 1..].chars().count() + 1),
        None => (located.line, located.column + before.chars().count()),
    }
}

/// The first decision of the strictest kind.
fn strictest(decisions: Vec<Decision>) -> Decision {
    let worst = decisions.iter().map(|d| d.kind).max().unwrap_or(Kind::ReadOnly);
    if worst == Kind::ReadOnly {
        let readers: Vec<String> = decisions
            .iter()
            .filter_map(|d| {
                d.reason
                    .strip_prefix("only reads: ")
                    .or_else(|| d.reason.strip_prefix("inside the session: only reads: "))
            })
            .flat_map(|r| r.split(", ").map(str::to_string))
            .fold(Vec::new(), |mut acc, r| {
                if !acc.contains(&r) {
                    acc.push(r);
                }
                acc
            });
        if !readers.is_empty() {
            return Decision { kind: Kind::ReadOnly, reason: format!("only reads: {}", readers.join(", ")) };
        }
    }
    decisions
        .into_iter()
        .find(|d| d.kind == worst)
        .unwrap_or(Decision { kind: Kind::ReadOnly, reason: "nothing to run".into() })
}

fn join_script(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (true, _) => second.to_string(),
        (_, true) => first.to_string(),
        _ => format!("{first}\n{second}"),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

/// The question a block that asks puts before it runs: what runs and why it asks.
fn question(command: &str, commands: usize, reason: &str) -> String {
    let line = first_line(command);
    let line: String = if line.chars().count() > 100 {
        format!("{}…", line.chars().take(100).collect::<String>())
    } else {
        line.to_string()
    };
    let more = if commands > 1 || command.lines().count() > 1 { " (and the rest of the block)" } else { "" };
    format!("Run `{line}`{more}? It asks because {reason}")
}

fn powershell() -> Vec<String> {
    ["pwsh", "-NoProfile", "-NonInteractive", "-Command"].iter().map(|s| s.to_string()).collect()
}

/// What the doc shows as output: the lines after each prompt.
fn expected_output(entries: &[Located]) -> Option<String> {
    let with_output: Vec<&Located> = entries.iter().filter(|e| !e.entry.output.is_empty()).collect();
    match with_output.as_slice() {
        [] => None,
        [only] => Some(only.entry.output.join("\n")),
        many => Some(
            many.iter()
                .map(|e| format!("$ {}\n{}", first_line(&e.entry.text), e.entry.output.join("\n")))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    }
}

/// `heading-anchor-N`, or `top-N` before the first heading.
fn step_id(doc: &Doc, block: &Block) -> String {
    let anchor = block.heading.map(|h| doc.headings[h].anchor.as_str()).filter(|a| !a.is_empty()).unwrap_or("top");
    format!("{anchor}-{}", block.ordinal)
}

fn step_name(doc: &Doc, block: &Block) -> String {
    if let Some(item) = &block.item {
        return item.clone();
    }
    match block.heading {
        Some(h) if block.ordinal > 1 => format!("{} ({})", doc.headings[h].text, block.ordinal),
        Some(h) => doc.headings[h].text.clone(),
        None => format!("Block {}", block.ordinal),
    }
}

/// The variable a lone `VAR=…` assigns.
fn entry_assignment(text: &str) -> Option<String> {
    let lexed = shell::lex(text);
    match lexed.commands.as_slice() {
        [command] if command.words.is_empty() && command.assigns.len() == 1 => command.assigns.first().cloned(),
        [command] if command.program() == Some("export") && command.words.len() == 2 => {
            lexed.assigned.first().map(|(n, _)| n.clone())
        }
        _ => None,
    }
}

fn is_pure_assignment(text: &str) -> bool {
    let lexed = shell::lex(text);
    !lexed.commands.is_empty()
        && lexed.commands.iter().all(|c| {
            c.nested
                || (c.words.is_empty() && !c.assigns.is_empty())
                || (c.program() == Some("export") && c.words.len() > 1)
        })
}

fn assigned_names(text: &str) -> Vec<String> {
    shell::lex(text).assigned.into_iter().map(|(n, _)| n).collect()
}

/// Entries that continue a session opened at the end of the block before: `chroot /host`
/// first, or lines under a prompt that names the remote shell (`sh-4.4#`).
fn continues_session(entries: &[Located]) -> bool {
    entries
        .first()
        .is_some_and(|e| session::is_chroot_host(&e.entry.text) || matches!(e.entry.prompt, Prompt::Named(_)))
}

/// The last command opens a remote session and nothing follows it in the block.
fn ends_with_bare_opener(entries: &[Located]) -> bool {
    let mut meaningful = entries.iter().rev().skip_while(|e| session::is_exit(&e.entry.text));
    meaningful.next().is_some_and(|e| matches!(session::opener(&e.plain), Some(Opener::Remote(_))))
}

#[cfg(test)]
mod tests;

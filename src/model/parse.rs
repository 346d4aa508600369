//! From the bytes of one `.md` file to a [`Runbook`]: front matter, steps, links, diagnostics.
//! Parsing never fails: whatever could be read is kept, and every problem becomes a diagnostic
//! anchored in the `.md` file.

use super::cache::FileStamp;
use super::config::Config;
use super::diagnostic::Diagnostic;
use super::front_matter::{FRONT_MATTER_FIELDS, FrontMatter};
use super::markdown::{self, Fragment, LineIndex, StepFence};
use super::probe::PROBE_NAMES;
use super::runbook::{Body, Link, Runbook};
use super::slug::{ID_RULES, is_valid_id};
use super::step::{Action, DEFAULT_TIMEOUT, RawStep, RefSite, RunAction, STEP_FIELDS, Severity, Step, StepDefaults};
use super::template::Template;
use crate::util::suggest::closest;
use crate::util::text::{did_you_mean, hex};
use serde::de::DeserializeOwned;
use serde_saphyr::{Location, Spanned};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// One file to parse, as discovery found it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the KB root, `/`-separated.
    pub path: String,
    /// Path relative to the runbooks folder, without extension.
    pub stem_path: String,
    /// First folder under the runbooks folder: the default category.
    pub category_dir: Option<String>,
    pub file: Option<PathBuf>,
    pub bytes: Vec<u8>,
}

/// What the parser needs to know about the KB around the file.
#[derive(Debug, Default)]
pub struct ParseContext {
    /// Variables `runbook.toml` defines for every runbook.
    pub config_vars: BTreeSet<String>,
}

impl ParseContext {
    /// The context of every file of a KB with this `runbook.toml`.
    pub fn for_config(config: &Config) -> ParseContext {
        ParseContext { config_vars: config.vars.keys().cloned().collect() }
    }
}

/// Names every template may read without declaring them.
const BUILTIN_NAMES: [&str; 10] =
    ["env", "host", "steps", "vars", "range", "dict", "namespace", "debug", "cycler", "joiner"];

/// Longest summary taken from the first paragraph.
const SUMMARY_CHARS: usize = 280;

/// Reads and parses one file (its bytes are already there for the built-in KB), with the stamp
/// it had just before it was read. Never fails: an unreadable file is a runbook carrying why.
pub fn read_file(mut file: SourceFile, ctx: &ParseContext) -> Runbook {
    let Some(path) = file.file.clone() else {
        return parse(file, ctx);
    };
    let stamp = FileStamp::of_path(&path);
    let mut runbook = match std::fs::read(&path) {
        Ok(bytes) => {
            file.bytes = bytes;
            parse(file, ctx)
        }
        Err(err) => unreadable(file, &err.to_string()),
    };
    runbook.stamp = stamp;
    runbook
}

/// A runbook for a file that could not be read at all: listed, with the reason as its error.
pub fn unreadable(source: SourceFile, reason: &str) -> Runbook {
    let mut runbook = parse(SourceFile { bytes: Vec::new(), ..source }, &ParseContext::default());
    let path = runbook.path.clone();
    runbook.diagnostics.push(
        Diagnostic::error(&path, 1, 1, format!("cannot read the file: {reason}"))
            .with_hint("check the file's permissions"),
    );
    runbook.file_errors += 1;
    runbook
}

pub fn parse(source: SourceFile, ctx: &ParseContext) -> Runbook {
    let SourceFile { path, stem_path, category_dir, file, bytes } = source;
    let stem = stem_path.rsplit('/').next().unwrap_or(&stem_path).to_string();
    let mut runbook = Runbook {
        id: stem.clone(),
        explicit_id: false,
        id_line: 1,
        path,
        stem_path,
        file,
        title: stem,
        aliases: Vec::new(),
        summary: String::new(),
        tags: Vec::new(),
        category: category_dir.clone().unwrap_or_else(|| "general".to_string()),
        severity: Severity::Critical,
        owner: None,
        vars: BTreeMap::new(),
        secrets: Vec::new(),
        aliases_line: 1,
        step_fences: 0,
        headings: Vec::new(),
        html_anchors: Vec::new(),
        links: Vec::new(),
        sha256: hex(&Sha256::digest(&bytes)),
        diagnostics: Vec::new(),
        file_errors: 0,
        stamp: None,
        body: None,
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
            let valid = String::from_utf8_lossy(valid);
            let (line, column) = LineIndex::new(&valid).line_col(&valid, valid.len());
            runbook.diagnostics.push(
                Diagnostic::error(&runbook.path, line, column, "file is not valid UTF-8")
                    .with_hint("save the file as UTF-8; the first bad byte is here"),
            );
            runbook.body = Some(Arc::new(Body {
                source: String::new(),
                steps: Vec::new(),
                diagnoses: Vec::new(),
                sha256: runbook.sha256.clone(),
            }));
            return runbook;
        }
    };
    let text = match text.strip_prefix('\u{feff}') {
        Some(stripped) => stripped.to_string(),
        None => text,
    };
    let lines = LineIndex::new(&text);
    let scan = markdown::scan(&text, &lines);
    let mut diags = Vec::new();
    let path = runbook.path.clone();

    let front = match &scan.front_matter {
        Some(fragment) => parse_front_matter(fragment, &path, &mut diags),
        None => FrontMatter::default(),
    };
    if let Some(line) = scan.unclosed_front_matter {
        diags.push(
            Diagnostic::warning(&path, line, 1, "the file starts with `---` but the front matter is never closed")
                .with_hint("end the front matter with a `---` line, or start the file with something else"),
        );
    }
    let id_site = scan.front_matter.as_ref().zip(front.id.as_ref()).map(|(f, id)| spanned_at(f, id));
    apply_front_matter(&mut runbook, front_fields(&front), id_site, &mut diags);
    let defaults = front.defaults;

    if front.title.is_none()
        && let Some(h1) = scan.headings.iter().find(|h| h.level == 1)
    {
        runbook.title = h1.text.clone();
    }
    if runbook.summary.is_empty()
        && let Some(paragraph) = &scan.first_paragraph
    {
        runbook.summary = truncate_words(paragraph, SUMMARY_CHARS);
    }

    runbook.step_fences = scan.steps.len();
    let mut built: Vec<(Step, &StepFence, (usize, usize))> = Vec::new();
    let mut unreadable_steps = 0;
    let mut needs_sites: Vec<Vec<(String, (usize, usize))>> = Vec::new();
    for (index, fence) in scan.steps.iter().enumerate() {
        if !fence.closed {
            unreadable_steps += 1;
            diags.push(
                Diagnostic::error(&path, fence.fence_line, fence.yaml.indent + 1, "unclosed `yaml step` fence")
                    .with_hint("the step runs to the end of the file: close it with a ``` line"),
            );
            continue;
        }
        let raw = match parse_yaml::<RawStep>(&fence.yaml, &path, YamlPart::Step) {
            Ok(raw) => {
                needs_sites.push(raw.needs.0.iter().map(|n| (n.value.trim().to_string(), item_at(fence, n))).collect());
                raw
            }
            Err(diag) => {
                diags.push(diag);
                unreadable_steps += 1;
                continue;
            }
        };
        let section = fence.section.map(|i| scan.headings[i].anchor.clone());
        match build_step(raw, index + 1, fence, &defaults, runbook.severity, section, &path) {
            Ok((step, id_at)) => built.push((step, fence, id_at)),
            Err(diag) => {
                needs_sites.pop();
                diags.push(diag);
                unreadable_steps += 1;
            }
        }
    }
    check_step_ids(&built, &path, &mut diags);
    for (step, fence, _) in &built {
        if let Some(diag) = super::lint::evidence_free_pass(step, fence, &path) {
            diags.push(diag);
        }
    }
    if unreadable_steps == 0 {
        check_needs(&built, &needs_sites, &path, &mut diags);
    }
    let step_ids: Vec<&str> = built.iter().map(|(s, _, _)| s.id.as_str()).collect();
    let captured: BTreeSet<&str> = built.iter().flat_map(|(s, _, _)| s.capture_names()).collect();
    let known =
        KnownNames { steps: &step_ids, captures: &captured, vars: &runbook.vars, ctx, complete: unreadable_steps == 0 };
    let (diagnoses, fix_links) = super::diagnosis_parse::build_all(&scan, &known, &path, &mut diags);
    // A step that could not be read already has its error; the ids and captures it would have
    // defined are unknown, so names it might define are not reported again as undefined.
    if unreadable_steps == 0 {
        check_references(&built, &runbook.vars, ctx, &path, &mut diags);
    }
    let steps = built.into_iter().map(|(step, _, _)| step).collect();

    for line in &scan.unclosed_fences {
        diags.push(
            Diagnostic::warning(&path, *line, 1, "code fence is never closed")
                .with_hint("everything after it renders as code; close it with a matching fence line"),
        );
    }
    runbook.links = scan
        .links
        .iter()
        .filter(|l| is_relative_link(&l.dest))
        .map(|l| Link { dest: l.dest.clone(), line: l.line, column: l.column, target: None })
        .chain(fix_links)
        .collect();
    runbook.headings = scan.headings;
    runbook.html_anchors = scan.html_anchors;
    if let Some(fragment) = &scan.front_matter
        && let Some(i) = fragment.text.lines().position(|l| l.starts_with("aliases:"))
    {
        runbook.aliases_line = fragment.first_line + i;
    }
    runbook.body = Some(Arc::new(Body { source: text, steps, diagnoses, sha256: runbook.sha256.clone() }));
    diags.sort_by_key(|d| (d.line, d.column));
    runbook.file_errors = diags.iter().filter(|d| d.is_error()).count();
    runbook.diagnostics = diags;
    runbook
}

/// Front-matter values the runbook takes over, split out so `defaults` can move separately.
struct FrontFields<'a> {
    id: Option<&'a Spanned<String>>,
    title: Option<&'a String>,
    aliases: &'a [String],
    summary: Option<&'a String>,
    tags: &'a [String],
    category: Option<&'a String>,
    severity: Option<Severity>,
    owner: Option<&'a String>,
    vars: BTreeMap<String, serde_json::Value>,
    secrets: Vec<String>,
}

fn front_fields(front: &FrontMatter) -> FrontFields<'_> {
    FrontFields {
        id: front.id.as_ref(),
        title: front.title.as_ref(),
        aliases: &front.aliases.0,
        summary: front.summary.as_ref(),
        tags: &front.tags.0,
        category: front.category.as_ref(),
        severity: front.severity,
        owner: front.owner.as_ref(),
        vars: front.vars.iter().map(|(k, v)| (k.0.clone(), v.clone())).collect(),
        secrets: front.secrets.iter().map(|s| s.0.clone()).collect(),
    }
}

fn apply_front_matter(
    runbook: &mut Runbook,
    front: FrontFields<'_>,
    id_site: Option<(usize, usize)>,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(id) = front.id {
        let (line, column) = id_site.unwrap_or((1, 1));
        if is_valid_id(&id.value) {
            runbook.id = id.value.clone();
            runbook.explicit_id = true;
            runbook.id_line = line;
        } else {
            diags.push(
                Diagnostic::error(&runbook.path, line, column, format!("bad runbook id `{}`", id.value))
                    .with_hint(ID_RULES),
            );
        }
    }
    if let Some(title) = front.title {
        runbook.title = title.trim().to_string();
    }
    runbook.aliases = front.aliases.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
    if let Some(summary) = front.summary {
        runbook.summary = summary.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    runbook.tags = front.tags.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
    if let Some(category) = front.category.map(|c| c.trim()).filter(|c| !c.is_empty()) {
        runbook.category = category.to_string();
    }
    if let Some(severity) = front.severity {
        runbook.severity = severity;
    }
    runbook.owner = front.owner.cloned();
    runbook.vars = front.vars;
    runbook.secrets = front.secrets;
}

fn parse_front_matter(fragment: &Fragment, path: &str, diags: &mut Vec<Diagnostic>) -> FrontMatter {
    match parse_yaml::<FrontMatter>(fragment, path, YamlPart::FrontMatter) {
        Ok(front) => front,
        Err(diag) => {
            diags.push(diag);
            FrontMatter::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum YamlPart {
    FrontMatter,
    Step,
    Diagnosis,
}

/// Deserializes a YAML fragment, turning any error into a diagnostic at its place in the file.
pub(super) fn parse_yaml<T: DeserializeOwned>(
    fragment: &Fragment,
    path: &str,
    part: YamlPart,
) -> Result<T, Diagnostic> {
    serde_saphyr::from_str::<T>(&fragment.text).map_err(|err| yaml_diagnostic(fragment, path, part, &err))
}

fn yaml_diagnostic(fragment: &Fragment, path: &str, part: YamlPart, err: &serde_saphyr::Error) -> Diagnostic {
    let location = err.location().unwrap_or(Location::UNKNOWN);
    let (line, column) = map_location(fragment, location);
    let options = serde_saphyr::render_options! {
        formatter: &serde_saphyr::UserMessageFormatter,
        snippets: serde_saphyr::SnippetMode::Off,
    };
    let raw = err.render_with_options(options);
    let message = strip_location_suffix(&raw);
    let source_line = fragment.text.lines().nth((location.line() as usize).saturating_sub(1)).unwrap_or("");
    let (message, hint) = explain_yaml_error(message, part, source_line, location.column() as usize);
    let diag = Diagnostic::error(path, line, column, message);
    match hint {
        Some(hint) => diag.with_hint(hint),
        None => diag,
    }
}

/// Saphyr appends " at line N, column M" relative to the fragment; we print file positions.
fn strip_location_suffix(message: &str) -> &str {
    static SUFFIX: OnceLock<regex::Regex> = OnceLock::new();
    let suffix = SUFFIX.get_or_init(|| regex::Regex::new(r"\s+at line \d+, column \d+$").expect("valid regex"));
    match suffix.find(message) {
        Some(found) => &message[..found.start()],
        None => message,
    }
}

/// Rewrites serde's wording into the runbook's terms and adds a hint.
fn explain_yaml_error(message: &str, part: YamlPart, source_line: &str, column: usize) -> (String, Option<String>) {
    static UNKNOWN: OnceLock<regex::Regex> = OnceLock::new();
    static DUPLICATE: OnceLock<regex::Regex> = OnceLock::new();
    let unknown = UNKNOWN.get_or_init(|| {
        regex::Regex::new(r"^unknown field `([^`]*)`, expected (?:one of )?(.*)$").expect("valid regex")
    });
    let duplicate =
        DUPLICATE.get_or_init(|| regex::Regex::new(r"duplicate mapping key[:\s`]+([^`,\s]+)").expect("valid regex"));

    if let Some(caps) = unknown.captures(message) {
        let key = &caps[1];
        let expected: Vec<&str> = caps[2].split(", ").map(|s| s.trim_matches('`')).collect();
        let top_level = column == 1;
        if part == YamlPart::Step && top_level && value_is_mapping(source_line, key) {
            let hint = match closest(key, PROBE_NAMES.iter().copied()) {
                Some(probe) => format!("did you mean the `{probe}` probe?"),
                None => format!("probes are: {}", PROBE_NAMES.join(", ")),
            };
            return (format!("unknown probe `{key}`"), Some(hint));
        }
        let candidates: Vec<&str> = match (part, top_level) {
            (YamlPart::Step, true) => STEP_FIELDS.iter().chain(PROBE_NAMES.iter()).copied().collect(),
            (YamlPart::FrontMatter, true) => FRONT_MATTER_FIELDS.to_vec(),
            (YamlPart::Diagnosis, true) => super::diagnosis::DIAGNOSIS_FIELDS.to_vec(),
            _ => expected.clone(),
        };
        let hint = did_you_mean(key, candidates.iter().copied())
            .unwrap_or_else(|| format!("valid keys here: {}", candidates.join(", ")));
        let place = match part {
            YamlPart::Step if top_level => " in step",
            YamlPart::FrontMatter if top_level => " in front matter",
            YamlPart::Diagnosis if top_level => " in diagnosis",
            _ => "",
        };
        return (format!("unknown key `{key}`{place}"), Some(hint));
    }
    if message.contains("mapping values are not allowed") {
        // The classic: a plain value holding `: ` (`run: echo "a: b"`) reads as a nested mapping.
        return (
            "a value holding `: ` must be quoted".to_string(),
            Some("quote the whole value (run: \"echo 'a: b'\") or write it as a block: `run: |` and the script indented on the next lines".into()),
        );
    }
    if let Some(caps) = duplicate.captures(message) {
        return (
            format!("duplicate key `{}`", &caps[1]),
            Some("each key may appear once; remove or merge the repeats".into()),
        );
    }
    if part == YamlPart::FrontMatter && column <= 1 && message.contains("mapping") && !source_line.contains(':') {
        return (
            "front matter is not a mapping".to_string(),
            Some("write `key: value` lines between the `---` markers, like `id: my-runbook`".into()),
        );
    }
    if part == YamlPart::Step && column <= 1 && message.contains("expected mapping") && !source_line.contains(':') {
        return (
            "a step is a mapping of fields".to_string(),
            Some("write `key: value` lines, like `run: nvidia-smi`".into()),
        );
    }
    let wrong_type = message.starts_with("expected ")
        || message.starts_with("invalid ")
        || message.starts_with("cannot deserialize")
        || message.contains("invalid type");
    if wrong_type && let Some(key) = key_before(source_line, column) {
        return (format!("wrong type for `{key}`: {message}"), None);
    }
    (message.to_string(), None)
}

/// True when `key:` on this line has no inline scalar value (a block or flow mapping follows).
fn value_is_mapping(source_line: &str, key: &str) -> bool {
    let Some(rest) = source_line.trim_start().strip_prefix(key) else {
        return false;
    };
    let rest = rest.trim_start().trim_start_matches(':').trim_start();
    rest.is_empty() || rest.starts_with('{') || rest.starts_with('#')
}

/// The mapping key written before `column` on the line, if any (`retry: 5` → `retry`).
fn key_before(source_line: &str, column: usize) -> Option<String> {
    let before: String = source_line.chars().take(column.saturating_sub(1)).collect();
    let key_part = before.trim_end().strip_suffix(':')?;
    let key = key_part.rsplit(['{', ',', ' ']).next()?.trim().trim_matches(['"', '\'']);
    (!key.is_empty()).then(|| key.to_string())
}

/// A position inside a fragment → the position in the `.md` file.
fn map_location(fragment: &Fragment, location: Location) -> (usize, usize) {
    if location.line() == 0 {
        return (fragment.first_line.saturating_sub(1).max(1), 1);
    }
    (fragment.first_line + location.line() as usize - 1, location.column() as usize + fragment.indent)
}

pub(super) fn spanned_at<T>(fragment: &Fragment, spanned: &Spanned<T>) -> (usize, usize) {
    map_location(fragment, spanned.referenced)
}

/// Where a list item starts; a single string written for a list (`needs: driver`) has no
/// position of its own, so it is found by its text.
pub(super) fn item_at(fence: &StepFence, item: &Spanned<String>) -> (usize, usize) {
    if item.referenced.line() == 0 { locate(fence, &item.value) } else { spanned_at(&fence.yaml, item) }
}

/// Where `needle` first appears in the fragment, as a file position (fallback: the fence line).
pub(super) fn locate(fence: &StepFence, needle: &str) -> (usize, usize) {
    for (i, line) in fence.yaml.text.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            return (fence.yaml.first_line + i, line[..byte].chars().count() + 1 + fence.yaml.indent);
        }
    }
    (fence.fence_line, fence.yaml.indent + 1)
}

/// Applies defaults and checks the rules serde cannot express. Returns the step and the position
/// of its id (for the duplicate check).
fn build_step(
    mut raw: RawStep,
    index: usize,
    fence: &StepFence,
    defaults: &StepDefaults,
    runbook_severity: Severity,
    section: Option<String>,
    path: &str,
) -> Result<(Step, (usize, usize)), Diagnostic> {
    let frag = &fence.yaml;
    let at = |(line, column): (usize, usize), message: String| Diagnostic::error(path, line, column, message);

    let mut actions: Vec<(&str, (usize, usize))> = Vec::new();
    if let Some(run) = &raw.run {
        actions.push(("run", spanned_at(frag, run)));
    }
    for (probe, location) in raw.probe_sites() {
        actions.push((probe.as_str(), map_location(frag, location)));
    }
    if let Some(manual) = &raw.manual {
        actions.push(("manual", spanned_at(frag, manual)));
    }
    match actions.as_slice() {
        [] => {
            return Err(at((fence.fence_line, frag.indent + 1), "step has nothing to do".into()).with_hint(format!(
                "give it `run: <script>`, a probe ({}) or `manual: <instruction>`",
                PROBE_NAMES.join(", ")
            )));
        }
        [_] => {}
        [first, second, ..] => {
            let describe = |name: &str| match name {
                "run" | "manual" => format!("`{name}`"),
                probe => format!("a `{probe}` probe"),
            };
            return Err(at(second.1, format!("step has both {} and {}", describe(first.0), describe(second.0)))
                .with_hint("a step does one thing: split it into two steps"));
        }
    }

    let (id, id_at) = match &raw.id {
        Some(id) => {
            let site = spanned_at(frag, id);
            if !is_valid_id(&id.value) {
                return Err(at(site, format!("bad step id `{}`", id.value))
                    .with_hint("step ids use letters, digits, `.`, `_` and `-`; prefer `_` so templates can say steps.my_id.passed"));
            }
            (id.value.clone(), site)
        }
        None => (format!("step-{index}"), (fence.fence_line, 1)),
    };

    let is_run = raw.run.is_some();
    if !is_run {
        for (field, site) in [
            ("expect", raw.expect.as_ref().map(|s| spanned_at(frag, s))),
            ("capture", raw.capture.as_ref().map(|s| spanned_at(frag, s))),
            ("shell", raw.shell.as_ref().map(|s| spanned_at(frag, s))),
        ] {
            if let Some(site) = site {
                return Err(at(site, format!("`{field}` applies to `run` steps only")).with_hint(
                    "a probe states its expectations in its own fields, like disk: {path: /, used_percent: {lt: 90}}",
                ));
            }
        }
    }

    let timeout = raw.timeout.or(defaults.timeout).unwrap_or(DEFAULT_TIMEOUT);
    if timeout.as_std().is_zero() {
        return Err(at(locate(fence, "timeout"), "timeout must be longer than 0s".into()));
    }
    let retry = raw.retry.or(defaults.retry);
    if let Some(retry) = retry
        && retry.attempts == 0
    {
        return Err(at(locate(fence, "attempts"), "retry needs at least 1 attempt".into())
            .with_hint("attempts counts every run, the first one included: attempts: 3 runs up to three times"));
    }

    let shell_line = raw
        .shell
        .as_ref()
        .map(|s| (s.value.clone(), spanned_at(frag, s)))
        .or_else(|| defaults.shell.clone().map(|s| (s, (fence.fence_line, 1))));
    let shell: Vec<String> = match shell_line {
        Some((line, site)) => {
            let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            if words.is_empty() {
                return Err(at(site, "empty `shell`".into())
                    .with_hint("name a program and its flags, like `sh -c` or `python3 -c`"));
            }
            words
        }
        None => Vec::new(),
    };

    let probe = raw.take_probe();
    let action = if let Some(run) = raw.run {
        let captures = raw
            .capture
            .map(|c| c.value.into_iter().map(|(name, pattern)| (name.0, pattern.0)).collect())
            .unwrap_or_default();
        Action::Run(RunAction {
            script: run.value,
            shell,
            expect: raw.expect.map(|e| e.value).unwrap_or_default(),
            captures,
        })
    } else if let Some(manual) = raw.manual {
        Action::Manual(manual.value)
    } else {
        match probe {
            Some(probe) => Action::Probe(Box::new(probe)),
            None => return Err(at((fence.fence_line, 1), "step has nothing to do".into())),
        }
    };

    let name = match raw.name {
        Some(name) => name,
        // Rendered like any other string, so the default name shows real values at run time.
        None => {
            let name = default_name(&action);
            Template::parse(name.clone()).unwrap_or_else(|_| Template::literal(name))
        }
    };
    let mut env: BTreeMap<String, Template> = defaults.env.iter().map(|(k, v)| (k.0.clone(), v.clone())).collect();
    env.extend(raw.env.unwrap_or_default().into_iter().map(|(k, v)| (k.0, v)));

    let step = Step {
        id,
        name,
        line: fence.fence_line,
        section,
        action,
        assertions: raw.assertions.unwrap_or_default(),
        when: raw.when,
        confirm: raw.confirm,
        timeout,
        retry,
        continue_on_error: raw.continue_on_error.or(defaults.continue_on_error).unwrap_or(false),
        severity: raw.severity.or(defaults.severity).unwrap_or(runbook_severity),
        env,
        cwd: raw.cwd.or_else(|| defaults.cwd.clone()),
        needs: raw.needs.0.iter().map(|n| n.value.trim().to_string()).collect(),
        source: None,
    };
    Ok((step, id_at))
}

/// A readable one-line name for a step that has none.
fn default_name(action: &Action) -> String {
    let first_line = |text: &str| {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')).unwrap_or("");
        truncate_words(line, 60)
    };
    match action {
        Action::Run(run) => first_line(&run.script.source),
        Action::Probe(probe) => probe.subject(),
        Action::Manual(text) => first_line(&text.source),
    }
}

/// The names a diagnosis may read: every step (all have run by then), their captures, vars.
pub(super) struct KnownNames<'a> {
    pub steps: &'a [&'a str],
    pub captures: &'a BTreeSet<&'a str>,
    pub vars: &'a BTreeMap<String, serde_json::Value>,
    pub ctx: &'a ParseContext,
    /// False when a step could not be read: names it might define are not reported.
    pub complete: bool,
}

impl KnownNames<'_> {
    /// Whether `root` names something a diagnosis expression can read.
    pub fn is_value(&self, root: &str) -> bool {
        BUILTIN_NAMES.contains(&root)
            || self.vars.contains_key(root)
            || self.ctx.config_vars.contains(root)
            || self.captures.contains(root)
    }
}

/// `needs:` names earlier steps only (DESIGN §3): an unknown, later or own id is an error.
fn check_needs(
    built: &[(Step, &StepFence, (usize, usize))],
    sites: &[Vec<(String, (usize, usize))>],
    path: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let all_ids: Vec<&str> = built.iter().map(|(s, _, _)| s.id.as_str()).collect();
    for (position, ((step, _, _), needs)) in built.iter().zip(sites).enumerate() {
        let earlier = &all_ids[..position];
        for (needed, (line, column)) in needs {
            let problem = if earlier.iter().any(|id| id.eq_ignore_ascii_case(needed)) {
                continue;
            } else if needed.eq_ignore_ascii_case(&step.id) {
                (
                    format!("step `{}` needs itself", step.id),
                    "`needs` names earlier steps whose passing this step depends on".to_string(),
                )
            } else if all_ids.iter().any(|id| id.eq_ignore_ascii_case(needed)) {
                (
                    format!("`needs: {needed}` refers to a step that runs later"),
                    "a step can need only earlier steps: move it below the step it needs".to_string(),
                )
            } else {
                (
                    format!("unknown step `{needed}` in `needs`"),
                    did_you_mean(needed, earlier.iter().copied()).unwrap_or_else(|| {
                        format!(
                            "earlier steps: {}",
                            if earlier.is_empty() { "none".to_string() } else { earlier.join(", ") }
                        )
                    }),
                )
            };
            diags.push(Diagnostic::error(path, *line, *column, problem.0).with_hint(problem.1));
        }
    }
}

fn check_step_ids(built: &[(Step, &StepFence, (usize, usize))], path: &str, diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (step, _, (line, column)) in built {
        let key = step.id.to_lowercase();
        match seen.get(&key) {
            Some(first_line) => diags.push(
                Diagnostic::error(path, *line, *column, format!("duplicate step id `{}`", step.id)).with_hint(format!(
                    "the step at line {first_line} already uses it; step ids are unique in a runbook"
                )),
            ),
            None => {
                seen.insert(key, *line);
            }
        }
    }
}

/// Every template name must be defined where it is read: a var, a capture of an earlier step
/// (or of the step itself, in its `assert`), a builtin, or `steps.<earlier step>`.
fn check_references(
    built: &[(Step, &StepFence, (usize, usize))],
    vars: &BTreeMap<String, serde_json::Value>,
    ctx: &ParseContext,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let all_ids: Vec<&str> = built.iter().map(|(s, _, _)| s.id.as_str()).collect();
    let captured_by: BTreeMap<&str, &str> =
        built.iter().flat_map(|(s, _, _)| s.capture_names().into_iter().map(move |c| (c, s.id.as_str()))).collect();
    let mut earlier_ids: BTreeSet<&str> = BTreeSet::new();
    let mut earlier_captures: BTreeSet<&str> = BTreeSet::new();
    for (step, fence, _) in built {
        let own_captures = step.capture_names();
        for (reference, site) in step.references() {
            let mut parts = reference.split('.');
            let root = parts.next().unwrap_or_default();
            let problem = if root == "steps" {
                match parts.next() {
                    None => None,
                    Some(target) if earlier_ids.contains(target) => None,
                    Some(target) if target == step.id && site == RefSite::After => None,
                    Some(target) if target == step.id => Some((
                        format!("`steps.{target}` is read before step `{target}` has run"),
                        "a step can read its own results only in `assert`".to_string(),
                        format!("steps.{target}"),
                    )),
                    Some(target) if all_ids.contains(&target) => Some((
                        format!("`steps.{target}` refers to a step that runs later"),
                        "steps can read the results of earlier steps only".to_string(),
                        format!("steps.{target}"),
                    )),
                    Some(target) => Some((
                        format!("unknown step `{target}` in `steps.{target}`"),
                        did_you_mean(target, all_ids.iter().copied())
                            .unwrap_or_else(|| format!("steps in this runbook: {}", all_ids.join(", "))),
                        format!("steps.{target}"),
                    )),
                }
            } else if BUILTIN_NAMES.contains(&root)
                || vars.contains_key(root)
                || ctx.config_vars.contains(root)
                || earlier_captures.contains(root)
                || (site == RefSite::After && own_captures.contains(&root))
            {
                None
            } else if let Some(by) = captured_by.get(root) {
                Some((
                    format!("`{root}` is captured by step `{by}`, which has not run yet here"),
                    "captures are visible to later steps (and to the capturing step's own `assert`)".to_string(),
                    root.to_string(),
                ))
            } else {
                let known: Vec<&str> =
                    vars.keys().map(String::as_str).chain(earlier_captures.iter().copied()).collect();
                Some((
                    format!("`{root}` is not defined"),
                    did_you_mean(root, known.iter().copied()).unwrap_or_else(|| {
                        format!(
                            "declare it under `vars:` in the front matter (then --var {root}=… can set it), or capture it in an earlier step"
                        )
                    }),
                    root.to_string(),
                ))
            };
            if let Some((message, hint, needle)) = problem {
                let (line, column) = locate(fence, &needle);
                diags.push(Diagnostic::error(path, line, column, message).with_hint(hint));
            }
        }
        earlier_ids.insert(step.id.as_str());
        earlier_captures.extend(own_captures);
    }
}

/// A link worth resolving: relative, not a URL, not an absolute site path.
fn is_relative_link(dest: &str) -> bool {
    // `a::b` is a rustdoc intra-doc link, common in READMEs generated from crate docs.
    !(dest.is_empty()
        || dest.contains("::")
        || dest.contains("://")
        || dest.starts_with('/')
        || dest.starts_with("mailto:")
        || dest.starts_with("tel:"))
}

fn truncate_words(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > max_chars / 2 => &cut[..space],
        _ => &cut,
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', '.', ' ']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Runbook {
        parse(
            SourceFile {
                path: "runbooks/ops/t.md".into(),
                stem_path: "ops/t".into(),
                category_dir: Some("ops".into()),
                file: None,
                bytes: text.as_bytes().to_vec(),
            },
            &ParseContext::default(),
        )
    }

    #[test]
    fn defaults_come_from_the_file() {
        let rb = parse_text("# Disk full\n\nWhen the disk is full.\n\n```yaml step\nrun: df -h\n```\n");
        assert_eq!(rb.id, "t");
        assert_eq!(rb.title, "Disk full");
        assert_eq!(rb.summary, "When the disk is full.");
        assert_eq!(rb.category, "ops");
        let steps = &rb.body.as_ref().unwrap().steps;
        assert_eq!(steps[0].id, "step-1");
        assert_eq!(steps[0].name.source, "df -h");
        assert!(rb.diagnostics.is_empty(), "{:?}", rb.diagnostics);
    }

    #[test]
    fn defaults_apply_to_steps() {
        let rb = parse_text(
            "---\nseverity: warning\ndefaults: {timeout: 30s, continue_on_error: true}\n---\n# T\n\n```yaml step\nrun: x\n```\n\n```yaml step\nrun: y\ntimeout: 1m\nseverity: info\n```\n",
        );
        let steps = &rb.body.as_ref().unwrap().steps;
        assert_eq!(steps[0].timeout.to_string(), "30s");
        assert!(steps[0].continue_on_error);
        assert_eq!(steps[0].severity, Severity::Warning);
        assert_eq!(steps[1].timeout.to_string(), "1m");
        assert_eq!(steps[1].severity, Severity::Info);
    }

    #[test]
    fn location_suffix_is_stripped() {
        assert_eq!(strip_location_suffix("invalid u32 at line 2, column 19"), "invalid u32");
    }

    #[test]
    fn key_before_column() {
        assert_eq!(key_before("retry: 5", 8).as_deref(), Some("retry"));
        assert_eq!(key_before("retry: {attempts: many}", 19).as_deref(), Some("attempts"));
        assert_eq!(key_before("- a", 1), None);
    }

    #[test]
    fn summary_truncates_on_words() {
        let long = "word ".repeat(100);
        let summary = truncate_words(long.trim(), 30);
        assert!(summary.ends_with('…'));
        assert!(summary.chars().count() <= 31);
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    /// Every prefix of every shipped runbook (cut every 53 bytes, so also inside UTF-8
    /// sequences, YAML, fences and front matter) parses without panicking.
    #[test]
    fn truncated_runbooks_never_panic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
        let mut files = Vec::new();
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "md") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() >= 5);
        let ctx = ParseContext::default();
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            for cut in (0..bytes.len()).step_by(53) {
                let source = SourceFile {
                    path: "runbooks/t.md".into(),
                    stem_path: "t".into(),
                    category_dir: None,
                    file: None,
                    bytes: bytes[..cut].to_vec(),
                };
                let runbook = parse(source, &ctx);
                for diag in &runbook.diagnostics {
                    assert!(diag.line >= 1 && diag.column >= 1);
                }
            }
        }
    }
}

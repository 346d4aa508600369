//! From the bytes of one `.md` file to a [`Runbook`]: front matter, steps, links, diagnostics.
//! Parsing never fails: whatever could be read is kept, and every problem becomes a diagnostic
//! anchored in the `.md` file.

use super::cache::FileStamp;
use super::config::Config;
use super::diagnostic::{Diagnostic, Rule};
use super::discovery::KbSource;
use super::docs_syntax::{self, Params, Prepared};
use super::duration::Duration;
use super::front_matter::{self, Format, FrontMatter, KeySite, Text, is_extra, key_sites, toml_to_json};
use super::hugo::HugoSite;
use super::markdown::{Fragment, LineIndex, StepFence};
use super::outline::Outline;
use super::probe::PROBE_NAMES;
use super::runbook::{Body, Link, LinkKind, Runbook, is_index_stem};
use super::slug::{ID_RULES, is_valid_id};
use super::step::{Action, DEFAULT_TIMEOUT, RawStep, RefSite, Retry, RunAction, Severity, Step, StepDefaults};
use super::template::Template;
use super::yaml::{YamlPart, map_location, parse_yaml, spanned_at, yaml_diagnostic};
use crate::util::text::{did_you_mean, hex};
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

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
#[derive(Debug, Default, Clone)]
pub(crate) struct ParseContext {
    /// Variables `runbook.toml` defines for every runbook.
    pub config_vars: BTreeSet<String>,
    /// The `params` of the folder's Hugo config, for `{{< param >}}` (`Null` when none).
    pub site_params: Arc<serde_json::Value>,
    /// Sizes and times of the Hugo config files read.
    pub site_stamps: String,
    /// Sizes and times of the section pages whose cascades were read.
    pub section_stamps: String,
    /// A Hugo config was found: the folder is a Hugo site.
    pub hugo_site: bool,
    /// The `cascade` of each section of a Hugo site: (folder, values).
    pub cascades: Arc<Vec<(String, serde_json::Value)>>,
}

impl ParseContext {
    /// The context of every file of the KB at `source` with this `runbook.toml`.
    pub(crate) fn for_kb(source: &KbSource, config: &Config) -> ParseContext {
        let hugo = source.root().map(HugoSite::locate).unwrap_or_default();
        let hugo_site = !hugo.files.is_empty();
        // Sections' cascades are looked for only in a Hugo site: that costs a walk of the KB.
        let (cascades, cascade_stamps) = match hugo_site {
            true => {
                let files = source.files();
                let cascades = super::hugo::cascades(&files);
                (cascades, section_stamps(&files))
            }
            false => (Vec::new(), String::new()),
        };
        ParseContext {
            config_vars: config.vars.keys().cloned().collect(),
            site_stamps: hugo.stamps(),
            section_stamps: cascade_stamps,
            hugo_site,
            site_params: Arc::new(hugo.params),
            cascades: Arc::new(cascades),
        }
    }

    /// The cascades that apply to the page at `path`, nearest section first.
    fn cascade_for(&self, path: &str) -> Vec<&serde_json::Value> {
        let mut found: Vec<(usize, &serde_json::Value)> = self
            .cascades
            .iter()
            .filter(|(folder, _)| folder.is_empty() || path.starts_with(&format!("{folder}/")))
            .map(|(folder, cascade)| (folder.len(), cascade))
            .collect();
        found.sort_by_key(|(depth, _)| std::cmp::Reverse(*depth));
        found.into_iter().map(|(_, cascade)| cascade).collect()
    }

    /// Everything outside the file that parsing depends on, for caches of parse results.
    pub(crate) fn fingerprint(&self) -> String {
        let vars: Vec<&str> = self.config_vars.iter().map(String::as_str).collect();
        format!("{}|{}|{}", vars.join(","), self.site_stamps, self.section_stamps)
    }
}

/// Names every template may read without declaring them.
const BUILTIN_NAMES: [&str; 10] =
    ["env", "host", "steps", "vars", "range", "dict", "namespace", "debug", "cycler", "joiner"];

/// Longest summary taken from the first paragraph.
const SUMMARY_CHARS: usize = 280;

/// Reads and parses one file (its bytes are already there for the built-in KB), with the stamp
/// it had just before it was read. Never fails: an unreadable file is a runbook carrying why.
pub(crate) fn read_file(mut file: SourceFile, ctx: &ParseContext) -> Runbook {
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
pub(crate) fn unreadable(source: SourceFile, reason: &str) -> Runbook {
    let mut runbook = parse(SourceFile { bytes: Vec::new(), ..source }, &ParseContext::default());
    let path = runbook.path.clone();
    runbook.diagnostics.push(
        Diagnostic::error(Rule::File, &path, 1, 1, format!("cannot read the file: {reason}"))
            .with_hint("check the file's permissions"),
    );
    runbook.file_errors += 1;
    runbook
}

pub(crate) fn parse(source: SourceFile, ctx: &ParseContext) -> Runbook {
    let SourceFile { path, stem_path, category_dir, file, bytes } = source;
    let runbook = unread(path, stem_path, category_dir, file, &bytes);
    match String::from_utf8(bytes) {
        Ok(text) => read_text(runbook, text, ctx),
        Err(err) => not_utf8(runbook, &err),
    }
}

/// The runbook as known before its text is read: named after its file, with defaults.
fn unread(
    path: String,
    stem_path: String,
    category_dir: Option<String>,
    file: Option<PathBuf>,
    bytes: &[u8],
) -> Runbook {
    let stem = stem_path.rsplit('/').next().unwrap_or(&stem_path).to_string();
    Runbook {
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
        category: category_dir.unwrap_or_else(|| "general".to_string()),
        severity: Severity::Critical,
        owner: None,
        vars: BTreeMap::new(),
        secrets: Vec::new(),
        extra: BTreeMap::new(),
        alerts: Vec::new(),
        on_alert: Default::default(),
        watch: None,
        aliases_line: 1,
        step_fences: 0,
        headings: Default::default(),
        html_anchors: Vec::new(),
        links: Vec::new(),
        sha256: hex(&Sha256::digest(bytes)),
        diagnostics: Vec::new(),
        file_errors: 0,
        stamp: None,
        body: None,
    }
}

/// A file that is not UTF-8: one error where the first bad byte is, and an empty body.
fn not_utf8(mut runbook: Runbook, err: &std::string::FromUtf8Error) -> Runbook {
    let valid = &err.as_bytes()[..err.utf8_error().valid_up_to()];
    let valid = String::from_utf8_lossy(valid);
    let (line, column) = LineIndex::new(&valid).line_col(&valid, valid.len());
    runbook.diagnostics.push(
        Diagnostic::error(Rule::File, &runbook.path, line, column, "file is not valid UTF-8")
            .with_hint("save the file as UTF-8; the first bad byte is here"),
    );
    runbook.body = Some(Arc::new(Body {
        source: String::new(),
        steps: Vec::new(),
        diagnoses: Vec::new(),
        sha256: runbook.sha256.clone(),
        prepared: Arc::default(),
        outline: Arc::default(),
    }));
    runbook
}

/// Front matter, prepared Markdown, outline, steps and diagnostics of a UTF-8 `text`.
fn read_text(mut runbook: Runbook, text: String, ctx: &ParseContext) -> Runbook {
    let text = match text.strip_prefix('\u{feff}') {
        Some(stripped) => stripped.to_string(),
        None => text,
    };
    let mut diags = Vec::new();
    let path = runbook.path.clone();
    let split = front_matter::split(&text);
    let read = match &split.fragment {
        Some(fragment) => read_front_matter(fragment, &path, &mut diags),
        None => ReadFront::default(),
    };
    if split.unclosed {
        diags.push(
            Diagnostic::warning(
                Rule::FrontMatter,
                &path,
                1,
                1,
                "the file starts with `---` but the front matter is never closed",
            )
            .with_hint("end the front matter with a `---` line, or start the file with something else"),
        );
    }
    apply_front_matter(&mut runbook, &read, &mut diags);
    let cascade = ctx.cascade_for(&runbook.path);
    let params = Params { page: &runbook.extra, site: &ctx.site_params, hugo: ctx.hugo_site, cascade: &cascade };
    let prepared =
        docs_syntax::prepare(&text, split.body_start, split.fragment.is_some() && !split.parser_sees_it, params);
    let markdown = prepared.text(&text);
    let outline = Outline::new(markdown);
    take_title_and_summary(&mut runbook, &read, &outline);
    let watch_line = read.site("watch").map(|s| s.line).unwrap_or(1);
    let steps = build_steps(&mut runbook, &outline, read.front.defaults, ctx, watch_line, &mut diags);
    let step_ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    let captured: BTreeSet<&str> = steps.iter().flat_map(|s| s.capture_names()).collect();
    let known = KnownNames {
        steps: &step_ids,
        captures: &captured,
        vars: &runbook.vars,
        ctx,
        complete: steps.len() == runbook.step_fences,
    };
    let (diagnoses, fix_links) = super::diagnosis_parse::build_all(&outline, &known, &path, &mut diags);
    for line in outline.unclosed_fences() {
        diags.push(
            Diagnostic::warning(Rule::Markdown, &path, line, 1, "code fence is never closed")
                .with_hint("everything after it renders as code; close it with a matching fence line"),
        );
    }
    for note in &prepared.notes {
        let diag = Diagnostic::warning(Rule::Shortcode, &path, note.line, note.column, &note.message);
        diags.push(match &note.hint {
            Some(hint) => diag.with_hint(hint),
            None => diag,
        });
    }
    runbook.links = links(&outline, &prepared);
    runbook.headings = outline.headings.iter().collect();
    runbook.html_anchors = outline.html_anchors.clone();
    runbook.links.extend(fix_links);
    // Everything found in the prepared text points into the file as written.
    for diag in &mut diags {
        diag.column = prepared.original_column(diag.line, diag.column);
    }
    for link in &mut runbook.links {
        link.column = prepared.original_column(link.line, link.column);
    }
    let prepared = Arc::new(prepared);
    let outline = Arc::new(outline);
    runbook.body =
        Some(Arc::new(Body { source: text, steps, diagnoses, sha256: runbook.sha256.clone(), prepared, outline }));
    diags.sort_by_key(|d| (d.line, d.column));
    runbook.file_errors = diags.iter().filter(|d| d.is_error()).count();
    runbook.diagnostics = diags;
    runbook
}

/// Sizes and times of the section pages of a Hugo site (their cascades show in the pages below).
fn section_stamps(files: &[SourceFile]) -> String {
    files
        .iter()
        .filter(|f| matches!(f.stem_path.rsplit('/').next(), Some("_index" | "index")))
        .filter_map(|f| {
            let stamp = f
                .file
                .as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .and_then(|m| super::cache::FileStamp::of(&m))?;
            Some(format!(";{}:{}:{}", f.path, stamp.size, stamp.mtime_ns))
        })
        .collect()
}

/// The title (front matter, else the first H1, else the folder of an index page) and the
/// summary (front matter, else the first paragraph).
fn take_title_and_summary(runbook: &mut Runbook, read: &ReadFront, outline: &Outline) {
    if read.front.title.is_none() {
        if let Some(h1) = outline.headings.iter().find(|h| h.level == 1) {
            runbook.title = h1.text.clone();
        } else if is_index_stem(&runbook.title)
            && let Some(folder) = runbook.stem_path.rsplit('/').nth(1)
        {
            runbook.title = folder.to_string();
        }
    }
    if runbook.summary.is_empty()
        && let Some(paragraph) = &outline.first_paragraph
    {
        runbook.summary = truncate_words(paragraph, SUMMARY_CHARS);
    }
}

/// The steps of every `yaml step` fence, with their errors and those of the references between them.
fn build_steps(
    runbook: &mut Runbook,
    outline: &Outline,
    defaults: StepDefaults,
    ctx: &ParseContext,
    watch_line: usize,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Step> {
    let path = runbook.path.clone();
    let fences: Vec<StepFence> = outline.step_fences().map(StepFence::of).collect();
    runbook.step_fences = fences.len();
    let mut built: Vec<(Step, &StepFence, (usize, usize))> = Vec::new();
    let mut unreadable_steps = 0;
    let mut needs_sites: Vec<Vec<(String, (usize, usize))>> = Vec::new();
    for (index, fence) in fences.iter().enumerate() {
        if !fence.closed {
            unreadable_steps += 1;
            diags.push(
                Diagnostic::error(
                    Rule::Step,
                    &path,
                    fence.fence_line,
                    fence.yaml.indent + 1,
                    "unclosed `yaml step` fence",
                )
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
        let section = fence.section.map(|i| outline.headings[i].anchor.clone());
        match build_step(raw, index + 1, fence, &defaults, runbook.severity, section, &path) {
            Ok((step, id_at)) => built.push((step, fence, id_at)),
            Err(diag) => {
                needs_sites.pop();
                diags.push(diag);
                unreadable_steps += 1;
            }
        }
    }
    check_step_ids(&built, &path, diags);
    for (step, fence, _) in &built {
        if let Some(diag) = super::lint::evidence_free_pass(step, fence, &path) {
            diags.push(diag);
        }
    }
    if unreadable_steps == 0 {
        check_needs(&built, &needs_sites, &path, diags);
    }
    // A step that could not be read already has its error; the ids and captures it would have
    // defined are unknown, so names it might define are not reported again as undefined.
    if unreadable_steps == 0 {
        check_references(&built, &runbook.vars, ctx, &path, diags);
    }
    let steps: Vec<Step> = built.into_iter().map(|(step, _, _)| step).collect();
    if unreadable_steps == 0 {
        check_watch(runbook, &steps, watch_line, diags);
    }
    steps
}

/// `watch` names steps that exist and may run on a schedule (no `confirm`, no `manual`).
fn check_watch(runbook: &Runbook, steps: &[Step], line: usize, diags: &mut Vec<Diagnostic>) {
    let Some(watch) = &runbook.watch else { return };
    for problem in watch.problems(steps) {
        diags.push(Diagnostic::error(Rule::FrontMatter, &runbook.path, line, 1, problem).with_hint(
            "`watch.steps` lists ids of read-only steps (no `confirm`, no `manual`); leave it out to watch all of them",
        ));
    }
}

/// The links worth resolving; those a `ref` shortcode wrote are resolved as Hugo does.
fn links(outline: &Outline, prepared: &Prepared) -> Vec<Link> {
    outline
        .links
        .iter()
        .filter(|l| is_relative_link(&l.dest))
        .map(|l| Link {
            dest: l.dest.clone(),
            line: l.line,
            column: l.column,
            kind: if prepared.is_ref_dest(&l.range) { LinkKind::Shortcode } else { LinkKind::Markdown },
            target: None,
            page: None,
        })
        .collect()
}

/// The front matter as read: the runbook keys, the others kept as they are, and where each key
/// is written.
#[derive(Default)]
struct ReadFront {
    front: FrontMatter,
    extra: BTreeMap<String, serde_json::Value>,
    sites: Vec<KeySite>,
}

impl ReadFront {
    fn site(&self, key: &str) -> Option<&KeySite> {
        self.sites.iter().find(|s| s.key == key)
    }
}

/// Reads YAML or TOML front matter. Never fails: what cannot be read is a diagnostic, and
/// whatever could be read is kept (one bad value does not lose the other keys).
fn read_front_matter(fragment: &Fragment, path: &str, diags: &mut Vec<Diagnostic>) -> ReadFront {
    let sites = key_sites(&fragment.text, fragment.first_line, fragment.format);
    let value = match fragment.format {
        Format::Yaml => serde_saphyr::from_str::<front_matter::Lenient>(&fragment.text)
            .map(|value| value.0)
            .map_err(|err| yaml_diagnostic(fragment, path, YamlPart::FrontMatter, &err)),
        Format::Toml => toml::from_str::<toml::Table>(&fragment.text)
            .map(|table| toml_to_json(toml::Value::Table(table)))
            .map_err(|err| toml_diagnostic(fragment, path, &err)),
    };
    let map = match value {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(serde_json::Value::Null) => serde_json::Map::new(),
        Ok(_) => {
            diags.push(
                Diagnostic::error(Rule::FrontMatter, path, fragment.first_line, 1, "front matter is not a mapping")
                    .with_hint("write `key: value` lines between the `---` markers, like `id: my-runbook`"),
            );
            return ReadFront { sites, ..ReadFront::default() };
        }
        Err(diag) => {
            diags.push(template_or_error(fragment, diag));
            return ReadFront { sites, ..ReadFront::default() };
        }
    };
    let read = ReadFront {
        front: FrontMatter::default(),
        extra: map.iter().filter(|(k, _)| is_extra(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
        sites,
    };
    warn_near_misses(&read, &map, path, diags);
    let (front, failures) = front_matter::from_map(&map);
    let front = match failures.is_empty() {
        true => front,
        false => report_bad_values(fragment, &read, front, failures, path, diags),
    };
    ReadFront { front, ..read }
}

/// Front matter with `{{ … }}` in it that does not parse is a template of the site generator (a
/// Hugo archetype), not a broken page: a warning, not an error.
fn template_or_error(fragment: &Fragment, diag: Diagnostic) -> Diagnostic {
    if !fragment.text.contains("{{") {
        return diag;
    }
    let message = format!("front matter holds template syntax and is not data: {}", diag.message);
    Diagnostic::warning(Rule::FrontMatter, &diag.path, diag.line, diag.column, message)
        .with_hint("a site generator's template (a Hugo archetype) can stay as it is; in a page, quote the value")
}

/// A key that is not a runbook key but is one or two edits from one is probably a typo: a
/// warning, since it may just as well be the site generator's.
fn warn_near_misses(
    read: &ReadFront,
    map: &serde_json::Map<String, serde_json::Value>,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) {
    for key in map.keys().filter(|k| !front_matter::is_known(k)) {
        let Some(known) = front_matter::near_miss(key) else { continue };
        let (line, column) = read.site(key).map(|s| (s.line, s.column)).unwrap_or((1, 1));
        diags.push(
            Diagnostic::warning(
                Rule::FrontMatterKey,
                path,
                line,
                column,
                format!("front-matter key `{key}` is not a runbook key"),
            )
            .with_hint(format!(
                "did you mean `{known}`? (keys runbook does not know are kept as metadata for your site generator)"
            )),
        );
    }
}

/// Reports runbook keys whose value has the wrong type. For YAML the typed parse says where,
/// down to the nested field; where it reads the file after all (a value that YAML's own typing
/// accepts), its reading wins.
fn report_bad_values(
    fragment: &Fragment,
    read: &ReadFront,
    salvaged: FrontMatter,
    mut failures: Vec<(String, String)>,
    path: &str,
    diags: &mut Vec<Diagnostic>,
) -> FrontMatter {
    failures.sort_by_key(|(key, _)| read.site(key).map(|s| s.line).unwrap_or(usize::MAX));
    if fragment.format == Format::Yaml {
        match parse_yaml::<FrontMatter>(fragment, path, YamlPart::FrontMatter) {
            Ok(front) => return front,
            Err(diag) => {
                diags.push(diag);
                failures.remove(0);
            }
        }
    }
    for (key, message) in failures {
        let (line, column) = read.site(&key).map(|s| (s.line, s.value_column)).unwrap_or((fragment.first_line, 1));
        let what = if message.starts_with("unknown variant") { "value" } else { "type" };
        let message = format!("wrong {what} for `{key}`: {message}");
        diags.push(Diagnostic::error(Rule::FrontMatter, path, line, column, message));
    }
    salvaged
}

/// A TOML syntax error at its place in the file.
fn toml_diagnostic(fragment: &Fragment, path: &str, err: &toml::de::Error) -> Diagnostic {
    let lines = LineIndex::new(&fragment.text);
    let (line, column) = err.span().map(|s| lines.line_col(&fragment.text, s.start)).unwrap_or((1, 1));
    Diagnostic::error(Rule::FrontMatter, path, fragment.first_line + line - 1, column, err.message().trim().to_string())
        .with_hint("TOML front matter between `+++` lines is `key = value`, with text quoted: title = \"Disk full\"")
}

fn apply_front_matter(runbook: &mut Runbook, read: &ReadFront, diags: &mut Vec<Diagnostic>) {
    let front = &read.front;
    if let Some(Text(id)) = &front.id {
        let (line, column) = read.site("id").map(|s| (s.line, s.value_column)).unwrap_or((1, 1));
        let id = id.trim();
        if is_valid_id(id) {
            runbook.id = id.to_string();
            runbook.explicit_id = true;
            runbook.id_line = line;
        } else {
            diags.push(
                Diagnostic::error(Rule::FrontMatter, &runbook.path, line, column, format!("bad runbook id `{id}`"))
                    .with_hint(ID_RULES),
            );
        }
    }
    if let Some(Text(title)) = &front.title {
        runbook.title = title.trim().to_string();
    }
    runbook.aliases = trimmed(&front.aliases.0);
    if let Some(Text(summary)) = front.summary.as_ref().or(front.description.as_ref()) {
        runbook.summary = summary.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    runbook.tags = trimmed(&front.tags.0);
    if let Some(category) = front.category.as_ref().map(|c| c.0.trim()).filter(|c| !c.is_empty()) {
        runbook.category = category.to_string();
    }
    if let Some(severity) = front.severity {
        runbook.severity = severity;
    }
    runbook.owner = front.owner.as_ref().map(|o| o.0.trim().to_string()).filter(|o| !o.is_empty());
    runbook.vars = front.vars.iter().map(|(k, v)| (k.0.clone(), v.clone())).collect();
    runbook.secrets = front.secrets.0.iter().map(|s| s.0.clone()).collect();
    runbook.extra = read.extra.clone();
    runbook.alerts = trimmed(&front.alerts.0);
    runbook.on_alert = front.on_alert.unwrap_or_default();
    runbook.watch = front.watch.clone();
    if let Some(site) = read.site("aliases") {
        runbook.aliases_line = site.line;
    }
}

fn trimmed(items: &[String]) -> Vec<String> {
    items.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect()
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
    let at = |site: (usize, usize), message: String| Diagnostic::error(Rule::Step, path, site.0, site.1, message);
    one_action(&raw, fence, &at)?;
    let (id, id_at) = step_id(&raw, index, fence, &at)?;
    if raw.run.is_none() {
        no_run_fields(&raw, &fence.yaml, &at)?;
    }
    let (timeout, retry) = limits(&raw, fence, defaults, &at)?;
    let shell = shell_words(&raw, fence, defaults, &at)?;
    let action = action(&mut raw, shell).ok_or_else(|| at((fence.fence_line, 1), "step has nothing to do".into()))?;
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

/// A step error at a (line, column) of the file.
type At<'a> = dyn Fn((usize, usize), String) -> Diagnostic + 'a;

/// A step does exactly one thing: `run`, one probe or `manual`.
fn one_action(raw: &RawStep, fence: &StepFence, at: &At<'_>) -> Result<(), Diagnostic> {
    let frag = &fence.yaml;
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
        [] => Err(at((fence.fence_line, frag.indent + 1), "step has nothing to do".into()).with_hint(format!(
            "give it `run: <script>`, a probe ({}) or `manual: <instruction>`",
            PROBE_NAMES.join(", ")
        ))),
        [_] => Ok(()),
        [first, second, ..] => {
            let describe = |name: &str| match name {
                "run" | "manual" => format!("`{name}`"),
                probe => format!("a `{probe}` probe"),
            };
            Err(at(second.1, format!("step has both {} and {}", describe(first.0), describe(second.0)))
                .with_hint("a step does one thing: split it into two steps"))
        }
    }
}

/// The step's id and where it is written: its own, or `step-N` at the fence.
fn step_id(
    raw: &RawStep,
    index: usize,
    fence: &StepFence,
    at: &At<'_>,
) -> Result<(String, (usize, usize)), Diagnostic> {
    let Some(id) = &raw.id else {
        return Ok((format!("step-{index}"), (fence.fence_line, 1)));
    };
    let site = spanned_at(&fence.yaml, id);
    if !is_valid_id(&id.value) {
        return Err(at(site, format!("bad step id `{}`", id.value)).with_hint(
            "step ids use letters, digits, `.`, `_` and `-`; prefer `_` so templates can say steps.my_id.passed",
        ));
    }
    Ok((id.value.clone(), site))
}

/// `expect`, `capture` and `shell` on a probe or manual step.
fn no_run_fields(raw: &RawStep, frag: &Fragment, at: &At<'_>) -> Result<(), Diagnostic> {
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
    Ok(())
}

/// The timeout and retry, the step's own or the runbook's defaults.
fn limits(
    raw: &RawStep,
    fence: &StepFence,
    defaults: &StepDefaults,
    at: &At<'_>,
) -> Result<(Duration, Option<Retry>), Diagnostic> {
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
    Ok((timeout, retry))
}

/// The words of the step's `shell` (or the default's); none for the default shell.
fn shell_words(
    raw: &RawStep,
    fence: &StepFence,
    defaults: &StepDefaults,
    at: &At<'_>,
) -> Result<Vec<String>, Diagnostic> {
    let shell_line = raw
        .shell
        .as_ref()
        .map(|s| (s.value.clone(), spanned_at(&fence.yaml, s)))
        .or_else(|| defaults.shell.clone().map(|s| (s, (fence.fence_line, 1))));
    let Some((line, site)) = shell_line else {
        return Ok(Vec::new());
    };
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        return Err(
            at(site, "empty `shell`".into()).with_hint("name a program and its flags, like `sh -c` or `python3 -c`")
        );
    }
    Ok(words)
}

/// What the step does, taken out of `raw`.
fn action(raw: &mut RawStep, shell: Vec<String>) -> Option<Action> {
    let probe = raw.take_probe();
    if let Some(run) = raw.run.take() {
        let captures = raw
            .capture
            .take()
            .map(|c| c.value.into_iter().map(|(name, pattern)| (name.0, pattern.0)).collect())
            .unwrap_or_default();
        return Some(Action::Run(RunAction {
            script: run.value,
            shell,
            expect: raw.expect.take().map(|e| e.value).unwrap_or_default(),
            captures,
        }));
    }
    if let Some(manual) = raw.manual.take() {
        return Some(Action::Manual(manual.value));
    }
    probe.map(|probe| Action::Probe(Box::new(probe)))
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
    pub(super) fn is_value(&self, root: &str) -> bool {
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
            diags.push(Diagnostic::error(Rule::Step, path, *line, *column, problem.0).with_hint(problem.1));
        }
    }
}

fn check_step_ids(built: &[(Step, &StepFence, (usize, usize))], path: &str, diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (step, _, (line, column)) in built {
        let key = step.id.to_lowercase();
        match seen.get(&key) {
            Some(first_line) => diags.push(
                Diagnostic::error(Rule::Step, path, *line, *column, format!("duplicate step id `{}`", step.id))
                    .with_hint(format!(
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
                diags.push(Diagnostic::error(Rule::Template, path, line, column, message).with_hint(hint));
            }
        }
        earlier_ids.insert(step.id.as_str());
        earlier_captures.extend(own_captures);
    }
}

/// A link worth resolving: relative, not a URL, not an absolute site path.
fn is_relative_link(dest: &str) -> bool {
    // `a::b` is a rustdoc intra-doc link, common in READMEs generated from crate docs.
    !(dest.is_empty() || dest.contains("::") || dest.starts_with('/') || has_scheme(dest))
}

/// `https:`, `mailto:`, DocFX's `xref:`: a URL of its own, not a path (RFC 3986 scheme syntax).
fn has_scheme(dest: &str) -> bool {
    let Some((scheme, _)) = dest.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
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
    fn links_with_a_scheme_are_not_paths() {
        for url in ["https://x.example/a.md", "mailto:a@b", "xref:Microsoft.PowerShell.Core.Get-Help", "tel:+1"] {
            assert!(!is_relative_link(url), "{url}");
        }
        for path in ["a.md", "../b/c.md#d", "#anchor", "dir/", "c++.md"] {
            assert!(is_relative_link(path), "{path}");
        }
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

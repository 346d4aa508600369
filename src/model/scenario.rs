//! Scenario files (DESIGN §13): `NAME.scenarios.yaml` beside a runbook, recorded worlds in which
//! its steps see what a host in that state would show, and what the run must conclude there.
//! Reading one checks it against the runbook; every problem is a `path:line:col` diagnostic.

use super::diagnostic::{Diagnostic, Rule};
use super::kb::Kb;
use super::plain::{self, overlay::Overlay};
use super::quantity::parse_quantity;
use super::runbook::{Body, Runbook, RunbookIdx};
use crate::util::text::did_you_mean;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_saphyr::{Location, Spanned};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The file of scenarios for the runbook at `md` (`x.md` → `x.scenarios.yaml`).
pub(crate) fn file_for(md: &Path) -> PathBuf {
    md.with_extension("scenarios.yaml")
}

/// The folder of larger fixture files (`x.md` → `x.scenarios/`).
pub(crate) fn fixtures_for(md: &Path) -> PathBuf {
    md.with_extension("scenarios")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    scenarios: Vec<Spanned<Scenario>>,
}

/// One recorded world and what the run must conclude in it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scenario {
    pub name: String,
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Programs on PATH, by name.
    #[serde(default)]
    pub commands: BTreeMap<String, Spanned<CommandFixture>>,
    /// Files under the scenario root, by absolute path.
    #[serde(default)]
    pub files: BTreeMap<String, Spanned<FileFixture>>,
    pub gpu: Option<GpuFixture>,
    #[serde(default)]
    pub disk: BTreeMap<String, DiskSpec>,
    /// URL (templated) → answer.
    #[serde(default)]
    pub http: BTreeMap<String, HttpFixture>,
    /// Addresses (`host:port`, templated) that accept connections.
    #[serde(default)]
    pub tcp: Vec<String>,
    #[serde(default)]
    pub processes: Vec<ProcessFixture>,
    /// Step id → the answer to its `confirm`.
    #[serde(default)]
    pub answers: KeyedList<Answer>,
    pub expect: Spanned<Expectation>,
}

/// A program: canned output, a fixture file's content as stdout, or a bash script.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommandFixture {
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub exit: Option<i32>,
    pub file: Option<String>,
    pub script: Option<String>,
}

/// A file under the scenario root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileFixture {
    Text(String),
    /// A character device (`{char: true}`).
    Char,
    /// A directory (`{dir: true}`).
    Dir,
    /// Content copied from the fixture folder (`{file: F}`).
    Copy(String),
    Symlink(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(rename = "char")]
    char_device: Option<bool>,
    dir: Option<bool>,
    file: Option<String>,
    symlink: Option<String>,
}

impl<'de> Deserialize<'de> for FileFixture {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = FileFixture;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the file's content, or one of {char: true}, {dir: true}, {file: NAME}, {symlink: TARGET}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FileFixture, E> {
                Ok(FileFixture::Text(v.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<FileFixture, A::Error> {
                let spec = FileSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                match spec {
                    FileSpec { char_device: Some(true), dir: None, file: None, symlink: None } => Ok(FileFixture::Char),
                    FileSpec { char_device: None, dir: Some(true), file: None, symlink: None } => Ok(FileFixture::Dir),
                    FileSpec { char_device: None, dir: None, file: Some(f), symlink: None } => Ok(FileFixture::Copy(f)),
                    FileSpec { char_device: None, dir: None, file: None, symlink: Some(t) } => {
                        Ok(FileFixture::Symlink(t))
                    }
                    _ => Err(de::Error::custom(
                        "a file is one of {char: true}, {dir: true}, {file: NAME} or {symlink: TARGET}",
                    )),
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `gpu: none`, a list of GPU snapshots, or `{unavailable: reason, kind: …}` as NVML would fail.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GpuFixture {
    None,
    Gpus(Vec<GpuSpec>),
    Unavailable { reason: String, kind: Option<String> },
}

/// One GPU as the gpu probe reads it; driver and CUDA versions per GPU (the first one's count).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GpuSpec {
    pub index: u32,
    #[serde(default)]
    pub name: String,
    pub uuid: Option<String>,
    pub driver_version: Option<String>,
    pub cuda_version: Option<String>,
    pub compute_capability: Option<String>,
    pub memory_total: Option<u64>,
    pub memory_used: Option<u64>,
    pub memory_free: Option<u64>,
    pub utilization_percent: Option<u32>,
    pub temperature_c: Option<u32>,
    pub power_w: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnavailableSpec {
    unavailable: String,
    kind: Option<String>,
}

impl<'de> Deserialize<'de> for GpuFixture {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = GpuFixture;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`none`, a list of GPUs, or {unavailable: reason}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GpuFixture, E> {
                match v {
                    "none" => Ok(GpuFixture::None),
                    other => Err(E::custom(format!("bad gpu `{other}`: write `none` or a list of GPUs"))),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<GpuFixture, E> {
                Ok(GpuFixture::None)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<GpuFixture, A::Error> {
                let mut gpus = Vec::new();
                while let Some(gpu) = seq.next_element::<GpuSpec>()? {
                    gpus.push(gpu);
                }
                Ok(GpuFixture::Gpus(gpus))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<GpuFixture, A::Error> {
                let spec = UnavailableSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(GpuFixture::Unavailable { reason: spec.unavailable, kind: spec.kind })
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A filesystem: sizes like `20GiB`, inode counts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiskSpec {
    pub size: Size,
    pub avail: Size,
    pub used: Option<Size>,
    pub inodes: Option<Size>,
    pub inodes_free: Option<Size>,
}

/// A byte size or count: a number or text like `28KiB`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Size(pub f64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a size like 20GiB or a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                Ok(Size(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                parse_quantity(v).map(Size).map_err(|e| E::custom(e.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// An HTTP answer: status (default 200), a text body or a JSON one, headers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpFixture {
    #[serde(default = "ok")]
    pub status: u16,
    pub body: Option<String>,
    pub json: Option<serde_json::Value>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn ok() -> u16 {
    200
}

/// A running process: its name, or `{name, pid}` when a file of the scenario names its pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessFixture {
    pub name: String,
    pub pid: Option<u32>,
}

impl<'de> Deserialize<'de> for ProcessFixture {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Spec {
            name: String,
            pid: Option<u32>,
        }
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = ProcessFixture;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a process name or {name, pid}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ProcessFixture, E> {
                Ok(ProcessFixture { name: v.to_string(), pid: None })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<ProcessFixture, A::Error> {
                let spec = Spec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ProcessFixture { name: spec.name, pid: spec.pid })
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// The answer to a `confirm`: yes or no (`true`/`false`, `yes`/`no`, `y`/`n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer(pub bool);

impl<'de> Deserialize<'de> for Answer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Answer;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("yes or no")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Answer, E> {
                Ok(Answer(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Answer, E> {
                match v.to_ascii_lowercase().as_str() {
                    "yes" | "y" | "true" | "on" => Ok(Answer(true)),
                    "no" | "n" | "false" | "off" => Ok(Answer(false)),
                    other => Err(E::custom(format!("bad answer `{other}`: write yes or no"))),
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A mapping whose keys keep their positions (step ids, for messages), in file order.
#[derive(Debug, Clone)]
pub(crate) struct KeyedList<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for KeyedList<V> {
    fn default() -> Self {
        KeyedList(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for KeyedList<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> de::Visitor<'de> for Visit<V> {
            type Value = KeyedList<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping of step ids")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<KeyedList<V>, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<Spanned<String>, V>()? {
                    out.push(entry);
                }
                Ok(KeyedList(out))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// What the run must conclude in the scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expectation {
    /// `passed`, `warning`, `failed` or `interrupted` (the record's names; checked when read).
    pub verdict: Option<Spanned<String>>,
    /// The first matching diagnosis id, or `none` for no diagnosis at all.
    pub diagnosis: Option<Spanned<String>>,
    #[serde(default)]
    /// Step id → outcome name (`passed`, `failed`, `timed_out`, `error`, `skipped`, `interrupted`).
    pub steps: KeyedList<Spanned<String>>,
}

/// The scenarios of one runbook, read and checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScenarioFile {
    /// Where `{file: F}` fixtures are read from.
    pub fixtures: PathBuf,
    pub scenarios: Vec<Scenario>,
}

/// Reads `text` (the file at `path`, relative to the KB root) against the runbook's body.
/// Errors come back as diagnostics; the scenarios that had none are kept.
pub(crate) fn parse(text: &str, path: &str, fixtures: &Path, body: &Body) -> (ScenarioFile, Vec<Diagnostic>) {
    let mut file = ScenarioFile { fixtures: fixtures.to_path_buf(), scenarios: Vec::new() };
    let raw: RawFile = match serde_saphyr::from_str(text) {
        Ok(raw) => raw,
        Err(err) => return (file, vec![yaml_error(path, &err)]),
    };
    let mut diags = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for spanned in raw.scenarios {
        let before = diags.len();
        let at = position(spanned.referenced);
        if let Some(first) = names.get(&spanned.value.name) {
            diags.push(
                Diagnostic::error(
                    Rule::Scenario,
                    path,
                    at.0,
                    at.1,
                    format!("duplicate scenario name `{}`", spanned.value.name),
                )
                .with_hint(format!("the scenario at line {first} has it; `runbook test` selects scenarios by name")),
            );
        }
        names.insert(spanned.value.name.clone(), at.0);
        check(&spanned.value, path, fixtures, body, &mut diags);
        if diags.len() == before {
            file.scenarios.push(spanned.value);
        }
    }
    (file, diags)
}

fn position(location: Location) -> (usize, usize) {
    (location.line().max(1) as usize, location.column().max(1) as usize)
}

fn yaml_error(path: &str, err: &serde_saphyr::Error) -> Diagnostic {
    let (line, column) = position(err.location().unwrap_or(Location::UNKNOWN));
    let options = serde_saphyr::render_options! {
        formatter: &serde_saphyr::UserMessageFormatter,
        snippets: serde_saphyr::SnippetMode::Off,
    };
    let raw = err.render_with_options(options);
    let message = match raw.rfind(" at line ") {
        Some(cut) => raw[..cut].to_string(),
        None => raw,
    };
    let hint = if message.starts_with("unknown field") {
        "scenario keys: name, vars, commands, files, gpu, disk, http, tcp, processes, answers, expect (DESIGN §13)"
    } else {
        "see the scenario format in runbooks/guides/writing-runbooks.md"
    };
    Diagnostic::error(Rule::Scenario, path, line, column, message).with_hint(hint)
}

/// What the scenario names must exist: steps, diagnoses, fixture files.
fn check(scenario: &Scenario, path: &str, fixtures: &Path, body: &Body, diags: &mut Vec<Diagnostic>) {
    let step_ids: Vec<&str> = body.steps.iter().map(|s| s.id.as_str()).collect();
    let unknown_step = |id: &Spanned<String>, what: &str, diags: &mut Vec<Diagnostic>| {
        if body.step(&id.value).is_none() {
            let (line, column) = position(id.referenced);
            let hint = did_you_mean(&id.value, step_ids.iter().copied())
                .unwrap_or_else(|| format!("steps of the runbook: {}", step_ids.join(", ")));
            diags.push(
                Diagnostic::error(
                    Rule::Scenario,
                    path,
                    line,
                    column,
                    format!("{what} names unknown step `{}`", id.value),
                )
                .with_hint(hint),
            );
        }
    };
    const VERDICTS: [&str; 4] = ["passed", "warning", "failed", "interrupted"];
    const OUTCOMES: [&str; 6] = ["passed", "failed", "timed_out", "error", "skipped", "interrupted"];
    let bad_name = |value: &Spanned<String>, allowed: &[&str], what: &str, diags: &mut Vec<Diagnostic>| {
        if !allowed.contains(&value.value.as_str()) {
            let (line, column) = position(value.referenced);
            diags.push(
                Diagnostic::error(Rule::Scenario, path, line, column, format!("unknown {what} `{}`", value.value))
                    .with_hint(format!("write one of {}", allowed.join(", "))),
            );
        }
    };
    if let Some(verdict) = &scenario.expect.value.verdict {
        bad_name(verdict, &VERDICTS, "verdict", diags);
    }
    for (id, outcome) in &scenario.expect.value.steps.0 {
        unknown_step(id, "expect.steps", diags);
        bad_name(outcome, &OUTCOMES, "outcome", diags);
    }
    for (id, _) in &scenario.answers.0 {
        unknown_step(id, "answers", diags);
    }
    if let Some(diagnosis) = &scenario.expect.value.diagnosis
        && diagnosis.value != "none"
        && !body.diagnoses.iter().any(|d| d.id == diagnosis.value)
    {
        let ids: Vec<&str> = body.diagnoses.iter().map(|d| d.id.as_str()).collect();
        let (line, column) = position(diagnosis.referenced);
        let hint = did_you_mean(&diagnosis.value, ids.iter().copied()).unwrap_or_else(|| {
            if ids.is_empty() {
                "the runbook declares no diagnoses".to_string()
            } else {
                format!("diagnoses of the runbook: {}", ids.join(", "))
            }
        });
        diags.push(
            Diagnostic::error(
                Rule::Scenario,
                path,
                line,
                column,
                format!("expect.diagnosis names unknown diagnosis `{}`", diagnosis.value),
            )
            .with_hint(hint),
        );
    }
    check_fixtures(scenario, path, fixtures, diags);
}

/// Commands and files that copy a fixture file need it in the fixture folder; a command gives
/// canned output, a file or a script, not several.
fn check_fixtures(scenario: &Scenario, path: &str, fixtures: &Path, diags: &mut Vec<Diagnostic>) {
    let folder = fixtures.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let missing = |name: &str, at: Location, diags: &mut Vec<Diagnostic>| {
        let file = fixtures.join(name);
        let inside = Path::new(name).components().all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside || !file.is_file() {
            let (line, column) = position(at);
            let message = if inside {
                format!("fixture file `{name}` does not exist")
            } else {
                format!("fixture file `{name}` is outside {folder}/")
            };
            diags.push(
                Diagnostic::error(Rule::Scenario, path, line, column, message)
                    .with_hint(format!("fixture files live in {folder}/ beside the scenario file")),
            );
        }
    };
    for (name, command) in &scenario.commands {
        let c = &command.value;
        let kinds =
            [c.file.is_some(), c.script.is_some(), c.stdout.is_some() || c.stderr.is_some() || c.exit.is_some()];
        if kinds.iter().filter(|k| **k).count() > 1 {
            let (line, column) = position(command.referenced);
            diags.push(
                Diagnostic::error(
                    Rule::Scenario,
                    path,
                    line,
                    column,
                    format!("command `{name}` mixes canned output, `file` and `script`"),
                )
                .with_hint("give {stdout, stderr, exit}, or {file: NAME}, or {script: …}"),
            );
        }
        if name.contains('/') || name.is_empty() {
            let (line, column) = position(command.referenced);
            diags.push(
                Diagnostic::error(Rule::Scenario, path, line, column, format!("bad command name `{name}`"))
                    .with_hint("commands are program names found on PATH, like nvidia-smi"),
            );
        }
        if let Some(file) = &c.file {
            missing(file, command.referenced, diags);
        }
    }
    for (target, file) in &scenario.files {
        if !target.starts_with('/') {
            let (line, column) = position(file.referenced);
            diags.push(
                Diagnostic::error(Rule::Scenario, path, line, column, format!("file path `{target}` is not absolute"))
                    .with_hint("write the path as on the host, like /sys/module/nvidia/version"),
            );
        }
        if let FileFixture::Copy(name) = &file.value {
            missing(name, file.referenced, diags);
        }
    }
}

/// What a runbook's scenarios run: its declared steps, or — for a document — its plain shell
/// blocks (DESIGN §14), read again in each scenario with the scenario's `vars:`.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    /// The steps and diagnoses expectations name. A document's plain steps are read here with
    /// the KB's values only: placeholders do not change step ids.
    pub body: Arc<Body>,
    /// Set for a document: it runs as plain steps, with this overlay.
    pub plain: Option<PlainDoc>,
}

/// A document run as plain steps in its scenarios.
#[derive(Debug, Clone)]
pub(crate) struct PlainDoc {
    pub overlay: Option<Overlay>,
}

/// What the scenarios of `rb` (whose body is `body`) run. A document has no steps of its own:
/// its scenarios can only mean its plain steps, as `runbook exec --plain` runs them.
pub(crate) fn subject(kb: &Kb, rb: &Runbook, body: Arc<Body>) -> Result<Subject, Diagnostic> {
    if !rb.is_document() {
        return Ok(Subject { body, plain: None });
    }
    let overlay = plain::overlay::for_runbook(kb, rb)?;
    let values = plain::values(&kb.config.vars, &[]);
    let read = plain::plan(&plain::Input {
        path: &rb.path,
        text: &body.source,
        severity: rb.severity,
        section: None,
        values: &values,
        env_has: &|_| false,
        overlay: overlay.as_ref(),
    });
    let (_, plain_body) = read.runbook(rb, &body);
    Ok(Subject { body: Arc::new(plain_body), plain: Some(PlainDoc { overlay }) })
}

/// A runbook's scenario file, read.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// What the scenarios run; `None` when the runbook (or its overlay) could not be read.
    pub subject: Option<Subject>,
    /// The scenarios that read without errors.
    pub file: ScenarioFile,
    pub diagnostics: Vec<Diagnostic>,
}

/// The scenarios of the runbook at `idx`, read and checked against what they run; `None` when
/// it has none (or lives in the built-in KB, which ships without them).
pub(crate) fn load(kb: &Kb, idx: RunbookIdx) -> Option<Loaded> {
    let rb = &kb[idx];
    let md = rb.file.as_ref()?;
    let file = file_for(md);
    let path = match rb.path.strip_suffix(".md") {
        Some(stem) => format!("{stem}.scenarios.yaml"),
        None => file.display().to_string(),
    };
    let failed = |diag: Diagnostic| Loaded { subject: None, file: ScenarioFile::default(), diagnostics: vec![diag] };
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => {
            let diag = Diagnostic::error(Rule::Scenario, &path, 1, 1, format!("cannot read the scenario file: {err}"))
                .with_hint("check the file's permissions");
            return Some(failed(diag));
        }
    };
    let body = kb.body(idx).map_err(|err| {
        Diagnostic::error(Rule::Scenario, &rb.path, 1, 1, format!("cannot read the runbook its scenarios run: {err}"))
    });
    let subject = match body.and_then(|body| subject(kb, rb, body)) {
        Ok(subject) => subject,
        Err(diag) => return Some(failed(diag)),
    };
    let (file, diagnostics) = parse(&text, &path, &fixtures_for(md), &subject.body);
    Some(Loaded { subject: Some(subject), file, diagnostics })
}

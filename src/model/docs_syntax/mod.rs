//! Docs-site syntax, read the way the site generator means it, before anything walks the
//! Markdown: Hugo shortcodes (`{{< ref >}}` links, `{{% alert %}}` boxes, `{{< figure >}}`,
//! `{{< param >}}`, and every other one dropped to its content) and the admonitions of Docusaurus
//! (`:::note`), mkdocs (`!!! note`) and Hugo themes. GitHub's `> [!NOTE]` alerts need nothing
//! here: the Markdown parser reads them.
//!
//! The outcome, [`Prepared`], is plain CommonMark with the same lines as the file: admonitions
//! become block quotes listed in [`Prepared::admonitions`], shortcodes become what they stand
//! for. The model's scan, the search index and the site all read this one text, so no shortcode
//! is ever shown raw or indexed as words, and positions map back to the file
//! ([`Prepared::original_column`]).

mod admonition;
mod lines;
pub(crate) mod shortcode;

use admonition::{Frame, FrameSyntax, colon_closer, colon_opener, mkdocs_opener};
use lines::{LineOut, Piece, Segment};
use shortcode::{Args, Tag};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

pub(crate) use admonition::{Admonition, normal_kind};

/// Values a `{{< param NAME >}}` may read: the page's front matter first, then the site's
/// `params` (Hugo looks them up case-insensitively, as here).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params<'a> {
    pub page: &'a BTreeMap<String, serde_json::Value>,
    pub site: &'a serde_json::Value,
    /// The folder is a Hugo site (its config was found): shortcodes in code are filled in too.
    pub hugo: bool,
    /// The `cascade` of the sections holding the page, nearest first (Hugo's inherited params).
    pub cascade: &'a [&'a serde_json::Value],
}

/// A problem with the docs-site syntax, at a place in the file: a warning of `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// The Markdown as the site generator means it (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// `None` when that is the file as written.
    pub text: Option<String>,
    pub admonitions: Vec<Admonition>,
    /// Byte ranges in the text of link destinations written by `ref` / `relref` shortcodes.
    pub ref_dests: Vec<Range<usize>>,
    pub notes: Vec<Note>,
    /// Lines whose columns moved: how they map back to the file.
    columns: HashMap<usize, Vec<Segment>>,
}

impl Prepared {
    /// The text to walk: the prepared one, or the file's own.
    pub fn text<'a>(&'a self, source: &'a str) -> &'a str {
        self.text.as_deref().unwrap_or(source)
    }

    /// The column in the file of `column` on `line` of the prepared text (lines never move).
    pub fn original_column(&self, line: usize, column: usize) -> usize {
        match self.columns.get(&line) {
            Some(segments) => lines::map_column(segments, column),
            None => column,
        }
    }

    /// Whether the link destination at byte `offset` of the text came from a `ref` shortcode.
    pub fn is_ref_dest(&self, range: &Range<usize>) -> bool {
        self.ref_dests.iter().any(|r| r.start >= range.start && r.end <= range.end)
    }

    /// The admonition whose block quote starts on `line`.
    pub fn admonition_at(&self, line: usize) -> Option<&Admonition> {
        self.admonitions.iter().find(|a| a.line == line)
    }
}

/// Prepares `text`, whose body (after any front matter) starts at byte `body_start`. With
/// `blank_front`, the front matter's lines are emptied: front matter the Markdown parser would
/// not recognize itself (empty, or starting with a blank line) must not show as text.
pub(crate) fn prepare(text: &str, body_start: usize, blank_front: bool, params: Params<'_>) -> Prepared {
    let body = &text[body_start..];
    let has_syntax = body.contains("{{<")
        || body.contains("{{%")
        || body.contains(":::")
        || body.contains("!!!")
        || body.contains("???");
    if !has_syntax && !blank_front {
        return Prepared::default();
    }
    let code = code_ranges(text, body_start);
    // In code, a shortcode is usually an example of one: only a Hugo site's `param` (as Hugo
    // fills it in, `git clone -b {{< param tag >}}`) and escaped tags are read there.
    let tags: Vec<Tag> = shortcode::tags(text, body_start, &code.steps)
        .into_iter()
        .filter(|tag| {
            !code.contains(tag.range.start) || (params.hugo && (tag.escaped.is_some() || tag.name == "param"))
        })
        .collect();
    let steps = code.steps;
    let mut pass = Pass::new(text, body_start, blank_front, &steps, params);
    pass.plan(&tags);
    pass.run();
    pass.finish()
}

/// Where the code is: `yaml step` fences (the runbook's own syntax, never touched), and other
/// code — fenced blocks and inline code spans — as byte ranges.
#[derive(Debug, Default)]
struct Code {
    steps: Vec<Range<usize>>,
    other: Vec<Range<usize>>,
}

impl Code {
    fn contains(&self, offset: usize) -> bool {
        self.other.iter().any(|r| r.contains(&offset))
    }
}

fn code_ranges(text: &str, from: usize) -> Code {
    let mut code = Code::default();
    let mut fence: Option<(char, usize, usize, bool)> = None;
    let mut offset = from;
    for line in text[from..].split_inclusive('\n') {
        let trimmed = line.trim_start();
        match fence {
            None => match fence_open(trimmed) {
                Some((marker, length, info)) => {
                    fence = Some((marker, length, offset, crate::model::markdown::is_step_info(info)));
                }
                None => code.other.extend(code_spans(line).into_iter().map(|r| offset + r.start..offset + r.end)),
            },
            Some((marker, length, start, is_step)) => {
                if fence_closes(trimmed, marker, length) {
                    let range = start..offset + line.len();
                    if is_step {
                        code.steps.push(range)
                    } else {
                        code.other.push(range)
                    }
                    fence = None;
                }
            }
        }
        offset += line.len();
    }
    if let Some((_, _, start, is_step)) = fence {
        if is_step { code.steps.push(start..text.len()) } else { code.other.push(start..text.len()) }
    }
    code
}

/// Inline code spans of one line: a run of backticks up to the next run of the same length.
fn code_spans(line: &str) -> Vec<Range<usize>> {
    let bytes = line.as_bytes();
    let run_at = |i: usize| bytes[i..].iter().take_while(|b| **b == b'`').count();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let open = run_at(i);
        let mut j = i + open;
        let mut closed = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let run = run_at(j);
                if run == open {
                    closed = Some(j + run);
                    break;
                }
                j += run;
            } else {
                j += 1;
            }
        }
        match closed {
            Some(end) => {
                out.push(i..end);
                i = end;
            }
            None => i += open,
        }
    }
    out
}

/// An opening code fence: its character, length and info string.
pub(super) fn fence_open(trimmed: &str) -> Option<(char, usize, &str)> {
    let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let length = trimmed.chars().take_while(|c| *c == marker).count();
    let info = trimmed[length..].trim();
    (length >= 3 && !(marker == '`' && info.contains('`'))).then_some((marker, length, info))
}

pub(super) fn fence_closes(trimmed: &str, marker: char, length: usize) -> bool {
    let run = trimmed.chars().take_while(|c| *c == marker).count();
    run >= length && trimmed[run..].trim().is_empty()
}

/// What a shortcode tag becomes.
#[derive(Debug, Clone)]
enum Action {
    /// Replaced by this text.
    Text(String),
    /// A cross-reference: replaced by the link destination.
    Ref(String),
    /// Opens an admonition box (the tag starts its line and is closed later).
    Open { kind: String, title: String },
    /// Closes the box its partner opened.
    Close,
}

/// The state of one preparation.
struct Pass<'a> {
    text: &'a str,
    body_start: usize,
    blank_front: bool,
    steps: &'a [Range<usize>],
    params: Params<'a>,
    /// Tags by start offset, with what each becomes.
    actions: Vec<(Range<usize>, Action)>,
    /// Shortcodes not understood: name → (first line, column, uses).
    unsupported: BTreeMap<String, (usize, usize, usize)>,
    out: Vec<LineOut>,
    frames: Vec<Frame>,
    fence: Option<(char, usize, usize)>,
    /// Blank lines inside an mkdocs box, which belong to it only if more of it follows.
    pending_blanks: Vec<usize>,
    admonitions: Vec<Admonition>,
    notes: Vec<Note>,
}

impl<'a> Pass<'a> {
    fn new(text: &'a str, body_start: usize, blank_front: bool, steps: &'a [Range<usize>], params: Params<'a>) -> Self {
        Pass {
            text,
            body_start,
            blank_front,
            steps,
            params,
            actions: Vec::new(),
            unsupported: BTreeMap::new(),
            out: Vec::new(),
            frames: Vec::new(),
            fence: None,
            pending_blanks: Vec::new(),
            admonitions: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        (line, self.text[line_start..offset].chars().count() + 1)
    }

    fn starts_line(&self, offset: usize) -> bool {
        let line_start = self.text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
        self.text[line_start..offset].trim().is_empty()
    }

    fn ends_line(&self, offset: usize) -> bool {
        let rest = &self.text[offset..];
        rest[..rest.find('\n').unwrap_or(rest.len())].trim().is_empty()
    }

    /// Decides what every tag becomes.
    fn plan(&mut self, tags: &[Tag]) {
        let partners = shortcode::pair(tags);
        let mut actions: Vec<Option<Action>> = vec![None; tags.len()];
        for (i, tag) in tags.iter().enumerate() {
            if actions[i].is_some() {
                continue;
            }
            if let Some(text) = &tag.escaped {
                actions[i] = Some(Action::Text(text.clone()));
                continue;
            }
            let partner = partners[i];
            let (own, closing) = self.action(tag, partner.map(|p| &tags[p]));
            actions[i] = Some(own);
            if let (Some(p), Some(closing)) = (partner, closing) {
                actions[p] = Some(closing);
            }
        }
        self.actions = tags
            .iter()
            .zip(actions)
            .map(|(tag, action)| (tag.range.clone(), action.unwrap_or(Action::Text(String::new()))))
            .collect();
    }

    /// What `tag` becomes, and (for an opening tag) what its closing tag becomes.
    fn action(&mut self, tag: &Tag, closer: Option<&Tag>) -> (Action, Option<Action>) {
        let name = tag.name.to_lowercase();
        let boxed =
            closer.is_some_and(|c| !tag.closing && self.starts_line(tag.range.start) && self.ends_line(c.range.end));
        if boxed && let Some((kind, title)) = admonition::of_shortcode(&name, &tag.args) {
            return (Action::Open { kind, title }, Some(Action::Close));
        }
        match name.as_str() {
            "ref" | "relref" if !tag.closing => {
                let dest = tag.args.named_or("path", 0).unwrap_or_default();
                (Action::Ref(encode_dest(dest)), None)
            }
            "param" if !tag.closing => (Action::Text(self.param(tag)), None),
            "figure" if !tag.closing => (Action::Text(figure(&tag.args)), None),
            "highlight" | "code" if closer.is_some() && !tag.closing => {
                let fenced = closer.is_some_and(|c| {
                    self.starts_line(tag.range.start)
                        && self.ends_line(tag.range.end)
                        && self.starts_line(c.range.start)
                        && self.ends_line(c.range.end)
                });
                if fenced {
                    let lang = tag.args.named_or("lang", 0).unwrap_or_default();
                    (Action::Text(format!("```{lang}")), Some(Action::Text("```".into())))
                } else {
                    (Action::Text(String::new()), Some(Action::Text(String::new())))
                }
            }
            // Our own table of contents is on every page.
            "toc" => (Action::Text(String::new()), None),
            _ => {
                self.unsupported_use(tag);
                (Action::Text(String::new()), Some(Action::Text(String::new())))
            }
        }
    }

    fn unsupported_use(&mut self, tag: &Tag) {
        let (line, column) = self.position(tag.range.start);
        self.unsupported.entry(tag.name.clone()).or_insert((line, column, 0)).2 += 1;
    }

    /// The value of `{{< param NAME >}}`, or nothing (with a note) when it is not set.
    fn param(&mut self, tag: &Tag) -> String {
        let name = tag.args.named_or("name", 0).unwrap_or_default();
        let page = lookup_ci(self.params.page, name).or_else(|| {
            let nested = self.params.page.iter().find(|(k, _)| k.eq_ignore_ascii_case("params")).map(|(_, v)| v);
            nested.and_then(|params| lookup_value(params, name))
        });
        let cascaded = || {
            self.params.cascade.iter().find_map(|cascade| {
                lookup_value(cascade, name).or_else(|| cascade.get("params").and_then(|p| lookup_value(p, name)))
            })
        };
        match page.or_else(cascaded).or_else(|| lookup_value(self.params.site, name)) {
            Some(value) => scalar_text(value),
            None => {
                let (line, column) = self.position(tag.range.start);
                self.notes.push(Note {
                    line,
                    column,
                    message: format!("`{{{{< param {name} >}}}}`: `{name}` is not set"),
                    hint: Some(
                        "set it in the page's front matter, a section's `cascade`, or under `params` in the site's Hugo config (hugo.toml, config.toml, config.yaml)"
                            .into(),
                    ),
                });
                String::new()
            }
        }
    }

    /// Walks the file line by line.
    fn run(&mut self) {
        let text = self.text;
        let mut offset = 0;
        let mut action = 0;
        for (index, raw) in text.split_inclusive('\n').enumerate() {
            let content_len = raw.trim_end_matches(['\n', '\r']).len();
            let range = offset..offset + content_len;
            let ending = &raw[content_len..];
            let line = index + 1;
            let mut out = LineOut::new(range.start, ending);
            if range.start < self.body_start {
                if !self.blank_front {
                    out.copy(range.clone());
                }
                self.out.push(out);
            } else if self.steps.iter().any(|s| s.contains(&range.start)) {
                let pieces = vec![Piece::copy(range.clone())];
                self.content_line(line, pieces, out);
            } else {
                let (pieces, events) = self.apply_tags(range.clone(), &mut action);
                self.structured_line(line, pieces, events, out);
            }
            offset += raw.len();
        }
        // Blank lines at the end of an mkdocs box are not in it.
        self.resolve_blanks(false);
    }

    /// The line's text with its tags replaced, and the box openings and closings on it (with
    /// the number of pieces before each). A tag spanning lines is replaced on its first line;
    /// the lines after hold nothing of it.
    fn apply_tags(&mut self, range: Range<usize>, next_action: &mut usize) -> (Vec<Piece>, Vec<(usize, Action)>) {
        let mut pieces = Vec::new();
        let mut events = Vec::new();
        let mut at = range.start;
        while let Some((tag, action)) = self.actions.get(*next_action) {
            if tag.start >= range.end {
                break;
            }
            if tag.start > at {
                pieces.push(Piece::copy(at..tag.start));
            }
            if tag.start >= range.start {
                match action {
                    Action::Text(text) => pieces.push(Piece::insert(text.clone(), tag.start)),
                    Action::Ref(dest) => pieces.push(Piece::reference(dest.clone(), tag.start)),
                    Action::Open { .. } | Action::Close => events.push((pieces.len(), action.clone())),
                }
            }
            at = at.max(tag.end.min(range.end));
            if tag.end > range.end {
                break;
            }
            *next_action += 1;
        }
        if at < range.end {
            pieces.push(Piece::copy(at..range.end));
        }
        (pieces, events)
    }

    /// A line outside code: boxes open and close here, or it is content.
    fn structured_line(&mut self, line: usize, pieces: Vec<Piece>, events: Vec<(usize, Action)>, out: LineOut) {
        let plain = lines::plain(self.text, &pieces);
        let blank = plain.trim().is_empty() && events.is_empty();
        if !blank {
            let indent = lines::indent_width(&plain);
            self.close_dedented(indent);
        }
        if self.fence.is_some() {
            self.content_line(line, pieces, out);
            return;
        }
        if let Some((at, Action::Open { kind, title })) = events.first().cloned() {
            let closes_here = events.iter().any(|(_, a)| matches!(a, Action::Close));
            let after: Vec<Piece> = pieces[at..].to_vec();
            self.open(line, FrameSyntax::Shortcode, lines::indent_width(&plain), kind, title);
            if lines::plain(self.text, &after).trim().is_empty() {
                self.marker_line(out);
            } else {
                self.content_line(line, after, out);
            }
            if closes_here {
                self.close_top();
            }
            return;
        }
        if let Some((at, Action::Close)) = events.first().cloned() {
            let before: Vec<Piece> = pieces[..at].to_vec();
            if lines::plain(self.text, &before).trim().is_empty() {
                self.close_top();
                self.blank_line(out);
            } else {
                self.content_line(line, before, out);
                self.close_top();
            }
            return;
        }
        if let Some(colons) = colon_closer(&plain)
            && let Some(at) = self.frames.iter().rposition(|f| f.syntax == FrameSyntax::Colons(colons))
        {
            self.frames.truncate(at);
            self.blank_line(out);
            return;
        }
        let opener = colon_opener(&plain)
            .map(|(colons, kind, title)| (FrameSyntax::Colons(colons), kind, title))
            .or_else(|| mkdocs_opener(&plain).map(|(kind, title)| (FrameSyntax::Indented, kind, title)));
        if let Some((syntax, kind, title)) = opener {
            self.open(line, syntax, lines::indent_width(&plain), kind, title);
            self.marker_line(out);
            return;
        }
        if blank && self.frames.last().is_some_and(|f| f.syntax == FrameSyntax::Indented) {
            self.pending_blanks.push(self.out.len());
            self.out.push(out);
            return;
        }
        self.resolve_blanks(true);
        self.content_line(line, pieces, out);
    }

    /// Closes the mkdocs boxes a line indented by `indent` is no longer part of.
    fn close_dedented(&mut self, indent: usize) {
        let mut closed = false;
        while let Some(frame) = self.frames.last() {
            if frame.syntax != FrameSyntax::Indented || indent >= frame.content_indent {
                break;
            }
            closed = true;
            self.frames.pop();
        }
        if closed && self.fence.is_some_and(|(_, _, depth)| depth > self.frames.len()) {
            self.fence = None;
        }
        self.resolve_blanks(!closed);
    }

    /// Gives the blank lines held back their prefix: the box's when more of it follows.
    fn resolve_blanks(&mut self, inside: bool) {
        let prefix = if inside { self.prefix(self.frames.len()) } else { String::new() };
        let prefix = prefix.trim_end().to_string();
        for index in std::mem::take(&mut self.pending_blanks) {
            self.out[index].prefix(&prefix);
        }
    }

    fn open(&mut self, line: usize, syntax: FrameSyntax, indent: usize, kind: String, title: String) {
        self.resolve_blanks(true);
        let content_indent = if syntax == FrameSyntax::Indented { indent + 4 } else { indent };
        self.frames.push(Frame { syntax, indent, content_indent });
        self.admonitions.push(Admonition { line, kind, title });
    }

    fn close_top(&mut self) {
        self.frames.pop();
        if self.fence.is_some_and(|(_, _, depth)| depth > self.frames.len()) {
            self.fence = None;
        }
    }

    /// `  > > ` for two boxes opened at column 3.
    fn prefix(&self, depth: usize) -> String {
        let base = self.frames.first().map(|f| f.indent).unwrap_or(0);
        format!("{}{}", " ".repeat(base), "> ".repeat(depth))
    }

    /// The line that opens a box: a block quote's first line.
    fn marker_line(&mut self, mut out: LineOut) {
        let prefix = self.prefix(self.frames.len() - 1);
        out.prefix(&format!("{prefix}>"));
        self.out.push(out);
    }

    fn blank_line(&mut self, mut out: LineOut) {
        out.prefix(self.prefix(self.frames.len()).trim_end());
        self.out.push(out);
    }

    /// A line of content in the current boxes (or none), tracking code fences.
    fn content_line(&mut self, _line: usize, pieces: Vec<Piece>, mut out: LineOut) {
        let strip = self.frames.last().map(|f| f.content_indent).unwrap_or(0);
        let pieces = if self.frames.is_empty() { pieces } else { lines::strip_indent(self.text, pieces, strip) };
        let plain = lines::plain(self.text, &pieces);
        let trimmed = plain.trim_start();
        match self.fence {
            Some((marker, length, _)) => {
                if fence_closes(trimmed, marker, length) {
                    self.fence = None;
                }
            }
            None => {
                if let Some((marker, length, _)) = fence_open(trimmed) {
                    self.fence = Some((marker, length, self.frames.len()));
                }
            }
        }
        if !self.frames.is_empty() {
            let prefix = self.prefix(self.frames.len());
            let prefix = if plain.trim().is_empty() { prefix.trim_end().to_string() } else { prefix };
            out.prefix(&prefix);
        }
        for piece in pieces {
            out.push(piece);
        }
        self.out.push(out);
    }

    fn finish(mut self) -> Prepared {
        for (name, (line, column, uses)) in std::mem::take(&mut self.unsupported) {
            let times = if uses == 1 { "once".to_string() } else { format!("{uses} times") };
            self.notes.push(Note {
                line,
                column,
                message: format!("shortcode `{name}` is not supported: its tags are left out, its content is kept"),
                hint: Some(format!("used {times} in this file; runbook renders ref, relref, figure, param, highlight and admonition shortcodes (alert, hint, note, warning, …)")),
            });
        }
        self.notes.sort_by_key(|n| (n.line, n.column));
        let mut text = String::with_capacity(self.text.len() + 64);
        let mut columns = HashMap::new();
        let mut ref_dests = Vec::new();
        for (index, line) in self.out.iter().enumerate() {
            let (segments, changed) = line.write(self.text, &mut text, &mut ref_dests);
            if changed {
                columns.insert(index + 1, segments);
            }
        }
        Prepared { text: Some(text), admonitions: self.admonitions, ref_dests, notes: self.notes, columns }
    }
}

/// A `ref` path as a link destination (spaces escaped, so that the link parses).
fn encode_dest(dest: &str) -> String {
    dest.trim().replace(' ', "%20")
}

/// `{{< figure >}}` as the image and its caption. Markdown, not an HTML block, so that the
/// caption is text of the page (searchable, and Markdown as Hugo renders it); the spans are
/// inline HTML, which starts no HTML block.
fn figure(args: &Args) -> String {
    let src = args.named_or("src", 0).unwrap_or_default();
    let alt = args.get("alt").or(args.get("title")).unwrap_or_default();
    let caption: Vec<&str> = [args.get("title"), args.get("caption")]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let mut out =
        format!("<span class=\"figure\">![{}](<{}>)", escape_brackets(alt), src.replace(['<', '>', '\n'], ""));
    if !caption.is_empty() {
        out.push_str(&format!("<span class=\"figure-caption\">{}</span>", caption.join(" — ").replace('\n', " ")));
    }
    out.push_str("</span>");
    out
}

fn escape_brackets(text: &str) -> String {
    text.replace('\\', "\\\\").replace('[', "\\[").replace(']', "\\]").replace('\n', " ")
}

/// A front-matter key, case-insensitively, then dotted into its tables.
fn lookup_ci<'v>(map: &'v BTreeMap<String, serde_json::Value>, path: &str) -> Option<&'v serde_json::Value> {
    let (first, rest) = path.split_once('.').unwrap_or((path, ""));
    let value = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(first)).map(|(_, v)| v)?;
    if rest.is_empty() { Some(value) } else { lookup_value(value, rest) }
}

fn lookup_value<'v>(value: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    path.split('.').try_fold(value, |value, part| {
        value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(part)).map(|(_, v)| v)
    })
}

fn scalar_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;

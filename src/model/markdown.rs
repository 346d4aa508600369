//! What the whole tool agrees on about Markdown: the parser's extensions, step fences, positions
//! in the file, and the pieces [`super::outline`] finds (headings, links, YAML fragments).
//! Front matter is split off before, by [`super::front_matter::split`].

use super::front_matter::Format;
use super::outline::Fence;
use pulldown_cmark::Options;
use std::ops::Range;

/// The Markdown extensions the whole tool agrees on (parser, search and site).
pub(crate) fn options() -> Options {
    Options::ENABLE_YAML_STYLE_METADATA_BLOCKS
        | Options::ENABLE_PLUSES_DELIMITED_METADATA_BLOCKS
        | Options::ENABLE_GFM
        | Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// True for the info string of a step fence: `yaml step` (extra spaces allowed).
pub(crate) fn is_step_info(info: &str) -> bool {
    let mut words = info.split_whitespace();
    words.next() == Some("yaml") && words.next() == Some("step") && words.next().is_none()
}

/// True for the info string of a diagnosis fence: `yaml diagnosis` (DESIGN §4).
pub(crate) fn is_diagnosis_info(info: &str) -> bool {
    let mut words = info.split_whitespace();
    words.next() == Some("yaml") && words.next() == Some("diagnosis") && words.next().is_none()
}

/// Byte offsets → 1-based line and column (in characters).
#[derive(Debug)]
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }

    pub(crate) fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.line(offset);
        let start = self.starts[line - 1];
        let column = text.get(start..offset).map(|s| s.chars().count()).unwrap_or(0) + 1;
        (line, column)
    }
}

/// A YAML fragment inside the file: front matter or a step fence.
#[derive(Debug)]
pub(crate) struct Fragment {
    pub text: String,
    /// Line of the fragment's first content line in the file.
    pub first_line: usize,
    /// Columns the fragment's lines are shifted right by (fence inside a list item).
    pub indent: usize,
    /// YAML, except TOML front matter.
    pub format: Format,
}

#[derive(Debug)]
pub(crate) struct StepFence {
    pub yaml: Fragment,
    /// Line of the opening fence.
    pub fence_line: usize,
    pub closed: bool,
    /// Index into `headings` of the H1–H3 section holding the fence.
    pub section: Option<usize>,
}

impl StepFence {
    /// The step fence `fence` of an outline, as YAML to read.
    pub(crate) fn of(fence: &Fence) -> StepFence {
        StepFence {
            yaml: Fragment {
                text: fence.content.clone(),
                first_line: fence.line + 1,
                indent: fence.indent,
                format: Format::Yaml,
            },
            fence_line: fence.line,
            closed: fence.closed,
            section: fence.section,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Heading {
    pub level: u8,
    pub text: String,
    pub anchor: String,
    pub line: usize,
    pub offset: usize,
}

#[derive(Debug, Clone)]
pub struct RawLink {
    pub dest: String,
    /// Byte range of the whole link in the text.
    pub range: Range<usize>,
    pub line: usize,
    pub column: usize,
}

/// Collects `id="…"` and `name="…"` attribute values from a fragment of HTML.
pub(crate) fn html_anchors(html: &str, out: &mut Vec<String>) {
    for attribute in ["id=", "name="] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            let preceded_by_space = rest[..at].ends_with(|c: char| c.is_whitespace());
            rest = &rest[at + attribute.len()..];
            let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            if let Some(end) = rest[1..].find(quote) {
                if preceded_by_space {
                    out.push(rest[1..1 + end].to_string());
                }
                rest = &rest[1 + end..];
            }
        }
    }
}

/// A fenced block is closed when its last line is a fence at least as long as the opening one.
pub(crate) fn fence_is_closed(block: &str) -> bool {
    // A fence in a block quote (an admonition) has its `>` marks on every line.
    let bare = |line: &str| line.trim_start_matches(|c: char| c == '>' || c.is_whitespace()).to_string();
    let mut block_lines = block.trim_end_matches(['\n', '\r']).lines();
    let opening = bare(block_lines.next().unwrap_or_default());
    let Some(marker) = opening.chars().next() else {
        return false;
    };
    let length = opening.chars().take_while(|&c| c == marker).count();
    match block_lines.last() {
        Some(last) => {
            let last = bare(last);
            let last = last.trim();
            last.len() >= length && last.chars().all(|c| c == marker)
        }
        None => false,
    }
}

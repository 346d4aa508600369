//! One pass over a runbook's Markdown (as prepared by [`super::docs_syntax`]): step fences,
//! headings, links and the first paragraph, each with its position in the file. Everything else
//! about Markdown is the site's job. Front matter is split off before, by
//! [`super::front_matter::split`].

use super::front_matter::Format;
use super::slug::{AnchorSet, heading_anchor};
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};
use std::ops::Range;

/// The Markdown extensions the whole tool agrees on (parser, search and site).
pub fn options() -> Options {
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
pub fn is_step_info(info: &str) -> bool {
    let mut words = info.split_whitespace();
    words.next() == Some("yaml") && words.next() == Some("step") && words.next().is_none()
}

/// True for the info string of a diagnosis fence: `yaml diagnosis` (DESIGN §4).
pub fn is_diagnosis_info(info: &str) -> bool {
    let mut words = info.split_whitespace();
    words.next() == Some("yaml") && words.next() == Some("diagnosis") && words.next().is_none()
}

/// What a fenced block is to the runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FenceKind {
    Step,
    Diagnosis,
    Code,
}

impl FenceKind {
    fn of(info: &str) -> FenceKind {
        if is_step_info(info) {
            FenceKind::Step
        } else if is_diagnosis_info(info) {
            FenceKind::Diagnosis
        } else {
            FenceKind::Code
        }
    }
}

/// Byte offsets → 1-based line and column (in characters).
#[derive(Debug)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }

    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.line(offset);
        let start = self.starts[line - 1];
        let column = text.get(start..offset).map(|s| s.chars().count()).unwrap_or(0) + 1;
        (line, column)
    }

    /// The text of 1-based `line`, without its line ending.
    pub fn line_text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let Some(&start) = self.starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self.starts.get(line).copied().unwrap_or(text.len());
        text[start..end].trim_end_matches(['\n', '\r'])
    }
}

/// A YAML fragment inside the file: front matter or a step fence.
#[derive(Debug)]
pub struct Fragment {
    pub text: String,
    /// Line of the fragment's first content line in the file.
    pub first_line: usize,
    /// Columns the fragment's lines are shifted right by (fence inside a list item).
    pub indent: usize,
    /// YAML, except TOML front matter.
    pub format: Format,
}

#[derive(Debug)]
pub struct StepFence {
    pub yaml: Fragment,
    /// Line of the opening fence.
    pub fence_line: usize,
    pub closed: bool,
    /// Index into `headings` of the H1–H3 section holding the fence.
    pub section: Option<usize>,
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

#[derive(Debug, Default)]
pub struct Scan {
    pub steps: Vec<StepFence>,
    /// `yaml diagnosis` fences, in document order.
    pub diagnoses: Vec<StepFence>,
    pub headings: Vec<Heading>,
    pub links: Vec<RawLink>,
    /// `id`/`name` attributes of raw HTML, which links may target too.
    pub html_anchors: Vec<String>,
    pub first_paragraph: Option<String>,
    /// Lines of ordinary fences that run to the end of the file.
    pub unclosed_fences: Vec<usize>,
}

/// Scans `text` (BOM already removed).
pub fn scan(text: &str, lines: &LineIndex) -> Scan {
    let mut out = Scan::default();
    let mut anchors = AnchorSet::default();
    let mut heading: Option<(u8, Option<String>, usize, String)> = None;
    let mut fence: Option<(Range<usize>, FenceKind, String)> = None;
    let mut in_front_matter = false;
    let mut paragraph: Option<String> = None;
    let mut section: Option<usize> = None;

    for (event, range) in Parser::new_ext(text, options()).into_offset_iter() {
        match event {
            Event::Start(Tag::MetadataBlock(_)) => in_front_matter = true,
            Event::End(TagEnd::MetadataBlock(_)) => in_front_matter = false,
            Event::Start(Tag::Heading { level, id, .. }) => {
                heading = Some((heading_level(level), id.map(|s| s.to_string()), range.start, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, id, offset, text)) = heading.take() {
                    let text = text.trim().to_string();
                    let anchor = anchors.unique(id.unwrap_or_else(|| heading_anchor(&text)));
                    if level <= 3 {
                        section = Some(out.headings.len());
                    }
                    out.headings.push(Heading { level, text, anchor, line: lines.line(offset), offset });
                }
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                fence = Some((range, FenceKind::of(&info), String::new()));
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((range, kind, content)) = fence.take() {
                    finish_fence(text, lines, range, kind, content, section, &mut out);
                }
            }
            Event::Start(Tag::Paragraph) if out.first_paragraph.is_none() && heading.is_none() => {
                paragraph = Some(String::new());
            }
            Event::End(TagEnd::Paragraph) => {
                if let Some(p) = paragraph.take() {
                    let p = p.split_whitespace().collect::<Vec<_>>().join(" ");
                    if !p.is_empty() {
                        out.first_paragraph = Some(p);
                    }
                }
            }
            // Autolinks and e-mail links are never cross-references.
            Event::Start(Tag::Link { link_type, dest_url, .. })
                if !matches!(link_type, LinkType::Autolink | LinkType::Email) =>
            {
                let (line, column) = lines.line_col(text, range.start);
                out.links.push(RawLink { dest: dest_url.to_string(), range: range.clone(), line, column });
            }
            Event::Text(t) | Event::Code(t) if !in_front_matter => {
                if let Some((_, _, content)) = fence.as_mut() {
                    content.push_str(&t);
                } else if let Some((_, _, _, h)) = heading.as_mut() {
                    h.push_str(&t);
                } else if let Some(p) = paragraph.as_mut() {
                    p.push_str(&t);
                }
            }
            Event::Html(html) | Event::InlineHtml(html) => html_anchors(&html, &mut out.html_anchors),
            Event::SoftBreak | Event::HardBreak => {
                if let Some(p) = paragraph.as_mut() {
                    p.push(' ');
                }
            }
            _ => {}
        }
    }
    out
}

/// Collects `id="…"` and `name="…"` attribute values from a fragment of HTML.
fn html_anchors(html: &str, out: &mut Vec<String>) {
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

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

fn finish_fence(
    text: &str,
    lines: &LineIndex,
    range: Range<usize>,
    kind: FenceKind,
    content: String,
    section: Option<usize>,
    out: &mut Scan,
) {
    let block = &text[range.clone()];
    let fence_line = lines.line(range.start);
    // Column of the opening fence: content lines of a fence in a list item or quote are
    // shifted right by the same amount.
    let indent = lines.line_col(text, range.start).1 - 1;
    let closed = fence_is_closed(block);
    let yaml = Fragment { text: content, first_line: fence_line + 1, indent, format: Format::Yaml };
    let fence = StepFence { yaml, fence_line, closed, section };
    match kind {
        FenceKind::Step => out.steps.push(fence),
        FenceKind::Diagnosis => out.diagnoses.push(fence),
        FenceKind::Code if !closed => out.unclosed_fences.push(fence_line),
        FenceKind::Code => {}
    }
}

/// A fenced block is closed when its last line is a fence at least as long as the opening one.
fn fence_is_closed(block: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_text(text: &str) -> Scan {
        scan(text, &LineIndex::new(text))
    }

    #[test]
    fn finds_front_matter_steps_headings_links() {
        let text = "---\nid: x\n---\n\n# Title\n\nFirst *para*\ngraph.\n\n## Check it\n\nSee [a](a.md#b).\n\n```yaml step\nrun: true\n```\n";
        let scan = scan_text(text);
        assert_eq!(scan.headings.len(), 2);
        assert_eq!(scan.headings[1].anchor, "check-it");
        assert_eq!(scan.headings[1].line, 10);
        assert_eq!(scan.first_paragraph.as_deref(), Some("First para graph."));
        assert_eq!(scan.links[0].dest, "a.md#b");
        assert_eq!((scan.links[0].line, scan.links[0].column), (12, 5));
        assert_eq!(scan.steps.len(), 1);
        assert_eq!(scan.steps[0].fence_line, 14);
        assert_eq!(scan.steps[0].yaml.first_line, 15);
        assert!(scan.steps[0].closed);
        assert_eq!(scan.steps[0].section, Some(1));
    }

    #[test]
    fn html_anchors_are_found() {
        let scan = scan_text("# T\n\n<a name=\"float\"></a>\n\nText <span id='x1'>here</span>, not data-id=\"no\".\n");
        assert_eq!(scan.html_anchors, vec!["float", "x1"]);
    }

    #[test]
    fn unclosed_fences() {
        let scan = scan_text("# T\n\n```yaml step\nrun: true\n");
        assert!(!scan.steps[0].closed);
        let scan = scan_text("# T\n\n```sh\necho\n");
        assert_eq!(scan.unclosed_fences, vec![3]);
        let scan = scan_text("# T\n\n````yaml step\nrun: |\n  ```\n");
        assert!(!scan.steps[0].closed);
    }

    #[test]
    fn fences_in_block_quotes_close() {
        let scan = scan_text("# T\n\n> ```sh\n> echo\n> ```\n\n> > ~~~\n> > x\n> > ~~~\n");
        assert!(scan.unclosed_fences.is_empty(), "{:?}", scan.unclosed_fences);
    }

    #[test]
    fn crlf_and_indented_fences() {
        let text = "# T\r\n\r\n- item\r\n\r\n  ```yaml step\r\n  run: true\r\n  ```\r\n";
        let scan = scan_text(text);
        assert_eq!(scan.steps[0].yaml.indent, 2);
        assert!(scan.steps[0].closed);
        assert_eq!(scan.steps[0].yaml.text.trim_end(), "run: true");
    }
}

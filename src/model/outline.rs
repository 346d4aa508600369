//! The outline of one Markdown text, from one pass of the parser: headings with their anchors,
//! sections (the text before the first heading, then one per H1–H3 heading) with their byte
//! ranges, code fences (step fences among them), code spans, links and the text of each section.
//! The model reads steps, headings and links from it; search and the site read the sections'
//! text; the renderer takes its anchors and step fences from it, so they cannot disagree.
//!
//! It is built over the prepared text ([`super::docs_syntax`]): lines as in the file.

use super::markdown::{
    Heading, LineIndex, RawLink, fence_is_closed, html_anchors, is_diagnosis_info, is_step_info, options,
};
use super::slug::{AnchorSet, heading_anchor};
use pulldown_cmark::{CodeBlockKind, Event, LinkType, Parser, Tag, TagEnd};
use std::ops::Range;

#[derive(Debug, Default)]
pub struct Outline {
    /// Every heading, in order, with an anchor unique in the text.
    pub headings: Vec<Heading>,
    /// The text before the first H1–H3 heading (always there, maybe empty), then one per H1–H3
    /// heading; together they cover the whole text.
    pub sections: Vec<Section>,
    /// Every code block, fenced or indented, in order.
    pub fences: Vec<Fence>,
    /// Links that may be cross-references (not autolinks or e-mail links).
    pub links: Vec<RawLink>,
    /// `id`/`name` attributes of raw HTML, which links may target too.
    pub html_anchors: Vec<String>,
    /// The first paragraph outside headings, whitespace folded.
    pub first_paragraph: Option<String>,
    pieces: Vec<Piece>,
    /// The text of the prose, code-span and heading pieces, one after the other.
    words: String,
}

#[derive(Debug, Clone)]
pub struct Section {
    /// Index into [`Outline::headings`] of the H1–H3 heading that opens it; `None` for the text
    /// before the first one.
    pub heading: Option<usize>,
    /// Bytes of the text it covers, its heading included.
    pub range: Range<usize>,
    pieces: Range<usize>,
}

#[derive(Debug, Clone)]
pub struct Fence {
    /// Bytes of the whole block, fences included.
    pub range: Range<usize>,
    /// 1-based line of the opening fence (of the first line, for indented code).
    pub line: usize,
    /// 0-based column of the opening fence: content lines are shifted right by as much.
    pub indent: usize,
    /// The info string; `None` for indented code.
    pub info: Option<String>,
    /// A `yaml step` fence.
    pub step: bool,
    /// The content as the parser reads it (without the fences).
    pub content: String,
    /// Whether a closing fence ends it (indented code always is).
    pub closed: bool,
    /// Index into [`Outline::headings`] of the H1–H3 heading above it.
    pub section: Option<usize>,
    /// Index into [`Outline::headings`] of the nearest heading above it, of any level.
    pub heading: Option<usize>,
    /// The text of the innermost list item holding it that has text before the block (plain
    /// docs name a step after it), as written.
    pub item: Option<String>,
}

impl Fence {
    pub fn is_diagnosis(&self) -> bool {
        self.info.as_deref().is_some_and(is_diagnosis_info)
    }
}

/// A piece of a section's text, in document order.
#[derive(Debug, Clone, Copy)]
pub enum Text<'a> {
    /// Prose; word boundaries (line breaks, ends of paragraphs, list items and table cells)
    /// come as spaces.
    Prose(&'a str),
    /// The text of an inline code span.
    CodeSpan(&'a str),
    /// The text of an H4–H6 heading, which stays in its section.
    MinorHeading(&'a str),
    /// A code block.
    Fence(&'a Fence),
    /// The end of a block with no boundary in its text (a table row, a quote, a list, an HTML
    /// block, a footnote).
    BlockEnd,
}

#[derive(Debug, Clone)]
enum Piece {
    Prose(Range<usize>),
    CodeSpan(Range<usize>),
    MinorHeading(usize),
    Fence(usize),
    BlockEnd,
}

impl Outline {
    /// Outlines `text` (BOM already removed).
    pub fn new(text: &str) -> Outline {
        let mut walk = Walk::new(text);
        for (event, range) in Parser::new_ext(text, options()).into_offset_iter() {
            walk.event(event, range);
        }
        walk.finish()
    }

    /// The pieces of `section`'s text, in order.
    pub fn text<'a>(&'a self, section: &Section) -> impl Iterator<Item = Text<'a>> + 'a {
        self.pieces[section.pieces.clone()].iter().map(|piece| match piece {
            Piece::Prose(range) => Text::Prose(&self.words[range.clone()]),
            Piece::CodeSpan(range) => Text::CodeSpan(&self.words[range.clone()]),
            Piece::MinorHeading(index) => Text::MinorHeading(&self.headings[*index].text),
            Piece::Fence(index) => Text::Fence(&self.fences[*index]),
            Piece::BlockEnd => Text::BlockEnd,
        })
    }

    /// The heading that opens `section` (`None` for the text before the first one).
    pub fn heading_of(&self, section: &Section) -> Option<&Heading> {
        section.heading.map(|index| &self.headings[index])
    }

    /// The `yaml step` fences, in order.
    pub fn step_fences(&self) -> impl Iterator<Item = &Fence> {
        self.fences.iter().filter(|fence| fence.step)
    }

    /// The `yaml diagnosis` fences, in document order (DESIGN §4).
    pub fn diagnosis_fences(&self) -> impl Iterator<Item = &Fence> {
        self.fences.iter().filter(|fence| fence.is_diagnosis())
    }

    /// Lines of the other fences that run to the end of the text (step and diagnosis fences
    /// have their own error).
    pub fn unclosed_fences(&self) -> impl Iterator<Item = usize> + '_ {
        self.fences.iter().filter(|fence| !fence.step && !fence.is_diagnosis() && !fence.closed).map(|fence| fence.line)
    }
}

/// A heading being read: level, explicit id, offset and text so far.
struct OpenHeading {
    level: u8,
    id: Option<String>,
    offset: usize,
    text: String,
}

/// A list item being read: its text until its first nested list or block.
struct OpenItem {
    text: String,
    open: bool,
}

/// The state of the one pass.
struct Walk<'t> {
    text: &'t str,
    lines: LineIndex,
    out: Outline,
    anchors: AnchorSet,
    heading: Option<OpenHeading>,
    fence: Option<Fence>,
    paragraph: Option<String>,
    in_metadata: bool,
    /// Index of the H1–H3 heading of the current section.
    section: Option<usize>,
    /// The list items the parser is inside, outermost first.
    items: Vec<OpenItem>,
}

impl<'t> Walk<'t> {
    fn new(text: &'t str) -> Self {
        let mut out = Outline::default();
        out.sections.push(Section { heading: None, range: 0..text.len(), pieces: 0..0 });
        Walk {
            text,
            lines: LineIndex::new(text),
            out,
            anchors: AnchorSet::default(),
            heading: None,
            fence: None,
            paragraph: None,
            in_metadata: false,
            section: None,
            items: Vec::new(),
        }
    }

    fn event(&mut self, event: Event<'_>, range: Range<usize>) {
        match event {
            Event::Start(Tag::MetadataBlock(_)) => self.in_metadata = true,
            Event::End(TagEnd::MetadataBlock(_)) => self.in_metadata = false,
            Event::Start(Tag::Heading { level, id, .. }) => {
                let id = id.map(|id| id.to_string());
                self.heading = Some(OpenHeading { level: level as u8, id, offset: range.start, text: String::new() });
            }
            Event::End(TagEnd::Heading(_)) => self.end_heading(),
            Event::Start(Tag::CodeBlock(kind)) => self.start_fence(kind, range),
            Event::End(TagEnd::CodeBlock) => self.end_fence(),
            Event::Start(Tag::Paragraph) if self.out.first_paragraph.is_none() && self.heading.is_none() => {
                self.paragraph = Some(String::new());
            }
            Event::End(TagEnd::Paragraph) => {
                self.end_paragraph();
                self.prose(" ");
            }
            // Autolinks and e-mail links are never cross-references.
            Event::Start(Tag::Link { link_type, dest_url, .. })
                if !matches!(link_type, LinkType::Autolink | LinkType::Email) =>
            {
                let (line, column) = self.lines.line_col(self.text, range.start);
                self.out.links.push(RawLink { dest: dest_url.to_string(), range, line, column });
            }
            Event::Text(text) if !self.in_metadata => self.text(&text, false),
            Event::Code(code) => self.text(&code, true),
            Event::Html(html) | Event::InlineHtml(html) => html_anchors(&html, &mut self.out.html_anchors),
            Event::SoftBreak | Event::HardBreak => self.line_break(),
            Event::Start(Tag::Item) => self.items.push(OpenItem { text: String::new(), open: true }),
            Event::Start(Tag::List(_)) => self.close_items(),
            Event::End(TagEnd::Item) => {
                self.items.pop();
                self.prose(" ");
            }
            Event::End(TagEnd::TableCell) => self.prose(" "),
            Event::End(
                TagEnd::TableRow
                | TagEnd::TableHead
                | TagEnd::BlockQuote(_)
                | TagEnd::List(_)
                | TagEnd::HtmlBlock
                | TagEnd::FootnoteDefinition,
            ) => self.out.pieces.push(Piece::BlockEnd),
            _ => {}
        }
    }

    /// Text or a code span: into the open fence, heading or paragraph, and the section's text.
    fn text(&mut self, text: &str, code_span: bool) {
        if let Some(fence) = self.fence.as_mut() {
            fence.content.push_str(text);
            return;
        }
        if let Some(heading) = self.heading.as_mut() {
            heading.text.push_str(text);
            return;
        }
        if let Some(paragraph) = self.paragraph.as_mut() {
            paragraph.push_str(text);
        }
        if let Some(item) = self.open_item() {
            item.text.push_str(text);
        }
        if code_span {
            let start = self.out.words.len();
            self.out.words.push_str(text);
            self.out.pieces.push(Piece::CodeSpan(start..self.out.words.len()));
        } else {
            self.prose(text);
        }
    }

    /// A soft or hard line break: a space between words wherever text is being gathered.
    fn line_break(&mut self) {
        if let Some(heading) = self.heading.as_mut() {
            heading.text.push(' ');
            return;
        }
        if let Some(paragraph) = self.paragraph.as_mut() {
            paragraph.push(' ');
        }
        if let Some(item) = self.open_item() {
            item.text.push(' ');
        }
        self.prose(" ");
    }

    /// The innermost list item still gathering its text.
    fn open_item(&mut self) -> Option<&mut OpenItem> {
        self.items.last_mut().filter(|item| item.open)
    }

    /// A nested list or block ends the text that names the items around it.
    fn close_items(&mut self) {
        for item in &mut self.items {
            item.open = false;
        }
    }

    /// Appends prose to the section's text, joining it to prose just before.
    fn prose(&mut self, text: &str) {
        let start = self.out.words.len();
        self.out.words.push_str(text);
        let end = self.out.words.len();
        let in_section = self.out.pieces.len() > self.out.sections.last().map_or(0, |s| s.pieces.start);
        match self.out.pieces.last_mut() {
            Some(Piece::Prose(range)) if range.end == start && in_section => {
                range.end = end;
            }
            _ => self.out.pieces.push(Piece::Prose(start..end)),
        }
    }

    fn end_heading(&mut self) {
        let Some(open) = self.heading.take() else { return };
        // The anchor is made from the text as written (as GitHub and the renderer make it); the
        // text itself is shown and matched with its whitespace folded.
        let anchor = self.anchors.unique(open.id.unwrap_or_else(|| heading_anchor(open.text.trim())));
        let text = open.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let index = self.out.headings.len();
        let line = self.lines.line(open.offset);
        self.out.headings.push(Heading { level: open.level, text, anchor, line, offset: open.offset });
        if open.level <= 3 {
            self.section = Some(index);
            self.open_section(index, open.offset);
        } else {
            self.out.pieces.push(Piece::MinorHeading(index));
        }
    }

    /// Ends the current section where the heading at `offset` starts, and opens its section.
    fn open_section(&mut self, heading: usize, offset: usize) {
        let pieces = self.out.pieces.len();
        if let Some(current) = self.out.sections.last_mut() {
            current.range.end = offset;
            current.pieces.end = pieces;
        }
        self.out.sections.push(Section {
            heading: Some(heading),
            range: offset..self.text.len(),
            pieces: pieces..pieces,
        });
    }

    fn start_fence(&mut self, kind: CodeBlockKind<'_>, range: Range<usize>) {
        let info = match kind {
            CodeBlockKind::Fenced(info) => Some(info.to_string()),
            CodeBlockKind::Indented => None,
        };
        let closed = info.is_none() || fence_is_closed(&self.text[range.clone()]);
        self.close_items();
        let item = self.items.iter().rev().map(|item| &item.text).find(|text| !text.trim().is_empty()).cloned();
        self.fence = Some(Fence {
            line: self.lines.line(range.start),
            indent: self.lines.line_col(self.text, range.start).1 - 1,
            step: info.as_deref().is_some_and(is_step_info),
            info,
            content: String::new(),
            closed,
            section: self.section,
            heading: self.out.headings.len().checked_sub(1),
            item,
            range,
        });
    }

    fn end_fence(&mut self) {
        let Some(fence) = self.fence.take() else { return };
        self.out.pieces.push(Piece::Fence(self.out.fences.len()));
        self.out.fences.push(fence);
    }

    fn end_paragraph(&mut self) {
        let Some(paragraph) = self.paragraph.take() else { return };
        let paragraph = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
        if !paragraph.is_empty() {
            self.out.first_paragraph = Some(paragraph);
        }
    }

    fn finish(mut self) -> Outline {
        let pieces = self.out.pieces.len();
        if let Some(last) = self.out.sections.last_mut() {
            last.pieces.end = pieces;
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::markdown::StepFence;

    fn section_text(outline: &Outline, section: &Section) -> String {
        let mut out = String::new();
        for piece in outline.text(section) {
            match piece {
                Text::Prose(t) | Text::CodeSpan(t) => out.push_str(t),
                Text::MinorHeading(t) => out.push_str(&format!("<{t}>")),
                Text::Fence(f) => out.push_str(&format!("[{}]", f.content.trim_end())),
                Text::BlockEnd => out.push('|'),
            }
        }
        out
    }

    #[test]
    fn sections_cover_the_text_and_hold_their_pieces() {
        let text = "---\nid: x\n---\n\nIntro *text*.\n\n# Title\n\nOne `code`.\n\n## Check\n\n```yaml step\nrun: true\n```\n\n#### Deep\n\n- a\n- b\n";
        let outline = Outline::new(text);
        let s = &outline.sections;
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].range.start, 0);
        assert_eq!(s[0].range.end, s[1].range.start);
        assert_eq!(s[1].range.end, s[2].range.start);
        assert_eq!(s[2].range.end, text.len());
        assert_eq!(&text[s[1].range.clone()], "# Title\n\nOne `code`.\n\n");
        assert_eq!(section_text(&outline, &s[0]), "Intro text. ");
        assert_eq!(section_text(&outline, &s[1]), "One code. ");
        assert_eq!(section_text(&outline, &s[2]), "[run: true]<Deep>a b |");
        assert_eq!(outline.heading_of(&s[2]).map(|h| h.anchor.as_str()), Some("check"));
        let steps: Vec<&Fence> = outline.step_fences().collect();
        assert_eq!((steps.len(), steps[0].line, steps[0].section), (1, 13, Some(1)));
        assert_eq!(outline.first_paragraph.as_deref(), Some("Intro text."));
    }

    #[test]
    fn fences_fenced_and_indented() {
        let text = "# T\n\n    indented\n\n```sh\necho\n";
        let outline = Outline::new(text);
        let f = &outline.fences;
        assert_eq!((f[0].info.as_deref(), f[0].closed, f[0].line), (None, true, 3));
        assert_eq!((f[1].info.as_deref(), f[1].closed, f[1].line), (Some("sh"), false, 5));
        assert_eq!(f[0].content, "indented\n");
    }

    #[test]
    fn finds_front_matter_steps_headings_links() {
        let text = "---\nid: x\n---\n\n# Title\n\nFirst *para*\ngraph.\n\n## Check it\n\nSee [a](a.md#b).\n\n```yaml step\nrun: true\n```\n";
        let outline = Outline::new(text);
        assert_eq!(outline.headings.len(), 2);
        assert_eq!(outline.headings[1].anchor, "check-it");
        assert_eq!(outline.headings[1].line, 10);
        assert_eq!(outline.first_paragraph.as_deref(), Some("First para graph."));
        assert_eq!(outline.links[0].dest, "a.md#b");
        assert_eq!((outline.links[0].line, outline.links[0].column), (12, 5));
        let steps: Vec<StepFence> = outline.step_fences().map(StepFence::of).collect();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].fence_line, 14);
        assert_eq!(steps[0].yaml.first_line, 15);
        assert!(steps[0].closed);
        assert_eq!(steps[0].section, Some(1));
    }

    #[test]
    fn fences_know_their_heading_and_list_item() {
        let text = "# Alert\n\n#### Deep\n\n1. Find the\n   `node`:\n\n   ```sh\n   ls\n   ```\n\n```sh\nid\n```\n";
        let outline = Outline::new(text);
        let f = &outline.fences;
        assert_eq!((f[0].section, f[0].heading), (Some(0), Some(1)));
        assert_eq!(f[0].item.as_deref(), Some("Find the node:"));
        assert_eq!(f[1].item, None, "a block after the list belongs to no item");
    }

    #[test]
    fn heading_text_folds_whitespace_but_anchors_keep_it() {
        let outline = Outline::new("Two\nlines\n===\n\n## a  b\n");
        assert_eq!(outline.headings[0].text, "Two lines");
        assert_eq!((outline.headings[1].text.as_str(), outline.headings[1].anchor.as_str()), ("a b", "a--b"));
    }

    #[test]
    fn html_anchors_are_found() {
        let outline =
            Outline::new("# T\n\n<a name=\"float\"></a>\n\nText <span id='x1'>here</span>, not data-id=\"no\".\n");
        assert_eq!(outline.html_anchors, vec!["float", "x1"]);
    }

    #[test]
    fn unclosed_fences() {
        let outline = Outline::new("# T\n\n```yaml step\nrun: true\n");
        assert!(!outline.fences[0].closed);
        assert_eq!(outline.unclosed_fences().count(), 0, "a step fence has its own error");
        let outline = Outline::new("# T\n\n```sh\necho\n");
        assert_eq!(outline.unclosed_fences().collect::<Vec<_>>(), vec![3]);
        let outline = Outline::new("# T\n\n````yaml step\nrun: |\n  ```\n");
        assert!(!outline.fences[0].closed);
    }

    #[test]
    fn fences_in_block_quotes_close() {
        let outline = Outline::new("# T\n\n> ```sh\n> echo\n> ```\n\n> > ~~~\n> > x\n> > ~~~\n");
        assert_eq!(outline.unclosed_fences().count(), 0, "{:?}", outline.fences);
    }

    #[test]
    fn crlf_and_indented_fences() {
        let text = "# T\r\n\r\n- item\r\n\r\n  ```yaml step\r\n  run: true\r\n  ```\r\n";
        let step = StepFence::of(&Outline::new(text).fences[0]);
        assert_eq!(step.yaml.indent, 2);
        assert!(step.closed);
        assert_eq!(step.yaml.text.trim_end(), "run: true");
    }
}

//! The code blocks of a doc, each with what names it: the heading it sits under (and that
//! heading's parents), its ordinal there, and the text of the list item holding it.

use super::super::markdown::{LineIndex, options};
use super::super::slug::{AnchorSet, heading_anchor};
use super::transcript::Lang;
use crate::util::text::hex;
use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct Heading {
    pub level: u8,
    pub text: String,
    pub anchor: String,
    pub line: usize,
    /// Indices of the headings above it (H2 → its H1, H3 → its H2 and H1).
    pub parents: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Block {
    /// The fence's info string (empty for indented code).
    pub info: String,
    /// `None` for a language that never holds commands (`yaml`, `promql`, …).
    pub lang: Option<Lang>,
    /// The content, with the indentation common to its lines removed.
    pub content: String,
    /// SHA-256 of the content as written, hex.
    pub sha256: String,
    /// 1-based line of the opening fence (of the first line, for indented code).
    pub fence_line: usize,
    /// 1-based line of the first content line.
    pub first_line: usize,
    /// 1-based column of the content's (dedented) first character.
    pub column: usize,
    /// The heading it sits under (index into [`Doc::headings`]).
    pub heading: Option<usize>,
    /// 1-based among the code blocks under that heading.
    pub ordinal: usize,
    /// The text of the list item holding it, up to the block.
    pub item: Option<String>,
    /// Bytes of the whole block in the doc, fences included.
    pub range: std::ops::Range<usize>,
    /// Column (0-based) of the opening fence: a list item's indentation.
    pub fence_indent: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Doc {
    pub headings: Vec<Heading>,
    pub blocks: Vec<Block>,
}

impl Doc {
    /// The heading `block` sits under and every heading above it, nearest first.
    pub fn heading_path(&self, block: &Block) -> Vec<&Heading> {
        let Some(index) = block.heading else { return Vec::new() };
        let heading = &self.headings[index];
        let mut path = vec![heading];
        path.extend(heading.parents.iter().rev().map(|&i| &self.headings[i]));
        path
    }
}

/// A list item being read: its text until its first nested block.
struct Item {
    text: String,
    open: bool,
}

pub fn extract(text: &str) -> Doc {
    let lines = LineIndex::new(text);
    let mut doc = Doc::default();
    let mut anchors = AnchorSet::default();
    let mut stack: Vec<usize> = Vec::new();
    let mut heading: Option<(u8, Option<String>, usize, String)> = None;
    let mut items: Vec<Item> = Vec::new();
    let mut code: Option<(String, usize, usize, String)> = None;
    let mut ordinals: std::collections::HashMap<Option<usize>, usize> = std::collections::HashMap::new();
    for (event, range) in Parser::new_ext(text, options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, id, .. }) => {
                heading = Some((level as u8, id.map(|s| s.to_string()), range.start, String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, id, offset, text)) = heading.take() {
                    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    let anchor = anchors.unique(id.unwrap_or_else(|| heading_anchor(&text)));
                    while stack.last().is_some_and(|&i| doc.headings[i].level >= level) {
                        stack.pop();
                    }
                    doc.headings.push(Heading {
                        level,
                        text,
                        anchor,
                        line: lines.line(offset),
                        parents: stack.clone(),
                    });
                    stack.push(doc.headings.len() - 1);
                }
            }
            Event::Start(Tag::Item) => items.push(Item { text: String::new(), open: true }),
            Event::End(TagEnd::Item) => {
                items.pop();
            }
            Event::Start(Tag::List(_)) => close_items(&mut items),
            Event::Start(Tag::CodeBlock(kind)) => {
                close_items(&mut items);
                let (info, fence_line, first_line) = match &kind {
                    CodeBlockKind::Fenced(info) => {
                        let line = lines.line(range.start);
                        (info.to_string(), line, line + 1)
                    }
                    CodeBlockKind::Indented => {
                        let line = lines.line(range.start);
                        (String::new(), line, line)
                    }
                };
                code = Some((info, fence_line, first_line, String::new()));
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(open) = code.take() {
                    let section = stack.last().copied();
                    let ordinal = ordinals.entry(section).or_default();
                    *ordinal += 1;
                    let item = items.iter().rev().find(|i| !i.text.trim().is_empty()).map(|i| clean(&i.text));
                    let indent = lines.line_col(text, range.start).1 - 1;
                    doc.blocks.push(block(open, range, indent, section, *ordinal, item));
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, _, _, content)) = code.as_mut() {
                    content.push_str(&t);
                } else if let Some((_, _, _, h)) = heading.as_mut() {
                    h.push_str(&t);
                } else if let Some(item) = items.last_mut().filter(|i| i.open) {
                    item.text.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(item) = items.last_mut().filter(|i| i.open) {
                    item.text.push(' ');
                }
            }
            _ => {}
        }
    }
    doc
}

/// A finished code block: (info, fence line, first line, content) and where it sits.
fn block(
    (info, fence_line, first_line, content): (String, usize, usize, String),
    range: std::ops::Range<usize>,
    indent: usize,
    heading: Option<usize>,
    ordinal: usize,
    item: Option<String>,
) -> Block {
    let (dedented, dedent) = dedent(&content);
    Block {
        lang: Lang::of_info(&info),
        info,
        sha256: hex(&Sha256::digest(content.as_bytes())),
        content: dedented,
        fence_line,
        first_line,
        column: indent + dedent + 1,
        heading,
        ordinal,
        item,
        range,
        fence_indent: indent,
    }
}

/// A nested list or block ends the text that names the items around it.
fn close_items(items: &mut [Item]) {
    for item in items.iter_mut() {
        item.open = false;
    }
}

/// One line of item text: whitespace folded, cut at about 80 characters on a word, without the
/// trailing colon that introduces the block.
fn clean(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = text.trim_end_matches([':', ' ', ',']).to_string();
    if text.chars().count() <= 80 {
        return text;
    }
    let cut: String = text.chars().take(80).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > 40 => &cut[..space],
        _ => &cut,
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', '.', ' ']))
}

/// Removes the indentation common to the non-blank lines; returns it with the text.
fn dedent(text: &str) -> (String, usize) {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    if indent == 0 {
        return (text.to_string(), 0);
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let leading = line.len() - line.trim_start_matches([' ', '\t']).len();
        out.push_str(&line[leading.min(indent)..]);
    }
    (out, indent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_with_headings_ordinals_and_items() {
        let text = "# Alert\n\n## Diagnosis\n\nCheck:\n\n```bash\noc get pods\n```\n\n1. Find the node:\n\n   ```console\n   $ oc get nodes\n   ```\n\n### Deeper\n\n```sh\nls\n```\n\n## Mitigation\n\n```yaml\nkind: x\n```\n";
        let doc = extract(text);
        assert_eq!(doc.headings.len(), 4);
        assert_eq!(doc.headings[2].parents, [0, 1]);
        let b = &doc.blocks;
        assert_eq!(b.len(), 4);
        assert_eq!((b[0].ordinal, b[1].ordinal, b[2].ordinal, b[3].ordinal), (1, 2, 1, 1));
        assert_eq!(b[0].heading, Some(1));
        assert_eq!(b[0].fence_line, 7);
        assert_eq!(b[0].first_line, 8);
        assert_eq!(b[1].item.as_deref(), Some("Find the node"));
        assert_eq!(b[1].content, "$ oc get nodes\n");
        assert_eq!(b[1].column, 4);
        assert_eq!(b[1].lang, Some(Lang::Console));
        assert_eq!(b[3].lang, None);
        let path: Vec<&str> = doc.heading_path(&b[2]).iter().map(|h| h.text.as_str()).collect();
        assert_eq!(path, ["Deeper", "Diagnosis", "Alert"]);
    }

    #[test]
    fn content_is_dedented() {
        let doc = extract("```bash\n    oc get cm x -ojson\n      | jq .\n```\n");
        assert_eq!(doc.blocks[0].content, "oc get cm x -ojson\n  | jq .\n");
        assert_eq!(doc.blocks[0].column, 5);
    }

    #[test]
    fn long_item_text_is_cut() {
        let long = format!("- {}:\n\n  ```sh\n  ls\n  ```\n", "word ".repeat(40));
        let doc = extract(&long);
        let item = doc.blocks[0].item.as_deref().unwrap();
        assert!(item.ends_with('…') && item.chars().count() <= 81, "{item}");
    }
}

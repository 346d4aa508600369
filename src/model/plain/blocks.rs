//! The code blocks of a doc, each with what names it: the heading it sits under (and that
//! heading's parents), its ordinal there, and the text of the list item holding it. Read from
//! the file's outline ([`super::super::outline`]), so plain steps, anchors and the renderer see
//! the same headings and blocks.

use super::super::markdown::Heading as OutlineHeading;
use super::super::outline::{Fence, Outline};
use super::transcript::Lang;
use crate::util::text::hex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub(crate) struct Heading {
    pub level: u8,
    pub text: String,
    pub anchor: String,
    /// Indices of the headings above it (H2 → its H1, H3 → its H2 and H1).
    pub parents: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct Block {
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
pub(crate) struct Doc {
    pub headings: Vec<Heading>,
    pub blocks: Vec<Block>,
}

impl Doc {
    /// The heading `block` sits under and every heading above it, nearest first.
    pub(crate) fn heading_path(&self, block: &Block) -> Vec<&Heading> {
        let Some(index) = block.heading else { return Vec::new() };
        let heading = &self.headings[index];
        let mut path = vec![heading];
        path.extend(heading.parents.iter().rev().map(|&i| &self.headings[i]));
        path
    }
}

/// The blocks of `text`, read from its outline (the one walk over the Markdown).
pub(crate) fn extract(text: &str) -> Doc {
    from_outline(&Outline::new(text))
}

/// The plain-doc view of an outline: headings with their parents, blocks with their ordinal
/// under the nearest heading and the list item that introduces them.
pub(crate) fn from_outline(outline: &Outline) -> Doc {
    let headings = with_parents(&outline.headings);
    let mut ordinals: HashMap<Option<usize>, usize> = HashMap::new();
    let blocks = outline
        .fences
        .iter()
        .map(|fence| {
            let ordinal = ordinals.entry(fence.heading).or_default();
            *ordinal += 1;
            block(fence, *ordinal)
        })
        .collect();
    Doc { headings, blocks }
}

/// The outline's headings, each with the indices of the headings above it.
fn with_parents(headings: &[OutlineHeading]) -> Vec<Heading> {
    let mut stack: Vec<usize> = Vec::new();
    let mut out = Vec::with_capacity(headings.len());
    for heading in headings {
        while stack.last().is_some_and(|&i| headings[i].level >= heading.level) {
            stack.pop();
        }
        out.push(Heading {
            level: heading.level,
            text: heading.text.clone(),
            anchor: heading.anchor.clone(),
            parents: stack.clone(),
        });
        stack.push(out.len() - 1);
    }
    out
}

/// A fence of the outline as a plain block.
fn block(fence: &Fence, ordinal: usize) -> Block {
    let info = fence.info.clone().unwrap_or_default();
    let fence_line = fence.line;
    let first_line = if fence.info.is_some() { fence_line + 1 } else { fence_line };
    let (dedented, dedent) = dedent(&fence.content);
    Block {
        lang: Lang::of_info(&info),
        info,
        sha256: hex(&Sha256::digest(fence.content.as_bytes())),
        content: dedented,
        fence_line,
        first_line,
        column: fence.indent + dedent + 1,
        heading: fence.heading,
        ordinal,
        item: fence.item.as_deref().map(clean),
        range: fence.range.clone(),
        fence_indent: fence.indent,
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

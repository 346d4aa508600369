//! A runbook's text cut at its H1–H3 headings, as plain text: what search looks through, with
//! the anchor and line each hit links to. Anchors are computed exactly as the model computes them.

use crate::model::markdown::{LineIndex, options};
use crate::model::slug::{AnchorSet, heading_anchor};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};

#[derive(Debug, Clone)]
pub struct Section {
    /// `""` for the text before the first heading.
    pub anchor: String,
    pub heading: String,
    pub level: u8,
    pub line: usize,
    /// Prose, code and step YAML, whitespace-separated.
    pub text: String,
}

/// Cuts `source` (front matter is skipped) into sections.
pub fn sections(source: &str) -> Vec<Section> {
    let lines = LineIndex::new(source);
    let mut out =
        vec![Section { anchor: String::new(), heading: String::new(), level: 0, line: 1, text: String::new() }];
    let mut anchors = AnchorSet::default();
    let mut heading: Option<(u8, Option<String>, usize, String)> = None;
    let mut in_metadata = false;
    for (event, range) in Parser::new_ext(source, options()).into_offset_iter() {
        match event {
            Event::Start(Tag::MetadataBlock(_)) => in_metadata = true,
            Event::End(TagEnd::MetadataBlock(_)) => in_metadata = false,
            Event::Start(Tag::Heading { level, id, .. }) => {
                heading = Some((level as u8, id.map(|i| i.to_string()), lines.line(range.start), String::new()));
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, id, line, text)) = heading.take() {
                    let text = text.trim().to_string();
                    let anchor = anchors.unique(id.unwrap_or_else(|| heading_anchor(&text)));
                    if level <= 3 {
                        out.push(Section { anchor, heading: text, level, line, text: String::new() });
                    } else if let Some(current) = out.last_mut() {
                        current.text.push(' ');
                        current.text.push_str(&text);
                        current.text.push(' ');
                    }
                }
            }
            Event::Text(t) | Event::Code(t) if !in_metadata => match heading.as_mut() {
                Some((_, _, _, h)) => h.push_str(&t),
                None => {
                    if let Some(current) = out.last_mut() {
                        current.text.push_str(&t);
                    }
                }
            },
            // Word boundaries that are not in the text itself.
            Event::SoftBreak
            | Event::HardBreak
            | Event::End(
                TagEnd::Paragraph
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::TableCell
                | TagEnd::TableRow
                | TagEnd::TableHead
                | TagEnd::BlockQuote(_)
                | TagEnd::List(_)
                | TagEnd::HtmlBlock
                | TagEnd::FootnoteDefinition,
            ) => match heading.as_mut() {
                Some((_, _, _, h)) => h.push(' '),
                None => {
                    if let Some(current) = out.last_mut() {
                        current.text.push(' ');
                    }
                }
            },
            _ => {}
        }
    }
    for section in &mut out {
        section.text = section.text.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    if out[0].text.is_empty() && out.len() > 1 {
        out.remove(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_h1_to_h3() {
        let text = "---\nid: x\n---\n\nIntro *text*.\n\n# Title\n\nOne.\n\n## Check\n\n```yaml step\nrun: nvidia-smi\n```\n\n#### Deep\n\nTwo.\n";
        let s = sections(text);
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[0].text, "Intro text.");
        assert_eq!((s[1].anchor.as_str(), s[1].line), ("title", 7));
        assert_eq!(s[2].anchor, "check");
        assert_eq!(s[2].text, "run: nvidia-smi Deep Two.");
    }
}

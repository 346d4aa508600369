//! A runbook's text cut at its H1–H3 headings, as plain text: what the static search looks
//! through, with the anchor each hit links to. The cut and the anchors are the
//! outline's, so they are the ones the model and the page have.

use crate::model::outline::{Outline, Section, Text};

#[derive(Debug, Clone)]
pub(crate) struct SearchSection {
    /// `""` for the text before the first heading.
    pub anchor: String,
    pub heading: String,
    /// Prose, code and step YAML, whitespace-separated.
    pub text: String,
}

/// The sections of `outline`; the text before the first heading only when it holds words.
pub(crate) fn sections(outline: &Outline) -> Vec<SearchSection> {
    let mut out: Vec<SearchSection> = outline.sections.iter().map(|section| section_text(outline, section)).collect();
    if out[0].text.is_empty() && out.len() > 1 {
        out.remove(0);
    }
    out
}

/// Everything in `section` as words: H4–H6 headings and code included.
fn section_text(outline: &Outline, section: &Section) -> SearchSection {
    let mut text = String::new();
    for piece in outline.text(section) {
        match piece {
            Text::Prose(words) | Text::CodeSpan(words) => text.push_str(words),
            Text::MinorHeading(heading) => {
                text.push(' ');
                text.push_str(heading);
                text.push(' ');
            }
            Text::Fence(fence) => {
                text.push_str(&fence.content);
                text.push(' ');
            }
            Text::BlockEnd => text.push(' '),
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match outline.heading_of(section) {
        Some(h) => SearchSection { anchor: h.anchor.clone(), heading: h.text.clone(), text },
        None => SearchSection { anchor: String::new(), heading: String::new(), text },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_h1_to_h3() {
        let text = "---\nid: x\n---\n\nIntro *text*.\n\n# Title\n\nOne.\n\n## Check\n\n```yaml step\nrun: nvidia-smi\n```\n\n#### Deep\n\nTwo.\n";
        let s = sections(&Outline::new(text));
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[0].text, "Intro text.");
        assert_eq!((s[1].anchor.as_str(), s[1].heading.as_str()), ("title", "Title"));
        assert_eq!(s[2].anchor, "check");
        assert_eq!(s[2].text, "run: nvidia-smi Deep Two.");
    }
}

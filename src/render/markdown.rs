//! Markdown → HTML for the site: the Markdown extensions the whole tool uses, heading anchors
//! identical to the model's (so cross-references resolve), step fences replaced by step cards,
//! relative `.md` links rewritten to page URLs, and raw HTML sanitized.

use super::sanitize;
use crate::model::docs_syntax::{Admonition, normal_kind};
use crate::model::markdown::{LineIndex, options};
use crate::model::outline::{Fence, Outline};
use pulldown_cmark::{BlockQuoteKind, CowStr, Event, HeadingLevel, Parser, Tag, TagEnd};
use std::ops::Range;

/// Marks where a step card goes. Private-use characters in the source are replaced before
/// parsing (by a character of the same UTF-8 length), so only the renderer can write one.
const SLOT: char = '\u{E000}';

/// What a link in the text points at, as the caller resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// Rewrite to this URL (a runbook page, with its anchor).
    Url(String),
    /// Leave the link as written (external, or a file that exists).
    Keep,
    /// A cross-reference to a runbook or anchor that does not exist.
    Broken,
}

/// A link that leads nowhere, for the build's warnings.
#[derive(Debug, Clone)]
pub(crate) struct BrokenLink {
    pub line: usize,
    pub dest: String,
}

#[derive(Debug, Default)]
pub(crate) struct Rendered {
    pub html: String,
    pub broken_links: Vec<BrokenLink>,
}

/// Renders `text` (prepared Markdown, whose block quotes starting on the lines of `admonitions`
/// are boxes) with the anchors and step fences of its `outline`. `resolve` decides what each
/// link points at; `card` renders the step card of a step fence (it must return safe HTML:
/// everything from the runbook escaped).
pub(crate) fn render(
    text: &str,
    outline: &Outline,
    admonitions: &[Admonition],
    resolve: &dyn Fn(&str) -> Resolved,
    card: &mut dyn FnMut(&Fence) -> String,
) -> Rendered {
    // The same length in UTF-8, so the outline's offsets still hold.
    let text = if text.contains(SLOT) { text.replace(SLOT, "\u{FFFD}") } else { text.to_string() };
    let mut html_out = Html {
        lines: LineIndex::new(&text),
        outline,
        admonitions,
        resolve,
        events: Vec::new(),
        cards: Vec::new(),
        broken_links: Vec::new(),
        headings: 0,
        fences: 0,
        anchor: None,
        step: None,
        raw_html: false,
        quotes: Vec::new(),
    };
    for (event, range) in Parser::new_ext(&text, options()).into_offset_iter() {
        html_out.event(event, range, card);
    }
    let Html { events, cards, broken_links, raw_html, .. } = html_out;
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    if raw_html {
        html = sanitize::clean(&html);
    }
    Rendered { html: fill_slots(&html, &cards), broken_links }
}

/// The HTML events of one page, as they are made.
struct Html<'o, 'e> {
    lines: LineIndex,
    outline: &'o Outline,
    admonitions: &'o [Admonition],
    resolve: &'o dyn Fn(&str) -> Resolved,
    events: Vec<Event<'e>>,
    cards: Vec<String>,
    broken_links: Vec<BrokenLink>,
    /// The outline's next heading and code block.
    headings: usize,
    fences: usize,
    /// The anchor of the open heading.
    anchor: Option<String>,
    /// The open step fence.
    step: Option<&'o Fence>,
    raw_html: bool,
    /// Per open block quote: whether it is a box, and of which element.
    quotes: Vec<Option<&'static str>>,
}

impl<'o, 'e> Html<'o, 'e> {
    fn event(&mut self, event: Event<'e>, range: Range<usize>, card: &mut dyn FnMut(&Fence) -> String) {
        if let Some(fence) = self.step {
            if let Event::End(TagEnd::CodeBlock) = event {
                let html = card(fence);
                self.events.push(Event::Html(CowStr::from(format!("{SLOT}{}{SLOT}", self.cards.len()))));
                self.cards.push(html);
                self.step = None;
            }
            return;
        }
        let event = match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let fence = self.outline.fences.get(self.fences);
                self.fences += 1;
                debug_assert_eq!(fence.map(|f| f.range.start), Some(range.start), "the outline is of this text");
                match fence.filter(|f| f.step) {
                    Some(step) => {
                        self.step = Some(step);
                        return;
                    }
                    None => Event::Start(Tag::CodeBlock(kind)),
                }
            }
            Event::Start(Tag::Heading { level, .. }) => self.open_heading(level),
            Event::End(TagEnd::Heading(level)) => {
                let anchor = self.anchor.take().unwrap_or_default();
                let link = format!(
                    " <a class=\"anchor\" href=\"#{}\" title=\"Link to this section\">#</a>",
                    escape_attr(&anchor)
                );
                self.events.push(Event::InlineHtml(CowStr::from(link)));
                Event::End(TagEnd::Heading(level))
            }
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                let dest_url = self.link(dest_url, range.start);
                Event::Start(Tag::Link { link_type, dest_url, title, id })
            }
            Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
                let dest_url = if sanitize::is_safe_url(&dest_url) { dest_url } else { CowStr::from("#") };
                Event::Start(Tag::Image { link_type, dest_url, title, id })
            }
            Event::Start(Tag::BlockQuote(kind)) => self.open_quote(kind, range.start),
            Event::End(TagEnd::BlockQuote(kind)) => match self.quotes.pop().flatten() {
                Some(element) => Event::Html(CowStr::from(format!("</{element}>\n"))),
                None => Event::End(TagEnd::BlockQuote(kind)),
            },
            Event::Html(html) => {
                self.raw_html = true;
                Event::Html(html)
            }
            Event::InlineHtml(html) => {
                self.raw_html = true;
                Event::InlineHtml(html)
            }
            other => other,
        };
        self.events.push(event);
    }

    /// A heading with the outline's anchor as its `id` (attributes and classes dropped).
    fn open_heading(&mut self, level: HeadingLevel) -> Event<'e> {
        let anchor = self.outline.headings.get(self.headings).map(|h| h.anchor.clone()).unwrap_or_default();
        self.headings += 1;
        self.anchor = Some(anchor.clone());
        Event::Start(Tag::Heading { level, id: Some(CowStr::from(anchor)), classes: Vec::new(), attrs: Vec::new() })
    }

    /// Where the link to `dest` at `offset` goes on the page.
    fn link(&mut self, dest: CowStr<'e>, offset: usize) -> CowStr<'e> {
        match (self.resolve)(&dest) {
            Resolved::Url(url) => CowStr::from(url),
            Resolved::Broken => {
                self.broken_links.push(BrokenLink { line: self.lines.line(offset), dest: dest.to_string() });
                dest
            }
            Resolved::Keep if sanitize::is_safe_url(&dest) => dest,
            Resolved::Keep => CowStr::from("#"),
        }
    }

    /// A block quote, or the box of an admonition or GitHub alert.
    fn open_quote(&mut self, kind: Option<BlockQuoteKind>, offset: usize) -> Event<'e> {
        let line = self.lines.line(offset);
        let boxed = self.admonitions.iter().find(|a| a.line == line).map(|a| (a.kind.clone(), a.title.clone()));
        match boxed.or_else(|| kind.map(github_alert)) {
            Some((kind, title)) => {
                let (open, element) = admonition_open(&kind, &title);
                self.quotes.push(Some(element));
                Event::Html(CowStr::from(open))
            }
            None => {
                self.quotes.push(None);
                Event::Start(Tag::BlockQuote(kind))
            }
        }
    }
}

/// A GitHub alert (`> [!WARNING]`) as a box: its kind and title.
fn github_alert(kind: BlockQuoteKind) -> (String, String) {
    let (kind, title) = match kind {
        BlockQuoteKind::Note => ("note", "Note"),
        BlockQuoteKind::Tip => ("tip", "Tip"),
        BlockQuoteKind::Important => ("important", "Important"),
        BlockQuoteKind::Warning => ("warning", "Warning"),
        BlockQuoteKind::Caution => ("danger", "Caution"),
    };
    (kind.to_string(), title.to_string())
}

/// The opening HTML of a box and the element that closes it: `<details>` for collapsible ones.
fn admonition_open(kind: &str, title: &str) -> (String, &'static str) {
    let kind = normal_kind(kind);
    let title = escape_attr(title);
    if kind == "details" {
        let open = format!(
            "<details class=\"admonition admonition-{kind}\"><summary class=\"admonition-title\">{title}</summary>\n"
        );
        return (open, "details");
    }
    let open = format!(
        "<aside class=\"admonition admonition-{kind}\" role=\"note\"><p class=\"admonition-title\">{title}</p>\n"
    );
    (open, "aside")
}

/// Replaces every slot marker by its step card.
fn fill_slots(html: &str, cards: &[String]) -> String {
    if cards.is_empty() {
        return html.to_string();
    }
    let mut out = String::with_capacity(html.len() + cards.iter().map(String::len).sum::<usize>());
    let mut rest = html;
    while let Some(start) = rest.find(SLOT) {
        out.push_str(&rest[..start]);
        let after = &rest[start + SLOT.len_utf8()..];
        let Some(end) = after.find(SLOT) else {
            rest = after;
            continue;
        };
        if let Some(card) = after[..end].parse::<usize>().ok().and_then(|n| cards.get(n)) {
            out.push_str(card);
        }
        rest = &after[end + SLOT.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// Escapes text for an HTML attribute or element.
pub(crate) fn escape_attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Rendered {
        let outline = Outline::new(text);
        render(text, &outline, &[], &|_| Resolved::Keep, &mut |fence| {
            format!("<div class=\"card\">{}</div>", fence.line)
        })
    }

    #[test]
    fn anchors_match_the_model() {
        let text = "# Title\n\n## Setup\n\n## Setup\n\n## Über `nvidia-smi` & co\n\n### Custom {#mine}\n\n## mine\n";
        let html = plain(text).html;
        let ids: Vec<&str> = html.split("id=\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
        let outline = Outline::new(text);
        let model: Vec<&str> = outline.headings.iter().map(|h| h.anchor.as_str()).collect();
        assert_eq!(ids, model);
        assert_eq!(ids, ["title", "setup", "setup-1", "über-nvidia-smi--co", "mine", "mine-1"], "{html}");
    }

    #[test]
    fn steps_become_cards_even_in_lists() {
        let text = "# T\n\n- item\n\n  ```yaml step\n  run: echo hi\n  ```\n\n```yaml step\nrun: ls\n```\n";
        let html = plain(text).html;
        assert!(html.contains("<div class=\"card\">5</div>"), "{html}");
        assert!(html.contains("<div class=\"card\">9</div>"), "{html}");
        assert!(!html.contains("run: ls"), "{html}");
    }

    #[test]
    fn raw_html_and_bad_urls_are_cleaned() {
        let text = "# T {onclick=alert(1)}\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) \u{E000}0\u{E000}\n\n<img src=x onerror=alert(1)>\n";
        let html = plain(text).html;
        assert!(!html.contains("<script") && !html.contains("onerror") && !html.contains("onclick"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains('\u{E000}'), "{html}");
    }

    #[test]
    fn links_are_rewritten_and_broken_ones_reported() {
        let text = "# T\n\n[a](a.md#x) [b](b.md) [c](https://example.invalid)\n";
        let rendered = render(
            text,
            &Outline::new(text),
            &[],
            &|dest| match dest {
                "a.md#x" => Resolved::Url("/runbooks/a/#x".into()),
                "b.md" => Resolved::Broken,
                _ => Resolved::Keep,
            },
            &mut |_| String::new(),
        );
        assert!(rendered.html.contains("href=\"/runbooks/a/#x\""), "{}", rendered.html);
        assert!(rendered.html.contains("href=\"https://example.invalid\""));
        assert_eq!(rendered.broken_links.len(), 1);
        assert_eq!(rendered.broken_links[0].line, 3);
    }

    #[test]
    fn tables_tasks_footnotes() {
        let text = "# T\n\n| a | b |\n|:-:|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\nNote[^1].\n\n[^1]: The note.\n";
        let html = plain(text).html;
        assert!(html.contains("<table>") && html.contains("checkbox") && html.contains("footnote"), "{html}");
    }
}

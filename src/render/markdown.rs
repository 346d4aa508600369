//! Markdown → HTML for the site: the Markdown extensions the whole tool uses, heading anchors
//! identical to the model's (so cross-references resolve), step fences replaced by step cards,
//! relative `.md` links rewritten to page URLs, and raw HTML sanitized.

use super::sanitize;
use crate::model::docs_syntax::{Admonition, normal_kind};
use crate::model::markdown::{LineIndex, is_step_info, options};
use crate::model::slug::{AnchorSet, heading_anchor};
use pulldown_cmark::{BlockQuoteKind, CodeBlockKind, CowStr, Event, HeadingLevel, Parser, Tag, TagEnd};

/// Marks where a step card goes. Private-use characters in the source are replaced before
/// parsing (by a character of the same UTF-8 length), so only the renderer can write one.
const SLOT: char = '\u{E000}';

/// What a link in the text points at, as the caller resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Rewrite to this URL (a runbook page, with its anchor).
    Url(String),
    /// Leave the link as written (external, or a file that exists).
    Keep,
    /// A cross-reference to a runbook or anchor that does not exist.
    Broken,
}

/// A step fence as it appears in the text.
#[derive(Debug)]
pub struct StepFence<'a> {
    /// Line of the opening fence in the file.
    pub line: usize,
    pub yaml: &'a str,
}

/// A heading of the rendered page, with the anchor its `id` got.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Heading {
    pub level: u8,
    pub text: String,
    pub anchor: String,
}

/// A link that leads nowhere, for the build's warnings.
#[derive(Debug, Clone)]
pub struct BrokenLink {
    pub line: usize,
    pub dest: String,
}

#[derive(Debug, Default)]
pub struct Rendered {
    pub html: String,
    pub headings: Vec<Heading>,
    pub broken_links: Vec<BrokenLink>,
}

/// Renders `text` (prepared Markdown, whose block quotes starting on the lines of `admonitions`
/// are boxes). `resolve` decides what each link points at; `card` renders the step card of a step
/// fence (it must return safe HTML: everything from the runbook escaped).
pub fn render(
    text: &str,
    admonitions: &[Admonition],
    resolve: &dyn Fn(&str) -> Resolved,
    card: &mut dyn FnMut(StepFence<'_>) -> String,
) -> Rendered {
    let text = if text.contains(SLOT) { text.replace(SLOT, "\u{FFFD}") } else { text.to_string() };
    let lines = LineIndex::new(&text);
    let mut out = Rendered::default();
    let mut events: Vec<Event> = Vec::new();
    let mut cards: Vec<String> = Vec::new();
    let mut anchors = AnchorSet::default();
    let mut heading: Option<PendingHeading<'_>> = None;
    let mut step: Option<(usize, String)> = None;
    let mut raw_html = false;
    // Per open block quote: whether it is a box, and of which element.
    let mut quotes: Vec<Option<&'static str>> = Vec::new();

    for (event, range) in Parser::new_ext(&text, options()).into_offset_iter() {
        if let Some((line, yaml)) = step.as_mut() {
            match event {
                Event::Text(t) => yaml.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let html = card(StepFence { line: *line, yaml });
                    events.push(Event::Html(CowStr::from(format!("{SLOT}{}{SLOT}", cards.len()))));
                    cards.push(html);
                    step = None;
                }
                _ => {}
            }
            continue;
        }
        let event = match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) if is_step_info(&info) => {
                step = Some((lines.line(range.start), String::new()));
                continue;
            }
            Event::Start(Tag::Heading { level, id, .. }) => {
                heading =
                    Some(PendingHeading { level, id: id.map(|i| i.to_string()), text: String::new(), events: vec![] });
                continue;
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(pending) = heading.take() {
                    let anchor = anchors.unique(pending.id.unwrap_or_else(|| heading_anchor(pending.text.trim())));
                    let level = pending.level;
                    events.push(Event::Start(Tag::Heading {
                        level,
                        id: Some(CowStr::from(anchor.clone())),
                        classes: Vec::new(),
                        attrs: Vec::new(),
                    }));
                    events.extend(pending.events);
                    let link = format!(
                        " <a class=\"anchor\" href=\"#{}\" title=\"Link to this section\">#</a>",
                        escape_attr(&anchor)
                    );
                    events.push(Event::InlineHtml(CowStr::from(link)));
                    events.push(Event::End(TagEnd::Heading(level)));
                    out.headings.push(Heading { level: level as u8, text: pending.text.trim().to_string(), anchor });
                }
                continue;
            }
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                let dest_url = match resolve(&dest_url) {
                    Resolved::Url(url) => CowStr::from(url),
                    Resolved::Broken => {
                        out.broken_links.push(BrokenLink { line: lines.line(range.start), dest: dest_url.to_string() });
                        dest_url
                    }
                    Resolved::Keep if sanitize::is_safe_url(&dest_url) => dest_url,
                    Resolved::Keep => CowStr::from("#"),
                };
                Event::Start(Tag::Link { link_type, dest_url, title, id })
            }
            Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
                let dest_url = if sanitize::is_safe_url(&dest_url) { dest_url } else { CowStr::from("#") };
                Event::Start(Tag::Image { link_type, dest_url, title, id })
            }
            Event::Start(Tag::BlockQuote(kind)) => {
                let line = lines.line(range.start);
                let boxed = admonitions.iter().find(|a| a.line == line).map(|a| (a.kind.clone(), a.title.clone()));
                match boxed.or_else(|| kind.map(github_alert)) {
                    Some((kind, title)) => {
                        let (open, element) = admonition_open(&kind, &title);
                        quotes.push(Some(element));
                        Event::Html(CowStr::from(open))
                    }
                    None => {
                        quotes.push(None);
                        Event::Start(Tag::BlockQuote(kind))
                    }
                }
            }
            Event::End(TagEnd::BlockQuote(kind)) => match quotes.pop().flatten() {
                Some(element) => Event::Html(CowStr::from(format!("</{element}>\n"))),
                None => Event::End(TagEnd::BlockQuote(kind)),
            },
            Event::Html(html) => {
                raw_html = true;
                Event::Html(html)
            }
            Event::InlineHtml(html) => {
                raw_html = true;
                Event::InlineHtml(html)
            }
            other => other,
        };
        match heading.as_mut() {
            Some(pending) => {
                if let Event::Text(t) | Event::Code(t) = &event {
                    pending.text.push_str(t);
                }
                pending.events.push(event);
            }
            None => events.push(event),
        }
    }
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    if raw_html {
        html = sanitize::clean(&html);
    }
    out.html = fill_slots(&html, &cards);
    out
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

struct PendingHeading<'a> {
    level: HeadingLevel,
    id: Option<String>,
    text: String,
    events: Vec<Event<'a>>,
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
pub fn escape_attr(text: &str) -> String {
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
    use crate::model::markdown::scan;

    fn plain(text: &str) -> Rendered {
        render(text, &[], &|_| Resolved::Keep, &mut |fence| format!("<div class=\"card\">{}</div>", fence.line))
    }

    #[test]
    fn anchors_match_the_model() {
        let text = "# Title\n\n## Setup\n\n## Setup\n\n## Über `nvidia-smi` & co\n\n### Custom {#mine}\n\n## mine\n";
        let model = scan(text, &LineIndex::new(text));
        let rendered = plain(text);
        let ours: Vec<&str> = rendered.headings.iter().map(|h| h.anchor.as_str()).collect();
        let theirs: Vec<&str> = model.headings.iter().map(|h| h.anchor.as_str()).collect();
        assert_eq!(ours, theirs);
        assert!(rendered.html.contains("<h2 id=\"setup-1\">"), "{}", rendered.html);
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

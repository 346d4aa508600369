//! Snippets: the best fragment of a hit with the matched words marked — `<mark>` in HTML and JSON
//! (everything else escaped), bold in the terminal.

use super::schema::Fields;
use tantivy::query::Query;
use tantivy::schema::{Field, Value};
use tantivy::snippet::{Snippet, SnippetGenerator};
use tantivy::{Searcher, TantivyDocument};

const SNIPPET_CHARS: usize = 180;

/// Snippet generators for one query, created on first use per field.
pub struct Snippets<'a> {
    searcher: &'a Searcher,
    query: &'a dyn Query,
    fields: [Field; 3],
    generators: [Option<Option<SnippetGenerator>>; 3],
    body: Field,
}

impl<'a> Snippets<'a> {
    pub fn new(searcher: &'a Searcher, query: &'a dyn Query, fields: &Fields) -> Snippets<'a> {
        Snippets {
            searcher,
            query,
            fields: [fields.body, fields.code, fields.heading],
            generators: [None, None, None],
            body: fields.body,
        }
    }

    /// The marked-up snippet of `doc`: from the prose, else the code, else the heading; a plain
    /// start of the prose when no field holds a matched word.
    pub fn for_doc(&mut self, doc: &TantivyDocument) -> String {
        for slot in 0..self.fields.len() {
            let generator = self.generators[slot].get_or_insert_with(|| {
                let mut generator = SnippetGenerator::create(self.searcher, self.query, self.fields[slot]).ok()?;
                generator.set_max_num_chars(SNIPPET_CHARS);
                Some(generator)
            });
            if let Some(generator) = generator {
                let snippet = generator.snippet_from_doc(doc);
                if !snippet.highlighted().is_empty() {
                    return marked(&snippet);
                }
            }
        }
        let body = doc.get_first(self.body).and_then(|v| v.as_str()).unwrap_or_default();
        let start: String = body.chars().take(SNIPPET_CHARS).collect();
        escape(start.trim())
    }
}

/// The fragment, HTML-escaped, with `<mark>` around highlighted ranges.
fn marked(snippet: &Snippet) -> String {
    let fragment = snippet.fragment();
    let mut out = String::with_capacity(fragment.len() + 32);
    let mut at = 0;
    for range in snippet.highlighted() {
        if range.start < at || range.end > fragment.len() {
            continue;
        }
        out.push_str(&escape(&fragment[at..range.start]));
        out.push_str("<mark>");
        out.push_str(&escape(&fragment[range.clone()]));
        out.push_str("</mark>");
        at = range.end;
    }
    out.push_str(&escape(&fragment[at..]));
    collapse_whitespace(&out)
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A snippet for the terminal: marks become `bold` (or `[…]` without colour), entities decoded.
pub fn for_terminal(snippet: &str, bold: (&str, &str)) -> String {
    snippet
        .replace("<mark>", bold.0)
        .replace("</mark>", bold.1)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

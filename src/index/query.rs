//! From what a person typed to tantivy queries. Any input is a valid query: quotes make phrases
//! (an unbalanced quote is ignored), `tag:`, `kind:` and `category:` are filters, everything
//! else is words.

use super::hit::{Kind, SearchRequest};
use super::schema::Fields;
use super::tokenizer::{self, Mode};
use tantivy::Term;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::TextAnalyzer;

/// Words that never have to match (they still count when they do).
const STOP_WORDS: [&str; 24] = [
    "a", "an", "and", "are", "as", "at", "be", "by", "does", "for", "how", "i", "in", "is", "it", "my", "of", "on",
    "or", "the", "to", "what", "why", "with",
];

/// The longest query text that is looked at; the rest of a pasted log is ignored.
const MAX_QUERY_CHARS: usize = 2048;
/// At most this many words count.
const MAX_WORDS: usize = 32;
/// How much a query spelling a page's name counts, against a word in its title (3).
const NAME_BOOST: f32 = 8.0;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ParsedQuery {
    pub words: Vec<String>,
    pub phrases: Vec<String>,
    pub tag: Option<String>,
    pub kind: Option<Kind>,
    pub category: Option<String>,
    /// The last word is still being typed: words it begins match too.
    pub prefix: bool,
}

impl ParsedQuery {
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phrases.is_empty()
    }

    /// The query as text again (for "did you mean").
    pub fn text(&self) -> String {
        let mut parts: Vec<String> = self.words.clone();
        parts.extend(self.phrases.iter().map(|p| format!("\"{p}\"")));
        parts.join(" ")
    }
}

/// Splits the text into words and phrases, and takes filters out of it.
pub fn parse(request: &SearchRequest) -> ParsedQuery {
    let text: String = request.query.chars().take(MAX_QUERY_CHARS).collect();
    let mut query = ParsedQuery {
        tag: request.tag.as_ref().map(|t| t.to_lowercase()),
        kind: request.kind,
        category: request.category.as_ref().map(|c| c.to_lowercase()),
        ..ParsedQuery::default()
    };
    // Only a word the cursor is still in is a prefix: not after a space, a quote or a filter.
    let mut last_was_word = false;
    let quotes = text.matches('"').count();
    let mut in_phrase = false;
    let mut seen_quotes = 0;
    for (i, segment) in text.split('"').enumerate() {
        if i > 0 {
            seen_quotes += 1;
            // The last quote of an odd number opens nothing.
            if !(quotes % 2 == 1 && seen_quotes == quotes) {
                in_phrase = !in_phrase;
            }
        }
        if in_phrase {
            let phrase = segment.split_whitespace().collect::<Vec<_>>().join(" ");
            if !phrase.is_empty() {
                query.phrases.push(phrase);
                last_was_word = false;
            }
            continue;
        }
        for word in segment.split_whitespace() {
            last_was_word = false;
            match word.split_once(':') {
                Some(("tag", value)) if !value.is_empty() => query.tag = Some(value.to_lowercase()),
                Some(("kind", value)) if Kind::parse(value).is_some() => query.kind = Kind::parse(value),
                Some(("category", value)) if !value.is_empty() => query.category = Some(value.to_lowercase()),
                _ => {
                    if query.words.len() < MAX_WORDS && word.chars().any(char::is_alphanumeric) {
                        query.words.push(word.to_string());
                        last_was_word = true;
                    }
                }
            }
        }
    }
    query.prefix = request.prefix && last_was_word && !text.ends_with(|c: char| c.is_whitespace() || c == '"');
    query
}

/// Builds tantivy queries from a parsed query.
pub struct Builder<'a> {
    pub fields: &'a Fields,
    pub whole: TextAnalyzer,
    pub parts: TextAnalyzer,
}

impl Builder<'_> {
    fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, String)> {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(token) = stream.next() {
            out.push((token.position, token.text.clone()));
        }
        out
    }

    /// One word, in any searched field, weighted by field.
    fn word(&mut self, word: &str) -> Option<Box<dyn Query>> {
        let tokens = Self::analyze(&mut self.whole, word);
        let (_, token) = tokens.into_iter().next()?;
        let clauses: Vec<(Occur, Box<dyn Query>)> = self
            .fields
            .weighted()
            .into_iter()
            .map(|(field, boost)| {
                let term = TermQuery::new(Term::from_field_text(field, &token), IndexRecordOption::WithFreqs);
                (Occur::Should, Box::new(BoostQuery::new(Box::new(term), boost)) as Box<dyn Query>)
            })
            .collect();
        Some(Box::new(BooleanQuery::new(clauses)))
    }

    /// A quoted phrase, over the fields that keep positions.
    fn phrase(&mut self, phrase: &str) -> Option<Box<dyn Query>> {
        let tokens = Self::analyze(&mut self.parts, phrase);
        match tokens.len() {
            0 => None,
            1 => self.word(&tokens[0].1),
            _ => {
                let clauses: Vec<(Occur, Box<dyn Query>)> = self
                    .fields
                    .weighted()
                    .into_iter()
                    .filter(|(field, _)| *field != self.fields.tags)
                    .map(|(field, boost)| {
                        let terms: Vec<(usize, Term)> = tokens
                            .iter()
                            .map(|(position, text)| (*position, Term::from_field_text(field, text)))
                            .collect();
                        let phrase = PhraseQuery::new_with_offset(terms);
                        (Occur::Should, Box::new(BoostQuery::new(Box::new(phrase), boost)) as Box<dyn Query>)
                    })
                    .collect();
                Some(Box::new(BooleanQuery::new(clauses)))
            }
        }
    }

    fn filters(&self, query: &ParsedQuery) -> Vec<(Occur, Box<dyn Query>)> {
        let exact = |field, text: &str| -> (Occur, Box<dyn Query>) {
            (Occur::Must, Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::Basic)))
        };
        let mut out = Vec::new();
        if let Some(kind) = query.kind {
            out.push(exact(self.fields.kind, kind.as_str()));
        }
        if let Some(tag) = &query.tag {
            out.push(exact(self.fields.tag, tag));
        }
        if let Some(category) = &query.category {
            out.push(exact(self.fields.category, category));
        }
        out
    }

    /// The word, or — for the word being typed — the word or any of the indexed words it begins
    /// (`completions`, found by the caller in the term dictionary).
    fn word_or_completions(&mut self, word: &str, completions: &[String]) -> Option<Box<dyn Query>> {
        if completions.is_empty() {
            return self.word(word);
        }
        let alternatives: Vec<(Occur, Box<dyn Query>)> = std::iter::once(word)
            .chain(completions.iter().map(String::as_str))
            .filter_map(|w| self.word(w))
            .map(|q| (Occur::Should, q))
            .collect();
        (!alternatives.is_empty()).then(|| Box::new(BooleanQuery::new(alternatives)) as Box<dyn Query>)
    }

    /// The completions that apply to word `i` of `query`.
    fn completions_for<'c>(query: &ParsedQuery, i: usize, completions: &'c [String]) -> &'c [String] {
        if query.prefix && i + 1 == query.words.len() { completions } else { &[] }
    }

    /// A page whose name the query spells — one word of it, or all its words run together
    /// (`job failed` … `kube job failed` is `kubejobfailed`) — comes first.
    fn names(&self, query: &ParsedQuery) -> Option<(Occur, Box<dyn Query>)> {
        let mut spelt: Vec<String> = query.words.iter().map(|w| w.to_lowercase()).collect();
        let joined: String = query
            .words
            .iter()
            .flat_map(|w| w.chars().filter(|c| c.is_alphanumeric()))
            .flat_map(char::to_lowercase)
            .collect();
        spelt.push(joined);
        spelt.sort();
        spelt.dedup();
        let terms: Vec<(Occur, Box<dyn Query>)> = spelt
            .iter()
            .filter(|name| !name.is_empty())
            .map(|name| {
                let term = TermQuery::new(Term::from_field_text(self.fields.name, name), IndexRecordOption::Basic);
                (Occur::Should, Box::new(term) as Box<dyn Query>)
            })
            .collect();
        if terms.is_empty() {
            return None;
        }
        Some((Occur::Should, Box::new(BoostQuery::new(Box::new(BooleanQuery::new(terms)), NAME_BOOST))))
    }

    /// Every word (but stop words) and every phrase must match: the first attempt.
    pub fn all(&mut self, query: &ParsedQuery, completions: &[String]) -> Option<Box<dyn Query>> {
        let mut clauses = self.filters(query);
        let mut required = 0;
        for (i, word) in query.words.iter().enumerate() {
            let typing = !Self::completions_for(query, i, completions).is_empty();
            let stop = !typing && (STOP_WORDS.contains(&word.to_lowercase().as_str()) || word.chars().count() == 1);
            if let Some(clause) = self.word_or_completions(word, Self::completions_for(query, i, completions)) {
                required += usize::from(!stop);
                clauses.push((if stop { Occur::Should } else { Occur::Must }, clause));
            }
        }
        for phrase in &query.phrases {
            if let Some(clause) = self.phrase(phrase) {
                required += 1;
                clauses.push((Occur::Must, clause));
            }
        }
        if required == 0 {
            return None;
        }
        if !query.prefix {
            clauses.extend(self.names(query));
        }
        Some(Box::new(BooleanQuery::new(clauses)))
    }

    /// Any word or phrase may match: the second attempt.
    pub fn any(&mut self, query: &ParsedQuery, completions: &[String]) -> Option<Box<dyn Query>> {
        let mut alternatives = Vec::new();
        for (i, word) in query.words.iter().enumerate() {
            let clause = self.word_or_completions(word, Self::completions_for(query, i, completions));
            alternatives.extend(clause.map(|q| (Occur::Should, q)));
        }
        for phrase in &query.phrases {
            alternatives.extend(self.phrase(phrase).map(|q| (Occur::Should, q)));
        }
        if alternatives.is_empty() {
            return None;
        }
        let mut clauses = self.filters(query);
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(alternatives))));
        if !query.prefix {
            clauses.extend(self.names(query));
        }
        Some(Box::new(BooleanQuery::new(clauses)))
    }
}

/// A fresh query analyzer pair for a [`Builder`].
pub fn analyzers() -> (TextAnalyzer, TextAnalyzer) {
    let mut whole = None;
    let mut parts = None;
    for (name, analyzer) in tokenizer::analyzers() {
        match name {
            tokenizer::WHOLE => whole = Some(analyzer),
            tokenizer::PARTS => parts = Some(analyzer),
            _ => {}
        }
    }
    let fallback = || TextAnalyzer::from(tokenizer::CodeTokenizer { mode: Mode::Whole });
    (whole.unwrap_or_else(fallback), parts.unwrap_or_else(fallback))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> ParsedQuery {
        parse(&SearchRequest { query: text.into(), ..SearchRequest::default() })
    }

    #[test]
    fn only_a_word_still_being_typed_is_a_prefix() {
        let typing =
            |text: &str| parse(&SearchRequest { query: text.into(), prefix: true, ..SearchRequest::default() });
        assert!(typing("cuda erro").prefix);
        assert!(!typing("cuda erro ").prefix, "a space ends the word");
        assert!(!typing("cuda \"context lost\"").prefix, "a phrase is not a prefix");
        assert!(!typing("cuda tag:gpu").prefix, "a filter is not a word");
        assert!(!typing("").prefix);
        assert!(!parsed("cuda erro").prefix, "only when asked");
    }

    #[test]
    fn words_phrases_and_filters() {
        let q = parsed("disk \"cuda context\" tag:GPU kind:runbook nvidia-smi");
        assert_eq!(q.words, ["disk", "nvidia-smi"]);
        assert_eq!(q.phrases, ["cuda context"]);
        assert_eq!(q.tag.as_deref(), Some("gpu"));
        assert_eq!(q.kind, Some(Kind::Runbook));
    }

    #[test]
    fn awkward_input_is_still_a_query() {
        assert_eq!(parsed("\"unbalanced quote").words, ["unbalanced", "quote"]);
        assert_eq!(parsed("a \"b\" \"c").phrases, ["b"]);
        assert!(parsed("((( ))) !!! :::").is_empty());
        assert_eq!(parsed("title: gpu").words, ["title:", "gpu"]);
        assert_eq!(parsed(&"x ".repeat(5000)).words.len(), MAX_WORDS);
        assert_eq!(parsed("Über größe").words, ["Über", "größe"]);
    }
}

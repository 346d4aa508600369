//! Code-aware tokens: `nvidia-smi`, `CUDA_ERROR_OPERATING_SYSTEM`, `/dev/nvidia-uvm`,
//! `cudaErrorOperatingSystem` and `575.57.08` are findable whole and by their parts.
//!
//! At indexing time a word yields its whole form and then its parts: the whole at the position of
//! the first part, the parts at consecutive positions, so phrase queries over parts work
//! (`"operating system"` finds `CUDA_ERROR_OPERATING_SYSTEM`). Queries use either the whole form
//! of each word or, for phrases, only the parts.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// Analyzer names registered with the index.
pub const INDEX: &str = "code_index";
pub const WHOLE: &str = "code_whole";
pub const PARTS: &str = "code_parts";
pub const PLAIN: &str = "code_plain";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Whole words and their parts (indexing).
    Index,
    /// Whole words only (a query word must match a word as written).
    Whole,
    /// Parts only (phrase queries).
    Parts,
}

#[derive(Debug, Clone)]
pub struct CodeTokenizer {
    pub mode: Mode,
}

pub struct CodeTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for CodeTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

impl Tokenizer for CodeTokenizer {
    type TokenStream<'a> = CodeTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CodeTokenStream {
        CodeTokenStream { tokens: tokenize(text, self.mode), next: 0 }
    }
}

/// Characters that hold a technical word together: `nvidia-smi`, `size_vram`, `/dev/x`, `1.2.3`.
fn joins(c: char) -> bool {
    matches!(c, '_' | '-' | '.' | '/' | '@' | '+' | '#' | '~' | ':' | '=')
}

/// The words of `text`: maximal runs of alphanumerics and joiners, trimmed of joiners at the
/// ends (a sentence's final `.`), except a leading `/` or `-` (paths, flags).
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        let inside = c.is_alphanumeric() || joins(c);
        match (start, inside) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                let word = &text[s..i];
                let trimmed_end = word.trim_end_matches(joins);
                let leading = trimmed_end.len()
                    - trimmed_end.trim_start_matches(|c: char| joins(c) && c != '/' && c != '-').len();
                let word = &trimmed_end[leading..];
                if word.chars().any(char::is_alphanumeric) {
                    out.push((s + leading, word));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// The parts of a word: split at joiners and at camelCase boundaries (`HTTPServer` → HTTP, Server).
pub(crate) fn parts(word: &str) -> Vec<(usize, &str)> {
    // Most words are one part (every word of every section of a KB comes here when indexed).
    if is_one_part(word) {
        return if word.is_empty() { Vec::new() } else { vec![(0, word)] };
    }
    split_parts(word)
}

/// Whether [`parts`] would give `word` whole, known without splitting it: it has nothing to
/// split at and no capital to cut before (every camelCase boundary is at a capital).
pub(crate) fn is_one_part(word: &str) -> bool {
    word.chars().all(|c| c.is_alphanumeric() && !c.is_uppercase())
}

/// [`parts`] without its shortcut.
fn split_parts(word: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut start: Option<usize> = None;
    for (k, &(i, c)) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if let Some(s) = start.take() {
                out.push((s, &word[s..i]));
            }
            continue;
        }
        let boundary = match (start, k.checked_sub(1).map(|p| chars[p].1)) {
            (Some(_), Some(prev)) => {
                let next = chars.get(k + 1).map(|&(_, n)| n);
                (prev.is_lowercase() && c.is_uppercase())
                    || (prev.is_uppercase() && c.is_uppercase() && next.is_some_and(char::is_lowercase))
            }
            _ => false,
        };
        if boundary {
            if let Some(s) = start {
                out.push((s, &word[s..i]));
            }
            start = Some(i);
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push((s, &word[s..]));
    }
    out
}

pub fn tokenize(text: &str, mode: Mode) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut position = 0;
    for (offset, word) in words(text) {
        let pieces = parts(word);
        let whole_is_part = pieces.len() == 1 && pieces[0].1.len() == word.len();
        let token = |from: usize, text: &str, position: usize| Token {
            offset_from: from,
            offset_to: from + text.len(),
            position,
            text: text.to_string(),
            position_length: 1,
        };
        if mode != Mode::Parts || whole_is_part {
            tokens.push(token(offset, word, position));
        }
        if mode != Mode::Whole && !whole_is_part {
            for (k, (at, piece)) in pieces.iter().enumerate() {
                tokens.push(token(offset + at, piece, position + k));
            }
        }
        position += pieces.len().max(1);
    }
    tokens
}

/// The analyzers: code-aware words, lowercased, long tokens dropped, stemmed (but `PLAIN`,
/// whose terms feed "did you mean").
pub fn analyzers() -> [(&'static str, TextAnalyzer); 4] {
    let stemmed = |mode| {
        TextAnalyzer::builder(CodeTokenizer { mode })
            .filter(RemoveLongFilter::limit(64))
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build()
    };
    let plain = TextAnalyzer::builder(CodeTokenizer { mode: Mode::Parts })
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .build();
    [(INDEX, stemmed(Mode::Index)), (WHOLE, stemmed(Mode::Whole)), (PARTS, stemmed(Mode::Parts)), (PLAIN, plain)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shortcut_for_words_of_one_part_gives_what_splitting_gives() {
        for word in
            ["", "nvidia", "575", "straße", "ǅemal", "öl2", "nvidia-smi", "cudaError", "HTTPServer", "Σοφία", "a_b"]
        {
            assert_eq!(parts(word), split_parts(word), "{word}");
        }
    }

    fn texts(text: &str, mode: Mode) -> Vec<(String, usize)> {
        tokenize(text, mode).into_iter().map(|t| (t.text, t.position)).collect()
    }

    #[test]
    fn identifiers_whole_and_in_parts() {
        assert_eq!(
            texts("run nvidia-smi now.", Mode::Index),
            vec![
                ("run".into(), 0),
                ("nvidia-smi".into(), 1),
                ("nvidia".into(), 1),
                ("smi".into(), 2),
                ("now".into(), 3)
            ]
        );
        let t = texts("CUDA_ERROR_OPERATING_SYSTEM", Mode::Index);
        assert_eq!(t[0].0, "CUDA_ERROR_OPERATING_SYSTEM");
        assert_eq!(
            t.iter().skip(1).map(|(w, _)| w.as_str()).collect::<Vec<_>>(),
            ["CUDA", "ERROR", "OPERATING", "SYSTEM"]
        );
        let t = texts("cudaErrorOperatingSystem", Mode::Index);
        assert_eq!(
            t.iter().skip(1).map(|(w, _)| w.as_str()).collect::<Vec<_>>(),
            ["cuda", "Error", "Operating", "System"]
        );
        let t = texts("ls /dev/nvidia-uvm", Mode::Index);
        assert_eq!(t[1].0, "/dev/nvidia-uvm");
        assert_eq!(t.iter().skip(2).map(|(w, _)| w.as_str()).collect::<Vec<_>>(), ["dev", "nvidia", "uvm"]);
        assert_eq!(texts("HTTPServer", Mode::Parts), vec![("HTTP".into(), 0), ("Server".into(), 1)]);
        assert_eq!(texts("driver 575.57.08,", Mode::Whole), vec![("driver".into(), 0), ("575.57.08".into(), 1)]);
    }

    #[test]
    fn queries_use_whole_words_or_parts() {
        assert_eq!(texts("nvidia-smi", Mode::Whole), vec![("nvidia-smi".into(), 0)]);
        assert_eq!(texts("size_vram", Mode::Parts), vec![("size".into(), 0), ("vram".into(), 1)]);
        assert_eq!(texts("304", Mode::Index), vec![("304".into(), 0)]);
        assert!(texts("!!! ... ---", Mode::Index).is_empty());
    }
}

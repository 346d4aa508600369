//! Building the prepared text line by line, remembering where each column came from.

use std::ops::Range;

/// A part of an output line: text of the file, or text put in place of some of it.
#[derive(Debug, Clone)]
pub(super) enum Piece {
    Copy(Range<usize>),
    Insert {
        text: String,
        at: usize,
    },
    /// A link destination from a `ref` shortcode.
    Reference {
        text: String,
        at: usize,
    },
}

impl Piece {
    pub(super) fn copy(range: Range<usize>) -> Piece {
        Piece::Copy(range)
    }

    pub(super) fn insert(text: String, at: usize) -> Piece {
        Piece::Insert { text, at }
    }

    pub(super) fn reference(text: String, at: usize) -> Piece {
        Piece::Reference { text, at }
    }

    fn text<'t>(&'t self, source: &'t str) -> &'t str {
        match self {
            Piece::Copy(range) => &source[range.clone()],
            Piece::Insert { text, .. } | Piece::Reference { text, .. } => text,
        }
    }

    /// Where in the file this piece starts.
    fn origin(&self) -> usize {
        match self {
            Piece::Copy(range) => range.start,
            Piece::Insert { at, .. } | Piece::Reference { at, .. } => *at,
        }
    }
}

/// A run of columns of an output line and the columns of the file line it came from (0-based,
/// in characters). Copied runs map column for column; inserted ones map to where they stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Segment {
    new_col: usize,
    old_col: usize,
    len: usize,
    copied: bool,
}

/// One line of the prepared text, before it is written.
#[derive(Debug)]
pub(super) struct LineOut {
    /// Byte offset of the file line.
    start: usize,
    ending: String,
    prefix: String,
    pieces: Vec<Piece>,
}

impl LineOut {
    pub(super) fn new(start: usize, ending: &str) -> LineOut {
        LineOut { start, ending: ending.to_string(), prefix: String::new(), pieces: Vec::new() }
    }

    pub(super) fn copy(&mut self, range: Range<usize>) {
        self.pieces.push(Piece::Copy(range));
    }

    pub(super) fn push(&mut self, piece: Piece) {
        self.pieces.push(piece);
    }

    pub(super) fn prefix(&mut self, prefix: &str) {
        self.prefix = prefix.to_string();
    }

    /// Appends the line to `out`; returns its column map and whether it differs from the file.
    /// Ranges of `ref` destinations are added to `refs`.
    pub(super) fn write(&self, source: &str, out: &mut String, refs: &mut Vec<Range<usize>>) -> (Vec<Segment>, bool) {
        let line_end = source[self.start..].find(['\n', '\r']).map(|i| self.start + i).unwrap_or(source.len());
        let original = &source[self.start..line_end];
        let written_from = out.len();
        let chars_before = |offset: usize| source[self.start..offset.clamp(self.start, line_end)].chars().count();
        let mut segments = Vec::new();
        let mut new_col = 0;
        if !self.prefix.is_empty() {
            let old_col = self.pieces.first().map(|p| chars_before(p.origin())).unwrap_or(0);
            let len = self.prefix.chars().count();
            segments.push(Segment { new_col, old_col, len, copied: false });
            new_col += len;
            out.push_str(&self.prefix);
        }
        for piece in &self.pieces {
            let text = piece.text(source);
            let len = text.chars().count();
            if let Piece::Reference { .. } = piece {
                refs.push(out.len()..out.len() + text.len());
            }
            let copied = matches!(piece, Piece::Copy(_));
            segments.push(Segment { new_col, old_col: chars_before(piece.origin()), len, copied });
            new_col += len;
            out.push_str(text);
        }
        let changed = out[written_from..] != *original;
        out.push_str(&self.ending);
        (segments, changed)
    }
}

/// The file column (1-based) of output `column` (1-based) on a line with these segments.
pub(super) fn map_column(segments: &[Segment], column: usize) -> usize {
    let at = column.saturating_sub(1);
    match segments.iter().rev().find(|s| s.new_col <= at) {
        Some(segment) if segment.copied => segment.old_col + (at - segment.new_col) + 1,
        Some(segment) => segment.old_col + 1,
        None => column,
    }
}

/// The pieces' text, without any prefix.
pub(super) fn plain(source: &str, pieces: &[Piece]) -> String {
    pieces.iter().map(|p| p.text(source)).collect()
}

/// Columns of leading whitespace, a tab counting to the next multiple of four.
pub(super) fn indent_width(text: &str) -> usize {
    let mut width = 0;
    for c in text.chars() {
        match c {
            ' ' => width += 1,
            '\t' => width += 4 - width % 4,
            _ => break,
        }
    }
    width
}

/// Removes up to `columns` of leading whitespace from the text of the file at the start.
pub(super) fn strip_indent(source: &str, mut pieces: Vec<Piece>, columns: usize) -> Vec<Piece> {
    let Some(Piece::Copy(range)) = pieces.first_mut() else {
        return pieces;
    };
    let mut width = 0;
    let mut bytes = 0;
    for c in source[range.clone()].chars() {
        if width >= columns {
            break;
        }
        match c {
            ' ' => width += 1,
            '\t' => width += 4 - width % 4,
            _ => break,
        }
        bytes += 1;
    }
    range.start += bytes;
    pieces
}

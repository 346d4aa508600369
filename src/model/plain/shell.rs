//! A tolerant reader of shell text, enough to run the commands of plain docs safely: where a
//! command ends (quotes, `\`, heredocs, `$(…)`, compound statements), its simple commands with
//! their words and redirections (also those inside `$(…)`, `<(…)` and backticks), the variables
//! it reads and assigns, and its heredoc bodies.
//!
//! Docs hold text that is not valid shell (`oc get pod -n <namespace>` is a redirection to a
//! shell), so this never fails: it reads what it can and says whether the text is complete.
//! Syntax characters are ASCII, so scanning bytes never splits a UTF-8 character.

use std::ops::Range;

/// Why a piece of shell text is not complete yet: the next line continues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Open {
    /// Inside `'…'`, `"…"` or `` `…` ``.
    Quote(char),
    /// A `\` at the very end.
    Backslash,
    /// Ends with `|`, `&&` or `||`.
    Operator,
    /// A heredoc whose delimiter line has not come.
    Heredoc(String),
    /// Inside `$(…)`, `${…}` or `<(…)`.
    Substitution,
    /// `if`, `for`, `while`, `case`, `{` or `(` without its end.
    Compound(&'static str),
}

/// A simple command: its words (the first is the program), leading assignments, redirections.
#[derive(Debug, Clone, Default)]
pub(crate) struct Command {
    pub words: Vec<Word>,
    /// Names assigned before the program (`A=1 cmd`), or by a bare assignment (`A=1`).
    pub assigns: Vec<String>,
    pub redirects: Vec<Redirect>,
    /// Byte offset of the command in the text.
    pub start: usize,
    /// Inside `$(…)`, backticks or `<(…)`.
    pub nested: bool,
}

impl Command {
    /// The program, as the shell would see it after quote removal.
    pub(crate) fn program(&self) -> Option<&str> {
        self.words.first().map(|w| w.text.as_str())
    }

    /// The words after the program.
    pub(crate) fn args(&self) -> &[Word] {
        self.words.get(1..).unwrap_or(&[])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// The word after quote removal (substitutions kept as written).
    pub text: String,
    /// Where it is in the text, as written.
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redirect {
    /// `>`, `>>`, `<`, `<<`, `<<<`, `>&`, `&>`, `<>`, …, without the file descriptor number.
    pub op: String,
    /// The file (or fd, or heredoc delimiter).
    pub target: String,
}

impl Redirect {
    /// True for a redirection that writes a file (`>`, `>>`, `&>`, `>|`, `<>`), except to the
    /// terminal's streams or `/dev/null`, and except fd duplication (`2>&1`).
    pub(crate) fn writes_file(&self) -> bool {
        let writes = matches!(self.op.as_str(), ">" | ">>" | "&>" | "&>>" | ">|" | "<>");
        let harmless = matches!(self.target.as_str(), "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty")
            || (self.op == ">" && self.target.starts_with('&'));
        writes && !harmless
    }
}

/// A heredoc: its delimiter and where its body lines are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Heredoc {
    pub delimiter: String,
    /// `<<'EOF'` or `<<"EOF"`: the body is not expanded.
    pub quoted: bool,
    /// The body lines, without the delimiter line.
    pub body: Range<usize>,
}

/// A `$NAME` or `${NAME…}` the text reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VarUse {
    pub name: String,
    pub offset: usize,
}

/// Everything read from one piece of shell text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lexed {
    pub commands: Vec<Command>,
    pub heredocs: Vec<Heredoc>,
    pub uses: Vec<VarUse>,
    /// Names assigned anywhere (`A=1`, `export A=1`, `read A`, `for A in`).
    pub assigned: Vec<(String, usize)>,
    /// Byte ranges written inside single quotes (no expansion happens there).
    pub single_quoted: Vec<Range<usize>>,
    /// Byte ranges inside double quotes.
    pub double_quoted: Vec<Range<usize>>,
    /// Byte ranges that are comments.
    pub comments: Vec<Range<usize>>,
    /// Byte ranges where `<`/`>` are comparisons, not redirections (`[[ … ]]`, `(( … ))`).
    pub tests: Vec<Range<usize>>,
    pub open: Option<Open>,
}

impl Lexed {
    pub(crate) fn is_complete(&self) -> bool {
        self.open.is_none()
    }

    /// Whether `offset` lies in a heredoc body (and whether that body is expanded).
    pub(crate) fn heredoc_at(&self, offset: usize) -> Option<&Heredoc> {
        self.heredocs.iter().find(|h| h.body.contains(&offset))
    }

    pub(crate) fn in_single_quotes(&self, offset: usize) -> bool {
        self.single_quoted.iter().any(|r| r.contains(&offset))
    }

    pub(crate) fn in_double_quotes(&self, offset: usize) -> bool {
        self.double_quoted.iter().any(|r| r.contains(&offset))
    }

    pub(crate) fn in_comment(&self, offset: usize) -> bool {
        self.comments.iter().any(|r| r.contains(&offset))
    }

    pub(crate) fn in_test(&self, offset: usize) -> bool {
        self.tests.iter().any(|r| r.contains(&offset))
    }
}

/// Reads `text` as shell.
pub(crate) fn lex(text: &str) -> Lexed {
    let mut lexer =
        Lexer { src: text.as_bytes(), pos: 0, out: Lexed::default(), pending: Vec::new(), depth: 0, backticks: 0 };
    let end = lexer.list(Terminator::Eof, false);
    lexer.out.open = match end {
        ListEnd::Open(open) => Some(open),
        ListEnd::Done => lexer.pending.first().map(|p| Open::Heredoc(p.delimiter.clone())),
    };
    lexer.out
}

/// Nesting deeper than this is read as plain text: adversarial input cannot exhaust the stack.
const MAX_DEPTH: usize = 48;

const RESERVED_SEPARATORS: [&str; 6] = ["then", "else", "elif", "do", "!", "time"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Terminator {
    Eof,
    /// `)` of `$(`, `<(` or a subshell.
    Paren,
    /// `` ` ``.
    Backtick,
}

enum ListEnd {
    Done,
    Open(Open),
}

/// What one token did to the list being read.
enum Flow {
    /// Read on.
    Next,
    /// Read on, and keep `after_operator` as the token set it.
    Keep,
    End(ListEnd),
}

/// The state of [`Lexer::list`].
struct ListState {
    terminator: Terminator,
    nested: bool,
    /// The words that close the compound statements open here (`fi`, `done`, `)`).
    frames: Vec<&'static str>,
    builder: Builder,
    /// The last thing read was `|`, `&&` or `||`: a newline does not end the list.
    after_operator: bool,
}

struct PendingHeredoc {
    delimiter: String,
    quoted: bool,
    strip_tabs: bool,
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    out: Lexed,
    pending: Vec<PendingHeredoc>,
    depth: usize,
    /// Inside backticks: a backtick ends the word.
    backticks: usize,
}

/// A command being read.
#[derive(Default)]
struct Builder {
    command: Command,
    /// Reading the words of `for NAME in …` up to `do`, or `case WORD in`.
    skipping: Skip,
    /// Inside `[[ … ]]`.
    in_test: Option<usize>,
}

#[derive(Default, PartialEq, Eq, Clone, Copy)]
enum Skip {
    #[default]
    No,
    /// After `for`/`select`: the next word is the loop variable.
    ForName,
    /// The rest of `for x in a b c` up to the separator.
    ForWords,
    /// `case WORD in`.
    CaseHead,
    /// A case pattern up to `)`.
    CasePattern,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_meta(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' | b'\r')
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.src.get(self.pos + ahead).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        self.src[self.pos..].starts_with(s.as_bytes())
    }

    /// Reads commands until the terminator. Compound statements are tracked as a stack of the
    /// words that close them.
    fn list(&mut self, terminator: Terminator, nested: bool) -> ListEnd {
        let mut st =
            ListState { terminator, nested, frames: Vec::new(), builder: Builder::default(), after_operator: false };
        loop {
            let Some(b) = self.peek() else {
                return self.end_of_input(&mut st);
            };
            let flow = match b {
                b' ' | b'\t' | b'\r' | b'\n' | b'#' => self.blank(b, &mut st),
                b'\\' if matches!(self.peek_at(1), Some(b'\n') | None) => self.blank(b, &mut st),
                b')' | b'`' | b';' | b'|' | b'(' => self.punctuation(b, &mut st),
                b'&' if self.peek_at(1) != Some(b'>') => self.punctuation(b, &mut st),
                b'<' | b'>' | b'&' => self.angle(&mut st),
                b'0'..=b'9' if self.fd_redirect_ahead() => {
                    while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        self.pos += 1;
                    }
                    Flow::Next
                }
                _ => self.word_token(&mut st),
            };
            match flow {
                Flow::End(end) => return end,
                Flow::Keep => {}
                Flow::Next => {
                    if !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'#' | b'\\') {
                        st.after_operator = false;
                    }
                }
            }
        }
    }

    fn end_of_input(&mut self, st: &mut ListState) -> ListEnd {
        self.finish(&mut st.builder, st.nested);
        match (st.terminator, st.after_operator, st.frames.last()) {
            (Terminator::Paren, ..) => ListEnd::Open(Open::Substitution),
            (Terminator::Backtick, ..) => ListEnd::Open(Open::Quote('`')),
            (_, true, _) => ListEnd::Open(Open::Operator),
            (_, _, Some(frame)) => ListEnd::Open(Open::Compound(frame)),
            _ => ListEnd::Done,
        }
    }

    /// Blanks, line continuations, newlines (which end a command and start heredoc bodies), comments.
    fn blank(&mut self, b: u8, st: &mut ListState) -> Flow {
        match b {
            b'\\' if self.peek_at(1) == Some(b'\n') => self.pos += 2,
            b'\\' => {
                self.pos += 1;
                self.finish(&mut st.builder, st.nested);
                return Flow::End(ListEnd::Open(Open::Backslash));
            }
            b'\n' => {
                self.pos += 1;
                if st.builder.in_test.is_none() {
                    self.finish(&mut st.builder, st.nested);
                }
                if let Some(open) = self.heredoc_bodies() {
                    return Flow::End(ListEnd::Open(open));
                }
            }
            b'#' => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.pos += 1;
                }
                self.out.comments.push(start..self.pos);
            }
            _ => self.pos += 1,
        }
        Flow::Next
    }

    /// `;`, `&`, `|` and their doubles, parentheses, and the end of a substitution.
    fn punctuation(&mut self, b: u8, st: &mut ListState) -> Flow {
        let builder = &mut st.builder;
        match b {
            b')' if st.terminator == Terminator::Paren && st.frames.last() != Some(&")") => {
                self.pos += 1;
                if builder.skipping == Skip::CasePattern {
                    builder.skipping = Skip::No;
                    return Flow::Keep;
                }
                self.finish(builder, st.nested);
                Flow::End(ListEnd::Done)
            }
            b'`' if st.terminator == Terminator::Backtick => {
                self.pos += 1;
                self.finish(builder, st.nested);
                Flow::End(ListEnd::Done)
            }
            b'`' => self.word_token(st),
            b';' | b'&' | b'|' => {
                let op = self.operator();
                if builder.in_test.is_some() {
                    return Flow::Keep;
                }
                self.finish(builder, st.nested);
                st.after_operator = matches!(op, "|" | "||" | "&&" | "|&");
                if matches!(op, ";;" | ";&" | ";;&") {
                    builder.skipping = Skip::CasePattern;
                }
                Flow::Keep
            }
            b'(' if self.peek_at(1) == Some(b'(') && builder.command.words.is_empty() => {
                // `(( arithmetic ))`: comparisons, not redirections.
                let start = self.pos;
                self.skip_balanced(b'(', b')');
                self.out.tests.push(start..self.pos);
                Flow::Next
            }
            b'(' if builder.command.words.is_empty() && builder.skipping != Skip::CasePattern => {
                self.pos += 1;
                st.frames.push(")");
                Flow::Next
            }
            b'(' => {
                // `name()` of a function definition, or stray: the words so far are no command.
                self.pos += 1;
                if self.peek() == Some(b')') {
                    self.pos += 1;
                    *builder = Builder::default();
                }
                Flow::Next
            }
            _ => {
                self.pos += 1;
                if builder.skipping == Skip::CasePattern {
                    builder.skipping = Skip::No;
                    builder.command = Command::default();
                    return Flow::Keep;
                }
                self.finish(builder, st.nested);
                if st.frames.last() == Some(&")") {
                    st.frames.pop();
                }
                Flow::Next
            }
        }
    }

    /// `<`, `>`, `&>`: a redirection, a process substitution, or (inside `[[ ]]`) a comparison.
    fn angle(&mut self, st: &mut ListState) -> Flow {
        let builder = &mut st.builder;
        if builder.in_test.is_some() {
            self.pos += 1;
            return Flow::Next;
        }
        if self.peek() != Some(b'&') && self.peek_at(1) == Some(b'(') {
            // Process substitution: a word whose commands run.
            let start = self.pos;
            self.pos += 2;
            let end = self.nested(Terminator::Paren);
            let text = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
            builder.command.words.push(Word { text, span: start..self.pos });
            if let ListEnd::Open(open) = end {
                self.finish(builder, st.nested);
                return Flow::End(ListEnd::Open(open));
            }
            return Flow::Next;
        }
        if let Some(open) = self.redirect(&mut builder.command) {
            self.finish(builder, st.nested);
            return Flow::End(ListEnd::Open(open));
        }
        Flow::Next
    }

    fn word_token(&mut self, st: &mut ListState) -> Flow {
        let start = self.pos;
        let (word, open) = self.word();
        st.after_operator = false;
        if self.pos == start {
            // A byte no rule takes (a backtick inside `$(…)` inside backticks).
            self.pos += 1;
            return Flow::Keep;
        }
        if let Some(open) = open {
            st.builder.command.words.push(word);
            self.finish(&mut st.builder, st.nested);
            return Flow::End(ListEnd::Open(open));
        }
        self.place_word(&mut st.builder, &mut st.frames, word, start, st.nested);
        Flow::Next
    }

    /// Puts a word into the command being read, handling reserved words and assignments.
    fn place_word(
        &mut self,
        builder: &mut Builder,
        frames: &mut Vec<&'static str>,
        word: Word,
        start: usize,
        nested: bool,
    ) {
        if self.skipped_word(builder, frames, &word, start) {
            return;
        }
        if builder.in_test.is_some() {
            if word.text == "]]"
                && let Some(test_start) = builder.in_test.take()
            {
                self.out.tests.push(test_start..word.span.end);
            }
            builder.command.words.push(word);
            return;
        }
        let is_first = builder.command.words.is_empty();
        if is_first
            && (builder.command.assigns.is_empty() || word_is_reserved(&word.text))
            && self.reserved_word(builder, frames, &word, nested)
        {
            return;
        }
        let raw = &self.src[word.span.clone()];
        if builder.command.words.is_empty()
            && let Some(name) = assignment_name(raw)
        {
            self.out.assigned.push((name.clone(), start));
            builder.command.assigns.push(name);
            return;
        }
        self.note_assignment(builder, raw, &word, start);
        builder.command.words.push(word);
    }

    /// Words of `for NAME in …` and `case WORD in PATTERN)`: no command; true when taken.
    fn skipped_word(
        &mut self,
        builder: &mut Builder,
        frames: &mut Vec<&'static str>,
        word: &Word,
        start: usize,
    ) -> bool {
        match builder.skipping {
            Skip::ForName => {
                self.out.assigned.push((word.text.clone(), start));
                builder.skipping = Skip::ForWords;
            }
            Skip::ForWords => {
                if word.text == "do" {
                    builder.skipping = Skip::No;
                }
            }
            Skip::CaseHead => {
                if word.text == "in" {
                    builder.skipping = Skip::CasePattern;
                }
            }
            Skip::CasePattern => {
                if word.text == "esac" {
                    builder.skipping = Skip::No;
                    if frames.last() == Some(&"esac") {
                        frames.pop();
                    }
                } else if word.text.ends_with(')') {
                    builder.skipping = Skip::No;
                }
            }
            Skip::No => return false,
        }
        true
    }

    /// `if`, `for`, `while`, `case`, `{`, `fi`, `done`, …: true when the word was one.
    fn reserved_word(
        &mut self,
        builder: &mut Builder,
        frames: &mut Vec<&'static str>,
        word: &Word,
        nested: bool,
    ) -> bool {
        match word.text.as_str() {
            "if" => frames.push("fi"),
            "while" | "until" => frames.push("done"),
            "for" | "select" => {
                frames.push("done");
                builder.skipping = Skip::ForName;
            }
            "case" => {
                frames.push("esac");
                builder.skipping = Skip::CaseHead;
            }
            "{" => frames.push("}"),
            "fi" | "done" | "esac" | "}" => {
                self.finish(builder, nested);
                if frames.last() == Some(&word.text.as_str()) {
                    frames.pop();
                }
            }
            // The function's name follows; it is not a command.
            "function" => builder.command.assigns.push(String::new()),
            w if RESERVED_SEPARATORS.contains(&w) => {}
            "[[" => {
                builder.in_test = Some(word.span.start);
                builder.command.words.push(word.clone());
            }
            _ => return false,
        }
        true
    }

    /// `export A=1`, `local A=1`, `readonly A`, `declare -x A=1`, `read -r A B`: names assigned.
    fn note_assignment(&mut self, builder: &Builder, raw: &[u8], word: &Word, start: usize) {
        let Some(program) = builder.command.words.first().map(|w| w.text.as_str()) else { return };
        let name = match program {
            "export" | "local" | "declare" | "typeset" | "readonly" => {
                assignment_name(raw).or_else(|| plain_name(&word.text))
            }
            "read" | "mapfile" | "readarray" if !word.text.starts_with('-') => plain_name(&word.text),
            _ => None,
        };
        if let Some(name) = name {
            self.out.assigned.push((name, start));
        }
    }

    fn finish(&mut self, builder: &mut Builder, nested: bool) {
        let mut command = std::mem::take(&mut builder.command);
        if let Some(start) = builder.in_test.take() {
            self.out.tests.push(start..self.pos);
        }
        command.assigns.retain(|a| !a.is_empty());
        if command.words.is_empty() && command.assigns.is_empty() && command.redirects.is_empty() {
            return;
        }
        command.nested = nested;
        command.start = command.words.first().map(|w| w.span.start).unwrap_or(self.pos);
        self.out.commands.push(command);
    }

    /// `;`, `;;`, `&`, `&&`, `|`, `||`, `|&`, `;&`, `;;&` (and `&>`, which is a redirection).
    fn operator(&mut self) -> &'static str {
        for op in [";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|"] {
            if self.starts_with(op) {
                self.pos += op.len();
                return op;
            }
        }
        self.pos += 1;
        ";"
    }

    /// A digit run directly followed by `<` or `>` (`2>`, `10<`).
    fn fd_redirect_ahead(&self) -> bool {
        let digits = self.src[self.pos..].iter().take_while(|c| c.is_ascii_digit()).count();
        matches!(self.src.get(self.pos + digits), Some(b'<' | b'>'))
            && (self.pos == 0 || is_meta(self.src[self.pos - 1]))
    }

    fn redirect(&mut self, command: &mut Command) -> Option<Open> {
        let ops = ["<<<", "<<-", "&>>", "<<", ">>", ">|", "<>", ">&", "<&", "&>", "<", ">"];
        let op = ops.iter().find(|op| self.starts_with(op)).copied().unwrap_or(">");
        self.pos += op.len();
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        if self.peek().is_none_or(|b| b == b'\n') {
            return None;
        }
        let start = self.pos;
        let (word, open) = self.word();
        if open.is_some() {
            return open;
        }
        if matches!(op, "<<" | "<<-") {
            let raw = &self.src[start..self.pos];
            let quoted = raw.iter().any(|b| matches!(b, b'\'' | b'"' | b'\\'));
            self.pending.push(PendingHeredoc { delimiter: word.text.clone(), quoted, strip_tabs: op == "<<-" });
        }
        let op = if op == "<<-" { "<<" } else { op };
        command.redirects.push(Redirect { op: op.to_string(), target: word.text });
        None
    }

    /// Reads the bodies of the heredocs started on the line just ended.
    fn heredoc_bodies(&mut self) -> Option<Open> {
        let pending = std::mem::take(&mut self.pending);
        for heredoc in pending {
            let start = self.pos;
            loop {
                if self.pos >= self.src.len() {
                    return Some(Open::Heredoc(heredoc.delimiter));
                }
                let line_start = self.pos;
                let line_end = self.src[self.pos..].iter().position(|&b| b == b'\n').map(|i| self.pos + i);
                let end = line_end.unwrap_or(self.src.len());
                let mut line = &self.src[line_start..end];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                if heredoc.strip_tabs {
                    while line.first() == Some(&b'\t') {
                        line = &line[1..];
                    }
                }
                self.pos = line_end.map(|e| e + 1).unwrap_or(self.src.len());
                if line == heredoc.delimiter.as_bytes() {
                    if !heredoc.quoted {
                        self.scan_expansions(start..line_start);
                    }
                    self.out.heredocs.push(Heredoc {
                        delimiter: heredoc.delimiter.clone(),
                        quoted: heredoc.quoted,
                        body: start..line_start,
                    });
                    break;
                }
                if line_end.is_none() {
                    return Some(Open::Heredoc(heredoc.delimiter));
                }
            }
        }
        None
    }

    /// `$NAME` uses and `$(…)` commands in an expanded heredoc body.
    fn scan_expansions(&mut self, range: Range<usize>) {
        let saved = self.pos;
        self.pos = range.start;
        while self.pos < range.end {
            match self.peek() {
                Some(b'\\') => self.pos += 2,
                Some(b'$') => {
                    let _ = self.dollar(&mut Vec::new());
                }
                Some(b'`') => {
                    self.pos += 1;
                    let _ = self.nested(Terminator::Backtick);
                }
                _ => self.pos += 1,
            }
        }
        self.pos = saved;
    }

    /// Reads the commands of `$(…)`, `<(…)` or backticks.
    fn nested(&mut self, terminator: Terminator) -> ListEnd {
        if self.depth >= MAX_DEPTH {
            let close = if terminator == Terminator::Backtick { b'`' } else { b')' };
            while let Some(b) = self.peek() {
                self.pos += 1;
                if b == close {
                    return ListEnd::Done;
                }
            }
            return ListEnd::Open(Open::Substitution);
        }
        self.depth += 1;
        let backtick = usize::from(terminator == Terminator::Backtick);
        self.backticks += backtick;
        let pending = std::mem::take(&mut self.pending);
        let end = self.list(terminator, true);
        self.pending = pending;
        self.backticks -= backtick;
        self.depth -= 1;
        end
    }

    /// Skips `(( … ))` or a balanced run of `open`/`close`.
    fn skip_balanced(&mut self, open: u8, close: u8) {
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            self.pos += 1;
            if b == open {
                depth += 1;
            } else if b == close {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return;
                }
            }
        }
    }

    /// Reads one word; quotes removed in `text`, substitutions kept as written.
    fn word(&mut self) -> (Word, Option<Open>) {
        let start = self.pos;
        let mut text: Vec<u8> = Vec::new();
        let mut open = None;
        while let Some(b) = self.peek() {
            if is_meta(b) || (b == b'`' && self.backticks > 0) {
                break;
            }
            match b {
                b'\\' => {
                    match self.peek_at(1) {
                        Some(b'\n') => {}
                        Some(c) => text.push(c),
                        None => {
                            self.pos += 1;
                            open = Some(Open::Backslash);
                            break;
                        }
                    }
                    self.pos += 2;
                }
                b'\'' => {
                    let quote_start = self.pos;
                    self.pos += 1;
                    match self.src[self.pos..].iter().position(|&c| c == b'\'') {
                        Some(len) => {
                            text.extend_from_slice(&self.src[self.pos..self.pos + len]);
                            self.pos += len + 1;
                            self.out.single_quoted.push(quote_start..self.pos);
                        }
                        None => {
                            text.extend_from_slice(&self.src[self.pos..]);
                            self.out.single_quoted.push(quote_start..self.src.len());
                            self.pos = self.src.len();
                            open = Some(Open::Quote('\''));
                            break;
                        }
                    }
                }
                b'"' => {
                    if let Some(o) = self.double_quoted(&mut text) {
                        open = Some(o);
                        break;
                    }
                }
                b'$' => {
                    if let Some(o) = self.dollar(&mut text) {
                        open = Some(o);
                        break;
                    }
                }
                b'`' => {
                    let sub_start = self.pos;
                    self.pos += 1;
                    let end = self.nested(Terminator::Backtick);
                    text.extend_from_slice(&self.src[sub_start..self.pos]);
                    if let ListEnd::Open(o) = end {
                        open = Some(o);
                        break;
                    }
                }
                _ => {
                    text.push(b);
                    self.pos += 1;
                }
            }
        }
        let word = Word { text: String::from_utf8_lossy(&text).into_owned(), span: start..self.pos };
        (word, open)
    }

    fn double_quoted(&mut self, text: &mut Vec<u8>) -> Option<Open> {
        let quote_start = self.pos;
        self.pos += 1;
        loop {
            let Some(b) = self.peek() else {
                self.out.double_quoted.push(quote_start..self.pos);
                return Some(Open::Quote('"'));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    self.out.double_quoted.push(quote_start..self.pos);
                    return None;
                }
                b'\\' => {
                    match self.peek_at(1) {
                        Some(c @ (b'"' | b'\\' | b'$' | b'`')) => text.push(c),
                        Some(b'\n') => {}
                        Some(c) => text.extend_from_slice(&[b'\\', c]),
                        None => {
                            self.pos += 1;
                            self.out.double_quoted.push(quote_start..self.pos);
                            return Some(Open::Quote('"'));
                        }
                    }
                    self.pos += 2;
                }
                b'$' => {
                    if let Some(open) = self.dollar(text) {
                        self.out.double_quoted.push(quote_start..self.pos);
                        return Some(open);
                    }
                }
                b'`' => {
                    let sub_start = self.pos;
                    self.pos += 1;
                    let end = self.nested(Terminator::Backtick);
                    text.extend_from_slice(&self.src[sub_start..self.pos]);
                    if let ListEnd::Open(open) = end {
                        self.out.double_quoted.push(quote_start..self.pos);
                        return Some(open);
                    }
                }
                _ => {
                    text.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    /// `${NAME…}` from its `$`: the name it reads, and the expansion appended as written.
    fn brace_expansion(&mut self, start: usize, text: &mut Vec<u8>) -> Option<Open> {
        self.pos += 2;
        let name_start = self.pos;
        let skip = usize::from(matches!(self.peek(), Some(b'#' | b'!')));
        self.pos += skip;
        let name_len = self.src[self.pos..].iter().take_while(|&&c| is_name_char(c)).count();
        if name_len > 0 && is_name_start(self.src[self.pos]) {
            let name = String::from_utf8_lossy(&self.src[self.pos..self.pos + name_len]).into_owned();
            self.out.uses.push(VarUse { name, offset: start });
        }
        self.pos = name_start;
        let mut depth = 1usize;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                b'\\' => self.pos += 1,
                _ => {}
            }
        }
        self.pos = self.pos.min(self.src.len());
        text.extend_from_slice(&self.src[start..self.pos]);
        (depth > 0).then_some(Open::Substitution)
    }

    /// `$NAME`, `${…}`, `$(…)`, `$((…))`, `$'…'`, `$1`, `$?`; appends it as written.
    fn dollar(&mut self, text: &mut Vec<u8>) -> Option<Open> {
        let start = self.pos;
        match self.peek_at(1) {
            Some(b'(') if self.peek_at(2) == Some(b'(') => {
                self.pos += 1;
                self.skip_balanced(b'(', b')');
                if !self.src[start..self.pos].ends_with(b"))") {
                    text.extend_from_slice(&self.src[start..self.pos]);
                    return Some(Open::Substitution);
                }
            }
            Some(b'(') => {
                self.pos += 2;
                let end = self.nested(Terminator::Paren);
                text.extend_from_slice(&self.src[start..self.pos]);
                return match end {
                    ListEnd::Open(open) => Some(open),
                    ListEnd::Done => None,
                };
            }
            Some(b'{') => {
                if let Some(open) = self.brace_expansion(start, text) {
                    return Some(open);
                }
            }
            Some(b'\'') => {
                // ANSI-C quoting: `$'a\'b'`.
                self.pos += 2;
                while let Some(b) = self.peek() {
                    self.pos += 1;
                    match b {
                        b'\\' => self.pos += 1,
                        b'\'' => break,
                        _ => {}
                    }
                }
                self.pos = self.pos.min(self.src.len());
                text.extend_from_slice(&self.src[start..self.pos]);
            }
            Some(c) if is_name_start(c) => {
                self.pos += 1;
                let len = self.src[self.pos..].iter().take_while(|&&c| is_name_char(c)).count();
                let name = String::from_utf8_lossy(&self.src[self.pos..self.pos + len]).into_owned();
                self.pos += len;
                self.out.uses.push(VarUse { name, offset: start });
                text.extend_from_slice(&self.src[start..self.pos]);
            }
            Some(c) if c.is_ascii_digit() || b"?#@*!$-".contains(&c) => {
                self.pos += 2;
                text.extend_from_slice(&self.src[start..self.pos]);
            }
            _ => {
                self.pos += 1;
                text.push(b'$');
            }
        }
        None
    }
}

fn word_is_reserved(word: &str) -> bool {
    matches!(
        word,
        "if" | "then"
            | "else"
            | "elif"
            | "fi"
            | "do"
            | "done"
            | "while"
            | "until"
            | "for"
            | "select"
            | "case"
            | "esac"
            | "{"
            | "}"
            | "!"
            | "function"
            | "[["
            | "time"
    )
}

/// `NAME=…` or `NAME+=…` or `NAME[i]=…` as written (the `=` unquoted): the name.
fn assignment_name(raw: &[u8]) -> Option<String> {
    if !raw.first().is_some_and(|&b| is_name_start(b)) {
        return None;
    }
    let len = raw.iter().take_while(|&&b| is_name_char(b)).count();
    let rest = &raw[len..];
    let ok = rest.starts_with(b"=") || rest.starts_with(b"+=") || (rest.starts_with(b"[") && rest.contains(&b'='));
    ok.then(|| String::from_utf8_lossy(&raw[..len]).into_owned())
}

fn plain_name(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (bytes.first().is_some_and(|&b| is_name_start(b)) && bytes.iter().all(|&b| is_name_char(b)))
        .then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs(text: &str) -> Vec<String> {
        lex(text).commands.iter().filter_map(|c| c.program().map(str::to_string)).collect()
    }

    #[test]
    fn splits_lists_and_pipelines() {
        assert_eq!(programs("oc get pods | grep x && echo ok; ls"), ["oc", "grep", "echo", "ls"]);
        assert_eq!(programs("a || b & c"), ["a", "b", "c"]);
    }

    #[test]
    fn substitutions_are_commands_too() {
        let lexed = lex("oc logs $(oc get pod -l app=x -o name) -c `whoami`");
        let nested: Vec<_> = lexed.commands.iter().filter(|c| c.nested).filter_map(|c| c.program()).collect();
        assert_eq!(nested, ["oc", "whoami"]);
        assert_eq!(programs("diff <(ls a) <(ls b)"), ["ls", "ls", "diff"]);
        assert_eq!(programs("echo \"$(rm -rf /x)\""), ["rm", "echo"]);
    }

    #[test]
    fn completeness() {
        assert!(lex("echo hi").is_complete());
        assert_eq!(lex("echo 'open").open, Some(Open::Quote('\'')));
        assert_eq!(lex("echo \"open").open, Some(Open::Quote('"')));
        assert_eq!(lex("oc get pods \\").open, Some(Open::Backslash));
        assert!(lex("oc get pods \\\n  -n x").is_complete());
        assert_eq!(lex("oc get pods |").open, Some(Open::Operator));
        assert_eq!(lex("a &&").open, Some(Open::Operator));
        assert!(lex("a &&\nb").is_complete());
        assert_eq!(lex("cat <<EOF\nx\n").open, Some(Open::Heredoc("EOF".into())));
        assert!(lex("cat <<EOF\nx\nEOF").is_complete());
        assert_eq!(lex("echo $(date").open, Some(Open::Substitution));
        assert_eq!(lex("for i in 1 2; do").open, Some(Open::Compound("done")));
        assert!(lex("for i in 1 2; do echo $i; done").is_complete());
        assert_eq!(lex("if true; then").open, Some(Open::Compound("fi")));
        assert!(lex("if [[ $a < 3 ]]; then echo; fi").is_complete());
        assert!(lex("case $x in a) echo a;; *) echo b;; esac").is_complete());
    }

    #[test]
    fn heredocs() {
        let lexed = lex("cat <<'EOF' | oc apply -f -\nkind: Pod\nname: $X\nEOF\necho done");
        assert_eq!(lexed.heredocs.len(), 1);
        assert!(lexed.heredocs[0].quoted);
        assert_eq!(
            &"cat <<'EOF' | oc apply -f -\nkind: Pod\nname: $X\nEOF\necho done"[lexed.heredocs[0].body.clone()],
            "kind: Pod\nname: $X\n"
        );
        assert!(lexed.uses.is_empty(), "quoted heredoc bodies are not expanded");
        assert_eq!(programs("cat <<EOF | oc apply -f -\nkind: Pod\nEOF\necho done"), ["cat", "oc", "echo"]);
        let lexed = lex("cat <<-EOF\n\tname: $NAME\n\tEOF\n");
        assert!(lexed.is_complete());
        assert_eq!(lexed.uses[0].name, "NAME");
    }

    #[test]
    fn redirections() {
        let lexed = lex("oc get pod x -o yaml > pod.yaml 2>&1");
        let c = &lexed.commands[0];
        assert_eq!(c.redirects.len(), 2);
        assert!(c.redirects[0].writes_file());
        assert!(!c.redirects[1].writes_file());
        assert!(!lex("ls 2>/dev/null").commands[0].redirects[0].writes_file());
        assert!(lex("echo x >> /etc/hosts").commands[0].redirects[0].writes_file());
        assert!(lex("cmd &> out.log").commands[0].redirects[0].writes_file());
        assert_eq!(lex("wc -l < file").commands[0].redirects[0].op, "<");
        assert_eq!(lex("wc -l < file").commands[0].words.len(), 2);
    }

    #[test]
    fn variables() {
        let lexed = lex("NS=openshift; oc get pods -n \"$NS\" ${POD:-x} '$NOT' $1 $?");
        let uses: Vec<&str> = lexed.uses.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(uses, ["NS", "POD"]);
        assert_eq!(lexed.assigned[0].0, "NS");
        let lexed = lex("export A=1 B; read -r C; for D in x; do echo; done; local E=2");
        let names: Vec<&str> = lexed.assigned.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["A", "B", "C", "D", "E"]);
        assert!(lex("A=1").commands[0].words.is_empty());
        assert_eq!(lex("A=1 env").commands[0].program(), Some("env"));
    }

    #[test]
    fn comments_and_quotes() {
        let lexed = lex("echo 'a # b' # c\n# whole line");
        assert_eq!(lexed.commands.len(), 1);
        assert_eq!(lexed.commands[0].words[1].text, "a # b");
        assert_eq!(lexed.comments.len(), 2);
        assert_eq!(lex("echo a\\ b").commands[0].words[1].text, "a b");
        assert_eq!(lex("echo \"a \\\"b\\\"\"").commands[0].words[1].text, "a \"b\"");
    }

    #[test]
    fn functions_and_reserved_words() {
        assert_eq!(programs("f() { oc get x; }; f"), ["oc", "f"]);
        assert_eq!(programs("while read l; do echo $l; done < f"), ["read", "echo"]);
        assert_eq!(programs("! grep -q x f"), ["grep"]);
        assert_eq!(programs("( cd /x && ls )"), ["cd", "ls"]);
    }

    #[test]
    fn never_panics_on_odd_input() {
        for text in [
            "$",
            "${",
            "$((",
            "$(",
            "`",
            "'",
            "\"",
            "\\",
            "<<",
            "<<'",
            "2>",
            "&>",
            ")",
            "((",
            "]]",
            "[[ a",
            "$'\\",
            "${a",
            "cat <<E\r\nE\r\n",
            "é$é`é",
            "((((((((",
            "$($($($($($($($($(",
            "case",
            "for",
            "<(",
            "a=(1 2)",
            "f() {",
            "echo ${x:-$(date)}",
            "`echo $(a ` b)`",
            "`$(`",
            "&>",
            "a &>",
        ] {
            let _ = lex(text);
        }
        let deep = "$(".repeat(5000);
        assert!(!lex(&deep).is_complete());
    }
}

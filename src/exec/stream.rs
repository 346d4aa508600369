//! One output stream of a step, consumed as it is produced: redacted, written to its log file,
//! matched line by line, captured, and kept only as a bounded tail — so memory stays flat
//! whether a step prints ten lines or a gigabyte.

use super::check::LineScanner;
use super::redact::Redactor;
use crate::record::CheckResult;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};

/// Bytes of the end of each stream kept in `run.json`.
pub(crate) const TAIL_BYTES: usize = 8 * 1024;
/// Bytes of the start of stdout visible to templates as `steps.<id>.stdout`.
pub(crate) const HEAD_BYTES: usize = 1024 * 1024;
/// Lines longer than this are handled in pieces (a binary blob has no newlines at all).
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// Bytes per stream and step echoed live; the rest is only in the log file.
pub(crate) const LIVE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamKind {
    Stdout,
    Stderr,
}

impl StreamKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        }
    }
}

/// What a stream amounted to.
#[derive(Debug, Clone, Default)]
pub(crate) struct StreamSummary {
    pub bytes: u64,
    pub tail: String,
    pub truncated: bool,
    /// The first [`HEAD_BYTES`] (stdout only; for templates).
    pub head: String,
    pub checks: Vec<CheckResult>,
    /// Capture name → value (the first group of the first matching line).
    pub captures: Vec<(String, Option<String>)>,
    /// Why the log file could not be written, if it could not.
    pub log_error: Option<String>,
}

/// How one stream is to be consumed.
pub(crate) struct StreamSink {
    pub kind: StreamKind,
    pub redactor: Redactor,
    /// The log file, created (in append mode) when the first output arrives: a quiet step leaves
    /// no empty files behind, and retries add to the same log.
    pub log: Option<std::path::PathBuf>,
    pub scanner: Option<LineScanner>,
    pub captures: Vec<(String, regex::Regex)>,
    pub keep_head: bool,
}

/// Where live lines go: the stream they came from and the text (redacted, printable).
pub(crate) type Live<'a> = dyn FnMut(StreamKind, &str) + 'a;

/// One stream being consumed, chunk by chunk as the process writes it.
pub(crate) struct StreamState {
    kind: StreamKind,
    redactor: Redactor,
    log_path: Option<std::path::PathBuf>,
    log: Option<BufWriter<File>>,
    log_error: Option<String>,
    scanner: Option<LineScanner>,
    captures: Vec<(String, regex::Regex, Option<String>)>,
    tail: VecDeque<String>,
    tail_bytes: usize,
    /// Some output did not fit in the tail.
    tail_dropped: bool,
    head: Option<String>,
    bytes: u64,
    nonblank: u64,
    live_bytes: u64,
    live_cut: bool,
    /// A line not yet ended by a newline.
    pending: Vec<u8>,
    /// The output goes straight to the log (see [`StreamState::pass_through`]).
    passing_through: bool,
    /// Reused for the printable copy of live lines.
    scratch: String,
}

impl StreamState {
    pub(crate) fn new(sink: StreamSink) -> StreamState {
        StreamState {
            kind: sink.kind,
            redactor: sink.redactor,
            log_path: sink.log,
            log: None,
            log_error: None,
            scanner: sink.scanner,
            captures: sink.captures.into_iter().map(|(n, r)| (n, r, None)).collect(),
            tail: VecDeque::new(),
            tail_bytes: 0,
            tail_dropped: false,
            head: sink.keep_head.then(String::new),
            bytes: 0,
            nonblank: 0,
            live_bytes: 0,
            live_cut: false,
            pending: Vec::new(),
            passing_through: false,
            scratch: String::new(),
        }
    }

    /// Consumes one chunk of output as the process wrote it.
    pub(crate) fn feed(&mut self, chunk: &[u8], live: &mut Live) {
        self.bytes += chunk.len() as u64;
        let mut rest = chunk;
        while let Some(newline) = memchr::memchr(b'\n', rest) {
            if self.pending.is_empty() {
                self.line(&rest[..newline], true, live);
            } else {
                self.pending.extend_from_slice(&rest[..newline]);
                let line = std::mem::take(&mut self.pending);
                self.line(&line, true, live);
            }
            rest = &rest[newline + 1..];
        }
        self.unterminated(rest, live);
    }

    /// Output after the last newline: kept for the next chunk, and handled in pieces of at most
    /// [`MAX_LINE`] when it grows longer (a binary blob has no newlines at all).
    fn unterminated(&mut self, bytes: &[u8], live: &mut Live) {
        if self.pending.len() + bytes.len() <= MAX_LINE {
            self.pending.extend_from_slice(bytes);
            return;
        }
        if self.pending.is_empty() {
            return self.pieces(bytes, live);
        }
        // Complete the piece begun earlier, then cut the rest straight from the chunk.
        let fill = MAX_LINE - self.pending.len();
        let mut piece = std::mem::take(&mut self.pending);
        piece.extend_from_slice(&bytes[..fill]);
        let cut = self.redactor.safe_cut(&piece).max(1);
        self.line(&piece[..cut], false, live);
        if cut == piece.len() {
            self.pieces(&bytes[fill..], live);
        } else {
            // The piece ended with the start of a secret: that goes on with the rest.
            let mut rest = piece.split_off(cut);
            rest.extend_from_slice(&bytes[fill..]);
            self.pieces(&rest, live);
        }
    }

    /// Cuts `bytes` (no newline in it; nothing pending) into pieces of at most [`MAX_LINE`],
    /// keeping the last short piece pending.
    fn pieces(&mut self, bytes: &[u8], live: &mut Live) {
        let mut start = 0;
        while bytes.len() - start > MAX_LINE {
            let cut = self.redactor.safe_cut(&bytes[start..start + MAX_LINE]).max(1);
            self.line(&bytes[start..start + cut], false, live);
            start += cut;
        }
        self.pending.extend_from_slice(&bytes[start..]);
    }

    /// The end of the stream: the last unterminated line, then the summary.
    pub(crate) fn finish(mut self, live: &mut Live) -> StreamSummary {
        if !self.pending.is_empty() {
            let last = std::mem::take(&mut self.pending);
            self.line(&last, false, live);
        }
        self.summary()
    }

    /// The log file, when the rest of the stream can go to it untouched: nothing needs to see
    /// the output any more (no secret to mask, no pattern or capture left to find, the live view
    /// and the head are full). Everything so far is in the file first; from here on the caller
    /// moves the bytes itself (`splice`) and reports them with [`StreamState::passed_through`].
    pub(crate) fn pass_through(&mut self) -> Option<&File> {
        if !self.passing_through {
            let needed = !self.redactor.is_empty()
                || self.scanner.is_some()
                || self.captures.iter().any(|(_, _, value)| value.is_none())
                || !self.live_cut
                || self.head.as_ref().is_some_and(|head| head.len() < HEAD_BYTES);
            if needed || self.log_error.is_some() {
                return None;
            }
            let pending = std::mem::take(&mut self.pending);
            let log = self.log.as_mut()?;
            if let Err(err) = log.write_all(&pending).and_then(|()| log.flush()) {
                self.log_error = Some(err.to_string());
                self.log = None;
                return None;
            }
            self.passing_through = true;
        }
        self.log.as_ref().map(BufWriter::get_ref)
    }

    /// `count` more bytes went straight to the log file.
    pub(crate) fn passed_through(&mut self, count: u64) {
        self.bytes += count;
    }

    /// Moving bytes to the log failed: `problem` says why; the rest of the output is only counted.
    pub(crate) fn pass_through_failed(&mut self, problem: String) {
        self.log_error = Some(problem);
        self.log = None;
    }

    /// One line (or piece of a long line) of raw output.
    fn line(&mut self, raw: &[u8], complete: bool, live: &mut Live) {
        let raw = self.redactor.redact_bytes(raw);
        if self.log.is_none()
            && let Some(path) = self.log_path.take()
        {
            // Not O_APPEND: `splice` refuses such files. Retries add to the end all the same.
            let opened =
                std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path).and_then(
                    |mut file| {
                        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0))?;
                        Ok(file)
                    },
                );
            match opened {
                Ok(file) => self.log = Some(BufWriter::with_capacity(64 * 1024, file)),
                Err(err) => self.log_error = Some(format!("{}: {err}", path.display())),
            }
        }
        if let Some(log) = &mut self.log {
            let written = log.write_all(&raw).and_then(|()| if complete { log.write_all(b"\n") } else { Ok(()) });
            if let Err(err) = written {
                self.log_error = Some(err.to_string());
                self.log = None;
            }
        }
        let text = String::from_utf8_lossy(&raw);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        self.nonblank += text.trim().len() as u64;
        if let Some(scanner) = &mut self.scanner {
            scanner.line(text);
        }
        for (_, regex, value) in &mut self.captures {
            if value.is_none()
                && let Some(group) = regex.captures(text).and_then(|c| c.get(1))
            {
                *value = Some(group.as_str().to_string());
            }
        }
        if let Some(head) = &mut self.head
            && head.len() < HEAD_BYTES
        {
            let room = HEAD_BYTES - head.len();
            let piece = floor_str(text, room);
            if head.len() + piece.len() > 64 * 1024 && head.capacity() < HEAD_BYTES {
                // Large output: one allocation of the whole head, not a doubling chain.
                head.reserve_exact(HEAD_BYTES + 1 - head.len());
            }
            head.push_str(piece);
            if complete && head.len() < HEAD_BYTES {
                head.push('\n');
            }
        }
        self.push_tail(text);
        self.send_live(text, live);
    }

    fn push_tail(&mut self, text: &str) {
        let kept = ceil_tail(text, TAIL_BYTES);
        self.tail_dropped |= kept.len() < text.len();
        let text = kept;
        self.tail_bytes += text.len() + 1;
        self.tail.push_back(text.to_string());
        while self.tail_bytes > TAIL_BYTES && self.tail.len() > 1 {
            if let Some(front) = self.tail.pop_front() {
                self.tail_bytes -= front.len() + 1;
                self.tail_dropped = true;
            }
        }
    }

    fn send_live(&mut self, text: &str, live: &mut Live) {
        if self.live_cut {
            return;
        }
        if self.live_bytes + text.len() as u64 > LIVE_BYTES {
            self.live_cut = true;
            let notice = format!(
                "… more {} than {} MiB: the rest is only in the log file",
                self.kind.as_str(),
                LIVE_BYTES / (1024 * 1024)
            );
            live(self.kind, &notice);
            return;
        }
        self.live_bytes += text.len() as u64 + 1;
        live(self.kind, printable(text, &mut self.scratch));
    }

    fn summary(mut self) -> StreamSummary {
        if let Some(log) = &mut self.log
            && let Err(err) = log.flush()
        {
            self.log_error = Some(err.to_string());
        }
        if self.passing_through
            && let Some(log) = &self.log
        {
            match tail_of_file(log.get_ref()) {
                Ok(tail) => self.tail = tail,
                Err(err) => self.log_error = Some(err.to_string()),
            }
            self.tail_dropped = true;
        }
        let checks = match self.scanner.take() {
            Some(mut scanner) => {
                scanner.bytes(self.nonblank);
                scanner.finish()
            }
            None => Vec::new(),
        };
        StreamSummary {
            bytes: self.bytes,
            truncated: self.tail_dropped,
            tail: self.tail.into_iter().collect::<Vec<_>>().join("\n"),
            head: self.head.unwrap_or_default(),
            checks,
            captures: self.captures.into_iter().map(|(n, _, v)| (n, v)).collect(),
            log_error: self.log_error,
        }
    }
}

/// The last lines of a log file, up to [`TAIL_BYTES`], as the tail of a stream that went to the
/// file untouched: whole lines where they fit, else the end of the last one.
fn tail_of_file(file: &File) -> std::io::Result<VecDeque<String>> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES as u64 + 1);
    let mut bytes = vec![0u8; (len - start) as usize];
    file.read_exact_at(&mut bytes, start)?;
    let end = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let mut lines: Vec<&[u8]> = end.split(|b| *b == b'\n').collect();
    if lines.len() > 1 && start > 0 {
        // The first line starts before the window.
        lines.remove(0);
    }
    let mut tail = VecDeque::new();
    let mut size = 0;
    for line in lines.into_iter().rev() {
        let text = String::from_utf8_lossy(line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        if !tail.is_empty() && size + text.len() + 1 > TAIL_BYTES {
            break;
        }
        let kept = ceil_tail(text, TAIL_BYTES);
        size += kept.len() + 1;
        tail.push_front(kept.to_string());
    }
    Ok(tail)
}

/// Control characters (other than tab and ANSI escapes) would garble the terminal; `scratch`
/// holds the text when some must be replaced.
fn printable<'a>(text: &'a str, scratch: &'a mut String) -> &'a str {
    let replace = |c: char| c.is_control() && c != '\t' && c != '\u{1b}';
    if !text.chars().any(replace) {
        return text;
    }
    scratch.clear();
    scratch.extend(text.chars().map(|c| if replace(c) { '·' } else { c }));
    scratch
}

/// The longest prefix of `text` of at most `max` bytes, on a character boundary.
fn floor_str(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The longest suffix of `text` of at most `max` bytes, on a character boundary.
fn ceil_tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], secrets: &[&str]) -> (StreamSummary, Vec<String>) {
        let sink = StreamSink {
            kind: StreamKind::Stdout,
            redactor: Redactor::new(secrets.iter().map(|s| s.to_string())),
            log: None,
            scanner: None,
            captures: vec![("v".into(), regex::Regex::new(r"version (\S+)").unwrap())],
            keep_head: true,
        };
        let mut lines = Vec::new();
        let mut state = StreamState::new(sink);
        let mut live = |_: StreamKind, line: &str| lines.push(line.to_string());
        // Odd chunk sizes: lines and secrets straddle chunk boundaries.
        for chunk in input.chunks(7) {
            state.feed(chunk, &mut live);
        }
        let summary = state.finish(&mut live);
        (summary, lines)
    }

    #[test]
    fn lines_captures_and_redaction() {
        let (summary, lines) = run(b"hello\nversion 1.2 token=hunter2\nlast", &["hunter2"]);
        assert_eq!(lines, vec!["hello", "version 1.2 token=****", "last"]);
        assert_eq!(summary.captures, vec![("v".to_string(), Some("1.2".to_string()))]);
        assert_eq!(summary.tail, "hello\nversion 1.2 token=****\nlast");
        assert_eq!(summary.head, "hello\nversion 1.2 token=****\nlast");
        assert!(!summary.truncated);
    }

    #[test]
    fn memory_stays_bounded() {
        let big = vec![b'x'; 3 * MAX_LINE + 17];
        let (summary, _) = run(&big, &[]);
        assert_eq!(summary.bytes, big.len() as u64);
        assert!(summary.tail.len() <= TAIL_BYTES);
        assert!(summary.truncated);
        assert!(summary.head.len() <= HEAD_BYTES);
    }

    #[test]
    fn a_secret_split_across_pieces_is_still_masked() {
        let mut input = vec![b'a'; MAX_LINE - 3];
        input.extend_from_slice(b"hunter2 tail");
        let (summary, _) = run(&input, &["hunter2"]);
        assert!(summary.tail.contains("**** tail"), "{}", &summary.tail[summary.tail.len() - 20..]);
        assert!(!summary.tail.contains("hunter2"));
    }
}

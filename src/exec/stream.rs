//! One output stream of a step, consumed as it is produced: redacted, written to its log file,
//! matched line by line, captured, and kept only as a bounded tail — so memory stays flat
//! whether a step prints ten lines or a gigabyte.

use super::check::{CheckResult, LineScanner};
use super::redact::Redactor;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::sync::mpsc::Sender;

/// Bytes of the end of each stream kept in `run.json`.
pub const TAIL_BYTES: usize = 8 * 1024;
/// Bytes of the start of stdout visible to templates as `steps.<id>.stdout`.
pub const HEAD_BYTES: usize = 1024 * 1024;
/// Lines longer than this are handled in pieces (a binary blob has no newlines at all).
pub const MAX_LINE: usize = 64 * 1024;
/// Bytes per stream and step echoed live; the rest is only in the log file.
pub const LIVE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

impl StreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        }
    }
}

/// Messages from the stream readers and the process waiter to the thread that shows progress.
#[derive(Debug)]
pub enum Event {
    Line(StreamKind, String),
    /// Live output of a stream stopped at [`LIVE_BYTES`].
    LiveCut(StreamKind),
    Exited(std::io::Result<std::process::ExitStatus>),
    Done(StreamKind, Box<StreamSummary>),
}

/// What a stream amounted to.
#[derive(Debug, Clone, Default)]
pub struct StreamSummary {
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

/// Everything a reader thread needs to consume one stream.
pub struct StreamSink {
    pub kind: StreamKind,
    pub redactor: Redactor,
    pub log: Option<File>,
    pub scanner: Option<LineScanner>,
    pub captures: Vec<(String, regex::Regex)>,
    pub keep_head: bool,
    pub live: Sender<Event>,
}

struct State {
    kind: StreamKind,
    redactor: Redactor,
    log: Option<BufWriter<File>>,
    log_error: Option<String>,
    scanner: Option<LineScanner>,
    captures: Vec<(String, regex::Regex, Option<String>)>,
    tail: VecDeque<String>,
    tail_bytes: usize,
    head: Option<String>,
    bytes: u64,
    nonblank: u64,
    live: Sender<Event>,
    live_bytes: u64,
    live_cut: bool,
}

/// Reads `reader` to its end; returns the summary (also sent as [`Event::Done`]).
pub fn pump(mut reader: impl Read, sink: StreamSink) {
    let mut state = State {
        kind: sink.kind,
        redactor: sink.redactor,
        log: sink.log.map(|f| BufWriter::with_capacity(64 * 1024, f)),
        log_error: None,
        scanner: sink.scanner,
        captures: sink.captures.into_iter().map(|(n, r)| (n, r, None)).collect(),
        tail: VecDeque::new(),
        tail_bytes: 0,
        head: sink.keep_head.then(String::new),
        bytes: 0,
        nonblank: 0,
        live: sink.live,
        live_bytes: 0,
        live_cut: false,
    };
    let mut buffer = vec![0u8; 128 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        state.bytes += read as u64;
        let mut chunk = &buffer[..read];
        while let Some(newline) = chunk.iter().position(|&b| b == b'\n') {
            if pending.is_empty() {
                state.line(&chunk[..newline], true);
            } else {
                pending.extend_from_slice(&chunk[..newline]);
                let line = std::mem::take(&mut pending);
                state.line(&line, true);
            }
            chunk = &chunk[newline + 1..];
        }
        pending.extend_from_slice(chunk);
        while pending.len() > MAX_LINE {
            let cut = state.redactor.safe_cut(&pending[..MAX_LINE]).max(1);
            let rest = pending.split_off(cut);
            let piece = std::mem::replace(&mut pending, rest);
            state.line(&piece, false);
        }
    }
    if !pending.is_empty() {
        state.line(&pending, false);
    }
    let kind = state.kind;
    let live = state.live.clone();
    let _ = live.send(Event::Done(kind, Box::new(state.finish())));
}

impl State {
    /// One line (or piece of a long line) of raw output.
    fn line(&mut self, raw: &[u8], complete: bool) {
        let raw = self.redactor.redact_bytes(raw);
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
            head.push_str(floor_str(text, room));
            if complete && head.len() < HEAD_BYTES {
                head.push('\n');
            }
        }
        self.push_tail(text);
        self.send_live(text);
    }

    fn push_tail(&mut self, text: &str) {
        let text = ceil_tail(text, TAIL_BYTES);
        self.tail_bytes += text.len() + 1;
        self.tail.push_back(text.to_string());
        while self.tail_bytes > TAIL_BYTES && self.tail.len() > 1 {
            if let Some(front) = self.tail.pop_front() {
                self.tail_bytes -= front.len() + 1;
            }
        }
    }

    fn send_live(&mut self, text: &str) {
        if self.live_cut {
            return;
        }
        if self.live_bytes + text.len() as u64 > LIVE_BYTES {
            self.live_cut = true;
            let _ = self.live.send(Event::LiveCut(self.kind));
            return;
        }
        self.live_bytes += text.len() as u64 + 1;
        let _ = self.live.send(Event::Line(self.kind, printable(text)));
    }

    fn finish(mut self) -> StreamSummary {
        if let Some(log) = &mut self.log
            && let Err(err) = log.flush()
        {
            self.log_error = Some(err.to_string());
        }
        let label = self.kind.as_str();
        let checks = match self.scanner.take() {
            Some(mut scanner) => {
                scanner.bytes(self.nonblank);
                scanner.finish()
            }
            None => Vec::new(),
        };
        let kept: usize = self.tail.iter().map(|l| l.len() + 1).sum();
        let _ = label;
        StreamSummary {
            bytes: self.bytes,
            truncated: (kept as u64) < self.bytes,
            tail: self.tail.into_iter().collect::<Vec<_>>().join("\n"),
            head: self.head.unwrap_or_default(),
            checks,
            captures: self.captures.into_iter().map(|(n, _, v)| (n, v)).collect(),
            log_error: self.log_error,
        }
    }
}

/// Control characters (other than tab and ANSI escapes) would garble the terminal.
fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() && c != '\t' && c != '\u{1b}' { '·' } else { c }).collect()
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
    use std::sync::mpsc::channel;

    fn run(input: &[u8], secrets: &[&str]) -> (StreamSummary, Vec<String>) {
        let (tx, rx) = channel();
        let sink = StreamSink {
            kind: StreamKind::Stdout,
            redactor: Redactor::new(secrets.iter().map(|s| s.to_string())),
            log: None,
            scanner: None,
            captures: vec![("v".into(), regex::Regex::new(r"version (\S+)").unwrap())],
            keep_head: true,
            live: tx,
        };
        pump(input, sink);
        let mut lines = Vec::new();
        let mut summary = None;
        for event in rx.try_iter() {
            match event {
                Event::Line(_, l) => lines.push(l),
                Event::Done(_, s) => summary = Some(*s),
                _ => {}
            }
        }
        (summary.unwrap(), lines)
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

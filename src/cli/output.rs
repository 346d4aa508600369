//! Terminal output: colour choice (`--color`, `NO_COLOR`) and the few styles we use.

use super::ColorMode;
use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};
use std::io::Write;

/// Buffered stdout that strips styles when colours are off. Flush before exiting.
pub(super) type Stdout = std::io::BufWriter<AutoStream<std::io::StdoutLock<'static>>>;

fn choice(mode: ColorMode) -> ColorChoice {
    match mode {
        ColorMode::Auto => ColorChoice::Auto,
        ColorMode::Always => ColorChoice::Always,
        ColorMode::Never => ColorChoice::Never,
    }
}

pub(super) fn stdout(mode: ColorMode) -> Stdout {
    let choice = match mode {
        ColorMode::Auto => AutoStream::choice(&std::io::stdout()),
        other => choice(other),
    };
    std::io::BufWriter::with_capacity(64 * 1024, AutoStream::new(std::io::stdout().lock(), choice))
}

/// Buffered stdout as it is, for JSON: a JSON document holds no styles (control characters in
/// its strings are escaped), so there is nothing to strip, and `list --json` of a large KB is
/// tens of megabytes not worth scanning for escapes.
pub(super) fn json_stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock())
}

pub(super) fn stderr(mode: ColorMode) -> AutoStream<std::io::Stderr> {
    let choice = match mode {
        ColorMode::Auto => anstream::AutoStream::choice(&std::io::stderr()),
        other => choice(other),
    };
    AutoStream::new(std::io::stderr(), choice)
}

pub(super) const BOLD: Style = Style::new().bold();
pub(super) const DIM: Style = Style::new().dimmed();
pub(super) const RED: Style = AnsiColor::Red.on_default().bold();
pub(super) const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
pub(super) const GREEN: Style = AnsiColor::Green.on_default();
pub(super) const CYAN: Style = AnsiColor::Cyan.on_default();
pub(super) const HEADING: Style = AnsiColor::Cyan.on_default().bold();

/// `text` wrapped in `style` (stripped later when colours are off).
pub(super) fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// `error: message` plus an optional `hint:` line.
pub(super) fn error_line<W: Write>(out: &mut W, message: &str, hint: Option<&str>) {
    let _ = writeln!(out, "{} {message}", paint(RED, "error:"));
    if let Some(hint) = hint {
        let _ = writeln!(out, "  {} {hint}", paint(CYAN, "hint:"));
    }
}

/// Whether styled output goes to stdout (for writers that do not strip styles themselves).
pub(super) fn use_color(mode: ColorMode) -> bool {
    match mode {
        ColorMode::Always => true,
        ColorMode::Never => false,
        ColorMode::Auto => !matches!(AutoStream::choice(&std::io::stdout()), ColorChoice::Never),
    }
}

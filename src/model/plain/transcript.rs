//! What a shell block of a doc holds: a script, a transcript (prompt lines with their output),
//! or output only. In a transcript only prompt lines run — with their continuations (`\`, open
//! quotes, heredocs, `|` at the end) — and the other lines are the output the doc expects.

use super::classify::is_known_program;
use super::shell::{self, Open};
use regex::Regex;
use std::sync::OnceLock;

/// The language a fence says it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Lang {
    /// `bash`, `sh`, `shell`, `zsh`, `ksh`: a script, or a transcript when it has prompts.
    Shell,
    /// `console`, `shell-session`, `terminal`: a transcript, or output when it has no prompts.
    Console,
    /// `powershell`, `pwsh`, `ps1`.
    PowerShell,
    /// No info string, `text`, `txt`, `plaintext`: a transcript only with `$ ` prompts.
    Untyped,
}

impl Lang {
    /// The language of a fence's info string, if it may hold commands at all.
    pub(crate) fn of_info(info: &str) -> Option<Lang> {
        let word = info.trim().trim_start_matches(['{', '.']).split([' ', '\t', ',', '{', '}']).next().unwrap_or("");
        Some(match word.to_ascii_lowercase().as_str() {
            "bash" | "sh" | "shell" | "zsh" | "ksh" | "fish" => Lang::Shell,
            "console" | "shell-session" | "shellsession" | "sh-session" | "bash-session" | "terminal" => Lang::Console,
            "powershell" | "pwsh" | "ps1" | "ps" => Lang::PowerShell,
            "" | "text" | "txt" | "plaintext" | "plain" | "output" => Lang::Untyped,
            _ => return None,
        })
    }
}

/// How a line opens a command.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "text")]
pub(crate) enum Prompt {
    /// A line of a script (no prompt).
    None,
    /// `$ `
    Dollar,
    /// `# ` (a root prompt).
    Root,
    /// `PS> `, `PS C:\> `
    PowerShell,
    /// `sh-4.4# `, `[root@host ~]# `, `user@host:~$ `: a prompt naming where it runs.
    Named(String),
}

/// One command of a block: its text (prompt removed, continuation lines joined), where it is,
/// and the output lines the doc shows after it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub text: String,
    /// 0-based line of the block where the command starts, and the column its text starts at.
    pub line: usize,
    pub column: usize,
    pub prompt: Prompt,
    pub output: Vec<String>,
    /// The command never ends in the block (an unclosed quote or heredoc), and why. Read by
    /// the tests that pin how a transcript was cut into commands.
    #[cfg_attr(not(test), allow(dead_code))]
    pub open: Option<Open>,
    /// A `# VAR=<placeholder>` comment: it binds a variable (it runs as the assignment).
    #[cfg_attr(not(test), allow(dead_code))]
    pub binding: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Shape {
    /// Commands without prompts: the whole block runs.
    Script,
    /// Prompt lines run; the rest is expected output.
    Transcript,
    /// No prompt lines in a console block: output only, never run.
    Output,
    /// Not shell at all (an untyped block without `$ ` prompts).
    NotShell,
}

#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub shape: Shape,
    pub entries: Vec<Entry>,
}

fn dollar_prompt() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(\s*)\$(?: (.*)|$)").expect("valid regex"))
}

fn named_prompt() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^(\s*)((?:\[[^\]\n]{1,60}\]|[\w.-]+@[\w.-]+(?::[^\s$#]*)?|(?:ba|z|k|c)?sh-\d+(?:\.\d+)*)\s?[$#]) (.*)$",
        )
        .expect("valid regex")
    })
}

fn powershell_prompt() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(\s*)PS(?: [^>\n]{1,80})?> (.*)$").expect("valid regex"))
}

fn root_prompt() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(\s*)# (.*)$").expect("valid regex"))
}

/// `VAR=<…>` or `VAR='<…>'`: a binding, also when written as a comment.
fn binding() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r#"^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=["']?<[^<>\n]+>["']?\s*$"#).expect("valid regex")
    })
}

/// A prompt line: the prompt, the column the command starts at, and the command text.
fn prompt_of(line: &str, root_allowed: bool) -> Option<(Prompt, usize, &str)> {
    let col = |m: regex::Match| line[..m.start()].chars().count();
    if let Some(caps) = dollar_prompt().captures(line) {
        let text = caps.get(2).map(|m| m.as_str()).unwrap_or("");
        let column = caps.get(2).map(col).unwrap_or(line.chars().count());
        return Some((Prompt::Dollar, column, text));
    }
    if let Some(caps) = powershell_prompt().captures(line) {
        let m = caps.get(2)?;
        return Some((Prompt::PowerShell, col(m), m.as_str()));
    }
    if let Some(caps) = named_prompt().captures(line) {
        let m = caps.get(3)?;
        return Some((Prompt::Named(caps[2].to_string()), col(m), m.as_str()));
    }
    if let Some(caps) = root_prompt().captures(line) {
        let m = caps.get(2)?;
        if binding().is_match(m.as_str().trim()) || (root_allowed && looks_like_command(m.as_str())) {
            return Some((Prompt::Root, col(m), m.as_str()));
        }
    }
    None
}

/// Whether the text after `# ` reads as a command rather than a comment.
fn looks_like_command(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let first = match words.next() {
        Some("sudo") => words.next().unwrap_or(""),
        Some(word) => word,
        None => "",
    };
    if first.is_empty() {
        return false;
    }
    is_known_program(first)
        || first.starts_with('/')
        || first.starts_with("./")
        || (first.contains('=')
            && first.split('=').next().is_some_and(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')))
}

/// Whether a line has a prompt that marks the block as a transcript.
fn is_transcript_prompt(line: &str) -> bool {
    dollar_prompt().is_match(line) && !line.trim().eq("$")
        || powershell_prompt().is_match(line)
        || named_prompt().is_match(line)
}

pub(crate) fn parse(content: &str, lang: Lang) -> Parsed {
    let lines: Vec<&str> = content.lines().collect();
    let prompted = lines.iter().any(|l| is_transcript_prompt(l));
    let console_roots = matches!(lang, Lang::Console)
        && lines.iter().any(|l| root_prompt().captures(l).is_some_and(|c| looks_like_command(&c[2])));
    if prompted || console_roots {
        return Parsed { shape: Shape::Transcript, entries: transcript(&lines) };
    }
    match lang {
        Lang::Console => Parsed { shape: Shape::Output, entries: Vec::new() },
        Lang::Untyped => Parsed { shape: Shape::NotShell, entries: Vec::new() },
        Lang::Shell | Lang::PowerShell => Parsed { shape: Shape::Script, entries: script(&lines) },
    }
}

/// Prompt lines and what follows them.
fn transcript(lines: &[&str]) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some((prompt, column, first)) = prompt_of(lines[i], true) else {
            // Output of the command before (or text before the first prompt, which is ignored);
            // a `# comment` between commands is neither.
            let line = lines[i];
            if let Some(last) = entries.last_mut()
                && !root_prompt().is_match(line)
            {
                last.output.push(line.to_string());
            }
            i += 1;
            continue;
        };
        let start = i;
        let mut text = first.to_string();
        i += 1;
        let mut lexed = shell::lex(&text);
        while !lexed.is_complete() && i < lines.len() {
            let next = lines[i];
            let in_heredoc = matches!(lexed.open, Some(Open::Heredoc(_)));
            if !in_heredoc && prompt_of(next, true).is_some() {
                break;
            }
            // `> ` is the prompt of a continuation line (PS2).
            let next = next.strip_prefix("> ").or_else(|| (next == ">").then_some("")).unwrap_or(next);
            text.push('\n');
            text.push_str(next);
            i += 1;
            lexed = shell::lex(&text);
        }
        let binding = prompt == Prompt::Root && binding().is_match(text.trim());
        entries.push(Entry {
            text,
            line: start,
            column,
            prompt,
            output: Vec::new(),
            open: lexed.open.clone(),
            binding,
        });
    }
    for entry in &mut entries {
        while entry.output.last().is_some_and(|l| l.trim().is_empty()) {
            entry.output.pop();
        }
    }
    entries
}

/// The commands of a script block, each with its continuation lines. Comment and blank lines
/// belong to no command, except `# VAR=<placeholder>`, which binds.
fn script(lines: &[&str]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            i += 1;
            continue;
        }
        let column = line.chars().count() - trimmed.chars().count();
        if let Some(rest) = trimmed.strip_prefix('#') {
            let rest = rest.trim();
            if binding().is_match(rest) {
                entries.push(Entry {
                    text: rest.to_string(),
                    line: i,
                    column: column + (trimmed.len() - trimmed.trim_start_matches('#').trim_start().len()),
                    prompt: Prompt::Root,
                    output: Vec::new(),
                    open: None,
                    binding: true,
                });
            }
            i += 1;
            continue;
        }
        let start = i;
        let mut text = trimmed.to_string();
        i += 1;
        let mut lexed = shell::lex(&text);
        while !lexed.is_complete() && i < lines.len() {
            text.push('\n');
            text.push_str(lines[i]);
            i += 1;
            lexed = shell::lex(&text);
        }
        entries.push(Entry {
            text,
            line: start,
            column,
            prompt: Prompt::None,
            output: Vec::new(),
            open: lexed.open.clone(),
            binding: false,
        });
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(parsed: &Parsed) -> Vec<&str> {
        parsed.entries.iter().map(|e| e.text.as_str()).collect()
    }

    #[test]
    fn languages() {
        assert_eq!(Lang::of_info("bash"), Some(Lang::Shell));
        assert_eq!(Lang::of_info("Shell {name=x}"), Some(Lang::Shell));
        assert_eq!(Lang::of_info("{.bash}"), Some(Lang::Shell));
        assert_eq!(Lang::of_info("console"), Some(Lang::Console));
        assert_eq!(Lang::of_info(""), Some(Lang::Untyped));
        assert_eq!(Lang::of_info("yaml"), None);
        assert_eq!(Lang::of_info("promql"), None);
    }

    #[test]
    fn only_prompt_lines_run() {
        let parsed = parse("$ oc get pods\nNAME   READY\npod-1  1/1\n\n$ oc logs pod-1\nerror: x\n", Lang::Console);
        assert_eq!(parsed.shape, Shape::Transcript);
        assert_eq!(commands(&parsed), ["oc get pods", "oc logs pod-1"]);
        assert_eq!(parsed.entries[0].output, ["NAME   READY", "pod-1  1/1"]);
        assert_eq!(parsed.entries[1].output, ["error: x"]);
        assert_eq!(parsed.entries[1].line, 4);
        assert_eq!(parsed.entries[0].column, 2);
    }

    #[test]
    fn continuations() {
        // The TargetDown shape: a backslash pipeline, then output lines that also end in `\`.
        let text = "$ oc -n $NAMESPACE logs -l 'app=prometheus' | \\\ngrep 'Failed' \\\n| sort | uniq -c\nmsg=\"Failed\" \\\ncomponent=\"scrape\"\n";
        let parsed = parse(text, Lang::Shell);
        assert_eq!(parsed.entries.len(), 1);
        assert_eq!(
            parsed.entries[0].text,
            "oc -n $NAMESPACE logs -l 'app=prometheus' | \\\ngrep 'Failed' \\\n| sort | uniq -c"
        );
        assert_eq!(parsed.entries[0].output, ["msg=\"Failed\" \\", "component=\"scrape\""]);
        // Open quotes and PS2 prompts.
        let parsed = parse("$ echo 'a\n> b'\na\nb\n", Lang::Console);
        assert_eq!(parsed.entries[0].text, "echo 'a\nb'");
        assert_eq!(parsed.entries[0].output, ["a", "b"]);
        // Heredocs, with a `$ ` line inside the body.
        let parsed = parse("$ cat <<EOF > x.yaml\nkind: Pod\n$ not a prompt\nEOF\n$ ls\n", Lang::Console);
        assert_eq!(commands(&parsed), ["cat <<EOF > x.yaml\nkind: Pod\n$ not a prompt\nEOF", "ls"]);
    }

    #[test]
    fn console_without_prompts_is_output() {
        let parsed = parse("oc logs -n x deploy/y\n", Lang::Console);
        assert_eq!(parsed.shape, Shape::Output);
        assert!(parsed.entries.is_empty());
        let parsed = parse("NAME READY\nx 1/1\n", Lang::Untyped);
        assert_eq!(parsed.shape, Shape::NotShell);
    }

    #[test]
    fn root_prompts() {
        // `# ` is a prompt in a transcript when a command follows, a comment otherwise.
        let text = "$ oc debug \"node/$NODE_NAME\"\n# sysctl -a | grep 'fs.file-'\nfs.file-max = 1597016\n# Now list open files\n# lsof -n\n";
        let parsed = parse(text, Lang::Shell);
        assert_eq!(commands(&parsed), ["oc debug \"node/$NODE_NAME\"", "sysctl -a | grep 'fs.file-'", "lsof -n"]);
        assert_eq!(parsed.entries[1].prompt, Prompt::Root);
        assert_eq!(parsed.entries[1].output, ["fs.file-max = 1597016"]);
        // A console block of root prompts is a transcript.
        let parsed = parse("# systemctl status kubelet\n● kubelet.service\n", Lang::Console);
        assert_eq!(parsed.shape, Shape::Transcript);
        // In a script, `# ` is a comment.
        let parsed = parse("# TODO: Command needed\n", Lang::Shell);
        assert_eq!(parsed.shape, Shape::Script);
        assert!(parsed.entries.is_empty());
    }

    #[test]
    fn named_prompts() {
        let parsed = parse("sh-4.4# chroot /host\nsh-4.4# toolbox\n", Lang::Shell);
        assert_eq!(parsed.shape, Shape::Transcript);
        assert_eq!(commands(&parsed), ["chroot /host", "toolbox"]);
        assert_eq!(parsed.entries[0].prompt, Prompt::Named("sh-4.4#".into()));
        let parsed = parse("[root@node ~]# df -h\nuser@host:~$ ls\n", Lang::Console);
        assert_eq!(commands(&parsed), ["df -h", "ls"]);
        let parsed = parse("PS C:\\> Get-Service docker\nStatus Name\n", Lang::PowerShell);
        assert_eq!(commands(&parsed), ["Get-Service docker"]);
        assert_eq!(parsed.entries[0].prompt, Prompt::PowerShell);
    }

    #[test]
    fn bindings() {
        let parsed =
            parse("# NAMESPACE='<value of namespace label from alert>'\n$ oc -n $NAMESPACE get pods\n", Lang::Shell);
        assert!(parsed.entries[0].binding);
        assert_eq!(parsed.entries[0].text, "NAMESPACE='<value of namespace label from alert>'");
        let parsed = parse("# NS=<namespace>\noc get pods -n $NS\n", Lang::Shell);
        assert_eq!(parsed.shape, Shape::Script);
        assert_eq!(commands(&parsed), ["NS=<namespace>", "oc get pods -n $NS"]);
    }

    #[test]
    fn scripts_split_into_commands() {
        let parsed = parse("# check\noc get pods \\\n  -n x\n\nfor p in a b; do\n  echo $p\ndone\n", Lang::Shell);
        assert_eq!(commands(&parsed), ["oc get pods \\\n  -n x", "for p in a b; do\n  echo $p\ndone"]);
        assert_eq!(parsed.entries[1].line, 4);
        let parsed = parse("echo 'never closed\nls\n", Lang::Shell);
        assert_eq!(parsed.entries[0].open, Some(Open::Quote('\'')));
    }
}

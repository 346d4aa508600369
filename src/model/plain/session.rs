//! Sessions: a command that opens a shell somewhere else, and the lines a doc then types into
//! it. `oc debug node/X` + `chroot /host` + lines, `ssh HOST` + lines and `kubectl exec -it POD
//! -- bash` + lines become one command that feeds those lines on stdin (a quoted heredoc, so
//! nothing is expanded on the way); a REPL (`psql`, `gitlab-rails console`) needs a person.

use super::classify::{Kind, classify_command, is_shell, subcommand};
use super::shell::{self, Command};

/// Where a session runs its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Remote {
    /// `oc debug node/X` or `kubectl debug node/X`; `chroot` when the doc then enters `/host`.
    DebugNode {
        tool: String,
        chroot: bool,
    },
    Ssh,
    /// `kubectl|oc exec … -- bash`, with the shell it names.
    Exec {
        shell: String,
    },
    /// `oc rsh POD` without a command.
    Rsh,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Opener {
    Remote(Remote),
    /// An interactive program whose lines a person types.
    Repl(String),
}

impl Opener {
    /// How `show --plain` names it.
    pub(crate) fn describe(&self) -> String {
        match self {
            Opener::Remote(Remote::DebugNode { tool, chroot: true }) => format!("{tool} debug node + chroot /host"),
            Opener::Remote(Remote::DebugNode { tool, chroot: false }) => format!("{tool} debug node"),
            Opener::Remote(Remote::Ssh) => "ssh".into(),
            Opener::Remote(Remote::Exec { shell }) => format!("exec {shell} in a pod"),
            Opener::Remote(Remote::Rsh) => "oc rsh".into(),
            Opener::Repl(program) => format!("{program} (interactive)"),
        }
    }
}

/// The session `text` opens, if it is a lone command that opens one.
pub(crate) fn opener(text: &str) -> Option<Opener> {
    let lexed = shell::lex(text);
    let [command] = lexed.commands.as_slice() else { return None };
    let program = command.program()?;
    let program = program.rsplit('/').next().unwrap_or(program);
    let args: Vec<&str> = command.args().iter().map(|w| w.text.as_str()).collect();
    match program {
        "oc" | "kubectl" => kube_opener(program, &args, command),
        "ssh" => ssh_has_no_command(&args).then_some(Opener::Remote(Remote::Ssh)),
        _ => repl(command),
    }
}

fn kube_opener(tool: &str, args: &[&str], command: &Command) -> Option<Opener> {
    let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let verb = subcommand(&owned)?;
    let dash = args.iter().position(|a| *a == "--");
    match verb {
        "debug"
            if dash.is_none()
                && args.iter().any(|a| a.starts_with("node/") || a.starts_with("nodes/") || *a == "node") =>
        {
            Some(Opener::Remote(Remote::DebugNode { tool: tool.to_string(), chroot: false }))
        }
        "exec" => {
            let inner = &args[dash? + 1..];
            match inner {
                [shell] if is_shell(shell) => Some(Opener::Remote(Remote::Exec { shell: shell.to_string() })),
                _ => repl(command),
            }
        }
        "rsh" if dash.is_none() => {
            let positional = args.iter().filter(|a| !a.starts_with('-')).count();
            // `rsh` itself and the pod; flags with values add a word each.
            let valued = args
                .windows(2)
                .filter(|w| matches!(w[0], "-n" | "--namespace" | "-c" | "--container" | "--shell" | "--timeout"))
                .count();
            (positional - valued <= 2).then_some(Opener::Remote(Remote::Rsh))
        }
        _ => None,
    }
}

/// `ssh [options] HOST` without a remote command.
fn ssh_has_no_command(args: &[&str]) -> bool {
    const WITH_VALUE: &str = "bcDEeFIiJLlmOoPpQRSWw";
    let mut positional = 0;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if let Some(flags) = arg.strip_prefix('-') {
            let takes = flags.chars().last().is_some_and(|c| WITH_VALUE.contains(c)) && flags.len() == 1;
            i += if takes { 2 } else { 1 };
            continue;
        }
        positional += 1;
        i += 1;
    }
    positional == 1
}

fn repl(command: &Command) -> Option<Opener> {
    let decision = classify_command(command);
    let program = command.program()?.to_string();
    let name = program.rsplit('/').next().unwrap_or(&program);
    let inner_program = command.words.iter().skip_while(|w| w.text != "--").nth(1).map(|w| w.text.clone());
    let repls = [
        "psql",
        "mysql",
        "redis-cli",
        "gitlab-rails",
        "rails",
        "python",
        "python3",
        "mongo",
        "mongosh",
        "sqlite3",
        "irb",
        "node",
        "gitlab-psql",
        "etcdctl",
        "ceph",
    ];
    let shown = inner_program.as_deref().unwrap_or(name);
    (decision.kind == Kind::Interactive && repls.iter().any(|r| *r == shown || *r == name))
        .then(|| Opener::Repl(shown.to_string()))
}

/// Whether `text` ends a session: `exit`, `logout`, `\q`, `quit`, `exit()`.
pub(crate) fn is_exit(text: &str) -> bool {
    matches!(text.trim(), "exit" | "logout" | "\\q" | "quit" | "exit()" | "quit()" | "exit;" | "quit;")
        || text.trim().strip_prefix("exit ").is_some_and(|code| code.trim().chars().all(|c| c.is_ascii_digit()))
}

/// Whether `text` is the `chroot /host` that follows `oc debug node/X`.
pub(crate) fn is_chroot_host(text: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    matches!(words.as_slice(), ["chroot", "/host"] | ["chroot", "/host", "bash" | "sh" | "/bin/bash" | "/bin/sh"])
}

/// The command that runs the session's lines from stdin: the opener as written, without a TTY
/// (`-t`), with stdin attached (`-i`), and the shell to read the lines.
pub(crate) fn remote_command(opener_text: &str, remote: &Remote) -> String {
    let words = raw_words(opener_text);
    let mut kept: Vec<String> = Vec::new();
    let mut has_stdin = false;
    for word in &words {
        match *word {
            "-t" | "--tty" | "--tty=true" => {}
            "-it" | "-ti" | "-i" | "--stdin" | "--stdin=true" => {
                has_stdin = true;
                kept.push("-i".into());
            }
            "--" => break,
            other => kept.push(other.to_string()),
        }
    }
    let needs_stdin_flag = match remote {
        Remote::DebugNode { tool, .. } => tool == "kubectl",
        Remote::Exec { .. } => true,
        Remote::Ssh | Remote::Rsh => false,
    };
    if needs_stdin_flag && !has_stdin {
        kept.push("-i".into());
    }
    let command = kept.join(" ");
    match remote {
        Remote::DebugNode { chroot: true, .. } => format!("{command} -- chroot /host bash -s"),
        Remote::DebugNode { chroot: false, .. } => format!("{command} -- sh -s"),
        Remote::Ssh => format!("{command} bash -s"),
        Remote::Exec { shell } => format!("{command} -- {shell} -s"),
        Remote::Rsh => format!("{command} sh -s"),
    }
}

/// The words of a command as written, split at unquoted blanks: quotes, `$(…)` and
/// placeholders (`<node-name>`, which the shell would read as a redirection) stay whole.
fn raw_words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = None;
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, c) if c.is_whitespace() && depth == 0 => {
                if let Some(s) = start.take() {
                    words.push(&text[s..i]);
                }
                continue;
            }
            _ => {}
        }
        if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        words.push(&text[s..]);
    }
    words
}

/// The strict-mode line the lines run under, as local steps do.
pub(crate) fn strict_mode(remote: &Remote) -> &'static str {
    match remote {
        Remote::DebugNode { chroot: true, .. } | Remote::Ssh => "set -eo pipefail",
        Remote::Exec { shell } if shell.ends_with("bash") => "set -eo pipefail",
        _ => "set -e",
    }
}

/// A heredoc delimiter that is no line of `body`.
pub(crate) fn delimiter(body: &str) -> String {
    let mut delimiter = "RUNBOOK_SESSION".to_string();
    let mut n = 1;
    while body.lines().any(|l| l.trim() == delimiter) {
        n += 1;
        delimiter = format!("RUNBOOK_SESSION_{n}");
    }
    delimiter
}

/// What the engine runs for a session: the remote command reading `lines` from a quoted heredoc.
pub(crate) fn script(opener_text: &str, remote: &Remote, lines: &str) -> String {
    let body = format!("{}\n{}", strict_mode(remote), lines.trim_end());
    let delimiter = delimiter(&body);
    format!("{} <<'{delimiter}'\n{body}\n{delimiter}", remote_command(opener_text, remote))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_openers() {
        let debug = |chroot| Some(Opener::Remote(Remote::DebugNode { tool: "oc".into(), chroot }));
        assert_eq!(opener("oc debug node/worker-0"), debug(false));
        assert_eq!(opener("oc debug \"node/$NODE_NAME\""), debug(false));
        assert_eq!(opener("oc debug node/<node-name> -it --image=busybox"), debug(false));
        assert_eq!(opener("oc debug node/x -- chroot /host df -h"), None, "runs a command, opens nothing");
        assert_eq!(
            opener("kubectl -n default debug node/$NODE_NAME"),
            Some(Opener::Remote(Remote::DebugNode { tool: "kubectl".into(), chroot: false }))
        );
        assert_eq!(opener("ssh core@node1"), Some(Opener::Remote(Remote::Ssh)));
        assert_eq!(opener("ssh -i key -p 22 node1"), Some(Opener::Remote(Remote::Ssh)));
        assert_eq!(opener("ssh node1 uptime"), None);
        assert_eq!(
            opener("kubectl exec -it pod -c c -- bash"),
            Some(Opener::Remote(Remote::Exec { shell: "bash".into() }))
        );
        assert_eq!(opener("oc exec -n x pod -- df"), None);
        assert_eq!(opener("oc rsh -n openshift-storage rook-ceph-tools-x"), Some(Opener::Remote(Remote::Rsh)));
        assert_eq!(opener("oc rsh -n x pod ceph -s"), None);
        assert_eq!(opener("psql -U postgres"), Some(Opener::Repl("psql".into())));
        assert_eq!(opener("gitlab-rails console"), Some(Opener::Repl("gitlab-rails".into())));
        assert_eq!(opener("kubectl exec -it pg-0 -- psql -U app"), Some(Opener::Repl("psql".into())));
        assert_eq!(opener("python3"), Some(Opener::Repl("python3".into())));
        assert_eq!(opener("vi /etc/hosts"), None, "an editor is no session");
        assert_eq!(opener("oc get pods | grep x"), None);
    }

    #[test]
    fn builds_the_command_that_reads_stdin() {
        let remote = Remote::DebugNode { tool: "oc".into(), chroot: true };
        assert_eq!(remote_command("oc debug node/w0", &remote), "oc debug node/w0 -- chroot /host bash -s");
        let kubectl = Remote::DebugNode { tool: "kubectl".into(), chroot: true };
        assert_eq!(
            remote_command("kubectl -n default debug node/$N -it --image=busybox", &kubectl),
            "kubectl -n default debug node/$N -i --image=busybox -- chroot /host bash -s"
        );
        assert_eq!(
            remote_command("kubectl debug node/x --image=busybox", &kubectl),
            "kubectl debug node/x --image=busybox -i -- chroot /host bash -s"
        );
        let exec = Remote::Exec { shell: "bash".into() };
        assert_eq!(remote_command("oc exec -it pod -c c -- bash", &exec), "oc exec -i pod -c c -- bash -s");
        assert_eq!(remote_command("ssh core@n1", &Remote::Ssh), "ssh core@n1 bash -s");
        assert_eq!(
            remote_command("oc debug \"node/$NODE\"", &remote),
            "oc debug \"node/$NODE\" -- chroot /host bash -s"
        );
        assert_eq!(remote_command("ssh <node-address>", &Remote::Ssh), "ssh <node-address> bash -s");
        assert_eq!(
            remote_command("oc debug node/<node name> -t", &remote),
            "oc debug node/<node name> -- chroot /host bash -s"
        );
        assert_eq!(remote_command("ssh -o 'A B' \"$(host x)\"", &Remote::Ssh), "ssh -o 'A B' \"$(host x)\" bash -s");
    }

    #[test]
    fn scripts_use_a_fresh_quoted_heredoc() {
        let remote = Remote::Ssh;
        let script = script("ssh n1", &remote, "df -h\nRUNBOOK_SESSION\n");
        assert!(
            script.starts_with(
                "ssh n1 bash -s <<'RUNBOOK_SESSION_2'\nset -eo pipefail\ndf -h\nRUNBOOK_SESSION\nRUNBOOK_SESSION_2"
            ),
            "{script}"
        );
        assert!(shell::lex(&script).is_complete());
    }

    #[test]
    fn exits_and_chroot() {
        assert!(is_exit("exit"));
        assert!(is_exit(" exit 0 "));
        assert!(is_exit("\\q"));
        assert!(!is_exit("exit-code"));
        assert!(is_chroot_host("chroot /host"));
        assert!(!is_chroot_host("chroot /mnt"));
    }
}

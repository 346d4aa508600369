//! The read-only classifier: may this command run without asking? Read-only tools and verbs
//! run; anything else — a verb that changes something, `sudo`, a redirection into a file, a
//! command this table does not know — asks first. A pipeline or `&&` chain is as strict as its
//! strictest part. Interactive programs (editors, pagers, REPLs) need a person.

use super::shell::{Command, Lexed};
use serde::Serialize;

/// What a command may do without a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// Only reads: runs without asking.
    ReadOnly,
    /// Changes something, or may, or is unknown: asks (`confirm`).
    Asks,
    /// Needs a person at the keyboard (an editor, a pager, a REPL): a `manual` step.
    Interactive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Decision {
    pub kind: Kind,
    /// Why, in a few words: "`kubectl get` only reads", "`rm` changes files".
    pub reason: String,
}

impl Decision {
    fn read_only(reason: impl Into<String>) -> Decision {
        Decision { kind: Kind::ReadOnly, reason: reason.into() }
    }

    fn asks(reason: impl Into<String>) -> Decision {
        Decision { kind: Kind::Asks, reason: reason.into() }
    }

    fn interactive(reason: impl Into<String>) -> Decision {
        Decision { kind: Kind::Interactive, reason: reason.into() }
    }
}

/// Programs this table knows, for telling a `# command` root prompt from a `# comment`.
pub(crate) fn is_known_program(name: &str) -> bool {
    let name = basename(name);
    READ_ONLY.contains(&name)
        || MUTATING.iter().any(|(n, _)| *n == name)
        || INTERACTIVE.contains(&name)
        || QUERY_TOOLS.contains(&name)
        || WRAPPERS.contains(&name)
}

/// The strictest decision over every command of a piece of shell, with the reason of the part
/// that decided it (the first such part). Empty text only reads.
pub(crate) fn classify(lexed: &Lexed) -> Decision {
    let mut worst: Option<Decision> = None;
    let mut readers: Vec<String> = Vec::new();
    for command in &lexed.commands {
        let decision = classify_command(command);
        if decision.kind == Kind::ReadOnly {
            if let Some(program) = command.program() {
                let label = label(command);
                if !program.is_empty() && !readers.contains(&label) {
                    readers.push(label);
                }
            }
            continue;
        }
        if worst.as_ref().is_none_or(|w| decision.kind > w.kind) {
            worst = Some(decision);
        }
    }
    if let Some(open) = &lexed.open {
        let unclosed = Decision::asks(format!("the command never ends in the block ({})", describe_open(open)));
        if worst.as_ref().is_none_or(|w| w.kind < Kind::Asks) {
            worst = Some(unclosed);
        }
    }
    worst.unwrap_or_else(|| match readers.len() {
        0 => Decision::read_only("sets variables only"),
        _ => Decision::read_only(format!("only reads: {}", readers.join(", "))),
    })
}

fn describe_open(open: &super::shell::Open) -> String {
    use super::shell::Open;
    match open {
        Open::Quote(q) => format!("an unclosed {q}"),
        Open::Backslash => "a `\\` at the end".into(),
        Open::Operator => "a `|` or `&&` at the end".into(),
        Open::Heredoc(d) => format!("a heredoc without its `{d}` line"),
        Open::Substitution => "an unclosed `$(`".into(),
        Open::Compound(end) => format!("no `{end}`"),
    }
}

/// `kubectl get`, `systemctl status`, `grep`: the program and, for tools with verbs, the verb.
fn label(command: &Command) -> String {
    let program = basename(command.program().unwrap_or_default());
    let args = texts(command.args());
    const WITH_VERBS: [&str; 21] = [
        "kubectl",
        "oc",
        "systemctl",
        "docker",
        "podman",
        "nerdctl",
        "crictl",
        "ctr",
        "git",
        "helm",
        "ceph",
        "etcdctl",
        "virsh",
        "velero",
        "argocd",
        "terraform",
        "amtool",
        "promtool",
        "ovn-nbctl",
        "ovs-vsctl",
        "rbd",
    ];
    if WITH_VERBS.contains(&program)
        && let Some(verb) = subcommand(&args)
    {
        return format!("{program} {verb}");
    }
    program.to_string()
}

fn texts(words: &[super::shell::Word]) -> Vec<String> {
    words.iter().map(|w| w.text.clone()).collect()
}

fn basename(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// Classifies one simple command.
pub(crate) fn classify_command(command: &Command) -> Decision {
    if let Some(redirect) = command.redirects.iter().find(|r| r.writes_file()) {
        return Decision::asks(format!("writes `{}` ({})", redirect.target, redirect.op));
    }
    let Some(program) = command.program() else {
        return Decision::read_only("sets variables only");
    };
    let args = texts(command.args());
    decide(program, &args)
}

/// The decision for `program args…` (after quote removal).
fn decide(program: &str, args: &[String]) -> Decision {
    let name = basename(program);
    if name.contains("$(") || name.starts_with('$') {
        return Decision::asks(format!("the command `{name}` is only known when it runs"));
    }
    if let Some(decision) = wrapper(name, args) {
        return decision;
    }
    if let Some(what) = MUTATING.iter().find(|(n, _)| *n == name).map(|(_, w)| *w) {
        return Decision::asks(format!("`{name}` {what}"));
    }
    if INTERACTIVE.contains(&name) {
        return Decision::interactive(format!("`{name}` is interactive: it needs a person at a terminal"));
    }
    if let Some(decision) = tool(name, args) {
        return decision;
    }
    if READ_ONLY.contains(&name) {
        return simple_reader(name, args);
    }
    if is_powershell_reader(name) {
        return Decision::read_only(format!("`{name}` only reads"));
    }
    Decision::asks(format!("`{name}` is not known to be read-only"))
}

/// Programs that run another command: decided by what they run.
fn wrapper(name: &str, args: &[String]) -> Option<Decision> {
    let inner = |skip: usize| -> Decision {
        match args.get(skip..).filter(|rest| !rest.is_empty()) {
            Some(rest) => decide(&rest[0], &rest[1..]),
            None => Decision::read_only(format!("`{name}` alone only reads")),
        }
    };
    let after_flags = |with_value: &[&str]| -> usize {
        let mut i = 0;
        while let Some(arg) = args.get(i) {
            if !arg.starts_with('-') || arg == "--" {
                return i + usize::from(arg == "--");
            }
            i += if with_value.contains(&arg.as_str()) { 2 } else { 1 };
        }
        i
    };
    Some(match name {
        "sudo" | "doas" | "pkexec" | "su" => Decision::asks(format!("`{name}` runs it as another user (root)")),
        "time" | "nice" | "ionice" | "stdbuf" | "command" | "builtin" | "exec" | "nohup" | "chronic" => {
            if name == "command" && args.first().is_some_and(|a| a == "-v" || a == "-V") {
                return Some(Decision::read_only("`command -v` only reads"));
            }
            inner(after_flags(&["-n", "-c", "-p", "-o", "-e", "-i"]))
        }
        "timeout" => {
            let flags = after_flags(&["-s", "--signal", "-k", "--kill-after"]);
            inner(flags + 1)
        }
        "env" => {
            let mut i = after_flags(&["-u", "--unset", "-C", "--chdir", "-S"]);
            while args.get(i).is_some_and(|a| a.contains('=') && !a.starts_with('=')) {
                i += 1;
            }
            inner(i)
        }
        "xargs" => {
            let start = after_flags(&["-I", "-n", "-P", "-d", "-L", "-s", "-a", "-E", "--delimiter", "--max-args"]);
            match args.get(start..).filter(|rest| !rest.is_empty()) {
                Some(rest) => decide(&rest[0], &rest[1..]),
                None => Decision::read_only("`xargs` alone echoes"),
            }
        }
        "watch" => Decision::asks("`watch` runs until it is stopped"),
        "chroot" => match args.get(1..).filter(|rest| !rest.is_empty()) {
            Some(rest) => decide(&rest[0], &rest[1..]),
            None => Decision::read_only("`chroot DIR` alone opens a shell there"),
        },
        "nsenter" => inner(after_flags(&["-t", "--target", "-S", "-G", "--wd", "-w"])),
        shell if super::classify::is_shell(shell) && args.first().is_some_and(|a| a == "-c") => match args.get(1) {
            Some(script) => {
                let decision = classify(&super::shell::lex(script));
                Decision { kind: decision.kind, reason: format!("`{shell} -c`: {}", decision.reason) }
            }
            None => Decision::asks(format!("`{shell} -c` without a script")),
        },
        _ => return None,
    })
}

/// Tools whose verbs decide: `kubectl get` reads, `kubectl delete` changes the cluster.
fn tool(name: &str, args: &[String]) -> Option<Decision> {
    Some(match name {
        "kubectl" | "oc" | "microk8s.kubectl" | "k3s" => kubectl(name, args),
        "systemctl" => systemctl(args),
        "journalctl" => journalctl(args),
        "nvidia-smi" => nvidia_smi(args),
        "curl" => curl(args),
        "wget" => wget(args),
        "docker" | "podman" | "nerdctl" => containers(name, args),
        "crictl" | "ctr" => cri(name, args),
        "git" => verbs(
            name,
            args,
            &[
                "status",
                "log",
                "diff",
                "show",
                "rev-parse",
                "ls-files",
                "blame",
                "describe",
                "shortlog",
                "reflog",
                "ls-remote",
                "grep",
            ],
        ),
        "helm" => verbs(
            name,
            args,
            &["list", "ls", "status", "get", "history", "show", "template", "version", "search", "env", "lint"],
        ),
        "ceph" | "rados" | "rbd" | "radosgw-admin" => ceph(name, args),
        "etcdctl" => etcdctl(args),
        "ovn-nbctl" | "ovn-sbctl" | "ovs-vsctl" => verbs(
            name,
            args,
            &[
                "show",
                "list",
                "get",
                "find",
                "lr-list",
                "ls-list",
                "lsp-list",
                "lrp-list",
                "list-br",
                "list-ports",
                "list-ifaces",
                "--version",
            ],
        ),
        "ovs-ofctl" => verbs(name, args, &["show", "dump-flows", "dump-ports", "dump-tables", "dump-groups"]),
        "virsh" => verbs(
            name,
            args,
            &[
                "list",
                "dominfo",
                "domstate",
                "dumpxml",
                "domblklist",
                "domiflist",
                "domstats",
                "vcpuinfo",
                "nodeinfo",
                "capabilities",
                "version",
                "net-list",
                "pool-list",
                "vol-list",
                "domblkinfo",
            ],
        ),
        "velero" | "argocd" => verbs(name, args, &["get", "describe", "logs", "version", "list"]),
        "promtool" => verbs(name, args, &["check", "query", "debug", "test"]),
        "amtool" => amtool(args),
        "terraform" | "tofu" => {
            verbs(name, args, &["plan", "show", "output", "validate", "version", "state", "providers", "graph"])
        }
        _ => return host_tool(name, args),
    })
}

/// Host tools whose arguments decide: `ip addr` reads, `ip link set` changes the network.
fn host_tool(name: &str, args: &[String]) -> Option<Decision> {
    Some(match name {
        "ip" => ip(args),
        "iptables" | "ip6tables" => iptables(name, args),
        "nft" => verbs(name, args, &["list"]),
        "sysctl" => sysctl(args),
        "dmesg" => {
            flags_forbid(name, args, &["-c", "-C", "--clear", "--read-clear", "-n", "--console-level", "-D", "-E"])
        }
        "sed" => flags_forbid(name, args, &["-i", "--in-place"]),
        "yq" => flags_forbid(name, args, &["-i", "--inplace"]),
        "sort" => flags_forbid(name, args, &["-o", "--output"]),
        "find" => flags_forbid(
            name,
            args,
            &["-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprintf", "-fls", "-fprint0"],
        ),
        "awk" | "gawk" | "mawk" | "nawk" => awk(name, args),
        "tee" => match args.iter().filter(|a| !a.starts_with('-')).find(|a| *a != "/dev/null") {
            Some(file) => Decision::asks(format!("`tee` writes `{file}`")),
            None => Decision::read_only("`tee` only passes output on"),
        },
        "tail" => streams(name, args, &["-f", "-F", "--follow"]),
        "ping" | "ping6" => match args.iter().any(|a| a.starts_with("-c") || a.starts_with("-w")) {
            true => Decision::read_only(format!("`{name}` only reads")),
            false => Decision::asks(format!("`{name}` without -c runs until it is stopped")),
        },
        "tcpdump" => match args.iter().any(|a| a.starts_with("-c")) && !args.iter().any(|a| a.starts_with("-w")) {
            true => Decision::read_only("`tcpdump -c` only reads"),
            false => Decision::asks("`tcpdump` without -c runs until it is stopped (or writes a capture file)"),
        },
        "top" => match args.iter().any(|a| a.contains('b')) && args.iter().any(|a| a.starts_with("-n")) {
            true => Decision::read_only("`top -b -n` only reads"),
            false => Decision::interactive("`top` is interactive: it needs a person (or -b -n 1)"),
        },
        "mount" | "hostname" | "date" | "ifconfig" | "route" | "hostnamectl" | "timedatectl" | "ulimit" => {
            setter(name, args)
        }
        "nc" | "ncat" | "netcat" => match args.iter().any(|a| a.starts_with('-') && a.contains('z')) {
            true => Decision::read_only(format!("`{name} -z` only checks the port")),
            false => Decision::asks(format!("`{name}` may send data or listen")),
        },
        "openssl" => {
            verbs(name, args, &["s_client", "x509", "verify", "version", "ciphers", "crl", "asn1parse", "req"])
        }
        "ethtool" => match args.iter().any(|a| {
            matches!(a.as_str(), "-s" | "-K" | "-G" | "-A" | "-C" | "-L" | "-E" | "-r" | "--change" | "--offload")
        }) {
            true => Decision::asks("`ethtool` with a setting changes the interface"),
            false => Decision::read_only("`ethtool` only reads"),
        },
        "redis-cli" | "psql" | "mysql" | "mongo" | "mongosh" | "sqlite3" | "python" | "python3" | "irb" | "node" => {
            repl(name, args)
        }
        "fuser" => flags_forbid(name, args, &["-k", "--kill"]),
        "service" => match args.get(1).map(String::as_str) {
            Some("status") => Decision::read_only("`service … status` only reads"),
            _ => Decision::asks("`service` starts, stops or restarts a service"),
        },
        "dcgmi" => {
            verbs(name, args, &["discovery", "health", "group", "stats", "dmon", "fieldgroup", "profile", "topo"])
        }
        "nvidia-container-cli" => verbs(name, args, &["info", "list", "--version"]),
        "ssh" | "scp" | "rsync" => Decision::asks(format!("`{name}` reaches another host")),
        "rpm" => match args
            .first()
            .is_some_and(|a| a.starts_with("-q") || a == "--query" || a.starts_with("-V") || a == "--verify")
        {
            true => Decision::read_only("`rpm -q` only reads"),
            false => Decision::asks("`rpm` installs or removes packages"),
        },
        "dpkg" | "dpkg-query" => match args.first().is_some_and(|a| {
            matches!(
                a.as_str(),
                "-l" | "-s" | "-L" | "-S" | "-p" | "-W" | "--list" | "--status" | "--listfiles" | "--search" | "--show"
            )
        }) {
            true => Decision::read_only(format!("`{name}` queries only read")),
            false => Decision::asks(format!("`{name}` installs or removes packages")),
        },
        "tc" | "bridge" => ip(args),
        "chronyc" => {
            verbs(name, args, &["tracking", "sources", "sourcestats", "activity", "ntpdata", "clients", "serverstats"])
        }
        "networkctl" => verbs(name, args, &["status", "list", "lldp"]),
        "smartctl" => flags_forbid(
            name,
            args,
            &["-t", "--test", "-s", "--smart", "-o", "--offlineauto", "-S", "--saveauto", "-X", "--abort"],
        ),
        "mdadm" => {
            match args.iter().any(|a| matches!(a.as_str(), "--detail" | "-D" | "--examine" | "-E" | "--query" | "-Q")) {
                true => Decision::read_only("`mdadm --detail` only reads"),
                false => Decision::asks("`mdadm` may change RAID arrays"),
            }
        }
        _ => return None,
    })
}

/// The first word that is not a flag (and not a flag's value, for the flags given).
pub(crate) fn subcommand(args: &[String]) -> Option<&str> {
    const WITH_VALUE: [&str; 14] = [
        "-n",
        "--namespace",
        "--context",
        "--cluster",
        "--user",
        "--kubeconfig",
        "-s",
        "--server",
        "--token",
        "--as",
        "--as-group",
        "-c",
        "--conf",
        "--config",
    ];
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if WITH_VALUE.contains(&arg.as_str()) {
            i += 2;
        } else if arg.starts_with('-') {
            i += 1;
        } else {
            return Some(arg.as_str());
        }
    }
    None
}

fn verbs(name: &str, args: &[String], readers: &[&str]) -> Decision {
    if args.iter().any(|a| a == "--version" || a == "--help" || a == "-h") && args.len() == 1 {
        return Decision::read_only(format!("`{name} {}` only reads", args[0]));
    }
    match subcommand(args) {
        Some(verb) if readers.contains(&verb) => Decision::read_only(format!("`{name} {verb}` only reads")),
        Some(verb) => Decision::asks(format!("`{name} {verb}` is not known to be read-only")),
        None if readers.iter().any(|r| args.iter().any(|a| a == r)) => {
            Decision::read_only(format!("`{name}` only reads"))
        }
        None => Decision::asks(format!("`{name}` without a known read-only verb")),
    }
}

fn kubectl(name: &str, args: &[String]) -> Decision {
    const READERS: [&str; 16] = [
        "get",
        "describe",
        "logs",
        "top",
        "events",
        "explain",
        "api-resources",
        "api-versions",
        "version",
        "cluster-info",
        "whoami",
        "status",
        "wait",
        "diff",
        "kustomize",
        "completion",
    ];
    let Some(verb) = subcommand(args) else {
        return Decision::read_only(format!("`{name}` alone prints its help"));
    };
    let after: Vec<&str> = args.iter().map(String::as_str).skip_while(|a| *a != verb).skip(1).collect();
    let follows = |flags: &[&str]| args.iter().any(|a| flags.contains(&a.as_str()) || a.starts_with("--follow="));
    match verb {
        "logs" if follows(&["-f", "--follow"]) => {
            Decision::asks(format!("`{name} logs -f` follows the log until it is stopped"))
        }
        "get" | "events" if follows(&["-w", "--watch", "--watch-only"]) => {
            Decision::asks(format!("`{name} {verb} -w` watches until it is stopped"))
        }
        v if READERS.contains(&v) => Decision::read_only(format!("`{name} {v}` only reads")),
        "auth" if matches!(after.first(), Some(&"can-i") | Some(&"whoami")) => {
            Decision::read_only(format!("`{name} auth {}` only reads", after[0]))
        }
        "config"
            if matches!(
                after.first(),
                Some(&("view" | "get-contexts" | "current-context" | "get-clusters" | "get-users"))
            ) =>
        {
            Decision::read_only(format!("`{name} config {}` only reads", after[0]))
        }
        "rollout" if matches!(after.first(), Some(&("status" | "history"))) => {
            Decision::read_only(format!("`{name} rollout {}` only reads", after[0]))
        }
        "adm" if matches!(after.first(), Some(&("top" | "node-logs"))) => {
            Decision::read_only(format!("`{name} adm {}` only reads", after[0]))
        }
        "adm" if after.first() == Some(&"policy") && after.get(1) == Some(&"who-can") => {
            Decision::read_only(format!("`{name} adm policy who-can` only reads"))
        }
        "projects" | "project" if after.iter().all(|a| a.starts_with('-')) => {
            Decision::read_only(format!("`{name} {verb}` only reads"))
        }
        "plugin" if after.first() == Some(&"list") => Decision::read_only(format!("`{name} plugin list` only reads")),
        "exec" | "rsh" => remote_command(name, verb, args),
        "debug" => Decision::asks(format!("`{name} debug` starts a debug pod")),
        "project" => Decision::asks(format!("`{name} project NAME` switches the current project in your kubeconfig")),
        v => Decision::asks(format!("`{name} {v}` changes the cluster")),
    }
}

/// `kubectl exec POD -- cmd` or `oc rsh POD cmd`: decided by the command it runs in the pod.
fn remote_command(name: &str, verb: &str, args: &[String]) -> Decision {
    let inner: Vec<String> = if let Some(dash) = args.iter().position(|a| a == "--") {
        args[dash + 1..].to_vec()
    } else if verb == "rsh" {
        // `oc rsh [flags] POD cmd…`: the words after the pod.
        const WITH_VALUE: [&str; 6] = ["-n", "--namespace", "-c", "--container", "--shell", "--timeout"];
        let mut i = args.iter().position(|a| a == verb).map(|p| p + 1).unwrap_or(0);
        let mut positional = Vec::new();
        while let Some(arg) = args.get(i) {
            if WITH_VALUE.contains(&arg.as_str()) {
                i += 2;
                continue;
            }
            if !arg.starts_with('-') || !positional.is_empty() {
                positional.push(arg.clone());
            }
            i += 1;
        }
        positional.into_iter().skip(1).collect()
    } else {
        Vec::new()
    };
    match inner.split_first() {
        None => Decision::interactive(format!("`{name} {verb}` without a command opens a shell in the pod")),
        Some((program, rest)) if is_shell(program) && rest.is_empty() => {
            Decision::interactive(format!("`{name} {verb} … {program}` opens a shell in the pod"))
        }
        Some((program, rest)) => {
            let decision = decide(program, rest);
            Decision { kind: decision.kind, reason: format!("in the pod: {}", decision.reason) }
        }
    }
}

pub(crate) fn is_shell(program: &str) -> bool {
    matches!(basename(program), "bash" | "sh" | "zsh" | "ash" | "dash" | "ksh" | "/bin/bash" | "/bin/sh")
}

fn systemctl(args: &[String]) -> Decision {
    const READERS: [&str; 18] = [
        "status",
        "show",
        "cat",
        "list-units",
        "list-unit-files",
        "list-timers",
        "list-sockets",
        "list-dependencies",
        "list-jobs",
        "list-machines",
        "is-active",
        "is-enabled",
        "is-failed",
        "is-system-running",
        "get-default",
        "show-environment",
        "help",
        "--version",
    ];
    match args.iter().find(|a| !a.starts_with('-') || *a == "--version") {
        None => Decision::read_only("`systemctl` alone lists units"),
        Some(verb) if READERS.contains(&verb.as_str()) => Decision::read_only(format!("`systemctl {verb}` only reads")),
        Some(verb) => Decision::asks(format!("`systemctl {verb}` changes services")),
    }
}

fn journalctl(args: &[String]) -> Decision {
    let changes = [
        "--vacuum-size",
        "--vacuum-time",
        "--vacuum-files",
        "--rotate",
        "--flush",
        "--sync",
        "--relinquish-var",
        "--setup-keys",
        "--update-catalog",
    ];
    if let Some(flag) = args.iter().find(|a| changes.iter().any(|c| a.starts_with(c))) {
        return Decision::asks(format!("`journalctl {flag}` changes the journal"));
    }
    streams("journalctl", args, &["-f", "--follow"])
}

/// A reader, unless it is told to follow its input forever.
fn streams(name: &str, args: &[String], follow: &[&str]) -> Decision {
    let follows = args.iter().any(|a| {
        follow.contains(&a.as_str())
            || (a.starts_with('-')
                && !a.starts_with("--")
                && follow.iter().any(|f| f.len() == 2 && a[1..].contains(&f[1..])))
    });
    if follows {
        Decision::asks(format!("`{name} -f` follows until it is stopped"))
    } else {
        Decision::read_only(format!("`{name}` only reads"))
    }
}

fn nvidia_smi(args: &[String]) -> Decision {
    const SETTERS: [&str; 30] = [
        "-pm",
        "--persistence-mode",
        "-e",
        "--ecc-config",
        "-p",
        "--reset-ecc-errors",
        "-c",
        "--compute-mode",
        "-dm",
        "--driver-model",
        "-fdm",
        "-r",
        "--gpu-reset",
        "-vm",
        "-ac",
        "--applications-clocks",
        "-rac",
        "-acp",
        "-pl",
        "--power-limit",
        "-cc",
        "-am",
        "-caa",
        "-lgc",
        "-rgc",
        "-lmc",
        "-rmc",
        "-mig",
        "--multi-instance-gpu",
        "--lock-gpu-clocks",
    ];
    if let Some(flag) = args.iter().find(|a| SETTERS.iter().any(|s| a == s || a.starts_with(&format!("{s}=")))) {
        return Decision::asks(format!("`nvidia-smi {flag}` changes GPU settings"));
    }
    if let Some(sub) =
        args.first().filter(|a| matches!(a.as_str(), "mig" | "drain" | "clocks" | "vgpu" | "conf-compute"))
    {
        let lists =
            args.iter().any(|a| matches!(a.as_str(), "-l" | "-lgi" | "-lci" | "-lgip" | "-lcip" | "-q" | "--list"));
        return match lists {
            true => Decision::read_only(format!("`nvidia-smi {sub}` with a list flag only reads")),
            false => Decision::asks(format!("`nvidia-smi {sub}` may change GPU settings")),
        };
    }
    let loops =
        args.iter().any(|a| matches!(a.as_str(), "-l" | "--loop" | "-lms" | "--loop-ms") || a.starts_with("--loop"));
    let monitors = args.first().is_some_and(|a| a == "dmon" || a == "pmon") && !args.iter().any(|a| a == "-c");
    if loops || monitors {
        return Decision::asks("`nvidia-smi` in a loop runs until it is stopped");
    }
    Decision::read_only("`nvidia-smi` queries only read")
}

fn curl(args: &[String]) -> Decision {
    // Short options that take a value, so `-sX POST` and `-XPOST` are both read.
    const WITH_VALUE: &str = "XdoFTHuwmAebcEKrxyYzCDPQtU";
    let method = |m: &str| match m.to_ascii_uppercase().as_str() {
        "GET" | "HEAD" | "OPTIONS" => None,
        other => Some(Decision::asks(format!("`curl -X {other}` sends a request that may change something"))),
    };
    let writes = |target: &str| match target {
        "/dev/null" | "-" => None,
        file => Some(Decision::asks(format!("`curl -o {file}` writes a file"))),
    };
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        let next = args.get(i).map(String::as_str).unwrap_or("");
        if let Some(long) = arg.strip_prefix("--") {
            let (flag, inline) = match long.split_once('=') {
                Some((f, v)) => (f, Some(v)),
                None => (long, None),
            };
            let value = inline.unwrap_or(next);
            let found = match flag {
                "request" => method(value),
                "data" | "data-raw" | "data-binary" | "data-urlencode" | "data-ascii" | "form" | "form-string"
                | "upload-file" | "json" => Some(Decision::asks(format!("`curl --{flag}` sends data"))),
                "output" => writes(value),
                "remote-name" | "remote-name-all" | "cookie-jar" | "config" => {
                    Some(Decision::asks(format!("`curl --{flag}` writes a file or reads unknown options")))
                }
                _ => None,
            };
            if let Some(found) = found {
                return found;
            }
            continue;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            continue;
        };
        for (at, flag) in cluster.char_indices() {
            if flag == 'O' {
                return Decision::asks("`curl -O` writes a file");
            }
            if WITH_VALUE.contains(flag) {
                let rest = &cluster[at + flag.len_utf8()..];
                let value = if rest.is_empty() { next } else { rest };
                let found = match flag {
                    'X' => method(value),
                    'd' | 'F' | 'T' => Some(Decision::asks(format!("`curl -{flag}` sends data"))),
                    'o' => writes(value),
                    'c' | 'K' => Some(Decision::asks(format!("`curl -{flag}` writes a file or reads unknown options"))),
                    _ => None,
                };
                if let Some(found) = found {
                    return found;
                }
                break;
            }
        }
    }
    Decision::read_only("`curl` GET only reads")
}

fn wget(args: &[String]) -> Decision {
    let to_stdout = args.windows(2).any(|w| w[0] == "-O" && w[1] == "-")
        || args.iter().any(|a| {
            a == "-O-" || a == "--output-document=-" || a == "--spider" || (a.starts_with('-') && a.ends_with("O-"))
        });
    if to_stdout {
        Decision::read_only("`wget` to stdout only reads")
    } else {
        Decision::asks("`wget` downloads a file")
    }
}

fn containers(name: &str, args: &[String]) -> Decision {
    const READERS: [&str; 14] = [
        "ps",
        "images",
        "inspect",
        "logs",
        "info",
        "version",
        "top",
        "port",
        "diff",
        "history",
        "stats",
        "events",
        "search",
        "--version",
    ];
    let verb = subcommand(args);
    let after: Vec<&str> = args.iter().map(String::as_str).skip_while(|a| Some(*a) != verb).skip(1).collect();
    match verb {
        Some("logs") if args.iter().any(|a| a == "-f" || a == "--follow") => {
            Decision::asks(format!("`{name} logs -f` follows the log until it is stopped"))
        }
        Some("stats") if !args.iter().any(|a| a == "--no-stream") => {
            Decision::asks(format!("`{name} stats` without --no-stream runs until it is stopped"))
        }
        Some(v) if READERS.contains(&v) => Decision::read_only(format!("`{name} {v}` only reads")),
        Some(v @ ("image" | "container" | "network" | "volume" | "system" | "context" | "node" | "service"))
            if matches!(after.first(), Some(&("ls" | "list" | "inspect" | "df" | "info" | "ps"))) =>
        {
            Decision::read_only(format!("`{name} {v} {}` only reads", after[0]))
        }
        Some(v) => Decision::asks(format!("`{name} {v}` is not known to be read-only")),
        None => Decision::read_only(format!("`{name}` alone prints its help")),
    }
}

fn cri(name: &str, args: &[String]) -> Decision {
    const READERS: [&str; 12] = [
        "ps",
        "pods",
        "images",
        "img",
        "inspect",
        "inspectp",
        "inspecti",
        "info",
        "version",
        "stats",
        "statsp",
        "imagefsinfo",
    ];
    let verb = subcommand(args);
    let after: Vec<&str> = args.iter().map(String::as_str).skip_while(|a| Some(*a) != verb).skip(1).collect();
    match verb {
        Some("logs") if args.iter().any(|a| a == "-f" || a == "--follow") => {
            Decision::asks(format!("`{name} logs -f` follows the log until it is stopped"))
        }
        Some("logs") => Decision::read_only(format!("`{name} logs` only reads")),
        Some(v) if READERS.contains(&v) => Decision::read_only(format!("`{name} {v}` only reads")),
        Some(v @ ("containers" | "images" | "tasks" | "snapshots" | "namespaces" | "content" | "c" | "i" | "t"))
            if matches!(after.first(), Some(&("ls" | "list" | "info"))) =>
        {
            Decision::read_only(format!("`{name} {v} {}` only reads", after[0]))
        }
        Some(v) => Decision::asks(format!("`{name} {v}` is not known to be read-only")),
        None => Decision::read_only(format!("`{name}` alone prints its help")),
    }
}

fn ceph(name: &str, args: &[String]) -> Decision {
    const CHANGES: [&str; 34] = [
        "set",
        "unset",
        "rm",
        "out",
        "in",
        "down",
        "reweight",
        "create",
        "delete",
        "purge",
        "destroy",
        "repair",
        "scrub",
        "deep-scrub",
        "enable",
        "disable",
        "add",
        "remove",
        "mark",
        "lost",
        "restart",
        "redeploy",
        "apply",
        "pause",
        "unpause",
        "archive",
        "fail",
        "new",
        "rename",
        "import",
        "put",
        "rmdir",
        "mksnap",
        "rollback",
    ];
    const READS: [&str; 26] = [
        "status",
        "-s",
        "health",
        "df",
        "stat",
        "tree",
        "ls",
        "list",
        "lspools",
        "dump",
        "versions",
        "version",
        "quorum_status",
        "detail",
        "get",
        "info",
        "report",
        "perf",
        "query",
        "ps",
        "du",
        "show",
        "mon_status",
        "crash",
        "log",
        "check",
    ];
    if let Some(word) = args.iter().find(|a| CHANGES.contains(&a.as_str())) {
        return Decision::asks(format!("`{name} … {word}` changes the storage cluster"));
    }
    match args.iter().find(|a| READS.contains(&a.as_str())) {
        Some(word) => Decision::read_only(format!("`{name} {word}` only reads")),
        None => Decision::asks(format!("`{name}` without a known read-only verb")),
    }
}

fn etcdctl(args: &[String]) -> Decision {
    let words: Vec<&str> = args.iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect();
    match words.as_slice() {
        ["endpoint", "status" | "health" | "hashkv", ..] | ["member", "list", ..] | ["alarm", "list", ..] => {
            Decision::read_only(format!("`etcdctl {} {}` only reads", words[0], words[1]))
        }
        ["get" | "version", ..] => Decision::read_only(format!("`etcdctl {}` only reads", words[0])),
        [verb, ..] => Decision::asks(format!("`etcdctl {verb}` may change the cluster")),
        [] => Decision::read_only("`etcdctl` alone prints its help"),
    }
}

fn amtool(args: &[String]) -> Decision {
    let words: Vec<&str> = args.iter().map(String::as_str).filter(|a| !a.starts_with('-')).collect();
    match words.as_slice() {
        ["alert"]
        | ["alert", "query", ..]
        | ["silence"]
        | ["silence", "query", ..]
        | ["config", ..]
        | ["check-config", ..] => Decision::read_only("`amtool` queries only read"),
        _ => Decision::asks("`amtool` may add or expire silences"),
    }
}

fn ip(args: &[String]) -> Decision {
    const CHANGES: [&str; 9] = ["add", "del", "delete", "set", "change", "replace", "flush", "append", "prepend"];
    match args.iter().find(|a| CHANGES.contains(&a.as_str())) {
        Some(word) => Decision::asks(format!("`ip … {word}` changes the network")),
        None => Decision::read_only("`ip` without a change only reads"),
    }
}

fn iptables(name: &str, args: &[String]) -> Decision {
    let lists = args.iter().any(|a| {
        a == "--list"
            || a == "--list-rules"
            || (a.starts_with('-') && !a.starts_with("--") && (a.contains('L') || a.contains('S')))
    });
    let changes = args.iter().any(|a| {
        matches!(a.as_str(), "-A" | "-D" | "-I" | "-R" | "-F" | "-X" | "-P" | "-N" | "-Z" | "-E")
            || a.starts_with("--append")
            || a.starts_with("--delete")
            || a.starts_with("--insert")
            || a.starts_with("--flush")
    });
    if lists && !changes {
        Decision::read_only(format!("`{name} -L` only reads"))
    } else {
        Decision::asks(format!("`{name}` changes the firewall"))
    }
}

fn sysctl(args: &[String]) -> Decision {
    if args.iter().any(|a| {
        a == "-w"
            || a == "--write"
            || a == "-p"
            || a == "--load"
            || a == "--system"
            || (a.contains('=') && !a.starts_with('-'))
    }) {
        Decision::asks("`sysctl` with a value changes kernel settings")
    } else {
        Decision::read_only("`sysctl` only reads")
    }
}

fn awk(name: &str, args: &[String]) -> Decision {
    let program = args.iter().find(|a| !a.starts_with('-')).map(String::as_str).unwrap_or("");
    if program.contains("system(")
        || program.contains("| \"")
        || program.contains("print >")
        || program.contains("printf >")
    {
        Decision::asks(format!("the `{name}` program runs commands or writes files"))
    } else {
        Decision::read_only(format!("`{name}` only reads"))
    }
}

fn flags_forbid(name: &str, args: &[String], forbidden: &[&str]) -> Decision {
    let hit = args.iter().find(|a| {
        forbidden.iter().any(|f| {
            *a == f || a.starts_with(&format!("{f}=")) || (f.len() == 2 && a.starts_with(f) && !a.starts_with("--"))
        })
    });
    match hit {
        Some(flag) => Decision::asks(format!("`{name} {flag}` changes files or runs commands")),
        None => Decision::read_only(format!("`{name}` only reads")),
    }
}

/// Programs that read without arguments and set something with them.
fn setter(name: &str, args: &[String]) -> Decision {
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let reads = match name {
        "mount" => positional.is_empty(),
        "hostname" | "ulimit" => positional.is_empty() && !args.iter().any(|a| a == "-b" || a == "-F"),
        "date" => !args.iter().any(|a| a == "-s" || a.starts_with("--set")),
        "ifconfig" => positional.len() <= 1,
        "route" => !args.iter().any(|a| a == "add" || a == "del"),
        "hostnamectl" | "timedatectl" => {
            positional.first().is_none_or(|p| p.as_str() == "status" || p.starts_with("show") || p.starts_with("list"))
        }
        _ => false,
    };
    if reads {
        Decision::read_only(format!("`{name}` only reads"))
    } else {
        Decision::asks(format!("`{name}` with these arguments changes the system"))
    }
}

/// A REPL or interpreter: alone it needs a person; with a script it is unknown code.
fn repl(name: &str, args: &[String]) -> Decision {
    let runs_code =
        args.iter().any(|a| matches!(a.as_str(), "-c" | "-e" | "--command" | "--execute" | "--eval" | "-f" | "--file"))
            || (matches!(name, "python" | "python3" | "node" | "irb") && args.iter().any(|a| !a.starts_with('-')));
    if name == "redis-cli" {
        const READS: [&str; 12] =
            ["info", "get", "keys", "scan", "ping", "dbsize", "ttl", "type", "llen", "hgetall", "monitor", "slowlog"];
        let words: Vec<String> = args.iter().filter(|a| !a.starts_with('-')).map(|a| a.to_ascii_lowercase()).collect();
        return match words.iter().find(|w| READS.contains(&w.as_str())) {
            Some(w) if w != "monitor" => Decision::read_only(format!("`redis-cli {w}` only reads")),
            _ if words.is_empty() || args.is_empty() => {
                Decision::interactive("`redis-cli` alone is a REPL: it needs a person")
            }
            _ => Decision::asks("`redis-cli` with a command that may write"),
        };
    }
    if runs_code {
        Decision::asks(format!("`{name}` runs code this table cannot read"))
    } else if args.iter().any(|a| a == "--version" || a == "-V") {
        Decision::read_only(format!("`{name} --version` only reads"))
    } else {
        Decision::interactive(format!("`{name}` is a REPL: it needs a person at a terminal"))
    }
}

/// A plain reader, with `--help`-style arguments allowed.
fn simple_reader(name: &str, _args: &[String]) -> Decision {
    Decision::read_only(format!("`{name}` only reads"))
}

/// PowerShell's read-only verbs: `Get-Service`, `Test-Connection`.
fn is_powershell_reader(name: &str) -> bool {
    let verb = name.split('-').next().unwrap_or("");
    name.contains('-')
        && matches!(
            verb.to_ascii_lowercase().as_str(),
            "get"
                | "test"
                | "show"
                | "find"
                | "measure"
                | "select"
                | "where"
                | "format"
                | "resolve"
                | "compare"
                | "sort"
                | "group"
                | "convertto"
                | "convertfrom"
        )
}

/// Programs that only read (or only change the shell's own state), whatever their arguments.
const READ_ONLY: &[&str] = &[
    "cat",
    "tac",
    "head",
    "less",
    "grep",
    "egrep",
    "fgrep",
    "zgrep",
    "zcat",
    "rg",
    "ag",
    "wc",
    "cut",
    "tr",
    "column",
    "jq",
    "base64",
    "xxd",
    "hexdump",
    "od",
    "strings",
    "nl",
    "paste",
    "join",
    "comm",
    "diff",
    "cmp",
    "fold",
    "fmt",
    "rev",
    "seq",
    "expr",
    "bc",
    "numfmt",
    "basename",
    "dirname",
    "realpath",
    "readlink",
    "stat",
    "file",
    "md5sum",
    "sha256sum",
    "sha1sum",
    "sha512sum",
    "cksum",
    "locate",
    "which",
    "whereis",
    "type",
    "ls",
    "tree",
    "du",
    "df",
    "lsblk",
    "blkid",
    "findmnt",
    "free",
    "vmstat",
    "iostat",
    "mpstat",
    "sar",
    "pidstat",
    "uptime",
    "w",
    "who",
    "whoami",
    "id",
    "groups",
    "uname",
    "arch",
    "nproc",
    "lscpu",
    "lspci",
    "lsusb",
    "lsmod",
    "lshw",
    "dmidecode",
    "modinfo",
    "getent",
    "cal",
    "printenv",
    "locale",
    "getconf",
    "ps",
    "pgrep",
    "pidof",
    "lsof",
    "ss",
    "netstat",
    "arp",
    "traceroute",
    "tracepath",
    "mtr",
    "dig",
    "nslookup",
    "host",
    "whois",
    "lsattr",
    "getfacl",
    "getenforce",
    "sestatus",
    "ausearch",
    "last",
    "lastlog",
    "ipcs",
    "iptables-save",
    "ip6tables-save",
    "conntrack",
    "nvcc",
    "echo",
    "printf",
    "true",
    "false",
    ":",
    "test",
    "[",
    "[[",
    "sleep",
    "wait",
    "cd",
    "pushd",
    "popd",
    "export",
    "set",
    "unset",
    "shopt",
    "alias",
    "local",
    "declare",
    "typeset",
    "readonly",
    "read",
    "mapfile",
    "readarray",
    "exit",
    "return",
    "shift",
    "break",
    "continue",
    "trap",
    "hash",
    "history",
    "jobs",
    "uniq",
    "sort",
    "tail",
    "more",
    "env",
    "clear",
    "pwd",
    "dirs",
    "umask",
    "let",
    "lstopo",
    "ibstat",
    "ibstatus",
    "ibv_devinfo",
    "ibdev2netdev",
    "lsns",
    "pvs",
    "vgs",
    "lvs",
    "pvdisplay",
    "vgdisplay",
    "lvdisplay",
    "showmount",
    "apt-cache",
    "ldd",
    "getcap",
    "ulimit",
    "ntpq",
    "lldpctl",
    "pstree",
    "time",
    "xmllint",
];

/// Programs that change something, with what.
const MUTATING: &[(&str, &str)] = &[
    ("rm", "deletes files"),
    ("rmdir", "deletes folders"),
    ("mv", "moves files"),
    ("cp", "writes files"),
    ("ln", "creates links"),
    ("mkdir", "creates folders"),
    ("touch", "creates or changes files"),
    ("chmod", "changes permissions"),
    ("chown", "changes owners"),
    ("chgrp", "changes groups"),
    ("chattr", "changes file attributes"),
    ("setfacl", "changes ACLs"),
    ("truncate", "changes file sizes"),
    ("dd", "writes devices or files"),
    ("shred", "destroys files"),
    ("install", "writes files"),
    ("kill", "signals processes"),
    ("killall", "signals processes"),
    ("pkill", "signals processes"),
    ("reboot", "reboots the host"),
    ("shutdown", "stops the host"),
    ("poweroff", "stops the host"),
    ("halt", "stops the host"),
    ("init", "changes the runlevel"),
    ("modprobe", "loads or unloads kernel modules"),
    ("rmmod", "unloads kernel modules"),
    ("insmod", "loads kernel modules"),
    ("apt", "installs or removes packages"),
    ("apt-get", "installs or removes packages"),
    ("yum", "installs or removes packages"),
    ("dnf", "installs or removes packages"),
    ("zypper", "installs or removes packages"),
    ("pip", "installs packages"),
    ("pip3", "installs packages"),
    ("npm", "installs packages"),
    ("brew", "installs packages"),
    ("snap", "installs packages"),
    ("useradd", "changes users"),
    ("userdel", "changes users"),
    ("usermod", "changes users"),
    ("passwd", "changes passwords"),
    ("groupadd", "changes groups"),
    ("crontab", "changes scheduled jobs"),
    ("mkfs", "formats a filesystem"),
    ("fdisk", "changes partitions"),
    ("parted", "changes partitions"),
    ("wipefs", "wipes signatures"),
    ("umount", "unmounts filesystems"),
    ("swapoff", "changes swap"),
    ("swapon", "changes swap"),
    ("fsck", "repairs filesystems"),
    ("xfs_repair", "repairs filesystems"),
    ("lvextend", "changes volumes"),
    ("lvcreate", "changes volumes"),
    ("lvremove", "changes volumes"),
    ("resize2fs", "resizes filesystems"),
    ("make", "builds and may install"),
    ("tar", "writes or extracts files"),
    ("unzip", "extracts files"),
    ("gzip", "replaces files"),
    ("gunzip", "replaces files"),
    ("patch", "changes files"),
    ("vgchange", "changes volumes"),
    ("setenforce", "changes SELinux"),
    ("update-ca-trust", "changes trusted certificates"),
    ("update-ca-certificates", "changes trusted certificates"),
    ("restorecon", "changes SELinux labels"),
    ("semanage", "changes SELinux policy"),
    ("firewall-cmd", "changes the firewall"),
    ("ufw", "changes the firewall"),
    ("rpm-ostree", "changes the OS image"),
    ("ostree", "changes the OS image"),
    ("podman-remote", "manages containers"),
    ("machinectl", "manages machines"),
    ("loginctl", "manages sessions"),
    ("eval", "runs text as commands"),
    ("source", "runs a file this doc does not show"),
    (".", "runs a file this doc does not show"),
    ("bash", "runs a script this table cannot read"),
    ("sh", "runs a script this table cannot read"),
    ("zsh", "runs a script this table cannot read"),
    ("ansible", "runs tasks on hosts"),
    ("ansible-playbook", "runs playbooks"),
    ("kubeadm", "changes the cluster"),
    ("virtctl", "changes virtual machines"),
    ("ipmitool", "controls the server's management board"),
    ("dracut", "rebuilds the initramfs"),
    ("grub2-mkconfig", "changes the boot loader"),
    ("efibootmgr", "changes boot entries"),
    ("hwclock", "changes the hardware clock"),
    ("exportfs", "changes NFS exports"),
    ("ceph-volume", "changes OSD volumes"),
    ("ceph-bluestore-tool", "changes OSD data"),
    ("ovn-appctl", "may change OVN state"),
    ("ovs-appctl", "may change OVS state"),
    ("ovs-dpctl", "may change datapaths"),
];

/// Programs that need a person at the keyboard.
const INTERACTIVE: &[&str] = &[
    "vi",
    "vim",
    "nvim",
    "nano",
    "emacs",
    "pico",
    "ed",
    "htop",
    "atop",
    "btop",
    "iftop",
    "iotop",
    "nmon",
    "glances",
    "mc",
    "tmux",
    "screen",
    "telnet",
    "ftp",
    "sftp",
    "gitlab-rails",
    "rails",
    "gitlab-psql",
    "gitlab-ctl",
    "rake",
    "irb",
    "pry",
    "mongo",
    "mongosh",
    "bpython",
    "ipython",
    "visudo",
    "vipw",
    "k9s",
];

/// Tools with their own verb rules in [`tool`], for [`is_known_program`].
const QUERY_TOOLS: &[&str] = &[
    "kubectl",
    "oc",
    "systemctl",
    "journalctl",
    "nvidia-smi",
    "curl",
    "wget",
    "docker",
    "podman",
    "nerdctl",
    "crictl",
    "ctr",
    "git",
    "helm",
    "ceph",
    "rados",
    "rbd",
    "radosgw-admin",
    "etcdctl",
    "ovn-nbctl",
    "ovn-sbctl",
    "ovs-vsctl",
    "ovs-ofctl",
    "virsh",
    "velero",
    "argocd",
    "promtool",
    "amtool",
    "terraform",
    "ip",
    "iptables",
    "ip6tables",
    "nft",
    "sysctl",
    "dmesg",
    "sed",
    "yq",
    "find",
    "awk",
    "gawk",
    "tee",
    "ping",
    "tcpdump",
    "top",
    "mount",
    "hostname",
    "date",
    "ifconfig",
    "route",
    "hostnamectl",
    "nc",
    "ncat",
    "openssl",
    "redis-cli",
    "psql",
    "mysql",
    "sqlite3",
    "python",
    "python3",
    "node",
    "fuser",
    "service",
    "dcgmi",
    "nvidia-container-cli",
    "ssh",
    "scp",
    "rsync",
];

const WRAPPERS: &[&str] = &[
    "sudo",
    "doas",
    "pkexec",
    "su",
    "nice",
    "ionice",
    "stdbuf",
    "command",
    "builtin",
    "exec",
    "nohup",
    "timeout",
    "xargs",
    "watch",
    "chroot",
    "nsenter",
    "rpm",
    "dpkg",
    "dpkg-query",
    "tc",
    "bridge",
    "chronyc",
    "networkctl",
    "smartctl",
    "mdadm",
];

#[cfg(test)]
mod tests {
    use super::super::shell::lex;
    use super::*;

    fn kind(text: &str) -> Kind {
        classify(&lex(text)).kind
    }

    fn reason(text: &str) -> String {
        classify(&lex(text)).reason
    }

    #[test]
    fn kubernetes_verbs() {
        for ro in [
            "kubectl get pods -A",
            "oc -n openshift-monitoring get pod",
            "oc --namespace=x describe pod y",
            "kubectl logs -n x pod/y --tail=100",
            "kubectl top nodes",
            "kubectl get events --sort-by=.lastTimestamp",
            "kubectl explain pod.spec",
            "kubectl auth can-i list pods",
            "oc adm top nodes",
            "oc whoami",
            "kubectl rollout status deploy/x",
            "oc get mc rendered-worker -o jsonpath='{.spec.config.storage.files[?(@.path==\"/etc/x\")]}'",
            "kubectl --context prod -n kube-system get cm coredns -o yaml",
        ] {
            assert_eq!(kind(ro), Kind::ReadOnly, "{ro}: {}", reason(ro));
        }
        for asks in [
            "kubectl delete pod x",
            "oc -n x delete pod y --force --grace-period=0",
            "kubectl apply -f x.yaml",
            "oc patch clusterversion version --type merge -p '{}'",
            "kubectl scale deploy/x --replicas=0",
            "kubectl rollout restart deploy/x",
            "oc adm cordon node1",
            "oc adm drain node1 --ignore-daemonsets",
            "kubectl label node x a=b",
            "kubectl edit cm x",
            "kubectl logs -f pod/x",
            "kubectl get pods -w",
            "oc debug node/x",
            "oc project openshift-storage",
        ] {
            assert_eq!(kind(asks), Kind::Asks, "{asks}: {}", reason(asks));
        }
        assert_eq!(reason("kubectl delete pod x"), "`kubectl delete` changes the cluster");
    }

    #[test]
    fn exec_is_decided_by_the_command_in_the_pod() {
        assert_eq!(kind("oc exec -n x pod -- df -h"), Kind::ReadOnly);
        assert_eq!(kind("kubectl exec pod -c c -- rm -rf /data"), Kind::Asks);
        assert_eq!(kind("oc rsh -n openshift-storage pod ceph -s"), Kind::ReadOnly);
        assert_eq!(kind("oc exec -it pod -- bash"), Kind::Interactive);
        assert_eq!(kind("oc rsh -n x pod"), Kind::Interactive);
        assert_eq!(reason("oc exec -n x pod -- df -h"), "only reads: oc exec");
        assert_eq!(reason("oc exec -n x pod -- rm f"), "in the pod: `rm` deletes files");
    }

    #[test]
    fn hosts_and_services() {
        for ro in [
            "systemctl status kubelet",
            "systemctl --no-pager list-units --failed",
            "systemctl is-active crio",
            "journalctl -u kubelet --since '1 hour ago' --no-pager",
            "df -h /var",
            "du -sh /var/lib/containers",
            "nvidia-smi",
            "nvidia-smi -q -d MEMORY",
            "nvidia-smi --query-gpu=name,memory.used --format=csv",
            "curl -s http://localhost:9090/api/v1/status",
            "curl -sk -H 'Authorization: Bearer x' https://api:6443/healthz",
            "curl -o /dev/null -w '%{http_code}' http://x",
            "ip addr show",
            "iptables -t nat -nvL",
            "sysctl -a",
            "dmesg -T",
            "ss -tlnp",
            "cat /proc/mdstat",
            "ls -li .",
            "stat",
            "lsof -n",
            "free -m",
            "ping -c 3 10.0.0.1",
            "find /var/log -name '*.log' -mtime +7",
            "sed -n 1,5p file",
            "chroot /host",
            "crictl ps -a",
            "crictl logs abc",
            "ceph -s",
            "ceph osd tree",
            "etcdctl endpoint status -w table",
            "openssl x509 -in cert.pem -noout -dates",
        ] {
            assert_eq!(kind(ro), Kind::ReadOnly, "{ro}: {}", reason(ro));
        }
        for asks in [
            "systemctl restart kubelet",
            "journalctl --vacuum-size=500M",
            "journalctl -fu kubelet",
            "nvidia-smi -pm 1",
            "nvidia-smi -r -i 0",
            "nvidia-smi -l 1",
            "curl -X POST http://x/-/reload",
            "curl -XDELETE http://x",
            "curl -sX PUT http://x",
            "curl -d '{}' http://x",
            "curl --data-binary @f http://x",
            "curl -o out.json http://x",
            "curl -O http://x/file",
            "wget http://x/file",
            "ip link set eth0 down",
            "iptables -A INPUT -j DROP",
            "sysctl -w vm.max_map_count=262144",
            "sysctl fs.file-max=100",
            "sed -i s/a/b/ file",
            "find /tmp -name x -delete",
            "find . -exec rm {} ;",
            "ping 10.0.0.1",
            "ceph osd out 3",
            "etcdctl defrag",
            "tail -f /var/log/x",
            "rm -rf /var/lib/x",
            "reboot",
            "mount /dev/sdb /mnt",
            "crictl rmi --prune",
        ] {
            assert_eq!(kind(asks), Kind::Asks, "{asks}: {}", reason(asks));
        }
    }

    #[test]
    fn sudo_redirections_and_unknown_commands() {
        assert_eq!(kind("sudo journalctl -u x"), Kind::Asks);
        assert!(reason("sudo df").contains("root"));
        assert_eq!(kind("oc get pod x -o yaml > pod.yaml"), Kind::Asks);
        assert_eq!(reason("oc get pod x -o yaml > pod.yaml"), "writes `pod.yaml` (>)");
        assert_eq!(kind("echo 1 >> /proc/sys/vm/drop_caches"), Kind::Asks);
        assert_eq!(kind("oc get pods 2>/dev/null"), Kind::ReadOnly);
        assert_eq!(kind("oc get pods 2>&1 | grep x"), Kind::ReadOnly);
        assert_eq!(kind("frobnicate --all"), Kind::Asks);
        assert_eq!(reason("frobnicate --all"), "`frobnicate` is not known to be read-only");
        assert_eq!(kind("$TOOL run"), Kind::Asks);
        assert_eq!(kind("wc -l < file.txt"), Kind::ReadOnly);
    }

    #[test]
    fn chains_are_as_strict_as_their_strictest_part() {
        assert_eq!(kind("oc get pods | grep Running | wc -l"), Kind::ReadOnly);
        assert_eq!(kind("oc get pods && oc delete pod x"), Kind::Asks);
        assert_eq!(kind("oc get pods -o name | xargs oc delete"), Kind::Asks);
        assert_eq!(kind("oc get pods -o name | xargs -n1 oc describe"), Kind::ReadOnly);
        assert_eq!(kind("oc logs $(oc get pod -l app=x -o name)"), Kind::ReadOnly);
        assert_eq!(kind("echo $(rm -rf /x)"), Kind::Asks);
        assert_eq!(kind("for p in $(oc get pods -o name); do oc describe $p; done"), Kind::ReadOnly);
        assert_eq!(kind("for p in a b; do oc delete $p; done"), Kind::Asks);
        assert_eq!(kind("NS=x; oc get pods -n $NS"), Kind::ReadOnly);
        assert_eq!(kind("cat <<EOF | oc apply -f -\nkind: Pod\nEOF"), Kind::Asks);
        assert_eq!(kind("echo 'unclosed"), Kind::Asks);
        assert_eq!(reason("oc get pods | grep x"), "only reads: oc get, grep");
        assert_eq!(kind("timeout 10 oc get pods"), Kind::ReadOnly);
        assert_eq!(kind("watch oc get pods"), Kind::Asks);
        assert_eq!(kind("env KUBECONFIG=x oc get pods"), Kind::ReadOnly);
    }

    #[test]
    fn interactive_programs_need_a_person() {
        assert_eq!(kind("vi /etc/hosts"), Kind::Interactive);
        assert_eq!(kind("psql -U postgres"), Kind::Interactive);
        assert_eq!(kind("psql -c 'drop table x'"), Kind::Asks);
        assert_eq!(kind("gitlab-rails console"), Kind::Interactive);
        assert_eq!(kind("python3"), Kind::Interactive);
        assert_eq!(kind("python3 script.py"), Kind::Asks);
        assert_eq!(kind("redis-cli"), Kind::Interactive);
        assert_eq!(kind("redis-cli info memory"), Kind::ReadOnly);
        assert_eq!(kind("top"), Kind::Interactive);
        assert_eq!(kind("top -b -n 1"), Kind::ReadOnly);
    }

    #[test]
    fn powershell_verbs() {
        assert_eq!(kind("Get-Service docker"), Kind::ReadOnly);
        assert_eq!(kind("Restart-Service docker"), Kind::Asks);
    }

    #[test]
    fn knows_programs_for_root_prompts() {
        assert!(is_known_program("sysctl"));
        assert!(is_known_program("/usr/bin/kubectl"));
        assert!(!is_known_program("TODO:"));
        assert!(!is_known_program("Now"));
    }
}

//! Placeholders: the `<namespace>`, `<node-name>` and `<value of namespace label from alert>`
//! a doc asks the reader to fill in, and the `$NAMESPACE` it uses without ever setting. Each is
//! a required variable with a derived name; its value goes in shell-quoted for where it stands.
//! Redirections, heredoc operators, process substitution, HTML tags and comparisons are not
//! placeholders.

use super::shell::Lexed;
use crate::util::shell::shell_quote;
use regex::Regex;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::OnceLock;

/// Where a placeholder stands, which decides how its value is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    Bare,
    SingleQuoted,
    DoubleQuoted,
    /// In a heredoc body that the shell expands (`<<EOF`).
    HeredocExpanded,
    /// In a heredoc body taken literally (`<<'EOF'`).
    HeredocLiteral,
}

/// One `<…>` placeholder in a piece of shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The `<…>`, with the quotes around it when it fills a whole quoted string.
    pub range: Range<usize>,
    /// The text between `<` and `>`.
    pub text: String,
    pub context: Context,
    /// The quotes around it were taken into `range` (`'<x>'` → the value, quoted once).
    pub whole_quoted: bool,
}

fn placeholder_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r#"<([A-Za-z"'][A-Za-z0-9 _.:"'/,#+-]{0,79})>"#).expect("valid regex"))
}

fn html_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)^(?:br|p|div|span|a|b|i|u|em|strong|code|pre|img|ul|ol|li|table|tr|td|th|thead|tbody|h[1-6]|hr|details|summary|kbd|sub|sup|small|blockquote|dl|dt|dd|section|html|head|body|script|style|link|meta|input|form|button|label|option|textarea|iframe|svg|path|center|font|tt|var|samp|abbr|mark|del|ins|s|q|cite|figure|figcaption|nav|header|footer|main|article|aside)(?:\s+[a-z-]+(?:=(?:\S+))?)*\s*/?$",
        )
        .expect("valid regex")
    })
}

fn email_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[^\s@]+@[^\s@]+\.[A-Za-z]{2,}$").expect("valid regex"))
}

/// Every placeholder in `text` (which `lexed` was read from).
pub(crate) fn find(text: &str, lexed: &Lexed) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for caps in placeholder_re().captures_iter(text) {
        let Some(all) = caps.get(0) else { continue };
        let inner = &caps[1];
        let (start, end) = (all.start(), all.end());
        let before = start.checked_sub(1).map(|i| bytes[i]);
        if before == Some(b'<') || inner.ends_with(' ') || inner.ends_with('"') && !inner.starts_with('"') {
            continue;
        }
        if html_re().is_match(inner) || email_re().is_match(inner) || closes_later(text, inner, end) {
            continue;
        }
        if lexed.in_comment(start) || lexed.in_test(start) {
            continue;
        }
        let context = match lexed.heredoc_at(start) {
            Some(h) if h.quoted => Context::HeredocLiteral,
            Some(_) => Context::HeredocExpanded,
            None if lexed.in_single_quotes(start) => Context::SingleQuoted,
            None if lexed.in_double_quotes(start) => Context::DoubleQuoted,
            None => Context::Bare,
        };
        let quote = match context {
            Context::SingleQuoted => Some(b'\''),
            Context::DoubleQuoted => Some(b'"'),
            _ => None,
        };
        let whole = quote.is_some_and(|q| before == Some(q) && bytes.get(end) == Some(&q));
        let range = if whole { start - 1..end + 1 } else { start..end };
        out.push(Found { range, text: inner.to_string(), context, whole_quoted: whole });
    }
    out
}

/// `<name>` later followed by `</name>`: an XML or HTML element, not a placeholder.
fn closes_later(text: &str, inner: &str, from: usize) -> bool {
    let tag = inner.split_whitespace().next().unwrap_or(inner);
    text[from..].contains(&format!("</{tag}>"))
}

/// The alert label a placeholder names: `<value of namespace label from alert>` → `namespace`.
pub(crate) fn label_name(text: &str) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"(?i)^(?:the\s+)?(?:value\s+of\s+(?:the\s+)?)?([A-Za-z_][\w.-]*)\s+label\b").expect("valid regex")
    });
    re.captures(text.trim_matches(['"', '\''])).map(|c| identifier(&c[1]))
}

/// The variable name for a placeholder's text: `<node-name>` → `node_name`,
/// `<"Used By:" field from the above output>` → `used_by`.
pub(crate) fn derive_name(text: &str) -> String {
    if let Some(label) = label_name(text) {
        return label;
    }
    let lower = text.to_lowercase();
    let cut = lower.find(" from ").map(|i| &lower[..i]).unwrap_or(&lower);
    let words: Vec<&str> =
        cut.split(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_').filter(|w| !w.is_empty()).collect();
    let filler = ["the", "a", "an", "your", "value", "of", "field"];
    let kept: Vec<&str> = words.iter().copied().filter(|w| words.len() == 1 || !filler.contains(w)).collect();
    let name = identifier(&kept.join("_"));
    if name.is_empty() { "value".to_string() } else { name }
}

/// Lowercase, `-`/`.`/spaces to `_`, a leading digit prefixed: a template-safe variable name.
pub(crate) fn identifier(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.starts_with(|c: char| c.is_ascii_digit()) { format!("v_{out}") } else { out }
}

/// The text that replaces a placeholder whose value is `value`.
pub(crate) fn replacement(found: &Found, value: &str) -> String {
    let quoted = shell_quote(value);
    match found.context {
        Context::Bare => quoted,
        _ if found.whole_quoted => quoted,
        // Close the quotes, put the quoted value, reopen them: `'a'` + `'v'` + `'b'`.
        Context::SingleQuoted => format!("'{quoted}'"),
        Context::DoubleQuoted => format!("\"{quoted}\""),
        Context::HeredocLiteral => value.to_string(),
        Context::HeredocExpanded => value.replace('\\', "\\\\").replace('$', "\\$").replace('`', "\\`"),
    }
}

/// Replaces every placeholder whose variable has a value; the others stay as written.
pub(crate) fn substitute(text: &str, found: &[(Found, String)], values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (placeholder, name) in found {
        let Some(value) = values.get(name) else { continue };
        out.push_str(&text[at..placeholder.range.start]);
        out.push_str(&replacement(placeholder, value));
        at = placeholder.range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Environment variables a doc may use without setting them: the shell's and the user's own.
pub(crate) fn is_ambient(name: &str) -> bool {
    const NAMES: [&str; 42] = [
        "HOME",
        "PATH",
        "USER",
        "LOGNAME",
        "SHELL",
        "PWD",
        "OLDPWD",
        "HOSTNAME",
        "HOST",
        "TERM",
        "LANG",
        "TMPDIR",
        "KUBECONFIG",
        "EDITOR",
        "VISUAL",
        "PAGER",
        "UID",
        "EUID",
        "PPID",
        "RANDOM",
        "SECONDS",
        "LINENO",
        "IFS",
        "PS1",
        "PS2",
        "PS4",
        "OPTARG",
        "OPTIND",
        "REPLY",
        "PIPESTATUS",
        "HOSTTYPE",
        "OSTYPE",
        "MACHTYPE",
        "DISPLAY",
        "COLUMNS",
        "LINES",
        "FUNCNAME",
        "GROUPS",
        "BASHPID",
        "BASH_SOURCE",
        "SHLVL",
        "MAIL",
    ];
    NAMES.contains(&name)
        || ["LC_", "XDG_", "SSH_", "BASH", "RUNBOOK_", "KUBE_", "GIT_"].iter().any(|p| name.starts_with(p))
        || name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::super::shell::lex;
    use super::*;

    fn names(text: &str) -> Vec<String> {
        find(text, &lex(text)).iter().map(|f| derive_name(&f.text)).collect()
    }

    #[test]
    fn finds_placeholders() {
        assert_eq!(names("oc get pods -n <namespace>"), ["namespace"]);
        assert_eq!(names("oc debug node/<node-name>"), ["node_name"]);
        assert_eq!(names("NAMESPACE='<value of namespace label from alert>'"), ["namespace"]);
        assert_eq!(names("PVC='<persistentvolumeclaim label from alert>'"), ["persistentvolumeclaim"]);
        assert_eq!(names("POD_NAME='<\"Used By:\" field from the above output>'"), ["used_by"]);
        assert_eq!(
            names("oc rsh -n openshift-storage <rook-ceph-tools pod name from previous step>"),
            ["rook_ceph_tools_pod_name"]
        );
        assert_eq!(names("ping -c 5 <provider ip from first step>"), ["provider_ip"]);
        assert_eq!(names("oc rsh -n<CLIENT_NAMESPACE> deploy/x"), ["client_namespace"]);
        assert_eq!(names("oc get vmi <vm-name> -n <NAMESPACE> -o yaml"), ["vm_name", "namespace"]);
        assert_eq!(names("scrape_pool=<monitor>/<namespace>/<endpoint-id>"), ["monitor", "namespace", "endpoint_id"]);
        assert_eq!(names("oc get secret <YOUR_SECRET_NAME>"), ["your_secret_name"]);
        assert_eq!(names("echo <1st>"), Vec::<String>::new(), "a placeholder starts with a letter");
    }

    #[test]
    fn what_is_not_a_placeholder() {
        for text in [
            "wc -l < input.txt",
            "cat <<EOF\nx\nEOF",
            "diff <(ls a) <(ls b)",
            "echo '<br>' '<div class=x>' '</p>'",
            "[[ $a < $b ]] && echo y > out",
            "(( a < b && c > d ))",
            "cat x <in >out",
            "git commit --author 'Me <me@example.com>'",
            "cat <<EOF\n<configuration><name>x</name></configuration>\nEOF",
            "# oc get pods -n <namespace>",
            "if [ $a -lt 3 ]; then echo; fi",
        ] {
            assert!(names(text).is_empty(), "{text}: {:?}", names(text));
        }
    }

    #[test]
    fn values_are_quoted_for_where_they_stand() {
        let subst = |text: &str, value: &str| {
            let lexed = lex(text);
            let found: Vec<(Found, String)> = find(text, &lexed)
                .into_iter()
                .map(|f| {
                    let n = derive_name(&f.text);
                    (f, n)
                })
                .collect();
            let values: BTreeMap<String, String> = found.iter().map(|(_, n)| (n.clone(), value.to_string())).collect();
            substitute(text, &found, &values)
        };
        assert_eq!(subst("oc get pods -n <namespace>", "openshift-monitoring"), "oc get pods -n openshift-monitoring");
        assert_eq!(subst("oc get pods -n <namespace>", "a b; rm -rf /"), "oc get pods -n 'a b; rm -rf /'");
        assert_eq!(subst("NS='<namespace>'", "x y"), "NS='x y'");
        assert_eq!(subst("NS=\"<namespace>\"", "it's"), "NS='it'\\''s'");
        assert_eq!(
            subst("jq '.items[] | select(.name==\"<name>\")'", "a'b"),
            "jq '.items[] | select(.name==\"''a'\\''b''\")'"
        );
        assert_eq!(subst("echo \"pod/<pod> is\"", "$(reboot)"), "echo \"pod/\"'$(reboot)'\" is\"");
        assert_eq!(subst("cat <<EOF\nname: <name>\nEOF", "$(x)"), "cat <<EOF\nname: \\$(x)\nEOF");
        assert_eq!(subst("cat <<'EOF'\nname: <name>\nEOF", "$(x)"), "cat <<'EOF'\nname: $(x)\nEOF");
    }

    #[test]
    fn quoted_values_run_as_the_literal_value() {
        // The quoting above, checked by a real shell: the value arrives unchanged.
        let Ok(bash) = which_bash() else { return };
        for value in ["plain", "a b", "it's", "$(touch /tmp/x)", "`id`", "a\\b", "\"q\""] {
            for template in [
                "printf %s <v>",
                "printf %s '<v>'",
                "printf %s \"<v>\"",
                "printf %s 'pre-<v>-post'",
                "printf %s \"pre-<v>-post\"",
            ] {
                let lexed = lex(template);
                let found: Vec<(Found, String)> =
                    find(template, &lexed).into_iter().map(|f| (f, "v".to_string())).collect();
                let values = BTreeMap::from([("v".to_string(), value.to_string())]);
                let script = substitute(template, &found, &values);
                let out = std::process::Command::new(&bash).arg("-c").arg(&script).output().unwrap();
                let expected = template.replace("printf %s ", "").trim_matches(['\'', '"']).replace("<v>", value);
                assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{script}");
            }
        }
    }

    fn which_bash() -> Result<std::path::PathBuf, ()> {
        std::env::split_paths(&std::env::var_os("PATH").ok_or(())?)
            .map(|d| d.join("bash"))
            .find(|p| p.is_file())
            .ok_or(())
    }

    #[test]
    fn ambient_variables() {
        assert!(is_ambient("HOME"));
        assert!(is_ambient("KUBECONFIG"));
        assert!(is_ambient("pod"), "lowercase names are script locals");
        assert!(!is_ambient("NAMESPACE"));
        assert!(!is_ambient("NODE_NAME"));
    }
}

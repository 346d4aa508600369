//! The `file` probe: existence, type, access and content of a file or device node.
//!
//! Existence follows symbolic links like `test -e`: a dangling `libcuda.so` link after a driver
//! upgrade is exactly the kind of thing this probe must catch, so it counts as missing.

use super::{ProbeEnv, ProbeOutcome, os_error};
use crate::exec::check::{LineScanner, check_measure};
use crate::model::matcher::{Matcher, Unit};
use crate::model::probe::{FileField, FileKind, FileProbe};
use crate::model::quantity::HumanBytes;
use crate::record::CheckResult;
use rustix::fs::Access;
use std::fs::{File, FileType, Metadata};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The most of a file `contains` reads: enough for any config or log excerpt, bounded for
/// `/dev/zero`-like surprises.
const CONTENT_LIMIT: u64 = 64 * 1024 * 1024;

/// What is at a path. One short-lived value per probe run, so its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Found {
    /// Something is there. `meta` follows symbolic links; `link` is the target when the path is one.
    Present { lmeta: Metadata, meta: Metadata, link: Option<PathBuf> },
    /// Nothing usable, in words for the `exists` check (`no such file`, `a dangling symbolic link …`).
    Missing(String),
}

pub(crate) fn run(probe: &FileProbe, env: &ProbeEnv) -> ProbeOutcome {
    let path = env.resolve(&probe.path.source);
    let shown = path.display().to_string();
    let found = match look(&path) {
        Ok(found) => found,
        Err(reason) => return ProbeOutcome::error(format!("cannot look at {shown}: {reason}")),
    };
    match found {
        Found::Missing(what) => {
            let check = CheckResult::new("exists", expected_existence(probe.exists), what.clone(), !probe.exists);
            let mut observed = format!("{shown}: {what}");
            if let Some(parent) = nearest_existing_parent(&path) {
                observed.push_str(&format!(" (nearest existing parent: {})", parent.display()));
            }
            ProbeOutcome::done(vec![check], vec![observed])
        }
        Found::Present { lmeta, meta, link } => {
            let mut observed = vec![describe(&shown, &path, &meta, link.as_deref())];
            let what = article(&kind_words(&lmeta, &meta));
            let exists = CheckResult::new("exists", expected_existence(probe.exists), what, probe.exists);
            if !probe.exists {
                return ProbeOutcome::done(vec![exists], observed);
            }
            let mut checks = vec![exists];
            checks.extend(present_checks(probe, &path, &lmeta, &meta, &mut observed));
            ProbeOutcome::done(checks, observed)
        }
    }
}

fn expected_existence(exists: bool) -> String {
    if exists { "to exist" } else { "not to exist" }.to_string()
}

/// The checks beyond existence, in the order `Probe::expectations` lists them.
fn present_checks(
    probe: &FileProbe,
    path: &Path,
    lmeta: &Metadata,
    meta: &Metadata,
    observed: &mut Vec<String>,
) -> Vec<CheckResult> {
    let mut checks = Vec::new();
    if let Some(kind) = probe.kind {
        // Only `symlink` is about the link itself; every other type is about what it points to.
        let seen = if kind == FileKind::Symlink { lmeta.file_type() } else { meta.file_type() };
        let passed = kind_matches(kind, seen);
        checks.push(CheckResult::new("type", article(kind_word(kind)), article(type_word(seen)), passed));
    }
    if let Some(want) = probe.readable {
        checks.push(access_check("readable", want, access(path, Access::READ_OK)));
    }
    if let Some(want) = probe.writable {
        checks.push(access_check("writable", want, access(path, Access::WRITE_OK)));
    }
    for m in probe.measures() {
        match m.field {
            FileField::Contains => {
                let (results, note) = content_checks(path, meta, m.label, m.matcher);
                checks.extend(results);
                observed.extend(note);
            }
            FileField::Size => checks.push(check_measure(&m, meta.len() as f64)),
        }
    }
    checks
}

/// Stats the path; `Err` only when the system will not say (a directory we may not search).
fn look(path: &Path) -> Result<Found, String> {
    let lmeta = match std::fs::symlink_metadata(path) {
        Ok(lmeta) => lmeta,
        Err(e) if is_absent(&e) => return Ok(Found::Missing("no such file".to_string())),
        Err(e) => return Err(os_error(&e)),
    };
    if !lmeta.file_type().is_symlink() {
        return Ok(Found::Present { meta: lmeta.clone(), lmeta, link: None });
    }
    let target = std::fs::read_link(path).unwrap_or_default();
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Found::Present { lmeta, meta, link: Some(target) }),
        Err(e) if is_absent(&e) => Ok(Found::Missing(format!("a dangling symbolic link to {}", target.display()))),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            Ok(Found::Missing(format!("a symbolic link loop through {}", target.display())))
        }
        Err(e) => Err(os_error(&e)),
    }
}

/// Errors that mean "nothing there": no entry, or a path component that is not a directory.
fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

/// The closest ancestor that exists, to show how much of a missing path is there.
fn nearest_existing_parent(path: &Path) -> Option<&Path> {
    path.ancestors().skip(1).find(|p| std::fs::symlink_metadata(p).is_ok())
}

/// `access(2)` for the current user (root passes read and write checks regardless of mode).
fn access(path: &Path, mode: Access) -> Result<(), String> {
    rustix::fs::access(path, mode).map_err(|errno| os_error(&errno.into()))
}

fn access_check(label: &str, want: bool, seen: Result<(), String>) -> CheckResult {
    let expected = if want { "yes" } else { "no" }.to_string();
    let actual = match &seen {
        Ok(()) => "yes".to_string(),
        Err(reason) => format!("no ({reason})"),
    };
    CheckResult::new(label, expected, actual, seen.is_ok() == want)
}

/// Streams the file through the line patterns; returns one check per pattern and, when the
/// file was cut short, a line for `observed`.
fn content_checks(path: &Path, meta: &Metadata, label: &str, matcher: &Matcher) -> (Vec<CheckResult>, Option<String>) {
    let Matcher::Lines(patterns) = matcher else {
        return (vec![CheckResult::failed(label, matcher.describe(Unit::Plain), "not line patterns".into())], None);
    };
    let fail_all = |problem: String| {
        patterns.iter().map(|p| CheckResult::failed(label, p.to_string(), problem.clone())).collect::<Vec<_>>()
    };
    if !meta.is_file() {
        // Devices and FIFOs can block forever or never end; only regular files have contents.
        return (fail_all(format!("not read: it is {}", article(type_word(meta.file_type())))), None);
    }
    let mut scanner = match LineScanner::new(label, patterns) {
        Ok(scanner) => scanner,
        Err(problem) => return (fail_all(problem.to_string()), None),
    };
    match scan(path, &mut scanner) {
        Ok(truncated) => {
            let note = truncated.then(|| {
                format!(
                    "content: read only the first {} of {}",
                    HumanBytes(CONTENT_LIMIT as f64),
                    HumanBytes(meta.len() as f64)
                )
            });
            (scanner.finish(), note)
        }
        Err(e) => (fail_all(format!("cannot read: {}", os_error(&e))), None),
    }
}

/// Feeds the file to `scanner` line by line, up to [`CONTENT_LIMIT`]; true when it was cut short.
fn scan(path: &Path, scanner: &mut LineScanner) -> io::Result<bool> {
    let mut reader = BufReader::new(File::open(path)?.take(CONTENT_LIMIT));
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end_matches(['\n', '\r']);
        scanner.line(line);
        scanner.bytes(line.trim().len() as u64);
    }
    let mut file = reader.into_inner();
    if file.limit() > 0 {
        return Ok(false);
    }
    // The limit was reached: see whether anything lies beyond it.
    let mut byte = [0u8; 1];
    Ok(file.get_mut().read(&mut byte)? > 0)
}

/// `/dev/nvidia-uvm: character device, crw-rw-rw-, readable, writable`
fn describe(shown: &str, path: &Path, meta: &Metadata, link: Option<&Path>) -> String {
    let mut parts = Vec::new();
    if let Some(target) = link {
        parts.push(format!("symbolic link to {}", target.display()));
    }
    parts.push(type_word(meta.file_type()).to_string());
    if meta.is_file() {
        parts.push(HumanBytes(meta.len() as f64).to_string());
    }
    parts.push(mode_string(meta));
    for (mode, yes, no) in
        [(Access::READ_OK, "readable", "not readable"), (Access::WRITE_OK, "writable", "not writable")]
    {
        parts.push(if access(path, mode).is_ok() { yes } else { no }.to_string());
    }
    format!("{shown}: {}", parts.join(", "))
}

/// `ls -l` style permissions: `-rw-r--r--`, `crw-rw-rw-`, `drwxrwxrwt`.
fn mode_string(meta: &Metadata) -> String {
    let ft = meta.file_type();
    let mode = meta.permissions().mode();
    let kind = match () {
        _ if ft.is_dir() => 'd',
        _ if ft.is_symlink() => 'l',
        _ if ft.is_char_device() => 'c',
        _ if ft.is_block_device() => 'b',
        _ if ft.is_socket() => 's',
        _ if ft.is_fifo() => 'p',
        _ => '-',
    };
    let mut out = String::from(kind);
    // For user, group, other: where its rwx bits sit, its setuid/setgid/sticky bit and letter.
    for (shift, special, letter) in [(6, 0o4000, 's'), (3, 0o2000, 's'), (0, 0o1000, 't')] {
        let bits = (mode >> shift) & 0o7;
        out.push(if bits & 4 != 0 { 'r' } else { '-' });
        out.push(if bits & 2 != 0 { 'w' } else { '-' });
        out.push(match (bits & 1 != 0, mode & special != 0) {
            (true, true) => letter,
            (false, true) => letter.to_ascii_uppercase(),
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    out
}

fn kind_matches(kind: FileKind, ft: FileType) -> bool {
    match kind {
        FileKind::File => ft.is_file(),
        FileKind::Dir => ft.is_dir(),
        FileKind::Symlink => ft.is_symlink(),
        FileKind::Char => ft.is_char_device(),
        FileKind::Block => ft.is_block_device(),
        FileKind::Socket => ft.is_socket(),
        FileKind::Fifo => ft.is_fifo(),
    }
}

fn kind_word(kind: FileKind) -> &'static str {
    kind.word()
}

fn type_word(ft: FileType) -> &'static str {
    let kinds = [
        FileKind::Symlink,
        FileKind::File,
        FileKind::Dir,
        FileKind::Char,
        FileKind::Block,
        FileKind::Socket,
        FileKind::Fifo,
    ];
    kinds.into_iter().find(|k| kind_matches(*k, ft)).map_or("file of unknown type", kind_word)
}

/// What is there, for the `exists` check: `a regular file`, `a symbolic link to a directory`.
fn kind_words(lmeta: &Metadata, meta: &Metadata) -> String {
    if lmeta.file_type().is_symlink() {
        format!("symbolic link to {}", article(type_word(meta.file_type())))
    } else {
        type_word(meta.file_type()).to_string()
    }
}

/// Every kind word starts with a consonant sound, so `a` always fits.
fn article(word: &str) -> String {
    format!("a {word}")
}

#[cfg(test)]
mod tests {
    use super::super::ProbeStatus;
    use super::super::testing::env;
    use super::*;
    use std::os::unix::fs::symlink;

    fn probe(yaml: &str) -> FileProbe {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn run_at(dir: &Path, yaml: &str) -> ProbeOutcome {
        run(&probe(yaml), &env(dir))
    }

    fn messages(outcome: &ProbeOutcome) -> Vec<&str> {
        outcome.checks.iter().map(|c| c.message.as_str()).collect()
    }

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    #[test]
    fn regular_file_type_size_and_access() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.txt"), "hello\nworld\n").unwrap();
        std::fs::set_permissions(tmp.path().join("a.txt"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let outcome = run_at(tmp.path(), "{path: a.txt, type: file, readable: true, writable: true, size: 12}");
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert!(outcome.passed(), "{:?}", messages(&outcome));
        assert_eq!(outcome.checks.len(), 5);
        assert_eq!(outcome.checks[0].message, "exists a regular file (to exist)");
        let shown = tmp.path().join("a.txt").display().to_string();
        assert_eq!(outcome.observed, vec![format!("{shown}: regular file, 12 B, -rw-r--r--, readable, writable")]);
        let wrong = run_at(tmp.path(), "{path: a.txt, type: dir, size: {gt: 1KiB}}");
        assert_eq!(
            messages(&wrong)[1..],
            ["type: expected a directory, saw a regular file", "size: expected > 1.0 KiB, saw 12 B"]
        );
    }

    #[test]
    fn directories_and_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("d")).unwrap();
        symlink("d", tmp.path().join("link")).unwrap();
        symlink("nowhere", tmp.path().join("dangling")).unwrap();
        assert!(run_at(tmp.path(), "{path: d, type: dir}").passed());
        // `symlink` looks at the link itself; every other type follows it.
        assert!(run_at(tmp.path(), "{path: link, type: symlink}").passed());
        let followed = run_at(tmp.path(), "{path: link, type: dir}");
        assert!(followed.passed());
        assert_eq!(followed.checks[0].actual, "a symbolic link to a directory");
        assert!(followed.observed[0].contains(": symbolic link to d, directory, d"), "{:?}", followed.observed);
        let not_link = run_at(tmp.path(), "{path: d, type: symlink}");
        assert_eq!(not_link.checks[1].message, "type: expected a symbolic link, saw a directory");
        let dangling = run_at(tmp.path(), "{path: dangling}");
        assert_eq!(messages(&dangling), ["exists: expected to exist, saw a dangling symbolic link to nowhere"]);
        assert!(run_at(tmp.path(), "{path: dangling, exists: false}").passed());
    }

    #[test]
    fn character_device() {
        let outcome = run_at(Path::new("/"), "{path: /dev/null, type: char, readable: true, writable: true}");
        assert!(outcome.passed(), "{:?}", messages(&outcome));
        assert_eq!(outcome.observed, ["/dev/null: character device, crw-rw-rw-, readable, writable"]);
        let wrong = run_at(Path::new("/"), "{path: /dev/null, type: block}");
        assert_eq!(wrong.checks[1].message, "type: expected a block device, saw a character device");
        // Devices are never read line by line: they may block or never end.
        let read = run_at(Path::new("/"), "{path: /dev/null, contains: [\"x\"]}");
        assert_eq!(read.checks[1].message, "content: not read: it is a character device");
    }

    #[test]
    fn missing_file() {
        let tmp = tempfile::tempdir().unwrap();
        let outcome = run_at(tmp.path(), "{path: gone/file.json, type: file, contains: [\"x\"], size: 1}");
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert_eq!(messages(&outcome), ["exists: expected to exist, saw no such file"]);
        let shown = tmp.path().join("gone/file.json").display().to_string();
        let parent = tmp.path().display().to_string();
        assert_eq!(outcome.observed, [format!("{shown}: no such file (nearest existing parent: {parent})")]);
        let absent = run_at(tmp.path(), "{path: gone, exists: false}");
        assert!(absent.passed());
        assert_eq!(absent.checks[0].message, "exists no such file (not to exist)");
        std::fs::write(tmp.path().join("here"), "").unwrap();
        let present = run_at(tmp.path(), "{path: here, exists: false}");
        assert_eq!(messages(&present), ["exists: expected not to exist, saw a regular file"]);
        // A path through a regular file is missing too, not an error.
        assert!(run_at(tmp.path(), "{path: here/below, exists: false}").passed());
    }

    #[test]
    fn contains_patterns() {
        let tmp = tempfile::tempdir().unwrap();
        let config =
            "{\n  \"runtimes\": {\"nvidia\": {\"path\": \"nvidia-container-runtime\"}},\n  \"debug\": false\n}\n";
        std::fs::write(tmp.path().join("daemon.json"), config).unwrap();
        let yaml =
            r#"{path: daemon.json, contains: ["nvidia", "!cgroupfs", "/\"debug\": (true|false)/", "!/^\\s*#/"]}"#;
        let outcome = run_at(tmp.path(), yaml);
        assert!(outcome.passed(), "{:?}", messages(&outcome));
        assert_eq!(outcome.checks.len(), 5);
        assert_eq!(
            outcome.checks[1].actual,
            "line 2: \"runtimes\": {\"nvidia\": {\"path\": \"nvidia-container-runtime\"}},"
        );
        let failing =
            run_at(tmp.path(), r#"{path: daemon.json, contains: ["cgroupfs", "!nvidia", "/^\\s*\"exec-opts\"/"]}"#);
        assert_eq!(
            messages(&failing)[1..],
            [
                "content: expected has a line containing \"cgroupfs\", saw no such line in 4 lines",
                "content: expected has no line containing \"nvidia\", saw line 2: \"runtimes\": {\"nvidia\": {\"path\": \"nvidia-container-runtime\"}},",
                "content: expected has a line matching /^\\s*\"exec-opts\"/, saw no such line in 4 lines",
            ]
        );
        std::fs::write(tmp.path().join("empty"), "\n  \n").unwrap();
        assert!(run_at(tmp.path(), r#"{path: empty, contains: [""]}"#).passed());
        assert!(!run_at(tmp.path(), r#"{path: daemon.json, contains: [""]}"#).passed());
    }

    #[test]
    fn contains_reads_at_most_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("big.log");
        let file = File::create(&path).unwrap();
        file.set_len(CONTENT_LIMIT + 10).unwrap();
        let outcome = run_at(tmp.path(), r#"{path: big.log, contains: ["!needle"]}"#);
        assert!(outcome.passed(), "{:?}", messages(&outcome));
        assert_eq!(outcome.observed[1], "content: read only the first 64.0 MiB of 64.0 MiB");
        file.set_len(CONTENT_LIMIT).unwrap();
        assert_eq!(run_at(tmp.path(), r#"{path: big.log, contains: ["!needle"]}"#).observed.len(), 1);
    }

    #[test]
    fn unreadable_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("secret");
        std::fs::write(&path, "token\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        let outcome = run_at(tmp.path(), r#"{path: secret, readable: true, contains: ["token"]}"#);
        assert!(outcome.observed[0].contains(", ----------, "), "{:?}", outcome.observed);
        if is_root() {
            // root may read any file: access(2) and open(2) agree, and so does the probe.
            assert!(outcome.passed(), "{:?}", messages(&outcome));
            let denied = run_at(tmp.path(), "{path: secret, readable: false}");
            assert_eq!(denied.checks[1].message, "readable: expected no, saw yes");
        } else {
            assert_eq!(
                messages(&outcome)[1..],
                ["readable: expected yes, saw no (Permission denied)", "content: cannot read: Permission denied",]
            );
            assert!(run_at(tmp.path(), "{path: secret, readable: false, writable: false}").passed());
        }
    }

    #[test]
    fn proc_files_are_read_despite_zero_size() {
        // /proc files report size 0 yet have contents: reading must not trust the size.
        let outcome = run_at(Path::new("/"), "{path: /proc/version, type: file, contains: [\"Linux\"]}");
        assert!(outcome.passed(), "{:?}", messages(&outcome));
    }

    #[test]
    fn mode_strings() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x");
        std::fs::write(&path, "").unwrap();
        for (mode, text) in
            [(0o4755, "-rwsr-xr-x"), (0o2640, "-rw-r-S---"), (0o1777, "-rwxrwxrwt"), (0o644, "-rw-r--r--")]
        {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(mode_string(&std::fs::metadata(&path).unwrap()), text);
        }
    }
}

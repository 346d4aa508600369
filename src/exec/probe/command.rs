//! The `command` probe: is a program on `PATH` (or at a given path), as the shell would find it.

use super::{ProbeEnv, ProbeOutcome, os_error, resolve_path};
use crate::model::probe::CommandProbe;
use crate::record::CheckResult;
use rustix::fs::Access;
use std::ffi::OsStr;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// How much of `PATH` a "not found" message quotes before abbreviating.
const PATH_SHOWN_CHARS: usize = 100;

/// Where the program is, or why it is not there, in words.
type Lookup = Result<PathBuf, String>;

pub(crate) fn run(probe: &CommandProbe, env: &ProbeEnv) -> ProbeOutcome {
    let name = probe.name.source.trim();
    if name.is_empty() {
        return ProbeOutcome::error("the command name is empty");
    }
    let by_path = name.contains('/');
    let (found, near_miss) = if by_path {
        (executable(&env.resolve(name)), None)
    } else {
        search(name, OsStr::new(env.path.unwrap_or_default()), env.cwd)
    };
    let expected = match (by_path, probe.found) {
        (false, true) => "on PATH",
        (false, false) => "not on PATH",
        (true, true) => "an executable file",
        (true, false) => "not an executable file",
    };
    let (actual, is_found) = match &found {
        Ok(path) => (path.display().to_string(), true),
        Err(reason) => (reason.clone(), false),
    };
    let check = CheckResult::new(name, expected.to_string(), actual.clone(), is_found == probe.found);
    let mut observed = vec![format!("{name}: {actual}")];
    observed.extend(near_miss);
    ProbeOutcome::done(vec![check], observed)
}

/// The first executable `name` in `path_var`'s directories, like `execvp`; when none is, also a
/// note about a same-named file that is there but not executable (a classic after a bad install).
fn search(name: &str, path_var: &OsStr, cwd: &Path) -> (Lookup, Option<String>) {
    // Duplicates are common (profiles that prepend twice) and only lengthen the message.
    let mut dirs: Vec<String> = Vec::new();
    for dir in std::env::split_paths(path_var) {
        let dir = dir.display().to_string();
        if !dir.is_empty() && !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    let mut near_miss = None;
    for dir in &dirs {
        let candidate = resolve_path(cwd, None, dir).join(name);
        match executable(&candidate) {
            Ok(path) => return (Ok(path), None),
            Err(reason) if near_miss.is_none() && reason != "no such file" => {
                near_miss = Some(format!("{}: {reason}", candidate.display()));
            }
            Err(_) => {}
        }
    }
    let reason = if dirs.is_empty() {
        "not found: PATH is empty".to_string()
    } else {
        format!("not found on PATH ({})", abbreviate(&dirs))
    };
    (Err(reason), near_miss)
}

/// `path` if it is a regular file the current user may execute; otherwise why not.
fn executable(path: &Path) -> Lookup {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Err("no such file".to_string());
        }
        Err(e) => return Err(os_error(&e)),
    };
    if meta.is_dir() {
        return Err("a directory, not a program".to_string());
    }
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    if rustix::fs::access(path, Access::EXEC_OK).is_err() {
        return Err(format!("not executable (mode {:o})", meta.permissions().mode() & 0o7777));
    }
    Ok(path.to_path_buf())
}

/// `PATH` for messages: whole when short, else its first directories and how many more.
fn abbreviate(dirs: &[String]) -> String {
    let whole = dirs.join(":");
    if whole.len() <= PATH_SHOWN_CHARS {
        return whole;
    }
    let mut shown = String::new();
    let mut count = 0;
    for dir in dirs {
        if !shown.is_empty() && shown.len() + dir.len() + 1 > PATH_SHOWN_CHARS {
            break;
        }
        if !shown.is_empty() {
            shown.push(':');
        }
        shown.push_str(dir);
        count += 1;
    }
    format!("{shown}:… {} more", dirs.len() - count)
}

#[cfg(test)]
mod tests {
    use super::super::ProbeStatus;
    use super::super::testing::env;
    use super::*;

    fn probe(yaml: &str) -> CommandProbe {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn sh_is_found() {
        let outcome = run(&probe("{name: sh}"), &env(Path::new("/")));
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert!(outcome.passed(), "{:?}", outcome.checks);
        let path = &outcome.checks[0].actual;
        assert!(path.ends_with("/sh"), "{path}");
        assert_eq!(outcome.observed, [format!("sh: {path}")]);
        assert_eq!(outcome.checks[0].message, format!("sh {path} (on PATH)"));
        let inverted = run(&probe("{name: sh, found: false}"), &env(Path::new("/")));
        assert_eq!(inverted.checks[0].message, format!("sh: expected not on PATH, saw {path}"));
    }

    #[test]
    fn nonsense_is_not_found() {
        let name = "runbook-no-such-command-4711";
        let outcome = run(&probe(&format!("{{name: {name}}}")), &env(Path::new("/")));
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert!(!outcome.passed());
        let message = &outcome.checks[0].message;
        assert!(message.starts_with(&format!("{name}: expected on PATH, saw not found on PATH (")), "{message}");
        assert!(run(&probe(&format!("{{name: {name}, found: false}}")), &env(Path::new("/"))).passed());
    }

    #[test]
    fn search_reports_near_misses_and_relative_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("a")).unwrap();
        std::fs::create_dir_all(tmp.path().join("b")).unwrap();
        std::fs::write(tmp.path().join("a/tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(tmp.path().join("a/tool"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let path_var = OsStr::new("a:b:a");
        let (found, near_miss) = search("tool", path_var, tmp.path());
        // Even root may not execute a file without any x bit.
        assert_eq!(found.unwrap_err(), "not found on PATH (a:b)");
        assert_eq!(near_miss.unwrap(), format!("{}: not executable (mode 644)", tmp.path().join("a/tool").display()));
        std::fs::write(tmp.path().join("b/tool"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(tmp.path().join("b/tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(search("tool", path_var, tmp.path()).0.unwrap(), tmp.path().join("b/tool"));
        assert_eq!(search("tool", OsStr::new(""), tmp.path()).0.unwrap_err(), "not found: PATH is empty");
    }

    #[test]
    fn names_with_a_slash_are_paths() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("bin")).unwrap();
        let outcome = run(&probe("{name: ./bin}"), &env(tmp.path()));
        assert_eq!(outcome.checks[0].message, "./bin: expected an executable file, saw a directory, not a program");
        assert!(run(&probe("{name: /bin/sh}"), &env(tmp.path())).passed());
        assert!(run(&probe("{name: ./missing, found: false}"), &env(tmp.path())).passed());
    }

    #[test]
    fn long_paths_are_abbreviated() {
        let dirs: Vec<String> = (0..30).map(|i| format!("/opt/tool-{i}/bin")).collect();
        let text = abbreviate(&dirs);
        assert!(text.starts_with("/opt/tool-0/bin:/opt/tool-1/bin:"), "{text}");
        assert!(text.ends_with(" more"), "{text}");
        assert!(text.len() < PATH_SHOWN_CHARS + 20, "{text}");
        assert_eq!(abbreviate(&["/usr/bin".into(), "/bin".into()]), "/usr/bin:/bin");
    }

    #[test]
    fn empty_name_is_an_error() {
        assert_eq!(
            run(&probe("{name: \" \"}"), &env(Path::new("/"))).status,
            ProbeStatus::Error("the command name is empty".into())
        );
    }
}

//! The `disk` probe: space and inodes of the filesystem holding a path, computed the way `df`
//! does, so the numbers match what the operator sees when they check by hand.

use super::{ProbeEnv, ProbeOutcome, os_error};
use crate::exec::check::{check_measure, not_reported};
use crate::model::probe::{DiskField, DiskProbe};
use crate::model::quantity::HumanBytes;
use crate::record::{CheckResult, Observation};

/// What `df` would print for one filesystem, in bytes and counts.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Usage {
    size: f64,
    used: f64,
    avail: f64,
    used_percent: f64,
    /// `None` when the filesystem reports no inode counts (btrfs, some FUSE and network mounts).
    inodes: Option<Inodes>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Inodes {
    used_percent: f64,
    avail: f64,
}

/// The raw `statvfs` counters the computation needs; separate so the arithmetic is testable.
#[derive(Debug, Clone, Copy)]
struct Counters {
    frsize: u64,
    blocks: u64,
    bfree: u64,
    bavail: u64,
    files: u64,
    ffree: u64,
    favail: u64,
}

impl From<&rustix::fs::StatVfs> for Counters {
    fn from(stat: &rustix::fs::StatVfs) -> Counters {
        Counters {
            frsize: stat.f_frsize,
            blocks: stat.f_blocks,
            bfree: stat.f_bfree,
            bavail: stat.f_bavail,
            files: stat.f_files,
            ffree: stat.f_ffree,
            favail: stat.f_favail,
        }
    }
}

impl Usage {
    fn from_counters(c: Counters) -> Usage {
        let frsize = u128::from(c.frsize);
        let used_blocks = c.blocks.saturating_sub(c.bfree);
        // df: root-reserved blocks are neither used nor available to users, so the percentage
        // is used / (used + available), rounded up.
        let used_percent = ceil_percent(used_blocks, u128::from(used_blocks) + u128::from(c.bavail));
        let inodes = (c.files > 0).then(|| {
            let used = c.files.saturating_sub(c.ffree);
            Inodes { used_percent: ceil_percent(used, u128::from(c.files)), avail: c.favail as f64 }
        });
        Usage {
            size: (u128::from(c.blocks) * frsize) as f64,
            used: (u128::from(used_blocks) * frsize) as f64,
            avail: (u128::from(c.bavail) * frsize) as f64,
            used_percent,
            inodes,
        }
    }
}

/// `ceil(part * 100 / whole)`, and 0 for an empty whole, as `df` computes it.
fn ceil_percent(part: u64, whole: u128) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (u128::from(part) * 100).div_ceil(whole) as f64
}

pub(crate) fn run(probe: &DiskProbe, env: &ProbeEnv) -> ProbeOutcome {
    if let Some(sandbox) = env.sandbox {
        return run_in_scenario(probe, sandbox);
    }
    let path = env.resolve(&probe.path.source);
    let stat = match rustix::fs::statvfs(&path) {
        Ok(stat) => stat,
        Err(errno) => {
            let reason = os_error(&errno.into());
            return ProbeOutcome::error(format!("cannot read the filesystem at {}: {reason}", path.display()));
        }
    };
    let usage = Usage::from_counters(Counters::from(&stat));
    let shown = path.display().to_string();
    let observed = vec![describe(&shown, &usage)];
    ProbeOutcome::done(checks(probe, &usage), observed).with_values(values(&shown, &usage))
}

/// What the filesystem says about one field; `None` where it does not report it (inodes).
fn reading(field: DiskField, usage: &Usage) -> Option<f64> {
    match field {
        DiskField::UsedPercent => Some(usage.used_percent),
        DiskField::Avail => Some(usage.avail),
        DiskField::Used => Some(usage.used),
        DiskField::Size => Some(usage.size),
        DiskField::InodesUsedPercent => usage.inodes.map(|i| i.used_percent),
        DiskField::InodesAvail => usage.inodes.map(|i| i.avail),
    }
}

/// Every field's reading with a gauge, whether or not the step asked about it, labelled with
/// the path as the step named it (for `runbook watch`'s `/metrics`).
fn values(path: &str, usage: &Usage) -> Vec<Observation> {
    DiskField::ALL
        .iter()
        .filter_map(|&field| Some(Observation::new(field.gauge()?.name, reading(field, usage)?, &[("path", path)])))
        .collect()
}

/// A scenario's disk: the declared filesystem holding the path, or the scenario fails.
fn run_in_scenario(probe: &DiskProbe, sandbox: &super::sandbox::Sandbox) -> ProbeOutcome {
    let path = probe.path.source.trim();
    let Some((_, disk)) = sandbox.disk(path) else {
        sandbox.reached_for(format!("the host's disk at {path} (no disk fixture)"));
        return ProbeOutcome::error(format!("scenario: no disk fixture holds {path}"));
    };
    let used = disk.used.unwrap_or((disk.size - disk.avail).max(0.0));
    let whole = used + disk.avail;
    let used_percent = if whole > 0.0 { (used * 100.0 / whole).ceil() } else { 0.0 };
    let inodes = disk.inodes.filter(|total| *total > 0.0).map(|total| {
        let free = disk.inodes_free.unwrap_or(total);
        Inodes { used_percent: ((total - free).max(0.0) * 100.0 / total).ceil(), avail: free }
    });
    let usage = Usage { size: disk.size, used, avail: disk.avail, used_percent, inodes };
    ProbeOutcome::done(checks(probe, &usage), vec![describe(path, &usage)])
}

/// One check per matcher given, labelled as the probe's field declaration says.
fn checks(probe: &DiskProbe, usage: &Usage) -> Vec<CheckResult> {
    probe
        .measures()
        .iter()
        .map(|m| match reading(m.field, usage) {
            Some(seen) => check_measure(m, seen),
            None => not_reported(m, "not reported by this filesystem"),
        })
        .collect()
}

/// `/mnt/x: 97% used (7.8 GiB of 8.0 GiB), 200.0 MiB available; inodes 3% used, 1234 free`
fn describe(path: &str, usage: &Usage) -> String {
    let inodes = match usage.inodes {
        Some(i) => format!("inodes {}% used, {} free", i.used_percent, i.avail),
        None => "inodes not reported".to_string(),
    };
    format!(
        "{path}: {}% used ({} of {}), {} available; {inodes}",
        usage.used_percent,
        HumanBytes(usage.used),
        HumanBytes(usage.size),
        HumanBytes(usage.avail),
    )
}

#[cfg(test)]
mod tests {
    use super::super::ProbeStatus;
    use super::super::testing::env;
    use super::*;
    use std::path::Path;
    use std::process::Command;

    fn probe(yaml: &str) -> DiskProbe {
        serde_saphyr::from_str(yaml).unwrap()
    }

    /// `df -B1 --output=pcent,avail,ipcent` for `path`: (percent, avail bytes, inode percent).
    fn df(path: &Path) -> Option<(f64, f64, Option<f64>)> {
        let out = Command::new("df").args(["-B1", "--output=pcent,avail,ipcent"]).arg(path).output().ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        let fields: Vec<&str> = text.lines().nth(1)?.split_whitespace().collect();
        let pct = |s: &str| s.trim_end_matches('%').parse::<f64>().ok();
        Some((pct(fields[0])?, fields[1].parse().ok()?, pct(fields[2])))
    }

    #[test]
    fn percent_math_matches_df() {
        // 1000 blocks of 4 KiB, 100 free of which 50 are available to users.
        let usage = Usage::from_counters(Counters {
            frsize: 4096,
            blocks: 1000,
            bfree: 100,
            bavail: 50,
            files: 300,
            ffree: 200,
            favail: 200,
        });
        assert_eq!(usage.size, 4096.0 * 1000.0);
        assert_eq!(usage.used, 4096.0 * 900.0);
        assert_eq!(usage.avail, 4096.0 * 50.0);
        // 900 * 100 / 950 = 94.7 → 95, as df rounds up.
        assert_eq!(usage.used_percent, 95.0);
        let inodes = usage.inodes.unwrap();
        assert_eq!(inodes.used_percent, 34.0);
        assert_eq!(inodes.avail, 200.0);
        let empty = Usage::from_counters(Counters {
            frsize: 4096,
            blocks: 0,
            bfree: 0,
            bavail: 0,
            files: 0,
            ffree: 0,
            favail: 0,
        });
        assert_eq!(empty.used_percent, 0.0);
        assert_eq!(empty.inodes, None);
        assert!(describe("/x", &empty).ends_with("inodes not reported"));
    }

    #[test]
    fn root_and_temp_dir_are_consistent_with_df() {
        let tmp = tempfile::tempdir().unwrap();
        for path in [Path::new("/"), tmp.path()] {
            let stat = rustix::fs::statvfs(path).unwrap();
            let outcome = run(&probe(&format!("{{path: {}}}", path.display())), &env(Path::new("/")));
            assert_eq!(outcome.status, ProbeStatus::Done);
            assert!(outcome.passed(), "no matchers: the probe just reports");
            assert!(outcome.checks.is_empty());
            assert!(outcome.observed[0].starts_with(&format!("{}: ", path.display())), "{:?}", outcome.observed);
            let usage = Usage::from_counters(Counters::from(&stat));
            assert!(usage.used + usage.avail <= usage.size, "{usage:?}");
            assert!((0.0..=100.0).contains(&usage.used_percent));
            let Some((pcent, avail, ipcent)) = df(path) else {
                continue;
            };
            // Other processes write meanwhile: allow a point of drift and 64 MiB of space.
            assert!((usage.used_percent - pcent).abs() <= 1.0, "{usage:?} vs df {pcent}%");
            assert!((usage.avail - avail).abs() <= 64.0 * 1024.0 * 1024.0, "{usage:?} vs df {avail}");
            if let (Some(inodes), Some(ipcent)) = (usage.inodes, ipcent) {
                assert!((inodes.used_percent - ipcent).abs() <= 1.0, "{inodes:?} vs df {ipcent}%");
            }
        }
    }

    #[test]
    fn readings_become_values_for_metrics() {
        let outcome = run(&probe("{path: /, used_percent: {lt: 101}}"), &env(Path::new("/")));
        let names: Vec<&str> = outcome.values.iter().map(|v| v.name.as_str()).collect();
        // Every field of the declaration, asked about or not (the root filesystem reports inodes).
        let expected = ["disk_used_percent", "disk_avail_bytes", "disk_used_bytes", "disk_size_bytes"];
        assert!(names.starts_with(&expected), "{names:?}");
        assert!(outcome.values.iter().all(|v| v.labels["path"] == "/"));
        let used = outcome.values[0].value;
        assert!((0.0..=100.0).contains(&used), "{used}");
    }

    #[test]
    fn relative_path_resolves_against_cwd() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        let outcome = run(&probe("{path: sub}"), &env(tmp.path()));
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert!(outcome.observed[0].starts_with(&format!("{}: ", tmp.path().join("sub").display())));
    }

    #[test]
    fn missing_path_is_an_error() {
        let outcome = run(&probe("{path: /no/such/place/here, used_percent: {lt: 90}}"), &env(Path::new("/")));
        assert_eq!(
            outcome.status,
            ProbeStatus::Error("cannot read the filesystem at /no/such/place/here: No such file or directory".into())
        );
        assert!(!outcome.passed());
    }

    #[test]
    fn every_matcher_gives_one_uniform_check() {
        let yaml = "{path: /, used_percent: {lt: 101}, avail: {ge: 0}, used: {ge: 0}, size: {gt: 0}, \
                    inodes_used_percent: {le: 100}, inodes_avail: {ge: 0}}";
        let outcome = run(&probe(yaml), &env(Path::new("/")));
        assert_eq!(outcome.checks.len(), 6);
        assert!(outcome.passed(), "{:?}", outcome.checks);
        let labels: Vec<&str> = outcome.checks.iter().map(|c| c.expected.as_str()).collect();
        assert!(labels[0].starts_with("used < 101%"), "{labels:?}");
        assert!(labels[1].starts_with("available ≥ 0 B"), "{labels:?}");
    }

    #[test]
    fn failing_matcher_says_expected_and_seen() {
        let outcome = run(&probe("{path: /, used_percent: {gt: 100}, avail: {gt: 1000PiB}}"), &env(Path::new("/")));
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert!(!outcome.passed());
        let seen = rustix::fs::statvfs("/").unwrap();
        let usage = Usage::from_counters(Counters::from(&seen));
        assert_eq!(outcome.checks[0].message, format!("used: expected > 100%, saw {}%", usage.used_percent));
        assert!(outcome.checks[1].message.starts_with("available: expected > 1000.0 PiB, saw "));
    }

    #[test]
    fn check_labels_are_the_declared_expectations() {
        let yaml = "{path: /, used_percent: {lt: 90}, avail: {gt: 20GiB}, used: {lt: 1TiB}, size: {gt: 0}, \
                    inodes_used_percent: {lt: 95}, inodes_avail: {gt: 1000}}";
        let usage = Usage::from_counters(Counters {
            frsize: 4096,
            blocks: 1000,
            bfree: 100,
            bavail: 50,
            files: 300,
            ffree: 200,
            favail: 200,
        });
        let expected: Vec<String> = checks(&probe(yaml), &usage).into_iter().map(|c| c.expected).collect();
        assert_eq!(expected, crate::model::probe::Probe::Disk(probe(yaml)).expectations());
    }

    #[test]
    fn unreported_inodes_are_noted_not_failed() {
        let usage = Usage::from_counters(Counters {
            frsize: 4096,
            blocks: 10,
            bfree: 5,
            bavail: 5,
            files: 0,
            ffree: 0,
            favail: 0,
        });
        let results = checks(&probe("{path: /, inodes_used_percent: {lt: 90}, inodes_avail: {gt: 10}}"), &usage);
        assert_eq!(results.len(), 2);
        assert!(results.iter().all(|c| c.passed));
        assert_eq!(results[0].message, "inodes used: not reported by this filesystem");
        assert_eq!(results[1].expected, "free inodes > 10");
    }
}

//! Timing whole processes: wall time and peak RSS of a child, repeated, summarised.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One run of a command.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    pub max_rss_kib: u64,
}

/// Runs `command` once, discarding its output; fails when it exits non-zero (unless allowed).
pub fn run_once(command: &mut Command, allowed_codes: &[i32]) -> Result<Sample, String> {
    command.stdout(Stdio::null()).stderr(Stdio::null()).stdin(Stdio::null());
    let start = Instant::now();
    let child = command.spawn().map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are valid for the call.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if waited != pid {
        return Err(format!("wait4 failed for {command:?}"));
    }
    let exit = std::process::ExitStatus::from_raw(status);
    let code = exit.code().unwrap_or(-1);
    if !allowed_codes.contains(&code) {
        return Err(format!("{command:?} exited with {exit}"));
    }
    Ok(Sample { wall, max_rss_kib: usage.ru_maxrss as u64 })
}

/// Summary of repeated runs.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub median: Duration,
    pub p99: Duration,
    pub min: Duration,
    pub max: Duration,
    pub max_rss_kib: u64,
}

/// Statistics of in-process timings (no memory figure).
pub fn of_durations(mut walls: Vec<Duration>) -> Stats {
    walls.sort();
    Stats {
        median: percentile(&walls, 50.0),
        p99: percentile(&walls, 99.0),
        min: walls[0],
        max: walls[walls.len() - 1],
        max_rss_kib: 0,
    }
}

pub fn summarise(samples: &[Sample]) -> Stats {
    let mut walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    walls.sort();
    Stats {
        median: percentile(&walls, 50.0),
        p99: percentile(&walls, 99.0),
        min: walls[0],
        max: walls[walls.len() - 1],
        max_rss_kib: samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
    }
}

/// Nearest-rank percentile of sorted durations.
pub fn percentile(sorted: &[Duration], pct: f64) -> Duration {
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Like [`repeat`], for a command that changes from run to run (`make` gets the run number).
pub fn repeat_varied(
    runs: usize,
    allowed_codes: &[i32],
    mut make: impl FnMut(usize) -> Command,
) -> Result<Stats, String> {
    run_once(&mut make(0), allowed_codes)?;
    let samples = (1..=runs).map(|i| run_once(&mut make(i), allowed_codes)).collect::<Result<Vec<_>, _>>()?;
    Ok(summarise(&samples))
}

/// One warm-up run, then `runs` measured runs.
pub fn repeat(runs: usize, allowed_codes: &[i32], make: impl FnMut() -> Command) -> Result<Stats, String> {
    repeat_with_setup(runs, allowed_codes, || Ok(()), make)
}

/// Like [`repeat`], with `setup` run (untimed) before every run.
pub fn repeat_with_setup(
    runs: usize,
    allowed_codes: &[i32],
    mut setup: impl FnMut() -> Result<(), String>,
    mut make: impl FnMut() -> Command,
) -> Result<Stats, String> {
    setup()?;
    run_once(&mut make(), allowed_codes)?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        setup()?;
        samples.push(run_once(&mut make(), allowed_codes)?);
    }
    Ok(summarise(&samples))
}

pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 0.001 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{:.0} µs", secs * 1e6)
    }
}

/// Two commands measured side by side: runs alternate (a, b, a, b, …) so both see the same
/// machine, with `setup` (untimed) before every run. One warm-up run of each first.
pub fn pair(
    runs: usize,
    mut setup: impl FnMut() -> Result<(), String>,
    mut a: impl FnMut() -> Command,
    mut b: impl FnMut() -> Command,
) -> Result<(Stats, Stats), String> {
    setup()?;
    run_once(&mut a(), &[0])?;
    setup()?;
    run_once(&mut b(), &[0])?;
    let (mut first, mut second) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    for _ in 0..runs {
        setup()?;
        first.push(run_once(&mut a(), &[0])?);
        setup()?;
        second.push(run_once(&mut b(), &[0])?);
    }
    Ok((summarise(&first), summarise(&second)))
}

//! `runbook watch [ID…]`: run the runbooks' read-only checks on a schedule, keep archives of
//! what changed, and serve `/metrics` and `/healthz` (or write a node_exporter textfile).

use super::Context;
use super::output;
use crate::cli::error::{Error, Result, exit};
use crate::exec::context::RunContext;
use crate::exec::probe::gpu;
use crate::exec::watch::plan::{self, PlanOptions};
use crate::exec::watch::state::Transition;
use crate::exec::watch::{Event, WatchConfig, Watcher};
use crate::model::duration::Duration;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runbooks to watch (default: every runbook with `watch:` in its front matter)
    ids: Vec<String>,
    /// How often to run the checks (overrides `watch.every`; needed for a runbook without `watch:`)
    #[arg(long, value_name = "DURATION")]
    every: Option<Duration>,
    /// Serve /metrics, /healthz and /api/checks on this address
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Write the metrics to DIR/runbook_watch.prom after every round (node_exporter's textfile collector)
    #[arg(long, value_name = "DIR")]
    textfile_dir: Option<PathBuf>,
    /// Spread each round by up to this percent of its interval
    #[arg(long, value_name = "PERCENT", default_value_t = 10)]
    jitter: u8,
    /// Stop a round that takes longer than this (default: the interval, at most 5m)
    #[arg(long, value_name = "DURATION")]
    timeout: Option<Duration>,
    /// Failed rounds in a row before a check counts as failing
    #[arg(long, value_name = "N")]
    fail_after: Option<u32>,
    /// Passed rounds in a row before a failing check counts as passing again
    #[arg(long, value_name = "N")]
    recover_after: Option<u32>,
    /// Run every check once, print the results and exit (1 when one fails)
    #[arg(long)]
    once: bool,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let kb = ctx.load_summaries()?;
    let options = PlanOptions {
        ids: args.ids.clone(),
        every: args.every.map(|d| d.as_std()),
        timeout: args.timeout.map(|d| d.as_std()),
        fail_after: args.fail_after,
        recover_after: args.recover_after,
    };
    let plans = plan::plan(&kb, &options).map_err(|err| Error::Invalid {
        message: err.to_string(),
        hint: Some("front matter `watch: {every: 5m, steps: [..]}`, or `runbook watch ID --every 1m`".into()),
    })?;
    let listen = args.listen.as_deref().map(resolve).transpose()?;
    let config = WatchConfig {
        archives_dir: kb.archives_dir(ctx.archives.as_deref()),
        jitter: f64::from(args.jitter.min(100)) / 100.0,
        textfile_dir: args.textfile_dir.as_ref().map(|d| ctx.cwd.join(d)),
    };
    if let Some(dir) = &config.textfile_dir
        && !dir.is_dir()
    {
        return Err(Error::Invalid {
            message: format!("--textfile-dir {} is not a folder", dir.display()),
            hint: Some("give node_exporter's --collector.textfile.directory".into()),
        });
    }
    let stop = stop_flag();
    let gpu: Arc<dyn gpu::GpuSource> = Arc::from(gpu::source_from_env());
    let context =
        RunContext::from_process(ctx.cwd.clone(), gpu).map_err(|message| Error::Invalid { message, hint: None })?;
    let mut watcher = Watcher::new(&kb, plans, config, context, Arc::clone(&stop));
    if let Some(addr) = listen {
        serve_in_background(addr, &watcher)?;
    }
    let color = output::use_color(ctx.color);
    let mut print = |event: &Event| print_event(event, color);
    if args.once {
        watcher.run_once(&mut print);
        return Ok(print_board(&watcher, color));
    }
    if !ctx.quiet {
        let checks: usize = watcher.plans().iter().map(|p| p.steps.len()).sum();
        eprintln!("watching {checks} checks of {} runbooks (Ctrl-C to stop)", watcher.plans().len());
    }
    watcher.run(&mut print);
    Ok(exit::OK)
}

/// The HTTP side on its own thread with a one-thread runtime: it only reads the board.
fn serve_in_background(addr: SocketAddr, watcher: &Watcher) -> Result<()> {
    let board = watcher.board();
    let (bound_tx, bound_rx) = std::sync::mpsc::channel::<std::result::Result<SocketAddr, String>>();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(err) => {
                let _ = bound_tx.send(Err(format!("cannot start the server: {err}")));
                return;
            }
        };
        let errors = bound_tx.clone();
        let served = runtime.block_on(crate::server::checks::serve(addr, board, move |local| {
            let _ = bound_tx.send(Ok(local));
        }));
        if let Err(err) = served {
            let _ = errors.send(Err(err.to_string()));
        }
    });
    match bound_rx.recv() {
        Ok(Ok(local)) => {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "listening on http://{local}/");
            let _ = stdout.flush();
            Ok(())
        }
        Ok(Err(message)) => Err(Error::Failed { message, hint: None }),
        Err(_) => Err(Error::Failed { message: "the metrics server stopped".into(), hint: None }),
    }
}

fn print_event(event: &Event, color: bool) {
    let mut stdout = std::io::stdout().lock();
    let paint = |code: &str, text: &str| if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() };
    let line = match event {
        Event::Changed { check, transition: Transition::Failing, message, archive } => format!(
            "{} {check} is failing: {}{}",
            paint("31", "✘"),
            message.as_deref().unwrap_or("failed"),
            archive.as_ref().map(|a| format!(" (run {})", a.display())).unwrap_or_default()
        ),
        Event::Changed { check, transition: Transition::Recovered, archive, .. } => format!(
            "{} {check} passes again{}",
            paint("32", "✔"),
            archive.as_ref().map(|a| format!(" (run {})", a.display())).unwrap_or_default()
        ),
        Event::Notice(text) => format!("warning: {text}"),
    };
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// `--once`: one line per check; exit 1 when one failed.
fn print_board(watcher: &Watcher, color: bool) -> i32 {
    let checks = watcher.board().snapshot();
    let mut stdout = std::io::stdout().lock();
    let mut failed = false;
    for check in &checks {
        let (mark, why) = match &check.last {
            Some(last) if last.passed => (if color { "\x1b[32m✔\x1b[0m" } else { "✔" }, String::new()),
            Some(last) => {
                failed = true;
                (
                    if color { "\x1b[31m✘\x1b[0m" } else { "✘" },
                    format!(" — {}", last.message.clone().unwrap_or_default()),
                )
            }
            None => ("·", " — not run".to_string()),
        };
        let _ = writeln!(stdout, "{mark} {} {}{why}", check.label(), check.name);
    }
    if failed { exit::FAILED } else { exit::OK }
}

/// Set by Ctrl-C or SIGTERM; the round in progress stops and watch ends.
fn stop_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_shutdown(signal, exit::INTERRUPTED, Arc::clone(&flag));
        let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
    }
    flag
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    let invalid = |why: String| Error::Invalid {
        message: format!("bad --listen `{addr}`: {why}"),
        hint: Some("give HOST:PORT, like 127.0.0.1:9096 or localhost:0".into()),
    };
    addr.to_socket_addrs().map_err(|e| invalid(e.to_string()))?.next().ok_or_else(|| invalid("no address".into()))
}

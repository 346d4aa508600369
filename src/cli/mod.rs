//! The command line: argument parsing, the shared context, and one module per subcommand.

mod alerts;
mod archive;
mod build;
mod check;
mod completions;
mod context;
mod cycle;
mod dashboard;
mod diagnostics;
pub mod error;
mod exec;
mod hook_options;
mod hooks;
mod import;
mod index;
mod list;
mod mcp;
mod new;
mod output;
mod plain;
mod probe;
mod search;
mod serve;
mod show;
mod test;
mod watch;
mod watchdog;

use crate::cli::error::{Error, exit};
use clap::{Parser, Subcommand, ValueEnum};
pub use context::Context;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "runbook",
    version,
    about = "Search, read and run operational runbooks",
    long_about = "A knowledge base of operational runbooks — Markdown with YAML steps — that you can \
                  search, read as a site, and execute step by step.",
    propagate_version = true
)]
pub struct Cli {
    /// Knowledge base folder (default: nearest ancestor with runbook.toml or runbooks/, else the built-in KB)
    #[arg(long, global = true, env = "RUNBOOK_KB", value_name = "DIR")]
    pub kb: Option<PathBuf>,
    /// Archive folder (default: DIR/archives)
    #[arg(long, global = true, env = "RUNBOOK_ARCHIVES", value_name = "DIR")]
    pub archives: Option<PathBuf>,
    /// When to use colours (NO_COLOR is honoured by `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorMode::Auto, value_name = "WHEN")]
    pub color: ColorMode,
    /// Print less
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorMode {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Search runbooks, runs and cycle reports
    Search(search::Args),
    /// List the runbooks of the knowledge base
    List(list::Args),
    /// Show a runbook: metadata, summary and every step in plain words
    Show(show::Args),
    /// Run a runbook step by step, live, with its checks and an archive
    Exec(exec::Args),
    /// Lint runbooks: schema, templates, links, ids (exit 1 on errors)
    Check(check::Args),
    /// Run runbooks inside their scenarios and compare what they conclude (exit 1 on a mismatch)
    Test(test::Args),
    /// The record of every run: list, show and prune archives
    Archive(archive::Args),
    /// Turn a period of runs into a report: findings, blockers, readiness, next actions
    Cycle(cycle::Args),
    /// Create a new runbook from the scaffold template
    New(new::Args),
    /// Rewrite a plain doc as a runbook: its shell blocks as `yaml step` blocks
    Import(import::Args),
    /// Update the search index now (`--rebuild` starts it afresh)
    Index(index::Args),
    /// Write the knowledge base as a static site (default: public/)
    Build(build::Args),
    /// Serve the site live: search, JSON API, metrics, MCP at /mcp, reload on change (and alerts with --hooks)
    Serve(serve::Args),
    /// Serve the knowledge base to AI agents over the Model Context Protocol (stdio)
    Mcp(mcp::Args),
    /// Run one probe step given on stdin and print its checks (what fleet hosts run)
    Probe(probe::Args),
    /// Take alerts from Alertmanager and Grafana and run the matching runbooks' diagnoses
    Hooks(hooks::Args),
    /// Run the runbooks' read-only checks on a schedule; serve /metrics and /healthz
    Watch(watch::Args),
    /// Print Prometheus alerting rules for the watched checks (each with its runbook_url)
    Alerts(alerts::Args),
    /// Print a Grafana dashboard (JSON) for the watch metrics: GPU, disk, checks
    Dashboard(dashboard::Args),
    /// Print shell completions
    Completions(completions::Args),
    /// The guard `exec` starts to stop a step's processes if it is killed (internal)
    #[command(name = "__watchdog", hide = true)]
    Watchdog,
}

/// How an MCP server is set up: `runbook mcp`, and `/mcp` of `runbook serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct McpArgs {
    /// Offer agents the `run_diagnosis` tool: a runbook's read-only steps (never `confirm` or `manual` ones), each run archived
    #[arg(long)]
    pub allow_diagnosis: bool,
    /// Longest a diagnosis may run before it is stopped
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub diagnosis_timeout: crate::model::duration::Duration,
    /// Largest tool result sent to an agent, in bytes; longer ones are cut, saying what was cut
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024, value_parser = clap::value_parser!(u32).range(4096..))]
    pub max_output: u32,
}

impl McpArgs {
    pub fn options(&self) -> Result<crate::mcp::Options, Error> {
        let exe = std::env::current_exe().map_err(|e| Error::Failed {
            message: format!("cannot find the runbook binary to run diagnoses with: {e}"),
            hint: None,
        })?;
        Ok(crate::mcp::Options {
            allow_diagnosis: self.allow_diagnosis,
            diagnosis_timeout: self.diagnosis_timeout.as_std(),
            max_output: self.max_output as usize,
            exe,
        })
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    main_with(&Hooks::default())
}

/// What the binary tunes for a command, knowing things the library does not (its allocator).
#[derive(Default)]
pub struct Hooks {
    /// Called before a command that runs for days (`serve`) starts its work.
    pub long_running: Option<fn()>,
}

pub fn main_with(hooks: &Hooks) -> i32 {
    let cli = Cli::parse();
    let ctx = match Context::new(&cli) {
        Ok(ctx) => ctx,
        Err(err) => return report(&err, cli.color),
    };
    let result = match cli.command {
        Command::Search(args) => search::run(&ctx, args),
        Command::Index(args) => index::run(&ctx, args),
        Command::List(args) => list::run(&ctx, args),
        Command::Show(args) => show::run(&ctx, args),
        Command::Check(args) => check::run(&ctx, args),
        Command::Test(args) => test::run(&ctx, args),
        Command::Exec(args) => exec::run(&ctx, args),
        Command::Archive(args) => archive::run(&ctx, args),
        Command::Cycle(args) => cycle::run(&ctx, args),
        Command::New(args) => new::run(&ctx, args),
        Command::Import(args) => import::run(&ctx, args),
        Command::Build(args) => build::run(&ctx, args),
        Command::Serve(args) => {
            if let Some(hook) = hooks.long_running {
                hook();
            }
            serve::run(&ctx, args)
        }
        Command::Mcp(args) => mcp::run(&ctx, args),
        Command::Probe(args) => probe::run(&ctx, args),
        Command::Hooks(args) => {
            if let Some(hook) = hooks.long_running {
                hook();
            }
            hooks::run(&ctx, args)
        }
        Command::Watch(args) => {
            if let Some(hook) = hooks.long_running {
                hook();
            }
            watch::run(&ctx, args)
        }
        Command::Alerts(args) => alerts::run(&ctx, args),
        Command::Dashboard(args) => dashboard::run(&ctx, args),
        Command::Completions(args) => completions::run(&ctx, args),
        Command::Watchdog => watchdog::run(),
    };
    match result {
        Ok(code) => code,
        Err(err) => report(&err, cli.color),
    }
}

/// Prints an error (and its hint) to stderr; returns its exit code.
fn report(err: &Error, color: ColorMode) -> i32 {
    // `runbook list | head`: the reader left; that is not worth a message.
    let broken_pipe = match err {
        Error::Io { source, .. } => source.kind() == std::io::ErrorKind::BrokenPipe,
        Error::Json(source) => source.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe),
        _ => false,
    };
    if broken_pipe {
        return exit::OK;
    }
    let mut stderr = output::stderr(color);
    output::error_line(&mut stderr, &err.to_string(), err.hint().as_deref());
    err.exit_code()
}

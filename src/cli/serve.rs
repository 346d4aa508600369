//! `runbook serve [--addr 127.0.0.1:8080]`: the site, live, from memory.

use super::Context;
use super::hook_options::HookOptions;
use crate::cli::error::{Error, Result, exit};
use crate::server::{self, IndexedSearch, Loader, SiteSearch, Unavailable};
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port); anything but loopback is reachable from other machines
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    addr: String,
    /// Do not watch the knowledge base for changes (no rebuild, no live reload)
    #[arg(long)]
    no_watch: bool,
    /// Also take alerts at /hooks/alertmanager and /hooks/grafana; FILE holds the bearer token
    #[arg(long, value_name = "TOKEN_FILE")]
    hooks: Option<std::path::PathBuf>,
    #[command(flatten)]
    hook_options: HookOptions,
    #[command(flatten)]
    mcp: super::McpArgs,
}

/// The search engine behind `/search` and `/api/search`: the tantivy index, as for `runbook
/// search`. If it cannot be opened at all, the site is served and searches answer 503.
fn site_search(loader: &Loader, quiet: bool) -> Arc<dyn SiteSearch> {
    match IndexedSearch::open(loader.source.clone(), loader.archives.clone()) {
        Ok(search) => Arc::new(search),
        Err(err) => {
            if !quiet {
                eprintln!("warning: search unavailable: {err}; `runbook index --rebuild` starts the index afresh");
            }
            Arc::new(Unavailable::new(err.to_string()))
        }
    }
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let addr = resolve(&args.addr)?;
    let hooks = args.hooks.as_deref().map(|file| args.hook_options.config(ctx, file)).transpose()?;
    let loader = Loader { source: ctx.kb_source()?, archives: ctx.archives.clone(), live_reload: !args.no_watch };
    let site = loader.load()?;
    let search = site_search(&loader, ctx.quiet);
    if !addr.ip().is_loopback() {
        eprintln!(
            "warning: listening on {addr}, which other machines can reach; the site is read-only but shows every runbook and run"
        );
    }
    let runbooks = site.kb.runbooks.len();
    let place = match site.kb.source.root() {
        Some(root) => root.display().to_string(),
        None => "the built-in knowledge base".to_string(),
    };
    let quiet = ctx.quiet;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed { message: format!("cannot start the server: {e}"), hint: None })?;
    if args.mcp.allow_diagnosis && !addr.ip().is_loopback() {
        eprintln!(
            "warning: --allow-diagnosis on {addr}: any MCP client that can reach it may run the read-only steps of any runbook here"
        );
    }
    let options = server::Options { addr, watch: !args.no_watch, hooks, mcp: args.mcp.options()? };
    let served = runtime.block_on(server::run(options, loader, site, search, move |local| {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{local}/");
        let _ = stdout.flush();
        if !quiet {
            eprintln!("serving {runbooks} runbooks from {place} (Ctrl-C to stop)");
        }
    }));
    served?;
    if !ctx.quiet {
        eprintln!("stopped");
    }
    Ok(exit::OK)
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    let invalid = |why: String| Error::Invalid {
        message: format!("bad --addr `{addr}`: {why}"),
        hint: Some("give HOST:PORT, like 127.0.0.1:8080 or localhost:0".into()),
    };
    addr.to_socket_addrs().map_err(|e| invalid(e.to_string()))?.next().ok_or_else(|| invalid("no address".into()))
}

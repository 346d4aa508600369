//! `runbook hooks --listen ADDR --token-file FILE`: take alerts from Alertmanager and Grafana
//! and run the matching runbooks' diagnoses, without serving the site.

use super::Context;
use super::hook_options::HookOptions;
use crate::cli::error::{Error, Result, exit};
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9095")]
    listen: String,
    /// File holding the bearer token senders must present (`Authorization: Bearer …`)
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
    #[command(flatten)]
    options: HookOptions,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let addr = resolve(&args.listen)?;
    let config = args.options.config(ctx, &args.token_file)?;
    let source = ctx.kb_source()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed { message: format!("cannot start the server: {e}"), hint: None })?;
    let quiet = ctx.quiet;
    let served = runtime.block_on(crate::server::hooks::run_alone(addr, config, source, move |local| {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{local}/");
        let _ = stdout.flush();
        if !quiet {
            eprintln!("alerts: POST /hooks/alertmanager and /hooks/grafana (Ctrl-C to stop)");
        }
    }));
    served.map_err(|e| Error::Failed { message: e.to_string(), hint: None })?;
    Ok(exit::OK)
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    let invalid = |why: String| Error::Invalid {
        message: format!("bad --listen `{addr}`: {why}"),
        hint: Some("give HOST:PORT, like 127.0.0.1:9095 or localhost:0".into()),
    };
    addr.to_socket_addrs().map_err(|e| invalid(e.to_string()))?.next().ok_or_else(|| invalid("no address".into()))
}

//! `runbook mcp`: the knowledge base for AI agents over the Model Context Protocol on stdio — the
//! command an MCP client (Claude Desktop, VS Code, an agent framework) starts.
//!
//! stdout carries the protocol and nothing else; notes go to stderr, which clients keep as the
//! server's log.

use super::{Context, McpArgs};
use crate::cli::error::{Error, Result, exit};
use crate::mcp::{LocalLibrary, McpServer};
use rmcp::ServiceExt;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    mcp: McpArgs,
}

pub(super) fn run(ctx: &Context, args: Args) -> Result<i32> {
    let options = args.mcp.options()?;
    let source = ctx.kb_source()?;
    let place = match source.root() {
        Some(root) => root.display().to_string(),
        None => "the built-in knowledge base".to_string(),
    };
    let warn = Box::new(|text: &str| eprintln!("runbook mcp: warning: {text}"));
    let library = LocalLibrary::open(source, ctx.archives.clone(), warn).map_err(|e| Error::Failed {
        message: format!("cannot open the search index: {e}"),
        hint: Some("`runbook index --rebuild` starts the index afresh".into()),
    })?;
    if !ctx.quiet {
        let diagnosis = if options.allow_diagnosis { "offered (--allow-diagnosis)" } else { "not offered" };
        eprintln!("runbook mcp: serving {place} over stdio; run_diagnosis {diagnosis}");
    }
    let server = McpServer::new(Arc::new(library), &options);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed { message: format!("cannot start the MCP server: {e}"), hint: None })?;
    runtime.block_on(serve(server))?;
    Ok(exit::OK)
}

/// Serves until the client closes stdin, or Ctrl-C / SIGTERM. Diagnoses still running are
/// stopped (they record themselves as interrupted).
async fn serve(server: McpServer) -> Result<()> {
    let failed = |e: String| Error::Failed { message: format!("MCP over stdio: {e}"), hint: None };
    let stop = crate::server::stop_signal().map_err(|e| failed(e.to_string()))?;
    let service = match server.serve(rmcp::transport::stdio()).await {
        Ok(service) => service,
        // The client went away before it began: nothing was asked, nothing is wrong.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
        Err(err) => return Err(failed(err.to_string())),
    };
    let cancel = service.cancellation_token();
    tokio::select! {
        done = service.waiting() => { done.map_err(|e| failed(e.to_string()))?; }
        () = stop => cancel.cancel(),
    }
    Ok(())
}

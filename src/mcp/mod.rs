//! Agents: the knowledge base, its runs and read-only diagnosis over the Model Context Protocol
//! (DESIGN §16). Tools and resources live here, below the server, so `runbook mcp` (stdio, in
//! `cli`) and `runbook serve` (`/mcp`, streamable HTTP, in `server`) offer the same thing.
//!
//! The engine, not the agent, decides what may run: `run_diagnosis` exists only when the server
//! was started with `--allow-diagnosis`; it runs a runbook's steps without `confirm` or `manual`
//! in a child `runbook exec --diagnose` with a time limit, and every such run is archived with
//! a trigger naming the client. Everything returned has secret values masked and is cut to a
//! size limit, saying what was cut.

mod args;
mod diagnose;
mod error;
mod handler;
mod knowledge;
mod library;
mod output;
mod runs;

pub(crate) use handler::{McpServer, Options};
pub(crate) use library::{Library, LocalLibrary, Snapshot};

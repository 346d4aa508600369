//! `runbook`: a knowledge base of operational runbooks you can search, read as a site, and
//! execute step by step.

pub mod archive;
pub mod assets;
pub mod cli;
pub mod exec;
pub mod index;
pub mod mcp;
pub mod model;
pub mod record;
pub mod render;
pub mod server;
pub mod util;

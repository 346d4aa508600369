//! `runbook`: a knowledge base of operational runbooks you can search, read as a site, and
//! execute step by step.
//!
//! The crate is a binary with a library inside: everything is `pub(crate)` unless something
//! outside the crate reaches it — `cli` (main.rs), `index` (the benchmark harness) and `fuzzing`
//! (the fuzz targets). `unreachable_pub` keeps new items private by default.
#![warn(unreachable_pub)]

pub(crate) mod archive;
pub(crate) mod assets;
pub mod cli;
pub(crate) mod exec;
#[doc(hidden)]
pub mod fuzzing;
pub mod index;
pub(crate) mod mcp;
pub(crate) mod model;
pub(crate) mod record;
pub(crate) mod render;
pub(crate) mod server;
pub(crate) mod util;

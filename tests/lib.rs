//! The one integration-test binary: every module drives the real `runbook` binary.

mod site_kit;
mod test;

mod architecture;
mod archive;
mod browser;
mod commands;
mod cycle;
mod diagnoses;
mod discovery;
mod docs_folders;
mod errors;
mod exec;
mod faults;
mod fleet;
mod hooks;
mod hostile;
mod mcp;
mod plain;
mod probes;
mod regression;
mod scenarios;
mod search;
mod serve;
mod shipped;
mod site;
mod snapshots;
mod watch;

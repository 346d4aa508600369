//! The one integration-test binary: every module drives the real `runbook` binary.

mod site_kit;
mod test;

mod browser;
mod commands;
mod discovery;
mod errors;
mod exec;
mod probes;
mod serve;
mod shipped;
mod site;

//! The one integration-test binary: every module drives the real `runbook` binary.

mod test;

mod commands;
mod cycle;
mod discovery;
mod errors;
mod exec;
mod faults;
mod probes;
mod search;
mod shipped;

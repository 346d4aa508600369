//! Run archives: one folder per run with `run.json`, `run.md` and full step output (DESIGN §5),
//! and cycle reports built from them (DESIGN §6).

pub(crate) mod cycle;
pub(crate) mod cycle_markdown;
pub(crate) mod markdown;
pub(crate) mod period;
pub(crate) mod prune;
pub(crate) mod store;
pub(crate) mod views;
pub(crate) mod writer;

//! Run archives: one folder per run with `run.json`, `run.md` and full step output (DESIGN §5),
//! and cycle reports built from them (DESIGN §6).

pub mod cycle;
pub mod cycle_markdown;
pub mod markdown;
pub mod period;
pub mod prune;
pub mod store;
pub mod views;
pub mod writer;

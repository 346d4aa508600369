//! Run archives: one folder per run with `run.json`, `run.md` and full step output (DESIGN §5).

pub mod markdown;
pub mod record;
pub mod store;
pub mod writer;

//! Small helpers every layer may use: files, text. Depends on nothing of ours (DESIGN §1).

pub mod fs;
pub mod names;
pub mod prometheus;
pub mod shell;
pub mod suggest;
pub mod text;

//! Small helpers every layer may use: files, text. Depends on nothing of ours (DESIGN §1).

pub(crate) mod fs;
pub(crate) mod names;
pub(crate) mod prometheus;
pub(crate) mod shell;
pub(crate) mod suggest;
pub(crate) mod text;

//! Plain docs (DESIGN §14).

pub mod classify;
pub mod shell;
pub mod transcript;
